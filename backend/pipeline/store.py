"""Stage 1: store raw messages. Idempotent on (mailbox, source id): a retry, a crash or a re-run
of any source never stores a second copy. Each message is committed on its own, so a crash loses
at most the message being stored, which the next run stores again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg

from backend.mail.sources import SourceMessage


@dataclass
class StoreReport:
    seen: int = 0
    stored: int = 0
    already_stored: int = 0
    stored_ids: list[str] = field(default_factory=list)


def store_message(conn: psycopg.Connection, mailbox: str, message: SourceMessage) -> bool:
    """True when the message was new. The raw bytes are kept exactly as delivered."""
    with conn.transaction():
        row = conn.execute(
            """
            insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, source_label, thread_hint,
                                  source_received_at)
            values (%s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (mailbox, source_id) do nothing
            returning message_pk
            """,
            (
                mailbox,
                message.source_id,
                message.raw,
                hashlib.sha256(message.raw).hexdigest(),
                len(message.raw),
                message.label,
                message.thread_hint,
                message.source_received_at,
            ),
        ).fetchone()
    return row is not None


def store_messages(
    conn: psycopg.Connection,
    mailbox: str,
    messages: Iterable[SourceMessage],
    *,
    after_each: Callable[[SourceMessage, bool], object] | None = None,
) -> StoreReport:
    report = StoreReport()
    for message in messages:
        report.seen += 1
        is_new = store_message(conn, mailbox, message)
        if is_new:
            report.stored += 1
            report.stored_ids.append(message.source_id)
        else:
            report.already_stored += 1
        if after_each is not None:
            after_each(message, is_new)
    return report
