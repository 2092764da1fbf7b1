"""Reading tickets, events and drafts into the API's response models (one place for the columns)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from backend.api.schemas import DraftOut, EventOut, TicketOut

TICKET_COLUMNS = """
    t.ticket_id, t.public_id, t.status, t.tier, t.route, t.priority, t.category, t.product_area, t.integration,
    t.summary, t.sentiment, t.confidence, t.top_categories, t.signals, t.is_flagged_for_review, t.assignee,
    t.account_id, t.created_at, t.first_response_due_at, t.resolution_due_at, t.first_responded_at, t.resolved_at,
    t.resolved_tier
"""

EVENT_COLUMNS = """
    e.event_id, e.event_type, e.occurred_at, e.actor, e.from_tier, e.to_tier, e.from_route, e.to_route,
    e.message_pk, e.data
"""

# What happened to an approved draft's reply: the outbox row (queued / failed) and the send record.
DRAFT_SELECT = """
    select d.draft_id, d.ticket_id, d.status, d.body, d.citations, d.generator, d.model, d.incident_id,
           d.search_score, d.is_edited, d.created_at, d.decided_at, d.decided_by, d.reject_reason, d.sent_at,
           case
               when o.outbox_id is null then null
               when o.status = 'failed' then 'failed'
               when r.status is not null then r.status
               else 'queued'
           end as send_status
    from drafts d
    left join outbox o on o.idempotency_key = 'send_reply:draft:' || d.draft_id
    left join reply_sends r on r.outbox_id = o.outbox_id
"""


def fetch_ticket(conn: psycopg.Connection, ticket_id: int) -> TicketOut | None:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(f"select {TICKET_COLUMNS} from tickets t where t.ticket_id = %s", (ticket_id,)).fetchone()
    return TicketOut.model_validate(row) if row else None


def fetch_events(conn: psycopg.Connection, ticket_id: int, *, event_ids: list[int] | None = None) -> list[EventOut]:
    query = f"select {EVENT_COLUMNS} from ticket_events e where e.ticket_id = %s"
    params: list[Any] = [ticket_id]
    if event_ids is not None:
        query += " and e.event_id = any(%s)"
        params.append(event_ids)
    query += " order by e.occurred_at, e.event_id"
    with conn.cursor(row_factory=dict_row) as cursor:
        return [EventOut.model_validate(row) for row in cursor.execute(query, params).fetchall()]


def fetch_drafts(conn: psycopg.Connection, ticket_id: int) -> list[DraftOut]:
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(f"{DRAFT_SELECT} where d.ticket_id = %s order by d.draft_id", (ticket_id,)).fetchall()
    return [DraftOut.model_validate(row) for row in rows]


def fetch_draft(conn: psycopg.Connection, draft_id: int) -> DraftOut | None:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(f"{DRAFT_SELECT} where d.draft_id = %s", (draft_id,)).fetchone()
    return DraftOut.model_validate(row) if row else None
