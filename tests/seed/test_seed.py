"""The synthetic history: consistent with the schema's rules and the policy, deterministic per seed, and
something the marts and every dashboard card can run on."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from backend.marts.refresh import refresh_marts
from backend.metabase.definitions import load_definitions, render_sql
from backend.seed.history import seed_history

START = date(2023, 1, 2)
TICKETS = 2000


@pytest.fixture
def seeded(db: psycopg.Connection) -> psycopg.Connection:
    report = seed_history(db, tickets=TICKETS, seed=7, start=START, years=1)
    assert report.tickets == TICKETS
    return db


def one(conn: psycopg.Connection, query: str) -> tuple:  # type: ignore[type-arg]
    row = conn.execute(query).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return tuple(row)


def fingerprint(conn: psycopg.Connection) -> tuple:  # type: ignore[type-arg]
    return one(
        conn,
        """select (select count(*) from ticket_events),
                  (select md5(string_agg(ticket_id || category || priority || tier || route || status
                                         || created_at::text || coalesce(resolved_at::text, '-'), ',' order by ticket_id))
                   from tickets),
                  (select md5(string_agg(event_type || occurred_at::text, ',' order by event_id)) from ticket_events)""",
    )


def test_volumes_are_realistic(seeded: psycopg.Connection) -> None:
    tickets, events, messages, drafts, calls = one(
        seeded,
        """select (select count(*) from tickets), (select count(*) from ticket_events), (select count(*) from messages),
                  (select count(*) from drafts), (select count(*) from llm_calls)""",
    )
    assert tickets == TICKETS
    assert 8 <= events / tickets <= 12
    assert messages > tickets * 1.1  # ticket emails, follow-ups, automated mail
    assert 0.15 * tickets < drafts < 0.5 * tickets
    assert calls >= tickets * 0.9


def test_histories_follow_the_event_rules(seeded: psycopg.Connection) -> None:
    assert one(
        seeded,
        """select count(*) from tickets
           where (select count(*) from ticket_events where ticket_id = tickets.ticket_id
                  and event_type in ('created', 'classified', 'routed')) <> 3""",
    ) == (0,)
    # The first routing is the ticket's first tier; an escalation only goes up; a mis-route stays at tier 2.
    assert one(
        seeded,
        """select count(*) from fct_tickets
           where final_tier < first_tier or (is_misrouted and first_tier <> 2)
              or (resolved_at is not null) <> is_resolved or resolved_at < created_at or first_responded_at < created_at""",
    ) == (0,)
    # Every resolved ticket's last resolved event is its resolution.
    assert one(
        seeded,
        """select count(*) from tickets
           where resolved_at is not null and resolved_at <> (select max(occurred_at) from ticket_events
                 where ticket_id = tickets.ticket_id and event_type = 'resolved')""",
    ) == (0,)
    # A breach event exactly when the clock ran past its due time.
    assert one(
        seeded,
        """select count(*) from tickets
           where (first_responded_at > first_response_due_at)
                 <> exists (select 1 from ticket_events where ticket_id = tickets.ticket_id
                            and event_type = 'sla_breach' and data ->> 'clock' = 'first_response')
             and first_responded_at is not null""",
    ) == (0,)
    # A P1 never stays at Tier 0; a reply to a follow-up points at its email.
    assert one(seeded, "select count(*) from tickets where priority = 'P1' and tier = 0") == (0,)
    assert one(
        seeded,
        """select count(*) from ticket_events left join messages using (message_pk)
           where event_type = 'customer_replied' and messages.kind is distinct from 'followup'""",
    ) == (0,)


def test_tiers_and_coverage_look_like_the_policy(seeded: psycopg.Connection) -> None:
    refresh_marts(seeded, mode="full")
    late = one(
        seeded,
        """select sum(resolved_tier_0)::numeric / sum(requests), sum(resolved_tier_3)::numeric / sum(requests)
           from rollup_ticket_daily where account_key = '*' and created_on >= date '2023-07-01'""",
    )
    assert 0.2 < late[0] < 0.45  # Tier 0 grows towards the plan's 25-40%
    assert late[1] < 0.08  # product engineering stays small
    early = one(
        seeded,
        """select sum(resolved_tier_0)::numeric / sum(requests) from rollup_ticket_daily
           where account_key = '*' and created_on < date '2023-02-01'""",
    )
    assert early[0] < late[0]
    coverage = one(
        seeded,
        "select sum(actionable_with_ticket)::numeric / sum(actionable) from rollup_intake_daily where account_key = '*'",
    )
    assert 0.9 < coverage[0] < 1


def test_every_card_has_data_on_the_seeded_history(seeded: psycopg.Connection) -> None:
    refresh_marts(seeded, mode="full")
    empty = []
    for dashboard, card in load_definitions().cards():
        query, params = render_sql(card.sql)
        if not seeded.execute(query, params).fetchall():
            empty.append(f"{dashboard.key}/{card.key}")
    assert empty == []


def test_same_seed_same_history_and_indexes_come_back(db: psycopg.Connection) -> None:
    indexes = db.execute("select indexname from pg_indexes where tablename = 'ticket_events' order by 1").fetchall()
    with db.transaction(force_rollback=True):
        seed_history(db, tickets=300, seed=3, start=START, years=0.5)
        first = fingerprint(db)
        assert (
            db.execute("select indexname from pg_indexes where tablename = 'ticket_events' order by 1").fetchall()
            == indexes
        )
    with db.transaction(force_rollback=True):
        seed_history(db, tickets=300, seed=3, start=START, years=0.5)
        assert fingerprint(db) == first
    with db.transaction(force_rollback=True):
        seed_history(db, tickets=300, seed=4, start=START, years=0.5)
        assert fingerprint(db) != first


def test_seeding_twice_adds_to_the_history(seeded: psycopg.Connection) -> None:
    seed_history(seeded, tickets=100, seed=8, start=START, years=0.25)
    assert one(seeded, "select count(*), count(distinct ticket_id) from tickets") == (TICKETS + 100, TICKETS + 100)
