"""Calendar configurations and hand-typed holiday dates shared by the SLA tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.sla.config import BusinessHoursConfig

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def hours_config(
    weekly: dict[str, list[str] | None] | None = None,
    timezone: str = "America/Chicago",
    holidays: list[dict[str, Any]] | None = None,
    observe: bool = True,
) -> BusinessHoursConfig:
    """A BusinessHoursConfig; `weekly=None` means open 00:00-24:00 every day (24x7)."""
    week = weekly if weekly is not None else {key: ["00:00", "24:00"] for key in WEEKDAY_KEYS}
    return BusinessHoursConfig.model_validate(
        {
            "default_timezone": timezone,
            "weekly": week,
            "business_day_hours": 10,
            "holidays": holidays or [],
            "observe_weekend_holidays": observe,
        }
    )


# US federal holiday closures (own date and observed weekday) typed by hand from a wall calendar,
# independent of the rule code, for the brute-force oracle and the holiday tests.
US_CLOSED_DATES: frozenset[date] = frozenset(
    [
        # 2025: no holiday falls on a weekend.
        date(2025, 1, 1), date(2025, 1, 20), date(2025, 2, 17), date(2025, 5, 26), date(2025, 6, 19),
        date(2025, 7, 4), date(2025, 9, 1), date(2025, 10, 13), date(2025, 11, 11), date(2025, 11, 27),
        date(2025, 12, 25),
        # 2026: July 4 is a Saturday, observed Friday July 3.
        date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 5, 25), date(2026, 6, 19),
        date(2026, 7, 3), date(2026, 7, 4), date(2026, 9, 7), date(2026, 10, 12), date(2026, 11, 11),
        date(2026, 11, 26), date(2026, 12, 25),
        # 2027: Juneteenth Sat (Fri 18), July 4 Sun (Mon 5), Christmas Sat (Fri 24),
        # and New Year's Day 2028 is a Saturday, observed Friday December 31, 2027.
        date(2027, 1, 1), date(2027, 1, 18), date(2027, 2, 15), date(2027, 5, 31), date(2027, 6, 18),
        date(2027, 6, 19), date(2027, 7, 4), date(2027, 7, 5), date(2027, 9, 6), date(2027, 10, 11),
        date(2027, 11, 11), date(2027, 11, 25), date(2027, 12, 24), date(2027, 12, 25), date(2027, 12, 31),
        date(2028, 1, 1),
    ]
)  # fmt: skip
