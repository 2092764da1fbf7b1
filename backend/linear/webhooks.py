"""Linear webhooks: verify a delivery, then mirror what engineering did onto the linked ticket.

`verify_webhook` takes the raw request body and the `Linear-Signature` header. Linear signs the
exact body bytes with HMAC-SHA256 and sends the lowercase hex digest; the body carries
`webhookTimestamp` (epoch ms) and Linear asks receivers to refuse a delivery more than a minute
from their clock, which stops an old, captured delivery from being replayed
(https://linear.app/developers/webhooks; the SDK helper at
https://linear.app/developers/sdk-webhooks does the same). The signature is checked first, in
constant time (`hmac.compare_digest`), before the body is parsed, so unauthenticated bytes are
never interpreted.

`handle_webhook` records each delivery once (`linear_webhook_deliveries`, keyed by the
`Linear-Delivery` header, else by a hash of the payload) and turns, for an issue linked to a
ticket (`linear_issues`):
  * an issue moving to a state of type `started` into a ticket event `engineering_started`,
  * type `completed` into `resolved` (the ticket is resolved, at its current tier),
  * type `canceled` into `engineering_canceled`,
  * a new comment into an `internal_note` event (except comments written as our own integration).
Other payloads (other types, issues not linked to a ticket, states we do not mirror) are recorded
as `ignored` with the reason, so every delivery ends in exactly one recorded outcome.

Failures: a delivery that is forged, stale or not JSON is the sender's; `verify_webhook` raises a
`WebhookError` subclass carrying the HTTP status the API answers (401 for a bad signature or a
stale/replayed delivery, 400 for a malformed body). A verified payload of an unexpected shape is
recorded as ignored, never retried. Database errors are ours and raise (Linear then redelivers).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from backend.linear.config import LinearConfig

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "linear-signature"
DELIVERY_HEADER = "linear-delivery"
MAX_CLOCK_SKEW = timedelta(seconds=60)

# Linear's workflow state types (WorkflowState.type) -> the ticket event we record.
STATE_EVENTS = {
    "started": "engineering_started",
    "completed": "resolved",
    "canceled": "engineering_canceled",
}
COMMENT_EVENT = "internal_note"


class WebhookError(Exception):
    """A delivery we refuse; `http_status` is what the API answers."""

    http_status = 400


class WebhookSignatureError(WebhookError):
    """Missing or wrong `Linear-Signature`: not from Linear, or altered on the way."""

    http_status = 401


class WebhookStaleError(WebhookError):
    """Signed, but `webhookTimestamp` is more than 60 s from our clock: a replay, or a broken clock."""

    http_status = 401


class WebhookMalformedError(WebhookError):
    """Signed, but the body is not a JSON object with a numeric `webhookTimestamp`."""

    http_status = 400


def sign_body(raw_body: bytes, secret: str) -> str:
    """Linear's signature of a body: lowercase hex HMAC-SHA256 keyed with the webhook secret."""
    return hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()


def verify_webhook(raw_body: bytes, signature_header: str | None, secret: str, *, now: datetime) -> dict[str, Any]:
    """The payload of an authentic, fresh delivery; raises a `WebhookError` subclass otherwise."""
    if not secret:
        raise ValueError("the Linear webhook secret is empty (LINEAR_WEBHOOK_SECRET)")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not signature_header or not signature_header.strip():
        raise WebhookSignatureError("missing linear-signature header")
    expected = sign_body(raw_body, secret).encode("ascii")
    provided = signature_header.strip().lower().encode("utf-8")
    if not hmac.compare_digest(expected, provided):
        raise WebhookSignatureError("linear-signature does not match the body")
    try:
        payload = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WebhookMalformedError(f"body is not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise WebhookMalformedError("body is not a JSON object")
    timestamp_ms = payload.get("webhookTimestamp")
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int | float):
        raise WebhookMalformedError("webhookTimestamp missing or not a number")
    skew_ms = abs(now.timestamp() * 1000 - timestamp_ms)
    if skew_ms > MAX_CLOCK_SKEW.total_seconds() * 1000:
        raise WebhookStaleError(f"webhookTimestamp is {skew_ms / 1000:.0f} s from now (limit 60 s)")
    return payload


@dataclass(frozen=True)
class WebhookOutcome:
    delivery_id: str
    status: Literal["recorded", "ignored", "duplicate"]
    ticket_id: int | None = None
    event_type: str | None = None  # the ticket event recorded, when status is "recorded"
    reason: str | None = None  # why nothing was recorded, when status is "ignored"


def delivery_key(payload: Mapping[str, Any], delivery_id: str | None) -> str:
    """The `Linear-Delivery` header, else a hash of the payload (stable across key order)."""
    if delivery_id and delivery_id.strip():
        return delivery_id.strip()
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def handle_webhook(
    conn: psycopg.Connection,
    payload: Mapping[str, Any],
    delivery_id: str | None,
    *,
    config: LinearConfig | None = None,
) -> WebhookOutcome:
    """Record a verified delivery once and mirror it onto its ticket (see the module docstring).

    `config` (for `own_user_ids`) defaults to the policy's `linear:` section.
    """
    own_user_ids = (config or _default_config()).own_user_ids
    key = delivery_key(payload, delivery_id)
    data = payload.get("data")
    entity_id = data.get("id") if isinstance(data, Mapping) and isinstance(data.get("id"), str) else None
    with conn.transaction():
        inserted = conn.execute(
            """
            insert into linear_webhook_deliveries
                (delivery_id, event_type, action, linear_entity_id, outcome, webhook_at)
            values (%s, %s, %s, %s, 'ignored', %s)
            on conflict (delivery_id) do nothing
            returning delivery_id
            """,
            (key, _text(payload.get("type")), _text(payload.get("action")), entity_id, _webhook_at(payload)),
        ).fetchone()
        if inserted is None:
            return WebhookOutcome(key, "duplicate")
        outcome = _apply(conn, key, payload, own_user_ids)
        conn.execute(
            "update linear_webhook_deliveries set outcome = %s, reason = %s, ticket_id = %s where delivery_id = %s",
            (outcome.status, outcome.reason, outcome.ticket_id, key),
        )
    logger.info("linear webhook %s: %s %s", key, outcome.status, outcome.event_type or outcome.reason)
    return outcome


def _default_config() -> LinearConfig:
    from backend.linear.config import load_linear_config
    from backend.policy.model import load_policy
    from backend.settings import get_settings

    return load_linear_config(load_policy(get_settings().policy_path))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _webhook_at(payload: Mapping[str, Any]) -> datetime | None:
    value = payload.get("webhookTimestamp")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _LinkedTicket:
    ticket_id: int
    tier: int
    status: str
    created_at: datetime
    identifier: str


def _linked_ticket(conn: psycopg.Connection, linear_issue_id: object) -> _LinkedTicket | None:
    if not isinstance(linear_issue_id, str):
        return None
    row = conn.execute(
        """
        select t.ticket_id, t.tier, t.status, t.created_at, li.identifier
        from linear_issues li join tickets t on t.ticket_id = li.ticket_id
        where li.linear_issue_id = %s
        for update of t
        """,
        (linear_issue_id,),
    ).fetchone()
    return _LinkedTicket(*row) if row else None


def _apply(
    conn: psycopg.Connection, key: str, payload: Mapping[str, Any], own_user_ids: Collection[str]
) -> WebhookOutcome:
    kind, action, data = payload.get("type"), payload.get("action"), payload.get("data")
    if not isinstance(data, Mapping):
        return WebhookOutcome(key, "ignored", reason="payload has no data object")
    if kind == "Issue" and action == "update":
        return _issue_update(conn, key, payload, data)
    if kind == "Comment" and action == "create":
        return _comment_created(conn, key, payload, data, own_user_ids)
    return WebhookOutcome(key, "ignored", reason=f"{kind} {action} is not mirrored")


def _insert_event(
    conn: psycopg.Connection,
    ticket: _LinkedTicket,
    event_type: str,
    occurred_at: datetime,
    actor: str,
    data: dict[str, Any],
    dedupe_key: str,
    *,
    tier: int | None = None,
) -> bool:
    row = conn.execute(
        """
        insert into ticket_events (ticket_id, event_type, occurred_at, actor, from_tier, to_tier, data, dedupe_key)
        values (%s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (dedupe_key) do nothing
        returning event_id
        """,
        (ticket.ticket_id, event_type, occurred_at, actor, tier, tier, Jsonb(data), dedupe_key),
    ).fetchone()
    return row is not None


def _issue_update(
    conn: psycopg.Connection, key: str, payload: Mapping[str, Any], data: Mapping[str, Any]
) -> WebhookOutcome:
    # `updatedFrom` holds the previous values of the fields that changed; a state change shows
    # up as its `stateId` (https://linear.app/developers/webhooks).
    updated_from = payload.get("updatedFrom")
    if not isinstance(updated_from, Mapping) or "stateId" not in updated_from:
        return WebhookOutcome(key, "ignored", reason="issue update without a state change")
    state = data.get("state")
    state_type = state.get("type") if isinstance(state, Mapping) else None
    event_type = STATE_EVENTS.get(state_type) if isinstance(state_type, str) else None
    if event_type is None:
        return WebhookOutcome(key, "ignored", reason=f"state type {state_type!r} is not mirrored")
    ticket = _linked_ticket(conn, data.get("id"))
    if ticket is None:
        return WebhookOutcome(key, "ignored", reason="issue is not linked to a ticket")
    assert isinstance(state, Mapping)
    occurred_at = (
        (_parse_time(data.get("completedAt")) if state_type == "completed" else None)
        or (_parse_time(data.get("canceledAt")) if state_type == "canceled" else None)
        or _parse_time(data.get("updatedAt"))
        or _parse_time(payload.get("createdAt"))
        or _webhook_at(payload)
        or datetime.now(UTC)
    )
    if event_type == "resolved" and ticket.status in ("resolved", "closed"):
        return WebhookOutcome(key, "ignored", ticket_id=ticket.ticket_id, reason=f"ticket already {ticket.status}")
    event_data = {
        "linear_issue_id": data.get("id"),
        "identifier": data.get("identifier") or ticket.identifier,
        "state_id": data.get("stateId") or state.get("id"),
        "state_name": state.get("name"),
        "state_type": state_type,
        "previous_state_id": updated_from.get("stateId"),
        "delivery_id": key,
    }
    dedupe = f"linear:{data.get('id')}:state:{event_data['state_id']}:{occurred_at.isoformat()}"
    tier = ticket.tier if event_type == "resolved" else None
    if not _insert_event(conn, ticket, event_type, occurred_at, "linear", event_data, dedupe, tier=tier):
        return WebhookOutcome(key, "ignored", ticket_id=ticket.ticket_id, reason="event already recorded")
    if event_type == "resolved":
        conn.execute(
            """
            update tickets
            set status = 'resolved', resolved_at = greatest(%s, created_at), resolved_tier = tier,
                updated_at = now()
            where ticket_id = %s
            """,
            (occurred_at, ticket.ticket_id),
        )
    return WebhookOutcome(key, "recorded", ticket_id=ticket.ticket_id, event_type=event_type)


def _comment_created(
    conn: psycopg.Connection,
    key: str,
    payload: Mapping[str, Any],
    data: Mapping[str, Any],
    own_user_ids: Collection[str],
) -> WebhookOutcome:
    comment_id = data.get("id")
    if not isinstance(comment_id, str) or not comment_id:
        return WebhookOutcome(key, "ignored", reason="comment has no id")
    issue = data.get("issue")
    issue_id = data.get("issueId") or (issue.get("id") if isinstance(issue, Mapping) else None)
    user_id = data.get("userId")
    if isinstance(user_id, str) and user_id in own_user_ids:
        return WebhookOutcome(key, "ignored", reason="comment written by our own integration")
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        return WebhookOutcome(key, "ignored", reason="comment has no body")
    ticket = _linked_ticket(conn, issue_id)
    if ticket is None:
        return WebhookOutcome(key, "ignored", reason="issue is not linked to a ticket")
    user = data.get("user")
    user_name = user.get("name") if isinstance(user, Mapping) else None
    occurred_at = _parse_time(data.get("createdAt")) or _webhook_at(payload) or datetime.now(UTC)
    event_data = {
        "linear_comment_id": comment_id,
        "linear_issue_id": issue_id,
        "identifier": ticket.identifier,
        "body": body,
        "user_id": user_id,
        "user_name": user_name,
        "url": payload.get("url"),
        "delivery_id": key,
    }
    actor = f"linear:{user_name or user_id or 'unknown'}"
    if not _insert_event(conn, ticket, COMMENT_EVENT, occurred_at, actor, event_data, f"linear:comment:{comment_id}"):
        return WebhookOutcome(key, "ignored", ticket_id=ticket.ticket_id, reason="event already recorded")
    return WebhookOutcome(key, "recorded", ticket_id=ticket.ticket_id, event_type=COMMENT_EVENT)
