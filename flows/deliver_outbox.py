"""Prefect flow: deliver the outbox's side effects, in order.

Orchestration only; each task wraps one `backend` function and carries the retry policy:

1. `draft_reply` rows: the knowledge base drafts a Tier-0 answer (backend.tier0.drafting, which
   calls backend.kb.drafts.draft_for_ticket; Claude writes it when ANTHROPIC_API_KEY is set, unless
   the run passes `use_claude=False`; else the extractive draft);
2. Tier-0 auto-send, where the policy's `auto_send:` section allows it (off by default);
3. `send_reply` rows: approved replies go out through the channel TIER0_REPLY_CHANNEL names
   (smtp or gmail; unset: they wait in the outbox);
4. `linear_issue` rows, when LINEAR_API_KEY is set.

Every step is idempotent (outbox keys, row locks, leases), so a retried or overlapping run never
drafts, sends or files anything twice. The flow fails loudly at the end when a row failed
because of our own error; rows refused by a service are recorded on the row and reported.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task

from backend.db.server import connect
from backend.policy.model import load_policy
from backend.settings import get_settings


class DeliveryFailed(Exception):
    """Some outbox rows failed with an internal error; they keep last_error on the row."""


@task(retries=2, retry_delay_seconds=[30, 120])
def draft_replies(limit: int, use_claude: bool) -> dict[str, Any]:
    from backend.kb.claude_drafter import drafter_from_environment
    from backend.tier0.drafting import deliver_draft_outbox, kb_draft_function

    claude = drafter_from_environment() if use_claude else None
    with connect(autocommit=True) as conn:
        report = deliver_draft_outbox(conn, draft=kb_draft_function(claude=claude), limit=limit)
    return {
        "drafted": report.count("drafted"),
        "no_answer": report.count("no_answer"),
        "errors": [f"outbox {result.outbox_id}: {result.error}" for result in report.errors],
    }


@task(retries=2, retry_delay_seconds=[30, 120])
def auto_send_answers() -> dict[str, Any]:
    from backend.tier0.autosend import auto_send_pending
    from backend.tier0.config import load_auto_send_config

    config = load_auto_send_config(load_policy(get_settings().policy_path))
    with connect(autocommit=True) as conn:
        decisions = auto_send_pending(conn, config, now=datetime.now(UTC))
    return {
        "auto_sent": [decision.ticket_id for decision in decisions if decision.sent],
        "held": {decision.ticket_id: list(decision.reasons) for decision in decisions if not decision.sent},
    }


@task(retries=2, retry_delay_seconds=[30, 120])
def send_replies(limit: int) -> dict[str, Any]:
    from backend.sending.config import delivery_rules_from_env, sender_from_env
    from backend.sending.outbox import deliver_send_outbox

    sender = sender_from_env()
    if sender is None:
        return {"skipped": "TIER0_REPLY_CHANNEL is not set: approved replies stay queued"}
    with connect(autocommit=True) as conn:
        report = deliver_send_outbox(conn, sender, delivery_rules_from_env(), limit=limit)
    return {outcome: report.count(outcome) for outcome in ("sent", "found_sent", "retry", "failed", "unknown")}


@task(retries=2, retry_delay_seconds=[30, 120])
def file_linear_issues(limit: int) -> dict[str, Any]:
    from backend.api.settings import ApiSettings
    from backend.linear.client import LinearClient
    from backend.linear.config import LinearSecrets
    from backend.linear.outbox import deliver_linear_outbox

    if LinearSecrets().api_key is None:
        return {"skipped": "LINEAR_API_KEY is not set"}
    with LinearClient.from_env() as client, connect(autocommit=True) as conn:
        report = deliver_linear_outbox(conn, client, base_url=ApiSettings().public_url, limit=limit)
    return {"delivered": report.delivered, "created": report.created, "retry": report.retry, "failed": report.failed}


@flow(name="deliver-outbox")
def deliver_outbox(limit: int = 50, use_claude: bool = True) -> dict[str, Any]:
    """Draft Tier-0 answers, auto-send where allowed, send approved replies, file Linear issues."""
    logger = get_run_logger()
    drafts = draft_replies(limit, use_claude)
    auto = auto_send_answers()
    replies = send_replies(limit)
    linear = file_linear_issues(limit)
    summary = {"drafts": drafts, "auto_send": auto, "replies": replies, "linear": linear}
    logger.info("outbox: %s", summary)
    if drafts["errors"]:
        raise DeliveryFailed(f"{len(drafts['errors'])} draft_reply row(s) failed: {drafts['errors'][:3]}")
    return summary


if __name__ == "__main__":
    print(deliver_outbox())
