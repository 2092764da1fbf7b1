"""A reply our staff sent from the support mailbox, seen by intake: the first response of the
conversation's open tickets, recorded once; internal mail and mail tier0 sent itself are not."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from backend.pipeline.process import PipelineConfig
from tests.pipeline.conftest import MONDAY_10AM_CHICAGO, ingest, message_row
from tests.pipeline.fakes import make_email

pytestmark = pytest.mark.usefixtures("accounts")

ROOT = "<root@lakesideford.example>"


def _customer_request() -> tuple[str, bytes]:
    return "0001.eml", make_email(
        sender="Dana <dana@lakesideford.example>",
        subject="Report page broken",
        body="[bug/dashboard] [how_to/dashboard]",
        message_id=ROOT,
        date=MONDAY_10AM_CHICAGO,
    )


def _ours(
    source_id: str, *, to: str, minutes: int, message_id: str, in_reply_to: str | None = ROOT
) -> tuple[str, bytes]:
    raw = make_email(
        sender="Support <support@pam.example>",
        subject="RE: Report page broken",
        body="Hi Dana, we are on it.",
        message_id=message_id,
        date=MONDAY_10AM_CHICAGO + timedelta(minutes=minutes),
        in_reply_to=in_reply_to,
        references=[ROOT] if in_reply_to else None,
    )
    return source_id, raw.replace(b"To: Support <support@pam.example>", f"To: {to}".encode())


def _responses(db: psycopg.Connection) -> list[tuple[object, ...]]:
    return db.execute(
        """select t.first_responded_at - t.created_at, count(e.event_id)
           from tickets t left join ticket_events e on e.ticket_id = t.ticket_id and e.event_type = 'staff_replied'
           group by t.ticket_id order by t.ticket_id"""
    ).fetchall()


def test_a_staff_reply_to_the_customer_is_the_first_response_once(
    db: psycopg.Connection, config: PipelineConfig
) -> None:
    ingest(db, config, _customer_request())
    _, report = ingest(
        db, config, _ours("0002.eml", to="dana@lakesideford.example", minutes=40, message_id="<s1@pam.example>")
    )
    assert report.outcomes == {"not_actionable": 1}
    assert message_row(db, "0002.eml")["outcome_reason"] == (
        "our own outbound message: a reply by our staff, the first response of 2 ticket(s)"
    )
    assert _responses(db) == [(timedelta(minutes=40), 1), (timedelta(minutes=40), 1)]
    actor = db.execute("select distinct actor from ticket_events where event_type = 'staff_replied'").fetchall()
    assert actor == [("staff:support@pam.example",)]
    # A second answer later does not move the first response; each answer is one event per ticket.
    ingest(db, config, _ours("0003.eml", to="dana@lakesideford.example", minutes=90, message_id="<s2@pam.example>"))
    assert _responses(db) == [(timedelta(minutes=40), 2), (timedelta(minutes=40), 2)]
    # The customer's answer that names only our message still threads into the conversation.
    answer = make_email(
        sender="dana@lakesideford.example",
        subject="RE: Report page broken",
        body="Thanks, still broken though.",
        message_id="<a1@lakesideford.example>",
        date=MONDAY_10AM_CHICAGO + timedelta(minutes=120),
        in_reply_to="<s2@pam.example>",
    )
    _, report = ingest(db, config, ("0004.eml", answer))
    assert report.outcomes == {"followup_attached": 1}


def test_internal_mail_and_unthreaded_mail_from_us_answer_nothing(
    db: psycopg.Connection, config: PipelineConfig
) -> None:
    ingest(db, config, _customer_request())
    internal = _ours("0002.eml", to="eng@pam.example", minutes=10, message_id="<i1@pam.example>")
    unthreaded = _ours(
        "0003.eml", to="dana@lakesideford.example", minutes=20, message_id="<u1@pam.example>", in_reply_to=None
    )
    _, report = ingest(db, config, internal, unthreaded)
    assert report.outcomes == {"not_actionable": 2}
    assert _responses(db) == [(None, 0), (None, 0)]
    assert message_row(db, "0002.eml")["outcome_reason"] == "our own outbound message"


def test_a_reply_tier0_sent_itself_is_not_counted_again(db: psycopg.Connection, config: PipelineConfig) -> None:
    ingest(db, config, _customer_request())
    conversation = db.execute("select conversation_id from tickets limit 1").fetchone()
    assert conversation is not None
    # What the send outbox registers for each reply it delivers (backend/sending/outbox.py).
    db.execute(
        "insert into conversation_message_ids (message_id, conversation_id, is_ours) values (%s, %s, true)",
        ("<sent-by-tier0@pam.example>", conversation[0]),
    )
    ingest(
        db,
        config,
        _ours("0002.eml", to="dana@lakesideford.example", minutes=5, message_id="<sent-by-tier0@pam.example>"),
    )
    assert _responses(db) == [(None, 0), (None, 0)]
