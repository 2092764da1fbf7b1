"""Linear webhooks: signature and freshness checks (with Linear's signed sample), then each
delivery mirrored onto its ticket once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from backend.linear.config import LinearConfig
from backend.linear.webhooks import (
    WebhookMalformedError,
    WebhookSignatureError,
    WebhookStaleError,
    handle_webhook,
    sign_body,
    verify_webhook,
)
from tests.linear.conftest import NOW, make_account, make_ticket

SECRET = "SECRET"
SAMPLE_ISSUE_ID = "539068e2-ae88-4d09-bd75-22eb4a59612f"  # the issue the sample comment is on


@pytest.fixture(scope="module")
def sample(shared_dir: Path) -> tuple[bytes, str]:
    """Linear's sample comment delivery, byte for byte, and its signature (secret "SECRET")."""
    folder = shared_dir / "external" / "linear"
    raw = (folder / "linear-webhook-sample-comment.raw.json").read_bytes()
    fields = dict(
        line.split("=", 1)
        for line in (folder / "linear-webhook-sample-comment.signature.txt").read_text().splitlines()
        if "=" in line
    )
    return raw, fields["signature"].strip()


def _at(raw: bytes) -> datetime:
    return datetime.fromtimestamp(json.loads(raw)["webhookTimestamp"] / 1000, tz=UTC)


# -- verify_webhook ---------------------------------------------------------------------------


def test_linears_signed_sample_verifies(sample: tuple[bytes, str]) -> None:
    raw, signature = sample
    payload = verify_webhook(raw, signature, SECRET, now=_at(raw))
    assert payload["type"] == "Comment" and payload["data"]["issueId"] == SAMPLE_ISSUE_ID
    assert sign_body(raw, SECRET) == signature


def test_the_signature_header_is_compared_case_insensitively_and_trimmed(sample: tuple[bytes, str]) -> None:
    raw, signature = sample
    assert verify_webhook(raw, f" {signature.upper()} ", SECRET, now=_at(raw))["action"] == "create"


def test_a_flipped_byte_in_the_body_is_refused(sample: tuple[bytes, str]) -> None:
    raw, signature = sample
    index = raw.index(b"improvement")
    forged = raw[:index] + bytes([raw[index] ^ 0x01]) + raw[index + 1 :]
    with pytest.raises(WebhookSignatureError) as caught:
        verify_webhook(forged, signature, SECRET, now=_at(raw))
    assert caught.value.http_status == 401


def test_a_flipped_byte_in_the_signature_is_refused(sample: tuple[bytes, str]) -> None:
    raw, signature = sample
    forged = ("0" if signature[0] != "0" else "1") + signature[1:]
    with pytest.raises(WebhookSignatureError):
        verify_webhook(raw, forged, SECRET, now=_at(raw))


@pytest.mark.parametrize("header", [None, "", "not-hex-at-all", "é" * 64])
def test_a_missing_or_garbled_signature_is_refused(sample: tuple[bytes, str], header: str | None) -> None:
    raw, _ = sample
    with pytest.raises(WebhookSignatureError):
        verify_webhook(raw, header, SECRET, now=_at(raw))


def test_the_wrong_secret_is_refused(sample: tuple[bytes, str]) -> None:
    raw, signature = sample
    with pytest.raises(WebhookSignatureError):
        verify_webhook(raw, signature, "SECRET2", now=_at(raw))


@pytest.mark.parametrize("offset", [61, -61, 3600 * 24 * 365])
def test_a_delivery_more_than_60_seconds_off_is_stale(sample: tuple[bytes, str], offset: int) -> None:
    raw, signature = sample
    with pytest.raises(WebhookStaleError) as caught:
        verify_webhook(raw, signature, SECRET, now=_at(raw) + timedelta(seconds=offset))
    assert caught.value.http_status == 401


@pytest.mark.parametrize("offset", [60, -60, 0.5])
def test_within_60_seconds_is_fresh(sample: tuple[bytes, str], offset: float) -> None:
    raw, signature = sample
    assert verify_webhook(raw, signature, SECRET, now=_at(raw) + timedelta(seconds=offset))


@pytest.mark.parametrize(
    "body",
    [
        b'{"action": "create", "webhookTimestamp": 1579784000000',  # cut short
        b"\xff\xfe not utf-8",
        b'["a", "list"]',
        b'{"action": "create"}',  # no webhookTimestamp
        b'{"action": "create", "webhookTimestamp": "1579784000000"}',
        b'{"action": "create", "webhookTimestamp": true}',
    ],
    ids=["truncated", "not-utf8", "array", "no-timestamp", "timestamp-string", "timestamp-bool"],
)
def test_a_signed_but_malformed_body_is_refused(body: bytes) -> None:
    now = datetime.fromtimestamp(1579784000, tz=UTC)
    with pytest.raises(WebhookMalformedError) as caught:
        verify_webhook(body, sign_body(body, SECRET), SECRET, now=now)
    assert caught.value.http_status == 400


def test_an_unsigned_malformed_body_is_a_signature_failure_not_parsed() -> None:
    with pytest.raises(WebhookSignatureError):
        verify_webhook(b"{not json", "00" * 32, SECRET, now=datetime.now(UTC))


def test_our_own_misconfiguration_is_not_blamed_on_the_sender(sample: tuple[bytes, str]) -> None:
    raw, signature = sample
    with pytest.raises(ValueError, match="LINEAR_WEBHOOK_SECRET"):
        verify_webhook(raw, signature, "", now=_at(raw))
    with pytest.raises(ValueError, match="timezone"):
        verify_webhook(raw, signature, SECRET, now=datetime(2020, 1, 23, 12, 53, 20))


# -- handle_webhook ---------------------------------------------------------------------------


def _link(db: psycopg.Connection, ticket_id: int, linear_issue_id: str, identifier: str = "INT-7") -> None:
    db.execute(
        "insert into linear_issues (ticket_id, linear_issue_id, identifier, url, team_key) "
        "values (%s, %s, %s, %s, 'INT')",
        (ticket_id, linear_issue_id, identifier, f"https://linear.app/fake/issue/{identifier}/"),
    )


@pytest.fixture
def linked_ticket(db: psycopg.Connection) -> int:
    make_account(db)
    ticket_id = make_ticket(db, created_at=datetime(2020, 1, 20, tzinfo=UTC))
    _link(db, ticket_id, SAMPLE_ISSUE_ID)
    return ticket_id


def _events(db: psycopg.Connection, ticket_id: int) -> list[tuple[str, str, Any, int | None, dict[str, Any]]]:
    return db.execute(
        "select event_type, actor, occurred_at, to_tier, data from ticket_events "
        "where ticket_id = %s order by event_id",
        (ticket_id,),
    ).fetchall()


def test_the_sample_comment_becomes_one_internal_note(
    db: psycopg.Connection, linked_ticket: int, sample: tuple[bytes, str], linear_config: LinearConfig
) -> None:
    raw, signature = sample
    payload = verify_webhook(raw, signature, SECRET, now=_at(raw))
    outcome = handle_webhook(db, payload, "delivery-1", config=linear_config)
    assert (outcome.status, outcome.event_type, outcome.ticket_id) == ("recorded", "internal_note", linked_ticket)
    ((event_type, actor, occurred_at, _, data),) = _events(db, linked_ticket)
    assert event_type == "internal_note"
    assert actor == "linear:aacdca22-6266-4c0a-ab3c-8fa70a26765c"
    assert occurred_at == datetime(2020, 1, 23, 12, 53, 18, 84000, tzinfo=UTC)
    assert data["body"].startswith("Indeed, I think this is definitely an improvement")
    assert data["linear_comment_id"] == "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9"
    assert data["identifier"] == "INT-7"


def test_a_replayed_delivery_is_recorded_once(
    db: psycopg.Connection, linked_ticket: int, sample: tuple[bytes, str], linear_config: LinearConfig
) -> None:
    raw, signature = sample
    payload = verify_webhook(raw, signature, SECRET, now=_at(raw))
    assert handle_webhook(db, payload, "delivery-1", config=linear_config).status == "recorded"
    assert handle_webhook(db, payload, "delivery-1", config=linear_config).status == "duplicate"
    # Without a Linear-Delivery header the payload's hash is the key, whatever the key order.
    reordered = dict(reversed(list(payload.items())))
    assert handle_webhook(db, payload, None, config=linear_config).status == "ignored"  # event exists already
    assert handle_webhook(db, reordered, None, config=linear_config).status == "duplicate"
    assert [e[0] for e in _events(db, linked_ticket)] == ["internal_note"]
    deliveries = db.execute(
        "select delivery_id, outcome from linear_webhook_deliveries order by received_at"
    ).fetchall()
    assert len(deliveries) == 2 and deliveries[0] == ("delivery-1", "recorded")
    assert deliveries[1][0].startswith("sha256:") and deliveries[1][1] == "ignored"


def test_comments_by_our_own_integration_are_not_mirrored(
    db: psycopg.Connection, linked_ticket: int, sample: tuple[bytes, str], linear_config: LinearConfig
) -> None:
    raw, _ = sample
    payload = json.loads(raw)
    ours = linear_config.model_copy(update={"own_user_ids": [payload["data"]["userId"]]})
    outcome = handle_webhook(db, payload, "delivery-2", config=ours)
    assert outcome.status == "ignored" and outcome.reason is not None and "own integration" in outcome.reason
    assert _events(db, linked_ticket) == []


def test_a_comment_on_an_issue_we_did_not_make_is_ignored(
    db: psycopg.Connection, sample: tuple[bytes, str], linear_config: LinearConfig
) -> None:
    outcome = handle_webhook(db, json.loads(sample[0]), "delivery-3", config=linear_config)
    assert outcome.status == "ignored" and outcome.reason == "issue is not linked to a ticket"
    row = db.execute(
        "select outcome, reason from linear_webhook_deliveries where delivery_id = 'delivery-3'"
    ).fetchone()
    assert row == ("ignored", "issue is not linked to a ticket")


def _issue_update(
    state_type: str,
    *,
    state_name: str = "In Progress",
    updated_from: dict[str, Any] | None = None,
    issue_id: str = SAMPLE_ISSUE_ID,
    updated_at: str = "2020-01-24T09:00:00.000Z",
) -> dict[str, Any]:
    state_id = f"state-{state_type}"
    return {
        "action": "update",
        "type": "Issue",
        "createdAt": updated_at,
        "data": {
            "id": issue_id,
            "identifier": "INT-7",
            "title": "Lakeside Motors: sync broken",
            "stateId": state_id,
            "state": {"id": state_id, "name": state_name, "type": state_type, "color": "#f2c94c"},
            "updatedAt": updated_at,
            "completedAt": updated_at if state_type == "completed" else None,
        },
        "updatedFrom": {"stateId": "state-previous", "updatedAt": "2020-01-23T12:00:00.000Z"}
        if updated_from is None
        else updated_from,
        "url": "https://linear.app/fake/issue/INT-7/",
        "webhookTimestamp": 1579856400000,
    }


@pytest.mark.parametrize(
    ("state_type", "event_type"),
    [("started", "engineering_started"), ("canceled", "engineering_canceled")],
)
def test_issue_state_changes_become_ticket_events(
    db: psycopg.Connection, linked_ticket: int, linear_config: LinearConfig, state_type: str, event_type: str
) -> None:
    outcome = handle_webhook(db, _issue_update(state_type), "d-state", config=linear_config)
    assert (outcome.status, outcome.event_type) == ("recorded", event_type)
    ((recorded_type, actor, occurred_at, _, data),) = _events(db, linked_ticket)
    assert recorded_type == event_type and actor == "linear"
    assert occurred_at == datetime(2020, 1, 24, 9, tzinfo=UTC)
    assert data["state_type"] == state_type and data["previous_state_id"] == "state-previous"
    status = db.execute("select status, resolved_at from tickets where ticket_id = %s", (linked_ticket,)).fetchone()
    assert status == ("open", None)


def test_a_completed_issue_resolves_the_ticket_at_its_tier(
    db: psycopg.Connection, linked_ticket: int, linear_config: LinearConfig
) -> None:
    outcome = handle_webhook(db, _issue_update("completed", state_name="Done"), "d-done", config=linear_config)
    assert (outcome.status, outcome.event_type) == ("recorded", "resolved")
    ((event_type, _, occurred_at, to_tier, _),) = _events(db, linked_ticket)
    assert event_type == "resolved" and to_tier == 2
    assert occurred_at == datetime(2020, 1, 24, 9, tzinfo=UTC)  # the issue's completedAt
    row = db.execute(
        "select status, resolved_at, resolved_tier from tickets where ticket_id = %s", (linked_ticket,)
    ).fetchone()
    assert row == ("resolved", datetime(2020, 1, 24, 9, tzinfo=UTC), 2)
    # Completed again later (reopened and closed in Linear only): the ticket is already resolved.
    again = handle_webhook(
        db, _issue_update("completed", updated_at="2020-01-25T09:00:00.000Z"), "d-done-2", config=linear_config
    )
    assert again.status == "ignored" and again.reason == "ticket already resolved"
    assert len(_events(db, linked_ticket)) == 1


def test_resolved_at_never_precedes_the_tickets_creation(db: psycopg.Connection, linear_config: LinearConfig) -> None:
    make_account(db)
    ticket_id = make_ticket(db, created_at=NOW)
    _link(db, ticket_id, "issue-created-later")
    payload = _issue_update("completed", issue_id="issue-created-later", updated_at="2020-01-24T09:00:00.000Z")
    handle_webhook(db, payload, "d-early", config=linear_config)
    assert db.execute("select resolved_at from tickets where ticket_id = %s", (ticket_id,)).fetchone() == (NOW,)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (_issue_update("backlog", state_name="Backlog"), "state type 'backlog' is not mirrored"),
        (_issue_update("started", updated_from={"title": "old title"}), "issue update without a state change"),
        ({**_issue_update("started"), "action": "remove"}, "Issue remove is not mirrored"),
        ({**_issue_update("started"), "type": "Project"}, "Project update is not mirrored"),
        ({**_issue_update("started"), "data": None}, "payload has no data object"),
        (_issue_update("started", issue_id="not-ours"), "issue is not linked to a ticket"),
    ],
    ids=["backlog", "no-state-change", "remove", "project", "no-data", "unlinked"],
)
def test_everything_else_is_recorded_as_ignored_with_the_reason(
    db: psycopg.Connection, linked_ticket: int, linear_config: LinearConfig, payload: dict[str, Any], reason: str
) -> None:
    outcome = handle_webhook(db, payload, "d-other", config=linear_config)
    assert (outcome.status, outcome.reason) == ("ignored", reason)
    assert _events(db, linked_ticket) == []
    row = db.execute("select outcome, reason from linear_webhook_deliveries where delivery_id = 'd-other'").fetchone()
    assert row == ("ignored", reason)
