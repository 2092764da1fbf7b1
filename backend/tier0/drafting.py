"""Deliver the pipeline's `draft_reply` outbox rows: ask the knowledge base for a draft.

The pipeline queues one `draft_reply` row per new ticket (key `draft:<public_id>`); the KB decides
whether it gets a draft (an open incident it matches, or an answer for a tier in `kb.draft_tiers`).
`deliver_draft_outbox` takes each due row, calls `draft_for_ticket` (backend/kb/drafts.py, the
KB engineer's; it writes the pending draft, its citations and a `drafted` event, or nothing when
no article answers) and marks the row delivered either way: "no answer" is an outcome, not a
failure, and the ticket simply waits for a person.

Each row is claimed first (locked `for update skip locked` and leased for `lease`, so a second
worker skips it), drafted outside our transaction (the KB function runs its own), then marked
delivered. A crash in between leaves the row to be drafted again after the lease; the KB then
writes a newer draft that supersedes the older one, so a ticket never has two pending drafts.

Failures: an unknown ticket (`LookupError` from the KB) fails the row with the reason. Any other
exception is ours: the row is rescheduled with backoff (failed after `max_attempts`) and the
error is reported to the caller (the flow fails loudly after finishing the other rows).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg

logger = logging.getLogger(__name__)

DRAFT_REPLY_KIND = "draft_reply"

Outcome = Literal["drafted", "no_answer", "retry", "failed"]
DraftFunction = Callable[[psycopg.Connection, int], Any]


@dataclass(frozen=True)
class DraftingResult:
    outbox_id: int
    ticket_id: int | None
    outcome: Outcome
    draft_id: int | None = None
    error: str | None = None


@dataclass
class DraftingReport:
    results: list[DraftingResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def errors(self) -> list[DraftingResult]:
        return [result for result in self.results if result.outcome in ("retry", "failed")]


def kb_draft_function(**options: Any) -> DraftFunction:
    """`draft_for_ticket` from backend/kb/drafts.py, imported only when drafting runs. `options`
    are passed on (`claude=` a ClaudeDrafter, `embedder=`, `settings=`)."""
    from backend.kb.drafts import draft_for_ticket

    def draft(conn: psycopg.Connection, ticket_id: int) -> Any:
        return draft_for_ticket(conn, ticket_id, **options)

    return draft


def deliver_draft_outbox(
    conn: psycopg.Connection,
    *,
    draft: DraftFunction | None = None,
    limit: int = 50,
    now: datetime | None = None,
    lease: timedelta = timedelta(minutes=10),
    max_attempts: int = 5,
) -> DraftingReport:
    draft = draft or kb_draft_function()
    now = now or datetime.now(UTC)
    with conn.transaction():
        due = [
            int(row[0])
            for row in conn.execute(
                """select outbox_id from outbox where kind = %s and status = 'pending' and available_at <= %s
                   order by available_at, outbox_id limit %s""",
                (DRAFT_REPLY_KIND, now, limit),
            ).fetchall()
        ]
    report = DraftingReport()
    for outbox_id in due:
        with conn.transaction():
            row = conn.execute(
                """select ticket_id, attempts from outbox
                   where outbox_id = %s and status = 'pending' and available_at <= %s for update skip locked""",
                (outbox_id, now),
            ).fetchone()
            if row is None:
                continue
            ticket_id, attempts = row
            conn.execute(
                "update outbox set attempts = attempts + 1, available_at = %s where outbox_id = %s",
                (now + lease, outbox_id),
            )
        result = _draft_one(conn, draft, outbox_id, ticket_id, attempts + 1, now=now, max_attempts=max_attempts)
        logger.info("draft_reply outbox %s (ticket %s): %s", outbox_id, ticket_id, result.outcome)
        report.results.append(result)
    return report


def _draft_one(
    conn: psycopg.Connection,
    draft: DraftFunction,
    outbox_id: int,
    ticket_id: int | None,
    attempts: int,
    *,
    now: datetime,
    max_attempts: int,
) -> DraftingResult:
    if ticket_id is None:
        return _finish(conn, outbox_id, ticket_id, "failed", error="outbox row has no ticket", now=now)
    try:
        written = draft(conn, ticket_id)
    except LookupError as error:
        return _finish(conn, outbox_id, ticket_id, "failed", error=str(error), now=now)
    except Exception as error:
        logger.exception("draft_reply outbox %s (ticket %s) failed", outbox_id, ticket_id)
        outcome: Outcome = "retry" if attempts < max_attempts else "failed"
        retry_at = now + timedelta(minutes=2**attempts)
        return _finish(
            conn, outbox_id, ticket_id, outcome, error=f"{type(error).__name__}: {error}", now=now, retry_at=retry_at
        )
    draft_id = getattr(written, "draft_id", None) if written is not None else None
    return _finish(
        conn, outbox_id, ticket_id, "drafted" if written is not None else "no_answer", draft_id=draft_id, now=now
    )


def _finish(
    conn: psycopg.Connection,
    outbox_id: int,
    ticket_id: int | None,
    outcome: Outcome,
    *,
    now: datetime,
    draft_id: int | None = None,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> DraftingResult:
    with conn.transaction():
        if outcome in ("drafted", "no_answer"):
            conn.execute(
                "update outbox set status = 'delivered', delivered_at = %s, last_error = %s where outbox_id = %s",
                (now, None if outcome == "drafted" else "no knowledge-base answer", outbox_id),
            )
        elif outcome == "retry":
            conn.execute(
                "update outbox set available_at = %s, last_error = %s where outbox_id = %s",
                (retry_at, (error or "")[:2000], outbox_id),
            )
        else:
            conn.execute(
                "update outbox set status = 'failed', last_error = %s where outbox_id = %s",
                ((error or "")[:2000], outbox_id),
            )
    return DraftingResult(outbox_id, ticket_id, outcome, draft_id=draft_id, error=error)
