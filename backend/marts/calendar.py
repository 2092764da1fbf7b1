"""The business calendar in SQL: one `business_calendar_days` row per timezone and local date.

Each row holds the day's open window (UTC instants; none on days off and holidays) and the business
seconds elapsed from the calendar's first date up to that day's local midnight. The SQL functions of
migration 008 (`business_clock_seconds`, `business_minutes_between`, `business_add_minutes`) then turn
any instant into business time with one lookup. The windows come from `backend.sla.calendar`
(`BusinessCalendar.opening_hours`), so holidays, observed days and DST gaps follow exactly the rules the
SLA engine uses; nothing about opening hours is decided here.

`ensure_calendar` keeps the table covering what the data needs: every account timezone and the policy's
default timezone, from a week before the first ticket to `horizon_days` after the later of now and the
last ticket. A timezone is rewritten whole when its range must grow or when the policy's business hours
changed (their hash is kept in `policy_settings`), because seconds_before counts from the first date.

Failures: a timezone Python does not know is skipped and reported (its tickets get no business hours);
everything else (database errors) is ours and raises.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg

from backend.sla.calendar import BusinessCalendar, zone_named
from backend.sla.config import BusinessHoursConfig

# Days before the first ticket and after the later of now / the last ticket the calendar covers:
# due times of open tickets lie ahead (a P4 resolution is 10 business days), and a generous margin
# means the range rarely has to be rewritten.
LEAD_DAYS = 7
HORIZON_DAYS = 120

CalendarRow = tuple[str, date, datetime | None, datetime | None, int, int, str | None]


@dataclass(frozen=True)
class CalendarReport:
    rewritten: dict[str, tuple[date, date]] = field(default_factory=dict)  # timezone -> (first, last) date
    skipped_timezones: list[str] = field(default_factory=list)


def hours_fingerprint(hours: BusinessHoursConfig) -> str:
    """A hash of the business-hours section: when it changes, every timezone is rewritten."""
    canonical = json.dumps(hours.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def calendar_rows(hours: BusinessHoursConfig, timezone: str, first: date, last: date) -> Iterator[CalendarRow]:
    """Rows for local dates first..last (inclusive) of `timezone`, cumulative seconds starting at 0."""
    calendar = BusinessCalendar(hours, timezone)
    seconds_before = 0
    day = first
    while day <= last:
        window = calendar.opening_hours(day)
        holiday = calendar.holidays(day.year).get(day)
        if window is None:
            yield (timezone, day, None, None, 0, seconds_before, holiday)
        else:
            opens, closes = (instant.astimezone(UTC) for instant in window)
            open_seconds = round((closes - opens).total_seconds())
            yield (timezone, day, opens, closes, open_seconds, seconds_before, holiday)
            seconds_before += open_seconds
        day += timedelta(days=1)


def write_timezone(conn: psycopg.Connection, hours: BusinessHoursConfig, timezone: str, first: date, last: date) -> int:
    """Replace the calendar of `timezone` with dates first..last; returns the rows written."""
    rows = list(calendar_rows(hours, timezone, first, last))
    conn.execute("delete from business_calendar_days where timezone = %s", (timezone,))
    with conn.cursor().copy(
        "copy business_calendar_days (timezone, local_date, opens_at, closes_at, open_seconds, seconds_before, "
        "holiday_name) from stdin"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    return len(rows)


def _needed_range(conn: psycopg.Connection, today: date) -> tuple[date, date]:
    row = conn.execute(
        "select min(created_at)::date, max(greatest(created_at, resolved_at))::date from tickets"
    ).fetchone()
    first_ticket, last_ticket = (row[0], row[1]) if row else (None, None)
    first = (first_ticket or today) - timedelta(days=LEAD_DAYS)
    last = max(today, last_ticket or today) + timedelta(days=HORIZON_DAYS)
    return first, last


def _timezones(conn: psycopg.Connection, hours: BusinessHoursConfig) -> list[str]:
    found = {str(name) for (name,) in conn.execute("select distinct timezone from accounts").fetchall()}
    return sorted(found | {hours.default_timezone})


def _known_to_python(timezone: str) -> bool:
    try:
        zone_named(timezone)
    except ValueError:
        return False
    return True


def ensure_calendar(
    conn: psycopg.Connection,
    hours: BusinessHoursConfig,
    *,
    today: date | None = None,
    extra_timezones: Iterable[str] = (),
    covering: tuple[date, date] | None = None,
    force: bool = False,
) -> CalendarReport:
    """Make business_calendar_days cover every timezone and date the data needs (see the module doc),
    and at least the dates `covering` (first, last) when given."""
    today = today or datetime.now(UTC).date()
    first, last = _needed_range(conn, today)
    if covering is not None:
        first, last = min(first, covering[0]), max(last, covering[1])
    fingerprint = hours_fingerprint(hours)
    stored = conn.execute("select value from policy_settings where setting = 'business_hours_sha256'").fetchone()
    if stored is None or stored[0] != fingerprint:
        force = True
    covered = {
        str(timezone): (start, end)
        for timezone, start, end in conn.execute(
            "select timezone, min(local_date), max(local_date) from business_calendar_days group by timezone"
        ).fetchall()
    }
    report = CalendarReport()
    for timezone in sorted(set(_timezones(conn, hours)) | set(extra_timezones)):
        if not _known_to_python(timezone):
            report.skipped_timezones.append(timezone)
            continue
        have = covered.get(timezone)
        if not force and have is not None and have[0] <= first and have[1] >= last:
            continue
        start = min(first, have[0]) if have and not force else first
        end = max(last, have[1]) if have and not force else last
        write_timezone(conn, hours, timezone, start, end)
        report.rewritten[timezone] = (start, end)
    conn.execute(
        """insert into policy_settings (setting, value, source)
           values ('business_hours_sha256', %s, 'config/policy.yaml')
           on conflict (setting) do update set value = excluded.value, loaded_at = now()""",
        (fingerprint,),
    )
    return report
