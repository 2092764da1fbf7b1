"""Rows for tests of the API, sending and Tier 0: an account, a customer email that became a
ticket (with the pipeline's created / classified / routed events), drafts, users.

Written with plain SQL against the real schema, so every constraint (draft citations, event
append-only, outbox keys) applies exactly as in production.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from backend.users.store import add_user

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday, 09:00 in Chicago
_counter = itertools.count(1)


def make_account(
    conn: psycopg.Connection,
    account_id: str = "acct-sunrise",
    *,
    name: str = "Sunrise Motors",
    timezone: str = "America/Chicago",
    plan: str = "pro",
    mrr_usd: float = 1200.0,
    renewal_date: date | None = date(2026, 9, 1),
    contract_start: date | None = date(2024, 9, 1),
) -> str:
    conn.execute(
        """insert into accounts (account_id, name, timezone, plan, mrr_usd, contract_start, renewal_date, integration)
           values (%s, %s, %s, %s, %s, %s, %s, 'tekion') on conflict (account_id) do nothing""",
        (account_id, name, timezone, plan, mrr_usd, contract_start, renewal_date),
    )
    return account_id


def make_ticket(
    conn: psycopg.Connection,
    *,
    account_id: str | None = None,
    tier: int = 0,
    route: str = "ai",
    priority: str = "P4",
    category: str = "how_to",
    product_area: str = "dashboard",
    status: str = "open",
    created_at: datetime = NOW - timedelta(hours=1),
    confidence: float | None = 0.95,
    signals: dict[str, Any] | None = None,
    sentiment: str = "neutral",
    flagged: bool = False,
    subject: str = "How do I export call reports?",
    from_address: str = "maria@sunrise-motors.example",
    from_name: str | None = "Maria Lopez",
    message_id: str | None = None,
    references: list[str] | None = None,
    thread_hint: str | None = None,
    reply_text: str = "Hi, how do I export the call reports to CSV?",
    routed: bool = True,
) -> int:
    """A processed customer email, its conversation and one ticket, with the pipeline's events."""
    n = next(_counter)
    message_id = message_id or f"<customer-{n}@sunrise-motors.example>"
    raw = f"Message-ID: {message_id}\r\nSubject: {subject}\r\n\r\n{reply_text}\r\n".encode()
    conversation_id = conn.execute(
        """insert into conversations (account_id, subject, subject_key, root_message_id, gmail_thread_id, created_at,
                                      last_message_at)
           values (%s, %s, lower(%s), %s, %s, %s, %s) returning conversation_id""",
        (account_id, subject, subject, message_id, thread_hint, created_at, created_at),
    ).fetchone()[0]  # type: ignore[index]
    contact_id = None
    if from_address:
        contact_id = conn.execute(
            """insert into contacts (email, display_name, account_id) values (%s, %s, %s)
               on conflict (email) do update set display_name = excluded.display_name returning contact_id""",
            (from_address, from_name, account_id),
        ).fetchone()[0]  # type: ignore[index]
    message_pk = conn.execute(
        """insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, thread_hint, message_id,
                                 references_ids, subject, from_address, from_name, sent_at, contact_id, account_id,
                                 conversation_id, body_text, reply_text, kind, outcome, processed_at)
           values ('support@pam.example', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'request',
                   'tickets_created', %s)
           returning message_pk""",
        (
            f"test-{n}.eml",
            raw,
            hashlib.sha256(raw).hexdigest(),
            len(raw),
            thread_hint,
            message_id,
            references or [],
            subject,
            from_address,
            from_name,
            created_at,
            contact_id,
            account_id,
            conversation_id,
            reply_text,
            reply_text,
            created_at,
        ),
    ).fetchone()[0]  # type: ignore[index]
    conn.execute(
        "insert into conversation_message_ids (message_id, conversation_id) values (%s, %s)",
        (message_id, conversation_id),
    )
    ticket_id = conn.execute(
        """insert into tickets (conversation_id, message_pk, request_index, account_id, contact_id, summary,
                                request_text, category, product_area, priority, tier, route, status, sentiment,
                                confidence, is_flagged_for_review, classifier, model_version, signals, created_at,
                                first_response_due_at, resolution_due_at, resolved_at, resolved_tier)
           values (%s, %s, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'local', 'test', %s, %s, %s, %s,
                   %s, %s)
           returning ticket_id""",
        (
            conversation_id,
            message_pk,
            account_id,
            contact_id,
            subject,
            reply_text,
            category,
            product_area,
            priority,
            tier,
            route,
            status,
            sentiment,
            confidence,
            flagged,
            Jsonb(signals or {}),
            created_at,
            created_at + timedelta(hours=8),
            created_at + timedelta(days=10),
            created_at + timedelta(minutes=30) if status in ("resolved", "closed") else None,
            tier if status in ("resolved", "closed") else None,
        ),
    ).fetchone()[0]  # type: ignore[index]
    for event_type, extra in [("created", {}), ("classified", {"category": category}), ("routed", None)]:
        if event_type == "routed" and not routed:
            continue
        conn.execute(
            """insert into ticket_events (ticket_id, event_type, occurred_at, message_pk, to_tier, to_route, data,
                                          dedupe_key)
               values (%s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                ticket_id,
                event_type,
                created_at,
                message_pk,
                tier if event_type == "routed" else None,
                route if event_type == "routed" else None,
                Jsonb(extra or {}),
                f"ticket:{ticket_id}:{event_type}",
            ),
        )
    return int(ticket_id)


def make_draft(
    conn: psycopg.Connection,
    ticket_id: int,
    *,
    body: str = "Hi Maria,\n\nGo to Reports, then Export.\n\nBest regards,\nThe Pam support team",
    generator: str = "extractive",
    status: str = "pending",
) -> int:
    citations = [] if generator == "incident" else [{"slug": "export-reports", "version": 1, "url": "https://help/x"}]
    incident_id = None
    if generator == "incident":
        incident_id = conn.execute(
            """insert into incidents (product_area, title, customer_message, started_at)
               values ('telephony', 'Calls failing', 'We are aware of the issue.', %s) returning incident_id""",
            (NOW - timedelta(hours=2),),
        ).fetchone()[0]  # type: ignore[index]
    decided = status in ("approved", "rejected", "sent")
    draft_id = conn.execute(
        """insert into drafts (ticket_id, status, body, citations, generator, incident_id, decided_at, decided_by,
                               reject_reason)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning draft_id""",
        (
            ticket_id,
            status,
            body,
            Jsonb(citations),
            generator,
            incident_id,
            NOW if decided else None,
            "user:someone" if decided else None,
            "wrong article" if status == "rejected" else None,
        ),
    ).fetchone()[0]  # type: ignore[index]
    conn.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, actor, data, dedupe_key)
           values (%s, 'drafted', %s, 'kb', %s, %s)""",
        (
            ticket_id,
            NOW - timedelta(minutes=50),
            Jsonb({"draft_id": draft_id, "generator": generator}),
            f"drafted:{draft_id}",
        ),
    )
    return int(draft_id)


def make_user(conn: psycopg.Connection, name: str, role: str) -> str:
    return add_user(conn, name, role).token


def events_of(conn: psycopg.Connection, ticket_id: int, event_type: str | None = None) -> list[tuple[Any, ...]]:
    """(event_type, actor, from_tier, to_tier, from_route, to_route, data) of the ticket, in order."""
    rows = conn.execute(
        """select event_type, actor, from_tier, to_tier, from_route, to_route, data from ticket_events
           where ticket_id = %s and (%s::text is null or event_type = %s::text) order by occurred_at, event_id""",
        (ticket_id, event_type, event_type),
    ).fetchall()
    return [tuple(row) for row in rows]
