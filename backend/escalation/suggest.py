"""Where a ticket should go next, and to whom: an escalation suggestion for a human to accept.

The queue comes from the policy: the next tier up and, at that tier, the route for the ticket's
product area (`tier_routes`). The person comes from the queue's members (the policy's
`notifications.queues.<route>`; when the policy lists nobody, the people who have held or resolved
tickets of that queue), weighed by two facts computed from ticket history:
- load: open tickets they hold now (the latest assigned / escalated / misrouted event names them);
- experience: tickets of the same category they resolved (a `resolved` event whose data.assignee
  or actor `user:<name>` names them, else whoever held the ticket when it was resolved).
Among the members whose load is within `notifications.assignment.load_slack` of the lightest, the
most experienced wins; ties go to the lighter load, then the name. The reason says all this in a
sentence, and the alternatives list the other members and the other queues of that tier.

`suggest_escalation` only reads; accepting a suggestion is `escalate_ticket` (actions.py).
Failures: an unknown ticket raises `TicketNotFound`; a resolved ticket or one already at the highest
tier raises `EscalationRefused` (nothing to suggest); database errors raise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from backend.escalation.actions import (
    ASSIGNMENT_EVENTS,
    OPEN_STATUSES,
    EscalationRefused,
    TicketNotFound,
    highest_tier,
    normalise_person,
    route_for_tier,
)
from backend.notify.config import NotificationsConfig, load_notifications_config
from backend.policy.model import Policy


@dataclass(frozen=True)
class Candidate:
    person: str
    open_tickets: int
    resolved_in_category: int


@dataclass(frozen=True)
class EscalationOption:
    to_tier: int
    to_route: str
    assignee: str | None
    reason: str
    open_tickets: int | None = None
    resolved_in_category: int | None = None


@dataclass(frozen=True)
class EscalationSuggestion:
    ticket_id: int
    from_tier: int
    from_route: str
    to_tier: int
    to_route: str
    assignee: str | None
    reason: str
    alternatives: list[EscalationOption] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_LATEST_ASSIGNMENT = """
    select distinct on (ticket_id) ticket_id,
           nullif(regexp_replace(coalesce(data->>'assignee', ''), '^user:', ''), '') as assignee
    from ticket_events
    where event_type = any(%(assignment_events)s)
    order by ticket_id, occurred_at desc, event_id desc
"""

_LOAD_SQL = f"""
with latest as ({_LATEST_ASSIGNMENT})
select latest.assignee, count(*)
from latest join tickets on tickets.ticket_id = latest.ticket_id
where tickets.status = any(%(open_statuses)s) and latest.assignee = any(%(people)s)
group by latest.assignee
"""

# A resolution is credited to data.assignee, else a human actor, else whoever held the ticket then.
_RESOLVED_SQL = """
with resolutions as (
    select resolved.ticket_id,
           coalesce(
               nullif(regexp_replace(coalesce(resolved.data->>'assignee', ''), '^user:', ''), ''),
               case when resolved.actor like 'user:%%' then nullif(substr(resolved.actor, 6), '') end,
               holder.assignee
           ) as person
    from ticket_events resolved
    join tickets on tickets.ticket_id = resolved.ticket_id
    left join lateral (
        select nullif(regexp_replace(coalesce(held.data->>'assignee', ''), '^user:', ''), '') as assignee
        from ticket_events held
        where held.ticket_id = resolved.ticket_id
          and held.event_type = any(%(assignment_events)s)
          and (held.occurred_at, held.event_id) <= (resolved.occurred_at, resolved.event_id)
        order by held.occurred_at desc, held.event_id desc
        limit 1
    ) holder on true
    where resolved.event_type = 'resolved'
      and tickets.category = %(category)s
      and tickets.ticket_id <> %(ticket_id)s
)
select person, count(distinct ticket_id)
from resolutions
where person = any(%(people)s)
group by person
"""

# People who worked a queue before, when the policy lists no members for it.
_HISTORY_SQL = f"""
with latest as ({_LATEST_ASSIGNMENT})
select distinct person from (
    select latest.assignee as person
    from latest join tickets on tickets.ticket_id = latest.ticket_id
    where tickets.route = %(route)s
    union
    select nullif(regexp_replace(coalesce(data->>'assignee', ''), '^user:', ''), '')
    from ticket_events
    where event_type = any(%(assignment_events)s) and to_route = %(route)s
) people
where person is not null
order by person
"""


def _base_params() -> dict[str, Any]:
    return {"assignment_events": list(ASSIGNMENT_EVENTS), "open_statuses": list(OPEN_STATUSES)}


def candidates_for(
    conn: psycopg.Connection,
    people: Iterable[str],
    *,
    category: str,
    exclude_ticket_id: int,
) -> list[Candidate]:
    """Load and same-category experience of each person (unsorted, one entry per person)."""
    names = list(dict.fromkeys(name for name in (normalise_person(person) for person in people) if name))
    if not names:
        return []
    params = {**_base_params(), "people": names, "category": category, "ticket_id": exclude_ticket_id}
    load = {str(person): int(count) for person, count in conn.execute(_LOAD_SQL, params).fetchall()}
    resolved = {str(person): int(count) for person, count in conn.execute(_RESOLVED_SQL, params).fetchall()}
    return [Candidate(name, load.get(name, 0), resolved.get(name, 0)) for name in names]


def queue_people(conn: psycopg.Connection, config: NotificationsConfig, route: str) -> tuple[list[str], str]:
    """The people of a queue and where that list came from (the policy, or ticket history)."""
    members = config.members_of(route)
    if members:
        return members, "policy"
    params = {**_base_params(), "route": route}
    return [str(row[0]) for row in conn.execute(_HISTORY_SQL, params).fetchall()], "history"


def rank_candidates(candidates: list[Candidate], load_slack: int) -> list[Candidate]:
    """Best first: within `load_slack` of the lightest load, the most experienced, then the lighter
    load, then the name; everyone busier than that after, by load then experience."""
    if not candidates:
        return []
    lightest = min(candidate.open_tickets for candidate in candidates)

    def key(candidate: Candidate) -> tuple[int, int, int, str]:
        within = candidate.open_tickets <= lightest + load_slack
        if within:
            return (0, -candidate.resolved_in_category, candidate.open_tickets, candidate.person)
        return (1, candidate.open_tickets, -candidate.resolved_in_category, candidate.person)

    return sorted(candidates, key=key)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _person_reason(best: Candidate, ranked: list[Candidate], category: str, load_slack: int) -> str:
    lightest = min(candidate.open_tickets for candidate in ranked)
    load = f"holds {_plural(best.open_tickets, 'open ticket')}"
    if len(ranked) > 1:
        load += (
            f" (the lightest load in the queue is {lightest}; experience decides among people within "
            f"{load_slack} of it)"
        )
    experience = f"resolved {_plural(best.resolved_in_category, f'earlier {category} ticket')}"
    others = [candidate for candidate in ranked[1:] if candidate.open_tickets <= lightest + load_slack]
    if others:
        most_other = max(candidate.resolved_in_category for candidate in others)
        experience += f" (the next best resolved {most_other})"
    return f"{best.person} {load} and {experience}."


def suggest_escalation(
    conn: psycopg.Connection,
    policy: Policy,
    ticket_id: int,
    *,
    config: NotificationsConfig | None = None,
) -> EscalationSuggestion:
    """Suggest the next tier's queue and a person there for `ticket_id`, with a readable reason."""
    row = conn.execute(
        "select tier, route, product_area, category, status from tickets where ticket_id = %s", (ticket_id,)
    ).fetchone()
    if row is None:
        raise TicketNotFound(f"ticket {ticket_id} not found")
    tier, route, product_area, category, status = int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4])
    if status not in OPEN_STATUSES:
        raise EscalationRefused(f"ticket {ticket_id} is {status}: there is nothing to escalate")
    top = highest_tier(policy)
    if tier >= top:
        raise EscalationRefused(f"ticket {ticket_id} is at tier {tier}, the highest: it cannot be escalated further")
    config = config or load_notifications_config(policy)
    slack = config.assignment.load_slack
    to_tier = tier + 1
    to_route = route_for_tier(policy, to_tier, product_area)

    people, source = queue_people(conn, config, to_route)
    ranked = rank_candidates(candidates_for(conn, people, category=category, exclude_ticket_id=ticket_id), slack)
    routing = policy.tier_routes[to_tier]
    why_route = (
        f"product area {product_area} goes to {to_route} at tier {to_tier}"
        if product_area in routing.by_product_area
        else f"tier {to_tier} takes it in {to_route} (its default queue)"
    )
    reason = f"Next tier up from tier {tier} ({route}): {why_route}. "
    if ranked:
        best = ranked[0]
        reason += _person_reason(best, ranked, category, slack)
        if source == "history":
            reason += f" (the policy lists no members for {to_route}; people came from its ticket history)"
    else:
        reason += f"Nobody is known in {to_route}: the queue's lead assigns it."

    alternatives = [
        EscalationOption(
            to_tier=to_tier,
            to_route=to_route,
            assignee=candidate.person,
            reason=f"also in {to_route}: {_plural(candidate.open_tickets, 'open ticket')}, "
            f"resolved {candidate.resolved_in_category} {category}",
            open_tickets=candidate.open_tickets,
            resolved_in_category=candidate.resolved_in_category,
        )
        for candidate in ranked[1:]
    ]
    for other_route, info in policy.routes.items():
        if info.tier != to_tier or other_route == to_route:
            continue
        other_people, _ = queue_people(conn, config, other_route)
        other_ranked = rank_candidates(
            candidates_for(conn, other_people, category=category, exclude_ticket_id=ticket_id), slack
        )
        pick = other_ranked[0] if other_ranked else None
        alternatives.append(
            EscalationOption(
                to_tier=to_tier,
                to_route=other_route,
                assignee=pick.person if pick else None,
                reason=f"another tier-{to_tier} queue ({info.description or other_route})",
                open_tickets=pick.open_tickets if pick else None,
                resolved_in_category=pick.resolved_in_category if pick else None,
            )
        )
    return EscalationSuggestion(
        ticket_id=ticket_id,
        from_tier=tier,
        from_route=route,
        to_tier=to_tier,
        to_route=to_route,
        assignee=ranked[0].person if ranked else None,
        reason=reason.strip(),
        alternatives=alternatives,
        candidates=ranked,
    )
