"""The SLA monitor: every few minutes, both SLA clocks of every open ticket, and what they call for.

For each ticket in status `open` or `pending_customer` created by `now`, `check_slas` computes the
first-response and resolution clocks with the SLA engine (`backend.sla.clock.sla_state`: the
account's timezone, business hours, pauses) and records, once per ticket, clock and kind:
- `sla_warning` when the clock has used `sla.warning_at` of its budget (75% by default),
- `sla_breach` when it has used all of it (the engine's `breached` state).
Each event's occurred_at is the instant the threshold was crossed (computed, not the time the
monitor noticed; data.detected_at says that), so metrics do not depend on how often it runs. For
the same reason a first response sent after the warning threshold, or after the due instant, still
records the warning (and the breach) it crossed, even if no run saw the clock before it stopped.

A breach whose clock is still running (no first response yet / not resolved) escalates the ticket
by `sla.breach_escalates_tiers` tiers, never above the highest tier, into the queue the policy's
`tier_routes` gives the new tier for the ticket's product area (`escalate_ticket`, so the history
says from where, to where and why), and queues a `notify` outbox row for the queue's lead
(`notifications.events.sla_breach`). A clock completed late (answered after the due instant) only
records the breach: there is nothing left to speed up.

Pauses: time in `pending_customer` does not count. They are derived from history with the one
definition in backend/sla/pauses.py (the approval API's queue uses the same): a pause starts at a
`waiting_on_customer` event and ends at the next `customer_replied`, `reopened` or `resolved`.
The monitor also keeps tickets.first_response_due_at / resolution_due_at current: pauses move them,
and an open pause makes them NULL (unknown until the customer answers), as the engine defines.

Never loops, never duplicates: every event, escalation and outbox row has a dedupe key
(`sla:<ticket>:<clock>:warning|breach|escalated`, `notify:sla_breach:<ticket>:<clock>`), each ticket is
handled once per run in its own transaction with its row locked, and a second run at the same
instant records nothing new. An escalation hangs off the breach event's insertion, so it happens
once per breach even with two monitors running.

Failures: an account with an unknown timezone is the data's fault: the default business-hours
timezone is used, the ticket is listed in `timezone_fallbacks` and a warning logged. Anything else
(database, policy) is ours and raises.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import psycopg
from psycopg.types.json import Jsonb

from backend.escalation.actions import (
    EscalationRefused,
    TicketMove,
    escalate_ticket,
    highest_tier,
    route_for_tier,
)
from backend.notify.deliver import enqueue_notification
from backend.policy.model import Policy
from backend.sla.calendar import require_aware
from backend.sla.clock import ClockStatus, Pause, SlaStatus, due_times, sla_state
from backend.sla.config import PriorityTargets, SlaConfig, SlaTarget, TargetKind
from backend.sla.pauses import PAUSE_EVENTS, pauses_from_events

logger = logging.getLogger(__name__)

CLOCKS: tuple[TargetKind, ...] = ("first_response", "resolution")
ACTOR = "system"
Kind = Literal["warning", "breach"]


@dataclass(frozen=True)
class SlaFinding:
    ticket_id: int
    clock: TargetKind
    kind: Kind
    fraction: float
    occurred_at: datetime


@dataclass
class SlaRunReport:
    now: datetime
    checked: int = 0
    warnings: list[SlaFinding] = field(default_factory=list)
    breaches: list[SlaFinding] = field(default_factory=list)
    escalations: list[TicketMove] = field(default_factory=list)
    notifications: list[str] = field(default_factory=list)  # idempotency keys of outbox rows queued
    due_times_updated: list[int] = field(default_factory=list)
    timezone_fallbacks: list[int] = field(default_factory=list)
    stale_breaches: list[SlaFinding] = field(default_factory=list)  # recorded only (see act_within)

    @property
    def recorded_anything(self) -> bool:
        return bool(self.warnings or self.breaches or self.escalations or self.notifications or self.due_times_updated)


@dataclass(frozen=True)
class _Ticket:
    ticket_id: int
    priority: str
    product_area: str
    created_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    timezone: str | None
    status: str


def dedupe_key(ticket_id: int, clock: str, what: str) -> str:
    return f"sla:{ticket_id}:{clock}:{what}"


def notify_key(ticket_id: int, clock: str) -> str:
    return f"notify:sla_breach:{ticket_id}:{clock}"


def check_slas(
    conn: psycopg.Connection, policy: Policy, *, now: datetime, act_within: timedelta | None = None
) -> SlaRunReport:
    """Check every open ticket's SLA clocks at `now`; record warnings and breaches, escalate and
    notify breaches. Runs in the caller's connection; each ticket in its own (sub)transaction.

    `act_within`: when set, a breach that happened longer ago than this before `now` (the monitor
    was not running, or this is its first run over an old backlog) is recorded but neither
    escalated nor notified, so a first deployment does not page a lead for every old ticket.
    """
    now = require_aware(now, "now")
    if act_within is not None and act_within < timedelta(0):
        raise ValueError("act_within must not be negative")
    report = SlaRunReport(now=now)
    tickets = _open_tickets(conn, now)
    report.checked = len(tickets)
    if not tickets:
        return report
    ids = [ticket.ticket_id for ticket in tickets]
    pauses = _pauses(conn, ids, now, waiting={t.ticket_id for t in tickets if t.status == "pending_customer"})
    recorded = _recorded_keys(conn, ids)
    act_since = None if act_within is None else now - act_within
    for ticket in tickets:
        _check_ticket(conn, policy, ticket, pauses.get(ticket.ticket_id, []), recorded, now, act_since, report)
    return report


def _open_tickets(conn: psycopg.Connection, now: datetime) -> list[_Ticket]:
    rows = conn.execute(
        """
        select t.ticket_id, t.priority, t.product_area, t.created_at, t.first_responded_at, t.resolved_at,
               t.first_response_due_at, t.resolution_due_at, a.timezone, t.status
        from tickets t left join accounts a on a.account_id = t.account_id
        where t.status in ('open', 'pending_customer') and t.created_at <= %s
        order by t.ticket_id
        """,
        (now,),
    ).fetchall()
    return [_Ticket(*row) for row in rows]


def _pauses(conn: psycopg.Connection, ids: list[int], now: datetime, *, waiting: set[int]) -> dict[int, list[Pause]]:
    events: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for ticket_id, event_type, occurred_at in conn.execute(
        """
        select ticket_id, event_type, occurred_at from ticket_events
        where ticket_id = any(%s) and event_type = any(%s)
          and occurred_at <= %s
        order by ticket_id, occurred_at, event_id
        """,
        (ids, list(PAUSE_EVENTS), now),
    ).fetchall():
        events[ticket_id].append((event_type, occurred_at))
    return {
        ticket_id: pauses_from_events(items, is_waiting=ticket_id in waiting) for ticket_id, items in events.items()
    }


def _recorded_keys(conn: psycopg.Connection, ids: list[int]) -> set[str]:
    rows = conn.execute(
        """
        select dedupe_key from ticket_events
        where ticket_id = any(%s) and event_type in ('sla_warning', 'sla_breach') and dedupe_key is not null
        """,
        (ids,),
    ).fetchall()
    return {str(row[0]) for row in rows}


def _state(
    policy: Policy, ticket: _Ticket, pauses: list[Pause], now: datetime, report: SlaRunReport
) -> tuple[SlaStatus, str | None]:
    try:
        status = sla_state(
            ticket.priority,
            ticket.created_at,
            ticket.timezone,
            policy.sla,
            policy.business_hours,
            now,
            pauses=pauses,
            first_responded_at=ticket.first_responded_at,
            resolved_at=ticket.resolved_at,
        )
        return status, ticket.timezone
    except ValueError as error:
        if ticket.timezone is None or "timezone" not in str(error):
            raise
        logger.warning(
            "ticket %s: account timezone %r unusable (%s); using the default", ticket.ticket_id, ticket.timezone, error
        )
        report.timezone_fallbacks.append(ticket.ticket_id)
        status = sla_state(
            ticket.priority,
            ticket.created_at,
            None,
            policy.sla,
            policy.business_hours,
            now,
            pauses=pauses,
            first_responded_at=ticket.first_responded_at,
            resolved_at=ticket.resolved_at,
        )
        return status, None


def _check_ticket(
    conn: psycopg.Connection,
    policy: Policy,
    ticket: _Ticket,
    pauses: list[Pause],
    recorded: set[str],
    now: datetime,
    act_since: datetime | None,
    report: SlaRunReport,
) -> None:
    status, timezone = _state(policy, ticket, pauses, now, report)
    clocks: dict[TargetKind, ClockStatus] = {"first_response": status.first_response, "resolution": status.resolution}
    due_changed = not (
        _same_instant(status.first_response.due, ticket.first_response_due_at)
        and _same_instant(status.resolution.due, ticket.resolution_due_at)
    )
    todo = [
        (clock, kind)
        for clock, clock_status in clocks.items()
        for kind in _kinds_reached(clock_status, policy.sla.warning_at)
        if dedupe_key(ticket.ticket_id, clock, kind) not in recorded
    ]
    if not todo and not due_changed:
        return
    with conn.transaction():
        row = conn.execute(
            "select status, tier from tickets where ticket_id = %s for update", (ticket.ticket_id,)
        ).fetchone()
        if row is None or row[0] not in ("open", "pending_customer"):
            return  # resolved or closed since the scan
        if due_changed:
            conn.execute(
                """
                update tickets set first_response_due_at = %s, resolution_due_at = %s, updated_at = now()
                where ticket_id = %s
                """,
                (status.first_response.due, status.resolution.due, ticket.ticket_id),
            )
            report.due_times_updated.append(ticket.ticket_id)
        for clock, kind in todo:
            clock_status = clocks[clock]
            occurred_at = _crossed_at(policy, ticket, timezone, pauses, clock, kind, clock_status, now)
            if not _record_finding(conn, ticket.ticket_id, clock, kind, clock_status, occurred_at, now):
                continue  # another monitor recorded it first
            finding = SlaFinding(ticket.ticket_id, clock, kind, clock_status.fraction, occurred_at)
            (report.breaches if kind == "breach" else report.warnings).append(finding)
            if kind != "breach" or _completed(ticket, clock, now):
                continue
            if act_since is not None and occurred_at < act_since:
                report.stale_breaches.append(finding)
                continue
            _act_on_breach(conn, policy, ticket, clock, clock_status, now, report)


def _same_instant(left: datetime | None, right: datetime | None) -> bool:
    if left is None or right is None:
        return left is right
    return left == right  # aware datetimes compare as instants


def _kinds_reached(status: ClockStatus, warning_at: float) -> list[Kind]:
    kinds: list[Kind] = []
    if status.fraction >= warning_at:
        kinds.append("warning")
    if status.state == "breached":
        kinds.append("breach")
    return kinds


def _completed(ticket: _Ticket, clock: TargetKind, now: datetime) -> bool:
    done = ticket.first_responded_at if clock == "first_response" else ticket.resolved_at
    return done is not None and done <= now


def _scaled(target: SlaTarget, share: float) -> SlaTarget:
    unit = next(name for name in ("minutes", "hours", "business_hours", "business_days") if getattr(target, name))
    return target.model_copy(update={unit: getattr(target, unit) * share})


def _crossed_at(
    policy: Policy,
    ticket: _Ticket,
    timezone: str | None,
    pauses: list[Pause],
    clock: TargetKind,
    kind: Kind,
    status: ClockStatus,
    now: datetime,
) -> datetime:
    """The instant the clock reached the threshold: the due instant for a breach; for a warning,
    the due instant of a budget scaled to `warning_at` (same clock, same pauses)."""
    if kind == "breach":
        return status.due or now
    target = policy.sla.target(ticket.priority, clock)
    scaled = _scaled(target, policy.sla.warning_at)
    config = SlaConfig(
        warning_at=policy.sla.warning_at,
        breach_escalates_tiers=policy.sla.breach_escalates_tiers,
        targets={ticket.priority: PriorityTargets(first_response=scaled, resolution=scaled)},
    )
    due = due_times(ticket.priority, ticket.created_at, timezone, config, policy.business_hours, pauses)
    crossed = due.first_response_due
    return min(crossed, now) if crossed is not None else now


def _record_finding(
    conn: psycopg.Connection,
    ticket_id: int,
    clock: TargetKind,
    kind: Kind,
    status: ClockStatus,
    occurred_at: datetime,
    now: datetime,
) -> bool:
    row = conn.execute(
        """
        insert into ticket_events (ticket_id, event_type, occurred_at, actor, data, dedupe_key)
        values (%s, %s, %s, %s, %s, %s)
        on conflict (dedupe_key) do nothing
        returning event_id
        """,
        (
            ticket_id,
            f"sla_{kind}",
            occurred_at,
            ACTOR,
            Jsonb(
                {
                    "clock": clock,
                    "fraction": round(status.fraction, 4),
                    "due": status.due.isoformat() if status.due else None,
                    "budget_seconds": status.budget.total_seconds(),
                    "detected_at": now.isoformat(),
                }
            ),
            dedupe_key(ticket_id, clock, kind),
        ),
    ).fetchone()
    return row is not None


def _act_on_breach(
    conn: psycopg.Connection,
    policy: Policy,
    ticket: _Ticket,
    clock: TargetKind,
    status: ClockStatus,
    now: datetime,
    report: SlaRunReport,
) -> None:
    row = conn.execute("select tier, route from tickets where ticket_id = %s", (ticket.ticket_id,)).fetchone()
    assert row is not None  # locked by the caller
    tier, route = int(row[0]), str(row[1])
    to_tier = min(tier + policy.sla.breach_escalates_tiers, highest_tier(policy))
    clock_name = "first response" if clock == "first_response" else "resolution"
    due_text = status.due.isoformat() if status.due else "unknown"
    move: TicketMove | None = None
    not_escalated = ""
    if to_tier > tier:
        to_route = route_for_tier(policy, to_tier, ticket.product_area)
        try:
            move = escalate_ticket(
                conn,
                ticket.ticket_id,
                to_tier=to_tier,
                to_route=to_route,
                assignee=None,
                reason=(
                    f"{ticket.priority} {clock_name} SLA breached (due {due_text}): escalated automatically "
                    f"by {to_tier - tier} tier(s) to {to_route}, its queue for product area {ticket.product_area}"
                ),
                actor=ACTOR,
                now=now,
                policy=policy,
                dedupe_key=dedupe_key(ticket.ticket_id, clock, "escalated"),
                data={"trigger": "sla_breach", "clock": clock},
            )
        except EscalationRefused as error:  # a policy without a route at that tier: record why
            not_escalated = str(error)
            logger.warning("ticket %s: SLA escalation refused: %s", ticket.ticket_id, error)
        else:
            if move.recorded:
                report.escalations.append(move)
    else:
        not_escalated = (
            f"already at tier {tier}, the highest"
            if tier >= highest_tier(policy)
            else "the policy escalates breaches by 0 tiers"
        )
    key = notify_key(ticket.ticket_id, clock)
    queued = enqueue_notification(
        conn,
        ticket_id=ticket.ticket_id,
        event="sla_breach",
        idempotency_key=key,
        payload={
            "clock": clock,
            "due": status.due.isoformat() if status.due else None,
            "fraction": round(status.fraction, 4),
            "escalated": move is not None,
            "from_tier": tier,
            "from_route": route,
            "to_tier": move.to_tier if move else tier,
            "to_route": move.to_route if move else route,
            "route": move.to_route if move else route,  # whose lead hears about it
            "not_escalated_because": not_escalated or None,
        },
        available_at=now,
    )
    if queued:
        report.notifications.append(key)
