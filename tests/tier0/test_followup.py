"""Tier-0 resolution tracking: assumed after 24 h of silence, verified after 72 h without reopening."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from backend.tier0.config import FollowupRules
from backend.tier0.followup import track_tier0_resolutions
from tests.api.factories import NOW, events_of, make_account, make_ticket

RULES = FollowupRules()
ANSWERED = NOW


def _answered_ticket(db: psycopg.Connection, *, status: str = "open", tier: int = 0, at: datetime = ANSWERED) -> int:
    make_account(db)
    ticket_id = make_ticket(
        db,
        account_id="acct-sunrise",
        status=status,
        tier=tier,
        route="ai" if tier == 0 else "ops",
        created_at=at - timedelta(hours=1),
    )
    _event(db, ticket_id, "reply_sent", at)
    return ticket_id


def _event(db: psycopg.Connection, ticket_id: int, event_type: str, at: datetime) -> int:
    row = db.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, data) values (%s, %s, %s, %s)
           returning event_id""",
        (ticket_id, event_type, at, Jsonb({})),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _status(db: psycopg.Connection, ticket_id: int) -> tuple[object, ...]:
    row = db.execute(
        "select status, resolved_tier, resolved_at from tickets where ticket_id = %s", (ticket_id,)
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_silence_for_24_hours_resolves_at_tier0(db: psycopg.Connection) -> None:
    ticket_id = _answered_ticket(db)
    early = track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(hours=23, minutes=59))
    assert early.assumed == [] and events_of(db, ticket_id, "assumed_resolved") == []
    report = track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(hours=30))
    assert (report.assumed, report.resolved, report.verified) == ([ticket_id], [ticket_id], [])
    assert _status(db, ticket_id) == ("resolved", 0, ANSWERED)
    [assumed] = events_of(db, ticket_id, "assumed_resolved")
    assert assumed[1] == "system"
    [resolved] = events_of(db, ticket_id, "resolved")
    assert (resolved[3], resolved[6]["resolution"]) == (0, "assumed")
    occurred = db.execute(
        "select event_type, occurred_at from ticket_events where ticket_id = %s and event_type in "
        "('assumed_resolved', 'resolved') order by event_type",
        (ticket_id,),
    ).fetchall()
    # Dated when the window ended (assumed) and when the answer went out (resolved), not when the job ran.
    assert occurred == [("assumed_resolved", ANSWERED + timedelta(hours=24)), ("resolved", ANSWERED)]


def test_reruns_record_nothing_twice(db: psycopg.Connection) -> None:
    ticket_id = _answered_ticket(db)
    for hours in (25, 26, 80, 81):
        track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(hours=hours))
    assert [event[0] for event in events_of(db, ticket_id) if event[0].endswith("resolved")] == [
        "resolved",
        "assumed_resolved",
        "verified_resolved",
    ]


def test_verified_after_72_hours_without_reopening(db: psycopg.Connection) -> None:
    ticket_id = _answered_ticket(db)
    track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(hours=25))
    assert track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(hours=71)).verified == []
    report = track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(hours=72))
    assert report.verified == [ticket_id]
    [verified] = events_of(db, ticket_id, "verified_resolved")
    assert verified[1] == "system"


def test_a_customer_reply_stops_the_assumption(db: psycopg.Connection) -> None:
    ticket_id = _answered_ticket(db)
    _event(db, ticket_id, "customer_replied", ANSWERED + timedelta(hours=3))
    assert track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(days=5)).assumed == []
    assert _status(db, ticket_id) == ("open", None, None)


def test_a_thanks_confirms_rather_than_reopens(db: psycopg.Connection) -> None:
    ticket_id = _answered_ticket(db)
    _event(db, ticket_id, "customer_thanked", ANSWERED + timedelta(hours=3))
    report = track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(days=4))
    assert (report.assumed, report.verified) == ([ticket_id], [ticket_id])


def test_a_reopening_stops_verification_and_a_new_answer_starts_a_new_cycle(db: psycopg.Connection) -> None:
    ticket_id = _answered_ticket(db)
    track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(hours=25))
    # The customer comes back on day 2: the pipeline records the reply and reopens the ticket.
    _event(db, ticket_id, "customer_replied", ANSWERED + timedelta(hours=40))
    _event(db, ticket_id, "reopened", ANSWERED + timedelta(hours=40))
    db.execute(
        "update tickets set status = 'open', resolved_at = null, resolved_tier = null where ticket_id = %s",
        (ticket_id,),
    )
    assert track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(hours=80)).verified == []
    # A second answer, then silence: a fresh assumed resolution, then a verified one.
    second = ANSWERED + timedelta(hours=41)
    _event(db, ticket_id, "reply_sent", second)
    report = track_tier0_resolutions(db, RULES, now=second + timedelta(hours=25))
    assert (report.assumed, report.resolved) == ([ticket_id], [ticket_id])
    assert _status(db, ticket_id) == ("resolved", 0, second)
    assert track_tier0_resolutions(db, RULES, now=second + timedelta(hours=73)).verified == [ticket_id]
    assert len(events_of(db, ticket_id, "assumed_resolved")) == 2
    assert len(events_of(db, ticket_id, "verified_resolved")) == 1


def test_only_tier0_answers_and_not_while_waiting(db: psycopg.Connection) -> None:
    tier1 = _answered_ticket(db, tier=1)
    waiting = _answered_ticket(db, status="pending_customer")
    auto_sent = _answered_ticket(db, status="resolved")
    report = track_tier0_resolutions(db, RULES, now=ANSWERED + timedelta(days=4))
    assert report.assumed == [auto_sent] and report.resolved == [] and report.verified == [auto_sent]
    assert events_of(db, tier1, "assumed_resolved") == [] and events_of(db, waiting, "assumed_resolved") == []
    assert _status(db, waiting)[0] == "pending_customer"
