"""Shared fixtures and helpers for the pipeline tests: a policy, a marker classifier, two accounts,
and a way to ingest raw emails into the rolled-back test database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from backend.accounts.importer import import_accounts
from backend.mail.sources import SourceMessage
from backend.pipeline.process import PipelineConfig, ProcessReport, process_pending
from backend.pipeline.store import StoreReport, store_messages
from backend.policy.model import Policy, load_policy
from tests.pipeline.fakes import MarkerClassifier, make_email

MAILBOX = "support@pam.example"
MONDAY_10AM_CHICAGO = datetime(2026, 9, 14, 15, 0, tzinfo=UTC)  # Mon 10:00 CDT

ACCOUNTS_CSV = """\
account_id,name,domains,timezone,plan,mrr_usd,contract_start,renewal_date,onboarding_status,integration,integration_pending_since
lakeside-ford,Lakeside Ford,lakesideford.example,America/Chicago,growth,1500,2024-01-10,2027-03-01,live,cdk,
hilltop-kia,Hilltop Kia,hilltopkia.example;hilltop-group.example,America/New_York,starter,700,2026-09-01,2027-09-01,onboarding,tekion,
"""


@pytest.fixture
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def classifier() -> MarkerClassifier:
    return MarkerClassifier()


@pytest.fixture
def config(policy: Policy, classifier: MarkerClassifier) -> PipelineConfig:
    return PipelineConfig(policy, classifier, own_addresses=frozenset({MAILBOX}))


@pytest.fixture
def accounts(db: psycopg.Connection, tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(ACCOUNTS_CSV, encoding="utf-8")
    import_accounts(db, path)


def ingest(
    db: psycopg.Connection, config: PipelineConfig, *messages: tuple[str, bytes]
) -> tuple[StoreReport, ProcessReport]:
    stored = store_messages(db, MAILBOX, (SourceMessage(source_id=sid, raw=raw, label=sid) for sid, raw in messages))
    return stored, process_pending(db, config, mailbox=MAILBOX)


def message_row(db: psycopg.Connection, source_id: str) -> dict[str, object]:
    cursor = db.execute(
        "select kind, outcome, outcome_reason, followup_of, account_id, conversation_id from messages "
        "where source_id = %s",
        (source_id,),
    )
    row = cursor.fetchone()
    assert row is not None
    return dict(zip([column.name for column in cursor.description or []], row, strict=True))


def tickets_of(db: psycopg.Connection, source_id: str) -> list[tuple[Any, ...]]:
    return db.execute(
        """select category, product_area, priority, tier, route, is_flagged_for_review
           from tickets join messages using (message_pk) where source_id = %s order by request_index""",
        (source_id,),
    ).fetchall()


def request_email(
    message_id: str = "<req-1@lakesideford.example>",
    body: str = "Hello\n[bug/dashboard]\n",
    sender: str = "Dana <dana@lakesideford.example>",
    date: datetime = MONDAY_10AM_CHICAGO,
) -> bytes:
    return make_email(sender=sender, subject="Report page broken", body=body, message_id=message_id, date=date)
