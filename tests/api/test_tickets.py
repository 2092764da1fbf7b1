"""Moving tickets (reassign, escalate, de-escalate) and changing their status (resolve, reopen,
wait, relabel) through the HTTP API: exact statuses, messages and the events written."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import bearer
from tests.api.factories import events_of, make_account, make_ticket, make_user

ROUTES = "ai, ops, support-eng-core, support-eng-integrations, product-eng"


@pytest.fixture
def ops(api_db: psycopg.Connection) -> str:
    make_account(api_db)
    return make_user(api_db, "alice", "ops")


def _ticket(api_db: psycopg.Connection, **overrides: Any) -> int:
    values: dict[str, Any] = {
        "account_id": "acct-sunrise",
        "tier": 1,
        "route": "ops",
        "category": "config_change",
        "priority": "P3",
    }
    values.update(overrides)
    return make_ticket(api_db, **values)


def _post(client: TestClient, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json=body, headers=bearer(token))


# --- reassign ---------------------------------------------------------------------------------


def test_reassign_within_the_tier_is_a_misroute(client: TestClient, api_db: psycopg.Connection, ops: str) -> None:
    ticket_id = _ticket(
        api_db,
        tier=2,
        route="support-eng-core",
        category="integration_issue",
        product_area="integrations",
        priority="P2",
    )
    response = _post(
        client,
        f"/tickets/{ticket_id}/reassign",
        ops,
        {"route": "support-eng-integrations", "reason": "Tekion sync, not the assistant"},
    )
    assert response.status_code == 200
    assert response.json()["ticket"]["route"] == "support-eng-integrations"
    assert response.json()["ticket"]["tier"] == 2
    assert events_of(api_db, ticket_id, "misrouted") == [
        (
            "misrouted",
            "user:alice",
            2,
            2,
            "support-eng-core",
            "support-eng-integrations",
            {"reason": "Tekion sync, not the assistant"},
        )
    ]


def test_reassign_with_an_assignee(client: TestClient, api_db: psycopg.Connection, ops: str) -> None:
    ticket_id = _ticket(api_db)
    response = _post(client, f"/tickets/{ticket_id}/reassign", ops, {"route": "ops", "assignee": "bob"})
    assert response.status_code == 200
    assert response.json()["ticket"]["assignee"] == "bob"
    assert [event["event_type"] for event in response.json()["events"]] == ["assigned"]
    assert events_of(api_db, ticket_id, "misrouted") == []
    again = _post(client, f"/tickets/{ticket_id}/reassign", ops, {"route": "ops", "assignee": "bob"})
    assert again.status_code == 409
    assert again.json() == {"detail": f"ticket {ticket_id} is already on route 'ops' and assigned to bob"}


def test_reassign_to_another_tier_points_to_escalate(client: TestClient, api_db: psycopg.Connection, ops: str) -> None:
    ticket_id = _ticket(api_db)
    up = _post(client, f"/tickets/{ticket_id}/reassign", ops, {"route": "support-eng-core"})
    assert up.status_code == 422
    assert up.json() == {
        "detail": f"route 'support-eng-core' is at tier 2 and ticket {ticket_id} at tier 1: moving up a tier is an "
        f"escalation: use POST /tickets/{ticket_id}/escalate"
    }
    down = _post(client, f"/tickets/{ticket_id}/reassign", ops, {"route": "ai"})
    assert down.status_code == 422
    assert down.json() == {
        "detail": f"route 'ai' is at tier 0 and ticket {ticket_id} at tier 1: moving down a tier is a "
        f"de-escalation: use POST /tickets/{ticket_id}/deescalate (lead or admin)"
    }
    unknown = _post(client, f"/tickets/{ticket_id}/reassign", ops, {"route": "billing-team"})
    assert unknown.status_code == 422
    assert unknown.json() == {"detail": f"unknown route 'billing-team'; routes: {ROUTES}"}
    same = _post(client, f"/tickets/{ticket_id}/reassign", ops, {"route": "ops"})
    assert same.status_code == 409
    assert same.json() == {"detail": f"ticket {ticket_id} is already on route 'ops'"}
    assert events_of(api_db, ticket_id, "misrouted") == []


# --- escalate / de-escalate -------------------------------------------------------------------


def test_escalate_uses_the_policy_route_and_queues_a_linear_issue(
    client: TestClient, api_db: psycopg.Connection, ops: str
) -> None:
    ticket_id = _ticket(api_db, category="integration_issue", product_area="integrations")
    response = _post(
        client,
        f"/tickets/{ticket_id}/escalate",
        ops,
        {"to_tier": 2, "reason": "appointments missing since Monday", "assignee": "sam"},
    )
    assert response.status_code == 200
    ticket = response.json()["ticket"]
    assert (ticket["tier"], ticket["route"], ticket["assignee"]) == (2, "support-eng-integrations", "sam")
    assert events_of(api_db, ticket_id, "escalated") == [
        (
            "escalated",
            "user:alice",
            1,
            2,
            "ops",
            "support-eng-integrations",
            {"reason": "appointments missing since Monday", "assignee": "sam"},
        )
    ]
    public_id = ticket["public_id"]
    assert api_db.execute("select kind, idempotency_key from outbox where ticket_id = %s", (ticket_id,)).fetchall() == [
        ("linear_issue", f"linear:{public_id}")
    ]


def test_escalate_to_a_named_route(client: TestClient, api_db: psycopg.Connection, ops: str) -> None:
    ticket_id = _ticket(api_db)
    wrong = _post(client, f"/tickets/{ticket_id}/escalate", ops, {"to_tier": 2, "to_route": "ops", "reason": "x"})
    assert wrong.status_code == 422
    assert wrong.json() == {"detail": "route 'ops' is at tier 1, not tier 2"}
    right = _post(
        client,
        f"/tickets/{ticket_id}/escalate",
        ops,
        {"to_tier": 2, "to_route": "support-eng-integrations", "reason": "x"},
    )
    assert right.status_code == 200
    assert right.json()["ticket"]["route"] == "support-eng-integrations"


def test_escalate_must_go_up_and_give_a_reason(client: TestClient, api_db: psycopg.Connection, ops: str) -> None:
    ticket_id = _ticket(api_db, tier=2, route="support-eng-core", category="bug", product_area="pam_core")
    same = _post(client, f"/tickets/{ticket_id}/escalate", ops, {"to_tier": 2, "reason": "x"})
    assert same.status_code == 422
    assert same.json() == {
        "detail": f"to_tier must be higher than ticket {ticket_id}'s tier 2, got 2; to change the queue within tier 2 "
        f"use POST /tickets/{ticket_id}/reassign"
    }
    lower = _post(client, f"/tickets/{ticket_id}/escalate", ops, {"to_tier": 1, "reason": "x"})
    assert lower.status_code == 422
    assert lower.json() == {"detail": f"to_tier must be higher than ticket {ticket_id}'s tier 2, got 1"}
    no_reason = _post(client, f"/tickets/{ticket_id}/escalate", ops, {"to_tier": 3})
    assert no_reason.status_code == 422
    assert [error["loc"] for error in no_reason.json()["detail"]] == [["body", "reason"]]
    out_of_range = _post(client, f"/tickets/{ticket_id}/escalate", ops, {"to_tier": 4, "reason": "x"})
    assert out_of_range.status_code == 422
    assert out_of_range.json()["detail"][0]["type"] == "less_than_equal"
    assert events_of(api_db, ticket_id, "escalated") == []


def test_deescalate_writes_its_own_event(client: TestClient, api_db: psycopg.Connection) -> None:
    make_account(api_db)
    lead = make_user(api_db, "lena", "lead")
    ticket_id = _ticket(api_db, tier=2, route="support-eng-core", category="bug", product_area="pam_core")
    up = _post(client, f"/tickets/{ticket_id}/deescalate", lead, {"to_tier": 3, "reason": "x"})
    assert up.status_code == 422
    assert up.json()["detail"][0]["type"] == "less_than_equal"
    same = _post(client, f"/tickets/{ticket_id}/deescalate", lead, {"to_tier": 2, "reason": "x"})
    assert same.status_code == 422
    assert same.json() == {"detail": f"to_tier must be lower than ticket {ticket_id}'s tier 2, got 2"}
    response = _post(client, f"/tickets/{ticket_id}/deescalate", lead, {"to_tier": 1, "reason": "only a setting"})
    assert response.status_code == 200
    assert events_of(api_db, ticket_id, "deescalated") == [
        ("deescalated", "user:lena", 2, 1, "support-eng-core", "ops", {"reason": "only a setting"})
    ]


# --- resolve / reopen / wait / relabel --------------------------------------------------------


def test_resolve_and_reopen(client: TestClient, api_db: psycopg.Connection, ops: str) -> None:
    ticket_id = _ticket(api_db)
    resolved = _post(client, f"/tickets/{ticket_id}/resolve", ops, {"note": "changed the greeting"})
    assert resolved.status_code == 200
    ticket = resolved.json()["ticket"]
    assert (ticket["status"], ticket["resolved_tier"], ticket["resolved_at"]) == ("resolved", 1, "2026-03-04T15:00:00Z")
    assert events_of(api_db, ticket_id, "resolved") == [
        ("resolved", "user:alice", None, 1, None, None, {"resolution": "human", "note": "changed the greeting"})
    ]
    twice = _post(client, f"/tickets/{ticket_id}/resolve", ops)
    assert twice.status_code == 409
    assert twice.json() == {"detail": f"ticket {ticket_id} is already resolved"}
    escalate = _post(client, f"/tickets/{ticket_id}/escalate", ops, {"to_tier": 2, "reason": "x"})
    assert escalate.status_code == 409
    assert escalate.json() == {
        "detail": f"ticket {ticket_id} is resolved: reopen it (POST /tickets/{ticket_id}/reopen) before escalating it"
    }
    no_reason = _post(client, f"/tickets/{ticket_id}/reopen", ops, {})
    assert no_reason.status_code == 422
    reopened = _post(client, f"/tickets/{ticket_id}/reopen", ops, {"reason": "the greeting is still old"})
    assert reopened.status_code == 200
    ticket = reopened.json()["ticket"]
    assert (ticket["status"], ticket["resolved_at"], ticket["resolved_tier"]) == ("open", None, None)
    assert events_of(api_db, ticket_id, "reopened") == [
        ("reopened", "user:alice", None, None, None, None, {"reason": "the greeting is still old"})
    ]
    again = _post(client, f"/tickets/{ticket_id}/reopen", ops, {"reason": "x"})
    assert again.status_code == 409
    assert again.json() == {"detail": f"ticket {ticket_id} is open, not resolved"}


def test_a_tier0_ticket_is_resolved_by_hand_only_after_an_ai_reply(
    client: TestClient, api_db: psycopg.Connection, ops: str
) -> None:
    ticket_id = _ticket(api_db, tier=0, route="ai", category="how_to", priority="P4")
    refused = _post(client, f"/tickets/{ticket_id}/resolve", ops)
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": f"ticket {ticket_id} is at tier 0 and no AI reply was sent: escalate it to tier 1 (POST "
        f"/tickets/{ticket_id}/escalate) to resolve it by hand, so it is not counted as a Tier-0 resolution"
    }
    api_db.execute(
        "insert into ticket_events (ticket_id, event_type, occurred_at, data) values (%s, 'reply_sent', now(), '{}')",
        (ticket_id,),
    )
    accepted = _post(client, f"/tickets/{ticket_id}/resolve", ops)
    assert accepted.status_code == 200
    assert accepted.json()["ticket"]["resolved_tier"] == 0


def test_wait_on_customer(client: TestClient, api_db: psycopg.Connection, ops: str) -> None:
    ticket_id = _ticket(api_db)
    response = _post(client, f"/tickets/{ticket_id}/wait", ops, {"note": "asked for the store number"})
    assert response.status_code == 200
    assert response.json()["ticket"]["status"] == "pending_customer"
    assert events_of(api_db, ticket_id, "waiting_on_customer") == [
        ("waiting_on_customer", "user:alice", None, None, None, None, {"note": "asked for the store number"})
    ]
    again = _post(client, f"/tickets/{ticket_id}/wait", ops)
    assert again.status_code == 409
    assert again.json() == {"detail": f"ticket {ticket_id} is pending_customer, not open"}


def test_relabel_is_a_training_example(client: TestClient, api_db: psycopg.Connection, ops: str) -> None:
    ticket_id = _ticket(api_db, category="config_change", product_area="dashboard")
    response = _post(
        client,
        f"/tickets/{ticket_id}/relabel",
        ops,
        {"category": "bug", "product_area": "dashboard", "reason": "the setting page errors"},
    )
    assert response.status_code == 200
    assert (response.json()["ticket"]["category"], response.json()["ticket"]["product_area"]) == ("bug", "dashboard")
    assert events_of(api_db, ticket_id, "relabelled") == [
        (
            "relabelled",
            "user:alice",
            None,
            None,
            None,
            None,
            {
                "before": {"category": "config_change", "product_area": "dashboard"},
                "after": {"category": "bug", "product_area": "dashboard"},
                "reason": "the setting page errors",
            },
        )
    ]
    # Relabelling does not move the ticket: routing stays a separate, explicit decision.
    assert (response.json()["ticket"]["tier"], response.json()["ticket"]["route"]) == (1, "ops")
    cases = [
        (
            {"category": "complaint"},
            "unknown category 'complaint'; categories: how_to, account_access, config_change, "
            "onboarding, integration_issue, ai_behavior, bug, outage, billing, feature_request, feedback",
        ),
        (
            {"product_area": "cars"},
            "unknown product_area 'cars'; product areas: pam_core, service_outbound, "
            "sales_outbound, integrations, telephony, dashboard, mobile, billing, other",
        ),
        ({}, "give a category, a product_area or both"),
        (
            {"category": "bug"},
            f"nothing to change: ticket {ticket_id} already has category 'bug' and product_area 'dashboard'",
        ),
    ]
    for body, message in cases:
        refused = _post(client, f"/tickets/{ticket_id}/relabel", ops, body)
        assert refused.status_code == 422, body
        assert refused.json() == {"detail": message}
    assert len(events_of(api_db, ticket_id, "relabelled")) == 1


def test_unknown_ticket_is_404_for_every_action(client: TestClient, api_db: psycopg.Connection, ops: str) -> None:
    cases: list[tuple[str, dict[str, Any] | None]] = [
        ("reassign", {"route": "ops"}),
        ("escalate", {"to_tier": 2, "reason": "x"}),
        ("resolve", None),
        ("reopen", {"reason": "x"}),
        ("relabel", {"category": "bug"}),
        ("wait", None),
    ]
    for action, body in cases:
        response = _post(client, f"/tickets/424242/{action}", ops, body)
        assert response.status_code == 404, action
        assert response.json() == {"detail": "ticket 424242 not found"}
    missing = client.get("/tickets/424242", headers=bearer(ops))
    assert (missing.status_code, missing.json()) == (404, {"detail": "ticket 424242 not found"})


# --- escalation suggestion ----------------------------------------------------------------------


def test_escalation_suggestion_names_route_and_reason(client: TestClient, api_db: psycopg.Connection, ops: str) -> None:
    ticket_id = _ticket(api_db, category="integration_issue", product_area="integrations")
    response = client.get(f"/tickets/{ticket_id}/escalation-suggestion", headers=bearer(ops))
    assert response.status_code == 200
    body = response.json()
    assert (body["ticket_id"], body["from_tier"], body["to_tier"], body["to_route"]) == (
        ticket_id, 1, 2, "support-eng-integrations"
    )
    assert body["reason"]
    missing = client.get("/tickets/999999/escalation-suggestion", headers=bearer(ops))
    assert missing.status_code == 404
    assert missing.json() == {"detail": "ticket 999999 not found"}
    top = _ticket(api_db, tier=3, route="product-eng", category="bug", product_area="dashboard")
    refused = client.get(f"/tickets/{top}/escalation-suggestion", headers=bearer(ops))
    assert refused.status_code == 409
    assert client.get(f"/tickets/{ticket_id}/escalation-suggestion").status_code == 401
