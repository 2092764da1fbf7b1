"""Did a Tier-0 answer solve the problem? Silence, then no reopening, says so.

For each Tier-0 ticket (tier 0 now) and its latest answer (the last `reply_sent` event: an
approved or auto-sent AI reply):
  * `assumed_resolved`: the customer has not written back (no `customer_replied`, `reopened` or
    `escalated` event after the answer) within `auto_send.followup.assume_resolved_after_hours`
    (24 h). A ticket still `open` is then resolved at tier 0 (`resolved` event, resolution
    "assumed", at the answer's time: that is when the customer got what solved it). A ticket
    waiting on the customer (`pending_customer`) is left alone: a person asked for something.
  * `verified_resolved`: an assumed resolution whose ticket is still resolved and was not reopened
    (nor written to) within `verify_resolved_after_hours` (72 h) of the answer.
A `customer_thanked` does not count as writing back: a bare "thanks" confirms the answer.

Each event's dedupe key names the ticket and the answer event (`assumed_resolved:<ticket>:<event>`),
so a re-run, or an overlapping one, records nothing twice, and a ticket answered again after a
reopening gets a fresh cycle. Events are dated when their window ended, not when the job ran,
so a late run writes the same history as a punctual one.

Failures: none are the sender's; database errors are ours and raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from backend.tier0.config import FollowupRules

EVENT_ACTOR = "system"
# Events after our answer that mean the answer did not (yet) settle it.
WRITE_BACK_EVENTS = ("customer_replied", "reopened", "escalated")


@dataclass
class FollowupReport:
    assumed: list[int] = field(default_factory=list)  # ticket ids
    resolved: list[int] = field(default_factory=list)  # assumed and resolved by this run
    verified: list[int] = field(default_factory=list)


_ASSUME_CANDIDATES = """
with answers as (
    select distinct on (e.ticket_id) e.ticket_id, e.event_id, e.occurred_at
    from ticket_events e join tickets t on t.ticket_id = e.ticket_id
    where e.event_type = 'reply_sent' and t.tier = 0 and t.status in ('open', 'resolved', 'closed')
    order by e.ticket_id, e.occurred_at desc, e.event_id desc
)
select a.ticket_id, a.event_id, a.occurred_at
from answers a
where a.occurred_at <= %(assume_before)s
  and not exists (
      select 1 from ticket_events later
      where later.ticket_id = a.ticket_id and later.event_type = any(%(write_back)s)
        and later.occurred_at > a.occurred_at)
  and not exists (
      select 1 from ticket_events done
      where done.dedupe_key = 'assumed_resolved:' || a.ticket_id || ':' || a.event_id)
order by a.occurred_at, a.ticket_id
"""

_VERIFY_CANDIDATES = """
select assumed.ticket_id, (assumed.data ->> 'answer_event_id')::bigint, answer.occurred_at
from ticket_events assumed
join ticket_events answer on answer.event_id = (assumed.data ->> 'answer_event_id')::bigint
join tickets t on t.ticket_id = assumed.ticket_id
where assumed.event_type = 'assumed_resolved'
  and t.status in ('resolved', 'closed')
  and answer.occurred_at <= %(verify_before)s
  and not exists (
      select 1 from ticket_events later
      where later.ticket_id = assumed.ticket_id and later.event_type = any(%(write_back)s)
        and later.occurred_at > answer.occurred_at)
  and not exists (
      select 1 from ticket_events done
      where done.dedupe_key = 'verified_resolved:' || assumed.ticket_id || ':' || answer.event_id)
order by answer.occurred_at, assumed.ticket_id
"""


def _insert(
    conn: psycopg.Connection,
    ticket_id: int,
    event_type: str,
    at: datetime,
    data: dict[str, object],
    dedupe_key: str,
    *,
    to_tier: int | None = None,
) -> bool:
    row = conn.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, actor, to_tier, data, dedupe_key)
           values (%s, %s, %s, %s, %s, %s, %s) on conflict (dedupe_key) do nothing returning event_id""",
        (ticket_id, event_type, at, EVENT_ACTOR, to_tier, Jsonb(data), dedupe_key),
    ).fetchone()
    return row is not None


def track_tier0_resolutions(conn: psycopg.Connection, rules: FollowupRules, *, now: datetime) -> FollowupReport:
    """Record the assumed and verified resolutions that are due at `now` (see the module docstring)."""
    assume_after = timedelta(hours=rules.assume_resolved_after_hours)
    verify_after = timedelta(hours=rules.verify_resolved_after_hours)
    report = FollowupReport()
    write_back = list(WRITE_BACK_EVENTS)
    with conn.transaction():
        for ticket_id, answer_event_id, answered_at in conn.execute(
            _ASSUME_CANDIDATES, {"assume_before": now - assume_after, "write_back": write_back}
        ).fetchall():
            status_row = conn.execute(
                "select status from tickets where ticket_id = %s for update", (ticket_id,)
            ).fetchone()
            assert status_row is not None
            data = {"answer_event_id": answer_event_id, "answered_at": answered_at.isoformat()}
            if not _insert(
                conn,
                ticket_id,
                "assumed_resolved",
                answered_at + assume_after,
                data,
                f"assumed_resolved:{ticket_id}:{answer_event_id}",
            ):
                continue
            report.assumed.append(ticket_id)
            if status_row[0] == "open":
                _insert(
                    conn,
                    ticket_id,
                    "resolved",
                    answered_at,
                    {"resolution": "assumed", **data},
                    f"resolved:assumed:{ticket_id}:{answer_event_id}",
                    to_tier=0,
                )
                conn.execute(
                    """update tickets set status = 'resolved', resolved_at = greatest(%s, created_at),
                                          resolved_tier = 0, updated_at = now()
                       where ticket_id = %s""",
                    (answered_at, ticket_id),
                )
                report.resolved.append(ticket_id)
        for ticket_id, answer_event_id, answered_at in conn.execute(
            _VERIFY_CANDIDATES, {"verify_before": now - verify_after, "write_back": write_back}
        ).fetchall():
            data = {"answer_event_id": answer_event_id, "answered_at": answered_at.isoformat()}
            if _insert(
                conn,
                ticket_id,
                "verified_resolved",
                answered_at + verify_after,
                data,
                f"verified_resolved:{ticket_id}:{answer_event_id}",
            ):
                report.verified.append(ticket_id)
    return report
