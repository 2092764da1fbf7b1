"""What a page or a notification says, independent of the channel that carries it.

`load_ticket_facts` reads the ticket a notification is about; `render_notification` turns an outbox
row (its kind, event and payload), the ticket and the recipient into a `Notification`: a one-line
title, a few lines of facts and a link. Channels (Slack, email) only lay it out.

Text from the customer (the ticket summary, the account name) is carried as is; each channel escapes
it for its own format. Failures are ours: a ticket that does not exist raises `LookupError`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import psycopg

Severity = Literal["page", "notify"]
_TITLE_LIMIT = 140


@dataclass(frozen=True)
class Recipient:
    """A person of the policy's `notifications.people`, and why they get this (on_call, queue_lead)."""

    person: str
    name: str
    email: str | None
    slack_user_id: str | None
    role: str


@dataclass(frozen=True)
class Notification:
    key: str  # stable for one outbox row: the email Message-ID is derived from it
    severity: Severity
    event: str
    ticket_id: int
    title: str
    lines: tuple[str, ...]
    url: str | None
    recipient: Recipient


@dataclass(frozen=True)
class TicketFacts:
    ticket_id: int
    public_id: str
    summary: str
    priority: str
    category: str
    product_area: str
    tier: int
    route: str
    status: str
    account_name: str | None
    timezone: str | None
    created_at: datetime


def load_ticket_facts(conn: psycopg.Connection, ticket_id: int) -> TicketFacts:
    row = conn.execute(
        """
        select t.ticket_id, t.public_id::text, t.summary, t.priority, t.category, t.product_area, t.tier,
               t.route, t.status, a.name, a.timezone, t.created_at
        from tickets t left join accounts a on a.account_id = t.account_id
        where t.ticket_id = %s
        """,
        (ticket_id,),
    ).fetchone()
    if row is None:
        raise LookupError(f"ticket {ticket_id} does not exist")
    return TicketFacts(*row)


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _local(instant: str | None, timezone: str | None) -> str:
    if not instant:
        return "unknown"
    moment = datetime.fromisoformat(instant)
    if timezone:
        # A bad account timezone shows the instant as stored rather than fail a page.
        with contextlib.suppress(ValueError, KeyError):
            moment = moment.astimezone(ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def _clock_name(clock: str) -> str:
    return "first response" if clock == "first_response" else "resolution"


def render_notification(
    *,
    key: str,
    severity: Severity,
    event: str,
    payload: dict[str, Any],
    ticket: TicketFacts,
    recipient: Recipient,
    ticket_url_base: str | None,
) -> Notification:
    """The message for `event` (p1_created or sla_breach) about `ticket`, addressed to `recipient`."""
    account = ticket.account_name or "unknown account"
    where = f"tier {ticket.tier} ({ticket.route})"
    facts = [
        f"Account: {account}",
        f"Priority {ticket.priority}, {ticket.category}, product area {ticket.product_area}",
        f"Queue now: {where}",
    ]
    if event == "sla_breach":
        clock = str(payload.get("clock", ""))
        title = f"SLA breach: {ticket.priority} ticket #{ticket.ticket_id} missed its {_clock_name(clock)} target"
        facts.insert(0, f"{_clock_name(clock).capitalize()} was due {_local(payload.get('due'), ticket.timezone)}")
        if payload.get("escalated"):
            facts.append(
                f"Escalated automatically from tier {payload.get('from_tier')} ({payload.get('from_route')}) "
                f"to tier {payload.get('to_tier')} ({payload.get('to_route')})"
            )
        else:
            facts.append(f"Not escalated: {payload.get('not_escalated_because', 'no higher tier')}")
    else:
        title = f"{ticket.priority} page: ticket #{ticket.ticket_id} ({account}): {ticket.summary}"
    facts.insert(0, f"Summary: {_one_line(ticket.summary, 300)}")
    facts.append(f"You get this as {recipient.role.replace('_', ' ')}.")
    url = f"{ticket_url_base.rstrip('/')}/tickets/{ticket.ticket_id}" if ticket_url_base else None
    return Notification(
        key=key,
        severity=severity,
        event=event,
        ticket_id=ticket.ticket_id,
        title=_one_line(title, _TITLE_LIMIT),
        lines=tuple(facts),
        url=url,
        recipient=recipient,
    )
