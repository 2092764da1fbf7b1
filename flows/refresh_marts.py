"""Prefect flow: refresh the rollup tables the dashboards read (backend/marts/refresh.py).

Orchestration only. Scheduled incrementally every few minutes (tickets whose history changed, and running
SLA clocks) and in full nightly (everything, which also catches changes no event records). A refresh is
one transaction, so a failed or retried run leaves the previous snapshot in place; it retries database
trouble that can pass (a lost connection, a lock timeout), never a rollup that disagrees with its view.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from backend.db.schema import upgrade_database
from backend.db.server import connect
from backend.marts.refresh import RefreshError, RefreshMode, refresh_marts


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    error = state.result(raise_on_failure=False)
    return not isinstance(error, RefreshError)


@task(retries=2, retry_delay_seconds=[30, 120], retry_condition_fn=_worth_retrying)
def refresh(mode: RefreshMode) -> dict[str, Any]:
    with connect(autocommit=True) as conn:
        upgrade_database(conn)
        report = refresh_marts(conn, mode=mode)
    return {
        "mode": report.mode,
        "tickets_refreshed": report.tickets_refreshed,
        "row_counts": report.row_counts,
        "seconds": report.seconds,
        "calendar_rewritten": sorted(report.calendar.rewritten),
        "skipped_timezones": report.calendar.skipped_timezones,
    }


@flow(name="refresh-marts")
def refresh_marts_flow(mode: RefreshMode = "incremental") -> dict[str, Any]:
    """Refresh the marts' rollups ("incremental" or "full")."""
    result = refresh(mode)
    get_run_logger().info("marts refreshed: %s", result)
    return result


if __name__ == "__main__":
    import sys

    print(refresh_marts_flow("full" if sys.argv[1:] == ["full"] else "incremental"))
