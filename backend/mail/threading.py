"""Which conversation an email continues.

Order of evidence, strongest first: In-Reply-To, then every References entry (newest first;
comma-separated Exchange/iOS forms are split by the parser), then the Gmail thread id as a hint,
then a careful fallback: a reply-style subject ("Re: ...") from the same sender within a few days.

A message never joins a conversation that belongs to another customer account: a stranger who
quotes a ticket reference or replies to a forwarded thread starts a conversation of their own
(the ticket-reference hijack helpdesks have suffered from). An unknown sender (no account) joins
only a conversation they already took part in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from backend.accounts.resolve import Sender

# Reply and forward prefixes in the languages our customers write in (Re, Fwd, AW, WG, SV, VS, RV, TR, ...).
_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|rv|tr|ref|antw|odp|r)\s*(?:\[\d+\])?\s*[:：]\s*)+", re.IGNORECASE
)
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|vs|rv|antw|odp|r)\s*(?:\[\d+\])?\s*[:：]", re.IGNORECASE)


def normalise_subject(subject: str) -> str:
    stripped = _PREFIX.sub("", subject or "")
    return re.sub(r"\s+", " ", stripped).strip().lower()


def looks_like_reply(subject: str) -> bool:
    return bool(_REPLY_PREFIX.match(subject or ""))


@dataclass(frozen=True)
class ThreadMatch:
    conversation_id: int
    root_message_id: str | None
    evidence: str  # in_reply_to | references | gmail_thread | subject


@dataclass(frozen=True)
class ThreadLookup:
    match: ThreadMatch | None
    refused: str | None = None  # why a candidate conversation was not joined (kept for the audit trail)


def _conversation_for_ids(conn: psycopg.Connection, message_ids: list[str]) -> int | None:
    for message_id in message_ids:
        row = conn.execute(
            "select conversation_id from conversation_message_ids where message_id = %s", (message_id,)
        ).fetchone()
        if row:
            return int(row[0])
    return None


def _may_join(conn: psycopg.Connection, conversation_id: int, sender: Sender, address: str | None) -> str | None:
    """None when the sender may join the conversation, else the reason it may not."""
    row = conn.execute("select account_id from conversations where conversation_id = %s", (conversation_id,)).fetchone()
    conversation_account = row[0] if row else None
    sender_account = sender.account.account_id if sender.account else None
    if conversation_account and sender_account and conversation_account != sender_account:
        return f"sender belongs to account {sender_account}, the conversation to {conversation_account}"
    if conversation_account and not sender_account:
        took_part = conn.execute(
            "select 1 from messages where conversation_id = %s and from_address = %s limit 1",
            (conversation_id, (address or "").lower()),
        ).fetchone()
        if not took_part:
            return "sender has no account and never wrote in this conversation"
    return None


def find_conversation(
    conn: psycopg.Connection,
    *,
    in_reply_to: list[str],
    references: list[str],
    thread_hint: str | None,
    subject: str,
    sender: Sender,
    from_address: str | None,
    sent_at: datetime,
    subject_fallback_days: int,
) -> ThreadLookup:
    candidates: list[tuple[str, int | None]] = [
        ("in_reply_to", _conversation_for_ids(conn, in_reply_to)),
        ("references", _conversation_for_ids(conn, list(reversed(references)))),
    ]
    if thread_hint:
        row = conn.execute(
            "select conversation_id from conversations where gmail_thread_id = %s"
            " order by conversation_id desc limit 1",
            (thread_hint,),
        ).fetchone()
        candidates.append(("gmail_thread", int(row[0]) if row else None))
    if looks_like_reply(subject) and from_address:
        row = conn.execute(
            """
            select conversations.conversation_id
            from conversations
            join messages on messages.conversation_id = conversations.conversation_id
            where messages.from_address = %s
              and conversations.last_message_at between %s and %s
              and conversations.subject_key = %s
            order by conversations.last_message_at desc
            limit 1
            """,
            (
                from_address.lower(),
                sent_at - timedelta(days=subject_fallback_days),
                sent_at,
                normalise_subject(subject),
            ),
        ).fetchone()
        candidates.append(("subject", int(row[0]) if row else None))

    refused: str | None = None
    for evidence, conversation_id in candidates:
        if conversation_id is None:
            continue
        reason = _may_join(conn, conversation_id, sender, from_address)
        if reason:
            refused = refused or f"not threaded by {evidence}: {reason}"
            continue
        root = conn.execute(
            "select root_message_id from conversations where conversation_id = %s", (conversation_id,)
        ).fetchone()
        return ThreadLookup(ThreadMatch(conversation_id, root[0] if root else None, evidence), refused)
    return ThreadLookup(None, refused)
