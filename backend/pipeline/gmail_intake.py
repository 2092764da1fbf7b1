"""Intake from Gmail: incremental sync into storage, processing, the processed label, and the
freshness alarm. The CLI (`tier0 ingest --gmail`) and the Prefect flow call `run_gmail_intake`.

The sync checkpoint (Gmail history id) advances only after the messages of a page are stored, so
a crash re-reads at most one page, which storage de-duplicates. The freshness check runs last
and raises `FreshnessAlarm` when the mailbox holds mail we have not ingested for longer than the
allowed lag, so an ingestion that silently stopped fails loudly instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from backend.mail.freshness import FreshnessStatus, check_freshness
from backend.mail.gmail import GmailSource, SyncReport
from backend.mail.sync_state import SyncStateStore
from backend.pipeline.process import PipelineConfig, ProcessReport, process_pending
from backend.pipeline.store import StoreReport, store_messages


@dataclass(frozen=True)
class GmailIntakeReport:
    sync: SyncReport | None
    store: StoreReport
    process: ProcessReport
    labelled: int
    freshness: FreshnessStatus


def run_gmail_intake(
    conn: psycopg.Connection,
    service: Any,
    mailbox: str,
    config: PipelineConfig,
    *,
    processed_label: str | None = None,
    first_sync_window_days: int = 7,
    max_lag: timedelta = timedelta(minutes=30),
    now: datetime | None = None,
    source_options: dict[str, Any] | None = None,
) -> GmailIntakeReport:
    source = GmailSource(
        service,
        state=SyncStateStore(conn, mailbox),
        first_sync_window_days=first_sync_window_days,
        processed_label=processed_label,
        **(source_options or {}),
    )
    stored = store_messages(
        conn, mailbox, source.iter_messages(), after_each=lambda _message, _new: source.commit_checkpoint()
    )
    source.commit_checkpoint()
    processed = process_pending(conn, config, mailbox=mailbox)
    labelled = 0
    if processed_label:
        done = conn.execute(
            "select source_id from messages where mailbox = %s and processed_at is not null and source_id = any(%s)",
            (mailbox, stored.stored_ids),
        ).fetchall()
        labelled = source.mark_processed([row[0] for row in done])
    moment = now or datetime.now(UTC)
    newest = source.newest_mailbox_message_at(received_before=moment - max_lag)
    freshness = check_freshness(conn, mailbox, newest_in_mailbox=newest, max_lag=max_lag, now=moment)
    return GmailIntakeReport(source.last_report, stored, processed, labelled, freshness)
