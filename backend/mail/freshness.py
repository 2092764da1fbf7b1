"""The freshness alarm: is there mail in the mailbox that has waited too long without being ingested?

A sync that silently stops (an expired token, a paused schedule, a stuck history id) looks exactly
like a quiet inbox from inside the database. So the flow compares the mailbox itself with what we
stored:

- `newest_in_mailbox`: the receive time of the newest message the mailbox holds. From Gmail:
  `GmailSource.newest_mailbox_message_at(received_before=now - max_lag)`, i.e. the newest message
  that has already been there longer than `max_lag`.
- `newest_ingested_at`: the newest inbound message stored for the mailbox, by its receive time
  (`messages.source_received_at`, or `ingested_at` for rows that lack it: never earlier than the
  receive time, so this errs towards "fresh" only for sources that do not know receive times).
- Mail older than the last full sync's window start is outside the sync on purpose
  (`mail_sync_state.full_sync_window_start_at`), so it never counts as missing.

The mailbox is **stale** when its newest message is newer than everything we ingested (and than
the window start) *and* has waited more than `max_lag` (`now - newest_in_mailbox > max_lag`). The
second condition keeps a message that arrived a moment ago, after hours of quiet, from paging
anyone; passing the newest message *older than* `now - max_lag` makes it catch a stuck sync on a
busy mailbox too, where the very newest message is always recent.

Every check is recorded in `mail_freshness_checks` (one row per check, for the views) and updates
`mail_sync_state.newest_mailbox_message_at`. `FreshnessStatus.raise_if_stale()` raises
`FreshnessAlarm`, which the Prefect flow lets fail loudly. Failures here are ours (database, naive
datetimes): they raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg


class FreshnessAlarm(Exception):
    """The mailbox holds mail that has waited longer than the allowed lag without being ingested."""

    def __init__(self, status: FreshnessStatus) -> None:
        super().__init__(status.message)
        self.status = status


@dataclass(frozen=True)
class FreshnessStatus:
    freshness_check_id: int
    mailbox: str
    checked_at: datetime
    newest_in_mailbox_at: datetime | None
    newest_ingested_at: datetime | None
    full_sync_window_start_at: datetime | None
    lag: timedelta | None  # how far the mailbox is ahead of us (0: caught up; None: nothing to compare)
    max_lag: timedelta
    is_stale: bool

    @property
    def message(self) -> str:
        if not self.is_stale:
            return f"mailbox {self.mailbox} is fresh (lag {_describe(self.lag)}, allowed {_describe(self.max_lag)})"
        assert self.newest_in_mailbox_at is not None
        waited = self.checked_at - self.newest_in_mailbox_at
        ingested = self.newest_ingested_at.isoformat() if self.newest_ingested_at else "nothing yet"
        return (
            f"mailbox {self.mailbox} is stale: it holds mail received at {self.newest_in_mailbox_at.isoformat()} "
            f"({_describe(waited)} ago, allowed {_describe(self.max_lag)}) but the newest message ingested was "
            f"received at {ingested}. Check the Gmail sync flow's last runs, its credentials and mail_sync_state."
        )

    def raise_if_stale(self) -> None:
        if self.is_stale:
            raise FreshnessAlarm(self)


def _describe(span: timedelta | None) -> str:
    if span is None:
        return "unknown"
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _require_aware(name: str, moment: datetime | None) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got {moment!r}")


def newest_ingested_at(conn: psycopg.Connection, mailbox: str) -> datetime | None:
    """The receive time of the newest inbound message stored for the mailbox."""
    row = conn.execute(
        "select coalesce(source_received_at, ingested_at) from messages "
        "where mailbox = %s and direction = 'inbound' "
        "order by coalesce(source_received_at, ingested_at) desc limit 1",
        (mailbox,),
    ).fetchone()
    return row[0] if row else None


def _verdict(
    newest_in_mailbox: datetime | None,
    ingested: datetime | None,
    window_start: datetime | None,
    *,
    max_lag: timedelta,
    now: datetime,
) -> tuple[timedelta | None, bool]:
    """(how far the mailbox is ahead of us, is it stale) — see the module docstring."""
    baseline = max((moment for moment in (ingested, window_start) if moment is not None), default=None)
    if newest_in_mailbox is None:
        return (timedelta(0) if baseline is not None else None), False
    waited_too_long = now - newest_in_mailbox > max_lag
    if baseline is None:
        return None, waited_too_long
    ahead = newest_in_mailbox - baseline
    return max(ahead, timedelta(0)), ahead > timedelta(0) and waited_too_long


def check_freshness(
    conn: psycopg.Connection,
    mailbox: str,
    *,
    newest_in_mailbox: datetime | None,
    max_lag: timedelta,
    now: datetime,
) -> FreshnessStatus:
    """Compare the mailbox's newest message with what we ingested, record the check, return the verdict."""
    _require_aware("now", now)
    _require_aware("newest_in_mailbox", newest_in_mailbox)
    if max_lag < timedelta(0):
        raise ValueError("max_lag cannot be negative")

    with conn.transaction():  # one snapshot, one write; a savepoint inside the caller's transaction
        ingested = newest_ingested_at(conn, mailbox)
        window_row = conn.execute(
            "select full_sync_window_start_at from mail_sync_state where mailbox = %s", (mailbox,)
        ).fetchone()
        window_start: datetime | None = window_row[0] if window_row else None
        lag, is_stale = _verdict(newest_in_mailbox, ingested, window_start, max_lag=max_lag, now=now)
        row = conn.execute(
            "insert into mail_freshness_checks (mailbox, checked_at, newest_in_mailbox_at, newest_ingested_at, "
            "full_sync_window_start_at, lag_seconds, max_lag_seconds, is_stale) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s) returning freshness_check_id",
            (
                mailbox,
                now,
                newest_in_mailbox,
                ingested,
                window_start,
                lag.total_seconds() if lag is not None else None,
                max_lag.total_seconds(),
                is_stale,
            ),
        ).fetchone()
        if newest_in_mailbox is not None:
            conn.execute(
                "insert into mail_sync_state (mailbox, newest_mailbox_message_at) values (%s, %s) "
                "on conflict (mailbox) do update set newest_mailbox_message_at = excluded.newest_mailbox_message_at, "
                "updated_at = now()",
                (mailbox, newest_in_mailbox),
            )
    assert row is not None
    return FreshnessStatus(
        freshness_check_id=int(row[0]),
        mailbox=mailbox,
        checked_at=now,
        newest_in_mailbox_at=newest_in_mailbox,
        newest_ingested_at=ingested,
        full_sync_window_start_at=window_start,
        lag=lag,
        max_lag=max_lag,
        is_stale=is_stale,
    )
