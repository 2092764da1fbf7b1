"""Push the dashboard definitions (metabase/) to Metabase through its REST API, idempotently.

`sync_dashboards(client, definitions)`:
1. finds the database the cards query (by `database_name`, or the `database_id` given);
2. finds our collection by its marker (payloads.py), creating it or updating its name/description;
3. lists the collection's cards and dashboards and matches ours by marker key;
4. creates each missing card (`POST /api/card/`), updates each whose payload hash changed
   (`PUT /api/card/:id`), and leaves the rest untouched;
5. creates each missing dashboard (`POST /api/dashboard/`), then writes its filters and full dashcards
   list with `PUT /api/dashboard/:id` (new dashcards take negative ids; cards left out are removed);
   an existing dashboard is rewritten only when its hash or its actual layout on the server differs;
6. archives cards and dashboards of ours that the definitions no longer have.
So a second run with the same definitions sends no write at all: only the reads that prove it.

Every request is returned as a `RequestRecord` (method, the path as Metabase's OpenAPI spells it, the
concrete path, query and body). With `dry_run=True` reads still go to the server but writes are only
recorded (answered locally with placeholder ids). `dry_run_requests(definitions)` runs the whole sync
against an in-memory, empty Metabase (only the database connected, as id 1): what `tier0 metabase
sync --dry-run --json` prints.

Failures are ours: a Metabase error raises `MetabaseError` (client.py), a missing database or an answer
we cannot read raises `MetabaseSyncError`; nothing is retried here (a re-run resumes idempotently).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.metabase import payloads
from backend.metabase.client import MetabaseClient
from backend.metabase.definitions import Definitions
from backend.metabase.memory import InMemoryMetabase

# Placeholder ids for objects a dry run would create on a real server: far above any real id.
_PLACEHOLDER_START = 900_000_001


class MetabaseSyncError(Exception):
    """Our failure: Metabase lacks the database, or answered in a shape we do not understand."""


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # as Metabase's OpenAPI spells it: /api/card/, /api/dashboard/{id}
    url: str  # the concrete path: /api/dashboard/7
    path_params: dict[str, int] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None

    @property
    def is_write(self) -> bool:
        return self.method != "GET"

    def as_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"method": self.method, "path": self.path, "url": self.url, "body": self.body}
        if self.path_params:
            record["path_params"] = self.path_params
        if self.query:
            record["query"] = self.query
        return record


@dataclass(frozen=True)
class _Existing:
    item_id: int
    name: str
    sha: str | None


class _Session:
    """Sends (or, in a dry run, records) requests and keeps their records."""

    def __init__(self, client: MetabaseClient, *, dry_run: bool) -> None:
        self.client = client
        self.dry_run = dry_run
        self.records: list[RequestRecord] = []
        self._placeholders = itertools.count(_PLACEHOLDER_START)

    def call(
        self,
        method: str,
        template: str,
        *,
        path_params: Mapping[str, int] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        url = template.format(**(path_params or {}))
        record = RequestRecord(method, template, url, dict(path_params or {}), dict(query or {}), body)
        self.records.append(record)
        if self.dry_run and record.is_write:
            answer = dict(body) if isinstance(body, dict) else {}
            if method == "POST":
                answer["id"] = next(self._placeholders)
            return answer
        if self.dry_run and any(value >= _PLACEHOLDER_START for value in record.path_params.values()):
            # A read about an object this dry run only pretended to create: it would be empty.
            return {"data": [], "total": 0}
        return self.client.request(method, url, params=query or None, body=body)


def _as_list(answer: Any, what: str) -> list[dict[str, Any]]:
    items = answer.get("data") if isinstance(answer, dict) else answer
    if not isinstance(items, list):
        raise MetabaseSyncError(f"Metabase answered {what} with {type(answer).__name__}, not a list")
    return [item for item in items if isinstance(item, dict)]


def _created_id(answer: Any, what: str) -> int:
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), int):
        raise MetabaseSyncError(f"Metabase did not return the id of the new {what}")
    return int(answer["id"])


def _database_id(session: _Session, definitions: Definitions) -> int:
    wanted = definitions.collection.database_name
    for database in _as_list(session.call("GET", "/api/database/"), "GET /api/database/"):
        if str(database.get("name", "")).lower() == wanted.lower() and isinstance(database.get("id"), int):
            return int(database["id"])
    raise MetabaseSyncError(
        f"Metabase has no database named {wanted!r}: connect tier0's Postgres in Admin > Databases "
        "(or pass its id) and run the sync again"
    )


def _collection_id(session: _Session, definitions: Definitions) -> int:
    wanted = payloads.collection_payload(definitions.collection)
    for collection in _as_list(session.call("GET", "/api/collection/", query={"archived": "false"}), "collections"):
        marker = payloads.read_marker(collection.get("description"))
        if marker is None or marker.key != definitions.collection.key or not isinstance(collection.get("id"), int):
            continue
        collection_id = int(collection["id"])
        if collection.get("name") != wanted["name"] or collection.get("description") != wanted["description"]:
            session.call("PUT", "/api/collection/{id}", path_params={"id": collection_id}, body=wanted)
        return collection_id
    return _created_id(session.call("POST", "/api/collection/", body=wanted), "collection")


def _existing_items(session: _Session, collection_id: int) -> dict[str, dict[str, _Existing]]:
    answer = session.call(
        "GET",
        "/api/collection/{id}/items",
        path_params={"id": collection_id},
        query={"models": ["card", "dashboard"]},
    )
    found: dict[str, dict[str, _Existing]] = {"card": {}, "dashboard": {}}
    for item in _as_list(answer, "collection items"):
        marker = payloads.read_marker(item.get("description"))
        model = item.get("model")
        if marker is None or model not in found or not isinstance(item.get("id"), int):
            continue
        found[str(model)][marker.key] = _Existing(int(item["id"]), str(item.get("name", "")), marker.sha)
    return found


def _sync_cards(
    session: _Session,
    definitions: Definitions,
    existing: Mapping[str, _Existing],
    *,
    database_id: int,
    collection_id: int,
) -> dict[str, int]:
    card_ids: dict[str, int] = {}
    for dashboard, card in definitions.cards():
        key = payloads.card_key(dashboard, card)
        payload = payloads.card_payload(dashboard, card, database_id=database_id, collection_id=collection_id)
        marker = payloads.read_marker(payload["description"])
        current = existing.get(key)
        if current is None:
            card_ids[key] = _created_id(session.call("POST", "/api/card/", body=payload), f"card {key}")
            continue
        card_ids[key] = current.item_id
        if marker is None or current.sha != marker.sha or current.name != payload["name"]:
            session.call("PUT", "/api/card/{id}", path_params={"id": current.item_id}, body=payload)
    return card_ids


def _sync_dashboards(
    session: _Session,
    definitions: Definitions,
    existing: Mapping[str, _Existing],
    card_ids: Mapping[str, int],
    *,
    collection_id: int,
) -> None:
    for dashboard in definitions.dashboards:
        sha = payloads.dashboard_sha(dashboard, card_ids, collection_id)
        description = payloads.with_marker(dashboard.description, dashboard.key, sha)
        parameters = payloads.dashboard_parameters(dashboard)
        current = existing.get(dashboard.key)
        if current is None:
            created = session.call(
                "POST",
                "/api/dashboard/",
                body={
                    "name": dashboard.name,
                    "description": description,
                    "collection_id": collection_id,
                    "parameters": parameters,
                },
            )
            dashboard_id, on_server = _created_id(created, f"dashboard {dashboard.key}"), {}
        else:
            dashboard_id = current.item_id
            answer = session.call("GET", "/api/dashboard/{id}", path_params={"id": dashboard_id})
            server_cards = answer.get("dashcards") if isinstance(answer, dict) else None
            if not isinstance(server_cards, list):
                raise MetabaseSyncError(f"GET /api/dashboard/{dashboard_id} has no dashcards list")
            wanted = payloads.dashcards(dashboard, card_ids)
            if (
                current.sha == sha
                and current.name == dashboard.name
                and payloads.layout_of(server_cards) == payloads.layout_of(wanted)
            ):
                continue
            on_server = {
                int(dashcard["card_id"]): int(dashcard["id"])
                for dashcard in server_cards
                if isinstance(dashcard.get("card_id"), int) and isinstance(dashcard.get("id"), int)
            }
        session.call(
            "PUT",
            "/api/dashboard/{id}",
            path_params={"id": dashboard_id},
            body={
                "name": dashboard.name,
                "description": description,
                "parameters": parameters,
                "dashcards": payloads.dashcards(dashboard, card_ids, on_server),
            },
        )


def _archive_stale(
    session: _Session, definitions: Definitions, existing: Mapping[str, Mapping[str, _Existing]]
) -> None:
    wanted_cards = {payloads.card_key(dashboard, card) for dashboard, card in definitions.cards()}
    wanted_dashboards = {dashboard.key for dashboard in definitions.dashboards}
    for key, item in sorted(existing["dashboard"].items()):
        if key not in wanted_dashboards:
            session.call("PUT", "/api/dashboard/{id}", path_params={"id": item.item_id}, body={"archived": True})
    for key, item in sorted(existing["card"].items()):
        if key not in wanted_cards:
            session.call("PUT", "/api/card/{id}", path_params={"id": item.item_id}, body={"archived": True})


def sync_dashboards(
    client: MetabaseClient,
    definitions: Definitions,
    *,
    dry_run: bool = False,
    database_id: int | None = None,
) -> list[RequestRecord]:
    """Create or update our collection, cards and dashboards; returns every request made (see module doc)."""
    session = _Session(client, dry_run=dry_run)
    database = database_id if database_id is not None else _database_id(session, definitions)
    collection_id = _collection_id(session, definitions)
    existing = _existing_items(session, collection_id)
    card_ids = _sync_cards(session, definitions, existing["card"], database_id=database, collection_id=collection_id)
    _sync_dashboards(session, definitions, existing["dashboard"], card_ids, collection_id=collection_id)
    _archive_stale(session, definitions, existing)
    return session.records


def dry_run_requests(definitions: Definitions) -> Iterator[dict[str, Any]]:
    """Every request a sync would send to an empty Metabase (the tier0 database connected as id 1),
    as JSON-ready dicts: `{"method", "path", "url", "body", ...}`. Ids of created objects are the ones
    that empty Metabase assigns (1, 2, 3, ...)."""
    empty = InMemoryMetabase([{"id": 1, "name": definitions.collection.database_name, "engine": "postgres"}])
    for record in sync_dashboards(empty, definitions):
        yield record.as_json()
