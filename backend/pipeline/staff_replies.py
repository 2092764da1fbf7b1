"""A reply our staff sent from the support mailbox itself (Gmail's web client, Outlook), seen by
intake: it answers the conversation's open tickets, so it is their first response.

Replies written in tier0 (approved drafts, `POST /tickets/{id}/reply`) leave through the send
outbox, which records `reply_sent` and the first response itself; their Message-IDs are
registered as ours and are skipped here. Mail from our address that intake sees otherwise (a
mailbox export with sent mail, a Gmail label that holds sent mail) is a person answering by hand.
Without this, such a ticket looks unanswered: the SLA monitor would record a first-response
breach and escalate a ticket that was answered on time.

What counts as an answer, strictly (a wrong "answered" would hide a real breach):
  * the message threads into a known conversation by In-Reply-To / References (or the Gmail
    thread id), never by subject: our own subjects prove nothing;
  * it is addressed (To / Cc) to someone who wrote to us in that conversation: mail from the
    support address to engineering in the same thread is not an answer to the customer.
Each open ticket of the conversation created before the reply gets one `staff_replied` event
(dedupe key per message and ticket, so re-processing records nothing twice) and
`first_responded_at` when it had none. The message joins the conversation, so the customer's
answer to it threads even when it quotes only our message's id.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from backend.mail.message import ParsedEmail


def _conversation_of(conn: psycopg.Connection, parsed: ParsedEmail, thread_hint: str | None) -> int | None:
    for message_id in [*parsed.in_reply_to, *reversed(parsed.references)]:
        row = conn.execute(
            "select conversation_id from conversation_message_ids where message_id = %s", (message_id,)
        ).fetchone()
        if row is not None:
            return int(row[0])
    if thread_hint:
        row = conn.execute(
            """select conversation_id from conversations where gmail_thread_id = %s
               order by conversation_id desc limit 1""",
            (thread_hint,),
        ).fetchone()
        if row is not None:
            return int(row[0])
    return None


def _addressed_to_the_customer(conn: psycopg.Connection, conversation_id: int, parsed: ParsedEmail) -> bool:
    ours = (parsed.from_address or "").lower()
    recipients = [address.lower() for address in [*parsed.to_addresses, *parsed.cc_addresses] if address]
    recipients = [address for address in recipients if address != ours]
    if not recipients:
        return False
    row = conn.execute(
        "select 1 from messages where conversation_id = %s and lower(from_address) = any(%s) limit 1",
        (conversation_id, recipients),
    ).fetchone()
    return row is not None


def record_staff_reply(
    conn: psycopg.Connection, parsed: ParsedEmail, *, message_pk: int, sent_at: datetime, thread_hint: str | None
) -> list[int]:
    """Record `parsed` (from our own address, not sent by tier0) as the first response of its
    conversation's open tickets; returns their ids (empty: not an answer to a customer)."""
    conversation_id = _conversation_of(conn, parsed, thread_hint)
    if conversation_id is None or not _addressed_to_the_customer(conn, conversation_id, parsed):
        return []
    conn.execute(
        "update messages set conversation_id = %s where message_pk = %s and conversation_id is null",
        (conversation_id, message_pk),
    )
    if parsed.message_id:
        conn.execute(
            """insert into conversation_message_ids (message_id, conversation_id) values (%s, %s)
               on conflict (message_id) do nothing""",
            (parsed.message_id, conversation_id),
        )
    rows = conn.execute(
        """select ticket_id from tickets
           where conversation_id = %s and status in ('open', 'pending_customer') and created_at <= %s
           order by ticket_id for update""",
        (conversation_id, sent_at),
    ).fetchall()
    answered: list[int] = []
    for (ticket_id,) in rows:
        inserted = conn.execute(
            """insert into ticket_events (ticket_id, event_type, occurred_at, actor, message_pk, data, dedupe_key)
               values (%s, 'staff_replied', %s, %s, %s, %s, %s)
               on conflict (dedupe_key) do nothing returning event_id""",
            (
                ticket_id,
                sent_at,
                f"staff:{(parsed.from_address or '').lower()}",
                message_pk,
                Jsonb({"message_id": parsed.message_id}),
                f"staff_replied:{message_pk}:{ticket_id}",
            ),
        ).fetchone()
        if inserted is None:
            continue
        conn.execute(
            """update tickets set first_responded_at = coalesce(first_responded_at, greatest(%s, created_at)),
                                  updated_at = now()
               where ticket_id = %s""",
            (sent_at, ticket_id),
        )
        answered.append(int(ticket_id))
    return answered
