"""Authentication (401) and roles (403) through the HTTP API."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from backend.users.store import issue_token, revoke_token, revoke_user
from tests.api.conftest import bearer
from tests.api.factories import make_account, make_ticket, make_user

MISSING = {"detail": "missing bearer token (Authorization: Bearer <token>)"}
INVALID = {"detail": "invalid or revoked token"}


def test_healthz_needs_no_token(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_no_token_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/tickets")
    assert response.status_code == 401
    assert response.json() == MISSING
    assert response.headers["www-authenticate"] == "Bearer"


def test_other_schemes_are_not_a_token(client: TestClient, api_db: psycopg.Connection) -> None:
    token = make_user(api_db, "alice", "ops")
    response = client.get("/tickets", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 401
    assert response.json() == MISSING


def test_unknown_token_is_401(client: TestClient, api_db: psycopg.Connection) -> None:
    make_user(api_db, "alice", "ops")
    for token in ("tier0_not-a-real-token", "garbage", "tier0_" + "x" * 300):
        response = client.get("/tickets", headers=bearer(token))
        assert response.status_code == 401, token
        assert response.json() == INVALID


def test_a_revoked_user_loses_every_token(client: TestClient, api_db: psycopg.Connection) -> None:
    first = make_user(api_db, "alice", "ops")
    second = issue_token(api_db, "alice").token
    assert client.get("/tickets", headers=bearer(first)).status_code == 200
    assert client.get("/tickets", headers=bearer(second)).status_code == 200
    assert revoke_user(api_db, "alice") == 2
    for token in (first, second):
        response = client.get("/tickets", headers=bearer(token))
        assert response.status_code == 401
        assert response.json() == INVALID


def test_revoking_one_token_keeps_the_others(client: TestClient, api_db: psycopg.Connection) -> None:
    old = make_user(api_db, "alice", "ops")
    new = issue_token(api_db, "alice").token
    revoke_token(api_db, old[:12])
    assert client.get("/tickets", headers=bearer(old)).status_code == 401
    assert client.get("/tickets", headers=bearer(new)).status_code == 200


def test_me_names_the_user_and_role(client: TestClient, api_db: psycopg.Connection) -> None:
    token = make_user(api_db, "lena", "lead")
    response = client.get("/me", headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["role"]) == ("lena", "lead")
    assert "de-escalate tickets" in body["permissions"]
    assert "manage users" not in body["permissions"]


def test_ops_cannot_deescalate_but_a_lead_can(client: TestClient, api_db: psycopg.Connection) -> None:
    make_account(api_db)
    ticket_id = make_ticket(
        api_db,
        account_id="acct-sunrise",
        tier=2,
        route="support-eng-core",
        category="bug",
        priority="P3",
        product_area="pam_core",
    )
    ops, lead = make_user(api_db, "olga", "ops"), make_user(api_db, "lena", "lead")
    body = {"to_tier": 1, "reason": "a configuration question after all"}
    response = client.post(f"/tickets/{ticket_id}/deescalate", json=body, headers=bearer(ops))
    assert response.status_code == 403
    assert response.json() == {"detail": "role ops may not de-escalate tickets: needs lead or admin"}
    response = client.post(f"/tickets/{ticket_id}/deescalate", json=body, headers=bearer(lead))
    assert response.status_code == 200
    assert (response.json()["ticket"]["tier"], response.json()["ticket"]["route"]) == (1, "ops")


def test_skipping_a_tier_needs_a_lead(client: TestClient, api_db: psycopg.Connection) -> None:
    make_account(api_db)
    ticket_id = make_ticket(api_db, account_id="acct-sunrise", tier=1, route="ops", category="bug", priority="P3")
    ops, lead = make_user(api_db, "olga", "ops"), make_user(api_db, "lena", "lead")
    body = {"to_tier": 3, "reason": "needs a code change"}
    response = client.post(f"/tickets/{ticket_id}/escalate", json=body, headers=bearer(ops))
    assert response.status_code == 403
    assert response.json() == {"detail": "role ops may not escalate past the next tier: needs lead or admin"}
    # Nothing was written by the refused attempt.
    assert api_db.execute(
        "select count(*) from ticket_events where ticket_id = %s and event_type = 'escalated'", (ticket_id,)
    ).fetchone() == (0,)
    response = client.post(f"/tickets/{ticket_id}/escalate", json=body, headers=bearer(lead))
    assert response.status_code == 200
    assert response.json()["ticket"]["route"] == "product-eng"


def test_only_admins_list_users(client: TestClient, api_db: psycopg.Connection) -> None:
    ops, admin = make_user(api_db, "olga", "ops"), make_user(api_db, "ada", "admin")
    response = client.get("/users", headers=bearer(ops))
    assert response.status_code == 403
    assert response.json() == {"detail": "role ops may not manage users: needs admin"}
    response = client.get("/users", headers=bearer(admin))
    assert response.status_code == 200
    listed = {user["name"]: user for user in response.json()}
    assert set(listed) == {"olga", "ada"}
    assert listed["olga"]["role"] == "ops" and listed["olga"]["active_tokens"] == 1
    assert listed["olga"]["token_hints"] == [ops[:12]]
    assert all(ops not in str(user) and admin not in str(user) for user in response.json())
