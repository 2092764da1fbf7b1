"""GET /tickets (the queue: filters, SLA-risk order, pages) and GET /tickets/{id} (the detail)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from tests.api.conftest import Clock, bearer
from tests.api.factories import NOW, make_account, make_draft, make_ticket, make_user


@pytest.fixture
def token(api_db: psycopg.Connection) -> str:
    make_account(api_db)
    return make_user(api_db, "alice", "ops")


def _queue(client: TestClient, token: str, **params: Any) -> Any:
    response = client.get("/tickets", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def _event(api_db: psycopg.Connection, ticket_id: int, event_type: str, minutes_ago: int) -> None:
    api_db.execute(
        "insert into ticket_events (ticket_id, event_type, occurred_at, actor, data) values (%s, %s, %s, 'test', %s)",
        (ticket_id, event_type, NOW - timedelta(minutes=minutes_ago), Jsonb({})),
    )


@pytest.fixture
def four_states(api_db: psycopg.Connection, token: str) -> dict[str, int]:
    """At NOW (Wednesday 09:00 in Chicago): one ticket in each live SLA state, created in an order
    that differs from the risk order."""
    ok = make_ticket(api_db, account_id="acct-sunrise", priority="P4", created_at=NOW - timedelta(hours=1))
    paused = make_ticket(
        api_db,
        account_id="acct-sunrise",
        tier=1,
        route="ops",
        category="config_change",
        priority="P3",
        created_at=NOW - timedelta(hours=1),
        status="pending_customer",
    )
    _event(api_db, paused, "waiting_on_customer", 30)
    # P2: 1 business hour to first response, 50 minutes used (opened 08:10): 0.83 >= 0.75.
    warning = make_ticket(
        api_db,
        account_id="acct-sunrise",
        tier=1,
        route="ops",
        category="billing",
        priority="P2",
        created_at=NOW - timedelta(minutes=50),
        flagged=True,
    )
    # P1: 15 wall-clock minutes to first response, 30 used.
    breached = make_ticket(
        api_db,
        account_id="acct-sunrise",
        tier=2,
        route="support-eng-core",
        category="outage",
        product_area="telephony",
        priority="P1",
        created_at=NOW - timedelta(minutes=30),
    )
    return {"ok": ok, "paused": paused, "warning": warning, "breached": breached}


def test_queue_is_sorted_by_sla_risk(client: TestClient, token: str, four_states: dict[str, int]) -> None:
    page = _queue(client, token)
    assert [item["ticket_id"] for item in page["items"]] == [
        four_states["breached"],
        four_states["warning"],
        four_states["ok"],
        four_states["paused"],
    ]
    assert [item["sla"]["state"] for item in page["items"]] == ["breached", "warning", "ok", "paused"]
    assert page["total"] == 4 and (page["limit"], page["offset"]) == (50, 0)
    breached = page["items"][0]
    assert breached["sla"]["first_response"] == {
        "state": "breached",
        "due_at": "2026-03-04T08:45:00-06:00",
        "fraction": 2.0,
    }
    warning = page["items"][1]["sla"]["first_response"]
    assert (warning["state"], warning["fraction"]) == ("warning", 0.8333)
    assert page["items"][2]["has_pending_draft"] is False
    assert page["items"][2]["account_name"] == "Sunrise Motors"


def test_queue_filters(client: TestClient, token: str, four_states: dict[str, int], api_db: psycopg.Connection) -> None:
    def ids(**params: Any) -> list[int]:
        return [item["ticket_id"] for item in _queue(client, token, **params)["items"]]

    assert ids(sla_state="warning") == [four_states["warning"]]
    assert ids(sla_state="paused") == [four_states["paused"]]
    assert ids(sla_state="met") == []
    assert ids(tier=1) == [four_states["warning"], four_states["paused"]]
    assert ids(route="support-eng-core") == [four_states["breached"]]
    assert ids(flagged=True) == [four_states["warning"]]
    assert ids(flagged=False, tier=1) == [four_states["paused"]]
    assert ids(status="pending_customer") == [four_states["paused"]]
    # Resolved tickets are left out unless asked for; answered in time, they are "met".
    api_db.execute(
        "update tickets set status = 'resolved', resolved_at = %s, resolved_tier = 0 where ticket_id = %s",
        (NOW - timedelta(minutes=10), four_states["ok"]),
    )
    assert four_states["ok"] not in ids()
    assert ids(status="resolved") == [four_states["ok"]]
    assert ids(status=["resolved", "pending_customer"], sla_state="met") == [four_states["ok"]]


def test_queue_pages(client: TestClient, token: str, four_states: dict[str, int]) -> None:
    page = _queue(client, token, limit=2, offset=1)
    assert [item["ticket_id"] for item in page["items"]] == [four_states["warning"], four_states["ok"]]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    assert _queue(client, token, limit=2, offset=4)["items"] == []


def test_queue_validates_its_parameters(client: TestClient, token: str) -> None:
    cases: list[tuple[dict[str, Any], list[Any], str]] = [
        ({"tier": 7}, ["query", "tier"], "less_than_equal"),
        ({"sla_state": "late"}, ["query", "sla_state"], "literal_error"),
        ({"status": "archived"}, ["query", "status", 0], "literal_error"),
        ({"limit": 0}, ["query", "limit"], "greater_than_equal"),
        ({"limit": 500}, ["query", "limit"], "less_than_equal"),
        ({"offset": -1}, ["query", "offset"], "greater_than_equal"),
        ({"flagged": "maybe"}, ["query", "flagged"], "bool_parsing"),
    ]
    for params, loc, kind in cases:
        response = client.get("/tickets", params=params, headers=bearer(token))
        assert response.status_code == 422, params
        assert [(error["loc"], error["type"]) for error in response.json()["detail"]] == [(loc, kind)]


def test_waiting_pauses_the_clock_until_the_customer_replies(
    client: TestClient, token: str, api_db: psycopg.Connection, clock: Clock
) -> None:
    ticket_id = make_ticket(
        api_db,
        account_id="acct-sunrise",
        tier=1,
        route="ops",
        category="config_change",
        priority="P3",
        created_at=NOW - timedelta(hours=1),
    )
    assert client.post(f"/tickets/{ticket_id}/wait", headers=bearer(token)).status_code == 200
    clock.now = NOW + timedelta(hours=5)  # 14:00 local: would be breached (4 business hours) without the pause
    item = _queue(client, token)["items"][0]
    assert item["sla"]["state"] == "paused"
    assert item["sla"]["first_response"]["due_at"] is None
    assert item["sla"]["first_response"]["fraction"] == 0.25
    # The customer answers at 14:00 local: the clock runs again from there with 3 h left.
    api_db.execute("update tickets set status = 'open' where ticket_id = %s", (ticket_id,))
    api_db.execute(
        "insert into ticket_events (ticket_id, event_type, occurred_at, data) values (%s, 'customer_replied', %s, '{}')",
        (ticket_id, clock.now),
    )
    item = _queue(client, token)["items"][0]
    assert item["sla"]["first_response"] == {"state": "ok", "due_at": "2026-03-04T17:00:00-06:00", "fraction": 0.25}


def test_ticket_detail_has_what_ops_needs_to_decide(client: TestClient, token: str, api_db: psycopg.Connection) -> None:
    ticket_id = make_ticket(api_db, account_id="acct-sunrise", reply_text="How do I export call reports to CSV?")
    draft_id = make_draft(api_db, ticket_id)
    older = make_ticket(
        api_db,
        account_id="acct-sunrise",
        tier=1,
        route="ops",
        category="billing",
        created_at=NOW - timedelta(days=3),
        status="resolved",
    )
    other_open = make_ticket(
        api_db,
        account_id="acct-sunrise",
        tier=1,
        route="ops",
        category="config_change",
        created_at=NOW - timedelta(days=1),
    )
    make_account(api_db, "acct-other", name="Other Motors")
    stranger = make_ticket(api_db, account_id="acct-other", from_address="x@other.example")
    incident_id = api_db.execute(
        """insert into incidents (product_area, title, customer_message, started_at)
           values ('dashboard', 'Exports slow', 'Exports are delayed today.', %s) returning incident_id""",
        (NOW - timedelta(hours=3),),
    ).fetchone()[0]  # type: ignore[index]
    api_db.execute("insert into ticket_incidents (ticket_id, incident_id) values (%s, %s)", (ticket_id, incident_id))

    response = client.get(f"/tickets/{ticket_id}", headers=bearer(token))
    assert response.status_code == 200
    detail = response.json()
    assert detail["ticket"]["ticket_id"] == ticket_id
    account = detail["customer"]["account"]
    assert (account["name"], account["plan"], account["mrr_usd"], account["renewal_date"]) == (
        "Sunrise Motors",
        "pro",
        1200.0,
        "2026-09-01",
    )
    assert detail["customer"]["contact_email"] == "maria@sunrise-motors.example"
    assert [brief["ticket_id"] for brief in detail["customer"]["open_tickets"]] == [other_open]
    assert [brief["ticket_id"] for brief in detail["customer"]["recent_tickets"]] == [other_open, older]
    assert stranger not in [brief["ticket_id"] for brief in detail["customer"]["recent_tickets"]]
    assert [incident["title"] for incident in detail["incidents"]] == ["Exports slow"]
    assert detail["email"]["new_text"] == "How do I export call reports to CSV?"
    assert detail["email"]["subject"] == "How do I export call reports?"
    assert [(draft["draft_id"], draft["status"], draft["send_status"]) for draft in detail["drafts"]] == [
        (draft_id, "pending", None)
    ]
    assert [event["event_type"] for event in detail["events"]] == ["created", "classified", "routed", "drafted"]
    assert detail["sla"]["state"] == "ok"
