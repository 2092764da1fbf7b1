"""SLA engine: business calendars, due times and clock states for tickets (pure, no database).

Public API (see each module's docstring):
- config: `BusinessHoursConfig`, `SlaConfig` (the policy's `business_hours` and `sla` sections),
  `load_sla_sections(path)`, `parse_sla_sections(document)`.
- calendar: `BusinessCalendar(hours, timezone)` with `holidays`, `open_intervals`,
  `add_business_time`, `business_time_between`.
- clock: `due_times(...) -> SlaDue`, `sla_state(...) -> SlaStatus`.
- command: `sla_due_json(...)` behind `tier0 sla due`.
"""

from backend.sla.calendar import BusinessCalendar, CalendarError, NaiveDatetimeError
from backend.sla.clock import ClockState, ClockStatus, Pause, SlaDue, SlaStatus, calendar_for, due_times, sla_state
from backend.sla.config import (
    BusinessHoursConfig,
    DayHours,
    HolidayRule,
    PolicySectionError,
    PriorityTargets,
    SlaConfig,
    SlaTarget,
    UnknownPriorityError,
    WeeklyHours,
    load_sla_sections,
    parse_sla_sections,
)

__all__ = [
    "BusinessCalendar",
    "BusinessHoursConfig",
    "CalendarError",
    "ClockState",
    "ClockStatus",
    "DayHours",
    "HolidayRule",
    "NaiveDatetimeError",
    "Pause",
    "PolicySectionError",
    "PriorityTargets",
    "SlaConfig",
    "SlaDue",
    "SlaStatus",
    "SlaTarget",
    "UnknownPriorityError",
    "WeeklyHours",
    "calendar_for",
    "due_times",
    "load_sla_sections",
    "parse_sla_sections",
    "sla_state",
]
