"""The funnel, from the views: requests by tier, category and route; tickets created; automated
mail and follow-ups; coverage (actionable emails that became at least one ticket)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class FunnelSummary:
    emails: int
    outcomes: dict[str, int]
    kinds: dict[str, int]
    tickets: int
    by_tier: list[tuple[int, int]]
    by_category: list[tuple[str, int]]
    by_route: list[tuple[str, int]]
    by_priority: list[tuple[str, int]]
    actionable_emails: int
    actionable_with_ticket: int
    automated_emails: int
    followups: int
    failed: int
    flagged_for_review: int

    @property
    def coverage(self) -> float | None:
        if self.actionable_emails == 0:
            return None
        return self.actionable_with_ticket / self.actionable_emails


def _pairs(conn: psycopg.Connection, query: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(query).fetchall()]


def funnel_summary(conn: psycopg.Connection) -> FunnelSummary:
    totals = conn.execute(
        """select count(*),
                  count(*) filter (where is_actionable),
                  count(*) filter (where is_actionable and tickets_created > 0),
                  count(*) filter (where is_automated),
                  count(*) filter (where is_followup),
                  count(*) filter (where is_failed)
           from fct_messages"""
    ).fetchone()
    assert totals is not None
    tickets = conn.execute("select count(*), count(*) filter (where is_flagged_for_review) from fct_tickets").fetchone()
    assert tickets is not None
    return FunnelSummary(
        emails=totals[0],
        outcomes=dict(_pairs(conn, "select outcome, count(*) from fct_messages group by 1 order by 2 desc, 1")),
        kinds=dict(
            _pairs(conn, "select coalesce(kind, '(none)'), count(*) from fct_messages group by 1 order by 2 desc, 1")
        ),
        tickets=tickets[0],
        by_tier=_pairs(conn, "select first_tier, count(*) from fct_tickets group by 1 order by 1"),
        by_category=_pairs(conn, "select category, count(*) from fct_tickets group by 1 order by 2 desc, 1"),
        by_route=_pairs(conn, "select first_route, count(*) from fct_tickets group by 1 order by 2 desc, 1"),
        by_priority=_pairs(conn, "select priority, count(*) from fct_tickets group by 1 order by 1"),
        actionable_emails=totals[1],
        actionable_with_ticket=totals[2],
        automated_emails=totals[3],
        followups=totals[4],
        failed=totals[5],
        flagged_for_review=tickets[1],
    )


def _bar(count: int, total: int, width: int = 30) -> str:
    if total == 0:
        return ""
    return "#" * max(1 if count else 0, round(width * count / total))


def render_funnel(summary: FunnelSummary) -> str:
    lines: list[str] = []
    add = lines.append
    add(f"Emails ingested: {summary.emails}")
    for outcome, count in summary.outcomes.items():
        add(f"  {outcome:<20} {count:>5}")
    add("Emails by kind:")
    for kind, count in summary.kinds.items():
        add(f"  {kind:<20} {count:>5}")
    add(
        f"Automated mail (no ticket): {summary.automated_emails}   Follow-ups: {summary.followups}   "
        f"Failed: {summary.failed}"
    )
    coverage = summary.coverage
    coverage_text = "n/a" if coverage is None else f"{coverage:.1%}"
    add(
        f"Coverage: {summary.actionable_with_ticket} of {summary.actionable_emails} actionable emails became "
        f"tickets ({coverage_text})"
    )
    add(f"Tickets created: {summary.tickets}   (flagged for human review: {summary.flagged_for_review})")
    total = summary.tickets
    add("Requests by tier:")
    for tier, count in summary.by_tier:
        add(f"  tier {tier}  {count:>5} {count / total:>6.1%}  {_bar(count, total)}")
    add("Requests by route:")
    for route, count in summary.by_route:
        add(f"  {route:<26} {count:>5} {count / total:>6.1%}  {_bar(count, total)}")
    add("Requests by category:")
    for category, count in summary.by_category:
        add(f"  {category:<26} {count:>5} {count / total:>6.1%}  {_bar(count, total)}")
    add("Requests by priority:")
    for priority, count in summary.by_priority:
        add(f"  {priority:<26} {count:>5} {count / total:>6.1%}")
    return "\n".join(lines)


@dataclass(frozen=True)
class OutcomeSummary:
    """Where tickets ended: resolved by tier, routing right first time, escalations, SLA outcomes."""

    tickets: int
    resolved_by_tier: list[tuple[int, int]]
    open_tickets: int
    right_first_time: int  # not re-assigned to another queue at its tier (the dashboards' definition)
    escalated: int
    escalated_on_breach: int  # of `escalated`: tickets the SLA monitor escalated at least once
    escalation_paths: list[tuple[int, int, int]]  # from tier, to tier, tickets
    sla: list[tuple[str, str, int]]  # clock, outcome, tickets
    tier0: Tier0Counts


@dataclass(frozen=True)
class Tier0Counts:
    """Tickets by the fate of their AI draft (mart_funnel turns these into rates)."""

    drafted: int
    approved: int  # by a person
    edited: int  # of approved
    rejected: int
    auto_sent: int
    assumed_resolved: int
    verified_resolved: int


def _tier0_counts(conn: psycopg.Connection) -> Tier0Counts:
    row = conn.execute(
        """select count(*) filter (where is_drafted), count(*) filter (where is_draft_approved),
                  count(*) filter (where is_draft_edited), count(*) filter (where is_draft_rejected),
                  count(*) filter (where is_auto_sent), count(*) filter (where is_assumed_resolved),
                  count(*) filter (where is_verified_resolved)
           from fct_tickets"""
    ).fetchone()
    assert row is not None
    return Tier0Counts(*(int(value) for value in row))


def outcome_summary(conn: psycopg.Connection) -> OutcomeSummary:
    row = conn.execute(
        """select count(*), count(*) filter (where not is_resolved),
                  count(*) filter (where not is_misrouted), count(*) filter (where is_escalated),
                  count(*) filter (where is_escalated and exists (
                      select 1 from stg_ticket_events as events
                      where events.ticket_id = fct_tickets.ticket_id and events.event_type = 'escalated'
                        and events.data ->> 'trigger' = 'sla_breach'))
           from fct_tickets"""
    ).fetchone()
    assert row is not None
    sla = _pairs(
        conn,
        """select clock, outcome, count(*) from (
               select 'first response' as clock, first_response_sla as outcome from fct_tickets
               union all select 'resolution', resolution_sla from fct_tickets) as clocks
           group by 1, 2 order by 1, 2""",
    )
    return OutcomeSummary(
        tickets=row[0],
        resolved_by_tier=_pairs(
            conn, "select resolving_tier, count(*) from fct_tickets where is_resolved group by 1 order by 1"
        ),
        open_tickets=row[1],
        right_first_time=row[2],
        escalated=row[3],
        escalated_on_breach=row[4],
        escalation_paths=_pairs(
            conn,
            """select first_tier, final_tier, count(*) from fct_tickets where is_escalated
               group by 1, 2 order by 1, 2""",
        ),
        sla=[(str(clock), str(outcome), int(count)) for clock, outcome, count in sla],
        tier0=_tier0_counts(conn),
    )


def render_outcomes(summary: OutcomeSummary) -> str:
    total = summary.tickets
    if total == 0:
        return "No tickets yet."
    lines = ["Resolved by tier:"]
    for tier, count in summary.resolved_by_tier:
        lines.append(f"  tier {tier}  {count:>5} {count / total:>6.1%}  {_bar(count, total)}")
    lines.append(f"  open    {summary.open_tickets:>5} {summary.open_tickets / total:>6.1%}")
    lines.append(
        f"Routed right first time (not re-assigned at its tier): {summary.right_first_time} of {total} "
        f"({summary.right_first_time / total:.1%})"
    )
    lines.append(
        f"Escalated: {summary.escalated} ({summary.escalated / total:.1%}), of which "
        f"{summary.escalated_on_breach} by the SLA monitor on a breach"
    )
    if summary.escalation_paths:
        paths = ", ".join(f"{start}->{end}: {count}" for start, end, count in summary.escalation_paths)
        lines.append(f"Escalation paths (first tier -> final tier): {paths}")
    if summary.sla:
        outcomes = "; ".join(f"{clock} {outcome} {count}" for clock, outcome, count in summary.sla)
        lines.append(f"SLA outcomes: {outcomes}")
    t0 = summary.tier0
    lines.append(
        f"AI drafts: {t0.drafted} tickets ({t0.drafted / total:.1%} of requests); approved {t0.approved} "
        f"({t0.edited} edited), rejected {t0.rejected}, auto-sent {t0.auto_sent}; Tier-0 resolutions assumed "
        f"{t0.assumed_resolved}, verified {t0.verified_resolved}"
    )
    return "\n".join(lines)
