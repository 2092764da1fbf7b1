"""Seed a realistic support history straight in SQL: accounts, contacts, conversations, emails (small raw
bodies), tickets and their event histories, drafts, LLM calls and mailbox freshness checks, over a span
of years, deterministic for a given seed.

Speed: every table is filled by a few `insert ... select` statements over `generate_series`, with
pseudo-random draws from `hashint8extended(row number, salt)` (deterministic, no per-row round trips);
business-hour arithmetic uses the SQL business calendar (migration 008, filled from the policy first).
Into an empty database the secondary indexes of the big tables are dropped for the load and rebuilt
after it (sorting once is much faster than maintaining them row by row); constraints stay on.

What the history looks like (the dashboards should have something to say):
- volume grows over the span (daily density doubles from start to end), fewer requests at weekends and
  outside business hours, some accounts write much more than others;
- categories and product areas in realistic proportions; priority from the policy's category defaults,
  one level higher for about one request in eight; a P1 never stays at Tier 0;
- tiers follow the policy's category defaults; Tier 0 (how_to, account_access) takes a growing share as
  the knowledge base grows: about 15% of its candidates in the first month to all of them after a year;
- Tier-0 drafts are approved (some edited), auto-sent (more over time) or rejected and escalated to ops;
  OPS escalates some to support engineering, which escalates some to product engineering;
- tier-2 requests are sometimes routed to the wrong support-engineering queue and moved (a mis-route),
  less often over time;
- first responses and resolutions take log-normal business time per tier (P1: wall clock), getting about
  a third faster over the span; SLA due times follow the policy's targets, and breaches get events;
- requests still unresolved at the end of the history stay open (some waiting on the customer).

The statements live in backend/seed/sql/ (one per file, in the order `seed_history` runs them).
Failures are ours (database errors raise; the caller's transaction rolls back).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from backend.marts.calendar import ensure_calendar
from backend.policy.model import Policy, load_policy

SQL_DIR = Path(__file__).with_name("sql")
MAILBOX = "support@seed.example"
TIMEZONES = (
    ("America/New_York", 0.35),
    ("America/Chicago", 0.30),
    ("America/Denver", 0.10),
    ("America/Los_Angeles", 0.18),
    ("America/Phoenix", 0.03),
    ("America/Detroit", 0.02),
    ("Pacific/Honolulu", 0.01),
    ("America/Anchorage", 0.01),
)
# Tables whose secondary indexes are rebuilt after a load into an empty database.
_BULK_TABLES = ("ticket_events", "messages", "tickets", "conversations", "llm_calls", "llm_call_tickets", "drafts")


@dataclass(frozen=True)
class SeedReport:
    tickets: int
    events: int
    messages: int
    accounts: int
    drafts: int
    llm_calls: int
    start: date
    end: datetime
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def _timezone_case(column: str) -> str:
    """A SQL case choosing a timezone from the uniform draw `column` with the TIMEZONES weights."""
    cumulative, parts = 0.0, []
    for name, weight in TIMEZONES[:-1]:
        cumulative += weight
        parts.append(f"when {column} < {cumulative:.4f} then '{name}'")
    return f"case {' '.join(parts)} else '{TIMEZONES[-1][0]}' end"


@contextmanager
def _indexes_rebuilt_after(conn: psycopg.Connection, *, when: bool) -> Iterator[None]:
    """Drop the secondary (non-constraint) indexes of the bulk tables, and create them again after."""
    if not when:
        yield
        return
    rows = conn.execute(
        """select indexes.indexrelid::regclass::text, pg_get_indexdef(indexes.indexrelid)
           from pg_index as indexes
           join pg_class as tables on tables.oid = indexes.indrelid
           where tables.relname = any(%s) and tables.relnamespace = current_schema()::regnamespace
             and not exists (select 1 from pg_constraint where conindid = indexes.indexrelid)""",
        (list(_BULK_TABLES),),
    ).fetchall()
    for name, _ in rows:
        conn.execute(sql.SQL("drop index {}").format(sql.Identifier(name)))
    yield
    for _, definition in rows:
        conn.execute(definition)  # a definition Postgres itself printed (pg_get_indexdef)


def _max_id(conn: psycopg.Connection, table: str, column: str) -> int:
    row = conn.execute(
        sql.SQL("select coalesce(max({}), 0) from {}").format(sql.Identifier(column), sql.Identifier(table))
    ).fetchone()
    return int(row[0]) if row else 0


def _advance_identity(conn: psycopg.Connection, table: str, column: str) -> None:
    conn.execute(
        sql.SQL(
            "select setval(pg_get_serial_sequence(%s, %s), greatest(coalesce(max({column}), 0), 1)) from {table}"
        ).format(column=sql.Identifier(column), table=sql.Identifier(table)),
        (table, column),
    )


def seed_history(
    conn: psycopg.Connection,
    *,
    tickets: int,
    seed: int = 0,
    start: date | None = None,
    years: float = 2,
    accounts: int | None = None,
    policy: Policy | None = None,
) -> SeedReport:
    """Write `tickets` tickets of history from `start` (default: `years` before today) over `years`."""
    if tickets < 1:
        raise ValueError("tickets must be at least 1")
    policy = policy or load_policy()
    start = start or (datetime.now(UTC).date() - timedelta(days=round(365 * years)))
    span_days = max(1, round(365 * years))
    history_end = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(days=span_days)
    account_count = accounts or max(20, min(400, tickets // 2500))
    began = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(step: str, since: float) -> float:
        now = time.perf_counter()
        timings[step] = round(now - since, 2)
        return now

    with conn.transaction():
        empty = conn.execute("select not exists (select 1 from ticket_events)").fetchone() == (True,)
        ensure_calendar(
            conn,
            policy.business_hours,
            extra_timezones=[name for name, _ in TIMEZONES],
            covering=(start - timedelta(days=7), history_end.date() + timedelta(days=120)),
        )
        step = lap("calendar", began)
        params = {
            "seed": seed,
            "tickets": tickets,
            "accounts": account_count,
            "span_days": span_days,
            "start_date": start,
            "history_end": history_end,
            "ticket_base": _max_id(conn, "tickets", "ticket_id"),
            "message_base": _max_id(conn, "messages", "message_pk"),
            "conversation_base": _max_id(conn, "conversations", "conversation_id"),
            "draft_base": _max_id(conn, "drafts", "draft_id"),
            "llm_base": _max_id(conn, "llm_calls", "llm_call_id"),
        }
        _create_functions(conn, seed)
        _write_accounts(conn, params)
        step = lap("accounts", step)
        _plan_tickets(conn, params)
        conn.execute("analyze seed_tickets")  # temporary tables get no statistics otherwise: bad join plans
        step = lap("plan", step)
        _time_tickets(conn, params)
        conn.execute("analyze seed_timed")
        step = lap("timing", step)
        with _indexes_rebuilt_after(conn, when=empty):
            _write_messages(conn, params)
            step = lap("messages", step)
            _write_tickets(conn, params)
            step = lap("tickets", step)
            events = _write_events(conn, params)
            step = lap("events", step)
            drafts, calls = _write_drafts_and_llm_calls(conn, params)
            step = lap("drafts_and_llm_calls", step)
        step = lap("indexes", step)
        _write_freshness_checks(conn, params)
        for table, column in (
            ("tickets", "ticket_id"),
            ("messages", "message_pk"),
            ("conversations", "conversation_id"),
            ("drafts", "draft_id"),
            ("llm_calls", "llm_call_id"),
        ):
            _advance_identity(conn, table, column)
        messages = conn.execute("select count(*) from seed_messages").fetchone()
        conn.execute("drop table seed_tickets, seed_timed, seed_messages")
        lap("finish", step)
    for table in ("tickets", "ticket_events", "messages", "conversations", "drafts", "llm_calls", "llm_call_tickets"):
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier(table)))
    return SeedReport(
        tickets=tickets,
        events=events,
        messages=int(messages[0]) if messages else 0,
        accounts=account_count,
        drafts=drafts,
        llm_calls=calls,
        start=start,
        end=history_end,
        seconds=round(time.perf_counter() - began, 2),
        timings=timings,
    )


def _statement(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def _run(conn: psycopg.Connection, name: str, params: dict[str, object] | None = None) -> int:
    """Run backend/seed/sql/<name>.sql (a statement of this repository) and return its row count."""
    return conn.execute(_statement(name), params).rowcount


def _create_functions(conn: psycopg.Connection, seed: int) -> None:
    # Uniform draws in [0, 1): 53 bits of a seeded 64-bit hash of (row number, salt).
    conn.execute(
        sql.SQL(
            """create or replace function pg_temp.seed_u(k bigint, salt integer) returns double precision
               language sql immutable parallel safe as $$
                   select ((hashint8extended(k, salt::bigint * 1000003 + {seed}) >> 11) & 9007199254740991)
                       ::double precision / 9007199254740992
               $$"""
        ).format(seed=sql.Literal(seed))
    )
    _run(conn, "seed_lognormal")


def _write_accounts(conn: psycopg.Connection, params: dict[str, object]) -> None:
    timezone = sql.SQL(_timezone_case("pg_temp.seed_u(number, 901)"))  # built from this module's constants
    conn.execute(sql.SQL(_statement("accounts")).format(timezone=timezone), params)
    _run(conn, "account_domains", params)
    _run(conn, "contacts", params)


def _plan_tickets(conn: psycopg.Connection, params: dict[str, object]) -> None:
    """seed_tickets: one row per ticket with everything decided except instants."""
    _run(conn, "plan_tickets", params)


def _time_tickets(conn: psycopg.Connection, params: dict[str, object]) -> None:
    """seed_timed: routes, instants and SLA due times."""
    _run(conn, "time_tickets", params)


def _write_messages(conn: psycopg.Connection, params: dict[str, object]) -> None:
    """Conversations and emails: one per ticket email, follow-ups, automated and not-actionable mail, failures."""
    _run(conn, "seed_messages", params)
    conn.execute("analyze seed_messages")
    _run(conn, "conversations")
    _run(conn, "messages", {**params, "mailbox": MAILBOX})


def _write_tickets(conn: psycopg.Connection, params: dict[str, object]) -> None:
    _run(conn, "tickets", params)


def _write_events(conn: psycopg.Connection, params: dict[str, object]) -> int:
    return _run(conn, "ticket_events", params) + _run(conn, "internal_notes", params)


def _write_drafts_and_llm_calls(conn: psycopg.Connection, params: dict[str, object]) -> tuple[int, int]:
    drafts = _run(conn, "drafts", params)
    calls = _run(conn, "llm_calls", params)
    _run(conn, "llm_call_tickets", params)
    return drafts, calls


def _write_freshness_checks(conn: psycopg.Connection, params: dict[str, object]) -> None:
    _run(conn, "freshness_checks", {**params, "mailbox": MAILBOX})
