"""Tier-0 auto-send: every guardrail can stop it, and a sent answer is a Tier-0 resolution."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from backend.api.actions import ActionContext, approve_draft
from backend.api.errors import ConflictError
from backend.policy.model import load_policy
from backend.tier0.autosend import auto_send, auto_send_decision, auto_send_pending
from backend.tier0.config import AutoSendConfig, parse_auto_send_config
from backend.users.store import User
from tests.api.factories import NOW, events_of, make_account, make_draft, make_ticket

ENABLED = parse_auto_send_config({"categories": {"how_to": {"enabled": True, "min_confidence": 0.9}}})


def _ticket(db: psycopg.Connection, *, draft: bool = True, generator: str = "extractive", **overrides: Any) -> int:
    make_account(db)
    values: dict[str, Any] = {"account_id": "acct-sunrise", "confidence": 0.95}
    values.update(overrides)
    ticket_id = make_ticket(db, **values)
    if draft:
        make_draft(db, ticket_id, generator=generator)
    return ticket_id


def test_an_allowed_ticket_is_sent_and_resolved_at_tier0(db: psycopg.Connection) -> None:
    ticket_id = _ticket(db)
    decision = auto_send(db, ticket_id, ENABLED, now=NOW)
    assert (decision.allowed, decision.sent, decision.reasons) == (True, True, ())
    draft = db.execute(
        "select status, decided_by, decided_at from drafts where ticket_id = %s", (ticket_id,)
    ).fetchone()
    assert draft == ("approved", "system:auto_send", NOW)
    assert db.execute(
        "select status, resolved_tier, resolved_at from tickets where ticket_id = %s", (ticket_id,)
    ).fetchone() == ("resolved", 0, NOW)
    outbox = db.execute("select kind, payload from outbox where ticket_id = %s", (ticket_id,)).fetchall()
    assert outbox == [("send_reply", {"draft_id": decision.draft_id, "automatic": True})]
    assert [event[:4] for event in events_of(db, ticket_id)[-2:]] == [
        ("auto_sent", "system", None, None),
        ("resolved", "system", None, 0),
    ]
    assert events_of(db, ticket_id, "auto_sent")[0][6] == {
        "draft_id": decision.draft_id,
        "confidence": pytest.approx(0.95),
        "category": "how_to",
    }
    assert events_of(db, ticket_id, "resolved")[0][6] == {"resolution": "auto_sent", "draft_id": decision.draft_id}
    # Once sent, a second run finds nothing to send.
    again = auto_send(db, ticket_id, ENABLED, now=NOW)
    assert again.allowed is False and "no pending draft: the knowledge base did not answer" in again.reasons


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"category": "account_access"}, "auto-send is off for category account_access"),
        ({"confidence": 0.89}, "classification confidence 0.89 is not above 0.90"),
        ({"confidence": 0.90}, "classification confidence 0.90 is not above 0.90"),
        ({"confidence": None}, "classification confidence unknown is not above 0.90"),
        ({"priority": "P2"}, "priority P2 is never auto-sent"),
        ({"priority": "P1", "tier": 1, "route": "ops"}, "priority P1 is never auto-sent"),
        ({"tier": 1, "route": "ops"}, "the ticket is at tier 1, not tier 0"),
        ({"signals": {"churn_threat": True}}, "signal churn_threat"),
        ({"signals": {"urgent_with_reason": True}}, "signal urgent_with_reason"),
        ({"sentiment": "negative"}, "sentiment negative"),
        ({"flagged": True}, "the ticket is flagged for review"),
        ({"status": "pending_customer"}, "the ticket is pending_customer"),
        ({"draft": False}, "no pending draft: the knowledge base did not answer"),
        ({"generator": "incident"}, "incident drafts are not auto-sent"),
    ],
)
def test_each_guardrail_stops_it(db: psycopg.Connection, overrides: dict[str, Any], reason: str) -> None:
    ticket_id = _ticket(db, **overrides)
    decision = auto_send(db, ticket_id, ENABLED, now=NOW)
    assert decision.allowed is False
    assert reason in decision.reasons
    assert db.execute("select count(*) from outbox where ticket_id = %s", (ticket_id,)).fetchone() == (0,)
    assert events_of(db, ticket_id, "auto_sent") == []


def test_off_by_default(db: psycopg.Connection) -> None:
    ticket_id = _ticket(db)
    decision = auto_send(db, ticket_id, AutoSendConfig(), now=NOW)
    assert decision.reasons == ("auto-send is off for category how_to",)


def test_never_after_a_person_touched_the_ticket(db: psycopg.Connection) -> None:
    ticket_id = _ticket(db)
    db.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, actor, data)
           values (%s, 'relabelled', %s, 'user:alice', '{}')""",
        (ticket_id, NOW),
    )
    decision = auto_send_decision(db, ticket_id, ENABLED)
    assert decision.reasons == ("a person has worked on the ticket (user:alice: relabelled)",)
    assert auto_send(db, ticket_id, ENABLED, now=NOW).sent is False


def test_never_after_staff_replied_from_the_mailbox(db: psycopg.Connection) -> None:
    ticket_id = _ticket(db)
    db.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, actor, data)
           values (%s, 'staff_replied', %s, 'staff:bob@support.example', '{}')""",
        (ticket_id, NOW),
    )
    decision = auto_send_decision(db, ticket_id, ENABLED)
    assert decision.reasons == ("a person has worked on the ticket (staff:bob@support.example: staff_replied)",)


def test_a_person_and_auto_send_never_both_send(db: psycopg.Connection) -> None:
    ticket_id = _ticket(db)
    draft_id = db.execute("select draft_id from drafts where ticket_id = %s", (ticket_id,)).fetchone()[0]  # type: ignore[index]
    assert auto_send(db, ticket_id, ENABLED, now=NOW).sent
    with pytest.raises(ConflictError, match=f"draft {draft_id} is already approved by system:auto_send"):
        approve_draft(db, ticket_id, draft_id, User(1, "alice", "ops"), ActionContext(load_policy(), NOW, frozenset()))
    assert db.execute("select count(*) from outbox where kind = 'send_reply'").fetchone() == (1,)


def test_pending_sweep_only_touches_enabled_categories(db: psycopg.Connection) -> None:
    how_to = _ticket(db)
    access = _ticket(db, category="account_access")
    risky = _ticket(db, signals={"churn_threat": True})
    decisions = {decision.ticket_id: decision for decision in auto_send_pending(db, ENABLED, now=NOW)}
    assert set(decisions) == {how_to, risky}  # account_access is not enabled: not even looked at
    assert decisions[how_to].sent and not decisions[risky].sent
    assert db.execute("select status from tickets where ticket_id = %s", (access,)).fetchone() == ("open",)
    assert auto_send_pending(db, AutoSendConfig(), now=NOW) == []
