"""Business time in one IANA timezone: when a team is open, and arithmetic on open time.

A `BusinessCalendar` combines the weekly hours and holiday rules of a `BusinessHoursConfig` with a
timezone (the customer's, per POLICY.md "business hours, in the customer's timezone"). It answers
which days are holidays (a holiday's own date and, with `observe_weekend_holidays`, its observed
weekday: Saturday -> the Friday before, Sunday -> the Monday after, as for US federal holidays,
5 U.S.C. 6103(b)), iterates the open intervals between two instants, adds business time to an instant
and measures the business time between two instants.

Rules of time:
- Opening hours are local wall-clock times. The day's window is [opening, closing): from the earliest
  instant the local clock reads the opening time to the earliest instant it reads the closing time.
  When a DST change skips that wall time (a gap, e.g. 02:30 on a spring-forward Sunday), the window
  edge is the end of the gap (the clock passes 02:30 the moment it jumps to 03:00); when the wall time
  occurs twice (a fold), the first occurrence counts. A window the change reduces to nothing is
  skipped. So no day crashes and windows never overlap.
- All arithmetic runs on UTC instants. Subtracting two aware datetimes that share one tzinfo object
  gives the wall-clock difference (Python's datetime rules, PEP 495), which is wrong across a DST
  change; converting to UTC first avoids that.
- `add_business_time(start, d)` is the earliest instant by which `d` of open time has elapsed since
  `start`. A start outside business hours therefore begins at the next opening, and a budget that
  ends exactly at a closing time is due at that closing, not at the next opening. A zero duration
  is due at `start` itself.

Inputs must be timezone-aware datetimes; a naive one raises `NaiveDatetimeError` (a caller's bug:
ours). Outputs are aware datetimes in the calendar's timezone. There are no "sender" failures here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend.sla.config import BusinessHoursConfig

# If this many consecutive days have no open window, the configuration can never run a business
# clock out (e.g. holiday rules covering every open weekday): raise instead of looping forever.
_MAX_CLOSED_DAYS = 800

Interval = tuple[datetime, datetime]


class NaiveDatetimeError(ValueError):
    """A datetime without a timezone was passed where an instant is needed."""


class CalendarError(RuntimeError):
    """The calendar has no business hours in a very long stretch, so a business clock cannot run."""


def require_aware(value: datetime, name: str) -> datetime:
    """`value` as a UTC instant; naive datetimes are refused because their instant is unknowable."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name} {value.isoformat()} has no timezone: pass an aware datetime "
            "(e.g. 2026-11-25T16:30:00-06:00, or tzinfo=ZoneInfo('America/Chicago'))"
        )
    return value.astimezone(UTC)


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"timezone {name!r} is not an IANA timezone (e.g. America/Chicago)") from error


class BusinessCalendar:
    """Open hours of `hours` (weekly hours minus holidays) in `timezone` (default: its default_timezone)."""

    def __init__(self, hours: BusinessHoursConfig, timezone: str | None = None) -> None:
        self.hours = hours
        self.timezone_name = timezone if timezone is not None else hours.default_timezone
        self.zone = zone_named(self.timezone_name)
        self._holidays_by_year: dict[int, dict[date, str]] = {}
        self._window_of: Callable[[date], Interval | None] = functools.lru_cache(maxsize=4096)(self._compute_window)

    def __repr__(self) -> str:
        return f"BusinessCalendar(timezone={self.timezone_name!r})"

    # --- holidays ---------------------------------------------------------------------------

    def _holidays_from_rules_of(self, year: int) -> dict[date, str]:
        """Dates closed because of the rules' `year` occurrences; observed dates may fall in the
        neighbouring year (New Year's Day on a Saturday is observed on December 31 before it)."""
        closed: dict[date, str] = {}

        def close(day: date, name: str) -> None:
            closed[day] = f"{closed[day]} / {name}" if day in closed else name

        for rule in self.hours.holidays:
            own = rule.date_in(year)
            if own is None:
                continue
            close(own, rule.name)
            if self.hours.observe_weekend_holidays and own.weekday() in (5, 6):
                observed = own - timedelta(days=1) if own.weekday() == 5 else own + timedelta(days=1)
                close(observed, f"{rule.name} (observed)")
        return closed

    def holidays(self, year: int) -> dict[date, str]:
        """Every closed holiday date in calendar `year` (own and observed dates), in date order."""
        if year not in self._holidays_by_year:
            found: dict[date, str] = {}
            for rule_year in (year - 1, year, year + 1):
                for day, name in self._holidays_from_rules_of(rule_year).items():
                    if day.year == year:
                        found[day] = f"{found[day]} / {name}" if day in found else name
            self._holidays_by_year[year] = dict(sorted(found.items()))
        return self._holidays_by_year[year]

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays(day.year)

    # --- daily windows ------------------------------------------------------------------------

    def _earliest_instant_reading(self, day: date, minute: int) -> datetime:
        """The earliest UTC instant at which the local clock reads `day` + `minute` minutes."""
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)
        first = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        if first.astimezone(self.zone).replace(tzinfo=None) == wall:
            return first  # the wall time exists; with fold=0, its first occurrence
        # A gap: the clock jumps over `wall`. With fold=1 zoneinfo applies the offset after the jump,
        # giving an instant before it; fold=0 gives one after it (PEP 495). The jump lies between;
        # find the first whole second whose local reading is at or past `wall`.
        before = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        low, high = 0, int((first - before).total_seconds())
        while high - low > 1:
            middle = (low + high) // 2
            reading = (before + timedelta(seconds=middle)).astimezone(self.zone).replace(tzinfo=None)
            if reading >= wall:
                high = middle
            else:
                low = middle
        return before + timedelta(seconds=high)

    def _compute_window(self, day: date) -> Interval | None:
        day_hours = self.hours.weekly.for_weekday(day.weekday())
        if day_hours is None or self.is_holiday(day):
            return None
        opens = self._earliest_instant_reading(day, day_hours.opens_minute)
        closes = self._earliest_instant_reading(day, day_hours.closes_minute)
        if closes <= opens:  # a DST or offset change swallowed the whole window
            return None
        return opens, closes

    def opening_hours(self, day: date) -> Interval | None:
        """The open window of local date `day` as aware local datetimes, or None when closed."""
        window = self._window_of(day)
        if window is None:
            return None
        return window[0].astimezone(self.zone), window[1].astimezone(self.zone)

    def _windows(self, start: datetime, until: datetime | None = None) -> Iterator[Interval]:
        """UTC windows that close after `start`, in order; stops once a day begins at/after `until`."""
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        closed_days = 0
        while True:
            if until is not None and self._earliest_instant_reading(day, 0) >= until:
                return
            window = self._window_of(day)
            if window is None:
                closed_days += 1
                if closed_days > _MAX_CLOSED_DAYS:
                    raise CalendarError(
                        f"no business hours in {_MAX_CLOSED_DAYS} days after {day - timedelta(_MAX_CLOSED_DAYS)} "
                        f"in {self.timezone_name}: check business_hours.weekly and holidays"
                    )
            else:
                closed_days = 0
                if window[1] > start:
                    yield window
            day += timedelta(days=1)

    # --- public arithmetic -------------------------------------------------------------------

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """Open intervals within [start, end), clipped to it, as aware local datetimes, in order.

        One interval per open day (a calendar open 00:00-24:00 yields touching day-long intervals).
        """
        start_utc, end_utc = require_aware(start, "start"), require_aware(end, "end")
        for opens, closes in self._windows(start_utc, until=end_utc):
            begin, finish = max(opens, start_utc), min(closes, end_utc)
            if begin < finish:
                yield begin.astimezone(self.zone), finish.astimezone(self.zone)

    def is_open(self, at: datetime) -> bool:
        """Whether `at` lies in an open window (opening included, closing excluded)."""
        at_utc = require_aware(at, "at")
        local_day = at_utc.astimezone(self.zone).date()
        for day in (local_day - timedelta(days=1), local_day):
            window = self._window_of(day)
            if window is not None and window[0] <= at_utc < window[1]:
                return True
        return False

    def next_open_instant(self, at: datetime) -> datetime:
        """`at` itself when open, else the next opening: where a business clock started at `at` runs from."""
        at_utc = require_aware(at, "at")
        opens, _ = next(self._windows(at_utc))
        return max(opens, at_utc).astimezone(self.zone)

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which `duration` of business time has elapsed since `start`."""
        start_utc = require_aware(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if duration == timedelta(0):
            return start_utc.astimezone(self.zone)
        remaining = duration
        for opens, closes in self._windows(start_utc):
            begin = max(opens, start_utc)
            available = closes - begin
            if available >= remaining:  # `>=`: a budget ending at closing time is due at closing
                return (begin + remaining).astimezone(self.zone)
            remaining -= available
        raise AssertionError("unreachable: _windows is endless or raises CalendarError")

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time in [start, end); negative when end is before start (antisymmetric)."""
        start_utc, end_utc = require_aware(start, "start"), require_aware(end, "end")
        if end_utc < start_utc:
            return -self.business_time_between(end_utc, start_utc)
        total = timedelta(0)
        for opens, closes in self._windows(start_utc, until=end_utc):
            if opens >= end_utc:
                break
            total += min(closes, end_utc) - max(opens, start_utc)
        return total
