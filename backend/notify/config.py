"""The policy's `notifications:` section: channels, people, queue leads, the on-call rotation, which
events page whom, and how deliveries are retried.

`load_notifications_config(policy)` validates the section and cross-checks it against the rest of
the policy (every route named exists; every person, channel and queue referenced is defined). A
channel never holds a secret: it names the environment variable that holds the Slack webhook URL or
the SMTP credentials, and an environment-variable name is checked to look like one, so a URL pasted
into the file is refused at load.

All failures here are "ours" (the operator's configuration): a bad section raises
`NotifyConfigError` naming the key and the value.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.policy.errors import describe_validation_error

if TYPE_CHECKING:
    from backend.policy.model import Policy

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")

# The events a rule can be written for. `p1_created` is the pipeline's `page` outbox row for a P1
# ticket; `sla_breach` is the SLA monitor's `notify` row.
NotificationEvent = Literal["p1_created", "sla_breach"]
Audience = Literal["on_call", "queue_lead"]


class NotifyConfigError(ValueError):
    """The `notifications:` policy section is invalid; the message names the key and the value."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(
            f"{value!r} is not an environment variable name (A-Z, 0-9, _): the policy names the variable "
            "that holds the secret, never the secret itself"
        )
    return value


class SlackChannel(_Frozen):
    """A Slack incoming webhook; its URL (a secret: anyone holding it can post) is read from the
    environment variable `webhook_url_env`."""

    kind: Literal["slack"]
    webhook_url_env: str
    timeout_seconds: float = Field(default=10, gt=0, le=120)

    @field_validator("webhook_url_env")
    @classmethod
    def _env(cls, value: str) -> str:
        return _env_name(value)


class EmailChannel(_Frozen):
    """An SMTP relay. The host and the optional login come from the named environment variables."""

    kind: Literal["email"]
    smtp_host_env: str
    smtp_port: int = Field(default=587, ge=1, le=65535)
    # starttls: RFC 3207 on the submission port; ssl: implicit TLS (RFC 8314, port 465); none: a
    # trusted local relay only.
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    sender: str = Field(min_length=3)
    timeout_seconds: float = Field(default=20, gt=0, le=300)

    @field_validator("smtp_host_env", "username_env", "password_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return None if value is None else _env_name(value)

    @model_validator(mode="after")
    def _login_pair(self) -> EmailChannel:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("username_env and password_env go together (both or neither)")
        return self


Channel = Annotated[SlackChannel | EmailChannel, Field(discriminator="kind")]


class Person(_Frozen):
    name: str = Field(min_length=1)
    email: str | None = None
    slack_user_id: str | None = None  # mentioned as <@ID> in Slack messages

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and ("@" not in value or any(char.isspace() for char in value)):
            raise ValueError(f"{value!r} is not an email address")
        return value


class QueueContacts(_Frozen):
    """Who works a queue (route): its lead (notified of breaches) and its members (candidates for
    an escalation's assignee)."""

    lead: str
    members: list[str] = Field(default_factory=list)

    @property
    def everyone(self) -> list[str]:
        return list(dict.fromkeys([*self.members, self.lead]))


class OnCallRotation(_Frozen):
    """People take turns of `shift_days` days; the first shift starts at `starts_at` (local time in
    `timezone`, "YYYY-MM-DDTHH:MM") and every shift hands over at the same local time of day."""

    rotation: list[str] = Field(min_length=1)
    shift_days: int = Field(default=7, ge=1)
    starts_at: str
    timezone: str

    @field_validator("starts_at")
    @classmethod
    def _local(cls, value: str) -> str:
        if not _LOCAL_DATETIME.match(value):
            raise ValueError(f'{value!r} is not a local date and time "YYYY-MM-DDTHH:MM"')
        datetime.fromisoformat(value)  # raises on a date that does not exist
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{value!r} is not an IANA timezone") from error
        return value

    def person_at(self, at: datetime) -> str:
        """Who is on call at instant `at` (aware). Shifts count local calendar days, so a handover
        stays at the same local time of day across DST changes."""
        if at.tzinfo is None:
            raise ValueError("person_at needs an aware datetime")
        start = datetime.fromisoformat(self.starts_at)
        local = at.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)
        # Shift the local wall time back by the handover time of day: the shift's day changes at
        # the handover, not at midnight.
        handover = timedelta(hours=start.hour, minutes=start.minute)
        days = ((local - handover).date() - (start - handover).date()).days
        return self.rotation[(days // self.shift_days) % len(self.rotation)]

    @property
    def handover_time(self) -> time:
        return datetime.fromisoformat(self.starts_at).time()


class EventRule(_Frozen):
    channels: list[str] = Field(min_length=1)
    notify: Audience


class DeliveryRules(_Frozen):
    """Retries of a failing channel: exponential backoff, then `failed` after `max_attempts`."""

    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_base_seconds: float = Field(default=60, gt=0)
    retry_max_seconds: float = Field(default=1800, gt=0)

    def retry_delay(self, attempts: int) -> timedelta:
        """Wait after `attempts` failed attempts: base, 2x base, 4x base, ... capped at the max."""
        seconds = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=seconds)


class AssignmentRules(_Frozen):
    """How an escalation suggestion picks a person: among the queue members whose open-ticket load
    is within `load_slack` of the lightest, the one who resolved most tickets of the category."""

    load_slack: int = Field(default=2, ge=0)


class NotificationsConfig(_Frozen):
    channels: dict[str, Channel] = Field(default_factory=dict)
    people: dict[str, Person] = Field(default_factory=dict)
    queues: dict[str, QueueContacts] = Field(default_factory=dict)
    on_call: OnCallRotation | None = None
    events: dict[NotificationEvent, EventRule] = Field(default_factory=dict)
    delivery: DeliveryRules = Field(default_factory=DeliveryRules)
    assignment: AssignmentRules = Field(default_factory=AssignmentRules)
    # tier0's public address; messages link to {ticket_url_base}/tickets/{ticket_id} when set.
    ticket_url_base: str | None = None

    @model_validator(mode="after")
    def _references(self) -> NotificationsConfig:
        errors: list[str] = []
        for route, queue in self.queues.items():
            for person in queue.everyone:
                if person not in self.people:
                    errors.append(f"queues.{route}: unknown person {person!r}")
        if self.on_call is not None:
            for person in self.on_call.rotation:
                if person not in self.people:
                    errors.append(f"on_call.rotation: unknown person {person!r}")
        for event, rule in self.events.items():
            for channel in rule.channels:
                if channel not in self.channels:
                    errors.append(f"events.{event}.channels: unknown channel {channel!r}")
            if self.on_call is None:
                # Both audiences fall back to the on-call person (a queue may have no lead).
                errors.append(f"events.{event}: needs an on_call rotation to notify")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def rule_for(self, event: object) -> EventRule | None:
        """The rule for an event name (None when the policy sets none)."""
        for name, rule in self.events.items():
            if name == event:
                return rule
        return None

    def lead_of(self, route: str) -> str | None:
        queue = self.queues.get(route)
        return queue.lead if queue else None

    def members_of(self, route: str) -> list[str]:
        queue = self.queues.get(route)
        return queue.everyone if queue else []


def parse_notifications_config(section: object) -> NotificationsConfig:
    """Validate the `notifications:` section on its own (no cross-check with the rest of the policy)."""
    try:
        return NotificationsConfig.model_validate(section or {})
    except ValidationError as error:
        details = describe_validation_error(error, section="notifications")
        raise NotifyConfigError(f"invalid notifications section in the policy:\n{details}") from error


def load_notifications_config(policy: Policy) -> NotificationsConfig:
    """The policy's `notifications:` section, validated and cross-checked against its routes."""
    config = parse_notifications_config(policy.notifications)
    errors = [f"notifications.queues: unknown route {route!r}" for route in config.queues if route not in policy.routes]
    if errors:
        raise NotifyConfigError("invalid notifications section in the policy:\n" + "\n".join(errors))
    return config
