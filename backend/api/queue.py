"""The OPS queue: tickets filtered by tier, route, status, SLA state and review flag, most at risk
of missing their SLA first, one page at a time.

SQL narrows by the stored columns; the SLA state depends on the clock (business hours, pauses),
so it is computed in Python for every ticket that passed the SQL filters, then the list is
filtered by SLA state, sorted and sliced. That is linear in the number of matching tickets; the
queue holds the open ones, a few thousand at most (numbers in docs/results-api.md).

Sort order: SLA state (breached, warning, ok, paused, met), then the due instant of the clock
that decides the state (earliest first; unknown last), then priority, then age.

Failures: filters are validated by the route (422); everything here is ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from backend.api.schemas import QueueItem, QueuePage, SlaStateName, TicketStatus
from backend.api.sla_view import PAUSE_ENDS, PAUSE_STARTS, SlaCache, TicketSla, pauses_from_events
from backend.policy.model import Policy

DEFAULT_STATUSES: tuple[TicketStatus, ...] = ("open", "pending_customer")


@dataclass(frozen=True)
class QueueFilters:
    tier: int | None = None
    route: str | None = None
    statuses: tuple[TicketStatus, ...] = DEFAULT_STATUSES
    sla_state: SlaStateName | None = None
    flagged: bool | None = None
    limit: int = 50
    offset: int = 0


_QUEUE_SQL = """
select t.ticket_id, t.public_id, t.summary, t.status, t.tier, t.route, t.priority, t.category, t.product_area,
       t.is_flagged_for_review, t.assignee, t.account_id, a.name as account_name, a.timezone, t.created_at,
       t.first_responded_at, t.resolved_at,
       exists (select 1 from drafts d where d.ticket_id = t.ticket_id and d.status = 'pending') as has_pending_draft,
       pauses.types as pause_event_types, pauses.times as pause_event_times
from tickets t
left join accounts a on a.account_id = t.account_id
left join lateral (
    select array_agg(e.event_type order by e.occurred_at, e.event_id) as types,
           array_agg(e.occurred_at order by e.occurred_at, e.event_id) as times
    from ticket_events e
    where e.ticket_id = t.ticket_id and e.event_type = any(%(pause_types)s)
      and exists (select 1 from ticket_events w where w.ticket_id = t.ticket_id and w.event_type = %(pause_start)s)
) pauses on true
where t.status = any(%(statuses)s)
  and (%(tier)s::int is null or t.tier = %(tier)s::int)
  and (%(route)s::text is null or t.route = %(route)s::text)
  and (%(flagged)s::boolean is null or t.is_flagged_for_review = %(flagged)s::boolean)
"""


def _sla_for(row: dict[str, Any], cache: SlaCache, now: datetime) -> TicketSla:
    types = row["pause_event_types"] or []
    times = row["pause_event_times"] or []
    pauses = pauses_from_events(list(zip(types, times, strict=True)), is_waiting=row["status"] == "pending_customer")
    return cache.ticket_sla(
        priority=row["priority"],
        created_at=row["created_at"],
        timezone=row["timezone"],
        first_responded_at=row["first_responded_at"],
        resolved_at=row["resolved_at"],
        pauses=pauses,
        at=now,
    )


def list_queue(
    conn: psycopg.Connection,
    filters: QueueFilters,
    *,
    policy: Policy,
    now: datetime,
    sla_cache: SlaCache | None = None,
) -> QueuePage:
    """One page of the queue at `now`. `sla_cache` (the API keeps one per app) reuses SLA states
    for up to its resolution; without one, every state is computed at exactly `now`."""
    cache = sla_cache if sla_cache is not None else SlaCache(policy, resolution=timedelta(0), size=0)
    params = {
        "statuses": list(filters.statuses),
        "tier": filters.tier,
        "route": filters.route,
        "flagged": filters.flagged,
        "pause_types": [PAUSE_STARTS, *sorted(PAUSE_ENDS)],
        "pause_start": PAUSE_STARTS,
    }
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(_QUEUE_SQL, params).fetchall()
    scored = [(row, _sla_for(row, cache, now)) for row in rows]
    if filters.sla_state is not None:
        scored = [(row, sla) for row, sla in scored if sla.view.state == filters.sla_state]
    levels = {level: index for index, level in enumerate(policy.priority.levels)}
    scored.sort(
        key=lambda item: (
            item[1].rank,
            item[1].sort_due is None,
            item[1].sort_due.timestamp() if item[1].sort_due else 0.0,
            levels.get(item[0]["priority"], len(levels)),
            item[0]["created_at"],
            item[0]["ticket_id"],
        )
    )
    page = scored[filters.offset : filters.offset + filters.limit]
    items = [
        QueueItem(
            ticket_id=row["ticket_id"],
            public_id=row["public_id"],
            summary=row["summary"],
            status=row["status"],
            tier=row["tier"],
            route=row["route"],
            priority=row["priority"],
            category=row["category"],
            product_area=row["product_area"],
            is_flagged_for_review=row["is_flagged_for_review"],
            assignee=row["assignee"],
            account_id=row["account_id"],
            account_name=row["account_name"],
            created_at=row["created_at"],
            has_pending_draft=row["has_pending_draft"],
            sla=sla.view,
        )
        for row, sla in page
    ]
    return QueuePage(items=items, total=len(scored), limit=filters.limit, offset=filters.offset)
