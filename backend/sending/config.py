"""How replies are sent, from the environment (secrets included, never from a file we commit).

    TIER0_REPLY_CHANNEL    smtp | gmail | folder (unset: replies stay queued in the outbox; nothing is sent)
    TIER0_REPLY_FOLDER     for `folder`: where each reply is written as an .eml file (nothing is sent)
    TIER0_REPLY_FROM       our support address (default: TIER0_MAILBOX)
    TIER0_REPLY_FROM_NAME  the display name on replies (default "Pam support")
    SMTP_HOST, SMTP_PORT (587), SMTP_USERNAME, SMTP_PASSWORD, SMTP_SECURITY (starttls | ssl | none)
    Gmail: the same credentials as the Gmail source (backend/mail/gmail_auth.py: GMAIL_TOKEN_FILE,
    or GMAIL_SERVICE_ACCOUNT_FILE + GMAIL_DELEGATED_USER).

A channel that is chosen but not configured (smtp without SMTP_HOST) is our failure and raises
`SendingConfigError` naming the variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.sending.senders import FolderSender, GmailSender, ReplySender, SmtpSender


class SendingConfigError(Exception):
    """Sending is switched on but not configured; the message names the variable."""


class SendingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    channel: Literal["smtp", "gmail", "folder"] | None = Field(default=None, alias="TIER0_REPLY_CHANNEL")
    from_address: str | None = Field(default=None, alias="TIER0_REPLY_FROM")
    folder: Path | None = Field(default=None, alias="TIER0_REPLY_FOLDER")
    from_name: str = Field(default="Pam support", alias="TIER0_REPLY_FROM_NAME")
    smtp_host: str | None = Field(default=None, alias="SMTP_HOST")
    smtp_port: int = Field(default=587, alias="SMTP_PORT")
    smtp_username: str | None = Field(default=None, alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(default=None, alias="SMTP_PASSWORD")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(default="starttls", alias="SMTP_SECURITY")


@dataclass(frozen=True)
class DeliveryRules:
    """How the send outbox retries and how long an attempt holds its row."""

    from_address: str
    from_name: str | None = "Pam support"
    # An attempt holds its outbox row this long (other workers skip it); a crashed attempt is
    # looked at again after it, never sooner, so a send still in flight is not mistaken for a crash.
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 6
    retry_base: timedelta = timedelta(minutes=1)
    retry_max: timedelta = timedelta(hours=1)

    def retry_delay(self, attempts: int) -> timedelta:
        """Exponential backoff after `attempts` failed attempts (1 -> base, 2 -> 2x base, ...)."""
        return min(self.retry_max, self.retry_base * 2 ** max(0, attempts - 1))


def delivery_rules_from_env(settings: SendingSettings | None = None) -> DeliveryRules:
    from backend.settings import get_settings

    settings = settings or SendingSettings()
    return DeliveryRules(from_address=settings.from_address or get_settings().mailbox, from_name=settings.from_name)


def sender_from_env(settings: SendingSettings | None = None) -> ReplySender | None:
    """The configured sender, or None when TIER0_REPLY_CHANNEL is unset (sending switched off)."""
    settings = settings or SendingSettings()
    if settings.channel is None:
        return None
    if settings.channel == "smtp":
        if not settings.smtp_host:
            raise SendingConfigError("TIER0_REPLY_CHANNEL=smtp needs SMTP_HOST (and usually SMTP_USERNAME/PASSWORD)")
        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            security=settings.smtp_security,
        )
    if settings.channel == "folder":
        if settings.folder is None:
            raise SendingConfigError("TIER0_REPLY_CHANNEL=folder needs TIER0_REPLY_FOLDER (where replies are written)")
        return FolderSender(settings.folder)
    from backend.mail.gmail_auth import gmail_service_from_env

    return GmailSender(gmail_service_from_env())
