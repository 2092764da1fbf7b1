"""The SQL business clock (migration 008 + backend/marts/calendar.py) against the SLA engine's
BusinessCalendar, which is the reference: same policy, same instants, same answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.marts.calendar import ensure_calendar, write_timezone
from backend.policy.model import load_policy
from backend.sla.calendar import BusinessCalendar

HOURS = load_policy().business_hours
FIRST, LAST = date(2026, 1, 1), date(2026, 12, 31)
ZONES = ("America/Chicago", "America/New_York", "Pacific/Honolulu")


@pytest.fixture
def calendar_db(db: psycopg.Connection) -> psycopg.Connection:
    for zone in ZONES:
        write_timezone(db, HOURS, zone, FIRST, LAST)
    return db


def sql_minutes(conn: psycopg.Connection, zone: str, start: datetime, end: datetime) -> Decimal:
    row = conn.execute("select business_minutes_between(%s, %s, %s)", (zone, start, end)).fetchone()
    assert row is not None
    return Decimal(row[0])


def python_minutes(zone: str, start: datetime, end: datetime) -> Decimal:
    delta = BusinessCalendar(HOURS, zone).business_time_between(start, end)
    return Decimal(delta.total_seconds()) / 60


CASES = [
    # (zone, start, end, expected business minutes, why)
    (
        "America/Chicago",
        "2026-07-02T12:00:00-05:00",
        "2026-07-06T09:00:00-05:00",
        360 + 60,
        "Thu 12-18 (6 h), July 3 (observed) and 4 closed, Sun closed, Mon 08-09 (1 h)",
    ),
    (
        "America/Chicago",
        "2026-03-07T12:00:00-06:00",
        "2026-03-09T09:00:00-05:00",
        60 + 60,
        "Sat 12-13 CST, DST Sunday closed, Mon 08-09 CDT",
    ),
    (
        "America/New_York",
        "2026-10-30T17:00:00-04:00",
        "2026-11-02T08:30:00-05:00",
        60 + 300 + 30,
        "Fri 17-18, Sat 08-13, Sun (DST ends) closed, Mon 08:00-08:30 EST",
    ),
    (
        "America/Chicago",
        "2026-11-26T10:00:00-06:00",
        "2026-11-27T10:00:00-06:00",
        120,
        "Thanksgiving closed, Fri 08-10",
    ),
    ("Pacific/Honolulu", "2026-05-01T07:00:00-10:00", "2026-05-01T19:00:00-10:00", 600, "a whole Friday"),
    ("America/Chicago", "2026-05-03T10:00:00-05:00", "2026-05-03T11:00:00-05:00", 0, "Sunday"),
]


@pytest.mark.parametrize(("zone", "start", "end", "expected", "why"), CASES)
def test_business_minutes_between_known_spans(
    calendar_db: psycopg.Connection, zone: str, start: str, end: str, expected: int, why: str
) -> None:
    begin, finish = datetime.fromisoformat(start), datetime.fromisoformat(end)
    assert sql_minutes(calendar_db, zone, begin, finish) == expected, why
    assert python_minutes(zone, begin, finish) == expected, why
    assert sql_minutes(calendar_db, zone, finish, begin) == -expected


instants = st.datetimes(min_value=datetime(2026, 1, 10), max_value=datetime(2026, 11, 30), timezones=st.just(UTC)).map(
    lambda value: value.replace(microsecond=0)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zone=st.sampled_from(ZONES), start=instants, span_seconds=st.integers(min_value=0, max_value=20 * 24 * 3600))
def test_business_minutes_between_agrees_with_the_sla_engine(
    calendar_db: psycopg.Connection, zone: str, start: datetime, span_seconds: int
) -> None:
    end = start + timedelta(seconds=span_seconds)
    row = calendar_db.execute(
        "select business_clock_seconds(%(zone)s, %(end)s) - business_clock_seconds(%(zone)s, %(start)s)",
        {"zone": zone, "start": start, "end": end},
    ).fetchone()
    assert row is not None
    expected = BusinessCalendar(HOURS, zone).business_time_between(start, end)
    assert row[0] == Decimal(expected.total_seconds())
    assert abs(sql_minutes(calendar_db, zone, start, end) - Decimal(expected.total_seconds()) / 60) < Decimal("1e-9")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zone=st.sampled_from(ZONES), start=instants, budget_minutes=st.integers(min_value=0, max_value=100 * 60))
def test_business_add_minutes_agrees_with_the_sla_engine(
    calendar_db: psycopg.Connection, zone: str, start: datetime, budget_minutes: int
) -> None:
    row = calendar_db.execute("select business_add_minutes(%s, %s, %s)", (zone, start, budget_minutes)).fetchone()
    assert row is not None
    expected = BusinessCalendar(HOURS, zone).add_business_time(start, timedelta(minutes=budget_minutes))
    assert row[0] == expected


def test_budget_ending_at_closing_is_due_at_closing(calendar_db: psycopg.Connection) -> None:
    # Thu 14:00 CDT + 4 business hours = Thu 18:00 (closing), not Fri 08:00 (POLICY.md).
    row = calendar_db.execute(
        "select business_add_minutes('America/Chicago', '2026-05-14T14:00:00-05:00', 240)"
    ).fetchone()
    assert row is not None and row[0] == datetime.fromisoformat("2026-05-14T18:00:00-05:00")


def test_instants_outside_the_calendar_give_null(calendar_db: psycopg.Connection) -> None:
    row = calendar_db.execute(
        "select business_minutes_between('America/Chicago', '2025-06-01T12:00:00Z', '2026-06-01T12:00:00Z'),"
        " business_minutes_between('Europe/Paris', '2026-06-01T12:00:00Z', '2026-06-02T12:00:00Z'),"
        # 100 business hours from Dec 28 run past the calendar's last day (Dec 31): unknown, not a guess.
        " business_add_minutes('America/Chicago', '2026-12-28T12:00:00Z', 6000)"
    ).fetchone()
    assert row == (None, None, None)


def test_ensure_calendar_covers_accounts_and_rewrites_on_policy_change(db: psycopg.Connection) -> None:
    db.execute("insert into accounts (account_id, name, timezone) values ('far', 'Far', 'Pacific/Honolulu')")
    first = ensure_calendar(db, HOURS, today=date(2026, 6, 1))
    assert sorted(first.rewritten) == ["America/Chicago", "Pacific/Honolulu"]
    assert ensure_calendar(db, HOURS, today=date(2026, 6, 1)).rewritten == {}
    # Saturdays closed from now on: every timezone is rewritten and Saturday has no window.
    changed = HOURS.model_copy(update={"weekly": HOURS.weekly.model_copy(update={"sat": None})})
    assert sorted(ensure_calendar(db, changed, today=date(2026, 6, 1)).rewritten) == [
        "America/Chicago",
        "Pacific/Honolulu",
    ]
    row = db.execute(
        "select opens_at from business_calendar_days where timezone = 'America/Chicago' and local_date = '2026-06-06'"
    ).fetchone()
    assert row == (None,)
