"""Refresh the rollup tables the dashboards read (migration 008) from the marts in sql/views.

One refresh, in one transaction (so readers see the old snapshot or the new one, never half):
1. policy settings and the business calendar from config/policy.yaml (`calendar.ensure_calendar`);
2. `rollup_ticket_facts` from `fct_tickets`: all tickets (mode "full", the first refresh, or when the
   calendar was rewritten) or only the tickets whose history may have changed since the last refresh
   (mode "incremental"): events, ticket rows, drafts or LLM calls recorded since the last watermark
   minus `WATERMARK_OVERLAP` (a transaction that started earlier may commit later), plus every ticket
   whose SLA clock was still running (its outcome changes with time alone);
3. the targets (`targets.write_policy_targets`; the resolution-time baseline reads the new snapshot);
4. every aggregate rollup, rewritten whole from its mart view (they are small: days x a few dimensions);
5. a `mart_refreshes` row with the watermark and row counts.
Two refreshes never interleave: the transaction takes an advisory lock first.

Failures are all ours (database errors, a rollup table whose columns its view lacks): they raise, the
transaction rolls back, the previous snapshot stays, and the flow retries.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import psycopg
from psycopg import sql

from backend.marts.calendar import CalendarReport, ensure_calendar
from backend.marts.targets import (
    PlanTargets,
    load_plan_targets,
    program_start,
    write_policy_settings,
    write_policy_targets,
)
from backend.policy.model import Policy, load_policy

RefreshMode = Literal["incremental", "full"]

WATERMARK_OVERLAP = timedelta(minutes=15)
_LOCK_KEY = "tier0.refresh_marts"


class RefreshError(Exception):
    """Our failure: a rollup table and its mart view disagree on columns."""


@dataclass(frozen=True)
class Rollup:
    table: str
    view: str


TICKET_FACTS = Rollup("rollup_ticket_facts", "fct_tickets")
AGGREGATES: tuple[Rollup, ...] = (
    Rollup("rollup_ticket_daily", "mart_ticket_daily"),
    Rollup("rollup_resolution_times", "mart_resolution_times"),
    Rollup("rollup_escalation_paths", "mart_escalation_paths"),
    Rollup("rollup_intake_daily", "mart_intake_daily"),
    Rollup("rollup_llm_cost_daily", "mart_llm_cost_daily"),
    Rollup("rollup_mail_freshness_daily", "mart_mail_freshness_daily"),
)
# Columns a rollup keeps for itself (filled by its default), not copied from the view.
_OWN_COLUMNS = frozenset({"refreshed_at"})


@dataclass(frozen=True)
class RefreshReport:
    mode: RefreshMode
    tickets_refreshed: int
    row_counts: dict[str, int]
    calendar: CalendarReport
    seconds: float
    watermark_at: datetime
    timings: dict[str, float] = field(default_factory=dict)


def _columns(conn: psycopg.Connection, relation: str) -> list[str]:
    rows = conn.execute(
        """select attname from pg_attribute
           where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum""",
        (relation,),
    ).fetchall()
    return [str(name) for (name,) in rows]


def copy_columns(conn: psycopg.Connection, rollup: Rollup) -> list[str]:
    """The rollup's columns, which its view must all have (checked, so a drift fails loudly)."""
    wanted = [name for name in _columns(conn, rollup.table) if name not in _OWN_COLUMNS]
    missing = sorted(set(wanted) - set(_columns(conn, rollup.view)))
    if missing:
        raise RefreshError(f"{rollup.view} lacks columns of {rollup.table}: {', '.join(missing)}")
    return wanted


def primary_key(conn: psycopg.Connection, table: str) -> list[str]:
    rows = conn.execute(
        """select attribute.attname
           from pg_index as index_
           cross join lateral unnest(index_.indkey) with ordinality as keys (attnum, position)
           join pg_attribute as attribute on attribute.attrelid = index_.indrelid and attribute.attnum = keys.attnum
           where index_.indrelid = %s::regclass and index_.indisprimary
           order by keys.position""",
        (table,),
    ).fetchall()
    return [str(name) for (name,) in rows]


def _insert_from_view(
    conn: psycopg.Connection,
    rollup: Rollup,
    where: sql.Composable | None = None,
    params: dict[str, object] | None = None,
    *,
    in_key_order: bool = False,
) -> int:
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in copy_columns(conn, rollup))
    statement = sql.SQL("insert into {table} ({columns}) select {columns} from {view}").format(
        table=sql.Identifier(rollup.table), columns=columns, view=sql.Identifier(rollup.view)
    )
    if where is not None:
        statement = sql.SQL("{} where {}").format(statement, where)
    if in_key_order:
        # Rows written in primary-key order sit together on disk: the few '*' (all accounts) rows a card
        # reads fill a few hundred pages instead of one row on each of thousands of pages.
        key = sql.SQL(", ").join(sql.Identifier(name) for name in primary_key(conn, rollup.table))
        statement = sql.SQL("{} order by {}").format(statement, key)
    return conn.execute(statement, params).rowcount


def _last_watermark(conn: psycopg.Connection) -> datetime | None:
    row = conn.execute("select watermark_at from mart_refreshes order by refresh_id desc limit 1").fetchone()
    return row[0] if row else None


def _changed_ticket_ids(conn: psycopg.Connection, since: datetime) -> list[int]:
    rows = conn.execute(
        """
        select ticket_id from ticket_events where recorded_at >= %(since)s
        union
        select ticket_id from tickets where updated_at >= %(since)s
        union
        select ticket_id from drafts where greatest(created_at, decided_at, sent_at) >= %(since)s
        union
        select links.ticket_id
        from llm_call_tickets as links
        inner join llm_calls as calls on calls.llm_call_id = links.llm_call_id
        where calls.recorded_at >= %(since)s
        union
        select ticket_id from rollup_ticket_facts where first_response_sla = 'open' or resolution_sla = 'open'
        """,
        {"since": since},
    ).fetchall()
    return [int(ticket_id) for (ticket_id,) in rows]


def refresh_marts(
    conn: psycopg.Connection,
    *,
    policy: Policy | None = None,
    plan: PlanTargets | None = None,
    mode: RefreshMode = "incremental",
    today: date | None = None,
) -> RefreshReport:
    """Refresh policy settings, the calendar, the ticket snapshot, targets and aggregate rollups."""
    policy = policy or load_policy()
    plan = plan or load_plan_targets()
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(step: str, since: float) -> float:
        now = time.perf_counter()
        timings[step] = round(now - since, 3)
        return now

    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (_LOCK_KEY,))
        clock_row = conn.execute("select now(), current_date").fetchone()
        assert clock_row is not None
        watermark_at, db_today = clock_row
        today = today or db_today
        start = program_start(conn, plan, today)
        write_policy_settings(conn, policy, start)
        calendar = ensure_calendar(conn, policy.business_hours, today=today)
        step = lap("calendar", started)

        previous = _last_watermark(conn)
        effective: RefreshMode = mode
        if previous is None or calendar.rewritten:
            effective = "full"
        if effective == "full":
            conn.execute("truncate rollup_ticket_facts")
            tickets_refreshed = _insert_from_view(conn, TICKET_FACTS)
        else:
            assert previous is not None
            changed = _changed_ticket_ids(conn, previous - WATERMARK_OVERLAP)
            conn.execute("delete from rollup_ticket_facts where ticket_id = any(%s)", (changed,))
            tickets_refreshed = _insert_from_view(
                conn, TICKET_FACTS, sql.SQL("ticket_id = any(%(changed)s)"), {"changed": changed}
            )
        step = lap("ticket_facts", step)

        write_policy_targets(conn, policy, plan, start)
        step = lap("targets", step)

        row_counts: dict[str, int] = {}
        for rollup in AGGREGATES:
            conn.execute(sql.SQL("truncate {}").format(sql.Identifier(rollup.table)))
            row_counts[rollup.table] = _insert_from_view(conn, rollup, in_key_order=True)
            step = lap(rollup.table, step)
        total = conn.execute("select count(*) from rollup_ticket_facts").fetchone()
        row_counts[TICKET_FACTS.table] = int(total[0]) if total else 0

        conn.execute(
            """insert into mart_refreshes (mode, started_at, finished_at, watermark_at, tickets_refreshed, row_counts)
               values (%s, %s, clock_timestamp(), %s, %s, %s::jsonb)""",
            (effective, watermark_at, watermark_at, tickets_refreshed, json.dumps(row_counts, sort_keys=True)),
        )
    return RefreshReport(
        mode=effective,
        tickets_refreshed=tickets_refreshed,
        row_counts=row_counts,
        calendar=calendar,
        seconds=round(time.perf_counter() - started, 3),
        watermark_at=watermark_at.astimezone(UTC),
        timings=timings,
    )


def refresh_database(mode: RefreshMode = "incremental") -> RefreshReport:
    """What `tier0 marts refresh [--full]` calls: refresh the application database's marts."""
    from backend.db.server import connect

    with connect(autocommit=True) as conn:
        return refresh_marts(conn, mode=mode)
