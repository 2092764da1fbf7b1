"""Prefect flow: track Tier-0 resolutions (assumed after 24 h of silence, verified after 72 h).

Orchestration only: one task calls `backend.tier0.followup.track_tier0_resolutions` at the current
instant with the policy's `auto_send.followup` windows. Events carry dedupe keys and are dated
when their window ended, so a retried, late or overlapping run writes the same history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task

from backend.db.server import connect
from backend.policy.model import load_policy
from backend.settings import get_settings
from backend.tier0.config import load_auto_send_config
from backend.tier0.followup import track_tier0_resolutions


# Only the database can fail here, and a rerun is harmless: retry a couple of times.
@task(retries=2, retry_delay_seconds=[30, 120])
def record_resolutions() -> dict[str, Any]:
    config = load_auto_send_config(load_policy(get_settings().policy_path))
    with connect(autocommit=True) as conn:
        report = track_tier0_resolutions(conn, config.followup, now=datetime.now(UTC))
    return {"assumed": report.assumed, "resolved": report.resolved, "verified": report.verified}


@flow(name="tier0-followup")
def tier0_followup() -> dict[str, Any]:
    """Mark Tier-0 answers assumed resolved (no reply in 24 h) and verified (not reopened in 72 h)."""
    summary = record_resolutions()
    get_run_logger().info("Tier-0 follow-up: %s", summary)
    return summary


if __name__ == "__main__":
    print(tier0_followup())
