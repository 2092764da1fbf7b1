"""Fixtures for the notification tests: a notifications config, a fake Slack webhook at the HTTP
level (httpx.MockTransport, scriptable answers), and a real SMTP server (aiosmtpd) on a free
loopback port that keeps every message it accepts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from backend.notify.config import NotificationsConfig, parse_notifications_config
from backend.notify.notifiers import EmailNotifier, SlackWebhookNotifier

WEBHOOK_URL = "https://hooks.slack.test/services/T000/B000/secret-token"
SENDER = "tier0 alerts <alerts@pam.example>"


def notifications_section(**overrides: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "channels": {
            "slack": {"kind": "slack", "webhook_url_env": "TEST_SLACK_WEBHOOK_URL"},
            "email": {"kind": "email", "smtp_host_env": "TEST_SMTP_HOST", "security": "none", "sender": SENDER},
        },
        "people": {
            "maria": {"name": "Maria Okafor", "email": "maria@pam.example", "slack_user_id": "U0MARIA"},
            "sam": {"name": "Sam Whitfield", "email": "sam@pam.example", "slack_user_id": "U0SAM"},
            "dev": {"name": "Dev Patel", "email": "dev@pam.example"},
        },
        "queues": {"ops": {"lead": "maria", "members": ["maria"]}, "support-eng-core": {"lead": "sam"}},
        "on_call": {
            "rotation": ["sam", "dev"],
            "shift_days": 7,
            "starts_at": "2026-01-05T09:00",
            "timezone": "America/Chicago",
        },
        "events": {
            "p1_created": {"channels": ["slack", "email"], "notify": "on_call"},
            "sla_breach": {"channels": ["slack", "email"], "notify": "queue_lead"},
        },
        "delivery": {"max_attempts": 3, "retry_base_seconds": 60, "retry_max_seconds": 600},
        "ticket_url_base": "https://tier0.pam.example",
    }
    section.update(overrides)
    return section


@pytest.fixture
def notify_config() -> NotificationsConfig:
    return parse_notifications_config(notifications_section())


@dataclass
class FakeSlack:
    """Slack's incoming-webhook endpoint: answers from `script` (status, body, headers) in order,
    then `default`; `raise_error` makes the next call fail at the transport level."""

    default: tuple[int, str] = (200, "ok")
    script: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    raise_error: Exception | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.raise_error is not None:
            raise self.raise_error
        if self.script:
            status, body, headers = self.script.pop(0)
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(self.default[0], text=self.default[1])

    def notifier(self) -> SlackWebhookNotifier:
        return SlackWebhookNotifier(WEBHOOK_URL, http_client=httpx.Client(transport=httpx.MockTransport(self.handler)))


@pytest.fixture
def slack() -> FakeSlack:
    return FakeSlack()


class RecordingHandler:
    """Keeps every message; `rcpt_reply` answers RCPT TO (e.g. '550 ...' to refuse)."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []
        self.rcpt_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpServer:
    handler: RecordingHandler
    host: str
    port: int

    def notifier(self) -> EmailNotifier:
        return EmailNotifier(self.host, self.port, sender=SENDER, security="none", timeout_seconds=5)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(handler, "127.0.0.1", port)
    finally:
        controller.stop()
