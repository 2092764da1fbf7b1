"""What a ticket's Linear issue says: its title, and a Markdown description with the customer's
context (account, plan, MRR, renewal date), the request, the email's new text, the account's
earlier tickets and a link back to the ticket. Read from Postgres, rendered without I/O.

A support engineer reading the issue should not need to open tier0 to understand who is asking
and why it matters. Customer text is quoted, not interpreted: every line goes in a block quote and
inline values are escaped, so an email cannot inject headings, links or mentions into the issue.

Failures: a ticket that does not exist is ours (`LookupError`); missing optional context (no
account, no message text) renders as "unknown" rather than failing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
from psycopg.rows import dict_row

TITLE_MAX_CHARS = 200  # Linear shows about this much in lists; the full text is in the description
MESSAGE_MAX_CHARS = 8000


@dataclass(frozen=True)
class EarlierTicket:
    ticket_id: int
    created_at: datetime
    summary: str
    category: str
    status: str
    linear_identifier: str | None
    linear_url: str | None


@dataclass(frozen=True)
class TicketContext:
    ticket_id: int
    public_id: str
    summary: str
    request_text: str
    category: str
    product_area: str
    integration: str | None
    priority: str
    tier: int
    route: str
    created_at: datetime
    account_id: str | None
    account_name: str | None
    plan: str | None
    mrr_usd: Decimal | None
    renewal_date: date | None
    contact_name: str | None
    subject: str | None
    reply_text: str | None
    earlier: tuple[EarlierTicket, ...] = ()


_TICKET_SQL = """
select t.ticket_id, t.public_id::text as public_id, t.summary, t.request_text, t.category,
       t.product_area, t.integration, t.priority, t.tier, t.route, t.created_at, t.account_id,
       a.name as account_name, a.plan, a.mrr_usd, a.renewal_date,
       coalesce(c.display_name, m.from_name) as contact_name, m.subject, m.reply_text
from tickets t
join messages m on m.message_pk = t.message_pk
left join accounts a on a.account_id = t.account_id
left join contacts c on c.contact_id = t.contact_id
where t.ticket_id = %s
"""

_EARLIER_SQL = """
select t.ticket_id, t.created_at, t.summary, t.category, t.status,
       li.identifier as linear_identifier, li.url as linear_url
from tickets t
left join linear_issues li on li.ticket_id = t.ticket_id
where t.account_id = %(account_id)s
  and t.ticket_id <> %(ticket_id)s
  and (t.created_at, t.ticket_id) < (%(created_at)s, %(ticket_id)s)
order by t.created_at desc, t.ticket_id desc
limit %(limit)s
"""


def load_ticket_context(conn: psycopg.Connection, ticket_id: int, *, earlier_limit: int) -> TicketContext:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(_TICKET_SQL, (ticket_id,)).fetchone()
        if row is None:
            raise LookupError(f"ticket {ticket_id} does not exist")
        earlier: list[EarlierTicket] = []
        if row["account_id"] is not None and earlier_limit > 0:
            rows = cursor.execute(
                _EARLIER_SQL,
                {
                    "account_id": row["account_id"],
                    "ticket_id": ticket_id,
                    "created_at": row["created_at"],
                    "limit": earlier_limit,
                },
            ).fetchall()
            earlier = [EarlierTicket(**item) for item in rows]
    return TicketContext(**row, earlier=tuple(earlier))


def ticket_url(base_url: str, ticket_id: int) -> str:
    """The ticket's page in tier0; also the attachment URL that finds the issue again."""
    return f"{base_url.rstrip('/')}/tickets/{ticket_id}"


_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~@!])")


def escape_inline(text: str) -> str:
    """One line of untrusted text as literal Markdown (no links, emphasis, mentions or HTML)."""
    return _INLINE_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def quote_block(text: str) -> str:
    """Untrusted multi-line text as a Markdown block quote; each line's specials escaped."""
    lines = text.strip().splitlines() or [""]
    return "\n".join(f"> {escape_inline(line)}" if line.strip() else ">" for line in lines)


def _money(value: Decimal | None) -> str:
    return f"${value:,.2f}" if value is not None else "unknown"


def render_title(context: TicketContext) -> str:
    summary = " ".join(context.summary.split()) or "(no summary)"
    title = f"{context.account_name}: {summary}" if context.account_name else summary
    if len(title) > TITLE_MAX_CHARS:
        title = title[: TITLE_MAX_CHARS - 1].rstrip() + "…"
    return title


def render_description(context: TicketContext, *, base_url: str) -> str:
    link = ticket_url(base_url, context.ticket_id)
    account = escape_inline(context.account_name) if context.account_name else "unknown account"
    renewal = context.renewal_date.isoformat() if context.renewal_date else "unknown"
    classified = [f"category `{context.category}`", f"product area `{context.product_area}`"]
    if context.integration:
        classified.append(f"integration `{context.integration}`")
    lines = [
        f"**Customer:** {account} · plan {escape_inline(context.plan or 'unknown')} · "
        f"MRR {_money(context.mrr_usd)} · renews {renewal}",
    ]
    if context.contact_name:
        lines.append(f"**From:** {escape_inline(context.contact_name)}")
    lines += [
        f"**Ticket:** [#{context.ticket_id}]({link}) · {context.priority} · tier {context.tier} · "
        f"`{context.route}` · opened {context.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        f"**Classified as:** {', '.join(classified)}",
        "",
        "### Request",
        escape_inline(context.summary) or "(no summary)",
        "",
    ]
    message = (context.reply_text or "").strip() or context.request_text.strip()
    if len(message) > MESSAGE_MAX_CHARS:
        message = message[:MESSAGE_MAX_CHARS] + "\n[… truncated; the full email is on the ticket]"
    subject = f" (subject: {escape_inline(context.subject)})" if context.subject else ""
    lines += [f"### The customer's email{subject}", quote_block(message) if message else "> (empty)", ""]
    lines.append("### Earlier tickets from this account")
    if context.earlier:
        for earlier in context.earlier:
            issue = f" · [{earlier.linear_identifier}]({earlier.linear_url})" if earlier.linear_url else ""
            lines.append(
                f"- [#{earlier.ticket_id}]({ticket_url(base_url, earlier.ticket_id)}) "
                f"{earlier.created_at.astimezone(UTC):%Y-%m-%d} · `{earlier.category}` · {earlier.status} — "
                f"{escape_inline(earlier.summary)}{issue}"
            )
    else:
        lines.append("None.")
    lines += ["", f"_Made by tier0 from [ticket #{context.ticket_id}]({link}); answer the customer there._"]
    return "\n".join(lines)
