"""due_times and sla_state: budgets per priority, pauses, and the states a scheduled flow reads."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.sla.calendar import NaiveDatetimeError
from backend.sla.clock import due_times, sla_state
from backend.sla.config import BusinessHoursConfig, SlaConfig, UnknownPriorityError

CHICAGO = ZoneInfo("America/Chicago")
ZONE = "America/Chicago"


def chicago(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=CHICAGO)


# The P3 example of the CLI contract: Wed 2026-11-25 16:30, Thanksgiving closed; first response due
# Fri 10:30 (1.5 h Wed + 2.5 h Fri), resolution due Tue Dec 1 11:30.
CREATED = chicago(2026, 11, 25, 16, 30)


@pytest.mark.parametrize(
    ("at", "elapsed", "state"),
    [
        (chicago(2026, 11, 25, 17, 0), timedelta(minutes=30), "ok"),
        (chicago(2026, 11, 26, 12, 0), timedelta(hours=1.5), "ok"),  # Thanksgiving: the clock stands still
        (chicago(2026, 11, 27, 9, 29), timedelta(hours=2, minutes=59), "ok"),  # 2 h 59 of 4 h = 74.6%
        (chicago(2026, 11, 27, 9, 30), timedelta(hours=3), "warning"),  # exactly 75%
        (chicago(2026, 11, 27, 10, 29), timedelta(hours=3, minutes=59), "warning"),
        (chicago(2026, 11, 27, 10, 30), timedelta(hours=4), "breached"),  # the due instant: 100%
        # keeps counting past 100%: Wed 1.5 + Fri 10 + Sat 5 + Mon 1 = 17.5 h
        (chicago(2026, 11, 30, 9, 0), timedelta(hours=17.5), "breached"),
    ],
)
def test_first_response_state_over_time(
    at: datetime, elapsed: timedelta, state: str, default_sla: SlaConfig, default_hours: BusinessHoursConfig
) -> None:
    status = sla_state("P3", CREATED, ZONE, default_sla, default_hours, at).first_response
    assert (status.elapsed, status.state) == (elapsed, state)
    assert status.budget == timedelta(hours=4)
    assert status.fraction == elapsed / timedelta(hours=4)
    assert status.due == chicago(2026, 11, 27, 10, 30)


def test_response_within_budget_is_met_and_late_response_is_breached(
    default_sla: SlaConfig, default_hours: BusinessHoursConfig
) -> None:
    later = chicago(2026, 12, 10, 12)
    on_time = sla_state(
        "P3", CREATED, ZONE, default_sla, default_hours, later, first_responded_at=chicago(2026, 11, 27, 10)
    )
    assert (on_time.first_response.state, on_time.first_response.elapsed) == ("met", timedelta(hours=3.5))
    at_due = sla_state(
        "P3", CREATED, ZONE, default_sla, default_hours, later, first_responded_at=chicago(2026, 11, 27, 10, 30)
    )
    assert at_due.first_response.state == "met"  # answered at the due instant: within budget
    late = sla_state(
        "P3", CREATED, ZONE, default_sla, default_hours, later, first_responded_at=chicago(2026, 11, 27, 11)
    )
    assert (late.first_response.state, late.first_response.elapsed) == ("breached", timedelta(hours=4.5))
    # The resolution clock is independent: 30 h ran out Tue Dec 1 11:30.
    assert late.resolution.state == "breached" and late.resolution.due == chicago(2026, 12, 1, 11, 30)


def test_a_completion_after_the_instant_asked_about_has_not_happened_yet(
    default_sla: SlaConfig, default_hours: BusinessHoursConfig
) -> None:
    status = sla_state(
        "P3", CREATED, ZONE, default_sla, default_hours, chicago(2026, 11, 27, 9), resolved_at=chicago(2026, 11, 30, 9)
    )
    assert status.resolution.state == "ok" and status.resolution.elapsed == timedelta(hours=2.5)


def test_open_pause_stops_the_clock_and_hides_the_due_time(
    default_sla: SlaConfig, default_hours: BusinessHoursConfig
) -> None:
    created = chicago(2026, 4, 13, 9)
    pauses = [(chicago(2026, 4, 13, 10, 30), None)]
    status = sla_state("P2", created, ZONE, default_sla, default_hours, chicago(2026, 4, 15, 12), pauses)
    # First response (1 h) ran out at 10:00, before the pause: breached, due known.
    assert (status.first_response.state, status.first_response.due) == ("breached", chicago(2026, 4, 13, 10))
    # Resolution: 1.5 h of 24 h ran, then the clock stopped.
    assert status.resolution.state == "paused"
    assert status.resolution.elapsed == timedelta(hours=1.5)
    assert status.resolution.due is None
    # The customer answers Wed Apr 15 12:00: paused business time Mon 10:30-18:00 (7.5), Tue 10, Wed 8-12 (4).
    # 22.5 h left from Wed 12:00: Wed 6 (16.5), Thu 10 (6.5), Fri Apr 17 08:00+6.5 = 14:30.
    resumed = due_times(
        "P2", created, ZONE, default_sla, default_hours, [(chicago(2026, 4, 13, 10, 30), chicago(2026, 4, 15, 12))]
    )
    assert resumed.resolution_due == chicago(2026, 4, 17, 14, 30)


def test_a_closed_pause_in_progress_reports_paused(default_sla: SlaConfig, default_hours: BusinessHoursConfig) -> None:
    created = chicago(2026, 4, 13, 9)
    pauses = [(chicago(2026, 4, 13, 9, 15), chicago(2026, 4, 14, 9))]
    status = sla_state("P3", created, ZONE, default_sla, default_hours, chicago(2026, 4, 13, 15), pauses)
    assert status.first_response.state == "paused" and status.first_response.elapsed == timedelta(minutes=15)
    after = sla_state("P3", created, ZONE, default_sla, default_hours, chicago(2026, 4, 14, 9, 30), pauses)
    assert after.first_response.state == "ok" and after.first_response.elapsed == timedelta(minutes=45)


def test_pauses_outside_business_hours_change_nothing_for_business_targets(
    default_sla: SlaConfig, default_hours: BusinessHoursConfig
) -> None:
    created = chicago(2026, 4, 17, 15)  # Fri
    plain = due_times("P3", created, ZONE, default_sla, default_hours)
    night_and_sunday = [
        (chicago(2026, 4, 17, 18), chicago(2026, 4, 18, 8)),
        (chicago(2026, 4, 18, 13), chicago(2026, 4, 20, 8)),
    ]
    assert due_times("P3", created, ZONE, default_sla, default_hours, night_and_sunday) == plain
    # ... but a wall-clock target (P1) is extended by every paused minute.
    p1_plain = due_times("P1", created, ZONE, default_sla, default_hours)
    p1_paused = due_times(
        "P1", created, ZONE, default_sla, default_hours, [(chicago(2026, 4, 17, 15, 5), chicago(2026, 4, 17, 16, 5))]
    )
    assert p1_paused.first_response_due == p1_plain.first_response_due + timedelta(hours=1)  # type: ignore[operator]


def test_overlapping_pauses_and_pauses_before_creation_are_merged_and_clipped(
    default_sla: SlaConfig, default_hours: BusinessHoursConfig
) -> None:
    created = chicago(2026, 4, 13, 9)
    union = [(chicago(2026, 4, 13, 9), chicago(2026, 4, 13, 14))]
    pieces = [
        (chicago(2026, 4, 13, 11), chicago(2026, 4, 13, 14)),
        (chicago(2026, 4, 12, 20), chicago(2026, 4, 13, 10)),  # began before the ticket existed
        (chicago(2026, 4, 13, 9, 30), chicago(2026, 4, 13, 12)),
        (chicago(2026, 4, 1), chicago(2026, 4, 2)),  # entirely before creation: ignored
    ]
    assert due_times("P3", created, ZONE, default_sla, default_hours, pieces) == due_times(
        "P3", created, ZONE, default_sla, default_hours, union
    )
    # Business time from Mon 14:00: FR 4 h -> 18:00 (closing).
    assert due_times("P3", created, ZONE, default_sla, default_hours, union).first_response_due == chicago(
        2026, 4, 13, 18
    )


def test_invalid_inputs_fail_loudly(default_sla: SlaConfig, default_hours: BusinessHoursConfig) -> None:
    with pytest.raises(NaiveDatetimeError, match="created_at"):
        due_times("P3", datetime(2026, 4, 13, 9), ZONE, default_sla, default_hours)
    with pytest.raises(NaiveDatetimeError, match=r"pauses\[0\] end"):
        due_times("P3", CREATED, ZONE, default_sla, default_hours, [(CREATED, datetime(2026, 11, 26))])
    with pytest.raises(ValueError, match=r"pauses\[0\] ends .* before it starts"):
        due_times("P3", CREATED, ZONE, default_sla, default_hours, [(CREATED + timedelta(hours=1), CREATED)])
    with pytest.raises(UnknownPriorityError, match="'P0'"):
        due_times("P0", CREATED, ZONE, default_sla, default_hours)
    with pytest.raises(ValueError, match="'Chicago' is not an IANA timezone"):
        due_times("P3", CREATED, "Chicago", default_sla, default_hours)


def test_none_timezone_means_the_policy_default(default_sla: SlaConfig, default_hours: BusinessHoursConfig) -> None:
    assert due_times("P3", CREATED, None, default_sla, default_hours) == due_times(
        "P3", CREATED, "America/Chicago", default_sla, default_hours
    )
