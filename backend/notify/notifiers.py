"""Channels that carry a `Notification`: the `Notifier` protocol, its Slack and email implementations,
and `build_notifiers`, which makes one per channel of the policy from the environment.

A notifier sends one message and either returns where it went (for the `paged`/`notified` event)
or raises `NotifyError`, which says whether sending again can help (`retryable`). It never retries
by itself: the outbox delivery (backend/notify/deliver.py) owns retries and their backoff.

- `SlackWebhookNotifier` posts `{"text": ..., "blocks": [...]}` to a Slack incoming webhook with an
  injectable `httpx.Client`. Slack answers 200 "ok" on success; 400 invalid_payload, 403
  action_prohibited, 404 channel_not_found/no_service and 410 channel_is_archived can never succeed
  on retry; 429 and 5xx (rollup_error) can, as can timeouts and connection errors
  (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks). The
  webhook URL is a secret: it is never logged nor put in an error message.
- `EmailNotifier` submits a plain-text message over SMTP (smtplib). RFC 5321 section 4.2.1: a 4yz
  reply is transient (retry), a 5yz reply permanent. The message carries `Auto-Submitted:
  auto-generated` (RFC 3834) so that no mailbox, our own support inbox included, answers it, and a
  Message-ID derived from the outbox row, so a copy sent twice is recognisably the same message.

Failures: a vendor refusal or an unreachable service is a `NotifyError` (recorded on the delivery,
retried or failed); a missing environment variable is reported by `build_notifiers` and the channel
left out, so its deliveries fail visibly instead of the whole run stopping.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, Protocol

import httpx

from backend.notify.config import EmailChannel, NotificationsConfig, SlackChannel
from backend.notify.message import Notification

logger = logging.getLogger(__name__)

USER_AGENT = "tier0-notify/1"
# Slack's limits for block text (https://api.slack.com/reference/block-kit/blocks): a header's
# plain_text at most 150 characters, a section's text at most 3000.
_HEADER_LIMIT = 150
_SECTION_LIMIT = 3000


class NotifyError(Exception):
    """A channel did not take the message. `retryable`: the same message can succeed later."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Notifier(Protocol):
    """Sends one notification; returns where it went (an address, a Slack mention) or raises `NotifyError`."""

    def send(self, notification: Notification) -> str: ...


def slack_escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters (links, mentions such as <!channel>);
    customer text is escaped so it can never mention or link anything."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SlackWebhookNotifier:
    """Posts to one Slack incoming webhook (a channel chosen when the webhook was created)."""

    def __init__(
        self, webhook_url: str, *, http_client: httpx.Client | None = None, timeout_seconds: float = 10
    ) -> None:
        if not webhook_url.startswith("https://") and http_client is None:
            raise ValueError("a Slack webhook URL starts with https://")
        self._url = webhook_url
        self._http = http_client or httpx.Client(timeout=timeout_seconds)
        self._timeout = timeout_seconds

    @staticmethod
    def payload(notification: Notification) -> dict[str, Any]:
        """The webhook body: `text` is the notification fallback (what a phone shows), `blocks` the
        laid-out message. The recipient is mentioned by Slack user id when the policy knows it."""
        recipient = notification.recipient
        mention = f"<@{recipient.slack_user_id}>" if recipient.slack_user_id else slack_escape(recipient.name)
        prefix = ":rotating_light: " if notification.severity == "page" else ":warning: "
        title = slack_escape(notification.title)
        body = "\n".join(f"• {slack_escape(line)}" for line in notification.lines)
        context = f"For {mention}"
        if notification.url:
            context += f" · <{notification.url}|Open ticket #{notification.ticket_id}>"
        return {
            "text": _truncate(f"{prefix}{title} (for {mention})", _SECTION_LIMIT),
            "blocks": [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": _truncate(notification.title, _HEADER_LIMIT)},
                },
                {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(body, _SECTION_LIMIT)}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": _truncate(context, _SECTION_LIMIT)}]},
            ],
        }

    def send(self, notification: Notification) -> str:
        try:
            response = self._http.post(
                self._url,
                json=self.payload(notification),
                headers={"User-Agent": USER_AGENT},
                timeout=self._timeout,
            )
        except httpx.TimeoutException as error:
            raise NotifyError(f"Slack webhook timed out ({type(error).__name__})", retryable=True) from None
        except httpx.TransportError as error:
            raise NotifyError(f"Slack webhook unreachable ({type(error).__name__})", retryable=True) from None
        detail = response.text.strip()[:200]
        if response.status_code == 200:
            recipient = notification.recipient
            return f"slack:{recipient.slack_user_id or recipient.person}"
        if response.status_code == 429 or response.status_code >= 500:
            raise NotifyError(
                f"Slack webhook answered HTTP {response.status_code} {detail!r}",
                retryable=True,
                retry_after=_retry_after(response),
            )
        raise NotifyError(f"Slack webhook refused the message: HTTP {response.status_code} {detail!r}", retryable=False)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class EmailNotifier:
    """Submits notifications by SMTP to the recipient's address."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 20,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"security must be starttls, ssl or none, got {security!r}")
        self._host = host
        self._port = port
        self._sender = sender
        self._security = security
        self._login = (username, password) if username is not None and password is not None else None
        self._timeout = timeout_seconds
        self._ssl_context = ssl_context

    def build_message(self, notification: Notification) -> EmailMessage:
        recipient = notification.recipient
        if not recipient.email:
            raise NotifyError(f"{recipient.person} has no email address in notifications.people", retryable=False)
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = f"{recipient.name} <{recipient.email}>"
        # One line: customer text must never add a header (a newline in Subject would).
        tag = "[tier0 PAGE]" if notification.severity == "page" else "[tier0]"
        message["Subject"] = " ".join(f"{tag} {notification.title}".split())
        message["Date"] = formatdate(localtime=False)
        domain = parseaddr(self._sender)[1].rpartition("@")[2] or "tier0.invalid"
        message["Message-ID"] = f"<{notification.key}@{domain}>"
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: never answered automatically
        message["X-Tier0-Ticket"] = str(notification.ticket_id)
        body = [notification.title, "", *notification.lines]
        if notification.url:
            body += ["", f"Open the ticket: {notification.url}"]
        message.set_content("\n".join(body) + "\n")
        return message

    def _connect(self) -> smtplib.SMTP:
        if self._security == "ssl":
            return smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._ssl_context or ssl.create_default_context()
            )
        smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        if self._security == "starttls":
            smtp.starttls(context=self._ssl_context or ssl.create_default_context())
        return smtp

    def send(self, notification: Notification) -> str:
        message = self.build_message(notification)
        address = notification.recipient.email or ""
        try:
            with self._connect() as smtp:
                if self._login is not None:
                    smtp.login(*self._login)
                smtp.send_message(message, to_addrs=[address])
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            transient = bool(codes) and all(400 <= code < 500 for code in codes)
            raise NotifyError(f"SMTP refused the recipient: {codes}", retryable=transient) from None
        except smtplib.SMTPNotSupportedError as error:
            raise NotifyError(f"SMTP server lacks a needed extension: {error}", retryable=False) from None
        except smtplib.SMTPResponseException as error:
            transient = 400 <= error.smtp_code < 500
            reply = (
                error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
            )
            raise NotifyError(f"SMTP answered {error.smtp_code} {reply}", retryable=transient) from None
        except (smtplib.SMTPException, OSError) as error:
            # Disconnections, refused connections, timeouts, TLS handshakes: the relay may be back later.
            raise NotifyError(f"SMTP relay unreachable: {type(error).__name__}: {error}", retryable=True) from None
        return f"email:{address}"


@dataclass
class BuiltNotifiers:
    """The notifiers made from the policy; `unavailable` says why a channel has none."""

    notifiers: dict[str, Notifier] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


def build_notifiers(
    config: NotificationsConfig,
    environ: Mapping[str, str] | None = None,
    *,
    http_client: httpx.Client | None = None,
) -> BuiltNotifiers:
    """One notifier per channel of the policy, configured from `environ` (default `os.environ`).

    A channel whose environment variable is unset is left out and listed in `unavailable` (with the
    variable's name, never a value), so pages on other channels still go out.
    """
    env = os.environ if environ is None else environ
    built = BuiltNotifiers()
    for name, channel in config.channels.items():
        if isinstance(channel, SlackChannel):
            url = env.get(channel.webhook_url_env, "").strip()
            if not url:
                built.unavailable[name] = f"environment variable {channel.webhook_url_env} is not set"
                continue
            built.notifiers[name] = SlackWebhookNotifier(
                url, http_client=http_client, timeout_seconds=channel.timeout_seconds
            )
        elif isinstance(channel, EmailChannel):
            host = env.get(channel.smtp_host_env, "").strip()
            if not host:
                built.unavailable[name] = f"environment variable {channel.smtp_host_env} is not set"
                continue
            username = env.get(channel.username_env) if channel.username_env else None
            password = env.get(channel.password_env) if channel.password_env else None
            if channel.username_env and (not username or not password):
                built.unavailable[name] = (
                    f"environment variables {channel.username_env}/{channel.password_env} are not set"
                )
                continue
            built.notifiers[name] = EmailNotifier(
                host,
                channel.smtp_port,
                sender=channel.sender,
                security=channel.security,
                username=username,
                password=password,
                timeout_seconds=channel.timeout_seconds,
            )
    for name, reason in built.unavailable.items():
        logger.warning("notification channel %s is unavailable: %s", name, reason)
    return built


__all__ = [
    "BuiltNotifiers",
    "EmailNotifier",
    "Notifier",
    "NotifyError",
    "SlackWebhookNotifier",
    "build_notifiers",
    "slack_escape",
]
