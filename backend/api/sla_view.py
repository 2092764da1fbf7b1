"""A ticket's SLA state as the queue shows it: both clocks from backend/sla/clock.py, pauses taken
from the ticket's history, and one overall state (the worse clock) to filter and sort by.

Pauses come from `ticket_events`: `waiting_on_customer` starts one; the customer's next reply
(`customer_replied`), a `reopened` or a `resolved` ends it. A pause still open while the ticket is
`pending_customer` stops the clocks (backend/sla/clock.py: the due instant is then unknown).

The queue computes this for every open ticket on every listing, and the business-hours arithmetic
is most of a listing's cost (about 0.1 ms a ticket). `SlaCache` keeps results for a few seconds:
the instant is rounded down to `SlaCache.resolution` (15 s), and a result is reused while every
input (priority, times, pauses, policy object) is the same, so a state can lag by at most 15 s,
while due instants stay exact.

Pure functions; failures are ours (a ticket with an unknown priority is a bug upstream).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.api.schemas import ClockOut, SlaOut, SlaStateName
from backend.policy.model import Policy
from backend.sla.clock import ClockStatus, Pause, sla_state
from backend.sla.pauses import PAUSE_ENDS, PAUSE_STARTS, pauses_from_events

__all__ = ["PAUSE_ENDS", "PAUSE_STARTS", "SlaCache", "TicketSla", "pauses_from_events", "ticket_sla"]

# Most at risk first: the queue sorts by this rank, then by the due instant.
STATE_RANK: dict[SlaStateName, int] = {"breached": 0, "warning": 1, "ok": 2, "paused": 3, "met": 4}


def _clock(status: ClockStatus) -> ClockOut:
    return ClockOut(state=status.state, due_at=status.due, fraction=round(status.fraction, 4))


@dataclass(frozen=True)
class TicketSla:
    view: SlaOut
    sort_due: datetime | None  # the due instant of the clock that decides the state

    @property
    def rank(self) -> int:
        return STATE_RANK[self.view.state]


def ticket_sla(
    policy: Policy,
    *,
    priority: str,
    created_at: datetime,
    timezone: str | None,
    first_responded_at: datetime | None,
    resolved_at: datetime | None,
    pauses: Sequence[Pause],
    at: datetime,
) -> TicketSla:
    status = sla_state(
        priority,
        created_at,
        timezone,
        policy.sla,
        policy.business_hours,
        at,
        pauses=pauses,
        # Resolving a ticket answers it: a resolved ticket no longer waits for a first response.
        first_responded_at=first_responded_at or resolved_at,
        resolved_at=resolved_at,
    )
    clocks = [status.first_response, status.resolution]
    worst = min(clocks, key=lambda clock: STATE_RANK[clock.state])
    view = SlaOut(state=worst.state, first_response=_clock(status.first_response), resolution=_clock(status.resolution))
    return TicketSla(view=view, sort_due=worst.due)


class SlaCache:
    """Recent `ticket_sla` results for one policy, keyed by every input (see the module docstring)."""

    def __init__(self, policy: Policy, *, resolution: timedelta = timedelta(seconds=15), size: int = 50_000) -> None:
        self.policy = policy
        self.resolution = resolution
        self._size = size
        self._entries: OrderedDict[Hashable, TicketSla] = OrderedDict()
        self._lock = threading.Lock()

    def rounded(self, at: datetime) -> datetime:
        step = self.resolution.total_seconds()
        return at - timedelta(seconds=at.timestamp() % step) if step > 0 else at

    def ticket_sla(
        self,
        *,
        priority: str,
        created_at: datetime,
        timezone: str | None,
        first_responded_at: datetime | None,
        resolved_at: datetime | None,
        pauses: Sequence[Pause],
        at: datetime,
    ) -> TicketSla:
        at = self.rounded(at)
        key = (priority, created_at, timezone, first_responded_at, resolved_at, tuple(pauses), at)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        computed = ticket_sla(
            self.policy,
            priority=priority,
            created_at=created_at,
            timezone=timezone,
            first_responded_at=first_responded_at,
            resolved_at=resolved_at,
            pauses=pauses,
            at=at,
        )
        with self._lock:
            self._entries[key] = computed
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return computed
