"""SmtpSender against a real SMTP server on loopback; GmailSender against Gmail's discovery
document over HttpMockSequence (tests/mail_gmail/gmail_fakes.py)."""

from __future__ import annotations

import base64
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from backend.sending.message import OutgoingMessage
from backend.sending.senders import GmailSender, SendError, SmtpSender
from tests.mail_gmail.gmail_fakes import FakeGmail, api_error, ok
from tests.sending.conftest import free_port, sample_message


def _message(thread: str | None = "thread-1") -> OutgoingMessage:
    return sample_message(thread=thread)


def _smtp(server: Controller) -> SmtpSender:
    return SmtpSender(server.hostname, server.port, security="none", timeout=10)


# --- SMTP ---------------------------------------------------------------------------------


def test_smtp_delivers_the_exact_message(smtp_server: Controller) -> None:
    outgoing = _message()
    _smtp(smtp_server).send(outgoing)
    [envelope] = smtp_server.handler.received
    assert envelope.mail_from == "support@pam.example"
    assert envelope.rcpt_tos == ["maria@sunrise-motors.example"]
    # Byte for byte, after SMTP's dot-stuffing is undone by the server (RFC 5321 4.5.2).
    assert envelope.content.rstrip(b"\r\n") == outgoing.raw.rstrip(b"\r\n")
    received = message_from_bytes(envelope.content, policy=policy.default)
    assert received["Message-ID"] == "<m1@pam.example>"
    assert ".leading dot line" in received.get_content()


def test_smtp_temporary_refusal_is_retryable(smtp_server: Controller) -> None:
    smtp_server.handler.refuse_rcpt = "451 4.3.0 mailbox busy, try later"
    with pytest.raises(SendError) as caught:
        _smtp(smtp_server).send(_message())
    assert (caught.value.outcome, caught.value.retryable) == ("not_sent", True)
    assert "RCPT TO maria@sunrise-motors.example refused: 451" in str(caught.value)
    assert smtp_server.handler.received == []


def test_smtp_permanent_refusal_is_final(smtp_server: Controller) -> None:
    smtp_server.handler.refuse_data = "554 5.7.1 message rejected as spam"
    with pytest.raises(SendError) as caught:
        _smtp(smtp_server).send(_message())
    assert (caught.value.outcome, caught.value.retryable) == ("not_sent", False)
    assert "end of DATA refused: 554" in str(caught.value)


def test_smtp_connection_refused_is_not_sent() -> None:
    sender = SmtpSender("127.0.0.1", free_port(), security="none", timeout=5)
    with pytest.raises(SendError) as caught:
        sender.send(_message())
    assert (caught.value.outcome, caught.value.retryable) == ("not_sent", True)
    assert sender.find_sent("<m1@pam.example>") is None and sender.can_look_up is False


def test_smtp_connection_lost_after_the_body_is_unknown(smtp_server: Controller) -> None:
    smtp_server.handler.drop_after_data = True
    with pytest.raises(SendError) as caught:
        _smtp(smtp_server).send(_message())
    assert (caught.value.outcome, caught.value.retryable) == ("unknown", False)
    assert "it may have been accepted" in str(caught.value)
    assert len(smtp_server.handler.received) == 1  # the server did get it: exactly why we must not resend


# --- Gmail ----------------------------------------------------------------------------------


def _sent_message(message_id: str) -> dict[str, object]:
    return {"id": "gm-1", "threadId": "thread-1", "payload": {"headers": [{"name": "Message-ID", "value": message_id}]}}


def test_gmail_sends_raw_in_the_thread() -> None:
    outgoing = _message()
    fake = FakeGmail(
        [
            ok("Message", {"id": "gm-1", "threadId": "thread-1", "labelIds": ["SENT"]}),
            ok("Message", _sent_message("<m1@pam.example>")),
        ]
    )
    receipt = GmailSender(fake.service).send(outgoing)
    assert (receipt.provider_message_id, receipt.provider_thread_id, receipt.actual_message_id) == (
        "gm-1",
        "thread-1",
        None,
    )
    send, read_back = fake.requests
    assert send.method_id == "gmail.users.messages.send"
    assert send.body["threadId"] == "thread-1"
    assert base64.urlsafe_b64decode(send.body["raw"]) == outgoing.raw
    assert read_back.method_id == "gmail.users.messages.get"
    assert read_back.query["format"] == ["metadata"] and read_back.query["metadataHeaders"] == ["Message-ID"]
    assert fake.unused_responses == 0


def test_gmail_without_a_thread_id_sends_no_thread_id() -> None:
    fake = FakeGmail([ok("Message", {"id": "gm-1", "threadId": "new"})])
    GmailSender(fake.service, read_back_message_id=False).send(_message(thread=None))
    assert "threadId" not in fake.requests[0].body


def test_gmail_replacing_our_message_id_is_noticed() -> None:
    fake = FakeGmail(
        [
            ok("Message", {"id": "gm-1", "threadId": "thread-1"}),
            ok("Message", _sent_message("<CAGmail123@mail.gmail.com>")),
        ]
    )
    receipt = GmailSender(fake.service).send(_message())
    assert receipt.actual_message_id == "<CAGmail123@mail.gmail.com>"


def test_gmail_read_back_failure_does_not_fail_the_send() -> None:
    fake = FakeGmail(
        [
            ok("Message", {"id": "gm-1", "threadId": "thread-1"}),
            api_error(503, "backendError", "Backend Error"),
        ]
    )
    receipt = GmailSender(fake.service).send(_message())
    assert (receipt.provider_message_id, receipt.actual_message_id) == ("gm-1", None)


@pytest.mark.parametrize(
    ("status", "reason", "outcome", "retryable"),
    [
        (400, "invalidArgument", "not_sent", False),
        (403, "insufficientPermissions", "not_sent", False),
        (429, "rateLimitExceeded", "not_sent", True),
        (500, "backendError", "unknown", False),
        (503, "backendError", "unknown", False),
    ],
)
def test_gmail_errors(status: int, reason: str, outcome: str, retryable: bool) -> None:
    fake = FakeGmail([api_error(status, reason, "nope")])
    with pytest.raises(SendError) as caught:
        GmailSender(fake.service).send(_message())
    assert (caught.value.outcome, caught.value.retryable) == (outcome, retryable)


def test_gmail_finds_a_sent_message_by_its_message_id() -> None:
    fake = FakeGmail(
        [
            ok("ListMessagesResponse", {"messages": [{"id": "gm-7", "threadId": "thread-1"}], "resultSizeEstimate": 1}),
            ok("ListMessagesResponse", {"resultSizeEstimate": 0}),
        ]
    )
    sender = GmailSender(fake.service)
    found = sender.find_sent("<m1@pam.example>")
    assert found is not None and found.provider_message_id == "gm-7"
    assert sender.find_sent("<m2@pam.example>") is None
    first, second = fake.requests
    assert first.method_id == "gmail.users.messages.list"
    assert first.query["q"] == ["rfc822msgid:m1@pam.example"]
    assert second.query["q"] == ["rfc822msgid:m2@pam.example"]
