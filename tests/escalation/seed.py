"""Seeding helpers for escalation and notification tests: accounts, tickets and events written
straight into the rolled-back test transaction, shaped as the pipeline and the API write them."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def make_account(conn: psycopg.Connection, account_id: str, *, timezone: str = "America/Chicago") -> str:
    conn.execute(
        "insert into accounts (account_id, name, timezone) values (%s, %s, %s)",
        (account_id, f"{account_id.title()} Motors", timezone),
    )
    return account_id


def make_ticket(
    conn: psycopg.Connection,
    *,
    created_at: datetime,
    account_id: str | None = None,
    priority: str = "P2",
    tier: int = 1,
    route: str = "ops",
    category: str = "config_change",
    product_area: str = "pam_core",
    status: str = "open",
    summary: str = "Please change our Saturday service hours",
    first_responded_at: datetime | None = None,
) -> int:
    """A ticket with its conversation, message and `routed` event, as the pipeline leaves it."""
    row = conn.execute(
        "insert into conversations (account_id, subject, created_at, last_message_at) values (%s, %s, %s, %s) "
        "returning conversation_id",
        (account_id, summary, created_at, created_at),
    ).fetchone()
    assert row is not None
    raw = f"Subject: {summary}\n\n{summary}\n".encode()
    message = conn.execute(
        """
        insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, subject, account_id, conversation_id,
                              sent_at)
        values ('support@pam.example', %s, %s, %s, %s, %s, %s, %s, %s)
        returning message_pk
        """,
        (str(uuid.uuid4()), raw, hashlib.sha256(raw).hexdigest(), len(raw), summary, account_id, row[0], created_at),
    ).fetchone()
    assert message is not None
    ticket = conn.execute(
        """
        insert into tickets (conversation_id, message_pk, request_index, account_id, summary, request_text, category,
                             product_area, priority, tier, route, status, classifier, model_version, created_at,
                             first_responded_at)
        values (%s, %s, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'test', 'test', %s, %s)
        returning ticket_id
        """,
        (
            row[0],
            message[0],
            account_id,
            summary,
            summary,
            category,
            product_area,
            priority,
            tier,
            route,
            status,
            created_at,
            first_responded_at,
        ),
    ).fetchone()
    assert ticket is not None
    ticket_id = int(ticket[0])
    add_event(conn, ticket_id, "routed", created_at, to_tier=tier, to_route=route, data={"priority": priority})
    return ticket_id


def add_event(
    conn: psycopg.Connection,
    ticket_id: int,
    event_type: str,
    occurred_at: datetime,
    *,
    actor: str = "system",
    data: dict[str, Any] | None = None,
    from_tier: int | None = None,
    to_tier: int | None = None,
    from_route: str | None = None,
    to_route: str | None = None,
) -> None:
    conn.execute(
        """
        insert into ticket_events (ticket_id, event_type, occurred_at, actor, from_tier, to_tier, from_route, to_route,
                                   data)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (ticket_id, event_type, occurred_at, actor, from_tier, to_tier, from_route, to_route, Jsonb(data or {})),
    )


def events_of(conn: psycopg.Connection, ticket_id: int, *event_types: str) -> list[tuple[Any, ...]]:
    """(event_type, occurred_at, actor, from_tier, to_tier, from_route, to_route, data) in order."""
    return conn.execute(
        """
        select event_type, occurred_at, actor, from_tier, to_tier, from_route, to_route, data
        from ticket_events where ticket_id = %s and event_type = any(%s)
        order by occurred_at, event_id
        """,
        (ticket_id, list(event_types)),
    ).fetchall()


def ticket_row(conn: psycopg.Connection, ticket_id: int) -> tuple[Any, ...]:
    """(tier, route, status, first_response_due_at, resolution_due_at)."""
    row = conn.execute(
        "select tier, route, status, first_response_due_at, resolution_due_at from tickets where ticket_id = %s",
        (ticket_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)
