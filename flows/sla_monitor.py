"""Prefect flow: check every open ticket's SLA clocks (warnings, breaches, breach escalation).

Orchestration only: one task calls `backend.escalation.sla_monitor.check_slas` at the current
instant. A run records each warning, breach, escalation and notification once (dedupe keys), so a
retried or overlapping run never duplicates anything; the breach notifications it queues go out
with the `deliver-notifications` flow (flows/notify.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task

from backend.db.server import connect
from backend.escalation.sla_monitor import check_slas
from backend.policy.model import load_policy
from backend.settings import get_settings


# Only the database can fail here, and a rerun is harmless: retry a couple of times.
@task(retries=2, retry_delay_seconds=[30, 120])
def check_sla_clocks(act_within_hours: float | None) -> dict[str, Any]:
    policy = load_policy(get_settings().policy_path)
    act_within = None if act_within_hours is None else timedelta(hours=act_within_hours)
    with connect(autocommit=True) as conn:
        report = check_slas(conn, policy, now=datetime.now(UTC), act_within=act_within)
    return {
        "checked": report.checked,
        "warnings": len(report.warnings),
        "breaches": len(report.breaches),
        "escalations": [move.as_dict() for move in report.escalations],
        "notifications_queued": len(report.notifications),
        "due_times_updated": len(report.due_times_updated),
        "timezone_fallbacks": report.timezone_fallbacks,
        "stale_breaches_not_escalated": len(report.stale_breaches),
    }


@flow(name="sla-monitor")
def sla_monitor(act_within_hours: float | None = 24) -> dict[str, Any]:
    """Record SLA warnings and breaches of open tickets; escalate and notify breaches.

    A breach older than `act_within_hours` when first seen (the monitor was down, or a first run
    over an old backlog) is recorded but not escalated; None acts on every breach.
    """
    summary = check_sla_clocks(act_within_hours)
    get_run_logger().info("SLA check: %s", summary)
    return summary


if __name__ == "__main__":
    print(sla_monitor())
