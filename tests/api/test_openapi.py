"""The served OpenAPI document: valid OpenAPI 3.1, every route documented with its response schema
and its errors, and real responses conform to the schemas it documents."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import bearer
from tests.api.factories import make_account, make_draft, make_ticket, make_user

ROUTES = {
    ("get", "/healthz"),
    ("get", "/me"),
    ("get", "/users"),
    ("get", "/tickets"),
    ("get", "/tickets/{ticket_id}"),
    ("post", "/tickets/{ticket_id}/drafts/{draft_id}/approve"),
    ("post", "/tickets/{ticket_id}/drafts/{draft_id}/reject"),
    ("post", "/tickets/{ticket_id}/reply"),
    ("post", "/tickets/{ticket_id}/reassign"),
    ("get", "/tickets/{ticket_id}/escalation-suggestion"),
    ("post", "/tickets/{ticket_id}/escalate"),
    ("post", "/tickets/{ticket_id}/deescalate"),
    ("post", "/tickets/{ticket_id}/resolve"),
    ("post", "/tickets/{ticket_id}/reopen"),
    ("post", "/tickets/{ticket_id}/relabel"),
    ("post", "/tickets/{ticket_id}/wait"),
    ("post", "/webhooks/linear"),
}
UNAUTHENTICATED = {("get", "/healthz"), ("post", "/webhooks/linear")}


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    served: dict[str, Any] = response.json()
    return served


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for path, item in document["paths"].items() for method, operation in item.items()}


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    assert document["openapi"].startswith("3.1")
    validator.validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_route_is_documented_with_a_response_schema(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert set(operations) == ROUTES
    for key, operation in operations.items():
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok.get("$ref") or ok.get("type") or ok.get("items") or ok.get("anyOf"), key
        assert ok != {}, f"{key}: the 200 response has an empty schema"
        for status, response in operation["responses"].items():
            if status != "200":
                assert response["content"]["application/json"]["schema"], (key, status)


def test_auth_and_errors_are_documented(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} == {"http"}
    assert {scheme["scheme"] for scheme in schemes.values()} == {"bearer"}
    for key, operation in _operations(document).items():
        codes = set(operation["responses"])
        if key in UNAUTHENTICATED:
            assert "security" not in operation, key
            continue
        assert operation["security"], key
        assert {"401", "403"} <= codes, key
        if "{ticket_id}" in key[1]:
            assert {"404", "409", "422"} <= codes, key
    webhook = _operations(document)[("post", "/webhooks/linear")]
    assert {"400", "401", "503"} <= set(webhook["responses"])
    assert [parameter["name"] for parameter in webhook["parameters"]] == ["linear-signature", "linear-delivery"]


def _conforms(document: dict[str, Any], key: tuple[str, str], status: str, instance: Any) -> None:
    from jsonschema import Draft202012Validator

    schema = _operations(document)[key]["responses"][status]["content"]["application/json"]["schema"]
    root = {**schema, "components": document["components"]}
    errors = sorted(Draft202012Validator(root).iter_errors(instance), key=str)
    assert not errors, f"{key} {status}: {[error.message for error in errors][:3]}"


def test_real_responses_match_their_documented_schemas(
    client: TestClient, api_db: psycopg.Connection, document: dict[str, Any]
) -> None:
    make_account(api_db)
    ticket_id = make_ticket(api_db, account_id="acct-sunrise")
    draft_id = make_draft(api_db, ticket_id)
    token = make_user(api_db, "alice", "ops")
    headers = bearer(token)
    observed = [
        (("get", "/tickets"), client.get("/tickets", headers=headers)),
        (("get", "/tickets/{ticket_id}"), client.get(f"/tickets/{ticket_id}", headers=headers)),
        (("get", "/tickets/{ticket_id}"), client.get("/tickets/999", headers=headers)),
        (("get", "/tickets"), client.get("/tickets", headers={})),
        (("get", "/users"), client.get("/users", headers=headers)),
        (
            ("post", "/tickets/{ticket_id}/drafts/{draft_id}/approve"),
            client.post(f"/tickets/{ticket_id}/drafts/{draft_id}/approve", headers=headers),
        ),
        (
            ("post", "/tickets/{ticket_id}/drafts/{draft_id}/approve"),
            client.post(f"/tickets/{ticket_id}/drafts/{draft_id}/approve", headers=headers),
        ),
        (
            ("post", "/tickets/{ticket_id}/escalate"),
            client.post(f"/tickets/{ticket_id}/escalate", json={"to_tier": 1, "reason": "x"}, headers=headers),
        ),
        (
            ("post", "/tickets/{ticket_id}/escalate"),
            client.post(f"/tickets/{ticket_id}/escalate", json={"to_tier": 0, "reason": "x"}, headers=headers),
        ),
        (("get", "/healthz"), client.get("/healthz")),
    ]
    assert [response.status_code for _, response in observed] == [200, 200, 404, 401, 403, 200, 409, 200, 422, 200]
    for key, response in observed:
        _conforms(document, key, str(response.status_code), response.json())
