"""Gmail intake end to end on real Postgres: sync, store, process, label, freshness check."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from backend.mail.gmail import RetryPolicy
from backend.pipeline.gmail_intake import run_gmail_intake
from backend.pipeline.process import PipelineConfig
from backend.policy.model import load_policy
from tests.mail_gmail.gmail_fakes import (
    MAILBOX,
    NOW,
    FakeGmail,
    created_label,
    days_ago,
    label_list,
    message_list,
    minimal_message,
    modified_message,
    profile,
    raw_message,
)
from tests.pipeline.fakes import MarkerClassifier, make_email


def test_first_sync_stores_processes_labels_and_checks_freshness(db: psycopg.Connection) -> None:
    request = make_email(
        sender="dana@acme.example",
        subject="Export",
        body="[how_to/dashboard]",
        message_id="<m1@acme.example>",
        date=days_ago(1),
    )
    auto = make_email(
        sender="lee@acme.example",
        subject="Out of office",
        body="Away",
        message_id="<m2@acme.example>",
        date=days_ago(1),
        headers={"Auto-Submitted": "auto-replied"},
    )
    fake = FakeGmail(
        [
            profile(1000),
            message_list(["m2", "m1"]),
            raw_message("m1", received_at=days_ago(1), raw=request),
            raw_message("m2", received_at=days_ago(0.9), raw=auto),
            label_list(),
            created_label("Label_7", "tier0/processed"),
            modified_message("m1", ["INBOX", "Label_7"]),
            modified_message("m2", ["INBOX", "Label_7"]),
            message_list(["m2"]),
            minimal_message("m2", received_at=days_ago(0.9)),
        ]
    )
    config = PipelineConfig(load_policy(), MarkerClassifier(), own_addresses=frozenset({MAILBOX}))
    report = run_gmail_intake(
        db,
        fake.service,
        MAILBOX,
        config,
        processed_label="tier0/processed",
        max_lag=timedelta(minutes=30),
        now=NOW,
        source_options={"clock": lambda: NOW, "retry": RetryPolicy(jitter_seconds=0)},
    )
    assert (report.store.stored, report.process.outcomes) == (2, {"tickets_created": 1, "automated": 1})
    assert report.labelled == 2
    assert not report.freshness.is_stale
    assert fake.unused_responses == 0
    rows = db.execute("select source_id, thread_hint, kind from messages order by source_id").fetchall()
    assert rows == [("m1", "t-m1", "request"), ("m2", "t-m2", "auto_reply")]
    state = db.execute("select history_id from mail_sync_state where mailbox = %s", (MAILBOX,)).fetchone()
    assert state is not None and int(state[0]) == 1000
