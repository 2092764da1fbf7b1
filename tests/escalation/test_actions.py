"""Escalating and re-assigning tickets: the events they write, what they refuse, and the database
checks that hold the event vocabulary (an escalation goes up, a mis-route stays at its tier)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from backend.escalation.actions import (
    EscalationRefused,
    TicketNotFound,
    current_assignee,
    escalate_ticket,
    reassign_ticket,
)
from backend.policy.model import Policy, load_policy
from tests.escalation.seed import add_event, events_of, make_ticket, ticket_row

NOW = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)
CREATED = NOW - timedelta(hours=2)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def test_escalation_records_from_to_whom_and_why(db: psycopg.Connection, policy: Policy) -> None:
    ticket = make_ticket(db, created_at=CREATED, tier=1, route="ops", product_area="integrations")
    move = escalate_ticket(
        db,
        ticket,
        to_tier=2,
        to_route="support-eng-integrations",
        assignee="user:dev",
        reason="Tekion sync errors need an engineer",
        actor="user:maria",
        now=NOW,
        policy=policy,
    )
    assert move.recorded and (move.from_tier, move.to_tier) == (1, 2)
    [(event_type, occurred_at, actor, from_tier, to_tier, from_route, to_route, data)] = events_of(
        db, ticket, "escalated"
    )
    assert (event_type, occurred_at, actor) == ("escalated", NOW, "user:maria")
    assert (from_tier, to_tier, from_route, to_route) == (1, 2, "ops", "support-eng-integrations")
    assert data == {"reason": "Tekion sync errors need an engineer", "assignee": "dev"}
    assert ticket_row(db, ticket)[:2] == (2, "support-eng-integrations")
    assert current_assignee(db, ticket) == "dev"


@pytest.mark.parametrize("to_tier", [1, 0])
def test_escalation_to_the_same_or_a_lower_tier_is_refused(
    db: psycopg.Connection, policy: Policy, to_tier: int
) -> None:
    ticket = make_ticket(db, created_at=CREATED, tier=1, route="ops")
    route = {1: "ops", 0: "ai"}[to_tier]
    with pytest.raises(EscalationRefused, match=rf"ticket {ticket} is at tier 1: an escalation goes to a higher tier"):
        escalate_ticket(
            db,
            ticket,
            to_tier=to_tier,
            to_route=route,
            assignee=None,
            reason="x",
            actor="user:a",
            now=NOW,
            policy=policy,
        )
    assert events_of(db, ticket, "escalated") == []
    assert ticket_row(db, ticket)[:2] == (1, "ops")


def test_escalation_checks_the_route_tier_reason_and_ticket(db: psycopg.Connection, policy: Policy) -> None:
    ticket = make_ticket(db, created_at=CREATED, tier=1, route="ops")
    common = {"assignee": None, "actor": "user:maria", "now": NOW, "policy": policy}
    with pytest.raises(EscalationRefused, match="belongs to tier 3, not tier 2"):
        escalate_ticket(db, ticket, to_tier=2, to_route="product-eng", reason="why", **common)  # type: ignore[arg-type]
    with pytest.raises(EscalationRefused, match="tier 4 does not exist"):
        escalate_ticket(db, ticket, to_tier=4, to_route="product-eng", reason="why", **common)  # type: ignore[arg-type]
    with pytest.raises(EscalationRefused, match="a reason is required"):
        escalate_ticket(db, ticket, to_tier=2, to_route="support-eng-core", reason="  ", **common)  # type: ignore[arg-type]
    with pytest.raises(TicketNotFound):
        escalate_ticket(db, 987654, to_tier=2, to_route="support-eng-core", reason="why", **common)  # type: ignore[arg-type]
    resolved = make_ticket(db, created_at=CREATED, tier=1, route="ops", status="resolved")
    with pytest.raises(EscalationRefused, match="is resolved"):
        escalate_ticket(db, resolved, to_tier=2, to_route="support-eng-core", reason="why", **common)  # type: ignore[arg-type]


def test_escalation_may_skip_tiers_and_a_dedupe_key_makes_it_happen_once(
    db: psycopg.Connection, policy: Policy
) -> None:
    ticket = make_ticket(db, created_at=CREATED, tier=1, route="ops", category="bug", product_area="dashboard")
    kwargs = {"to_tier": 3, "to_route": "product-eng", "assignee": "rae", "reason": "dashboard crash needs a code fix"}
    first = escalate_ticket(db, ticket, actor="user:maria", now=NOW, policy=policy, dedupe_key="api:req-1", **kwargs)  # type: ignore[arg-type]
    again = escalate_ticket(
        db,
        ticket,
        actor="user:maria",
        now=NOW + timedelta(seconds=5),
        policy=policy,
        dedupe_key="api:req-1",
        **kwargs,  # type: ignore[arg-type]
    )
    assert first.recorded and not again.recorded
    assert again.event_id == first.event_id and again.to_tier == 3
    assert len(events_of(db, ticket, "escalated")) == 1


def test_reassignment_at_the_same_tier_is_a_misroute(db: psycopg.Connection, policy: Policy) -> None:
    ticket = make_ticket(
        db, created_at=CREATED, tier=2, route="support-eng-core", category="integration_issue", product_area="pam_core"
    )
    add_event(db, ticket, "assigned", CREATED + timedelta(minutes=5), actor="user:sam", data={"assignee": "sam"})
    move = reassign_ticket(
        db,
        ticket,
        to_route="support-eng-integrations",
        actor="user:sam",
        reason="this is the CDK connector, not Pam",
        now=NOW,
        policy=policy,
    )
    assert move.event_type == "misrouted"
    [(_type, _at, actor, from_tier, to_tier, from_route, to_route, data)] = events_of(db, ticket, "misrouted")
    assert (actor, from_tier, to_tier) == ("user:sam", 2, 2)
    assert (from_route, to_route) == ("support-eng-core", "support-eng-integrations")
    assert data["reason"] == "this is the CDK connector, not Pam"
    assert ticket_row(db, ticket)[:2] == (2, "support-eng-integrations")
    assert current_assignee(db, ticket) is None  # sam no longer holds it: the new queue does


def test_reassignment_to_another_tier_or_the_same_queue_is_refused(db: psycopg.Connection, policy: Policy) -> None:
    ticket = make_ticket(db, created_at=CREATED, tier=1, route="ops")
    common = {"actor": "user:maria", "reason": "wrong queue", "now": NOW, "policy": policy}
    with pytest.raises(EscalationRefused, match="a re-assignment stays at the same tier; escalate it instead"):
        reassign_ticket(db, ticket, to_route="support-eng-core", **common)  # type: ignore[arg-type]
    with pytest.raises(EscalationRefused, match="not moved down a tier"):
        reassign_ticket(db, ticket, to_route="ai", **common)  # type: ignore[arg-type]
    with pytest.raises(EscalationRefused, match="already in queue 'ops'"):
        reassign_ticket(db, ticket, to_route="ops", **common)  # type: ignore[arg-type]
    with pytest.raises(EscalationRefused, match="unknown route"):
        reassign_ticket(db, ticket, to_route="nowhere", **common)  # type: ignore[arg-type]
    assert events_of(db, ticket, "misrouted", "escalated") == []


def test_the_database_refuses_events_against_the_vocabulary(db: psycopg.Connection) -> None:
    ticket = make_ticket(db, created_at=CREATED, tier=2, route="support-eng-core")
    with pytest.raises(psycopg.errors.CheckViolation), db.transaction():
        add_event(db, ticket, "escalated", NOW, from_tier=2, to_tier=2, from_route="support-eng-core", to_route="x")
    with pytest.raises(psycopg.errors.CheckViolation), db.transaction():
        add_event(db, ticket, "misrouted", NOW, from_tier=1, to_tier=2, from_route="ops", to_route="support-eng-core")
    with pytest.raises(psycopg.errors.CheckViolation), db.transaction():
        add_event(db, ticket, "misrouted", NOW, from_tier=2, to_tier=2, from_route="ops", to_route="ops")
