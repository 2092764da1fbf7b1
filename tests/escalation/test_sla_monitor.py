"""The SLA monitor on a real Postgres: warnings and breaches at the instants the SLA engine defines,
once each, escalation by one tier into the product area's queue (never above tier 3), one
notification per breach, pauses from history, and re-runs that record nothing new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from backend.escalation.sla_monitor import check_slas, pauses_from_events
from backend.policy.model import Policy, load_policy
from tests.escalation.seed import add_event, events_of, make_account, make_ticket, ticket_row

CHICAGO = ZoneInfo("America/Chicago")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _sla_events(conn: psycopg.Connection, ticket_id: int) -> list[tuple[str, datetime, str]]:
    return [
        (event_type, occurred_at, data["clock"])
        for event_type, occurred_at, *_rest, data in events_of(conn, ticket_id, "sla_warning", "sla_breach")
    ]


def _outbox(conn: psycopg.Connection, ticket_id: int) -> list[tuple[str, str, dict[str, object]]]:
    """The ticket's notifications in the outbox (its Linear issue row is checked separately)."""
    return [
        (kind, key, payload)
        for kind, key, payload in conn.execute(
            "select kind, idempotency_key, payload from outbox where ticket_id = %s and kind <> 'linear_issue' "
            "order by outbox_id",
            (ticket_id,),
        ).fetchall()
    ]


def _linear_rows(conn: psycopg.Connection, ticket_id: int) -> int:
    row = conn.execute(
        "select count(*) from outbox where ticket_id = %s and kind = 'linear_issue'", (ticket_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_p1_runs_on_the_wall_clock_warning_at_75_percent_breach_at_100(db: psycopg.Connection, policy: Policy) -> None:
    make_account(db, "acme")
    created = datetime(2026, 5, 9, 22, 0, tzinfo=UTC)  # a Saturday evening: closed, but P1 is 24x7
    ticket = make_ticket(
        db,
        created_at=created,
        account_id="acme",
        priority="P1",
        tier=2,
        route="support-eng-core",
        category="outage",
        product_area="telephony",
    )
    warning_at = created + timedelta(minutes=11, seconds=15)  # 75% of 15 minutes

    assert not check_slas(db, policy, now=warning_at - timedelta(seconds=1)).warnings
    report = check_slas(db, policy, now=warning_at)
    assert [(finding.clock, finding.kind) for finding in report.warnings] == [("first_response", "warning")]
    assert _sla_events(db, ticket) == [("sla_warning", warning_at, "first_response")]

    assert not check_slas(db, policy, now=created + timedelta(minutes=15) - timedelta(seconds=1)).breaches
    breach_at = created + timedelta(minutes=15)
    report = check_slas(db, policy, now=breach_at)
    assert [(finding.clock, finding.occurred_at) for finding in report.breaches] == [("first_response", breach_at)]
    # Tier 2 -> 3: product engineering takes every product area at tier 3.
    [move] = report.escalations
    assert (move.from_tier, move.to_tier, move.from_route, move.to_route) == (2, 3, "support-eng-core", "product-eng")
    assert ticket_row(db, ticket)[:2] == (3, "product-eng")
    [(kind, key, payload)] = _outbox(db, ticket)
    assert (kind, key) == ("notify", f"notify:sla_breach:{ticket}:first_response")
    assert payload["event"] == "sla_breach" and payload["route"] == "product-eng" and payload["escalated"] is True

    # The resolution clock (4 wall hours) warns at 3 hours, on a Sunday morning all the same.
    report = check_slas(db, policy, now=created + timedelta(hours=3))
    assert [(finding.clock, finding.occurred_at) for finding in report.warnings] == [
        ("resolution", created + timedelta(hours=3))
    ]


def test_business_hours_clock_skips_the_weekend_in_the_accounts_timezone(
    db: psycopg.Connection, policy: Policy
) -> None:
    # Los Angeles, not the policy's default Chicago: the account's timezone decides.
    make_account(db, "westside", timezone="America/Los_Angeles")
    created = datetime(2026, 5, 9, 12, 30, tzinfo=LOS_ANGELES)  # Saturday; open 08:00-13:00
    ticket = make_ticket(
        db,
        created_at=created,
        account_id="westside",
        priority="P2",  # first response: 1 business hour
        tier=1,
        route="ops",
        category="integration_issue",
        product_area="integrations",
    )
    # 30 minutes run on Saturday, the rest from Monday 08:00: warning (45 min) Monday 08:15, due 08:30.
    monday_warning = datetime(2026, 5, 11, 8, 15, tzinfo=LOS_ANGELES)
    monday_due = datetime(2026, 5, 11, 8, 30, tzinfo=LOS_ANGELES)

    sunday_night = datetime(2026, 5, 10, 23, 0, tzinfo=LOS_ANGELES)  # 34.5 wall hours on, 30 business minutes
    report = check_slas(db, policy, now=sunday_night)
    assert not report.warnings and not report.breaches
    # The monitor keeps the due instants current (here: as the pipeline would have stored them).
    assert ticket_row(db, ticket)[3] == monday_due

    assert not check_slas(db, policy, now=monday_warning - timedelta(seconds=1)).warnings
    assert [f.occurred_at for f in check_slas(db, policy, now=monday_warning).warnings] == [monday_warning]
    assert not check_slas(db, policy, now=monday_due - timedelta(seconds=1)).breaches
    report = check_slas(db, policy, now=monday_due)
    assert [(f.clock, f.occurred_at) for f in report.breaches] == [("first_response", monday_due)]
    # Tier 1 -> 2, and at tier 2 the integrations product area has its own queue.
    [move] = report.escalations
    assert (move.from_tier, move.to_tier, move.to_route) == (1, 2, "support-eng-integrations")
    [(_event_type, _at, actor, from_tier, to_tier, from_route, to_route, data)] = events_of(db, ticket, "escalated")
    assert (actor, from_tier, to_tier, from_route, to_route) == ("system", 1, 2, "ops", "support-eng-integrations")
    assert data["trigger"] == "sla_breach" and data["clock"] == "first_response"
    assert "first response SLA breached" in data["reason"] and data["assignee"] is None


def test_other_product_areas_escalate_to_the_tier_default_queue(db: psycopg.Connection, policy: Policy) -> None:
    created = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)  # Monday 09:00 Chicago; no account: default timezone
    ticket = make_ticket(db, created_at=created, priority="P2", tier=1, route="ops", product_area="pam_core")
    report = check_slas(db, policy, now=created + timedelta(hours=1))
    assert [(m.to_tier, m.to_route) for m in report.escalations] == [(2, "support-eng-core")]
    assert ticket_row(db, ticket)[:2] == (2, "support-eng-core")


def test_rerunning_at_the_same_instant_or_later_records_nothing_new(db: psycopg.Connection, policy: Policy) -> None:
    created = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
    ticket = make_ticket(db, created_at=created, priority="P2", tier=1, route="ops")
    later = created + timedelta(hours=2)  # first response breached (1 business hour)

    first = check_slas(db, policy, now=later)
    assert first.recorded_anything
    assert len(first.breaches) == 1 and len(first.escalations) == 1 and len(first.notifications) == 1
    counts = db.execute("select count(*) from ticket_events where ticket_id = %s", (ticket,)).fetchone()

    again = check_slas(db, policy, now=later)
    assert not again.recorded_anything
    assert db.execute("select count(*) from ticket_events where ticket_id = %s", (ticket,)).fetchone() == counts

    # Still breached an hour later: the same breach escalates once only.
    much_later = check_slas(db, policy, now=later + timedelta(hours=1))
    assert not much_later.breaches and not much_later.escalations and not much_later.notifications
    assert ticket_row(db, ticket)[:2] == (2, "support-eng-core")
    assert len(_outbox(db, ticket)) == 1


def test_never_escalates_above_tier_3_but_still_notifies(db: psycopg.Connection, policy: Policy) -> None:
    created = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
    ticket = make_ticket(
        db, created_at=created, priority="P3", tier=3, route="product-eng", category="bug", product_area="dashboard"
    )
    report = check_slas(db, policy, now=created + timedelta(days=2))  # past 4 business hours
    assert [f.clock for f in report.breaches] == ["first_response"]
    assert report.escalations == []
    assert events_of(db, ticket, "escalated") == []
    assert ticket_row(db, ticket)[:2] == (3, "product-eng")
    [(_kind, _key, payload)] = _outbox(db, ticket)
    assert payload["escalated"] is False and "highest" in str(payload["not_escalated_because"])


def test_a_larger_escalation_step_is_capped_at_the_highest_tier(db: psycopg.Connection, policy: Policy) -> None:
    two_tiers = policy.model_copy(update={"sla": policy.sla.model_copy(update={"breach_escalates_tiers": 2})})
    created = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
    ticket = make_ticket(db, created_at=created, priority="P2", tier=2, route="support-eng-core")
    report = check_slas(db, two_tiers, now=created + timedelta(hours=2))
    assert [(m.from_tier, m.to_tier) for m in report.escalations] == [(2, 3)]
    assert ticket_row(db, ticket)[0] == 3


def test_first_and_resolution_breaches_escalate_once_each(db: psycopg.Connection, policy: Policy) -> None:
    created = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)  # Monday 09:00 Chicago
    ticket = make_ticket(db, created_at=created, priority="P2", tier=0, route="ai", category="how_to")
    first = check_slas(db, policy, now=created + timedelta(hours=1))
    assert [(m.from_tier, m.to_tier, m.to_route) for m in first.escalations] == [(0, 1, "ops")]
    # 24 business hours later (Mon 9-18 = 9, Tue 10, Wed 08:00-13:00 = 5): resolution breached.
    resolution_due = datetime(2026, 5, 6, 13, 0, tzinfo=CHICAGO)
    second = check_slas(db, policy, now=resolution_due)
    assert [(f.clock, f.occurred_at) for f in second.breaches] == [("resolution", resolution_due)]
    assert [(m.from_tier, m.to_tier) for m in second.escalations] == [(1, 2)]
    assert len(_outbox(db, ticket)) == 2


def test_a_first_response_sent_late_records_the_breach_without_escalating(
    db: psycopg.Connection, policy: Policy
) -> None:
    created = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
    responded = created + timedelta(minutes=70)  # 10 minutes after the 1 business hour
    ticket = make_ticket(db, created_at=created, priority="P2", tier=1, route="ops", first_responded_at=responded)
    report = check_slas(db, policy, now=created + timedelta(minutes=80))
    assert [(f.clock, f.kind) for f in report.warnings + report.breaches] == [
        ("first_response", "warning"),
        ("first_response", "breach"),
    ]
    assert [f.occurred_at for f in report.breaches] == [created + timedelta(hours=1)]
    assert report.escalations == [] and report.notifications == []
    assert ticket_row(db, ticket)[:2] == (1, "ops")


def test_time_waiting_on_the_customer_pauses_both_clocks(db: psycopg.Connection, policy: Policy) -> None:
    created = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
    ticket = make_ticket(
        db,
        created_at=created,
        priority="P1",
        tier=2,
        route="support-eng-core",
        category="outage",
        status="pending_customer",
    )
    add_event(db, ticket, "waiting_on_customer", created + timedelta(minutes=5), actor="user:maria")

    # 20 minutes after creation the P1 first response would be breached; paused after 5 minutes.
    report = check_slas(db, policy, now=created + timedelta(minutes=20))
    assert not report.warnings and not report.breaches
    assert ticket_row(db, ticket)[3:] == (None, None)  # due unknown until the customer answers

    replied = created + timedelta(minutes=65)
    add_event(db, ticket, "customer_replied", replied, data={"kind": "followup"})
    db.execute("update tickets set status = 'open' where ticket_id = %s", (ticket,))
    resumed_due = created + timedelta(minutes=75)  # 5 minutes before the pause + 10 after it
    assert not check_slas(db, policy, now=resumed_due - timedelta(seconds=1)).breaches
    assert ticket_row(db, ticket)[3] == resumed_due
    warning = created + timedelta(minutes=60 + 11, seconds=15)
    assert [e[1] for e in events_of(db, ticket, "sla_warning")] == [warning]
    report = check_slas(db, policy, now=resumed_due)
    assert [f.occurred_at for f in report.breaches] == [resumed_due]


def test_resolved_and_closed_tickets_are_not_checked(db: psycopg.Connection, policy: Policy) -> None:
    created = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
    for status in ("resolved", "closed"):
        make_ticket(db, created_at=created, priority="P1", tier=2, route="support-eng-core", status=status)
    report = check_slas(db, policy, now=created + timedelta(days=1))
    assert report.checked == 0 and not report.recorded_anything


def test_pauses_come_from_waiting_and_the_next_customer_reply() -> None:
    t = [datetime(2026, 5, 4, 14, minute, tzinfo=UTC) for minute in range(10)]
    events = [
        ("customer_replied", t[0]),  # no pause open: nothing to close
        ("waiting_on_customer", t[1]),
        ("waiting_on_customer", t[2]),  # already waiting
        ("customer_replied", t[3]),
        ("waiting_on_customer", t[5]),
    ]
    assert pauses_from_events(events, is_waiting=True) == [(t[1], t[3]), (t[5], None)]
    # Reopened or resolved also ends a pause; a pause left open while no longer waiting ends at the last event.
    assert pauses_from_events([*events, ("reopened", t[7])], is_waiting=False) == [(t[1], t[3]), (t[5], t[7])]


def test_breaches_older_than_act_within_are_recorded_but_not_escalated(db: psycopg.Connection, policy: Policy) -> None:
    created = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
    old = make_ticket(db, created_at=created, priority="P2", tier=1, route="ops")
    fresh = make_ticket(db, created_at=created + timedelta(days=2), priority="P2", tier=1, route="ops")
    now = created + timedelta(days=2, hours=1)  # old breached two days ago, fresh just now
    report = check_slas(db, policy, now=now, act_within=timedelta(hours=24))
    assert {(f.ticket_id, f.clock) for f in report.breaches} == {(old, "first_response"), (fresh, "first_response")}
    assert [f.ticket_id for f in report.stale_breaches] == [old]
    assert [m.ticket_id for m in report.escalations] == [fresh]
    assert ticket_row(db, old)[:2] == (1, "ops") and _outbox(db, old) == []
    assert len(_outbox(db, fresh)) == 1
    # Escalated into an engineering tier: the ticket gets its Linear issue, once.
    assert _linear_rows(db, fresh) == 1 and _linear_rows(db, old) == 0
