"""The reply message: threading headers, subject, addresses, loop-prevention headers."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import psycopg
import pytest

from backend.sending.message import (
    ReplyContext,
    ReplyNotPossible,
    compose_reply,
    load_reply_context,
    reference_chain,
    reply_subject,
)
from tests.api.factories import make_account, make_draft, make_ticket


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("How do I export call reports?", "Re: How do I export call reports?"),
        ("Re: How do I export?", "Re: How do I export?"),
        ("RE: How do I export?", "RE: How do I export?"),
        ("AW: Export", "AW: Export"),
        ("Fwd: Export", "Re: Fwd: Export"),
        ("  Export \r\n  reports  ", "Re: Export reports"),
        ("", "Re:"),
        (None, "Re:"),
    ],
)
def test_subject_gets_one_reply_prefix(original: str | None, expected: str) -> None:
    assert reply_subject(original) == expected


def test_reference_chain_follows_rfc5322() -> None:
    assert reference_chain("<c@x>", ["<a@x>", "<b@x>"], ["<b@x>"]) == ["<a@x>", "<b@x>", "<c@x>"]
    # No References: a single In-Reply-To stands in for them; several are ambiguous and dropped.
    assert reference_chain("<c@x>", [], ["<b@x>"]) == ["<b@x>", "<c@x>"]
    assert reference_chain("<c@x>", [], ["<a@x>", "<b@x>"]) == ["<c@x>"]
    assert reference_chain("<c@x>", [], []) == ["<c@x>"]
    long_chain = [f"<{n}@x>" for n in range(40)]
    trimmed = reference_chain("<last@x>", long_chain, [])
    assert len(trimmed) == 20
    assert trimmed[0] == "<0@x>" and trimmed[-1] == "<last@x>" and trimmed[-2] == "<39@x>"


def _context(**overrides: object) -> ReplyContext:
    values: dict[str, object] = {
        "ticket_id": 7,
        "draft_id": 3,
        "conversation_id": 1,
        "body": "Hi Maria,\n\nReports > Export.\n",
        "to_address": "maria@sunrise-motors.example",
        "to_name": "María López",
        "subject": "Re: Export",
        "in_reply_to": "<c@sunrise>",
        "references": ("<a@sunrise>", "<c@sunrise>"),
        "gmail_thread_id": "t-1",
    }
    values.update(overrides)
    return ReplyContext(**values)  # type: ignore[arg-type]


def test_a_human_approved_reply_is_threaded_and_not_marked_automatic() -> None:
    sent = compose_reply(
        _context(),
        from_address="support@pam.example",
        from_name="Pam support",
        message_id="<m1@pam.example>",
        date=datetime(2026, 3, 4, 15, 0, tzinfo=UTC),
        automatic=False,
    )
    message = message_from_bytes(sent.raw, policy=policy.default)
    assert message["From"] == "Pam support <support@pam.example>"
    assert message["To"] == "María López <maria@sunrise-motors.example>"
    assert message["Subject"] == "Re: Export"
    assert message["Message-ID"] == "<m1@pam.example>"
    assert message["In-Reply-To"] == "<c@sunrise>"
    assert message["References"] == "<a@sunrise> <c@sunrise>"
    assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert message["Auto-Submitted"] is None
    assert message["Precedence"] is None
    assert message["Date"] == "Wed, 04 Mar 2026 15:00:00 +0000"
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == "Hi Maria,\n\nReports > Export.\n"
    assert sent.raw.count(b"\n") == sent.raw.count(b"\r\n")  # CRLF line ends only (RFC 5322 2.3)
    assert (sent.envelope_from, sent.recipients, sent.gmail_thread_id) == (
        "support@pam.example",
        ("maria@sunrise-motors.example",),
        "t-1",
    )


def test_an_auto_sent_reply_says_so() -> None:
    sent = compose_reply(
        _context(),
        from_address="support@pam.example",
        from_name=None,
        message_id="<m2@pam.example>",
        date=datetime(2026, 3, 4, tzinfo=UTC),
        automatic=True,
    )
    message = message_from_bytes(sent.raw, policy=policy.default)
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["From"] == "support@pam.example"


def test_the_reply_answers_the_latest_customer_email(db: psycopg.Connection) -> None:
    make_account(db)
    ticket_id = make_ticket(
        db, account_id="acct-sunrise", subject="Export", message_id="<first@sunrise>", thread_hint="gmail-thread-9"
    )
    draft_id = make_draft(db, ticket_id)
    conversation_id = db.execute("select conversation_id from tickets where ticket_id = %s", (ticket_id,)).fetchone()[0]  # type: ignore[index]
    # The customer wrote again in the same thread (a follow-up attached to the ticket).
    db.execute(
        """insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, message_id, in_reply_to,
                                 references_ids, subject, from_address, from_name, sent_at, conversation_id, kind,
                                 outcome, processed_at)
           values ('support@pam.example', 'f.eml', 'x', 'x', 1, '<second@sunrise>', '{<ours@pam.example>}',
                   '{<first@sunrise>,<ours@pam.example>}', 'Re: Export', 'maria@sunrise-motors.example', 'Maria',
                   '2026-03-04T14:30:00Z', %s, 'followup', 'followup_attached', now())""",
        (conversation_id,),
    )
    # An out-of-office in the thread is not what we answer.
    db.execute(
        """insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, message_id, subject, from_address,
                                 sent_at, conversation_id, kind, outcome, processed_at)
           values ('support@pam.example', 'ooo.eml', 'x', 'x', 1, '<ooo@sunrise>', 'Out of office', 'x@sunrise',
                   '2026-03-04T14:40:00Z', %s, 'auto_reply', 'automated', now())""",
        (conversation_id,),
    )
    context = load_reply_context(db, draft_id)
    assert context.in_reply_to == "<second@sunrise>"
    assert context.references == ("<first@sunrise>", "<ours@pam.example>", "<second@sunrise>")
    assert context.subject == "Re: Export"
    assert context.to_address == "maria@sunrise-motors.example"
    # The follow-up carries no Gmail thread id of its own: the conversation's is used.
    assert context.gmail_thread_id == "gmail-thread-9"
    db.execute("update messages set thread_hint = 'gmail-thread-10' where message_id = '<second@sunrise>'")
    assert load_reply_context(db, draft_id).gmail_thread_id == "gmail-thread-10"


def test_no_email_to_answer(db: psycopg.Connection) -> None:
    make_account(db)
    ticket_id = make_ticket(db, account_id="acct-sunrise")
    draft_id = make_draft(db, ticket_id)
    db.execute("update messages set from_address = null")
    with pytest.raises(ReplyNotPossible, match=f"the email ticket {ticket_id} answers has no sender address"):
        load_reply_context(db, draft_id)
    with pytest.raises(ReplyNotPossible, match="draft 999999 does not exist"):
        load_reply_context(db, 999999)
