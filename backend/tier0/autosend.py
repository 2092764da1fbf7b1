"""Tier-0 auto-send: an AI draft goes out with no human approval, only where the policy allows it.

A ticket's pending draft is auto-sent when every guardrail holds (each failed one is reported):
  * its category is enabled in `auto_send.categories` (all are off by default);
  * it is a Tier-0 ticket, open, not flagged for review;
  * the classifier's confidence is at least the category's `min_confidence`;
  * the knowledge base answered: the pending draft exists (backend/kb/drafts.py writes one only
    when the search says an article answers) and its generator is allowed (`generators`);
  * no churn or urgency signal (`tickets.signals`, per `blocking_signals`) and no blocked sentiment;
  * its priority is not blocked (P1 and P2 by default: a human handles anything urgent);
  * no person has touched it: no event with actor `user:*` (an approval, a rejection, a
    reassignment... means a person owns the answer now).

Sending it is a Tier-0 resolution, written in one transaction with the ticket and draft rows
locked (ticket first, then draft, the order the API uses, so an OPS approving at the same
moment gets a 409 and nothing is sent twice): the draft approved by `system:auto_send`, a
`send_reply` outbox row marked automatic (its message carries `Auto-Submitted: auto-replied`),
an `auto_sent` event, a `resolved` event with to_tier 0 and the ticket resolved at tier 0.
If the reply then cannot be delivered, the send outbox reopens the ticket.

Failures: a ticket that may not be auto-sent is a normal answer (`allowed = False` with reasons),
never an error. Database errors are ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from backend.sending.outbox import enqueue_send_reply
from backend.tier0.config import AutoSendConfig

AUTO_SEND_ACTOR = "system:auto_send"


@dataclass(frozen=True)
class AutoSendDecision:
    ticket_id: int
    draft_id: int | None
    allowed: bool
    reasons: tuple[str, ...]  # why not; empty when allowed
    sent: bool = False  # the reply was queued and the ticket resolved
    outbox_id: int | None = None


@dataclass(frozen=True)
class _Candidate:
    ticket_id: int
    status: str
    tier: int
    priority: str
    category: str
    confidence: float | None
    is_flagged_for_review: bool
    signals: dict[str, Any]
    sentiment: str | None
    draft_id: int | None
    generator: str | None
    human_actor: str | None
    human_event: str | None


def _load(conn: psycopg.Connection, ticket_id: int, *, lock: bool) -> _Candidate | None:
    ticket = conn.execute(
        f"""select ticket_id, status, tier, priority, category, confidence, is_flagged_for_review, signals, sentiment
            from tickets where ticket_id = %s {"for update" if lock else ""}""",
        (ticket_id,),
    ).fetchone()
    if ticket is None:
        return None
    draft = conn.execute(
        f"""select draft_id, generator from drafts where ticket_id = %s and status = 'pending'
            {"for update" if lock else ""}""",
        (ticket_id,),
    ).fetchone()
    human = conn.execute(
        # People act as `user:<name>` through the API and as `staff:<address>` when they reply
        # straight from the support mailbox; either means a person has the ticket.
        """select actor, event_type from ticket_events
           where ticket_id = %s and (actor like 'user:%%' or actor like 'staff:%%')
           order by occurred_at, event_id limit 1""",
        (ticket_id,),
    ).fetchone()
    return _Candidate(
        ticket_id=ticket[0],
        status=ticket[1],
        tier=ticket[2],
        priority=ticket[3],
        category=ticket[4],
        confidence=ticket[5],
        is_flagged_for_review=ticket[6],
        signals=ticket[7],
        sentiment=ticket[8],
        draft_id=draft[0] if draft else None,
        generator=draft[1] if draft else None,
        human_actor=human[0] if human else None,
        human_event=human[1] if human else None,
    )


def _reasons(candidate: _Candidate, config: AutoSendConfig) -> list[str]:
    reasons: list[str] = []
    rule = config.category(candidate.category)
    if rule is None:
        reasons.append(f"auto-send is off for category {candidate.category}")
    if candidate.tier != 0:
        reasons.append(f"the ticket is at tier {candidate.tier}, not tier 0")
    if candidate.status != "open":
        reasons.append(f"the ticket is {candidate.status}")
    if candidate.is_flagged_for_review:
        reasons.append("the ticket is flagged for review")
    if rule is not None and (candidate.confidence is None or candidate.confidence <= rule.min_confidence):
        shown = "unknown" if candidate.confidence is None else f"{candidate.confidence:.2f}"
        reasons.append(f"classification confidence {shown} is not above {rule.min_confidence:.2f}")
    if candidate.draft_id is None:
        reasons.append("no pending draft: the knowledge base did not answer")
    elif candidate.generator not in config.generators:
        reasons.append(f"{candidate.generator} drafts are not auto-sent")
    if candidate.priority in config.blocked_priorities:
        reasons.append(f"priority {candidate.priority} is never auto-sent")
    signals = candidate.signals if isinstance(candidate.signals, dict) else {}
    for signal in config.blocking_signals:
        if signals.get(signal):
            reasons.append(f"signal {signal}")
    if candidate.sentiment in config.blocked_sentiments:
        reasons.append(f"sentiment {candidate.sentiment}")
    if candidate.human_actor is not None:
        reasons.append(f"a person has worked on the ticket ({candidate.human_actor}: {candidate.human_event})")
    return reasons


def auto_send_decision(conn: psycopg.Connection, ticket_id: int, config: AutoSendConfig) -> AutoSendDecision:
    """Whether the ticket's pending draft may be auto-sent, and why not; changes nothing."""
    candidate = _load(conn, ticket_id, lock=False)
    if candidate is None:
        raise LookupError(f"ticket {ticket_id} does not exist")
    reasons = _reasons(candidate, config)
    return AutoSendDecision(ticket_id, candidate.draft_id, not reasons, tuple(reasons))


def auto_send(conn: psycopg.Connection, ticket_id: int, config: AutoSendConfig, *, now: datetime) -> AutoSendDecision:
    """Auto-send the ticket's pending draft when every guardrail holds (see the module docstring)."""
    with conn.transaction():
        candidate = _load(conn, ticket_id, lock=True)
        if candidate is None:
            raise LookupError(f"ticket {ticket_id} does not exist")
        reasons = _reasons(candidate, config)
        if reasons:
            return AutoSendDecision(ticket_id, candidate.draft_id, False, tuple(reasons))
        draft_id = candidate.draft_id
        assert draft_id is not None
        conn.execute(
            """update drafts set status = 'approved', decided_at = %s, decided_by = %s where draft_id = %s""",
            (now, AUTO_SEND_ACTOR, draft_id),
        )
        outbox_id = enqueue_send_reply(conn, ticket_id=ticket_id, draft_id=draft_id, automatic=True, available_at=now)
        _event(
            conn,
            ticket_id,
            "auto_sent",
            now,
            {"draft_id": draft_id, "confidence": candidate.confidence, "category": candidate.category},
            f"auto_sent:{draft_id}",
        )
        _event(
            conn,
            ticket_id,
            "resolved",
            now,
            {"resolution": "auto_sent", "draft_id": draft_id},
            f"resolved:auto_sent:{draft_id}",
            to_tier=0,
        )
        conn.execute(
            """update tickets set status = 'resolved', resolved_at = greatest(%s, created_at), resolved_tier = 0,
                                  updated_at = now()
               where ticket_id = %s""",
            (now, ticket_id),
        )
        return AutoSendDecision(ticket_id, draft_id, True, (), sent=True, outbox_id=outbox_id)


def _event(
    conn: psycopg.Connection,
    ticket_id: int,
    event_type: str,
    at: datetime,
    data: dict[str, Any],
    dedupe_key: str,
    *,
    to_tier: int | None = None,
) -> None:
    conn.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, actor, to_tier, data, dedupe_key)
           values (%s, %s, %s, 'system', %s, %s, %s) on conflict (dedupe_key) do nothing""",
        (ticket_id, event_type, at, to_tier, Jsonb(data), dedupe_key),
    )


def auto_send_pending(
    conn: psycopg.Connection, config: AutoSendConfig, *, now: datetime, limit: int = 200
) -> list[AutoSendDecision]:
    """Try auto-send on every open Tier-0 ticket with a pending draft in an enabled category
    (the flow runs it after drafting, and again after the policy enables a category)."""
    enabled = [name for name in config.categories if config.category(name) is not None]
    if not enabled:
        return []
    rows = conn.execute(
        """select t.ticket_id from tickets t
           where t.tier = 0 and t.status = 'open' and t.category = any(%s)
             and exists (select 1 from drafts d where d.ticket_id = t.ticket_id and d.status = 'pending')
           order by t.created_at, t.ticket_id limit %s""",
        (enabled, limit),
    ).fetchall()
    return [auto_send(conn, int(row[0]), config, now=now) for row in rows]
