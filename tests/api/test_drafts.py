"""Approving (as written, or edited) and rejecting drafts through the HTTP API; two people
approving the same draft at the same moment."""

from __future__ import annotations

import threading
import time

import psycopg
from fastapi.testclient import TestClient

from tests.api.conftest import bearer
from tests.api.factories import events_of, make_account, make_draft, make_ticket, make_user


def _setup(api_db: psycopg.Connection) -> tuple[int, int, str]:
    make_account(api_db)
    ticket_id = make_ticket(api_db, account_id="acct-sunrise")
    draft_id = make_draft(api_db, ticket_id)
    return ticket_id, draft_id, make_user(api_db, "alice", "ops")


def test_approve_queues_exactly_one_reply_and_records_who(client: TestClient, api_db: psycopg.Connection) -> None:
    ticket_id, draft_id, token = _setup(api_db)
    response = client.post(f"/tickets/{ticket_id}/drafts/{draft_id}/approve", headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert body["draft"]["status"] == "approved"
    assert body["draft"]["decided_by"] == "user:alice"
    assert body["draft"]["decided_at"] == "2026-03-04T15:00:00Z"
    assert body["draft"]["send_status"] == "queued"
    assert [event["event_type"] for event in body["events"]] == ["draft_approved"]
    assert events_of(api_db, ticket_id, "draft_approved") == [
        ("draft_approved", "user:alice", None, None, None, None, {"draft_id": draft_id, "edited": False})
    ]
    outbox = api_db.execute(
        "select outbox_id, kind, ticket_id, idempotency_key, payload, status from outbox"
    ).fetchall()
    assert outbox == [
        (
            body["outbox_id"],
            "send_reply",
            ticket_id,
            f"send_reply:draft:{draft_id}",
            {"draft_id": draft_id, "automatic": False},
            "pending",
        )
    ]


def test_edit_and_approve_keeps_what_the_ai_wrote(client: TestClient, api_db: psycopg.Connection) -> None:
    ticket_id, draft_id, token = _setup(api_db)
    original = api_db.execute("select body from drafts where draft_id = %s", (draft_id,)).fetchone()[0]  # type: ignore[index]
    edited = "Hi Maria,\n\nReports > Export > CSV. It includes every call of the month.\n\nBest,\nAlice"
    response = client.post(
        f"/tickets/{ticket_id}/drafts/{draft_id}/approve", json={"body": edited}, headers=bearer(token)
    )
    assert response.status_code == 200
    assert response.json()["draft"]["body"] == edited
    assert response.json()["draft"]["is_edited"] is True
    data = events_of(api_db, ticket_id, "draft_approved")[0][6]
    assert data == {"draft_id": draft_id, "edited": True, "original_body": original}


def test_approving_with_the_same_body_is_not_an_edit(client: TestClient, api_db: psycopg.Connection) -> None:
    ticket_id, draft_id, token = _setup(api_db)
    same = api_db.execute("select body from drafts where draft_id = %s", (draft_id,)).fetchone()[0]  # type: ignore[index]
    response = client.post(
        f"/tickets/{ticket_id}/drafts/{draft_id}/approve", json={"body": same + "\n"}, headers=bearer(token)
    )
    assert response.status_code == 200
    assert response.json()["draft"]["is_edited"] is False


def test_a_decided_draft_is_409(client: TestClient, api_db: psycopg.Connection) -> None:
    ticket_id, draft_id, token = _setup(api_db)
    bob = make_user(api_db, "bob", "ops")
    assert client.post(f"/tickets/{ticket_id}/drafts/{draft_id}/approve", headers=bearer(token)).status_code == 200
    for action, payload in (("approve", None), ("reject", {"reason": "too late"})):
        response = client.post(f"/tickets/{ticket_id}/drafts/{draft_id}/{action}", json=payload, headers=bearer(bob))
        assert response.status_code == 409
        assert response.json() == {
            "detail": f"draft {draft_id} is already approved by user:alice at 2026-03-04T15:00:00+00:00"
        }
    assert len(events_of(api_db, ticket_id, "draft_approved")) == 1
    assert api_db.execute("select count(*) from outbox").fetchone() == (1,)


def test_a_superseded_draft_is_409(client: TestClient, api_db: psycopg.Connection) -> None:
    ticket_id, _draft_id, token = _setup(api_db)
    api_db.execute("update drafts set status = 'superseded'")
    old = api_db.execute("select draft_id from drafts").fetchone()[0]  # type: ignore[index]
    response = client.post(f"/tickets/{ticket_id}/drafts/{old}/approve", headers=bearer(token))
    assert response.status_code == 409
    assert response.json() == {"detail": f"draft {old} was superseded by a newer draft of ticket {ticket_id}"}


def test_reject_needs_a_reason_and_records_it(client: TestClient, api_db: psycopg.Connection) -> None:
    ticket_id, draft_id, token = _setup(api_db)
    url = f"/tickets/{ticket_id}/drafts/{draft_id}/reject"
    missing = client.post(url, json={}, headers=bearer(token))
    assert missing.status_code == 422
    assert [(error["loc"], error["type"]) for error in missing.json()["detail"]] == [(["body", "reason"], "missing")]
    blank = client.post(url, json={"reason": "   "}, headers=bearer(token))
    assert blank.status_code == 422
    assert [(error["loc"], error["type"]) for error in blank.json()["detail"]] == [
        (["body", "reason"], "string_too_short")
    ]
    no_body = client.post(url, headers=bearer(token))
    assert no_body.status_code == 422
    response = client.post(url, json={"reason": "quotes the wrong article"}, headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["draft"]["status"] == "rejected"
    assert response.json()["draft"]["reject_reason"] == "quotes the wrong article"
    assert response.json()["outbox_id"] is None
    assert events_of(api_db, ticket_id, "draft_rejected") == [
        (
            "draft_rejected",
            "user:alice",
            None,
            None,
            None,
            None,
            {"draft_id": draft_id, "reason": "quotes the wrong article"},
        )
    ]
    assert api_db.execute("select count(*) from outbox").fetchone() == (0,)


def test_unknown_fields_are_422(client: TestClient, api_db: psycopg.Connection) -> None:
    ticket_id, draft_id, token = _setup(api_db)
    response = client.post(
        f"/tickets/{ticket_id}/drafts/{draft_id}/reject", json={"reson": "typo"}, headers=bearer(token)
    )
    assert response.status_code == 422
    assert sorted((tuple(error["loc"]), error["type"]) for error in response.json()["detail"]) == [
        (("body", "reason"), "missing"),
        (("body", "reson"), "extra_forbidden"),
    ]


def test_unknown_ticket_and_draft_are_404(client: TestClient, api_db: psycopg.Connection) -> None:
    ticket_id, draft_id, token = _setup(api_db)
    other_ticket = make_ticket(api_db, account_id="acct-sunrise")
    cases = [
        (f"/tickets/999/drafts/{draft_id}/approve", "ticket 999 not found"),
        (f"/tickets/{ticket_id}/drafts/999/approve", f"draft 999 not found on ticket {ticket_id}"),
        (f"/tickets/{other_ticket}/drafts/{draft_id}/approve", f"draft {draft_id} not found on ticket {other_ticket}"),
    ]
    for url, message in cases:
        response = client.post(url, headers=bearer(token))
        assert response.status_code == 404, url
        assert response.json() == {"detail": message}
    not_a_number = client.post(f"/tickets/abc/drafts/{draft_id}/approve", headers=bearer(token))
    assert not_a_number.status_code == 422


def test_no_reply_to_a_resolved_ticket(client: TestClient, api_db: psycopg.Connection) -> None:
    ticket_id, draft_id, token = _setup(api_db)
    api_db.execute("update tickets set status = 'resolved', resolved_at = created_at, resolved_tier = 0")
    response = client.post(f"/tickets/{ticket_id}/drafts/{draft_id}/approve", headers=bearer(token))
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"ticket {ticket_id} is resolved: reopen it (POST /tickets/{ticket_id}/reopen) before sending a reply"
    }


def _waiting_on_locks(conn: psycopg.Connection, expected: int) -> None:
    """Wait until `expected` other sessions are blocked on a row lock (bounded, not a timing check)."""
    for _ in range(500):
        waiting = conn.execute(
            """select count(*) from pg_stat_activity
               where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()"""
        ).fetchone()[0]  # type: ignore[index]
        if waiting >= expected:
            return
        time.sleep(0.02)
    raise AssertionError(f"expected {expected} sessions waiting on the ticket's lock, saw {waiting}")


def test_two_people_approving_at_once_one_wins(
    client: TestClient, api_db: psycopg.Connection, api_database_url: str
) -> None:
    ticket_id, draft_id, alice = _setup(api_db)
    bob = make_user(api_db, "bob", "ops")
    statuses: dict[str, int] = {}
    details: dict[str, object] = {}

    def approve(name: str, token: str) -> None:
        response = client.post(f"/tickets/{ticket_id}/drafts/{draft_id}/approve", headers=bearer(token))
        statuses[name] = response.status_code
        details[name] = response.json()

    # Hold the ticket's row lock so both requests are inside their transactions, waiting, at once.
    with psycopg.connect(api_database_url) as holder:
        holder.execute("select 1 from tickets where ticket_id = %s for update", (ticket_id,))
        threads = [threading.Thread(target=approve, args=item) for item in (("alice", alice), ("bob", bob))]
        for thread in threads:
            thread.start()
        _waiting_on_locks(api_db, 2)
        holder.commit()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses.values()) == [200, 409]
    winner = next(name for name, status in statuses.items() if status == 200)
    loser = next(name for name, status in statuses.items() if status == 409)
    assert details[loser] == {
        "detail": f"draft {draft_id} is already approved by user:{winner} at 2026-03-04T15:00:00+00:00"
    }
    assert [event[1] for event in events_of(api_db, ticket_id, "draft_approved")] == [f"user:{winner}"]
    assert api_db.execute("select count(*) from outbox where kind = 'send_reply'").fetchone() == (1,)
