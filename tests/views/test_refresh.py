"""The refresh: incremental picks up new history and ends where a full refresh would; drift between a
rollup and its view fails loudly."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest
from psycopg import sql

from backend.marts.refresh import AGGREGATES, TICKET_FACTS, RefreshError, Rollup, copy_columns, refresh_marts


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    tables: dict[str, list[tuple]] = {}  # type: ignore[type-arg]
    for rollup in (TICKET_FACTS, *AGGREGATES):
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in copy_columns(conn, rollup))
        tables[rollup.table] = [
            tuple(row)
            for row in conn.execute(
                sql.SQL("select {c} from {t} order by {c}").format(c=columns, t=sql.Identifier(rollup.table))
            ).fetchall()
        ]
    return tables


def test_incremental_refresh_sees_new_history_like_a_full_one(marts: psycopg.Connection) -> None:
    # Ticket 108 is escalated to tier 2 and resolved there; ticket 106 gets a first reply.
    marts.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, from_tier, to_tier, from_route, to_route)
           values (108, 'escalated', '2024-03-19T14:00:00Z', 1, 2, 'ops', 'support-eng-core'),
                  (108, 'resolved', '2024-03-19T15:00:00Z', null, 2, null, null),
                  (106, 'reply_sent', '2024-03-20T15:00:00Z', null, null, null, null)"""
    )
    marts.execute(
        """update tickets set tier = 2, route = 'support-eng-core', status = 'resolved',
                              resolved_at = '2024-03-19T15:00:00Z', resolved_tier = 2
           where ticket_id = 108"""
    )
    marts.execute("update tickets set first_responded_at = '2024-03-20T15:00:00Z' where ticket_id = 106")
    report = refresh_marts(marts, mode="incremental")
    assert report.mode == "incremental"
    # 106 and 108 have new events (108 also had a running clock); nothing else is recomputed.
    assert report.tickets_refreshed == 2
    facts = marts.execute(
        "select ticket_id, final_tier, resolving_tier, escalation_count, first_response_wall_hours "
        "from rollup_ticket_facts where ticket_id in (106, 108) order by ticket_id"
    ).fetchall()
    assert [row[:4] for row in facts] == [(106, 3, None, 1), (108, 2, 2, 1)]
    incremental = snapshot(marts)
    assert refresh_marts(marts, mode="full").mode == "full"
    assert snapshot(marts) == incremental


def test_a_second_refresh_recomputes_only_running_clocks(marts: psycopg.Connection) -> None:
    report = refresh_marts(marts)
    # Only 108 still has a running (paused) clock; 106's clocks are already breached.
    assert (report.mode, report.tickets_refreshed) == ("incremental", 1)
    last = marts.execute(
        "select mode, tickets_refreshed from mart_refreshes order by refresh_id desc limit 1"
    ).fetchone()
    assert last == ("incremental", 1)


def test_refresh_runs_full_when_nothing_was_refreshed_before(db: psycopg.Connection) -> None:
    assert refresh_marts(db, mode="incremental").mode == "full"


def test_a_rollup_its_view_cannot_fill_is_refused(db: psycopg.Connection) -> None:
    db.execute("create temporary table rollup_drifted (ticket_id bigint, column_the_view_lacks integer)")
    with pytest.raises(RefreshError, match="column_the_view_lacks"):
        copy_columns(db, Rollup("rollup_drifted", "fct_tickets"))


def test_refresh_records_its_watermark(marts: psycopg.Connection) -> None:
    row = marts.execute("select mode, watermark_at, row_counts from mart_refreshes").fetchone()
    assert row is not None
    mode, watermark_at, row_counts = row
    assert mode == "full" and isinstance(watermark_at, datetime)
    assert row_counts["rollup_ticket_facts"] == 8
