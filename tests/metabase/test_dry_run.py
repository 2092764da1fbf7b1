"""`dry_run_requests`: what `tier0 metabase sync --dry-run --json` prints, checked against Metabase's
OpenAPI description."""

from __future__ import annotations

import json

from backend.metabase.definitions import load_definitions
from backend.metabase.openapi import OpenApiSpec
from backend.metabase.sync import dry_run_requests

DEFINITIONS = load_definitions()


def test_every_request_is_an_operation_and_every_body_validates(openapi_spec: OpenApiSpec) -> None:
    requests = list(dry_run_requests(DEFINITIONS))
    problems = []
    for request in requests:
        json.dumps(request)  # one JSON object per line
        operation = openapi_spec.document["paths"].get(request["path"], {}).get(request["method"].lower())
        if operation is None:
            problems.append(f"{request['method']} {request['path']}: not spelled as in the OpenAPI description")
        problems.extend(openapi_spec.validate_request(request["method"], request["url"], request["body"]))
        query = request["body"].get("dataset_query") if isinstance(request["body"], dict) else None
        if query:
            problems.extend(openapi_spec.validate_component("metabase.legacy-mbql.schema.Query", query))
            problems.extend(
                openapi_spec.validate_component(
                    "metabase.legacy-mbql.schema.TemplateTagMap", query["native"]["template-tags"]
                )
            )
    assert problems == []
    writes = [(request["method"], request["path"]) for request in requests if request["method"] != "GET"]
    cards = len(DEFINITIONS.cards())
    assert writes[0] == ("POST", "/api/collection/")
    assert writes.count(("POST", "/api/card/")) == cards
    assert writes.count(("POST", "/api/dashboard/")) == len(DEFINITIONS.dashboards)
    assert writes.count(("PUT", "/api/dashboard/{id}")) == len(DEFINITIONS.dashboards)
    assert len(writes) == 1 + cards + 2 * len(DEFINITIONS.dashboards)


def test_dashboards_reference_the_cards_created_before_them() -> None:
    requests = list(dry_run_requests(DEFINITIONS))
    created_cards = sum(1 for request in requests if request["path"] == "/api/card/")
    for request in requests:
        if request["path"] == "/api/dashboard/{id}":
            card_ids = [dashcard["card_id"] for dashcard in request["body"]["dashcards"]]
            assert all(1 <= card_id <= created_cards for card_id in card_ids)
            assert [dashcard["id"] for dashcard in request["body"]["dashcards"]] == list(
                range(-1, -len(card_ids) - 1, -1)
            )


def test_the_dry_run_is_deterministic() -> None:
    assert list(dry_run_requests(DEFINITIONS)) == list(dry_run_requests(DEFINITIONS))


def test_the_command_prints_one_json_object_per_request() -> None:
    from backend.metabase.command import dry_run_lines

    lines = list(dry_run_lines())
    assert [json.loads(line) for line in lines] == list(dry_run_requests(DEFINITIONS))
    assert all("\n" not in line for line in lines)
