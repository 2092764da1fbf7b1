"""Delivering the pipeline's `draft_reply` outbox rows, with a stand-in drafter and with the
knowledge base's real `draft_for_ticket`; then the whole Tier-0 path end to end."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller

from backend.paths import SAMPLE_DATA_DIR
from backend.sending.config import DeliveryRules
from backend.sending.outbox import deliver_send_outbox
from backend.sending.senders import SmtpSender
from backend.tier0.autosend import auto_send_pending
from backend.tier0.config import parse_auto_send_config
from backend.tier0.drafting import deliver_draft_outbox, kb_draft_function
from backend.tier0.followup import track_tier0_resolutions
from tests.api.factories import NOW, events_of, make_account, make_ticket
from tests.sending.conftest import smtp_server  # noqa: F401  (the fixture)


@dataclass
class Written:
    draft_id: int


def _queue_draft(db: psycopg.Connection, ticket_id: int) -> int:
    row = db.execute(
        """insert into outbox (kind, ticket_id, idempotency_key, payload, available_at)
           select 'draft_reply', ticket_id, 'draft:' || public_id, jsonb_build_object('ticket_id', ticket_id), %s
           from tickets where ticket_id = %s returning outbox_id""",
        (NOW - timedelta(minutes=5), ticket_id),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _outbox(db: psycopg.Connection, outbox_id: int) -> tuple[object, ...]:
    row = db.execute("select status, attempts, last_error from outbox where outbox_id = %s", (outbox_id,)).fetchone()
    assert row is not None
    return tuple(row)


def test_drafted_and_unanswered_rows_are_both_delivered(db: psycopg.Connection) -> None:
    make_account(db)
    answered, unanswered = make_ticket(db, account_id="acct-sunrise"), make_ticket(db, account_id="acct-sunrise")
    rows = {ticket_id: _queue_draft(db, ticket_id) for ticket_id in (answered, unanswered)}
    calls: list[int] = []

    def drafter(_conn: psycopg.Connection, ticket_id: int) -> Written | None:
        calls.append(ticket_id)
        return Written(41) if ticket_id == answered else None

    report = deliver_draft_outbox(db, draft=drafter, now=NOW)
    assert [(result.ticket_id, result.outcome, result.draft_id) for result in report.results] == [
        (answered, "drafted", 41),
        (unanswered, "no_answer", None),
    ]
    assert _outbox(db, rows[answered]) == ("delivered", 1, None)
    assert _outbox(db, rows[unanswered]) == ("delivered", 1, "no knowledge-base answer")
    assert deliver_draft_outbox(db, draft=drafter, now=NOW + timedelta(hours=1)).results == []
    assert calls == [answered, unanswered]


def test_a_drafting_error_backs_off_then_fails(db: psycopg.Connection) -> None:
    make_account(db)
    ticket_id = make_ticket(db, account_id="acct-sunrise")
    outbox_id = _queue_draft(db, ticket_id)

    def broken(_conn: psycopg.Connection, _ticket_id: int) -> None:
        raise RuntimeError("model file unreadable")

    first = deliver_draft_outbox(db, draft=broken, now=NOW, max_attempts=2)
    assert [result.outcome for result in first.results] == ["retry"]
    assert _outbox(db, outbox_id) == ("pending", 1, "RuntimeError: model file unreadable")
    assert deliver_draft_outbox(db, draft=broken, now=NOW + timedelta(minutes=1), max_attempts=2).results == []
    second = deliver_draft_outbox(db, draft=broken, now=NOW + timedelta(hours=1), max_attempts=2)
    assert [result.outcome for result in second.results] == ["failed"]
    assert second.errors[0].error == "RuntimeError: model file unreadable"


def test_an_unknown_ticket_fails_at_once(db: psycopg.Connection) -> None:
    make_account(db)
    outbox_id = _queue_draft(db, make_ticket(db, account_id="acct-sunrise"))

    def missing(_conn: psycopg.Connection, ticket_id: int) -> None:
        raise LookupError(f"ticket {ticket_id} does not exist")

    report = deliver_draft_outbox(db, draft=missing, now=NOW)
    assert [result.outcome for result in report.results] == ["failed"]
    assert _outbox(db, outbox_id)[0] == "failed"


@pytest.fixture
def small_kb(db: psycopg.Connection, tmp_path: Path) -> None:
    """Three demo help-center articles, imported without vectors (no model needed)."""
    kb_import = pytest.importorskip("backend.kb.importer")
    source = SAMPLE_DATA_DIR / "kb" / "articles"
    if not source.is_dir():
        pytest.skip("data/kb is not present")
    (tmp_path / "kb" / "articles").mkdir(parents=True)
    for slug in ("reset-password", "business-hours", "export-conversation-reports"):
        shutil.copy(source / f"{slug}.md", tmp_path / "kb" / "articles" / f"{slug}.md")
    kb_import.import_kb(db, tmp_path / "kb", embedder=None)


def test_tier0_end_to_end(db: psycopg.Connection, small_kb: None, smtp_server: Controller) -> None:  # noqa: F811
    """Pipeline outbox row -> KB draft -> auto-send -> SMTP reply -> assumed, then verified resolution."""
    make_account(db)
    ticket_id = make_ticket(
        db,
        account_id="acct-sunrise",
        category="account_access",
        priority="P3",
        confidence=0.97,
        subject="Password reset",
        message_id="<pw@sunrise>",
        reply_text="How do I reset my password for the dashboard?",
    )
    _queue_draft(db, ticket_id)
    drafted = deliver_draft_outbox(db, draft=kb_draft_function(embedder=None), now=NOW)
    assert [result.outcome for result in drafted.results] == ["drafted"]
    draft = db.execute("select generator, citations from drafts where ticket_id = %s", (ticket_id,)).fetchone()
    assert draft is not None and draft[0] == "extractive"
    assert [citation["slug"] for citation in draft[1]] == ["reset-password"]

    config = parse_auto_send_config({"categories": {"account_access": {"enabled": True, "min_confidence": 0.95}}})
    [decision] = auto_send_pending(db, config, now=NOW)
    assert decision.sent, decision.reasons

    rules = DeliveryRules(from_address="support@pam.example")
    sender = SmtpSender(smtp_server.hostname, smtp_server.port, security="none", timeout=10)
    sent = deliver_send_outbox(db, sender, rules, now=NOW + timedelta(minutes=1))
    assert [result.outcome for result in sent.results] == ["sent"]
    [message] = smtp_server.handler.messages()
    assert (message["In-Reply-To"], message["Subject"], message["Auto-Submitted"]) == (
        "<pw@sunrise>",
        "Re: Password reset",
        "auto-replied",
    )

    track_tier0_resolutions(db, config.followup, now=NOW + timedelta(days=4))
    # In the order they were recorded (the KB dates `drafted` by the database clock, not by NOW).
    recorded = [
        row[0]
        for row in db.execute(
            "select event_type from ticket_events where ticket_id = %s order by event_id", (ticket_id,)
        ).fetchall()
    ]
    assert recorded[-6:] == ["drafted", "auto_sent", "resolved", "reply_sent", "assumed_resolved", "verified_resolved"]
    assert events_of(db, ticket_id, "resolved")[0][6]["resolution"] == "auto_sent"
    assert db.execute(
        "select status, resolved_tier, first_responded_at from tickets where ticket_id = %s", (ticket_id,)
    ).fetchone() == ("resolved", 0, NOW + timedelta(minutes=1))
