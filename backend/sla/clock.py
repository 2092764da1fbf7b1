"""A ticket's SLA clocks: when its first response and resolution are due, and how far along they are.

Pure functions of the policy (`SlaConfig`, `BusinessHoursConfig`), the ticket's creation instant and
customer timezone, and its pauses; no database. The pipeline calls `due_times` when it creates a
ticket; a scheduled flow calls `sla_state` to raise warnings (at `sla.warning_at`) and breaches.

Which clock: a target given in `business_hours`/`business_days`, or with `clock: business`, counts
business time in the customer's timezone (`BusinessCalendar`); `clock: wall` counts elapsed real time
(24x7, DST changes included: 4 hours is always 4 real hours). A business day is
`business_hours.business_day_hours` business hours.

Pauses (time waiting on the customer): each is (start, end), end None while still waiting. The clock
does not run inside a pause, so a target's due instant is the earliest instant by which the budget
has run on the clock *outside* pauses. Consequences, all deliberate:
- A closed pause moves the due instant later by the clock time it covered before the due instant
  (paused business hours for business targets, paused wall time for wall-clock targets); pause time
  outside business hours changes nothing for a business target.
- An open pause (end None) that starts before the budget has run out stops the clock: nobody knows
  when the customer will answer, so the due instant is unknown and is returned as None. Store NULL
  and call again with the pause's end once the customer replies. A pause that starts after the budget
  ran out changes nothing: the due instant (and a breach) already happened.
- Pauses may overlap or start before creation; they are clipped to the ticket's life and merged.

Failures are ours (a caller's bug or the policy's gap): naive datetimes (`NaiveDatetimeError`), an
unknown priority (`UnknownPriorityError`), an unknown timezone or a pause ending before it starts
(`ValueError`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from backend.sla.calendar import BusinessCalendar, require_aware
from backend.sla.config import BusinessHoursConfig, SlaConfig, SlaTarget, TargetKind

Pause = tuple[datetime, datetime | None]
ClockState = Literal["ok", "warning", "breached", "met", "paused"]


@dataclass(frozen=True)
class SlaDue:
    """Due instants, aware, in the customer's timezone; None while an open pause stops the clock."""

    first_response_due: datetime | None
    resolution_due: datetime | None


@dataclass(frozen=True)
class ClockStatus:
    """One target's clock at an instant.

    elapsed: clock time consumed (pauses excluded), up to the instant, or up to completion if earlier.
    budget: the target's budget on the same clock. fraction: elapsed / budget (may exceed 1).
    state: met (completed within budget), breached (budget used up, completed or not), paused (an
    open or current pause stops the clock), warning (fraction >= warning_at), else ok.
    due: as `SlaDue` (None while paused).
    """

    elapsed: timedelta
    budget: timedelta
    fraction: float
    state: ClockState
    due: datetime | None


@dataclass(frozen=True)
class SlaStatus:
    first_response: ClockStatus
    resolution: ClockStatus


class _Clock(Protocol):
    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...

    def advance(self, start: datetime, duration: timedelta) -> datetime: ...


class _WallClock:
    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return end.astimezone(UTC) - start.astimezone(UTC)

    def advance(self, start: datetime, duration: timedelta) -> datetime:
        return start.astimezone(UTC) + duration


class _BusinessClock:
    def __init__(self, calendar: BusinessCalendar) -> None:
        self._calendar = calendar

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return self._calendar.business_time_between(start, end)

    def advance(self, start: datetime, duration: timedelta) -> datetime:
        return self._calendar.add_business_time(start, duration)


@functools.lru_cache(maxsize=256)
def calendar_for(hours: BusinessHoursConfig, timezone: str | None = None) -> BusinessCalendar:
    """A cached `BusinessCalendar` (configs are frozen, hence hashable); None = the default timezone."""
    return BusinessCalendar(hours, timezone)


def _clock_for(target: SlaTarget, calendar: BusinessCalendar) -> _Clock:
    return _WallClock() if target.clock_kind == "wall" else _BusinessClock(calendar)


def _normalised_pauses(pauses: Sequence[Pause], created: datetime) -> list[Pause]:
    """UTC pauses clipped to start no earlier than `created`, sorted, overlapping ones merged."""
    clipped: list[Pause] = []
    for index, (start, end) in enumerate(pauses):
        start_utc = require_aware(start, f"pauses[{index}] start")
        end_utc = None if end is None else require_aware(end, f"pauses[{index}] end")
        if end_utc is not None and end_utc < start_utc:
            raise ValueError(f"pauses[{index}] ends ({end_utc.isoformat()}) before it starts ({start_utc.isoformat()})")
        start_utc = max(start_utc, created)
        if end_utc is not None and end_utc <= start_utc:
            continue  # empty, or entirely before the ticket existed
        clipped.append((start_utc, end_utc))
    clipped.sort(key=lambda pause: pause[0])
    merged: list[Pause] = []
    for start_utc, end_utc in clipped:
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break  # an open pause swallows everything after it
            if start_utc <= last_end:
                merged[-1] = (last_start, None if end_utc is None else max(last_end, end_utc))
                continue
        merged.append((start_utc, end_utc))
    return merged


def _due(clock: _Clock, created: datetime, budget: timedelta, pauses: list[Pause]) -> datetime | None:
    cursor, remaining = created, budget
    for pause_start, pause_end in pauses:
        ran = clock.elapsed(cursor, pause_start)
        if ran >= remaining:
            return clock.advance(cursor, remaining)  # the budget ran out before this pause
        remaining -= ran
        if pause_end is None:
            return None  # the clock is stopped until the customer answers
        cursor = pause_end
    return clock.advance(cursor, remaining)


def _consumed(clock: _Clock, created: datetime, until: datetime, pauses: list[Pause]) -> timedelta:
    if until <= created:
        return timedelta(0)
    consumed = clock.elapsed(created, until)
    for pause_start, pause_end in pauses:
        if pause_start >= until:
            break
        paused_until = until if pause_end is None else min(pause_end, until)
        consumed -= clock.elapsed(pause_start, paused_until)
    return consumed


def _target_due(
    target: SlaTarget,
    created: datetime,
    calendar: BusinessCalendar,
    hours: BusinessHoursConfig,
    pauses: list[Pause],
) -> datetime | None:
    due = _due(_clock_for(target, calendar), created, target.budget(hours.business_day_hours), pauses)
    return None if due is None else due.astimezone(calendar.zone)


def due_times(
    priority: str,
    created_at: datetime,
    timezone: str | None,
    config: SlaConfig,
    hours: BusinessHoursConfig,
    pauses: Sequence[Pause] = (),
) -> SlaDue:
    """When a ticket of `priority` created at `created_at` for a customer in `timezone` (IANA; None =
    `hours.default_timezone`) is due for first response and resolution, given its pauses so far."""
    created = require_aware(created_at, "created_at")
    calendar = calendar_for(hours, timezone)
    merged = _normalised_pauses(pauses, created)
    return SlaDue(
        first_response_due=_target_due(config.target(priority, "first_response"), created, calendar, hours, merged),
        resolution_due=_target_due(config.target(priority, "resolution"), created, calendar, hours, merged),
    )


def _status(
    kind: TargetKind,
    priority: str,
    created: datetime,
    at: datetime,
    completed_at: datetime | None,
    config: SlaConfig,
    hours: BusinessHoursConfig,
    calendar: BusinessCalendar,
    pauses: list[Pause],
) -> ClockStatus:
    target = config.target(priority, kind)
    clock = _clock_for(target, calendar)
    budget = target.budget(hours.business_day_hours)
    completed = completed_at is not None and completed_at <= at
    until = completed_at if completed and completed_at is not None else at
    elapsed = _consumed(clock, created, until, pauses)
    fraction = elapsed / budget
    paused_now = any(start <= at and (end is None or at < end) for start, end in pauses)
    state: ClockState
    if completed:
        state = "met" if elapsed <= budget else "breached"
    elif elapsed >= budget:
        state = "breached"
    elif paused_now:
        state = "paused"
    elif fraction >= config.warning_at:
        state = "warning"
    else:
        state = "ok"
    return ClockStatus(
        elapsed=elapsed,
        budget=budget,
        fraction=fraction,
        state=state,
        due=_target_due(target, created, calendar, hours, pauses),
    )


def sla_state(
    priority: str,
    created_at: datetime,
    timezone: str | None,
    config: SlaConfig,
    hours: BusinessHoursConfig,
    at: datetime,
    pauses: Sequence[Pause] = (),
    first_responded_at: datetime | None = None,
    resolved_at: datetime | None = None,
) -> SlaStatus:
    """Both clocks of a ticket as seen at instant `at`. A completion later than `at` is ignored
    (not yet happened at `at`); pauses are the ones known at `at` (a pause still running has end None).
    """
    created = require_aware(created_at, "created_at")
    at_utc = require_aware(at, "at")
    responded = None if first_responded_at is None else require_aware(first_responded_at, "first_responded_at")
    resolved = None if resolved_at is None else require_aware(resolved_at, "resolved_at")
    calendar = calendar_for(hours, timezone)
    merged = _normalised_pauses(pauses, created)
    return SlaStatus(
        first_response=_status("first_response", priority, created, at_utc, responded, config, hours, calendar, merged),
        resolution=_status("resolution", priority, created, at_utc, resolved, config, hours, calendar, merged),
    )
