"""The reply we send for an approved draft: an RFC 5322 message threaded under the customer's email.

Threading (RFC 5322 section 3.6.4; Gmail needs the same three for a reply to join the thread, see
the Gmail API guide "Sending email" / threads):
  * In-Reply-To: the Message-ID of the customer's latest email in the conversation;
  * References: that email's References (or, without them, its single In-Reply-To id), then its
    Message-ID. A very long chain keeps the first id and the most recent ones (mail clients trim
    the same way; the first id is the thread's root);
  * Subject: the customer's subject with "Re: " in front, unless it already starts with a reply
    prefix (no "Re: Re:").
Gmail additionally gets the thread id (`threadId`) by the sender, see senders.py.

The recipient is the ticket's contact: the address the customer wrote from. A `Reply-To` in the
customer's email is deliberately not followed: the ticket's account was matched on the From
address, and an answer about that account goes back to it, not to whatever address a message
asks for.

Our own Message-ID (a random id on our support domain, short enough never to be folded) is generated here and stored
before the first send attempt (reply_sends), and registered as ours in conversation_message_ids,
so the customer's answer to it threads into the conversation and our mail never loops back as a
new request.

Headers against auto-responder loops and noise:
  * `X-Auto-Response-Suppress: OOF, AutoReply` on every reply: Exchange/Outlook then sends no
    out-of-office or auto-reply to it ([MS-OXCMAIL] 2.2.3.2.14). Delivery and non-delivery
    reports are NOT suppressed ("All" would): a bounce is how we learn a reply never arrived.
  * `Auto-Submitted: auto-replied` only on Tier-0 auto-sent replies. RFC 3834 section 5 defines it
    for responses generated automatically; a reply a person read and approved is that person's
    answer, and marking it automatic would let the customer's filters treat it as machine mail.
    RFC 3834-compliant responders (vacation notices) answer neither kind to a support address
    thanks to the first header and their own rules; ours recognise both on the way in.
  * No `Precedence: bulk`: it is not a standard (RFC 3834 section 3.1.8 only tells responders to
    honour it) and marks a personal answer as bulk mail to spam filters.

Failures: a draft or ticket that cannot be answered (no customer email, no address) raises
`ReplyNotPossible` (the row fails for a human to look at, it is never retried). Everything else
is ours.
"""

from __future__ import annotations

import email.policy
import email.utils
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

import psycopg

from backend.mail.threading import looks_like_reply

MAX_REFERENCES = 20
AUTO_RESPONSE_SUPPRESS = "OOF, AutoReply"
AUTO_SUBMITTED = "auto-replied"


class ReplyNotPossible(Exception):
    """The draft's ticket has no customer email to answer (no Message-ID or no sender address)."""


@dataclass(frozen=True)
class ReplyContext:
    ticket_id: int
    draft_id: int
    conversation_id: int
    body: str
    to_address: str
    to_name: str | None
    subject: str
    in_reply_to: str
    references: tuple[str, ...]
    gmail_thread_id: str | None


@dataclass(frozen=True)
class OutgoingMessage:
    """What a sender needs: the exact bytes, the envelope, and Gmail's thread id."""

    raw: bytes
    message_id: str
    envelope_from: str
    recipients: tuple[str, ...]
    subject: str
    gmail_thread_id: str | None = None


def reply_subject(subject: str | None) -> str:
    original = " ".join((subject or "").split())
    if looks_like_reply(original):
        return original
    return f"Re: {original}".strip()


def reference_chain(parent_message_id: str, parent_references: list[str], parent_in_reply_to: list[str]) -> list[str]:
    """RFC 5322 3.6.4: the parent's References (else its single In-Reply-To), then the parent."""
    chain = (
        list(parent_references)
        if parent_references
        else (list(parent_in_reply_to) if len(parent_in_reply_to) == 1 else [])
    )
    chain = [message_id for message_id in chain if message_id != parent_message_id] + [parent_message_id]
    unique = list(dict.fromkeys(chain))
    if len(unique) > MAX_REFERENCES:
        unique = [unique[0], *unique[-(MAX_REFERENCES - 1) :]]
    return unique


def new_message_id(from_address: str, *, ticket_id: int, draft_id: int) -> str:
    """Unique and short: `make_msgid`'s ids (time, pid, random, idstring) grow past the 78-character
    line a header should keep to (RFC 5322 2.1.1) once ticket ids are long, and then get folded."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{uuid.uuid4().hex[:20]}.t{ticket_id}.d{draft_id}@{domain}>"


def load_reply_context(conn: psycopg.Connection, draft_id: int) -> ReplyContext:
    """The draft, its ticket's contact, and the customer email the reply answers: the latest
    customer email of the conversation that became or updated a ticket (else the ticket's own)."""
    row = conn.execute(
        """
        select d.ticket_id, d.body, t.conversation_id, t.message_pk, c.gmail_thread_id
        from drafts d join tickets t on t.ticket_id = d.ticket_id
        join conversations c on c.conversation_id = t.conversation_id
        where d.draft_id = %s
        """,
        (draft_id,),
    ).fetchone()
    if row is None:
        raise ReplyNotPossible(f"draft {draft_id} does not exist")
    ticket_id, body, conversation_id, ticket_message_pk, conversation_thread = row
    parent = conn.execute(
        """
        select message_id, references_ids, in_reply_to, subject, from_address, from_name, thread_hint
        from messages
        where message_id is not null and direction = 'inbound'
          and (message_pk = %s
               or (conversation_id = %s and outcome in ('tickets_created', 'followup_attached')))
        order by coalesce(sent_at, ingested_at) desc, message_pk desc
        limit 1
        """,
        (ticket_message_pk, conversation_id),
    ).fetchone()
    if parent is None:
        raise ReplyNotPossible(f"ticket {ticket_id} has no customer email with a Message-ID to reply to")
    message_id, references, in_reply_to, subject, from_address, from_name, thread_hint = parent
    if not from_address:
        raise ReplyNotPossible(f"the email ticket {ticket_id} answers has no sender address")
    return ReplyContext(
        ticket_id=ticket_id,
        draft_id=draft_id,
        conversation_id=conversation_id,
        body=body,
        to_address=from_address,
        to_name=from_name,
        subject=reply_subject(subject),
        in_reply_to=message_id,
        references=tuple(reference_chain(message_id, list(references or []), list(in_reply_to or []))),
        gmail_thread_id=thread_hint or conversation_thread,
    )


def compose_reply(
    context: ReplyContext,
    *,
    from_address: str,
    from_name: str | None,
    message_id: str,
    date: datetime,
    automatic: bool,
) -> OutgoingMessage:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = email.utils.formataddr((from_name or "", from_address))
    message["To"] = email.utils.formataddr((context.to_name or "", context.to_address))
    message["Subject"] = context.subject
    message["Date"] = email.utils.format_datetime(date)
    message["Message-ID"] = message_id
    message["In-Reply-To"] = context.in_reply_to
    message["References"] = " ".join(context.references)
    message["X-Auto-Response-Suppress"] = AUTO_RESPONSE_SUPPRESS
    if automatic:
        message["Auto-Submitted"] = AUTO_SUBMITTED
    body = context.body if context.body.endswith("\n") else context.body + "\n"
    message.set_content(body, charset="utf-8")
    return OutgoingMessage(
        raw=message.as_bytes(),
        message_id=message_id,
        envelope_from=from_address,
        recipients=(context.to_address,),
        subject=context.subject,
        gmail_thread_id=context.gmail_thread_id,
    )
