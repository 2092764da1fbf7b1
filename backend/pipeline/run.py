"""One intake run: store what a source holds, then process everything stored and not yet processed.
The CLI (`tier0 ingest`, `tier0 demo`, `tier0 triage`) and the Prefect flow all call `run_intake`."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from backend.mail.sources import MailSource
from backend.pipeline.process import PipelineConfig, ProcessReport, process_pending
from backend.pipeline.store import StoreReport, store_messages


@dataclass(frozen=True)
class IntakeReport:
    store: StoreReport
    process: ProcessReport


def run_intake(conn: psycopg.Connection, source: MailSource, mailbox: str, config: PipelineConfig) -> IntakeReport:
    stored = store_messages(conn, mailbox, source.iter_messages())
    processed = process_pending(conn, config, mailbox=mailbox)
    return IntakeReport(stored, processed)
