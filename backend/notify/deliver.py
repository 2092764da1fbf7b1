"""Delivering pages and notifications from the outbox, each exactly once per channel.

Two outbox kinds are ours: `page` (the pipeline queues one per P1 ticket, key `page:<public_id>`;
the policy's `notifications.events.p1_created` rule says who and how) and `notify` (queued with
`enqueue_notification`, e.g. by the SLA monitor for a breach; `payload.event` names the rule).

`deliver_notifications` takes each due row in its own transaction, locked `for update skip locked`
so two workers never deliver the same row, and sends it on every channel of its rule. Each channel's
outcome is recorded in `notification_deliveries` (migration 007) and a delivered channel writes a
`paged` or `notified` event, in the same transaction as the row's new status:
- a channel already delivered is never sent again, so a retry after another channel failed only
  resends where it failed;
- a retryable failure (`NotifyError.retryable`: Slack 429/5xx, SMTP 4yz, timeouts, an unset
  channel) reschedules the row with exponential backoff (`notifications.delivery`); after
  `max_attempts` runs the row and its pending channels are marked `failed` and never tried again;
- a permanent failure (Slack 4xx, SMTP 5yz, a person with no address) fails that channel at once.
Each row is tried at most once per call, so a call always ends (no loop). The one window for a
second copy is a crash between a channel accepting the message and our commit: Slack webhooks take
no idempotency key, and a page is better sent twice than lost.

A row whose ticket is resolved or closed by the time it is due is not sent (outcome `skipped`;
the row is finished as `delivered` with `payload.skipped` saying why): nobody is woken for a ticket
that is already done.

Failures: a row that can never be delivered (no rule for its event, no ticket, nobody to notify)
is marked `failed` with the reason, for a human to see. An unexpected exception inside a notifier
(our bug) is recorded as a failed channel and counted in `internal_errors`, so the flow raises after
the run instead of re-sending what already went out; database errors raise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from backend.notify.config import EventRule, NotificationsConfig, load_notifications_config
from backend.notify.message import Notification, Recipient, TicketFacts, load_ticket_facts, render_notification
from backend.notify.notifiers import Notifier, NotifyError

logger = logging.getLogger(__name__)

PAGE_KIND = "page"
NOTIFY_KIND = "notify"
# The pipeline's page rows carry no event name: a page is always for a P1 ticket.
PAGE_EVENT = "p1_created"

ChannelOutcome = Literal["delivered", "retry", "failed", "already_delivered", "already_failed"]
RowOutcome = Literal["delivered", "retry", "failed", "skipped"]


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    outcome: ChannelOutcome
    target: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RowResult:
    outbox_id: int
    ticket_id: int | None
    kind: str
    event: str | None
    outcome: RowOutcome
    channels: tuple[ChannelResult, ...] = ()
    error: str | None = None


@dataclass
class NotifyReport:
    rows: list[RowResult] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)

    def _count(self, outcome: RowOutcome) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def delivered(self) -> int:
        return self._count("delivered")

    @property
    def retry(self) -> int:
        return self._count("retry")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def skipped(self) -> int:
        """Rows not sent because their ticket was resolved or closed before delivery."""
        return self._count("skipped")

    @property
    def sent(self) -> int:
        """Messages that went out in this run (one per channel delivered)."""
        return sum(1 for row in self.rows for channel in row.channels if channel.outcome == "delivered")


def enqueue_notification(
    conn: psycopg.Connection,
    *,
    ticket_id: int,
    event: str,
    idempotency_key: str,
    payload: dict[str, Any],
    available_at: datetime | None = None,
) -> bool:
    """Queue a `notify` row for `event` (a rule of `notifications.events`), once per key, in the
    caller's transaction. Returns False when the key was already queued."""
    row = conn.execute(
        """
        insert into outbox (kind, ticket_id, idempotency_key, payload, available_at)
        values (%s, %s, %s, %s, coalesce(%s, now()))
        on conflict (idempotency_key) do nothing
        returning outbox_id
        """,
        (
            NOTIFY_KIND,
            ticket_id,
            idempotency_key,
            Jsonb({**payload, "event": event, "ticket_id": ticket_id}),
            available_at,
        ),
    ).fetchone()
    return row is not None


def deliver_notifications(
    conn: psycopg.Connection,
    notifiers: Mapping[str, Notifier],
    *,
    now: datetime,
    config: NotificationsConfig | None = None,
    limit: int = 100,
) -> NotifyReport:
    """Deliver up to `limit` due `page` and `notify` outbox rows through `notifiers` (channel name ->
    notifier, see `build_notifiers`). `config` defaults to the policy's `notifications:` section."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    config = config or _default_config()
    with conn.transaction():
        due = [
            int(row[0])
            for row in conn.execute(
                """
                select outbox_id from outbox
                where kind in (%s, %s) and status = 'pending' and available_at <= %s
                order by available_at, outbox_id
                limit %s
                """,
                (PAGE_KIND, NOTIFY_KIND, now, limit),
            ).fetchall()
        ]
    report = NotifyReport()
    for outbox_id in due:
        with conn.transaction():
            result = _deliver_row(conn, outbox_id, notifiers, config, now, report)
        if result is not None:
            report.rows.append(result)
            logger.info("notification outbox %s (ticket %s): %s", outbox_id, result.ticket_id, result.outcome)
    return report


def _default_config() -> NotificationsConfig:
    from backend.policy.model import load_policy
    from backend.settings import get_settings

    return load_notifications_config(load_policy(get_settings().policy_path))


def _deliver_row(
    conn: psycopg.Connection,
    outbox_id: int,
    notifiers: Mapping[str, Notifier],
    config: NotificationsConfig,
    now: datetime,
    report: NotifyReport,
) -> RowResult | None:
    row = conn.execute(
        """
        select kind, ticket_id, payload, attempts from outbox
        where outbox_id = %s and status = 'pending' and available_at <= %s
        for update skip locked
        """,
        (outbox_id, now),
    ).fetchone()
    if row is None:
        return None  # delivered, or taken by another worker, meanwhile
    kind, ticket_id, payload, attempts = row
    payload = payload or {}
    event = PAGE_EVENT if kind == PAGE_KIND else payload.get("event")

    def fail(reason: str) -> RowResult:
        _finish_row(conn, outbox_id, "failed", attempts + 1, reason, now)
        return RowResult(outbox_id, ticket_id, kind, event, "failed", error=reason)

    rule = config.rule_for(event)
    if rule is None:
        return fail(f"notifications.events has no rule for event {event!r}")
    if ticket_id is None:
        return fail("outbox row has no ticket")
    try:
        ticket = load_ticket_facts(conn, ticket_id)
    except LookupError as error:
        return fail(str(error))
    if ticket.status in ("resolved", "closed"):
        # Nobody needs waking for a ticket already done (e.g. a backlog of old pages at a first
        # deployment). The row is finished; payload.skipped says why nothing was sent.
        reason = f"not sent: ticket {ticket.ticket_id} was already {ticket.status}"
        conn.execute(
            """
            update notification_deliveries set status = 'failed', last_error = %s
            where outbox_id = %s and status = 'pending'
            """,
            (reason, outbox_id),
        )
        conn.execute(
            """
            update outbox set status = 'delivered', attempts = %s, delivered_at = %s,
                              payload = payload || jsonb_build_object('skipped', %s::text)
            where outbox_id = %s
            """,
            (attempts + 1, now, reason, outbox_id),
        )
        return RowResult(outbox_id, ticket_id, kind, event, "skipped", error=reason)
    recipient = _recipient(config, rule, ticket, payload, now)
    if recipient is None:
        return fail(f"nobody to notify for {event}: no queue lead for {ticket.route!r} and no on-call rotation")
    notification = render_notification(
        key=f"tier0-{kind}-{outbox_id}",
        severity="page" if kind == PAGE_KIND else "notify",
        event=str(event),
        payload=payload,
        ticket=ticket,
        recipient=recipient,
        ticket_url_base=config.ticket_url_base,
    )
    earlier = {
        channel: status
        for channel, status in conn.execute(
            "select channel, status from notification_deliveries where outbox_id = %s", (outbox_id,)
        ).fetchall()
    }
    results: list[ChannelResult] = []
    retry_after = 0.0
    for channel in rule.channels:
        if earlier.get(channel) in ("delivered", "failed"):
            results.append(
                ChannelResult(channel, "already_delivered" if earlier[channel] == "delivered" else "already_failed")
            )
            continue
        result, wait = _send_on_channel(
            conn, outbox_id, kind, str(event), channel, notification, notifiers, now, report
        )
        results.append(result)
        retry_after = max(retry_after, wait)

    attempts_now = attempts + 1
    outcomes = {result.outcome for result in results}
    errors = "; ".join(f"{result.channel}: {result.error}" for result in results if result.error)
    if outcomes <= {"delivered", "already_delivered"}:
        _finish_row(conn, outbox_id, "delivered", attempts_now, None, now)
        row_outcome: RowOutcome = "delivered"
    elif "retry" in outcomes and attempts_now < config.delivery.max_attempts:
        delay = max(config.delivery.retry_delay(attempts_now), timedelta(seconds=retry_after))
        conn.execute(
            "update outbox set attempts = %s, last_error = %s, available_at = %s where outbox_id = %s",
            (attempts_now, errors[:2000], now + delay, outbox_id),
        )
        row_outcome = "retry"
    else:
        conn.execute(
            """
            update notification_deliveries set status = 'failed', last_error = coalesce(last_error, 'gave up')
            where outbox_id = %s and status = 'pending'
            """,
            (outbox_id,),
        )
        reason = errors or "a channel failed earlier"
        if "retry" in outcomes:
            reason = f"gave up after {attempts_now} attempts: {reason}"
        _finish_row(conn, outbox_id, "failed", attempts_now, reason, now)
        row_outcome = "failed"
    return RowResult(outbox_id, ticket_id, kind, event, row_outcome, tuple(results), error=errors or None)


def _send_on_channel(
    conn: psycopg.Connection,
    outbox_id: int,
    kind: str,
    event: str,
    channel: str,
    notification: Notification,
    notifiers: Mapping[str, Notifier],
    now: datetime,
    report: NotifyReport,
) -> tuple[ChannelResult, float]:
    """Send on one channel and record the outcome; returns it and the wait the channel asked for."""
    recipient = notification.recipient
    notifier = notifiers.get(channel)
    try:
        if notifier is None:
            raise NotifyError(f"no notifier for channel {channel!r} (is its environment variable set?)", retryable=True)
        where = notifier.send(notification)
    except NotifyError as error:
        status = "pending" if error.retryable else "failed"
        _record_channel(conn, outbox_id, channel, notification, status, str(error), now)
        logger.warning("notification outbox %s on %s: %s (%s)", outbox_id, channel, error, status)
        outcome: ChannelOutcome = "retry" if error.retryable else "failed"
        return ChannelResult(channel, outcome, recipient.person, str(error)), error.retry_after or 0.0
    except Exception as error:  # our bug inside a notifier: record it, never resend what went out
        logger.exception("notification outbox %s on %s: unexpected error", outbox_id, channel)
        message = f"internal error: {type(error).__name__}: {error}"
        report.internal_errors.append(f"outbox {outbox_id} on {channel}: {message}")
        _record_channel(conn, outbox_id, channel, notification, "failed", message, now)
        return ChannelResult(channel, "failed", recipient.person, message), 0.0
    _record_channel(conn, outbox_id, channel, notification, "delivered", None, now)
    event_type = "paged" if kind == PAGE_KIND else "notified"
    conn.execute(
        """
        insert into ticket_events (ticket_id, event_type, occurred_at, actor, data, dedupe_key)
        values (%s, %s, %s, 'system', %s, %s)
        on conflict (dedupe_key) do nothing
        """,
        (
            notification.ticket_id,
            event_type,
            now,
            Jsonb(
                {
                    "channel": channel,
                    "target": recipient.person,
                    "address": where,
                    "role": recipient.role,
                    "event": event,
                    "outbox_id": outbox_id,
                }
            ),
            f"{event_type}:{outbox_id}:{channel}",
        ),
    )
    return ChannelResult(channel, "delivered", recipient.person), 0.0


def _record_channel(
    conn: psycopg.Connection,
    outbox_id: int,
    channel: str,
    notification: Notification,
    status: str,
    error: str | None,
    now: datetime,
) -> None:
    conn.execute(
        """
        insert into notification_deliveries (outbox_id, channel, ticket_id, event, target, target_role, status,
                                             attempts, last_error, last_attempt_at, delivered_at)
        values (%(outbox_id)s, %(channel)s, %(ticket_id)s, %(event)s, %(target)s, %(role)s, %(status)s, 1,
                %(error)s, %(now)s, case when %(status)s = 'delivered' then %(now)s end)
        on conflict (outbox_id, channel) do update
            set status = excluded.status,
                attempts = notification_deliveries.attempts + 1,
                last_error = coalesce(excluded.last_error, notification_deliveries.last_error),
                last_attempt_at = excluded.last_attempt_at,
                delivered_at = excluded.delivered_at,
                target = excluded.target,
                target_role = excluded.target_role
        """,
        {
            "outbox_id": outbox_id,
            "channel": channel,
            "ticket_id": notification.ticket_id,
            "event": notification.event,
            "target": notification.recipient.person,
            "role": notification.recipient.role,
            "status": status,
            "error": None if error is None else error[:2000],
            "now": now,
        },
    )


def _finish_row(
    conn: psycopg.Connection,
    outbox_id: int,
    status: Literal["delivered", "failed"],
    attempts: int,
    error: str | None,
    now: datetime,
) -> None:
    conn.execute(
        """
        update outbox set status = %s, attempts = %s, last_error = %s,
                          delivered_at = case when %s = 'delivered' then %s::timestamptz end
        where outbox_id = %s
        """,
        (status, attempts, None if error is None else error[:2000], status, now, outbox_id),
    )


def _recipient(
    config: NotificationsConfig, rule: EventRule, ticket: TicketFacts, payload: dict[str, Any], now: datetime
) -> Recipient | None:
    """Who gets it: the on-call person, or the lead of the ticket's queue (the on-call person when
    the queue has no lead, e.g. the AI's tier-0 queue)."""
    person_key: str | None = None
    role = rule.notify
    if rule.notify == "queue_lead":
        route = str(payload.get("route") or ticket.route)
        person_key = config.lead_of(route)
        if person_key is not None:
            role = "queue_lead"
    if person_key is None and config.on_call is not None:
        person_key = config.on_call.person_at(now)
        role = "on_call"
    if person_key is None or person_key not in config.people:
        return None
    person = config.people[person_key]
    return Recipient(person_key, person.name, person.email, person.slack_user_id, role)
