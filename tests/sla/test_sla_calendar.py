"""BusinessCalendar: holidays, open intervals, business-time arithmetic, DST gaps and folds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.sla.calendar import BusinessCalendar, CalendarError, NaiveDatetimeError
from backend.sla.config import BusinessHoursConfig
from tests.sla.calendars import US_CLOSED_DATES, hours_config

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")


def chicago(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=CHICAGO)


@pytest.fixture(scope="module")
def calendar(default_hours: BusinessHoursConfig) -> BusinessCalendar:
    return BusinessCalendar(default_hours, "America/Chicago")


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_holidays_match_the_hand_typed_federal_calendar(calendar: BusinessCalendar, year: int) -> None:
    assert set(calendar.holidays(year)) == {day for day in US_CLOSED_DATES if day.year == year}


def test_observed_dates_cross_into_the_neighbouring_year(calendar: BusinessCalendar) -> None:
    # New Year's Day 2022 is a Saturday: observed Friday December 31, 2021.
    assert calendar.holidays(2021)[date(2021, 12, 31)] == "New Year's Day (observed)"
    assert date(2021, 12, 31) not in calendar.holidays(2022)
    assert calendar.holidays(2022)[date(2022, 1, 1)] == "New Year's Day"
    assert calendar.holidays(2026)[date(2026, 7, 3)] == "Independence Day (observed)"
    assert calendar.holidays(2026)[date(2026, 7, 4)] == "Independence Day"


def test_without_observance_only_the_own_date_closes(default_hours: BusinessHoursConfig) -> None:
    literal = BusinessCalendar(default_hours.model_copy(update={"observe_weekend_holidays": False}))
    assert literal.is_holiday(date(2026, 7, 4))
    assert not literal.is_holiday(date(2026, 7, 3))
    assert literal.opening_hours(date(2026, 7, 3)) == (chicago(2026, 7, 3, 8), chicago(2026, 7, 3, 18))


def test_open_intervals_of_the_july_4_2026_week(calendar: BusinessCalendar) -> None:
    intervals = list(calendar.open_intervals(chicago(2026, 6, 30, 12), chicago(2026, 7, 7, 9, 30)))
    assert intervals == [
        (chicago(2026, 6, 30, 12), chicago(2026, 6, 30, 18)),  # Tue, clipped at the start
        (chicago(2026, 7, 1, 8), chicago(2026, 7, 1, 18)),
        (chicago(2026, 7, 2, 8), chicago(2026, 7, 2, 18)),
        # Fri Jul 3 (observed) and Sat Jul 4 (own date) closed, Sun closed
        (chicago(2026, 7, 6, 8), chicago(2026, 7, 6, 18)),
        (chicago(2026, 7, 7, 8), chicago(2026, 7, 7, 9, 30)),  # clipped at the end
    ]
    assert all(start.tzinfo == CHICAGO and end.tzinfo == CHICAGO for start, end in intervals)


def test_open_and_closing_edges(calendar: BusinessCalendar) -> None:
    assert calendar.is_open(chicago(2026, 4, 13, 8))  # opening included
    assert not calendar.is_open(chicago(2026, 4, 13, 18))  # closing excluded
    assert not calendar.is_open(chicago(2026, 4, 13, 7, 59, 59, 999999))
    assert calendar.next_open_instant(chicago(2026, 4, 18, 13)) == chicago(2026, 4, 20, 8)
    assert calendar.next_open_instant(chicago(2026, 4, 13, 9, 15)) == chicago(2026, 4, 13, 9, 15)


def test_budget_ending_at_closing_is_due_at_closing(calendar: BusinessCalendar) -> None:
    assert calendar.add_business_time(chicago(2026, 4, 13, 16), timedelta(hours=2)) == chicago(2026, 4, 13, 18)
    assert calendar.add_business_time(chicago(2026, 4, 13, 16), timedelta(hours=2, microseconds=1)) == chicago(
        2026, 4, 14, 8, 0, 0, 1
    )


def test_zero_budget_is_due_at_start_and_negative_is_refused(calendar: BusinessCalendar) -> None:
    sunday = chicago(2026, 4, 19, 10)
    assert calendar.add_business_time(sunday, timedelta(0)) == sunday
    with pytest.raises(ValueError, match="must not be negative"):
        calendar.add_business_time(sunday, timedelta(seconds=-1))


def test_business_time_between_counts_only_open_time_and_is_antisymmetric(calendar: BusinessCalendar) -> None:
    # Fri Apr 17 17:00 -> Mon Apr 20 09:00: Fri 1 h + Sat 5 h + Mon 1 h.
    start, end = chicago(2026, 4, 17, 17), chicago(2026, 4, 20, 9)
    assert calendar.business_time_between(start, end) == timedelta(hours=7)
    assert calendar.business_time_between(end, start) == -timedelta(hours=7)
    assert calendar.business_time_between(start, start) == timedelta(0)


def test_inputs_in_other_offsets_are_converted_and_outputs_use_the_calendar_zone(calendar: BusinessCalendar) -> None:
    start_utc = datetime(2026, 4, 13, 13, 0, tzinfo=UTC)  # 08:00 CDT
    due = calendar.add_business_time(start_utc, timedelta(hours=1))
    assert due.tzinfo == CHICAGO and due.isoformat() == "2026-04-13T09:00:00-05:00"


def test_naive_datetimes_are_refused_with_a_clear_message(calendar: BusinessCalendar) -> None:
    with pytest.raises(NaiveDatetimeError, match=r"start 2026-04-13T09:00:00 has no timezone"):
        calendar.add_business_time(datetime(2026, 4, 13, 9), timedelta(hours=1))
    with pytest.raises(NaiveDatetimeError, match="end"):
        calendar.business_time_between(chicago(2026, 4, 13, 9), datetime(2026, 4, 13, 10))


def test_unknown_timezone_is_refused(default_hours: BusinessHoursConfig) -> None:
    with pytest.raises(ValueError, match="'Mars/Olympus_Mons' is not an IANA timezone"):
        BusinessCalendar(default_hours, "Mars/Olympus_Mons")


# --- DST: windows whose edges fall in a gap or a fold --------------------------------------------


def test_opening_inside_a_spring_forward_gap_opens_when_the_clock_jumps() -> None:
    # New York, Sun Mar 8 2026: 02:00 EST jumps to 03:00 EDT. Open 02:30-05:00: 02:30 never shows on
    # the clock; the clock passes it at the jump (07:00 UTC = 03:00 EDT). Open time 03:00-05:00 = 2 h.
    sunday = {"sun": ["02:30", "05:00"], **dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat"))}
    cal = BusinessCalendar(hours_config(sunday, timezone="America/New_York"))
    opens, closes = cal.opening_hours(date(2026, 3, 8)) or (None, None)
    assert opens is not None and closes is not None
    assert (opens.isoformat(), closes.isoformat()) == ("2026-03-08T03:00:00-04:00", "2026-03-08T05:00:00-04:00")
    assert cal.business_time_between(datetime(2026, 3, 8, tzinfo=NEW_YORK), datetime(2026, 3, 9, tzinfo=NEW_YORK)) == (
        timedelta(hours=2)
    )
    # A week later (no DST change) the same hours are 2.5 h.
    assert cal.business_time_between(
        datetime(2026, 3, 15, tzinfo=NEW_YORK), datetime(2026, 3, 16, tzinfo=NEW_YORK)
    ) == timedelta(hours=2, minutes=30)


def test_window_entirely_inside_a_gap_is_skipped_not_crashed() -> None:
    sunday = {"sun": ["02:10", "02:50"], **dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat"))}
    cal = BusinessCalendar(hours_config(sunday, timezone="America/New_York"))
    assert cal.opening_hours(date(2026, 3, 8)) is None
    # The clock then runs on the next Sunday's window: 02:10-02:50 EDT on Mar 15.
    due = cal.add_business_time(datetime(2026, 3, 7, 12, tzinfo=NEW_YORK), timedelta(minutes=40))
    assert due.isoformat() == "2026-03-15T02:50:00-04:00"


def test_opening_inside_a_fall_back_fold_uses_the_first_occurrence() -> None:
    # New York, Sun Nov 1 2026: 01:00-02:00 happens twice (EDT, then EST). Open 01:30-03:00 runs from the
    # first 01:30 (05:30 UTC) to 03:00 EST (08:00 UTC): 2.5 h of real time.
    sunday = {"sun": ["01:30", "03:00"], **dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat"))}
    cal = BusinessCalendar(hours_config(sunday, timezone="America/New_York"))
    opens, closes = cal.opening_hours(date(2026, 11, 1)) or (None, None)
    assert opens is not None and closes is not None
    assert (opens.isoformat(), closes.isoformat()) == ("2026-11-01T01:30:00-04:00", "2026-11-01T03:00:00-05:00")
    assert opens.fold == 0
    assert cal.add_business_time(opens, timedelta(hours=1)).isoformat() == "2026-11-01T01:30:00-05:00"


@pytest.mark.parametrize(
    ("zone", "day", "expected_open_hours"),
    [
        ("America/Havana", date(2026, 3, 8), 23),  # midnight 00:00 does not exist: clocks go 00:00 -> 01:00
        ("America/Havana", date(2026, 11, 1), 25),  # 00:00-01:00 happens twice
        ("America/Santiago", date(2026, 9, 6), 23),  # spring forward at midnight
        ("America/Santiago", date(2026, 4, 4), 25),  # 24:00 falls back to 23:00 on Saturday night
        ("America/Chicago", date(2026, 3, 8), 23),
        ("America/Chicago", date(2026, 11, 1), 25),
        ("Pacific/Apia", date(2011, 12, 30), 0),  # Samoa skipped December 30, 2011 entirely
    ],
)
def test_a_24x7_calendar_counts_real_hours_through_transitions(zone: str, day: date, expected_open_hours: int) -> None:
    cal = BusinessCalendar(hours_config(timezone=zone))
    start = datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo(zone))
    # Subtract in UTC: two datetimes sharing one tzinfo subtract as wall-clock readings (PEP 495).
    local_day_open = sum(
        ((end.astimezone(UTC) - begin.astimezone(UTC))
         for begin, end in cal.open_intervals(start, start + timedelta(days=4))
         if begin.date() == day),
        timedelta(0),
    )  # fmt: skip
    assert local_day_open == timedelta(hours=expected_open_hours)
    # ... and business time equals real elapsed time across the change.
    begin = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(zone)) - timedelta(hours=6)
    finish = begin + timedelta(hours=40)
    expected = finish.astimezone(UTC) - begin.astimezone(UTC)
    assert cal.business_time_between(begin, finish) == expected
    assert cal.add_business_time(begin, expected).astimezone(UTC) == finish.astimezone(UTC)


def test_a_calendar_that_can_never_open_raises_instead_of_looping() -> None:
    only_mondays = {"mon": ["08:00", "18:00"], **dict.fromkeys(("tue", "wed", "thu", "fri", "sat", "sun"))}
    every_monday = [
        {"name": f"m{month}n{nth}", "month": month, "weekday": "mon", "nth": nth}
        for month in range(1, 13)
        for nth in (1, 2, 3, 4, -1)
    ]
    cal = BusinessCalendar(hours_config(only_mondays, holidays=every_monday, observe=False))
    with pytest.raises(CalendarError, match="no business hours in 800 days"):
        cal.add_business_time(chicago(2026, 1, 1), timedelta(hours=1))
    # Bounded questions still answer: nothing is open.
    assert cal.business_time_between(chicago(2026, 1, 1), chicago(2026, 3, 1)) == timedelta(0)
