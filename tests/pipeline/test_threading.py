"""Threading: which conversation an email continues, and who may join one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.mail.sources import SourceMessage
from backend.mail.threading import looks_like_reply, normalise_subject
from backend.pipeline.process import process_pending
from backend.pipeline.store import store_messages
from tests.pipeline.conftest import MAILBOX, MONDAY_10AM_CHICAGO, ingest, message_row, request_email
from tests.pipeline.fakes import make_email

ROOT = "<req-1@lakesideford.example>"


@pytest.mark.parametrize(
    ("subject", "key", "is_reply"),
    [
        ("RE: Report page broken", "report page broken", True),
        ("Re: Re: RE:  Report   page broken", "report page broken", True),
        ("AW: Bericht", "bericht", True),
        ("SV: Rapport", "rapport", True),
        ("Fwd: Report page broken", "report page broken", False),
        ("FW: RE: Report page broken", "report page broken", False),
        ("Report page broken", "report page broken", False),
        ("Re[2]: Report", "report", True),
        ("Regarding the report", "regarding the report", False),
    ],
)
def test_subject_normalisation(subject: str, key: str, is_reply: bool) -> None:
    assert normalise_subject(subject) == key
    assert looks_like_reply(subject) is is_reply


def reply(
    body: str,
    *,
    sender: str = "dana@lakesideford.example",
    subject: str = "RE: Report page broken",
    message_id: str = "<re-1@lakesideford.example>",
    in_reply_to: str | None = ROOT,
    references: list[str] | None = None,
    days: float = 1,
) -> bytes:
    return make_email(
        sender=sender,
        subject=subject,
        body=body,
        message_id=message_id,
        date=MONDAY_10AM_CHICAGO + timedelta(days=days),
        in_reply_to=in_reply_to,
        references=references,
    )


def test_exchange_style_comma_separated_references_thread(db, config, accounts) -> None:
    raw = reply("any news?", in_reply_to=None).replace(
        b"Subject:", f"References: <x@other.example>,{ROOT}\nSubject:".encode(), 1
    )
    ingest(db, config, ("0001.eml", request_email(message_id=ROOT)), ("0002.eml", raw))
    assert message_row(db, "0002.eml")["followup_of"] == ROOT


def test_subject_fallback_needs_reply_prefix_same_sender_and_recent(db, config, accounts) -> None:
    ingest(db, config, ("0001.eml", request_email(message_id=ROOT)))
    # Headers stripped by a forwarding system: subject + sender + recency still find it.
    ingest(db, config, ("0002.eml", reply("still broken", in_reply_to=None)))
    assert message_row(db, "0002.eml")["kind"] == "followup"
    # Same subject without a reply prefix is a new request.
    ingest(
        db,
        config,
        (
            "0003.eml",
            reply(
                "[bug/dashboard]", subject="Report page broken", in_reply_to=None, message_id="<n@lakesideford.example>"
            ),
        ),
    )
    assert message_row(db, "0003.eml")["kind"] == "request"
    # Another person at the same account with the same "Re:" subject is not merged by subject alone.
    ingest(
        db,
        config,
        (
            "0004.eml",
            reply(
                "[billing/billing]",
                sender="sam@lakesideford.example",
                in_reply_to=None,
                message_id="<s@lakesideford.example>",
            ),
        ),
    )
    assert message_row(db, "0004.eml")["kind"] == "request"
    # Too late for the fallback (policy.threading.subject_fallback_days).
    ingest(
        db,
        config,
        ("0005.eml", reply("[how_to/dashboard]", in_reply_to=None, days=90, message_id="<late@lakesideford.example>")),
    )
    assert message_row(db, "0005.eml")["kind"] == "request"


def test_gmail_thread_id_is_a_hint(db, config, accounts) -> None:
    first = SourceMessage("g1", request_email(message_id=ROOT), thread_hint="thread-9", label="g1")
    second = SourceMessage(
        "g2", reply("any news?", in_reply_to=None, subject="Report page broken"), thread_hint="thread-9", label="g2"
    )
    store_messages(db, MAILBOX, [first, second])
    process_pending(db, config, mailbox=MAILBOX)
    assert message_row(db, "g2")["kind"] == "followup"
    assert message_row(db, "g2")["followup_of"] == ROOT


def test_unknown_sender_joins_only_a_conversation_they_took_part_in(db, config, accounts) -> None:
    personal = "dana.home@gmail.example"
    ingest(db, config, ("0001.eml", request_email(message_id=ROOT)), ("0002.eml", reply("any news?", sender=personal)))
    assert message_row(db, "0002.eml")["kind"] == "request"
    assert "never wrote in this conversation" in str(message_row(db, "0002.eml")["outcome_reason"])
    # Once they wrote in it (a conversation of their own, no account), their replies thread there.
    ingest(
        db,
        config,
        (
            "0003.eml",
            reply(
                "still?",
                sender=personal,
                message_id="<p2@gmail.example>",
                in_reply_to="<re-1@lakesideford.example>",
                days=2,
            ),
        ),
    )
    assert message_row(db, "0003.eml")["kind"] == "followup"
    assert message_row(db, "0003.eml")["conversation_id"] == message_row(db, "0002.eml")["conversation_id"]


def test_reply_arriving_before_its_parent_in_a_batch_is_still_threaded(db, config, accounts) -> None:
    # Sources may deliver out of order; a batch is processed in sending order.
    ingest(db, config, ("b.eml", reply("any news?")), ("a.eml", request_email(message_id=ROOT)))
    assert message_row(db, "b.eml")["kind"] == "followup"
