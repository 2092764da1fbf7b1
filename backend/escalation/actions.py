"""Moving a ticket between queues, with its history: escalation (up one or more tiers) and
re-assignment to another queue at the same tier (a mis-route, POLICY.md "Tiers").

`escalate_ticket` writes an `escalated` event (from_tier < to_tier, from/to route, data.reason and
data.assignee: to whom and why) and moves the ticket; `reassign_ticket` writes a `misrouted` event
(from_tier = to_tier, another route) and moves the ticket. The approval API and the SLA monitor
both call these, so every move is recorded the same way. Both lock the ticket row (`for update`),
so two concurrent moves are ordered and each checks the tier the other left.

An `escalated` or `misrouted` event also says who holds the ticket now (`data.assignee`, None for
"the queue"): the person who held it at the old queue no longer does. `current_assignee` reads that.

Failures: a move the ticket or the policy does not allow (a lower or equal tier, an unknown route,
a resolved ticket, another tier through reassign) raises `EscalationRefused` with a sentence saying
why, for the API to show (a caller's mistake, nothing recorded). An unknown ticket raises
`TicketNotFound`. Database errors raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from backend.policy.model import Policy

OPEN_STATUSES = ("open", "pending_customer")
ASSIGNMENT_EVENTS = ("assigned", "escalated", "misrouted")


class EscalationRefused(ValueError):
    """The move is not allowed; the message says why and what to do instead."""


class TicketNotFound(LookupError):
    """No ticket has this id."""


@dataclass(frozen=True)
class TicketMove:
    """A recorded escalation or re-assignment. `recorded` is False when `dedupe_key` found the same
    move already recorded (nothing changed this time)."""

    event_id: int
    event_type: str
    ticket_id: int
    from_tier: int
    to_tier: int
    from_route: str
    to_route: str
    assignee: str | None
    reason: str
    actor: str
    occurred_at: datetime
    recorded: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "ticket_id": self.ticket_id,
            "from_tier": self.from_tier,
            "to_tier": self.to_tier,
            "from_route": self.from_route,
            "to_route": self.to_route,
            "assignee": self.assignee,
            "reason": self.reason,
            "actor": self.actor,
            "occurred_at": self.occurred_at.isoformat(),
            "recorded": self.recorded,
        }


def normalise_person(value: str | None) -> str | None:
    """People are named as in the policy's notifications.people ("maria"); an actor "user:maria"
    and an assignee "user:maria" both mean "maria"."""
    if value is None:
        return None
    name = value.strip()
    if name.startswith("user:"):
        name = name[len("user:") :]
    return name or None


def route_for_tier(policy: Policy, tier: int, product_area: str) -> str:
    """The queue that takes a ticket of `product_area` at `tier` (policy `tier_routes`)."""
    routing = policy.tier_routes.get(tier)
    if routing is None:
        raise EscalationRefused(f"the policy has no route for tier {tier} (tier_routes)")
    return routing.by_product_area.get(product_area, routing.default)


def highest_tier(policy: Policy) -> int:
    return max(policy.tiers)


def _default_policy() -> Policy:
    from backend.policy.model import load_policy
    from backend.settings import get_settings

    return load_policy(get_settings().policy_path)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now {now.isoformat()} has no timezone: pass an aware datetime")


def _lock_ticket(conn: psycopg.Connection, ticket_id: int) -> tuple[int, str, str]:
    row = conn.execute(
        "select tier, route, status from tickets where ticket_id = %s for update", (ticket_id,)
    ).fetchone()
    if row is None:
        raise TicketNotFound(f"ticket {ticket_id} not found")
    tier, route, status = row
    return int(tier), str(route), str(status)


def _require_open(ticket_id: int, status: str) -> None:
    if status not in OPEN_STATUSES:
        raise EscalationRefused(f"ticket {ticket_id} is {status}; reopen it before moving it to another queue")


def _check_text(reason: str, actor: str) -> None:
    if not reason or not reason.strip():
        raise EscalationRefused("a reason is required: the history says why the ticket moved")
    if not actor or not actor.strip():
        raise EscalationRefused("an actor is required (system, prefect, or user:<name>)")


def _existing_move(conn: psycopg.Connection, dedupe_key: str) -> TicketMove | None:
    row = conn.execute(
        """
        select event_id, event_type, ticket_id, from_tier, to_tier, from_route, to_route, data, actor, occurred_at
        from ticket_events where dedupe_key = %s
        """,
        (dedupe_key,),
    ).fetchone()
    if row is None:
        return None
    event_id, event_type, ticket_id, from_tier, to_tier, from_route, to_route, data, actor, occurred_at = row
    return TicketMove(
        event_id=event_id,
        event_type=event_type,
        ticket_id=ticket_id,
        from_tier=from_tier,
        to_tier=to_tier,
        from_route=from_route,
        to_route=to_route,
        assignee=(data or {}).get("assignee"),
        reason=(data or {}).get("reason", ""),
        actor=actor,
        occurred_at=occurred_at,
        recorded=False,
    )


def _record_move(
    conn: psycopg.Connection,
    event_type: str,
    ticket_id: int,
    *,
    from_tier: int,
    to_tier: int,
    from_route: str,
    to_route: str,
    assignee: str | None,
    reason: str,
    actor: str,
    now: datetime,
    dedupe_key: str | None,
    data: dict[str, Any] | None,
) -> TicketMove:
    event_data = {**(data or {}), "reason": reason.strip(), "assignee": assignee}
    row = conn.execute(
        """
        insert into ticket_events (ticket_id, event_type, occurred_at, actor, from_tier, to_tier, from_route,
                                   to_route, data, dedupe_key)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        returning event_id
        """,
        (ticket_id, event_type, now, actor, from_tier, to_tier, from_route, to_route, Jsonb(event_data), dedupe_key),
    ).fetchone()
    assert row is not None
    # The move hands the ticket to `assignee`, or to the new queue as a whole.
    conn.execute(
        "update tickets set tier = %s, route = %s, assignee = %s, updated_at = now() where ticket_id = %s",
        (to_tier, to_route, assignee, ticket_id),
    )
    return TicketMove(
        event_id=int(row[0]),
        event_type=event_type,
        ticket_id=ticket_id,
        from_tier=from_tier,
        to_tier=to_tier,
        from_route=from_route,
        to_route=to_route,
        assignee=assignee,
        reason=reason.strip(),
        actor=actor,
        occurred_at=now,
    )


def escalate_ticket(
    conn: psycopg.Connection,
    ticket_id: int,
    *,
    to_tier: int,
    to_route: str,
    assignee: str | None,
    reason: str,
    actor: str,
    now: datetime,
    policy: Policy | None = None,
    dedupe_key: str | None = None,
    data: dict[str, Any] | None = None,
) -> TicketMove:
    """Move an open ticket up to `to_tier`, queue `to_route` (a route of that tier in the policy),
    for `assignee` (a person, or None for the queue), because of `reason`; writes the `escalated`
    event and updates tickets.tier/route, in the caller's transaction (a savepoint).

    Refuses (`EscalationRefused`) a `to_tier` at or below the ticket's tier, above the policy's
    highest tier, or a route of another tier. With `dedupe_key`, a second call with the same key
    records nothing and returns the first move (`recorded=False`). `data` adds fields to the event.
    """
    _require_aware(now)
    _check_text(reason, actor)
    policy = policy or _default_policy()
    top = highest_tier(policy)
    if to_tier > top:
        raise EscalationRefused(f"tier {to_tier} does not exist: tier {top} is the highest")
    if to_route not in policy.routes:
        raise EscalationRefused(f"unknown route {to_route!r}; routes: {', '.join(policy.routes)}")
    if policy.routes[to_route].tier != to_tier:
        raise EscalationRefused(
            f"route {to_route!r} belongs to tier {policy.routes[to_route].tier}, not tier {to_tier}"
        )
    with conn.transaction():
        # Lock first: a concurrent call with the same key waits here, then finds the first move.
        tier, route, status = _lock_ticket(conn, ticket_id)
        if dedupe_key is not None and (existing := _existing_move(conn, dedupe_key)) is not None:
            return existing
        _require_open(ticket_id, status)
        if to_tier <= tier:
            raise EscalationRefused(
                f"ticket {ticket_id} is at tier {tier}: an escalation goes to a higher tier (asked for tier "
                f"{to_tier}); to move it to another queue at tier {tier}, re-assign it instead"
            )
        move = _record_move(
            conn,
            "escalated",
            ticket_id,
            from_tier=tier,
            to_tier=to_tier,
            from_route=route,
            to_route=to_route,
            assignee=normalise_person(assignee),
            reason=reason,
            actor=actor,
            now=now,
            dedupe_key=dedupe_key,
            data=data,
        )
        if policy.linear:
            # Entering an engineering tier: the ticket gets its Linear issue (once, via the outbox),
            # whoever escalated it (a person through the API, or the SLA monitor on a breach).
            from backend.linear.config import load_linear_config
            from backend.linear.outbox import enqueue_linear_issue

            if to_tier in load_linear_config(policy).issue_tiers:
                enqueue_linear_issue(conn, ticket_id)
        return move


def reassign_ticket(
    conn: psycopg.Connection,
    ticket_id: int,
    *,
    to_route: str,
    actor: str,
    reason: str,
    now: datetime,
    policy: Policy | None = None,
    assignee: str | None = None,
    dedupe_key: str | None = None,
) -> TicketMove:
    """Move an open ticket to another queue at its own tier: a mis-route of the first routing.
    Writes the `misrouted` event (from_tier = to_tier, from_route, to_route, data.reason) and updates
    tickets.route. A queue at another tier is refused: escalate instead (there is no de-escalation)."""
    _require_aware(now)
    _check_text(reason, actor)
    policy = policy or _default_policy()
    if to_route not in policy.routes:
        raise EscalationRefused(f"unknown route {to_route!r}; routes: {', '.join(policy.routes)}")
    route_tier = policy.routes[to_route].tier
    with conn.transaction():
        # Lock first: a concurrent call with the same key waits here, then finds the first move.
        tier, route, status = _lock_ticket(conn, ticket_id)
        if dedupe_key is not None and (existing := _existing_move(conn, dedupe_key)) is not None:
            return existing
        _require_open(ticket_id, status)
        if to_route == route:
            raise EscalationRefused(f"ticket {ticket_id} is already in queue {route!r}")
        if route_tier != tier:
            hint = "escalate it instead" if route_tier > tier else "tickets are not moved down a tier"
            raise EscalationRefused(
                f"queue {to_route!r} is at tier {route_tier} but ticket {ticket_id} is at tier {tier}: "
                f"a re-assignment stays at the same tier; {hint}"
            )
        return _record_move(
            conn,
            "misrouted",
            ticket_id,
            from_tier=tier,
            to_tier=tier,
            from_route=route,
            to_route=to_route,
            assignee=normalise_person(assignee),
            reason=reason,
            actor=actor,
            now=now,
            dedupe_key=dedupe_key,
            data=None,
        )


def current_assignee(conn: psycopg.Connection, ticket_id: int) -> str | None:
    """Who holds the ticket now: data.assignee of its latest assigned / escalated / misrouted event."""
    row = conn.execute(
        """
        select data->>'assignee' from ticket_events
        where ticket_id = %s and event_type = any(%s)
        order by occurred_at desc, event_id desc
        limit 1
        """,
        (ticket_id, list(ASSIGNMENT_EVENTS)),
    ).fetchone()
    return normalise_person(row[0]) if row else None
