"""The policy's `business_hours` and `sla` sections as validated, immutable pydantic models.

`BusinessHoursConfig` says when a team is open (weekly hours per weekday, holiday rules) and
`SlaConfig` says how long each priority may wait (first response, resolution). The lead's policy
model embeds both as its fields `business_hours` and `sla`; `load_sla_sections` reads just these two
sections from a YAML file for callers (the `tier0 sla due` command) that need nothing else.

Failures are all "ours" (the operator's configuration): an invalid section raises at load, and the
message names the key path and the offending value, e.g.
``business_hours.weekly.mon: Value error, '8:00' is not a time of day in "HH:MM" ... (got '8:00')``.
"""

from __future__ import annotations

import calendar as stdlib_calendar
import re
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator

from backend.policy.errors import describe_validation_error

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order

# A strictly positive, finite number; strict so that YAML `true` or "4" is an error, not 1.0 or 4.0.
PositiveNumber = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]

_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
_MINUTES_PER_DAY = 24 * 60


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _minutes_of(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _check_hhmm(value: object) -> str:
    if not isinstance(value, str):
        # PyYAML (YAML 1.1) reads an unquoted 18:00 as the base-60 integer 1080.
        raise ValueError(f'{value!r} is not a quoted "HH:MM" string (write "18:00", with quotes, in YAML)')
    if not _HHMM.match(value):
        raise ValueError(f'{value!r} is not a time of day in "HH:MM" (00:00 to 24:00, two digits each)')
    return value


class DayHours(_Frozen):
    """One weekday's opening hours, local wall time. `closes` may be "24:00" (open until midnight).

    In YAML it is a two-item list: ["08:00", "18:00"].
    """

    opens: str
    closes: str

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError(f'{list(value)!r} must be two times ["opens", "closes"], e.g. ["08:00", "18:00"]')
            return {"opens": value[0], "closes": value[1]}
        return value

    @field_validator("opens", "closes", mode="before")
    @classmethod
    def _hhmm(cls, value: object) -> str:
        return _check_hhmm(value)

    @model_validator(mode="after")
    def _closes_after_opens(self) -> DayHours:
        if self.opens == "24:00":
            raise ValueError(f"opens {self.opens!r} must be before 24:00")
        if self.closes_minute <= self.opens_minute:
            raise ValueError(f"closes {self.closes!r} must be after opens {self.opens!r}")
        return self

    @property
    def opens_minute(self) -> int:
        """Minutes after local midnight."""
        return _minutes_of(self.opens)

    @property
    def closes_minute(self) -> int:
        """Minutes after local midnight (1440 for "24:00")."""
        return _minutes_of(self.closes)

    @property
    def length(self) -> timedelta:
        """Nominal length of the day's opening (a DST change inside the hours shifts the real one)."""
        return timedelta(minutes=self.closes_minute - self.opens_minute)


class WeeklyHours(_Frozen):
    """Opening hours per weekday; null (None) means closed all day. All seven days must be written."""

    mon: DayHours | None
    tue: DayHours | None
    wed: DayHours | None
    thu: DayHours | None
    fri: DayHours | None
    sat: DayHours | None
    sun: DayHours | None

    def for_weekday(self, weekday: int) -> DayHours | None:
        """Hours for `date.weekday()` (0 = Monday)."""
        day_hours: DayHours | None = getattr(self, WEEKDAYS[weekday])
        return day_hours

    @model_validator(mode="after")
    def _open_some_day(self) -> WeeklyHours:
        if all(self.for_weekday(index) is None for index in range(7)):
            raise ValueError("every weekday is closed (null): business-time SLAs could never run out")
        return self


class HolidayRule(_Frozen):
    """A yearly holiday: a fixed date (`month` + `day`) or the nth weekday of a month (`month` +
    `weekday` + `nth`, where nth 1..4 counts from the month's start and -1..-4 from its end)."""

    name: str = Field(min_length=1)
    month: int = Field(ge=1, le=12)
    day: int | None = None
    weekday: Weekday | None = None
    nth: int | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> HolidayRule:
        fixed = self.day is not None
        floating = self.weekday is not None or self.nth is not None
        if fixed == floating:
            raise ValueError(
                f"holiday {self.name!r} needs either `day` or both `weekday` and `nth` "
                f"(got day={self.day!r}, weekday={self.weekday!r}, nth={self.nth!r})"
            )
        if fixed:
            # A leap year bounds the day, so February 29 is allowed (it occurs in leap years only).
            last_day = stdlib_calendar.monthrange(2024, self.month)[1]
            if not 1 <= (self.day or 0) <= last_day:
                raise ValueError(f"holiday {self.name!r}: day {self.day!r} does not exist in month {self.month}")
        else:
            if self.weekday is None or self.nth is None:
                raise ValueError(
                    f"holiday {self.name!r} needs both `weekday` and `nth` (got weekday={self.weekday!r}, "
                    f"nth={self.nth!r})"
                )
            # Every month holds each weekday at least four times, so +-1..4 always names a date.
            if self.nth == 0 or not -4 <= self.nth <= 4:
                raise ValueError(f"holiday {self.name!r}: nth {self.nth!r} must be 1..4, or -1..-4 from the end")
        return self

    def date_in(self, year: int) -> date | None:
        """The holiday's own date in `year` (None for February 29 in a common year)."""
        if self.day is not None:
            if self.day > stdlib_calendar.monthrange(year, self.month)[1]:
                return None
            return date(year, self.month, self.day)
        assert self.weekday is not None and self.nth is not None  # guaranteed by _one_kind
        target = WEEKDAYS.index(self.weekday)
        matching = [
            day
            for day in stdlib_calendar.Calendar().itermonthdates(year, self.month)
            if day.month == self.month and day.weekday() == target
        ]
        return matching[self.nth - 1] if self.nth > 0 else matching[self.nth]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{name!r} is not an IANA timezone (e.g. America/Chicago)") from error
    return name


class BusinessHoursConfig(_Frozen):
    """The policy's `business_hours` section."""

    default_timezone: str
    weekly: WeeklyHours
    business_day_hours: Annotated[float, Strict(), Field(gt=0, le=24, allow_inf_nan=False)]
    holidays: tuple[HolidayRule, ...] = ()
    observe_weekend_holidays: bool = True

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)


SlaClockKind = Literal["wall", "business"]
TargetKind = Literal["first_response", "resolution"]
_UNITS = ("minutes", "hours", "business_hours", "business_days")


class SlaTarget(_Frozen):
    """One SLA budget: exactly one unit. `minutes`/`hours` need an explicit `clock` (wall = 24x7,
    business = counted in business hours); `business_hours`/`business_days` run on the business clock
    (a business day is `business_hours.business_day_hours` business hours)."""

    minutes: PositiveNumber | None = None
    hours: PositiveNumber | None = None
    business_hours: PositiveNumber | None = None
    business_days: PositiveNumber | None = None
    clock: SlaClockKind | None = None

    @model_validator(mode="after")
    def _exactly_one_unit(self) -> SlaTarget:
        given = {unit: getattr(self, unit) for unit in _UNITS if getattr(self, unit) is not None}
        if len(given) != 1:
            shown = ", ".join(f"{unit}={value!r}" for unit, value in given.items()) or "none"
            raise ValueError(f"give exactly one of {', '.join(_UNITS)}; got {shown}")
        (unit,) = given
        if unit in ("minutes", "hours") and self.clock is None:
            raise ValueError(f"{unit}={given[unit]!r} needs `clock: wall` (24x7) or `clock: business`")
        if unit.startswith("business_") and self.clock == "wall":
            raise ValueError(f"{unit}={given[unit]!r} cannot run on `clock: wall`; use minutes or hours")
        return self

    @property
    def clock_kind(self) -> SlaClockKind:
        if self.business_hours is not None or self.business_days is not None:
            return "business"
        assert self.clock is not None  # guaranteed by _exactly_one_unit
        return self.clock

    def budget(self, business_day_hours: float) -> timedelta:
        """The budget as a duration on this target's clock."""
        if self.minutes is not None:
            return timedelta(minutes=self.minutes)
        if self.hours is not None:
            return timedelta(hours=self.hours)
        if self.business_hours is not None:
            return timedelta(hours=self.business_hours)
        assert self.business_days is not None
        return timedelta(hours=self.business_days * business_day_hours)


class PriorityTargets(_Frozen):
    first_response: SlaTarget
    resolution: SlaTarget


class UnknownPriorityError(ValueError):
    """A priority with no SLA targets in the policy (a caller's bug or a policy gap: ours)."""


class SlaConfig(_Frozen):
    """The policy's `sla` section."""

    warning_at: Annotated[float, Strict(), Field(gt=0, le=1, allow_inf_nan=False)]
    breach_escalates_tiers: int = Field(ge=0)
    targets: dict[str, PriorityTargets] = Field(min_length=1)

    def target(self, priority: str, kind: TargetKind) -> SlaTarget:
        try:
            targets = self.targets[priority]
        except KeyError:
            known = ", ".join(self.targets)
            raise UnknownPriorityError(f"priority {priority!r} has no SLA targets (known: {known})") from None
        return targets.first_response if kind == "first_response" else targets.resolution


class PolicySectionError(ValueError):
    """The policy file's `business_hours` or `sla` section is missing or invalid (ours: fix the file)."""


def parse_sla_sections(document: Mapping[str, Any], source: str = "policy") -> tuple[BusinessHoursConfig, SlaConfig]:
    """Validate the `business_hours` and `sla` sections of an already-parsed policy document."""
    parsed: dict[str, BaseModel] = {}
    problems = []
    for section, model in (("business_hours", BusinessHoursConfig), ("sla", SlaConfig)):
        if section not in document:
            problems.append(f"{section}: section missing")
            continue
        try:
            parsed[section] = model.model_validate(document[section])
        except ValidationError as error:
            problems.append(describe_validation_error(error, section=section))
    if problems:
        raise PolicySectionError(f"{source}: invalid SLA policy\n" + "\n".join(problems))
    hours, sla = parsed["business_hours"], parsed["sla"]
    assert isinstance(hours, BusinessHoursConfig) and isinstance(sla, SlaConfig)
    return hours, sla


def load_sla_sections(path: Path) -> tuple[BusinessHoursConfig, SlaConfig]:
    """Read a policy YAML file and validate just its `business_hours` and `sla` sections."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicySectionError(f"{path}: cannot read the policy: {error}") from error
    if not isinstance(document, Mapping):
        raise PolicySectionError(f"{path}: the policy must be a YAML mapping, got {type(document).__name__}")
    return parse_sla_sections(document, source=str(path))
