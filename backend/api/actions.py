"""What a person does to a ticket through the approval API: decide a draft, move the ticket
between queues and tiers, resolve, reopen, relabel, wait on the customer.

Each action is one function taking the connection, the ticket, the acting `User` and an
`ActionContext` (the policy and the current instant). It checks the user's role
(backend/users/roles.py), locks the ticket row (`select ... for update`, then the draft row when
there is one, always in that order), checks the ticket's state, changes it and appends exactly
the `ticket_events` docs/events.md names, with `actor = 'user:<name>'`, all in one transaction.
Because the rows are locked, two people acting on the same ticket at once are serialised: the
second one sees the first one's result (e.g. a draft already approved: `ConflictError`).

Failures are the caller's and raise a subclass of `ActionError` (backend/api/errors.py) or
`PermissionDenied`, with a message that says what to do instead; the transaction is rolled back.
Database errors are ours and propagate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from backend.api.errors import ConflictError, InvalidActionError, NotFoundError
from backend.api.rows import fetch_draft, fetch_events, fetch_ticket
from backend.api.schemas import ActionResult, DraftDecisionResult
from backend.escalation.actions import EscalationRefused, escalate_ticket
from backend.policy.model import Policy
from backend.sending.outbox import enqueue_send_reply
from backend.users.roles import Permission, require
from backend.users.store import User

CLOSED_STATUSES = ("resolved", "closed")
ACTIVE_STATUSES = ("open", "pending_customer")


@dataclass(frozen=True)
class ActionContext:
    policy: Policy
    now: datetime
    # Tiers whose tickets get a Linear issue (the policy's linear.issue_tiers); None: read the policy.
    linear_issue_tiers: frozenset[int] | None = None

    def issue_tiers(self) -> frozenset[int]:
        if self.linear_issue_tiers is not None:
            return self.linear_issue_tiers
        return linear_issue_tiers(self.policy)


def linear_issue_tiers(policy: Policy) -> frozenset[int]:
    from backend.linear.config import load_linear_config

    return frozenset(load_linear_config(policy).issue_tiers) if policy.linear else frozenset()


@dataclass(frozen=True)
class _Ticket:
    ticket_id: int
    status: str
    tier: int
    route: str
    category: str
    product_area: str
    assignee: str | None


@dataclass(frozen=True)
class _Draft:
    draft_id: int
    status: str
    body: str
    decided_by: str | None
    decided_at: datetime | None


def _lock_ticket(conn: psycopg.Connection, ticket_id: int) -> _Ticket:
    row = conn.execute(
        """select ticket_id, status, tier, route, category, product_area, assignee
           from tickets where ticket_id = %s for update""",
        (ticket_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"ticket {ticket_id} not found")
    return _Ticket(*row)


def _lock_draft(conn: psycopg.Connection, ticket_id: int, draft_id: int) -> _Draft:
    row = conn.execute(
        """select draft_id, status, body, decided_by, decided_at from drafts
           where draft_id = %s and ticket_id = %s for update""",
        (draft_id, ticket_id),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"draft {draft_id} not found on ticket {ticket_id}")
    return _Draft(*row)


def _event(
    conn: psycopg.Connection,
    ticket_id: int,
    event_type: str,
    user: User,
    ctx: ActionContext,
    data: dict[str, Any] | None = None,
    *,
    from_tier: int | None = None,
    to_tier: int | None = None,
    from_route: str | None = None,
    to_route: str | None = None,
) -> int:
    row = conn.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, actor, from_tier, to_tier, from_route,
                                      to_route, data)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning event_id""",
        (ticket_id, event_type, ctx.now, user.actor, from_tier, to_tier, from_route, to_route, Jsonb(data or {})),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _touch(conn: psycopg.Connection, ticket_id: int) -> None:
    conn.execute("update tickets set updated_at = now() where ticket_id = %s", (ticket_id,))


def _result(conn: psycopg.Connection, ticket_id: int, event_ids: list[int]) -> ActionResult:
    ticket = fetch_ticket(conn, ticket_id)
    assert ticket is not None
    return ActionResult(ticket=ticket, events=fetch_events(conn, ticket_id, event_ids=event_ids))


def _draft_result(
    conn: psycopg.Connection, ticket_id: int, draft_id: int, event_id: int, *, outbox_id: int | None
) -> DraftDecisionResult:
    result = _result(conn, ticket_id, [event_id])
    draft = fetch_draft(conn, draft_id)
    assert draft is not None
    return DraftDecisionResult(ticket=result.ticket, draft=draft, events=result.events, outbox_id=outbox_id)


def _queue_reply(conn: psycopg.Connection, ticket_id: int, draft_id: int, ctx: ActionContext) -> int:
    """Queue an approved reply for sending (one outbox row per draft) and mark the ticket touched."""
    outbox_id = enqueue_send_reply(conn, ticket_id=ticket_id, draft_id=draft_id, automatic=False, available_at=ctx.now)
    _touch(conn, ticket_id)
    return outbox_id


def _require_active(ticket: _Ticket, doing: str) -> None:
    if ticket.status in CLOSED_STATUSES:
        raise ConflictError(
            f"ticket {ticket.ticket_id} is {ticket.status}: reopen it (POST /tickets/{ticket.ticket_id}/reopen) "
            f"before {doing}"
        )


def _require_pending(draft: _Draft, ticket_id: int) -> None:
    if draft.status == "pending":
        return
    if draft.status == "superseded":
        raise ConflictError(f"draft {draft.draft_id} was superseded by a newer draft of ticket {ticket_id}")
    by = f" by {draft.decided_by}" if draft.decided_by else ""
    at = f" at {draft.decided_at.isoformat()}" if draft.decided_at else ""
    raise ConflictError(f"draft {draft.draft_id} is already {draft.status}{by}{at}")


def _check_route(policy: Policy, route: str) -> int:
    info = policy.routes.get(route)
    if info is None:
        raise InvalidActionError(f"unknown route {route!r}; routes: {', '.join(policy.routes)}")
    return info.tier


def _route_for(policy: Policy, ticket: _Ticket, tier: int, route: str | None) -> str:
    if route is None:
        routing = policy.tier_routes[tier]
        return routing.by_product_area.get(ticket.product_area, routing.default)
    route_tier = _check_route(policy, route)
    if route_tier != tier:
        raise InvalidActionError(f"route {route!r} is at tier {route_tier}, not tier {tier}")
    return route


# --- drafts -----------------------------------------------------------------------------------


def approve_draft(
    conn: psycopg.Connection,
    ticket_id: int,
    draft_id: int,
    user: User,
    ctx: ActionContext,
    *,
    body: str | None = None,
) -> DraftDecisionResult:
    """Approve a pending draft, optionally with an edited body (edit-and-approve), and queue the
    reply for sending (outbox `send_reply`, one per draft)."""
    require(user.role, Permission.DECIDE_DRAFTS)
    with conn.transaction():
        ticket = _lock_ticket(conn, ticket_id)
        draft = _lock_draft(conn, ticket_id, draft_id)
        _require_pending(draft, ticket_id)
        _require_active(ticket, "sending a reply")
        edited = body is not None and body.strip() != draft.body.strip()
        conn.execute(
            """update drafts set status = 'approved', body = %s, is_edited = %s, decided_at = %s, decided_by = %s
               where draft_id = %s""",
            (body if edited else draft.body, edited, ctx.now, user.actor, draft_id),
        )
        data: dict[str, Any] = {"draft_id": draft_id, "edited": edited}
        if edited:
            data["original_body"] = draft.body  # what the AI wrote, for measuring edits
        event_id = _event(conn, ticket_id, "draft_approved", user, ctx, data)
        outbox_id = _queue_reply(conn, ticket_id, draft_id, ctx)
        return _draft_result(conn, ticket_id, draft_id, event_id, outbox_id=outbox_id)


def reject_draft(
    conn: psycopg.Connection, ticket_id: int, draft_id: int, user: User, ctx: ActionContext, *, reason: str
) -> DraftDecisionResult:
    require(user.role, Permission.DECIDE_DRAFTS)
    if not reason.strip():
        raise InvalidActionError("a rejection needs a reason")
    with conn.transaction():
        _lock_ticket(conn, ticket_id)
        draft = _lock_draft(conn, ticket_id, draft_id)
        _require_pending(draft, ticket_id)
        conn.execute(
            """update drafts set status = 'rejected', reject_reason = %s, decided_at = %s, decided_by = %s
               where draft_id = %s""",
            (reason, ctx.now, user.actor, draft_id),
        )
        event_id = _event(conn, ticket_id, "draft_rejected", user, ctx, {"draft_id": draft_id, "reason": reason})
        _touch(conn, ticket_id)
        return _draft_result(conn, ticket_id, draft_id, event_id, outbox_id=None)


def reply_by_hand(
    conn: psycopg.Connection, ticket_id: int, user: User, ctx: ActionContext, *, body: str
) -> DraftDecisionResult:
    """A reply a person wrote: stored as an approved draft with generator 'human' (migration 009)
    and queued like an approved AI draft, so it is sent once, threaded, and its `reply_sent` stops
    the first-response clock. Any pending AI draft is superseded: the customer gets one answer.

    Refused at tier 0: a person answering there is handling the ticket, and the Tier-0 share must
    count only what the AI answered; escalate to tier 1 first (as for resolving by hand)."""
    require(user.role, Permission.REPLY)
    if not body.strip():
        raise InvalidActionError("a reply needs a body")
    with conn.transaction():
        ticket = _lock_ticket(conn, ticket_id)
        _require_active(ticket, "replying")
        if ticket.tier == 0:
            raise ConflictError(
                f"ticket {ticket_id} is at tier 0: approve or edit its draft, or escalate it to tier 1 "
                f"(POST /tickets/{ticket_id}/escalate) to answer it by hand"
            )
        conn.execute(
            "update drafts set status = 'superseded' where ticket_id = %s and status = 'pending'", (ticket_id,)
        )
        row = conn.execute(
            """insert into drafts (ticket_id, status, body, generator, created_at, decided_at, decided_by)
               values (%s, 'approved', %s, 'human', %s, %s, %s) returning draft_id""",
            (ticket_id, body, ctx.now, ctx.now, user.actor),
        ).fetchone()
        assert row is not None
        draft_id = int(row[0])
        event_id = _event(conn, ticket_id, "human_reply_queued", user, ctx, {"draft_id": draft_id})
        outbox_id = _queue_reply(conn, ticket_id, draft_id, ctx)
        return _draft_result(conn, ticket_id, draft_id, event_id, outbox_id=outbox_id)


# --- moving tickets ---------------------------------------------------------------------------


def reassign(
    conn: psycopg.Connection,
    ticket_id: int,
    user: User,
    ctx: ActionContext,
    *,
    route: str,
    reason: str | None = None,
    assignee: str | None = None,
) -> ActionResult:
    """Move a ticket to another queue at the same tier (a mis-route once it was routed), and/or
    give it an assignee. Another tier is an escalation or a de-escalation: refused, naming the route."""
    require(user.role, Permission.REASSIGN)
    route_tier = _check_route(ctx.policy, route)
    with conn.transaction():
        ticket = _lock_ticket(conn, ticket_id)
        _require_active(ticket, "reassigning it")
        if route_tier > ticket.tier:
            raise InvalidActionError(
                f"route {route!r} is at tier {route_tier} and ticket {ticket_id} at tier {ticket.tier}: moving up "
                f"a tier is an escalation: use POST /tickets/{ticket_id}/escalate"
            )
        if route_tier < ticket.tier:
            raise InvalidActionError(
                f"route {route!r} is at tier {route_tier} and ticket {ticket_id} at tier {ticket.tier}: moving down "
                f"a tier is a de-escalation: use POST /tickets/{ticket_id}/deescalate (lead or admin)"
            )
        if route == ticket.route and (assignee is None or assignee == ticket.assignee):
            raise ConflictError(
                f"ticket {ticket_id} is already on route {route!r}"
                + (f" and assigned to {assignee}" if assignee else "")
            )
        event_ids: list[int] = []
        if route != ticket.route:
            was_routed = conn.execute(
                "select 1 from ticket_events where ticket_id = %s and event_type = 'routed' limit 1", (ticket_id,)
            ).fetchone()
            # After the first routing, a move within the tier means the first queue was wrong.
            event_ids.append(
                _event(
                    conn,
                    ticket_id,
                    "misrouted" if was_routed else "routed",
                    user,
                    ctx,
                    {"reason": reason} if reason else {},
                    from_tier=ticket.tier if was_routed else None,
                    to_tier=ticket.tier,
                    from_route=ticket.route if was_routed else None,
                    to_route=route,
                )
            )
        # A new queue drops the old queue's assignee unless one is given.
        new_assignee = assignee if assignee is not None else (ticket.assignee if route == ticket.route else None)
        if assignee is not None:
            event_ids.append(_event(conn, ticket_id, "assigned", user, ctx, {"assignee": assignee}))
        conn.execute(
            "update tickets set route = %s, assignee = %s, updated_at = now() where ticket_id = %s",
            (route, new_assignee, ticket_id),
        )
        return _result(conn, ticket_id, event_ids)


def escalate(
    conn: psycopg.Connection,
    ticket_id: int,
    user: User,
    ctx: ActionContext,
    *,
    to_tier: int,
    reason: str,
    to_route: str | None = None,
    assignee: str | None = None,
) -> ActionResult:
    """Move a ticket up to `to_tier` (and `to_route`, default: the policy's route for the tier and
    the ticket's product area). Skipping a tier needs the lead role. Tier 2-3 tickets get a Linear
    issue (queued in the outbox, once)."""
    require(user.role, Permission.ESCALATE)
    if not reason.strip():
        raise InvalidActionError("an escalation needs a reason")
    if to_tier not in ctx.policy.tiers:
        raise InvalidActionError(f"unknown tier {to_tier}")
    with conn.transaction():
        ticket = _lock_ticket(conn, ticket_id)
        _require_active(ticket, "escalating it")
        if to_tier <= ticket.tier:
            raise InvalidActionError(
                f"to_tier must be higher than ticket {ticket_id}'s tier {ticket.tier}, got {to_tier}"
                + (
                    f"; to change the queue within tier {ticket.tier} use POST /tickets/{ticket_id}/reassign"
                    if to_tier == ticket.tier
                    else ""
                )
            )
        if to_tier - ticket.tier > 1:
            require(user.role, Permission.ESCALATE_SKIPPING_TIERS)
        route = _route_for(ctx.policy, ticket, to_tier, to_route)
        # The same write the SLA monitor's escalations use (event, ticket, Linear issue).
        try:
            move = escalate_ticket(
                conn,
                ticket_id,
                to_tier=to_tier,
                to_route=route,
                assignee=assignee,
                reason=reason,
                actor=user.actor,
                now=ctx.now,
                policy=ctx.policy,
            )
        except EscalationRefused as refused:
            raise InvalidActionError(str(refused)) from refused
        return _result(conn, ticket_id, [move.event_id])


def deescalate(
    conn: psycopg.Connection,
    ticket_id: int,
    user: User,
    ctx: ActionContext,
    *,
    to_tier: int,
    reason: str,
    to_route: str | None = None,
) -> ActionResult:
    """Move a ticket back down (the undo of an escalation): lead or admin only. Writes a
    `deescalated` event (from_tier > to_tier), so escalation metrics can discount it."""
    require(user.role, Permission.DEESCALATE)
    if not reason.strip():
        raise InvalidActionError("a de-escalation needs a reason")
    if to_tier not in ctx.policy.tiers:
        raise InvalidActionError(f"unknown tier {to_tier}")
    with conn.transaction():
        ticket = _lock_ticket(conn, ticket_id)
        _require_active(ticket, "de-escalating it")
        if to_tier >= ticket.tier:
            raise InvalidActionError(
                f"to_tier must be lower than ticket {ticket_id}'s tier {ticket.tier}, got {to_tier}"
            )
        route = _route_for(ctx.policy, ticket, to_tier, to_route)
        event_id = _event(
            conn,
            ticket_id,
            "deescalated",
            user,
            ctx,
            {"reason": reason},
            from_tier=ticket.tier,
            to_tier=to_tier,
            from_route=ticket.route,
            to_route=route,
        )
        conn.execute(
            "update tickets set tier = %s, route = %s, assignee = null, updated_at = now() where ticket_id = %s",
            (to_tier, route, ticket_id),
        )
        return _result(conn, ticket_id, [event_id])


# --- status -----------------------------------------------------------------------------------


def resolve(
    conn: psycopg.Connection, ticket_id: int, user: User, ctx: ActionContext, *, note: str | None = None
) -> ActionResult:
    """Resolve at the ticket's current tier. A Tier-0 ticket is resolved by hand only once an AI
    reply went out; otherwise a human handled it and it must be escalated first, so the Tier-0
    resolution share counts only what the AI answered."""
    require(user.role, Permission.RESOLVE)
    with conn.transaction():
        ticket = _lock_ticket(conn, ticket_id)
        if ticket.status in CLOSED_STATUSES:
            raise ConflictError(f"ticket {ticket_id} is already {ticket.status}")
        if ticket.tier == 0:
            replied = conn.execute(
                "select 1 from ticket_events where ticket_id = %s and event_type = 'reply_sent' limit 1", (ticket_id,)
            ).fetchone()
            if replied is None:
                raise ConflictError(
                    f"ticket {ticket_id} is at tier 0 and no AI reply was sent: escalate it to tier 1 "
                    f"(POST /tickets/{ticket_id}/escalate) to resolve it by hand, so it is not counted as a "
                    "Tier-0 resolution"
                )
        data: dict[str, Any] = {"resolution": "human"}
        if note:
            data["note"] = note
        event_id = _event(conn, ticket_id, "resolved", user, ctx, data, to_tier=ticket.tier)
        conn.execute(
            """update tickets set status = 'resolved', resolved_at = greatest(%s, created_at), resolved_tier = tier,
                                  updated_at = now()
               where ticket_id = %s""",
            (ctx.now, ticket_id),
        )
        return _result(conn, ticket_id, [event_id])


def reopen(conn: psycopg.Connection, ticket_id: int, user: User, ctx: ActionContext, *, reason: str) -> ActionResult:
    require(user.role, Permission.REOPEN)
    if not reason.strip():
        raise InvalidActionError("reopening needs a reason")
    with conn.transaction():
        ticket = _lock_ticket(conn, ticket_id)
        if ticket.status not in CLOSED_STATUSES:
            raise ConflictError(f"ticket {ticket_id} is {ticket.status}, not resolved")
        event_id = _event(conn, ticket_id, "reopened", user, ctx, {"reason": reason})
        conn.execute(
            """update tickets set status = 'open', resolved_at = null, resolved_tier = null, updated_at = now()
               where ticket_id = %s""",
            (ticket_id,),
        )
        return _result(conn, ticket_id, [event_id])


def wait_on_customer(
    conn: psycopg.Connection, ticket_id: int, user: User, ctx: ActionContext, *, note: str | None = None
) -> ActionResult:
    """Status `pending_customer`: the SLA clocks pause until the customer writes back (the
    pipeline's `customer_replied` reopens the ticket and ends the pause)."""
    require(user.role, Permission.WAIT_ON_CUSTOMER)
    with conn.transaction():
        ticket = _lock_ticket(conn, ticket_id)
        if ticket.status != "open":
            raise ConflictError(f"ticket {ticket_id} is {ticket.status}, not open")
        event_id = _event(conn, ticket_id, "waiting_on_customer", user, ctx, {"note": note} if note else {})
        conn.execute(
            "update tickets set status = 'pending_customer', updated_at = now() where ticket_id = %s", (ticket_id,)
        )
        return _result(conn, ticket_id, [event_id])


def relabel(
    conn: psycopg.Connection,
    ticket_id: int,
    user: User,
    ctx: ActionContext,
    *,
    category: str | None = None,
    product_area: str | None = None,
    reason: str | None = None,
) -> ActionResult:
    """Correct the category and/or product area. The `relabelled` event (before, after) is a
    training example for the classifier. Routing is not changed: reassign or escalate for that."""
    require(user.role, Permission.RELABEL)
    if category is None and product_area is None:
        raise InvalidActionError("give a category, a product_area or both")
    if category is not None and category not in ctx.policy.categories:
        raise InvalidActionError(f"unknown category {category!r}; categories: {', '.join(ctx.policy.categories)}")
    if product_area is not None and product_area not in ctx.policy.product_areas:
        raise InvalidActionError(
            f"unknown product_area {product_area!r}; product areas: {', '.join(ctx.policy.product_areas)}"
        )
    with conn.transaction():
        ticket = _lock_ticket(conn, ticket_id)
        before = {"category": ticket.category, "product_area": ticket.product_area}
        after = {
            "category": category if category is not None else ticket.category,
            "product_area": product_area if product_area is not None else ticket.product_area,
        }
        if after == before:
            raise InvalidActionError(
                f"nothing to change: ticket {ticket_id} already has category {ticket.category!r} and "
                f"product_area {ticket.product_area!r}"
            )
        data: dict[str, Any] = {"before": before, "after": after}
        if reason:
            data["reason"] = reason
        event_id = _event(conn, ticket_id, "relabelled", user, ctx, data)
        conn.execute(
            "update tickets set category = %s, product_area = %s, updated_at = now() where ticket_id = %s",
            (after["category"], after["product_area"], ticket_id),
        )
        return _result(conn, ticket_id, [event_id])
