"""Prefect flow: deliver due pages (P1 tickets) and notifications (SLA breaches) from the outbox.

Orchestration only: notifiers are built from the policy's `notifications:` section and the
environment (webhook URL and SMTP settings live in environment variables the policy names), then
`backend.notify.deliver.deliver_notifications` sends each due row once per channel. Retries of a
failing channel are the outbox's (backoff, then `failed`), never the task's, so a rerun never sends
twice. The flow fails loudly when a notification was given up on or a notifier hit our own bug.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task

from backend.db.server import connect
from backend.notify.config import load_notifications_config
from backend.notify.deliver import deliver_notifications
from backend.notify.notifiers import build_notifiers
from backend.policy.model import load_policy
from backend.settings import get_settings


class NotificationsFailed(Exception):
    """Some pages or notifications were marked failed in this run; see outbox.last_error."""


@task(retries=2, retry_delay_seconds=[30, 120])
def deliver_due_notifications(limit: int) -> dict[str, Any]:
    config = load_notifications_config(load_policy(get_settings().policy_path))
    built = build_notifiers(config)
    with connect(autocommit=True) as conn:
        report = deliver_notifications(conn, built.notifiers, now=datetime.now(UTC), config=config, limit=limit)
    return {
        "delivered": report.delivered,
        "retry": report.retry,
        "failed": report.failed,
        "sent": report.sent,
        "failures": [f"outbox {row.outbox_id}: {row.error}" for row in report.rows if row.outcome == "failed"],
        "internal_errors": report.internal_errors,
        "unavailable_channels": built.unavailable,
    }


@flow(name="deliver-notifications")
def deliver_notifications_flow(limit: int = 100) -> dict[str, Any]:
    """Send due pages and notifications on every channel of their policy rule."""
    summary = deliver_due_notifications(limit)
    get_run_logger().info("notifications: %s", summary)
    if summary["failed"] or summary["internal_errors"]:
        raise NotificationsFailed("; ".join([*summary["failures"], *summary["internal_errors"]]))
    return summary


if __name__ == "__main__":
    print(deliver_notifications_flow())
