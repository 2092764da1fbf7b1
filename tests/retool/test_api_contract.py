"""Every REST call of the export against the approval API: each variant of each query names a route
of the API's OpenAPI document (`create_app(...).openapi()`) with parameters and a body its schemas
accept; what the app reads from responses exists in the response schemas; and the whole app, driven
query by query as an OPS user would, works a queue through the real API and database."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from backend.retool.export import TEMPLATE, RetoolApp
from tests.api.conftest import bearer
from tests.api.factories import NOW, events_of, make_account, make_draft, make_ticket, make_user
from tests.retool.javascript import chains, code_of
from tests.retool.openapi_check import find_route, request_errors, resolve, response_schema, walk
from tests.retool.support import SAMPLES, Context, Request, requests_of

ROUTES_USED = {
    ("GET", "/tickets"),
    ("GET", "/tickets/{ticket_id}"),
    ("POST", "/tickets/{ticket_id}/drafts/{draft_id}/approve"),
    ("POST", "/tickets/{ticket_id}/drafts/{draft_id}/reject"),
    ("POST", "/tickets/{ticket_id}/reassign"),
    ("POST", "/tickets/{ticket_id}/escalate"),
    ("POST", "/tickets/{ticket_id}/resolve"),
    ("POST", "/tickets/{ticket_id}/reopen"),
    ("POST", "/tickets/{ticket_id}/reply"),
}
IDS = {"ticket_id": 17, "other_ticket_id": 18, "draft_id": 5, "account_id": "acct-sunrise"}
# Where the app's data comes from: a query's `.data`, a transformer's `.value`, and the arrow
# parameters that range over lists of the API's objects.
RESPONSES = {"queueQuery": ("GET", "/tickets"), "ticketDetail": ("GET", "/tickets/{ticket_id}")}
OBJECTS = {
    "pendingDraft": "DraftOut",
    "item": "QueueItem",
    "clock": "ClockOut",
    "draft": "DraftOut",
    "incident": "IncidentOut",
}
# Read by a placeholder that stays hidden while the API does not return it (see the health test).
PLANNED = {"ticketDetail.data.customer.account.health"}


def _all_requests(app: RetoolApp, ids: dict[str, Any]) -> list[Request]:
    return [request for query in app.rest_queries() for request in requests_of(app, query.id, Context(app, ids))]


def test_every_rest_call_matches_a_route_of_the_approval_api(app: RetoolApp, openapi: dict[str, Any]) -> None:
    requests = _all_requests(app, IDS)
    errors = [error for request in requests for error in request_errors(openapi, request)]
    assert errors == []
    assert {
        (request.method, find_route(openapi, request.method, request.url)[0]) for request in requests
    } == ROUTES_USED
    assert len(requests) > 25  # every option of every filter, every optional field set and unset


def test_every_expression_in_a_request_has_sample_values(app: RetoolApp) -> None:
    used: set[str] = set()
    for query in [*app.rest_queries(), *app.sql_queries()]:
        text = query.template["query"] + query.template.get("body", "")
        used.update(match.strip() for match in TEMPLATE.findall(text))
    assert used == set(SAMPLES)  # no expression without samples, no stale sample


def test_the_request_check_catches_what_the_api_would_refuse(openapi: dict[str, Any]) -> None:
    refused = [
        Request("typo", "POST", "tickets/1/escalate", {"to_tier": 2, "reson": "typo"}),
        Request("no reason", "POST", "tickets/1/escalate", {"to_tier": 2}),
        Request("tier out of range", "GET", "tickets?tier=7", None),
        Request("unknown filter", "GET", "tickets?sla=late", None),
        Request("comma list", "GET", "tickets?status=open,closed", None),
        Request("empty filter", "GET", "tickets?flagged=", None),
        Request("no such route", "POST", "tickets/1/close", None),
        Request("ticket 0", "POST", "tickets/0/reopen", {"reason": "x"}),
        Request("body required", "POST", "tickets/1/reopen", None),
        Request("wrong method", "PUT", "tickets/1", None),
    ]
    for request in refused:
        assert request_errors(openapi, request), request.query_id


def _objects(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    schemas = openapi["components"]["schemas"]
    return {name: schemas[schema] for name, schema in OBJECTS.items()}


def test_what_the_app_reads_from_responses_exists(app: RetoolApp, openapi: dict[str, Any]) -> None:
    missing, checked = set(), 0
    for root, (method, template) in RESPONSES.items():
        schema = response_schema(openapi, method, template)
        for plugin_id, path, code in code_of(app):
            for chain in chains(code, root):
                if chain[:1] != ["data"]:
                    continue
                checked += 1
                absent = walk(openapi, schema, chain[1:])
                if absent and ".".join([root, *chain]) not in PLANNED:
                    missing.add(f"{plugin_id}.{path}: {root}.{'.'.join(chain)} ({absent} is not in the response)")
    for name, schema in _objects(openapi).items():
        for plugin_id, path, code in code_of(app):
            for chain in chains(code, name):
                names = chain[1:] if name == "pendingDraft" and chain[:1] == ["value"] else chain
                checked += 1
                if absent := walk(openapi, schema, names):
                    missing.add(f"{plugin_id}.{path}: {name}.{'.'.join(chain)} ({absent} is not in {OBJECTS[name]})")
    assert missing == set()
    assert checked > 60


def test_the_health_placeholder_stays_hidden_until_the_api_returns_a_health(
    app: RetoolApp, openapi: dict[str, Any]
) -> None:
    readers = [
        plugin_id
        for plugin_id, _path, code in code_of(app)
        for chain in chains(code, "ticketDetail")
        if ".".join(["ticketDetail", *chain]) in PLANNED
    ]
    assert set(readers) == {"accountHealthText"}
    placeholder = app.plugins["accountHealthText"].template
    assert placeholder["hidden"] == "{{ ticketDetail.data?.customer.account?.health == null }}"
    assert "placeholder" in placeholder["value"]
    account = openapi["components"]["schemas"]["AccountOut"]["properties"]
    assert "health" not in account, "the API returns a health now: show it for real (drop the placeholder label)"


def test_required_fields_are_guarded_by_their_buttons(app: RetoolApp, openapi: dict[str, Any]) -> None:
    """A button stays disabled while an input a required body field comes from is empty, so the
    app never sends a request the API must refuse for a missing reason or route."""
    buttons = {
        handler["pluginId"]: plugin
        for plugin in app.widgets()
        for handler in plugin.events
        if handler["event"] == "click"
    }
    guarded = 0
    for query in app.rest_queries():
        body = query.template["body"]
        if not body:
            continue
        route = find_route(openapi, query.template["type"], TEMPLATE.sub("1", query.template["query"]))[1]
        schema = resolve(openapi, route["requestBody"]["content"]["application/json"]["schema"])
        for field, expression in re.findall(r'"(\w+)": \{\{(.*?)\}\}', body):
            if field not in schema.get("required", []):
                continue
            widgets = set(re.findall(r"(\w+)\.value", expression))
            disabled = buttons[query.id].template["disabled"]
            for widget in widgets:
                assert f"!{widget}.value" in disabled, f"{query.id}: {field} needs {widget}, but the button ignores it"
                guarded += 1
    assert guarded >= 4  # reject reason, reassign route, escalate tier and reason, reopen reason


# --- the app against the real API -----------------------------------------------------------------


def _send(client: TestClient, token: str, request: Request) -> Any:
    headers = bearer(token)
    if request.raw_body:
        headers["Content-Type"] = "application/json"
    response = client.request(request.method, "/" + request.url, content=request.raw_body or None, headers=headers)
    assert response.status_code == 200, (request.query_id, request.url, response.status_code, response.text)
    return response.json()


def _baseline(app: RetoolApp, query_id: str, ids: dict[str, Any]) -> Request:
    return requests_of(app, query_id, Context(app, ids))[0]


def _pending_draft(detail: dict[str, Any]) -> dict[str, Any] | None:
    """What the pendingDraft transformer computes from GET /tickets/{id}."""
    return next((draft for draft in detail["drafts"] if draft["status"] == "pending"), None)


def test_the_app_works_a_queue_through_the_real_api(
    app: RetoolApp, client: TestClient, api_db: psycopg.Connection
) -> None:
    account = make_account(api_db)
    token = make_user(api_db, "olivia", "ops")
    to_edit = make_ticket(api_db, account_id=account)
    to_reject = make_ticket(api_db, account_id=account, created_at=NOW - timedelta(hours=2))
    as_written = make_ticket(api_db, account_id=account, created_at=NOW - timedelta(hours=3))
    drafts = {ticket_id: make_draft(api_db, ticket_id) for ticket_id in (to_edit, to_reject, as_written)}
    wrong_queue = make_ticket(
        api_db,
        account_id=account,
        tier=2,
        route="support-eng-core",
        category="integration_issue",
        product_area="integrations",
        priority="P2",
    )
    to_escalate = make_ticket(api_db, account_id=account, tier=1, route="ops", category="config_change", priority="P3")

    # The queue: every filter option the app offers is accepted, and the default shows them all.
    queue_requests = requests_of(app, "queueQuery", Context(app, {}))
    pages = [_send(client, token, request) for request in queue_requests]
    assert {item["ticket_id"] for item in pages[0]["items"]} == {*drafts, wrong_queue, to_escalate}
    assert len(pages) == len(queue_requests) > 10

    # The panel of a selected ticket: its detail, and the draft waiting on it.
    detail = _send(client, token, _baseline(app, "ticketDetail", {"ticket_id": to_edit}))
    pending = _pending_draft(detail)
    assert pending is not None and pending["draft_id"] == drafts[to_edit]
    assert detail["customer"]["account"]["renewal_date"] == "2026-09-01"

    def act(query_id: str, ticket_id: int) -> Any:
        ids = {"ticket_id": ticket_id, "draft_id": drafts.get(ticket_id)}
        return _send(client, token, _baseline(app, query_id, ids))

    edited = act("approveEditedDraft", to_edit)
    assert edited["draft"]["is_edited"] is True and '"CSV"' in edited["draft"]["body"]
    assert events_of(api_db, to_edit, "draft_approved")[0][6]["edited"] is True
    assert act("approveDraft", as_written)["draft"]["is_edited"] is False
    rejected = act("rejectDraft", to_reject)
    assert (rejected["draft"]["status"], rejected["draft"]["reject_reason"]) == ("rejected", "cites the wrong article")

    assert act("reassignTicket", wrong_queue)["ticket"]["route"] == "support-eng-integrations"
    assert [event[0] for event in events_of(api_db, wrong_queue)][-1] == "misrouted"
    replied = act("sendHumanReply", wrong_queue)  # no draft waiting at tier 2: a reply by hand
    assert (replied["draft"]["generator"], replied["draft"]["status"]) == ("human", "approved")
    assert replied["outbox_id"] is not None
    escalated = act("escalateTicket", to_escalate)["ticket"]
    assert (escalated["tier"], escalated["route"]) == (2, "support-eng-core")
    assert act("resolveTicket", to_escalate)["ticket"]["status"] == "resolved"
    assert act("reopenTicket", to_escalate)["ticket"]["status"] == "open"
    history = [event[0] for event in events_of(api_db, to_escalate)]
    assert history[-3:] == ["escalated", "resolved", "reopened"]
    assert all(event[1] == "user:olivia" for event in events_of(api_db, to_escalate)[3:])
