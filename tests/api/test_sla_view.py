"""Pauses from a ticket's history, and the queue's short-lived SLA cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.api.sla_view import SlaCache, pauses_from_events, ticket_sla
from backend.policy.model import load_policy

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_pauses_from_events() -> None:
    history = [
        ("created", _at(0)),
        ("waiting_on_customer", _at(10)),
        ("waiting_on_customer", _at(12)),  # asked twice: still one pause
        ("customer_replied", _at(30)),
        ("waiting_on_customer", _at(40)),
        ("resolved", _at(50)),
        ("waiting_on_customer", _at(60)),
    ]
    assert pauses_from_events(history, is_waiting=True) == [(_at(10), _at(30)), (_at(40), _at(50)), (_at(60), None)]
    # Not waiting any more, though nothing in the history ended the last pause: it ends at the
    # next event seen, or is dropped when there is none.
    assert pauses_from_events([*history, ("escalated", _at(70))], is_waiting=False)[-1] == (_at(60), _at(70))
    assert pauses_from_events(history, is_waiting=False) == [(_at(10), _at(30)), (_at(40), _at(50))]
    assert pauses_from_events([("customer_replied", _at(5))], is_waiting=False) == []


def test_the_cache_reuses_within_its_resolution_and_never_across_inputs() -> None:
    policy = load_policy()
    cache = SlaCache(policy)
    inputs = {"priority": "P2", "created_at": T0, "timezone": "America/Chicago", "first_responded_at": None,
              "resolved_at": None, "pauses": []}
    first = cache.ticket_sla(**inputs, at=_at(44) + timedelta(seconds=3))  # type: ignore[arg-type]
    again = cache.ticket_sla(**inputs, at=_at(44) + timedelta(seconds=14))  # type: ignore[arg-type]
    assert again is first
    # Computed at the start of the 15-second window, so at most 15 s behind.
    assert first.view == ticket_sla(policy, **inputs, at=_at(44)).view  # type: ignore[arg-type]
    later = cache.ticket_sla(**inputs, at=_at(46))  # type: ignore[arg-type]
    assert later is not first and later.view.state == "warning" and first.view.state == "ok"
    paused = cache.ticket_sla(**{**inputs, "pauses": [(_at(10), None)]}, at=_at(44))  # type: ignore[arg-type]
    assert paused.view.state == "paused"
    assert SlaCache(policy, resolution=timedelta(0)).rounded(_at(1) + timedelta(seconds=7)) == _at(1) + timedelta(
        seconds=7
    )
