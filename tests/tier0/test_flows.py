"""The Tier-0 flows' tasks, run as plain functions (`task.fn`) on the test database: they wire the
right backend functions to the environment. Prefect itself is exercised in tests/flows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from aiosmtpd.controller import Controller

import flows.deliver_outbox as deliver_flow
import flows.tier0_followup as followup_flow
from backend.api.actions import ActionContext, approve_draft
from backend.policy.model import load_policy
from backend.users.store import User
from tests.api.factories import events_of, make_account, make_draft, make_ticket
from tests.sending.conftest import smtp_server  # noqa: F401  (the fixture)


@pytest.fixture
def flow_db(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> psycopg.Connection:
    """The flows' `connect()` hands out the test's rolled-back connection."""

    @contextmanager
    def connect(autocommit: bool = False) -> Iterator[psycopg.Connection]:
        yield db

    monkeypatch.setattr(deliver_flow, "connect", connect)
    monkeypatch.setattr(followup_flow, "connect", connect)
    return db


def test_flows_are_runnable_prefect_flows() -> None:
    assert deliver_flow.deliver_outbox.name == "deliver-outbox"
    assert followup_flow.tier0_followup.name == "tier0-followup"


def test_followup_task_records_resolutions(flow_db: psycopg.Connection) -> None:
    make_account(flow_db)
    answered_at = datetime.now(UTC) - timedelta(hours=30)
    ticket_id = make_ticket(flow_db, account_id="acct-sunrise", created_at=answered_at - timedelta(hours=1))
    flow_db.execute(
        "insert into ticket_events (ticket_id, event_type, occurred_at) values (%s, 'reply_sent', %s)",
        (ticket_id, answered_at),
    )
    summary = followup_flow.record_resolutions.fn()
    assert summary == {"assumed": [ticket_id], "resolved": [ticket_id], "verified": []}


def test_send_task_waits_without_a_channel(flow_db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIER0_REPLY_CHANNEL", raising=False)
    assert deliver_flow.send_replies.fn(10) == {
        "skipped": "TIER0_REPLY_CHANNEL is not set: approved replies stay queued"
    }


def test_send_task_sends_over_the_configured_smtp(
    flow_db: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: Controller,  # noqa: F811
) -> None:
    make_account(flow_db)
    ticket_id = make_ticket(flow_db, account_id="acct-sunrise")
    draft_id = make_draft(flow_db, ticket_id)
    approve_draft(
        flow_db,
        ticket_id,
        draft_id,
        User(1, "alice", "ops"),
        ActionContext(load_policy(), datetime.now(UTC), frozenset()),
    )
    for name, value in {
        "TIER0_REPLY_CHANNEL": "smtp",
        "SMTP_HOST": smtp_server.hostname,
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_SECURITY": "none",
        "TIER0_REPLY_FROM": "help@pam.example",
    }.items():
        monkeypatch.setenv(name, value)
    summary = deliver_flow.send_replies.fn(10)
    assert summary == {"sent": 1, "found_sent": 0, "retry": 0, "failed": 0, "unknown": 0}
    [message] = smtp_server.handler.messages()
    assert message["From"] == "Pam support <help@pam.example>"
    assert len(events_of(flow_db, ticket_id, "reply_sent")) == 1


def test_auto_send_task_follows_the_policy(flow_db: psycopg.Connection) -> None:
    make_account(flow_db)
    make_draft(flow_db, make_ticket(flow_db, account_id="acct-sunrise"))
    # The shipped policy enables no category: nothing is even considered.
    assert deliver_flow.auto_send_answers.fn() == {"auto_sent": [], "held": {}}


def test_linear_task_is_skipped_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINEAR_API_KEY", raising=False)
    assert deliver_flow.file_linear_issues.fn(10) == {"skipped": "LINEAR_API_KEY is not set"}
