"""`tier0 sla due`: due instants of a new ticket, as JSON-ready data (the CLI only prints it).

    tier0 sla due --priority P3 --created 2026-11-25T16:30:00-06:00 --timezone America/Chicago --json
    {"first_response_due": "2026-11-27T10:30:00-06:00", "resolution_due": "2026-12-01T11:30:00-06:00"}

The `business_hours` and `sla` sections are read from the policy file (default config/policy.yaml)
with `load_sla_sections`, independent of the full policy loader. Failures are the caller's input or
the policy file, both raised: `SlaInputError` (bad priority, timestamp or timezone; exit code 2 in a
CLI) and `PolicySectionError` (the file).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from backend.paths import DEFAULT_POLICY_PATH
from backend.sla.calendar import zone_named
from backend.sla.clock import due_times
from backend.sla.config import UnknownPriorityError, load_sla_sections


class SlaInputError(ValueError):
    """A command argument is invalid; the message says which and why."""


def parse_instant(text: str, name: str = "created") -> datetime:
    """An ISO-8601 timestamp with an offset (or Z). A bare local time is refused: which instant it
    means depends on a timezone the caller should state, not one we guess."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise SlaInputError(
            f"--{name} {text!r} is not an ISO-8601 timestamp (e.g. 2026-11-25T16:30:00-06:00)"
        ) from error
    if value.tzinfo is None:
        raise SlaInputError(f"--{name} {text!r} has no UTC offset: add one, e.g. {text}-06:00 or {text}Z")
    return value


def sla_due_json(
    priority: str, created: str, timezone: str | None = None, policy_path: Path | None = None
) -> dict[str, str | None]:
    """{"first_response_due", "resolution_due"} as ISO-8601 with the customer's offset, for a new
    ticket (no pauses) of `priority` created at `created` for a customer in `timezone` (IANA; None =
    the policy's business_hours.default_timezone)."""
    hours, sla = load_sla_sections(policy_path or DEFAULT_POLICY_PATH)
    created_at = parse_instant(created)
    if timezone is not None:
        try:
            zone_named(timezone)
        except ValueError as error:
            raise SlaInputError(f"--timezone: {error}") from error
    try:
        sla.target(priority, "first_response")
    except UnknownPriorityError as error:
        raise SlaInputError(f"--priority: {error}") from error
    due = due_times(priority, created_at, timezone, sla, hours)
    return {
        "first_response_due": None if due.first_response_due is None else due.first_response_due.isoformat(),
        "resolution_due": None if due.resolution_due is None else due.resolution_due.isoformat(),
    }
