"""Metabase request bodies built from the definitions, and the marker that finds our objects again.

Every collection, card and dashboard we create carries a marker line at the end of its description:
`tier0:key=<key> sha=<hash>`. The key is stable (the collection's key, `<dashboard>/<card>`, the
dashboard's key), so a re-run finds the same object whatever its id or name; the hash covers the whole
payload, so a re-run with unchanged definitions sends no write at all. Template-tag and parameter ids
are derived from the keys (uuid5), so they are the same on every run.

Shapes follow Metabase's REST API (its OpenAPI description, ../shared/external/metabase/openapi.json):
native questions are `dataset_query: {type: native, database, native: {query, template-tags}}`;
dashboard filters are `parameters` mapped to each dashcard's template tags with
`target: ["variable", ["template-tag", <name>]]`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backend.metabase.definitions import (
    STANDARD_FILTERS,
    CardDefinition,
    CollectionDefinition,
    DashboardDefinition,
)

_NAMESPACE = uuid.UUID("6f1c0f52-52a4-4c55-9a35-0b1f7e0a7a10")  # tier0's namespace for derived ids
_MARKER = re.compile(r"tier0:key=(\S+)(?: sha=([0-9a-f]+))?\s*$")


@dataclass(frozen=True)
class Marker:
    key: str
    sha: str | None


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def payload_sha(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: v for k, v in payload.items() if k != "description"}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def with_marker(description: str, key: str, sha: str | None = None) -> str:
    marker = f"tier0:key={key}" + (f" sha={sha}" if sha else "")
    return f"{description.strip()}\n\n{marker}"


def read_marker(description: object) -> Marker | None:
    if not isinstance(description, str):
        return None
    match = _MARKER.search(description)
    return Marker(match.group(1), match.group(2)) if match else None


def card_key(dashboard: DashboardDefinition, card: CardDefinition) -> str:
    return f"{dashboard.key}/{card.key}"


def collection_payload(collection: CollectionDefinition) -> dict[str, Any]:
    return {"name": collection.name, "description": with_marker(collection.description, collection.key)}


def template_tags(dashboard: DashboardDefinition, card: CardDefinition) -> dict[str, dict[str, Any]]:
    tags: dict[str, dict[str, Any]] = {}
    for name in card.variables:
        spec = STANDARD_FILTERS[name]
        tags[name] = {
            "id": stable_id(dashboard.key, card.key, "tag", name),
            "name": name,
            "display-name": spec.display_name,
            "type": spec.tag_type,
            "required": False,
        }
    return tags


def card_parameters(dashboard: DashboardDefinition, card: CardDefinition) -> list[dict[str, Any]]:
    parameters = []
    for name in card.variables:
        spec = STANDARD_FILTERS[name]
        parameters.append(
            {
                "id": stable_id(dashboard.key, card.key, "tag", name),
                "name": spec.display_name,
                "slug": name,
                "type": spec.parameter_type,
                "target": ["variable", ["template-tag", name]],
            }
        )
    return parameters


def card_payload(
    dashboard: DashboardDefinition, card: CardDefinition, *, database_id: int, collection_id: int
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": card.name,
        "type": "question",
        "display": card.display,
        "collection_id": collection_id,
        "visualization_settings": dict(card.visualization_settings),
        "dataset_query": {
            "type": "native",
            "database": database_id,
            "native": {"query": card.sql, "template-tags": template_tags(dashboard, card)},
        },
        "parameters": card_parameters(dashboard, card),
    }
    payload["description"] = with_marker(card.description, card_key(dashboard, card), payload_sha(payload))
    return payload


def dashboard_parameter_id(dashboard: DashboardDefinition, name: str) -> str:
    return stable_id(dashboard.key, "filter", name)[:8]


def dashboard_parameters(dashboard: DashboardDefinition) -> list[dict[str, Any]]:
    parameters = []
    for name in dashboard.filters:
        spec = STANDARD_FILTERS[name]
        parameters.append(
            {
                "id": dashboard_parameter_id(dashboard, name),
                "name": spec.display_name,
                "slug": name,
                "type": spec.parameter_type,
                "sectionId": spec.section_id,
            }
        )
    return parameters


def dashcards(
    dashboard: DashboardDefinition, card_ids: Mapping[str, int], existing: Mapping[int, int] | None = None
) -> list[dict[str, Any]]:
    """The dashboard's full dashcards list: a card already on it keeps its dashcard id (`existing` maps
    card id -> dashcard id); a new one gets a negative id, which Metabase replaces with a real one."""
    existing = existing or {}
    cards = []
    next_new_id = -1
    for card in dashboard.cards:
        card_id = card_ids[card_key(dashboard, card)]
        if card_id in existing:
            dashcard_id = existing[card_id]
        else:
            dashcard_id, next_new_id = next_new_id, next_new_id - 1
        cards.append(
            {
                "id": dashcard_id,
                "card_id": card_id,
                "row": card.position.row,
                "col": card.position.col,
                "size_x": card.position.size_x,
                "size_y": card.position.size_y,
                "series": [],
                "visualization_settings": {},
                "parameter_mappings": [
                    {
                        "parameter_id": dashboard_parameter_id(dashboard, name),
                        "card_id": card_id,
                        "target": ["variable", ["template-tag", name]],
                    }
                    for name in card.variables
                ],
            }
        )
    return cards


def dashboard_sha(dashboard: DashboardDefinition, card_ids: Mapping[str, int], collection_id: int) -> str:
    layout = dashcards(dashboard, card_ids, {card_ids[card_key(dashboard, card)]: 0 for card in dashboard.cards})
    return payload_sha(
        {
            "name": dashboard.name,
            "collection_id": collection_id,
            "parameters": dashboard_parameters(dashboard),
            "dashcards": layout,
        }
    )


def layout_of(dashcard_list: Sequence[Mapping[str, Any]]) -> set[tuple[Any, ...]]:
    """What must match on the server: which card sits where, and which filters reach it."""
    layout = set()
    for dashcard in dashcard_list:
        mappings = tuple(
            sorted(
                (str(mapping.get("parameter_id")), json.dumps(mapping.get("target"), sort_keys=True))
                for mapping in dashcard.get("parameter_mappings") or []
            )
        )
        layout.add(
            (
                dashcard.get("card_id"),
                dashcard.get("row"),
                dashcard.get("col"),
                dashcard.get("size_x"),
                dashcard.get("size_y"),
                mappings,
            )
        )
    return layout
