"""POST /webhooks/linear: the raw body's signature is verified, each delivery recorded once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.linear.webhooks import sign_body
from tests.api.conftest import SECRET, Clock
from tests.api.factories import NOW, events_of, make_account, make_ticket

ISSUE_ID = "2f0e7c36-5f39-4c1e-9a43-6d1b7d3b9a10"


def _payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "Issue",
        "action": "update",
        "createdAt": "2026-03-04T14:59:00.000Z",
        "webhookTimestamp": int(NOW.timestamp() * 1000) - 2000,
        "data": {
            "id": ISSUE_ID,
            "identifier": "INT-42",
            "stateId": "state-done",
            "state": {"id": "state-done", "name": "Done", "type": "completed"},
            "completedAt": "2026-03-04T14:58:00.000Z",
            "updatedAt": "2026-03-04T14:58:00.000Z",
        },
        "updatedFrom": {"stateId": "state-started"},
    }
    payload.update(overrides)
    return payload


def _deliver(client: TestClient, body: bytes, signature: str | None, delivery: str = "delivery-1") -> Any:
    headers = {"content-type": "application/json", "linear-delivery": delivery}
    if signature is not None:
        headers["linear-signature"] = signature
    return client.post("/webhooks/linear", content=body, headers=headers)


@pytest.fixture
def linked_ticket(api_db: psycopg.Connection) -> int:
    make_account(api_db)
    ticket_id = make_ticket(
        api_db,
        account_id="acct-sunrise",
        tier=2,
        route="support-eng-integrations",
        category="integration_issue",
        product_area="integrations",
        priority="P2",
    )
    api_db.execute(
        "insert into linear_issues (ticket_id, linear_issue_id, identifier, url) values (%s, %s, 'INT-42', 'https://x')",
        (ticket_id, ISSUE_ID),
    )
    return ticket_id


def test_a_signed_completion_resolves_the_ticket_once(
    client: TestClient, api_db: psycopg.Connection, linked_ticket: int
) -> None:
    body = json.dumps(_payload()).encode()
    response = _deliver(client, body, sign_body(body, SECRET))
    assert response.status_code == 200
    assert response.json() == {
        "delivery_id": "delivery-1",
        "status": "recorded",
        "ticket_id": linked_ticket,
        "event_type": "resolved",
        "reason": None,
    }
    assert [event[:4] for event in events_of(api_db, linked_ticket, "resolved")] == [("resolved", "linear", 2, 2)]
    again = _deliver(client, body, sign_body(body, SECRET))
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert len(events_of(api_db, linked_ticket, "resolved")) == 1


def test_unsigned_forged_stale_and_malformed_deliveries(client: TestClient, api_db: psycopg.Connection) -> None:
    body = json.dumps(_payload()).encode()
    missing = _deliver(client, body, None)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "missing linear-signature header"}
    forged = _deliver(client, body, sign_body(body, "another-secret"))
    assert forged.status_code == 401
    assert forged.json() == {"detail": "linear-signature does not match the body"}
    stale_body = json.dumps(_payload(webhookTimestamp=int(NOW.timestamp() * 1000) - 120_000)).encode()
    stale = _deliver(client, stale_body, sign_body(stale_body, SECRET))
    assert stale.status_code == 401
    assert stale.json() == {"detail": "webhookTimestamp is 120 s from now (limit 60 s)"}
    not_json = b"{not json"
    malformed = _deliver(client, not_json, sign_body(not_json, SECRET))
    assert malformed.status_code == 400
    assert malformed.json()["detail"].startswith("body is not JSON")
    assert api_db.execute("select count(*) from linear_webhook_deliveries").fetchone() == (0,)


def test_an_unlinked_issue_is_recorded_as_ignored(client: TestClient, api_db: psycopg.Connection) -> None:
    body = json.dumps(_payload()).encode()
    response = _deliver(client, body, sign_body(body, SECRET), delivery="delivery-9")
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert response.json()["reason"] == "issue is not linked to a ticket"


@pytest.fixture
def client_without_secret(api_db: psycopg.Connection, api_database_url: str) -> Iterator[TestClient]:
    app = create_app(api_database_url, clock=Clock(), linear_webhook_secret="", pool_size=2)
    with TestClient(app) as test_client:
        yield test_client


def test_without_a_secret_webhooks_are_refused(client_without_secret: TestClient) -> None:
    body = json.dumps(_payload()).encode()
    response = _deliver(client_without_secret, body, sign_body(body, SECRET))
    assert response.status_code == 503
    assert response.json() == {"detail": "Linear webhooks are not configured (LINEAR_WEBHOOK_SECRET is unset)"}
