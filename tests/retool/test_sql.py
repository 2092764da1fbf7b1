"""Every SQL query of the export against the real schema: executed (not explained) with every sample
value of its parameters, on the empty schema and on a small seeded one, as the read-only Postgres
user of retool/warehouse_grants.sql, which may read the marts and nothing else. What the queries
return is checked against what the app's components read from them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from backend.marts.calendar import ensure_calendar
from backend.paths import VIEWS_DIR
from backend.pipeline.tickets import sla_configs
from backend.policy.model import load_policy
from backend.retool.export import RetoolApp
from backend.retool.ops_app import RETOOL_DIR
from tests.api.factories import NOW, make_account, make_draft, make_ticket
from tests.retool.javascript import code_of, member_accesses
from tests.retool.support import Context, sql_variants

READER = "tier0_retool"
MARTS = sorted(path.stem for path in VIEWS_DIR.glob("*.sql") if path.stem.startswith(("fct_", "mart_")))
_RELATION = re.compile(r"\b(?:from|join)\s+(?!lateral\b)([a-z_][a-z0-9_]*)\b(?!\s*\()", re.IGNORECASE)
_COMMENT = re.compile(r"--[^\n]*")
_CTE = re.compile(r"\b([a-z_][a-z0-9_]*)\s+as\s+\(", re.IGNORECASE)
EMPTY_IDS = {"ticket_id": 1, "other_ticket_id": 2, "draft_id": 1, "account_id": "acct-none"}


@pytest.fixture
def reader(db: psycopg.Connection) -> psycopg.Connection:
    """The test's transaction, with the read-only user created and granted as the README says."""
    db.execute(f"create role {READER} nologin")
    db.execute((RETOOL_DIR / "warehouse_grants.sql").read_text(encoding="utf-8").encode())
    return db


def run_as_reader(conn: psycopg.Connection, query: str, params: list[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run as the read-only user, in a savepoint: a refusal rolls the role switch back with it."""
    with conn.transaction():
        conn.execute(f"set role {READER}")
        cursor = conn.execute(query, params)
        columns = [column.name for column in cursor.description or []]
        rows = [tuple(row) for row in cursor.fetchall()]
        conn.execute("reset role")
    return columns, rows


def run_query(conn: psycopg.Connection, app: RetoolApp, query_id: str, seeded: dict[str, Any]) -> Iterator[Any]:
    """(columns, rows) of every variant of one query."""
    for query, params in sql_variants(app.plugins[query_id].template["query"], Context(app, seeded)):
        yield run_as_reader(conn, query, params)


def seed(conn: psycopg.Connection) -> dict[str, Any]:
    """An account with an open tier-2 ticket (a pending draft) and a resolved one that was escalated
    from OPS, plus a ticket of a sender without an account."""
    account_id = make_account(conn)
    ticket_id = make_ticket(
        conn,
        account_id=account_id,
        tier=2,
        route="support-eng-core",
        category="integration_issue",
        product_area="integrations",
        priority="P2",
    )
    draft_id = make_draft(conn, ticket_id)
    resolved_id = make_ticket(
        conn, account_id=account_id, tier=1, route="ops", status="resolved", created_at=NOW - timedelta(days=3)
    )
    conn.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, actor, from_tier, to_tier, from_route,
                                      to_route, data, dedupe_key)
           values (%s, 'escalated', %s, 'user:alice', 1, 2, 'ops', 'support-eng-integrations', %s, %s)""",
        (resolved_id, NOW - timedelta(days=2), Jsonb({"reason": "needs an engineer"}), f"esc:{resolved_id}"),
    )
    stranger_id = make_ticket(conn, account_id=None, from_address="someone@unknown.example")
    return {
        "ticket_id": ticket_id,
        "other_ticket_id": stranger_id,
        "resolved_ticket_id": resolved_id,
        "draft_id": draft_id,
        "account_id": account_id,
    }


def test_the_app_has_the_expected_sql_queries(app: RetoolApp) -> None:
    assert {plugin.id for plugin in app.sql_queries()} == {
        "queueFacts",
        "routeOptions",
        "ticketFacts",
        "accountTickets",
        "ticketHistory",
    }


def test_queries_name_marts_only(app: RetoolApp) -> None:
    named = {}
    for plugin in app.sql_queries():
        sql = _COMMENT.sub("", plugin.template["query"])
        named[plugin.id] = set(_RELATION.findall(sql)) - set(_CTE.findall(sql))
        assert named[plugin.id], plugin.id
    outside = {query_id: sorted(names - set(MARTS)) for query_id, names in named.items() if names - set(MARTS)}
    assert outside == {}


def test_the_read_only_user_reads_marts_and_nothing_else(reader: psycopg.Connection) -> None:
    assert {"fct_tickets", "fct_ticket_events", "mart_escalation_paths", "mart_ticket_daily"} <= set(MARTS)
    for mart in MARTS:
        run_as_reader(reader, f"select * from {mart} limit 1", [])
    for forbidden in ("select * from tickets", "select * from stg_tickets", "select * from drafts"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run_as_reader(reader, forbidden, [])
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run_as_reader(reader, "delete from mart_targets", [])


def test_the_read_only_user_reads_every_row_of_every_mart(reader: psycopg.Connection) -> None:
    """Computed columns too: business hours come from functions that read the calendar table with
    the reader's rights, so an empty schema alone would not show a missing grant."""
    seed(reader)
    ensure_calendar(reader, sla_configs(load_policy())[1], today=NOW.date())  # what `tier0 marts refresh` does
    for mart in MARTS:
        run_as_reader(reader, f"select * from {mart}", [])
    resolved = run_as_reader(reader, "select resolution_business_hours from fct_tickets where is_resolved", [])[1]
    assert resolved and all(value is not None for (value,) in resolved)


def test_every_query_runs_on_the_empty_schema(reader: psycopg.Connection, app: RetoolApp) -> None:
    runs = 0
    for plugin in app.sql_queries():
        for _columns, rows in run_query(reader, app, plugin.id, EMPTY_IDS):
            assert rows == [], plugin.id
            runs += 1
    assert runs >= 9  # each query, and each with every sample value of its parameters


def test_every_query_runs_on_a_seeded_schema(reader: psycopg.Connection, app: RetoolApp) -> None:
    seeded = seed(reader)
    results = {plugin.id: list(run_query(reader, app, plugin.id, seeded)) for plugin in app.sql_queries()}
    ticket_id, account_id = seeded["ticket_id"], seeded["account_id"]

    # queueFacts: the page's tickets, given as an array parameter; none for an empty page
    (columns, rows), (_, empty_page) = results["queueFacts"]
    facts = {row[0]: dict(zip(columns, row, strict=True)) for row in rows}
    assert set(facts) == {ticket_id, seeded["other_ticket_id"]} and empty_page == []
    assert facts[ticket_id]["plan"] == "pro" and facts[seeded["other_ticket_id"]]["plan"] is None

    # ticketFacts: the selected ticket, nothing without a selection
    (columns, rows), (_, unselected) = results["ticketFacts"]
    assert [(row[0], dict(zip(columns, row, strict=True))["first_route"]) for row in rows] == [
        (ticket_id, "support-eng-core")
    ]
    assert unselected == []

    # accountTickets: the account's other tickets (not the selected one, not other accounts')
    variants = results["accountTickets"]
    assert [row[0] for row in variants[0][1]] == [seeded["resolved_ticket_id"]]
    assert all(rows == [] for _, rows in variants[1:])

    # ticketHistory: the selected ticket's events, newest first
    columns, rows = results["ticketHistory"][0]
    history = [dict(zip(columns, row, strict=True)) for row in rows]
    # same instant for the pipeline's three events: the later-written first
    assert [event["event_type"] for event in history] == ["drafted", "routed", "classified", "created"]

    # routeOptions: routes of open tickets and of escalations, each with its tier
    columns, rows = results["routeOptions"][0]
    assert columns == ["tier", "route"]
    assert {(1, "ops"), (2, "support-eng-core"), (2, "support-eng-integrations")} <= set(rows)
    assert all(route != "(unknown)" for _tier, route in rows)
    assert account_id == "acct-sunrise"


def _columns(reader: psycopg.Connection, app: RetoolApp, query_id: str) -> set[str]:
    columns, _rows = next(run_query(reader, app, query_id, EMPTY_IDS))
    return set(columns)


def test_what_components_read_from_sql_results_exists(reader: psycopg.Connection, app: RetoolApp) -> None:
    columns = {plugin.id: _columns(reader, app, plugin.id) for plugin in app.sql_queries()}
    # tables bound to a query show its columns
    for table_id, query_id in (("accountTicketsTable", "accountTickets"), ("historyTable", "ticketHistory")):
        assert app.plugins[table_id].template["data"] == f"{{{{ {query_id}.data }}}}"
        shown = set(app.plugins[table_id].template["columns"])
        assert shown <= columns[query_id], (table_id, sorted(shown - columns[query_id]))
    # `ticketFacts.data.<column>` in text; rows of routeOptions are `row`, of queueFacts `fact`
    missing = set()
    variables = {"row": "routeOptions", "fact": "queueFacts"}
    for plugin_id, path, code in code_of(app):
        for name, prop in member_accesses(code):
            if name == "ticketFacts":
                for column in re.findall(r"ticketFacts\.data\??\.(\w+)", code):
                    if column not in columns["ticketFacts"]:
                        missing.add(f"{plugin_id}.{path}: ticketFacts has no column {column}")
            elif name in variables and prop not in columns[variables[name]]:
                missing.add(f"{plugin_id}.{path}: {variables[name]} has no column {prop}")
    assert missing == set()
