"""Prefect flow: pull the support mailbox and turn new email into tickets.

Orchestration only: each task wraps one step of `backend` (the same functions `tier0 ingest`
calls) and carries the retry policy. Storing is idempotent and each email is processed in its
own transaction, so a retried run never duplicates anything. The flow fails loudly when an
email could not be processed because of our own error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from backend.db.schema import upgrade_database
from backend.db.server import connect
from backend.mail.sources import source_for_path
from backend.pipeline.process import process_pending
from backend.pipeline.setup import build_pipeline_config
from backend.pipeline.store import store_messages
from backend.policy.model import load_policy
from backend.settings import get_settings


class IngestFailed(Exception):
    """Some emails failed with an internal error; they are recorded in fct_messages."""


@task(retries=3, retry_delay_seconds=[10, 60, 300])
def store_new_mail(source_path: str, mailbox: str) -> dict[str, int]:
    with connect(autocommit=True) as conn:
        upgrade_database(conn)
        report = store_messages(conn, mailbox, source_for_path(Path(source_path)).iter_messages())
    return {"seen": report.seen, "stored": report.stored, "already_stored": report.already_stored}


@task(retries=2, retry_delay_seconds=[30, 120])
def process_stored_mail(mailbox: str, prefer_local: bool) -> dict[str, Any]:
    settings = get_settings()
    policy = load_policy(settings.policy_path)
    config = build_pipeline_config(policy, prefer_local=prefer_local)
    with connect(autocommit=True) as conn:
        report = process_pending(conn, config, mailbox=mailbox)
    return {
        "processed": report.processed,
        "outcomes": report.outcomes,
        "tickets_created": report.tickets_created,
        "internal_errors": report.internal_errors,
    }


@flow(name="ingest-mail")
def ingest_mail(source_path: str, mailbox: str | None = None, prefer_local: bool = False) -> dict[str, Any]:
    """Store every email of `source_path` (a folder of .eml files or an mbox) and process what is new."""
    logger = get_run_logger()
    mailbox = mailbox or get_settings().mailbox
    stored = store_new_mail(source_path, mailbox)
    processed = process_stored_mail(mailbox, prefer_local)
    logger.info("stored %s, processed %s", stored, processed)
    if processed["internal_errors"]:
        raise IngestFailed(f"{processed['internal_errors']} email(s) failed with an internal error; see fct_messages")
    return {"stored": stored, "processed": processed}


@task(retries=3, retry_delay_seconds=[10, 60, 300])
def sync_gmail(mailbox: str, processed_label: str | None, max_lag_minutes: int, prefer_local: bool) -> dict[str, Any]:
    from datetime import timedelta

    from backend.mail.gmail_auth import gmail_service_from_env
    from backend.pipeline.gmail_intake import run_gmail_intake

    settings = get_settings()
    policy = load_policy(settings.policy_path)
    with connect(autocommit=True) as conn:
        upgrade_database(conn)
        report = run_gmail_intake(
            conn,
            gmail_service_from_env(readonly=processed_label is None),
            mailbox,
            build_pipeline_config(policy, prefer_local=prefer_local),
            processed_label=processed_label,
            max_lag=timedelta(minutes=max_lag_minutes),
        )
    # Raised here, after this run's mail is safely stored and processed: the run fails loudly and
    # mail_freshness_checks (the intake-health dashboard) shows the lag.
    report.freshness.raise_if_stale()
    return {
        "stored": report.store.stored,
        "processed": report.process.processed,
        "outcomes": report.process.outcomes,
        "internal_errors": report.process.internal_errors,
        "labelled": report.labelled,
    }


@flow(name="ingest-gmail")
def ingest_gmail(
    mailbox: str | None = None,
    processed_label: str | None = "tier0/processed",
    max_lag_minutes: int = 30,
    prefer_local: bool = False,
) -> dict[str, Any]:
    """Incremental Gmail sync (history ids), processing, processed label, and the freshness alarm."""
    result = sync_gmail(mailbox or get_settings().mailbox, processed_label, max_lag_minutes, prefer_local)
    if result["internal_errors"]:
        raise IngestFailed(f"{result['internal_errors']} email(s) failed with an internal error; see fct_messages")
    return result


if __name__ == "__main__":
    import sys

    print(ingest_mail(sys.argv[1] if len(sys.argv) > 1 else "data/demo-mailbox/mail", prefer_local=True))
