"""Answering by hand through POST /tickets/{id}/reply: sent through the outbox like an approved
draft (so the first-response clock stops), refused at tier 0 and on closed tickets."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from tests.api.conftest import bearer
from tests.api.factories import events_of, make_account, make_draft, make_ticket, make_user


def test_a_reply_by_hand_is_queued_once_and_supersedes_the_ai_draft(
    client: TestClient, api_db: psycopg.Connection
) -> None:
    make_account(api_db)
    ticket_id = make_ticket(api_db, account_id="acct-sunrise", tier=1, route="ops")
    ai_draft = make_draft(api_db, ticket_id)
    token = make_user(api_db, "alice", "ops")
    response = client.post(
        f"/tickets/{ticket_id}/reply", json={"body": "Hi Maria,\n\nDone on our side.\n\nAlice"}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["draft"]["generator"] == "human"
    assert body["draft"]["status"] == "approved"
    assert body["draft"]["decided_by"] == "user:alice"
    assert body["draft"]["send_status"] == "queued"
    assert [event["event_type"] for event in body["events"]] == ["human_reply_queued"]
    human_draft = body["draft"]["draft_id"]
    assert events_of(api_db, ticket_id, "human_reply_queued") == [
        ("human_reply_queued", "user:alice", None, None, None, None, {"draft_id": human_draft})
    ]
    statuses = dict(api_db.execute("select draft_id, status from drafts where ticket_id = %s", (ticket_id,)).fetchall())
    assert statuses == {ai_draft: "superseded", human_draft: "approved"}
    outbox = api_db.execute("select kind, idempotency_key, payload from outbox where ticket_id = %s", (ticket_id,))
    assert outbox.fetchall() == [
        ("send_reply", f"send_reply:draft:{human_draft}", {"draft_id": human_draft, "automatic": False})
    ]
    # A human reply is not a Tier-0 draft: the drafts mart leaves it out.
    in_mart = api_db.execute("select count(*) from stg_drafts where draft_id = %s", (human_draft,)).fetchone()
    assert in_mart == (0,)


def test_a_reply_by_hand_at_tier_0_is_refused(client: TestClient, api_db: psycopg.Connection) -> None:
    make_account(api_db)
    ticket_id = make_ticket(api_db, account_id="acct-sunrise", tier=0, route="ai")
    token = make_user(api_db, "alice", "ops")
    response = client.post(f"/tickets/{ticket_id}/reply", json={"body": "Hi"}, headers=bearer(token))
    assert response.status_code == 409
    assert "is at tier 0" in response.json()["detail"] and f"/tickets/{ticket_id}/escalate" in response.json()["detail"]
    assert api_db.execute("select count(*) from outbox").fetchone() == (0,)


def test_a_reply_to_a_resolved_ticket_or_an_empty_reply_is_refused(
    client: TestClient, api_db: psycopg.Connection
) -> None:
    make_account(api_db)
    ticket_id = make_ticket(api_db, account_id="acct-sunrise", tier=1, route="ops", status="resolved")
    token = make_user(api_db, "alice", "ops")
    response = client.post(f"/tickets/{ticket_id}/reply", json={"body": "Hi"}, headers=bearer(token))
    assert response.status_code == 409
    assert "reopen it" in response.json()["detail"]
    empty = client.post(f"/tickets/{ticket_id}/reply", json={"body": ""}, headers=bearer(token))
    assert empty.status_code == 422
