"""The hand-computed golden table (golden_due_times.json): each case states its arithmetic in `why`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from backend.sla.clock import due_times
from backend.sla.command import sla_due_json
from backend.sla.config import BusinessHoursConfig, SlaConfig

GOLDEN = json.loads((Path(__file__).parent / "golden_due_times.json").read_text(encoding="utf-8"))["cases"]


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@pytest.mark.parametrize("case", GOLDEN, ids=[case["id"] for case in GOLDEN])
def test_due_times_match_the_hand_computed_table(
    case: dict[str, Any], default_sla: SlaConfig, default_hours: BusinessHoursConfig
) -> None:
    created = datetime.fromisoformat(case["created"])
    pauses = [(datetime.fromisoformat(start), _instant(end)) for start, end in case.get("pauses", [])]
    due = due_times(case["priority"], created, case["timezone"], default_sla, default_hours, pauses)
    # Compare the rendered strings: they carry the instant *and* the customer's offset.
    shown = {
        "first_response_due": None if due.first_response_due is None else due.first_response_due.isoformat(),
        "resolution_due": None if due.resolution_due is None else due.resolution_due.isoformat(),
    }
    assert shown == {"first_response_due": case["first_response_due"], "resolution_due": case["resolution_due"]}


@pytest.mark.parametrize("case", [case for case in GOLDEN if not case.get("pauses")], ids=lambda case: case["id"])
def test_cli_contract_gives_the_same_answers(case: dict[str, Any]) -> None:
    answer = sla_due_json(case["priority"], case["created"], case["timezone"])
    assert answer == {"first_response_due": case["first_response_due"], "resolution_due": case["resolution_due"]}


def test_table_covers_what_the_brief_requires() -> None:
    priorities = {case["priority"] for case in GOLDEN}
    zones = {case["timezone"] for case in GOLDEN}
    assert len(GOLDEN) >= 25
    assert priorities == {"P1", "P2", "P3", "P4"}
    assert {
        "America/Chicago",
        "America/New_York",
        "America/Los_Angeles",
        "Pacific/Honolulu",
        "America/Phoenix",
    } <= zones
    assert any(case.get("pauses") for case in GOLDEN)
    assert all(case["why"].strip() for case in GOLDEN)
