"""A real SMTP server on loopback (aiosmtpd) and an object-level fake sender.

The SMTP server accepts everything by default; `server.handler.refuse_rcpt` / `refuse_data` make
it answer a chosen SMTP reply, and `drop_after_data` makes it close the connection after the
message body arrived without answering (the ambiguous case: it may have taken the message).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from backend.sending.message import OutgoingMessage, ReplyContext, compose_reply
from backend.sending.senders import SendError, SendReceipt


@dataclass
class RecordingHandler:
    received: list[Any] = field(default_factory=list)
    refuse_rcpt: str | None = None
    refuse_data: str | None = None
    drop_after_data: bool = False

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_after_data:
            self.received.append(envelope)
            server.transport.close()
            return "250 OK"
        if self.refuse_data:
            return self.refuse_data
        self.received.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(envelope.content, policy=policy.default) for envelope in self.received]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Controller]:
    controller = Controller(RecordingHandler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


class FakeSender:
    """Records what it is asked to send; `outcomes` scripts each send (None = accepted)."""

    channel = "fake"

    def __init__(self, outcomes: list[SendError | None] | None = None, *, can_look_up: bool = False) -> None:
        self.outcomes = list(outcomes or [])
        self.can_look_up = can_look_up
        self.sent: list[OutgoingMessage] = []
        self.attempts: list[OutgoingMessage] = []
        self.lookups: list[str] = []
        self.delivered_ids: set[str] = set()

    def send(self, message: OutgoingMessage) -> SendReceipt:
        self.attempts.append(message)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            if outcome.outcome == "unknown":
                self.delivered_ids.add(message.message_id)  # it did arrive, but nobody was told
            raise outcome
        self.sent.append(message)
        self.delivered_ids.add(message.message_id)
        return SendReceipt(provider_message_id=f"p-{len(self.sent)}")

    def find_sent(self, message_id: str) -> SendReceipt | None:
        self.lookups.append(message_id)
        if self.can_look_up and message_id in self.delivered_ids:
            return SendReceipt(provider_message_id="found")
        return None


def sample_message(*, thread: str | None = "thread-1", message_id: str = "<m1@pam.example>") -> OutgoingMessage:
    """One composed reply (with a dot-leading line, for SMTP's dot-stuffing) for the sender tests."""
    context = ReplyContext(
        ticket_id=1,
        draft_id=2,
        conversation_id=3,
        body="Hi,\n\n.leading dot line\nReports > Export.\n",
        to_address="maria@sunrise-motors.example",
        to_name="Maria",
        subject="Re: Export",
        in_reply_to="<c@sunrise>",
        references=("<c@sunrise>",),
        gmail_thread_id=thread,
    )
    return compose_reply(
        context,
        from_address="support@pam.example",
        from_name="Pam support",
        message_id=message_id,
        date=datetime(2026, 3, 4, 15, tzinfo=UTC),
        automatic=False,
    )
