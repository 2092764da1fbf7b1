"""deliver_send_outbox: a reply is sent once, bookkept once, and never sent twice after a crash."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from aiosmtpd.controller import Controller

from backend.api.actions import ActionContext, approve_draft
from backend.policy.model import load_policy
from backend.sending.config import DeliveryRules
from backend.sending.outbox import deliver_send_outbox, enqueue_send_reply
from backend.sending.senders import SendError, SmtpSender
from backend.users.store import User
from tests.api.factories import NOW, events_of, make_account, make_draft, make_ticket
from tests.sending.conftest import FakeSender

RULES = DeliveryRules(from_address="support@pam.example", from_name="Pam support")
ALICE = User(1, "alice", "ops")


class Crash(Exception):
    pass


@pytest.fixture
def approved(db: psycopg.Connection) -> tuple[int, int]:
    """A ticket whose draft alice approved at NOW: one send_reply row waiting."""
    make_account(db)
    ticket_id = make_ticket(db, account_id="acct-sunrise", message_id="<ask@sunrise>", subject="Export")
    draft_id = make_draft(db, ticket_id)
    approve_draft(db, ticket_id, draft_id, ALICE, ActionContext(load_policy(), NOW, frozenset()))
    return ticket_id, draft_id


def _state(db: psycopg.Connection) -> tuple[object, ...]:
    row = db.execute(
        """select o.status, o.attempts, r.status, d.status, t.first_responded_at is not null
           from outbox o join drafts d on d.draft_id = (o.payload ->> 'draft_id')::bigint
           join tickets t on t.ticket_id = o.ticket_id
           left join reply_sends r on r.outbox_id = o.outbox_id
           where o.kind = 'send_reply'"""
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_reply_is_sent_and_recorded_once(db: psycopg.Connection, approved: tuple[int, int]) -> None:
    ticket_id, draft_id = approved
    sender = FakeSender()
    report = deliver_send_outbox(db, sender, RULES, now=NOW)
    assert [result.outcome for result in report.results] == ["sent"]
    assert len(sender.sent) == 1
    message_id = sender.sent[0].message_id
    assert _state(db) == ("delivered", 1, "sent", "sent", True)
    [event] = events_of(db, ticket_id, "reply_sent")
    assert event[:2] == ("reply_sent", "system")
    assert event[6] == {
        "draft_id": draft_id,
        "outbox_id": report.results[0].outbox_id,
        "channel": "fake",
        "message_id": message_id,
        "automatic": False,
    }
    assert db.execute("select first_responded_at from tickets where ticket_id = %s", (ticket_id,)).fetchone() == (NOW,)
    # Registered as ours before it left, in the ticket's conversation.
    assert db.execute(
        """select c.is_ours, c.conversation_id = t.conversation_id from conversation_message_ids c, tickets t
           where c.message_id = %s and t.ticket_id = %s""",
        (message_id, ticket_id),
    ).fetchone() == (True, True)
    # Running again sends nothing.
    again = deliver_send_outbox(db, sender, RULES, now=NOW + timedelta(hours=1))
    assert again.results == [] and len(sender.attempts) == 1


def test_first_response_is_the_first_reply_only(db: psycopg.Connection, approved: tuple[int, int]) -> None:
    ticket_id, _ = approved
    deliver_send_outbox(db, FakeSender(), RULES, now=NOW)
    second = make_draft(db, ticket_id)
    approve_draft(db, ticket_id, second, ALICE, ActionContext(load_policy(), NOW, frozenset()))
    deliver_send_outbox(db, FakeSender(), RULES, now=NOW + timedelta(hours=2))
    assert db.execute("select first_responded_at from tickets where ticket_id = %s", (ticket_id,)).fetchone() == (NOW,)
    assert len(events_of(db, ticket_id, "reply_sent")) == 2


def test_enqueue_is_once_per_draft(db: psycopg.Connection, approved: tuple[int, int]) -> None:
    ticket_id, draft_id = approved
    first = db.execute("select outbox_id from outbox where kind = 'send_reply'").fetchone()[0]  # type: ignore[index]
    assert enqueue_send_reply(db, ticket_id=ticket_id, draft_id=draft_id, automatic=True) == first
    assert db.execute("select count(*) from outbox where kind = 'send_reply'").fetchone() == (1,)


def test_a_crash_after_the_server_accepted_never_resends(db: psycopg.Connection, approved: tuple[int, int]) -> None:
    ticket_id, _ = approved
    sender = FakeSender()

    def crash_after_send(name: str) -> None:
        if name == "after_send":
            raise Crash

    with pytest.raises(Crash):
        deliver_send_outbox(db, sender, RULES, now=NOW, checkpoint=crash_after_send)
    assert len(sender.sent) == 1
    assert _state(db)[:3] == ("pending", 1, "sending")
    # Within the lease nobody touches it (the attempt may still be in flight).
    assert deliver_send_outbox(db, sender, RULES, now=NOW + timedelta(minutes=5)).results == []
    # After it: SMTP cannot tell whether it went out, so it is not sent again; a person checks.
    report = deliver_send_outbox(db, sender, RULES, now=NOW + RULES.lease + timedelta(seconds=1))
    assert [result.outcome for result in report.results] == ["unknown"]
    assert len(sender.attempts) == 1
    assert _state(db) == ("failed", 1, "unknown", "approved", False)
    error = db.execute("select last_error from outbox where kind = 'send_reply'").fetchone()[0]  # type: ignore[index]
    assert "check the Sent folder for Message-ID" in error and sender.sent[0].message_id in error
    assert events_of(db, ticket_id, "reply_sent") == []


def test_a_crash_is_resolved_by_a_sender_that_can_look_up(db: psycopg.Connection, approved: tuple[int, int]) -> None:
    ticket_id, _ = approved
    sender = FakeSender(can_look_up=True)

    def crash_after_send(name: str) -> None:
        if name == "after_send":
            raise Crash

    with pytest.raises(Crash):
        deliver_send_outbox(db, sender, RULES, now=NOW, checkpoint=crash_after_send)
    report = deliver_send_outbox(db, sender, RULES, now=NOW + RULES.lease + timedelta(seconds=1))
    assert [result.outcome for result in report.results] == ["found_sent"]
    assert sender.lookups == [sender.sent[0].message_id]
    assert len(sender.attempts) == 1
    assert _state(db) == ("delivered", 1, "sent", "sent", True)
    assert len(events_of(db, ticket_id, "reply_sent")) == 1


def test_a_crash_before_sending_is_also_not_resent_blindly(db: psycopg.Connection, approved: tuple[int, int]) -> None:
    sender = FakeSender(can_look_up=True)

    def crash_before_send(name: str) -> None:
        if name == "before_send":
            raise Crash

    with pytest.raises(Crash):
        deliver_send_outbox(db, sender, RULES, now=NOW, checkpoint=crash_before_send)
    report = deliver_send_outbox(db, sender, RULES, now=NOW + RULES.lease + timedelta(seconds=1))
    # Nothing left, but nothing proves it: at most once means a person re-sends it.
    assert [result.outcome for result in report.results] == ["unknown"]
    assert sender.attempts == []


def test_temporary_refusals_are_retried_with_the_same_message(
    db: psycopg.Connection, approved: tuple[int, int]
) -> None:
    busy = SendError("451 busy", outcome="not_sent", retryable=True)
    sender = FakeSender([busy, busy])
    first = deliver_send_outbox(db, sender, RULES, now=NOW)
    assert [result.outcome for result in first.results] == ["retry"]
    assert _state(db)[:3] == ("pending", 1, "not_sent")
    assert deliver_send_outbox(db, sender, RULES, now=NOW + timedelta(seconds=30)).results == []  # backing off
    second = deliver_send_outbox(db, sender, RULES, now=NOW + timedelta(minutes=1, seconds=1))
    assert [result.outcome for result in second.results] == ["retry"]
    third = deliver_send_outbox(db, sender, RULES, now=NOW + timedelta(minutes=4))
    assert [result.outcome for result in third.results] == ["sent"]
    assert len({message.message_id for message in sender.attempts}) == 1
    assert len({message.raw for message in sender.attempts}) == 1
    assert _state(db) == ("delivered", 3, "sent", "sent", True)


def test_permanent_refusal_fails_the_row(db: psycopg.Connection, approved: tuple[int, int]) -> None:
    sender = FakeSender([SendError("550 no such user", outcome="not_sent", retryable=False)])
    report = deliver_send_outbox(db, sender, RULES, now=NOW)
    assert [(result.outcome, result.error) for result in report.results] == [("failed", "550 no such user")]
    assert _state(db) == ("failed", 1, "not_sent", "approved", False)


def test_attempts_run_out(db: psycopg.Connection, approved: tuple[int, int]) -> None:
    rules = DeliveryRules(from_address="support@pam.example", max_attempts=2)
    busy = SendError("451 busy", outcome="not_sent", retryable=True)
    sender = FakeSender([busy, busy, busy])
    outcomes = []
    for hours in (0, 1, 2, 3):
        outcomes += [
            result.outcome
            for result in deliver_send_outbox(db, sender, rules, now=NOW + timedelta(hours=hours)).results
        ]
    assert outcomes == ["retry", "failed"]
    assert len(sender.attempts) == 2


def test_a_draft_no_longer_approved_is_not_sent(db: psycopg.Connection, approved: tuple[int, int]) -> None:
    db.execute("update drafts set status = 'rejected', reject_reason = 'changed my mind'")
    sender = FakeSender()
    report = deliver_send_outbox(db, sender, RULES, now=NOW)
    assert [(result.outcome, result.error) for result in report.results] == [
        ("failed", f"draft {approved[1]} is rejected, not approved")
    ]
    assert sender.attempts == []


def test_a_failed_auto_send_reopens_its_ticket(db: psycopg.Connection) -> None:
    make_account(db)
    ticket_id = make_ticket(db, account_id="acct-sunrise", status="resolved")
    draft_id = make_draft(db, ticket_id, status="approved")
    enqueue_send_reply(db, ticket_id=ticket_id, draft_id=draft_id, automatic=True, available_at=NOW)
    sender = FakeSender([SendError("550 no such user", outcome="not_sent", retryable=False)])
    deliver_send_outbox(db, sender, RULES, now=NOW)
    assert db.execute("select status, resolved_at from tickets where ticket_id = %s", (ticket_id,)).fetchone() == (
        "open",
        None,
    )
    [event] = events_of(db, ticket_id, "reopened")
    assert event[1] == "system"
    assert event[6]["reason"] == "the auto-sent reply could not be delivered: 550 no such user"


def test_end_to_end_over_smtp(db: psycopg.Connection, approved: tuple[int, int], smtp_server: Controller) -> None:
    ticket_id, _ = approved
    sender = SmtpSender(smtp_server.hostname, smtp_server.port, security="none", timeout=10)
    report = deliver_send_outbox(db, sender, RULES, now=NOW)
    assert [result.outcome for result in report.results] == ["sent"]
    [received] = smtp_server.handler.messages()
    assert received["In-Reply-To"] == "<ask@sunrise>"
    assert received["References"] == "<ask@sunrise>"
    assert received["Subject"] == "Re: Export"
    assert received["To"] == "Maria Lopez <maria@sunrise-motors.example>"
    assert received["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert received["Auto-Submitted"] is None
    stored = db.execute("select message_id, channel, raw from reply_sends").fetchone()
    assert stored is not None
    assert (stored[0], stored[1]) == (received["Message-ID"], "smtp")
    assert bytes(stored[2]).rstrip() == smtp_server.handler.received[0].content.rstrip()
    assert events_of(db, ticket_id, "reply_sent")[0][6]["channel"] == "smtp"
