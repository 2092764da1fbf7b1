"""Escalation suggestions: the next tier's queue by product area, then a person by open-ticket load
and past resolutions of the same category, computed from ticket history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from backend.escalation.actions import EscalationRefused, escalate_ticket
from backend.escalation.suggest import suggest_escalation
from backend.notify.config import NotificationsConfig, parse_notifications_config
from backend.policy.model import Policy, load_policy
from tests.escalation.seed import add_event, make_ticket

NOW = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(days=20)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _config(load_slack: int = 2, members: list[str] | None = None) -> NotificationsConfig:
    names = members if members is not None else ["ana", "ben", "cy"]
    return parse_notifications_config(
        {
            "people": {name: {"name": name.title()} for name in ["ana", "ben", "cy", "dee"]},
            "queues": {"support-eng-integrations": {"lead": names[0], "members": names}} if names else {},
            "assignment": {"load_slack": load_slack},
        }
    )


def _held(db: psycopg.Connection, person: str, count: int, *, status: str = "open") -> None:
    """`count` tickets assigned to `person` (open ones count as load)."""
    for _ in range(count):
        ticket = make_ticket(db, created_at=EARLIER, tier=2, route="support-eng-integrations", status=status)
        add_event(db, ticket, "assigned", EARLIER, actor="user:lead", data={"assignee": person})


def _resolved(
    db: psycopg.Connection, person: str, count: int, *, category: str = "integration_issue", how: str
) -> None:
    """`count` resolved tickets of `category` credited to `person` in one of the ways history says it."""
    for _ in range(count):
        ticket = make_ticket(
            db, created_at=EARLIER, tier=2, route="support-eng-integrations", category=category, status="resolved"
        )
        at = EARLIER + timedelta(days=1)
        if how == "actor":
            add_event(db, ticket, "resolved", at, actor=f"user:{person}", data={"resolution": "human"}, to_tier=2)
        elif how == "data":
            add_event(db, ticket, "resolved", at, actor="linear", data={"assignee": person}, to_tier=2)
        else:  # whoever held it when a non-human actor resolved it
            add_event(db, ticket, "assigned", EARLIER, actor="user:lead", data={"assignee": person})
            add_event(db, ticket, "resolved", at, actor="linear", data={"resolution": "linear"}, to_tier=2)


def _ticket_to_escalate(db: psycopg.Connection) -> int:
    return make_ticket(
        db,
        created_at=NOW - timedelta(hours=3),
        tier=1,
        route="ops",
        category="integration_issue",
        product_area="integrations",
    )


def test_route_by_product_area_then_the_experienced_person_among_the_least_loaded(
    db: psycopg.Connection, policy: Policy
) -> None:
    _held(db, "ana", 3)
    _held(db, "ben", 1)
    _held(db, "ben", 4, status="closed")  # closed tickets are no load
    _resolved(db, "ana", 5, how="actor")
    _resolved(db, "ben", 1, how="actor")
    _resolved(db, "ben", 1, how="data")
    _resolved(db, "cy", 1, how="holder")
    _resolved(db, "cy", 6, category="billing", how="actor")  # another category counts for nothing
    ticket = _ticket_to_escalate(db)

    suggestion = suggest_escalation(db, policy, ticket, config=_config(load_slack=2))
    assert (suggestion.from_tier, suggestion.to_tier, suggestion.to_route) == (1, 2, "support-eng-integrations")
    # Lightest load is cy's 0; within 2 of it: ben (1) and cy (0); ana (3) is too busy. ben resolved 2.
    assert suggestion.assignee == "ben"
    assert [(c.person, c.open_tickets, c.resolved_in_category) for c in suggestion.candidates] == [
        ("ben", 1, 2),
        ("cy", 0, 1),
        ("ana", 3, 5),
    ]
    assert "product area integrations goes to support-eng-integrations at tier 2" in suggestion.reason
    assert "ben holds 1 open ticket" in suggestion.reason
    assert "resolved 2 earlier integration_issue tickets" in suggestion.reason
    routes = [(option.to_route, option.assignee) for option in suggestion.alternatives]
    assert routes[:2] == [("support-eng-integrations", "cy"), ("support-eng-integrations", "ana")]
    assert ("support-eng-core", None) in routes[2:]  # the other tier-2 queue, nobody known there here

    # With more slack for load, experience wins outright.
    assert suggest_escalation(db, policy, ticket, config=_config(load_slack=5)).assignee == "ana"


def test_accepting_a_suggestion_moves_the_load(db: psycopg.Connection, policy: Policy) -> None:
    config = _config(load_slack=0)
    first = _ticket_to_escalate(db)
    second = _ticket_to_escalate(db)
    suggestion = suggest_escalation(db, policy, first, config=config)
    assert suggestion.assignee == "ana"  # all at 0 open: nobody has experience, so by name
    escalate_ticket(
        db,
        first,
        to_tier=suggestion.to_tier,
        to_route=suggestion.to_route,
        assignee=suggestion.assignee,
        reason=suggestion.reason,
        actor="user:maria",
        now=NOW,
        policy=policy,
    )
    # ana now holds one open ticket: with no slack, the next goes to someone idle.
    assert suggest_escalation(db, policy, second, config=config).assignee == "ben"


def test_without_members_in_the_policy_people_come_from_the_queues_history(
    db: psycopg.Connection, policy: Policy
) -> None:
    _held(db, "dee", 1)
    ticket = _ticket_to_escalate(db)
    suggestion = suggest_escalation(db, policy, ticket, config=_config(members=[]))
    assert suggestion.assignee == "dee"
    assert "people came from its ticket history" in suggestion.reason


def test_nobody_known_leaves_the_queue_to_assign(db: psycopg.Connection, policy: Policy) -> None:
    ticket = _ticket_to_escalate(db)
    suggestion = suggest_escalation(db, policy, ticket, config=_config(members=[]))
    assert suggestion.assignee is None and suggestion.to_route == "support-eng-integrations"
    assert "Nobody is known in support-eng-integrations" in suggestion.reason


def test_the_shipped_policy_roster_is_used_by_default(db: psycopg.Connection, policy: Policy) -> None:
    ticket = make_ticket(db, created_at=NOW, tier=0, route="ai", category="how_to", product_area="dashboard")
    suggestion = suggest_escalation(db, policy, ticket)
    assert (suggestion.to_tier, suggestion.to_route) == (1, "ops")
    assert suggestion.assignee == "jordan"  # nobody holds or resolved anything: by name


def test_nothing_to_suggest_at_the_top_tier_or_for_a_resolved_ticket(db: psycopg.Connection, policy: Policy) -> None:
    top = make_ticket(db, created_at=NOW, tier=3, route="product-eng", category="bug", product_area="mobile")
    with pytest.raises(EscalationRefused, match="is at tier 3, the highest"):
        suggest_escalation(db, policy, top)
    done = make_ticket(db, created_at=NOW, tier=1, route="ops", status="closed")
    with pytest.raises(EscalationRefused, match="is closed"):
        suggest_escalation(db, policy, done)
