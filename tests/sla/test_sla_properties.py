"""Property tests: the laws business-time arithmetic must obey, checked on generated inputs, and a
brute-force minute-by-minute oracle (independent of the calendar code) for the default calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.sla.calendar import BusinessCalendar
from backend.sla.clock import due_times, sla_state
from backend.sla.config import BusinessHoursConfig, SlaConfig
from tests.sla.calendars import US_CLOSED_DATES, hours_config

# Inputs are plentiful but small; `deadline=None` because the machine is shared (no timing asserts).
LAWS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ORACLE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ZONES = [
    "America/Chicago",
    "America/New_York",
    "America/Los_Angeles",
    "America/Phoenix",
    "Pacific/Honolulu",
    "Asia/Kolkata",
    "Europe/London",
    "Australia/Lord_Howe",  # a 30-minute DST shift
]
# Zones whose DST or offset changes fall at midnight, or that skipped a whole day (Apia, 2011).
AWKWARD_ZONES = [*ZONES, "America/Havana", "America/Santiago", "Pacific/Apia"]

instants = st.datetimes(min_value=datetime(2011, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=150))
positive_durations = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(hours=150))


@pytest.fixture(scope="module")
def calendars(default_hours: BusinessHoursConfig) -> dict[str, BusinessCalendar]:
    return {zone: BusinessCalendar(default_hours, zone) for zone in ZONES}


@LAWS
@given(zone=st.sampled_from(ZONES), start=instants, duration=durations)
def test_adding_then_measuring_gives_back_the_duration(
    calendars: dict[str, BusinessCalendar], zone: str, start: datetime, duration: timedelta
) -> None:
    calendar = calendars[zone]
    due = calendar.add_business_time(start, duration)
    assert due >= start
    assert calendar.business_time_between(start, due) == duration


@LAWS
@given(zone=st.sampled_from(ZONES), start=instants, first=durations, second=durations)
def test_adding_is_monotonic_and_adding_in_two_steps_equals_adding_at_once(
    calendars: dict[str, BusinessCalendar], zone: str, start: datetime, first: timedelta, second: timedelta
) -> None:
    calendar = calendars[zone]
    at_once = calendar.add_business_time(start, first + second)
    in_steps = calendar.add_business_time(calendar.add_business_time(start, first), second)
    assert in_steps == at_once
    assert calendar.add_business_time(start, min(first, second)) <= calendar.add_business_time(
        start, max(first, second)
    )


@LAWS
@given(zone=st.sampled_from(ZONES), start=instants, duration=positive_durations)
def test_the_due_instant_is_open_time_or_exactly_a_closing(
    calendars: dict[str, BusinessCalendar], zone: str, start: datetime, duration: timedelta
) -> None:
    calendar = calendars[zone]
    due = calendar.add_business_time(start, duration)
    # The budget's last microsecond was open time; the due instant itself is open, or a closing.
    assert calendar.is_open(due - timedelta(microseconds=1))
    window = calendar.opening_hours(due.date())
    assert calendar.is_open(due) or (window is not None and window[1] == due)


@LAWS
@given(zone=st.sampled_from(AWKWARD_ZONES), start=instants, duration=durations)
def test_a_24x7_calendar_is_the_wall_clock_in_any_zone(zone: str, start: datetime, duration: timedelta) -> None:
    calendar = _always_open(zone)
    assert calendar.add_business_time(start, duration).astimezone(UTC) == start + duration
    assert calendar.business_time_between(start, start + duration) == duration


_ALWAYS_OPEN: dict[str, BusinessCalendar] = {}


def _always_open(zone: str) -> BusinessCalendar:
    if zone not in _ALWAYS_OPEN:
        _ALWAYS_OPEN[zone] = BusinessCalendar(hours_config(timezone=zone))
    return _ALWAYS_OPEN[zone]


pause_lists = st.lists(
    st.tuples(
        st.timedeltas(min_value=timedelta(hours=-24), max_value=timedelta(days=20)),
        st.one_of(st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5))),
    ),
    max_size=4,
)


@LAWS
@given(
    priority=st.sampled_from(["P1", "P2", "P3", "P4"]),
    zone=st.sampled_from(ZONES),
    created=instants,
    raw_pauses=pause_lists,
)
def test_pauses_never_make_a_due_time_earlier(
    default_sla: SlaConfig,
    default_hours: BusinessHoursConfig,
    priority: str,
    zone: str,
    created: datetime,
    raw_pauses: list[tuple[timedelta, timedelta | None]],
) -> None:
    pauses = [
        (created + offset, None if length is None else created + offset + length) for offset, length in raw_pauses
    ]
    plain = due_times(priority, created, zone, default_sla, default_hours)
    paused = due_times(priority, created, zone, default_sla, default_hours, pauses)
    for without, with_pauses in (
        (plain.first_response_due, paused.first_response_due),
        (plain.resolution_due, paused.resolution_due),
    ):
        assert without is not None and without >= created
        assert with_pauses is None or with_pauses >= without
    # Once every pause has ended, both due times are known, and still no earlier than without pauses.
    closed = [(start, end if end is not None else start + timedelta(days=1)) for start, end in pauses]
    resumed = due_times(priority, created, zone, default_sla, default_hours, closed)
    assert resumed.first_response_due is not None and plain.first_response_due is not None
    assert resumed.resolution_due is not None and plain.resolution_due is not None
    assert resumed.first_response_due >= plain.first_response_due
    assert resumed.resolution_due >= plain.resolution_due


@LAWS
@given(priority=st.sampled_from(["P1", "P2", "P3", "P4"]), zone=st.sampled_from(ZONES), created=instants)
def test_the_due_instant_is_where_the_state_turns_breached(
    default_sla: SlaConfig, default_hours: BusinessHoursConfig, priority: str, zone: str, created: datetime
) -> None:
    due = due_times(priority, created, zone, default_sla, default_hours).resolution_due
    assert due is not None
    at_due = sla_state(priority, created, zone, default_sla, default_hours, due).resolution
    just_before = sla_state(
        priority, created, zone, default_sla, default_hours, due - timedelta(microseconds=1)
    ).resolution
    assert (at_due.state, at_due.fraction) == ("breached", 1.0)
    assert just_before.state in ("ok", "warning") and just_before.fraction < 1.0


# --- Brute-force oracle -----------------------------------------------------------------------------
# Independent of BusinessCalendar: walk minute by minute; a minute counts when its local wall time is
# Mon-Fri 08:00-18:00 or Sat 08:00-13:00 and its local date is not in the hand-typed holiday list.

_OPEN_UNTIL = {0: time(18), 1: time(18), 2: time(18), 3: time(18), 4: time(18), 5: time(13)}


def _oracle_open(instant: datetime, zone: ZoneInfo) -> bool:
    local = instant.astimezone(zone)
    closes = _OPEN_UNTIL.get(local.weekday())
    return closes is not None and local.date() not in US_CLOSED_DATES and time(8) <= local.time() < closes


def _oracle_due(created: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    cursor, counted = created, 0
    while counted < minutes:
        if _oracle_open(cursor, zone):
            counted += 1
        cursor += timedelta(minutes=1)
    return cursor


oracle_instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 20), timezones=st.just(UTC)
).map(lambda moment: moment.replace(second=0, microsecond=0))


@ORACLE
@given(zone=st.sampled_from(["America/Chicago", "America/New_York", "America/Los_Angeles", "Asia/Kolkata"]),
       created=oracle_instants, minutes=st.integers(min_value=1, max_value=30 * 60))  # fmt: skip
def test_add_business_time_agrees_with_a_minute_by_minute_oracle(
    calendars: dict[str, BusinessCalendar], zone: str, created: datetime, minutes: int
) -> None:
    expected = _oracle_due(created, minutes, ZoneInfo(zone))
    assert calendars[zone].add_business_time(created, timedelta(minutes=minutes)) == expected


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_oracle_and_calendar_agree_on_every_day_of_the_year(calendars: dict[str, BusinessCalendar], year: int) -> None:
    calendar, zone = calendars["America/Chicago"], ZoneInfo("America/Chicago")
    day = date(year, 1, 1)
    while day.year == year:
        noon = datetime.combine(day, time(12), tzinfo=zone)
        hours = calendar.business_time_between(datetime.combine(day, time(0), tzinfo=zone), noon + timedelta(hours=12))
        expected = (
            0
            if not _oracle_open(datetime.combine(day, time(8), tzinfo=zone), zone)
            else (5 if day.weekday() == 5 else 10)
        )
        assert hours == timedelta(hours=expected), day
        day += timedelta(days=1)
