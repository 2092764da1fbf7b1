"""Where a mailbox source is up to: one `mail_sync_state` row per mailbox (sql/migrations/005).

`SyncStateStore` reads and writes that row on the caller's connection. Every statement runs inside
`conn.transaction()`: a savepoint when the caller already has a transaction open (then nothing is
committed until the caller commits, so the pipeline can store messages and the checkpoint that
covers them in one transaction, and a crash loses both or neither), and a short transaction of its
own otherwise (so a read never leaves an implicit transaction open around the caller's later work).

Every failure here is ours (the database): psycopg errors propagate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import psycopg

FullSyncReason = Literal["first_sync", "history_expired"]


@dataclass(frozen=True)
class SyncState:
    mailbox: str
    history_id: int | None = None  # None: never synced; the next sync is a full sync
    last_full_sync_at: datetime | None = None
    last_full_sync_reason: FullSyncReason | None = None
    full_sync_window_start_at: datetime | None = None
    last_synced_at: datetime | None = None
    last_message_received_at: datetime | None = None
    newest_mailbox_message_at: datetime | None = None


_COLUMNS = (
    "history_id",
    "last_full_sync_at",
    "last_full_sync_reason",
    "full_sync_window_start_at",
    "last_synced_at",
    "last_message_received_at",
    "newest_mailbox_message_at",
)


class SyncStateStore:
    """The sync state of one mailbox (the `messages.mailbox` value the pipeline stores under)."""

    def __init__(self, conn: psycopg.Connection, mailbox: str) -> None:
        self.conn = conn
        self.mailbox = mailbox

    def load(self) -> SyncState:
        """The stored state, or an empty one (never synced) when the mailbox has no row."""
        with self.conn.transaction():
            row = self.conn.execute(
                f"select {', '.join(_COLUMNS)} from mail_sync_state where mailbox = %s",
                (self.mailbox,),
            ).fetchone()
        if row is None:
            return SyncState(mailbox=self.mailbox)
        values = dict(zip(_COLUMNS, row, strict=True))
        history_id = values.pop("history_id")
        return SyncState(
            mailbox=self.mailbox,
            history_id=int(history_id) if isinstance(history_id, (int, Decimal)) else None,
            **values,
        )

    def save(self, state: SyncState) -> None:
        """Insert or replace the mailbox's row with `state` (inside the caller's transaction)."""
        if state.mailbox != self.mailbox:
            raise ValueError(f"state for mailbox {state.mailbox!r} given to the store of {self.mailbox!r}")
        assignments = ", ".join(f"{column} = excluded.{column}" for column in _COLUMNS)
        with self.conn.transaction():
            self.conn.execute(
                f"insert into mail_sync_state (mailbox, {', '.join(_COLUMNS)}, updated_at) "
                f"values (%s, {', '.join(['%s'] * len(_COLUMNS))}, now()) "
                f"on conflict (mailbox) do update set {assignments}, updated_at = now()",
                (state.mailbox, *(getattr(state, column) for column in _COLUMNS)),
            )

    def stored_source_ids(self, source_ids: Iterable[str]) -> set[str]:
        """Which of these source ids the mailbox already has in `messages` (so need not be fetched)."""
        wanted = list(dict.fromkeys(source_ids))
        if not wanted:
            return set()
        with self.conn.transaction():
            rows = self.conn.execute(
                "select source_id from messages where mailbox = %s and source_id = any(%s)",
                (self.mailbox, wanted),
            ).fetchall()
        return {str(row[0]) for row in rows}
