"""Validation of the policy's `business_hours` and `sla` sections: bad input fails naming key and value."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from backend.paths import DEFAULT_POLICY_PATH
from backend.sla.config import (
    BusinessHoursConfig,
    HolidayRule,
    PolicySectionError,
    SlaConfig,
    UnknownPriorityError,
    load_sla_sections,
    parse_sla_sections,
)

DEFAULT_DOCUMENT: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))


def _document_with(dotted: str, value: Any) -> dict[str, Any]:
    """The default policy with one key replaced (value `_DELETE` removes it)."""
    document = copy.deepcopy(DEFAULT_DOCUMENT)
    *parents, last = dotted.split(".")
    node = document
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return document


_DELETE = object()


def test_default_policy_sections_load_with_the_policy_md_budgets(
    default_hours: BusinessHoursConfig, default_sla: SlaConfig
) -> None:
    day = default_hours.business_day_hours
    budgets = {
        priority: (default_sla.target(priority, "first_response"), default_sla.target(priority, "resolution"))
        for priority in ("P1", "P2", "P3", "P4")
    }
    assert {p: (fr.budget(day), res.budget(day)) for p, (fr, res) in budgets.items()} == {
        "P1": (timedelta(minutes=15), timedelta(hours=4)),
        "P2": (timedelta(hours=1), timedelta(hours=24)),
        "P3": (timedelta(hours=4), timedelta(hours=30)),
        "P4": (timedelta(hours=10), timedelta(hours=100)),
    }
    assert {p: (fr.clock_kind, res.clock_kind) for p, (fr, res) in budgets.items()} == {
        "P1": ("wall", "wall"),
        "P2": ("business", "business"),
        "P3": ("business", "business"),
        "P4": ("business", "business"),
    }
    assert default_sla.warning_at == 0.75
    assert default_hours.weekly.sun is None
    saturday = default_hours.weekly.sat
    assert saturday is not None and (saturday.opens_minute, saturday.closes_minute) == (8 * 60, 13 * 60)
    assert len(default_hours.holidays) == 11


@pytest.mark.parametrize(
    ("dotted", "value", "expected_fragments"),
    [
        ("business_hours.weekly.mon", ["8:00", "18:00"], ["business_hours.weekly.mon", "'8:00'"]),
        ("business_hours.weekly.tue", ["08:00", 1080], ["business_hours.weekly.tue", "1080", "quoted"]),
        ("business_hours.weekly.wed", ["18:00", "08:00"], ["business_hours.weekly.wed", "'18:00'", "'08:00'"]),
        ("business_hours.weekly.thu", ["08:00", "18:00", "20:00"], ["business_hours.weekly.thu", "'20:00'"]),
        ("business_hours.weekly.fri", ["08:00", "25:00"], ["business_hours.weekly.fri", "'25:00'"]),
        ("business_hours.weekly.mond", ["08:00", "18:00"], ["business_hours.weekly.mond", "Extra inputs"]),
        ("business_hours.weekly.sun", _DELETE, ["business_hours.weekly.sun", "Field required"]),
        (
            "business_hours.default_timezone",
            "America/Chicagoo",
            ["business_hours.default_timezone", "America/Chicagoo"],
        ),
        ("business_hours.default_timezone", "../etc/passwd", ["business_hours.default_timezone", "../etc/passwd"]),
        ("business_hours.business_day_hours", 0, ["business_hours.business_day_hours", "(got 0)"]),
        ("business_hours.business_day_hours", "10", ["business_hours.business_day_hours", "'10'"]),
        ("business_hours.observe_weekend_holiday", True, ["business_hours.observe_weekend_holiday", "Extra inputs"]),
        (
            "business_hours.holidays",
            [{"name": "Bad", "month": 2, "day": 30}],
            ["business_hours.holidays.0", "day 30", "month 2"],
        ),
        (
            "business_hours.holidays",
            [{"name": "Both", "month": 7, "day": 4, "weekday": "mon", "nth": 1}],
            ["business_hours.holidays.0", "day=4", "weekday='mon'"],
        ),
        (
            "business_hours.holidays",
            [{"name": "Fifth", "month": 3, "weekday": "mon", "nth": 5}],
            ["business_hours.holidays.0", "nth 5"],
        ),
        (
            "business_hours.holidays",
            [{"name": "Typo", "month": 11, "weekday": "thursday", "nth": 4}],
            ["business_hours.holidays.0.weekday", "'thursday'"],
        ),
        (
            "business_hours.holidays",
            [{"name": "Half", "month": 11, "weekday": "thu"}],
            ["business_hours.holidays.0", "nth=None"],
        ),
        ("sla.warning_at", 1.5, ["sla.warning_at", "1.5"]),
        ("sla.warnings_at", 0.5, ["sla.warnings_at", "Extra inputs"]),
        ("sla.breach_escalates_tiers", -1, ["sla.breach_escalates_tiers", "-1"]),
        ("sla.targets.P2.first_response", {}, ["sla.targets.P2.first_response", "got none"]),
        (
            "sla.targets.P2.first_response",
            {"business_hours": 1, "hours": 1, "clock": "business"},
            ["sla.targets.P2.first_response", "hours=1", "business_hours=1"],
        ),
        ("sla.targets.P1.first_response", {"minutes": 15}, ["sla.targets.P1.first_response", "minutes=15", "clock"]),
        (
            "sla.targets.P3.resolution",
            {"business_days": 3, "clock": "wall"},
            ["sla.targets.P3.resolution", "business_days=3", "clock: wall"],
        ),
        ("sla.targets.P4.resolution", {"business_days": 0}, ["sla.targets.P4.resolution.business_days", "(got 0)"]),
        ("sla.targets.P4.resolution", {"business_days": True}, ["sla.targets.P4.resolution.business_days", "True"]),
        ("sla.targets.P4.resolution", {"business_weeks": 2}, ["sla.targets.P4.resolution.business_weeks", "Extra"]),
        (
            "sla.targets.P1.first_response",
            {"minutes": 15, "clock": "24x7"},
            ["sla.targets.P1.first_response.clock", "'24x7'"],
        ),
        ("sla.targets", {}, ["sla.targets", "at least 1"]),
        ("sla", _DELETE, ["sla: section missing"]),
    ],
)
def test_bad_section_fails_naming_key_and_value(dotted: str, value: Any, expected_fragments: list[str]) -> None:
    with pytest.raises(PolicySectionError) as caught:
        parse_sla_sections(_document_with(dotted, value), source="policy.yaml")
    message = str(caught.value)
    assert message.startswith("policy.yaml: invalid SLA policy")
    for fragment in expected_fragments:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"


def test_every_weekday_closed_is_refused() -> None:
    closed_week = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    with pytest.raises(PolicySectionError, match=r"business_hours\.weekly: .*every weekday is closed"):
        parse_sla_sections(_document_with("business_hours.weekly", closed_week))


def test_models_raise_pydantic_errors_with_location_and_value_when_embedded() -> None:
    """The lead's policy model embeds the two models; their own errors already carry key and value."""
    section = copy.deepcopy(DEFAULT_DOCUMENT["business_hours"])
    section["weekly"]["sat"] = ["13:00", "08:00"]
    with pytest.raises(ValidationError) as caught:
        BusinessHoursConfig.model_validate(section)
    (error,) = caught.value.errors()
    assert error["loc"] == ("weekly", "sat")
    assert "closes '08:00' must be after opens '13:00'" in error["msg"]


def test_unknown_priority_names_it(default_sla: SlaConfig) -> None:
    with pytest.raises(UnknownPriorityError, match=r"'P9' has no SLA targets \(known: P1, P2, P3, P4\)"):
        default_sla.target("P9", "resolution")


def test_load_reports_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(PolicySectionError, match="cannot read the policy"):
        load_sla_sections(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("sla: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicySectionError, match="cannot read the policy"):
        load_sla_sections(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n", encoding="utf-8")
    with pytest.raises(PolicySectionError, match="must be a YAML mapping, got str"):
        load_sla_sections(scalar)


@pytest.mark.parametrize(
    ("rule", "year", "expected"),
    [
        ({"month": 11, "weekday": "thu", "nth": 4}, 2026, date(2026, 11, 26)),  # Thanksgiving
        ({"month": 5, "weekday": "mon", "nth": -1}, 2026, date(2026, 5, 25)),  # Memorial Day (May 31 is a Sunday)
        ({"month": 5, "weekday": "mon", "nth": -1}, 2027, date(2027, 5, 31)),  # last Monday is the 31st
        ({"month": 9, "weekday": "mon", "nth": 1}, 2026, date(2026, 9, 7)),  # Labor Day (Sep 1 is a Tuesday)
        ({"month": 1, "weekday": "mon", "nth": 3}, 2026, date(2026, 1, 19)),  # MLK Day
        ({"month": 2, "day": 29}, 2028, date(2028, 2, 29)),  # a leap day exists in leap years
        ({"month": 2, "day": 29}, 2026, None),  # ... and not otherwise
    ],
)
def test_holiday_rule_dates(rule: dict[str, Any], year: int, expected: date | None) -> None:
    assert HolidayRule.model_validate({"name": "x", **rule}).date_in(year) == expected
