"""One ticket as OPS needs it to decide: the ticket, its SLA clocks, the email's new text, the
customer (account, plan, MRR, renewal, the account's open and recent tickets), linked incidents,
drafts with their delivery state, and the full event history.

Read in one transaction so the parts agree with each other. An unknown ticket raises
`NotFoundError` (the caller's); everything else is ours.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from backend.api.errors import NotFoundError
from backend.api.rows import fetch_drafts, fetch_events, fetch_ticket
from backend.api.schemas import (
    AccountOut,
    CustomerContext,
    EmailOut,
    IncidentOut,
    TicketBrief,
    TicketDetail,
)
from backend.api.sla_view import SlaCache, pauses_from_events
from backend.policy.model import Policy

RECENT_TICKETS = 10
OPEN_TICKETS = 20

_BRIEF = "select ticket_id, summary, status, tier, priority, category, created_at, resolved_at from tickets"


def ticket_detail(
    conn: psycopg.Connection,
    ticket_id: int,
    *,
    policy: Policy,
    now: datetime,
    sla_cache: SlaCache | None = None,
) -> TicketDetail:
    """The ticket's full picture at `now` (SLA states through `sla_cache` when given, so the
    detail agrees with the queue listing it was opened from)."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        ticket = fetch_ticket(conn, ticket_id)
        if ticket is None:
            raise NotFoundError(f"ticket {ticket_id} not found")
        events = fetch_events(conn, ticket_id)
        drafts = fetch_drafts(conn, ticket_id)
        email_row = cursor.execute(
            """select m.message_pk, m.subject, m.from_address, m.from_name, m.sent_at, m.reply_text as new_text,
                      t.request_text, c.email as contact_email
               from tickets t join messages m on m.message_pk = t.message_pk
               left join contacts c on c.contact_id = t.contact_id
               where t.ticket_id = %s""",
            (ticket_id,),
        ).fetchone()
        assert email_row is not None
        account = None
        open_tickets: list[TicketBrief] = []
        recent_tickets: list[TicketBrief] = []
        timezone = None
        if ticket.account_id:
            account_row = cursor.execute(
                """select account_id, name, timezone, plan, mrr_usd, contract_start, renewal_date, onboarding_status,
                          integration
                   from accounts where account_id = %s""",
                (ticket.account_id,),
            ).fetchone()
            if account_row:
                account = AccountOut.model_validate(account_row)
                timezone = account.timezone
            open_tickets = [
                TicketBrief.model_validate(row)
                for row in cursor.execute(
                    f"""{_BRIEF} where account_id = %s and ticket_id <> %s and status in ('open', 'pending_customer')
                        order by created_at desc, ticket_id desc limit %s""",
                    (ticket.account_id, ticket_id, OPEN_TICKETS),
                ).fetchall()
            ]
            recent_tickets = [
                TicketBrief.model_validate(row)
                for row in cursor.execute(
                    f"""{_BRIEF} where account_id = %s and ticket_id <> %s
                        order by created_at desc, ticket_id desc limit %s""",
                    (ticket.account_id, ticket_id, RECENT_TICKETS),
                ).fetchall()
            ]
        incidents = [
            IncidentOut.model_validate(row)
            for row in cursor.execute(
                """select i.incident_id, i.title, i.product_area, i.integration, i.customer_message, i.started_at,
                          i.ended_at
                   from ticket_incidents ti join incidents i on i.incident_id = ti.incident_id
                   where ti.ticket_id = %s order by i.started_at""",
                (ticket_id,),
            ).fetchall()
        ]
    pauses = pauses_from_events(
        [(event.event_type, event.occurred_at) for event in events], is_waiting=ticket.status == "pending_customer"
    )
    cache = sla_cache if sla_cache is not None else SlaCache(policy, resolution=timedelta(0), size=0)
    sla = cache.ticket_sla(
        priority=ticket.priority,
        created_at=ticket.created_at,
        timezone=timezone,
        first_responded_at=ticket.first_responded_at,
        resolved_at=ticket.resolved_at,
        pauses=pauses,
        at=now,
    )
    contact_email = email_row.pop("contact_email")
    return TicketDetail(
        ticket=ticket,
        sla=sla.view,
        email=EmailOut.model_validate(email_row),
        customer=CustomerContext(
            account=account, contact_email=contact_email, open_tickets=open_tickets, recent_tickets=recent_tickets
        ),
        incidents=incidents,
        drafts=drafts,
        events=events,
    )
