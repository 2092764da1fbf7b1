"""Approved drafts leave as threaded replies, from the outbox, never twice.

`enqueue_send_reply` runs in the transaction that approves a draft (a person in the API, or Tier-0
auto-send) and adds one outbox row of kind `send_reply`, keyed `send_reply:draft:<draft_id>`, so
approving twice or racing an auto-send can never queue a second reply for a draft.

`deliver_send_outbox` (the Prefect flow, a CLI command) handles each due row in three steps:

1. In a transaction: lock the row (`for update skip locked`), compose the message (message.py)
   with a fresh Message-ID and store it in `reply_sends` as `sending`, register the Message-ID as
   ours, and push the row's `available_at` one lease into the future. COMMIT, before anything
   leaves: from here on every later run knows an attempt may have reached the mail server.
2. Send the stored bytes (senders.py).
3. In a transaction: record the outcome. Sent: `reply_sends` sent, the draft `sent`, a
   `reply_sent` event (dedupe key per outbox row), `tickets.first_responded_at` set on the first
   reply, the row delivered. Refused (`not_sent`): retried later with backoff when the refusal is
   temporary, else failed. Outcome `unknown`: see below.

A row found with its `reply_sends` still `sending` (a crash, or a kill, between step 1 and 3)
is never sent blindly again. The sender is asked whether a message with that Message-ID went out
(Gmail can search by Message-ID; SMTP cannot). Found: the bookkeeping of step 3 is done now.
Not confirmed: the send is marked `unknown` and the row `failed`, for a person to check the Sent
folder. The same happens when a send ends in an `unknown` outcome (the connection broke after the
message body was transmitted).

The trade-off, stated plainly: this is at-most-once. Exactly-once is impossible over SMTP (RFC
5321 6.1: a lost final reply leaves both sides unsure), so when we cannot know, we prefer a reply
that a person re-sends over a customer who gets the same answer twice. The window is small (a
crash or broken connection between handing over the message and our commit) and every such case
is visible (outbox `failed`, `reply_sends.status = 'unknown'`, the draft's send_status in the API).
With Gmail most crashes resolve themselves through the lookup.

An auto-sent reply (Tier-0 auto-send) resolved its ticket when it was queued; if it then cannot
be delivered (failed or unknown) the ticket is reopened (`reopened` event) so a person sees it.

Failures: the sender's refusals are recorded as above and never raise; a draft that is no longer
approved, or a ticket without an email to answer, fails its row with the reason. Database errors
are ours and raise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from backend.sending.config import DeliveryRules
from backend.sending.message import OutgoingMessage, ReplyNotPossible, compose_reply, load_reply_context, new_message_id
from backend.sending.senders import ReplySender, SendError, SendReceipt

logger = logging.getLogger(__name__)

SEND_REPLY_KIND = "send_reply"
REPLY_SENT_EVENT = "reply_sent"
EVENT_ACTOR = "system"

# Where tests inject a crash: after the attempt is committed and before sending, and after the
# server accepted the message but before our bookkeeping commits.
CHECKPOINTS = ("before_send", "after_send")

Outcome = Literal["sent", "found_sent", "already_sent", "retry", "failed", "unknown"]


def send_idempotency_key(draft_id: int) -> str:
    return f"send_reply:draft:{draft_id}"


def enqueue_send_reply(
    conn: psycopg.Connection,
    *,
    ticket_id: int,
    draft_id: int,
    automatic: bool,
    available_at: datetime | None = None,
) -> int:
    """Queue the reply for an approved draft, once per draft; returns the outbox row's id.
    Runs in the caller's transaction, so the row commits (or not) with the approval.
    `available_at` (default: the database's now) is when it may be sent: the approval's time."""
    key = send_idempotency_key(draft_id)
    row = conn.execute(
        """insert into outbox (kind, ticket_id, idempotency_key, payload, available_at)
           values (%s, %s, %s, %s, coalesce(%s, now()))
           on conflict (idempotency_key) do nothing returning outbox_id""",
        (SEND_REPLY_KIND, ticket_id, key, Jsonb({"draft_id": draft_id, "automatic": automatic}), available_at),
    ).fetchone()
    if row is None:
        row = conn.execute("select outbox_id from outbox where idempotency_key = %s", (key,)).fetchone()
        assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class SendResult:
    outbox_id: int
    ticket_id: int | None
    draft_id: int | None
    outcome: Outcome
    message_id: str | None = None
    error: str | None = None


@dataclass
class SendReport:
    results: list[SendResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def sent(self) -> int:
        return self.count("sent") + self.count("found_sent")


@dataclass(frozen=True)
class _Attempt:
    outbox_id: int
    ticket_id: int
    draft_id: int
    automatic: bool
    message: OutgoingMessage
    attempts: int
    look_up: bool  # an earlier attempt's outcome is unknown: look it up instead of sending


def deliver_send_outbox(
    conn: psycopg.Connection,
    sender: ReplySender,
    rules: DeliveryRules,
    *,
    limit: int = 50,
    now: datetime | None = None,
    checkpoint: Callable[[str], None] | None = None,
) -> SendReport:
    """Deliver up to `limit` due `send_reply` rows (see the module docstring); returns each outcome.
    `checkpoint` is called with each name in CHECKPOINTS; tests raise from it to simulate a crash."""
    now = now or datetime.now(UTC)
    with conn.transaction():
        due = [
            int(row[0])
            for row in conn.execute(
                """select outbox_id from outbox
                   where kind = %s and status = 'pending' and available_at <= %s
                   order by available_at, outbox_id limit %s""",
                (SEND_REPLY_KIND, now, limit),
            ).fetchall()
        ]
    report = SendReport()
    for outbox_id in due:
        result = _deliver_one(conn, sender, rules, outbox_id, now=now, checkpoint=checkpoint)
        if result is not None:
            logger.info("send_reply outbox %s (ticket %s): %s", outbox_id, result.ticket_id, result.outcome)
            report.results.append(result)
    return report


def _deliver_one(
    conn: psycopg.Connection,
    sender: ReplySender,
    rules: DeliveryRules,
    outbox_id: int,
    *,
    now: datetime,
    checkpoint: Callable[[str], None] | None,
) -> SendResult | None:
    with conn.transaction():
        claimed = _claim(conn, sender, rules, outbox_id, now=now)
    if claimed is None or isinstance(claimed, SendResult):
        return claimed
    attempt = claimed
    if attempt.look_up:
        receipt = sender.find_sent(attempt.message.message_id) if sender.can_look_up else None
        with conn.transaction():
            if receipt is not None:
                return _record_sent(conn, sender, attempt, receipt, now=now, outcome="found_sent")
            return _record_unknown(
                conn,
                attempt,
                "an earlier attempt was interrupted after it started and the mail service cannot confirm "
                "whether it was sent",
                now=now,
            )
    if checkpoint:
        checkpoint("before_send")
    try:
        receipt = sender.send(attempt.message)
    except SendError as error:
        with conn.transaction():
            if error.outcome == "unknown":
                return _record_unknown(conn, attempt, str(error), now=now)
            return _record_refused(conn, attempt, error, rules, now=now)
    if checkpoint:
        checkpoint("after_send")
    with conn.transaction():
        return _record_sent(conn, sender, attempt, receipt, now=now, outcome="sent")


def _claim(
    conn: psycopg.Connection, sender: ReplySender, rules: DeliveryRules, outbox_id: int, *, now: datetime
) -> _Attempt | SendResult | None:
    row = conn.execute(
        """select ticket_id, payload, attempts from outbox
           where outbox_id = %s and kind = %s and status = 'pending' and available_at <= %s
           for update skip locked""",
        (outbox_id, SEND_REPLY_KIND, now),
    ).fetchone()
    if row is None:
        return None  # delivered, or taken by another worker meanwhile
    ticket_id, payload, attempts = row
    draft_id = payload.get("draft_id") if isinstance(payload, dict) else None
    automatic = bool(payload.get("automatic")) if isinstance(payload, dict) else False
    if not isinstance(draft_id, int) or ticket_id is None:
        return _fail_row(conn, outbox_id, ticket_id, None, "outbox row has no draft_id or ticket", attempts)
    existing = conn.execute(
        """select status, message_id, raw, to_address, subject, attempts, is_automatic from reply_sends
           where outbox_id = %s for update""",
        (outbox_id,),
    ).fetchone()
    lease_until = now + rules.lease
    if existing is None:
        draft = conn.execute("select status from drafts where draft_id = %s for update", (draft_id,)).fetchone()
        if draft is None or draft[0] != "approved":
            state = "missing" if draft is None else draft[0]
            return _fail_row(
                conn, outbox_id, ticket_id, draft_id, f"draft {draft_id} is {state}, not approved", attempts
            )
        try:
            context = load_reply_context(conn, draft_id)
        except ReplyNotPossible as error:
            return _fail_row(conn, outbox_id, ticket_id, draft_id, str(error), attempts)
        message = compose_reply(
            context,
            from_address=rules.from_address,
            from_name=rules.from_name,
            message_id=new_message_id(rules.from_address, ticket_id=ticket_id, draft_id=draft_id),
            date=now,
            automatic=automatic,
        )
        conn.execute(
            """insert into reply_sends (outbox_id, ticket_id, draft_id, channel, message_id, to_address, subject, raw,
                                        is_automatic, status, attempts, started_at)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'sending', 1, %s)""",
            (
                outbox_id,
                ticket_id,
                draft_id,
                sender.channel,
                message.message_id,
                message.recipients[0],
                message.subject,
                message.raw,
                automatic,
                now,
            ),
        )
        # Ours before it leaves: an answer quoting it threads here and never becomes a new request.
        _register_message_id(conn, context.conversation_id, message.message_id)
        conn.execute(
            "update outbox set attempts = attempts + 1, available_at = %s where outbox_id = %s",
            (lease_until, outbox_id),
        )
        return _Attempt(outbox_id, ticket_id, draft_id, automatic, message, 1, look_up=False)

    status, message_id, raw, to_address, subject, send_attempts, is_automatic = existing
    message = OutgoingMessage(
        raw=bytes(raw),
        message_id=message_id,
        envelope_from=rules.from_address,
        recipients=(to_address,),
        subject=subject,
        gmail_thread_id=_thread_id(conn, ticket_id),
    )
    if status == "sent":
        # Bookkeeping commits with the `sent` status, so only the row itself can be behind.
        conn.execute("update outbox set status = 'delivered', delivered_at = %s where outbox_id = %s", (now, outbox_id))
        return SendResult(outbox_id, ticket_id, draft_id, "already_sent", message_id)
    if status == "sending":
        conn.execute("update outbox set available_at = %s where outbox_id = %s", (lease_until, outbox_id))
        return _Attempt(outbox_id, ticket_id, draft_id, is_automatic, message, send_attempts, look_up=True)
    if status == "unknown":
        return _fail_row(conn, outbox_id, ticket_id, draft_id, "an earlier attempt's outcome is unknown", attempts)
    # not_sent: the server refused every earlier attempt; send the same bytes again.
    conn.execute(
        "update reply_sends set status = 'sending', attempts = attempts + 1 where outbox_id = %s", (outbox_id,)
    )
    conn.execute(
        "update outbox set attempts = attempts + 1, available_at = %s where outbox_id = %s", (lease_until, outbox_id)
    )
    return _Attempt(outbox_id, ticket_id, draft_id, is_automatic, message, send_attempts + 1, look_up=False)


def _thread_id(conn: psycopg.Connection, ticket_id: int) -> str | None:
    row = conn.execute(
        """select coalesce(m.thread_hint, c.gmail_thread_id)
           from tickets t join conversations c on c.conversation_id = t.conversation_id
           join messages m on m.message_pk = t.message_pk
           where t.ticket_id = %s""",
        (ticket_id,),
    ).fetchone()
    return row[0] if row else None


def _register_message_id(conn: psycopg.Connection, conversation_id: int, message_id: str) -> None:
    conn.execute(
        """insert into conversation_message_ids (message_id, conversation_id, is_ours) values (%s, %s, true)
           on conflict (message_id) do update set is_ours = true""",
        (message_id, conversation_id),
    )


def _fail_row(
    conn: psycopg.Connection, outbox_id: int, ticket_id: int | None, draft_id: int | None, error: str, attempts: int
) -> SendResult:
    logger.warning("send_reply outbox %s (ticket %s) failed: %s", outbox_id, ticket_id, error)
    conn.execute(
        "update outbox set status = 'failed', attempts = %s, last_error = %s where outbox_id = %s",
        (attempts + 1, error[:2000], outbox_id),
    )
    return SendResult(outbox_id, ticket_id, draft_id, "failed", error=error)


def _record_sent(
    conn: psycopg.Connection,
    sender: ReplySender,
    attempt: _Attempt,
    receipt: SendReceipt,
    *,
    now: datetime,
    outcome: Outcome,
) -> SendResult:
    conn.execute("select 1 from outbox where outbox_id = %s for update", (attempt.outbox_id,))
    conn.execute(
        """update reply_sends set status = 'sent', sent_at = %s, provider_message_id = %s, provider_thread_id = %s,
                                  last_error = null
           where outbox_id = %s""",
        (now, receipt.provider_message_id, receipt.provider_thread_id, attempt.outbox_id),
    )
    if receipt.actual_message_id:
        conversation = conn.execute(
            "select conversation_id from tickets where ticket_id = %s", (attempt.ticket_id,)
        ).fetchone()
        assert conversation is not None
        _register_message_id(conn, int(conversation[0]), receipt.actual_message_id)
    conn.execute(
        "update drafts set status = 'sent', sent_at = %s where draft_id = %s and status = 'approved'",
        (now, attempt.draft_id),
    )
    data: dict[str, Any] = {
        "draft_id": attempt.draft_id,
        "outbox_id": attempt.outbox_id,
        "channel": sender.channel,
        "message_id": receipt.actual_message_id or attempt.message.message_id,
        "automatic": attempt.automatic,
    }
    conn.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, actor, data, dedupe_key)
           values (%s, %s, %s, %s, %s, %s) on conflict (dedupe_key) do nothing""",
        (attempt.ticket_id, REPLY_SENT_EVENT, now, EVENT_ACTOR, Jsonb(data), f"{REPLY_SENT_EVENT}:{attempt.outbox_id}"),
    )
    conn.execute(
        """update tickets set first_responded_at = coalesce(first_responded_at, greatest(%s, created_at)),
                              updated_at = now()
           where ticket_id = %s""",
        (now, attempt.ticket_id),
    )
    conn.execute(
        "update outbox set status = 'delivered', delivered_at = %s, last_error = null where outbox_id = %s",
        (now, attempt.outbox_id),
    )
    return SendResult(attempt.outbox_id, attempt.ticket_id, attempt.draft_id, outcome, attempt.message.message_id)


def _record_unknown(conn: psycopg.Connection, attempt: _Attempt, error: str, *, now: datetime) -> SendResult:
    message = (
        f"{error}; not re-sent, so the customer never gets it twice: check the Sent folder for Message-ID "
        f"{attempt.message.message_id} and, if it is not there, queue the reply again by hand"
    )
    conn.execute(
        "update reply_sends set status = 'unknown', last_error = %s where outbox_id = %s",
        (message[:2000], attempt.outbox_id),
    )
    conn.execute(
        "update outbox set status = 'failed', last_error = %s where outbox_id = %s", (message[:2000], attempt.outbox_id)
    )
    _reopen_if_automatic(conn, attempt, "the auto-sent reply may not have been delivered", now=now)
    logger.warning("send_reply outbox %s (ticket %s): outcome unknown: %s", attempt.outbox_id, attempt.ticket_id, error)
    return SendResult(
        attempt.outbox_id, attempt.ticket_id, attempt.draft_id, "unknown", attempt.message.message_id, error=message
    )


def _record_refused(
    conn: psycopg.Connection, attempt: _Attempt, error: SendError, rules: DeliveryRules, *, now: datetime
) -> SendResult:
    retry = error.retryable and attempt.attempts < rules.max_attempts
    conn.execute(
        "update reply_sends set status = 'not_sent', last_error = %s where outbox_id = %s",
        (str(error)[:2000], attempt.outbox_id),
    )
    if retry:
        conn.execute(
            "update outbox set available_at = %s, last_error = %s where outbox_id = %s",
            (now + rules.retry_delay(attempt.attempts), str(error)[:2000], attempt.outbox_id),
        )
    else:
        conn.execute(
            "update outbox set status = 'failed', last_error = %s where outbox_id = %s",
            (str(error)[:2000], attempt.outbox_id),
        )
        _reopen_if_automatic(conn, attempt, f"the auto-sent reply could not be delivered: {error}", now=now)
    logger.warning(
        "send_reply outbox %s (ticket %s) %s: %s",
        attempt.outbox_id,
        attempt.ticket_id,
        "will retry" if retry else "failed",
        error,
    )
    return SendResult(
        attempt.outbox_id,
        attempt.ticket_id,
        attempt.draft_id,
        "retry" if retry else "failed",
        attempt.message.message_id,
        error=str(error),
    )


def _reopen_if_automatic(conn: psycopg.Connection, attempt: _Attempt, reason: str, *, now: datetime) -> None:
    if not attempt.automatic:
        return
    reopened = conn.execute(
        """update tickets set status = 'open', resolved_at = null, resolved_tier = null, updated_at = now()
           where ticket_id = %s and status = 'resolved' returning ticket_id""",
        (attempt.ticket_id,),
    ).fetchone()
    if reopened:
        conn.execute(
            """insert into ticket_events (ticket_id, event_type, occurred_at, actor, data, dedupe_key)
               values (%s, 'reopened', %s, %s, %s, %s) on conflict (dedupe_key) do nothing""",
            (
                attempt.ticket_id,
                now,
                EVENT_ACTOR,
                Jsonb({"reason": reason, "outbox_id": attempt.outbox_id}),
                f"reopened:send_failed:{attempt.outbox_id}",
            ),
        )
