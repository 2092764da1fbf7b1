"""When a ticket's SLA clocks were paused (waiting on the customer), from its event history.

One definition for every reader (the approval API's queue, the SLA monitor): a
`waiting_on_customer` event starts a pause; the customer's next reply (`customer_replied`), a
`reopened` or a `resolved` ends it. An unended pause stays open only while the ticket is still
`pending_customer`; otherwise it ends at the last event seen after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from backend.sla.clock import Pause

PAUSE_STARTS = "waiting_on_customer"
PAUSE_ENDS = frozenset({"customer_replied", "reopened", "resolved"})
PAUSE_EVENTS = (PAUSE_STARTS, *sorted(PAUSE_ENDS))


def pauses_from_events(events: Sequence[tuple[str, datetime]], *, is_waiting: bool) -> list[Pause]:
    """Pauses from (event_type, occurred_at) pairs in time order."""
    pauses: list[Pause] = []
    started: datetime | None = None
    last_seen: datetime | None = None
    for event_type, occurred_at in events:
        if event_type == PAUSE_STARTS:
            if started is None:
                started = occurred_at
        elif started is not None and event_type in PAUSE_ENDS:
            pauses.append((started, max(started, occurred_at)))
            started = None
        last_seen = occurred_at
    if started is not None:
        if is_waiting:
            pauses.append((started, None))
        elif last_seen is not None and last_seen > started:
            pauses.append((started, last_seen))
    return pauses
