"""The dashboard definitions: they load and validate, every card's SQL runs against the real schema
(with no filter and with every filter), reads marts only, and agrees with the live marts it summarises."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import yaml

from backend.metabase.definitions import DefinitionError, load_definitions, render_sql

DEFINITIONS = load_definitions()
ALL_FILTERS = {
    "date_from": date(2024, 3, 5),
    "date_to": date(2024, 3, 31),
    "account": "acme-ford",
    "tier": 2,
    "route": "support-eng-core",
}


def run(conn: psycopg.Connection, sql_text: str, values: dict[str, object] | None = None) -> list[tuple]:  # type: ignore[type-arg]
    query, params = render_sql(sql_text, values)
    return [tuple(row) for row in conn.execute(query, params).fetchall()]  # type: ignore[arg-type]


def card_sql(dashboard_key: str, card_key: str) -> str:
    for dashboard, card in DEFINITIONS.cards():
        if (dashboard.key, card.key) == (dashboard_key, card_key):
            return card.sql
    raise KeyError(card_key)


def test_four_dashboards_with_their_filters() -> None:
    assert [(d.name, d.filters) for d in DEFINITIONS.dashboards] == [
        ("Support funnel", ["date_from", "date_to", "account", "tier", "route"]),
        ("SLA and escalations", ["date_from", "date_to", "account", "tier", "route"]),
        ("Automation and AI", ["date_from", "date_to", "account"]),
        ("Intake health", ["date_from", "date_to", "account"]),
    ]


def test_every_card_runs_with_and_without_filters(marts: psycopg.Connection) -> None:
    empty = []
    for dashboard, card in DEFINITIONS.cards():
        if not run(marts, card.sql):
            empty.append(f"{dashboard.key}/{card.key}")
        values = {name: ALL_FILTERS[name] for name in card.variables}
        run(marts, card.sql, values)
    assert empty == []


_RELATION = re.compile(r"\b(?:from|join)\s+(?!lateral\b)([a-z_][a-z0-9_]*)\b(?!\s*\()", re.IGNORECASE)
_CTE = re.compile(r"\b([a-z_][a-z0-9_]*)\s+as\s+\(", re.IGNORECASE)


def test_cards_read_marts_only() -> None:
    outside = {}
    for dashboard, card in DEFINITIONS.cards():
        ctes = set(_CTE.findall(card.sql))
        relations = set(_RELATION.findall(card.sql)) - ctes
        assert relations, card.key
        bad = sorted(name for name in relations if not name.startswith(("mart_", "rollup_")))
        if bad:
            outside[f"{dashboard.key}/{card.key}"] = bad
    assert outside == {}


FILTER_CASES = [
    {},
    {"account": "acme-ford"},
    {"account": "(none)"},
    {"tier": 2},
    {"route": "ops"},
    {"date_from": date(2024, 3, 9), "date_to": date(2024, 3, 14)},
    {"account": "bay-kia", "tier": 0, "date_to": date(2024, 3, 10)},
]


def live_ticket_filter(values: dict[str, object]) -> tuple[str, dict[str, object]]:
    clauses = ["true"]
    if "account" in values:
        clauses.append("coalesce(account_id, '(none)') = %(account)s")
    if "tier" in values:
        clauses.append("first_tier = %(tier)s")
    if "route" in values:
        clauses.append("first_route = %(route)s")
    if "date_from" in values:
        clauses.append("created_on >= %(date_from)s")
    if "date_to" in values:
        clauses.append("created_on <= %(date_to)s")
    return " and ".join(clauses), values


@pytest.mark.parametrize("values", FILTER_CASES, ids=lambda values: ",".join(values) or "no-filter")
def test_funnel_and_sla_cards_agree_with_the_live_tickets_mart(
    marts: psycopg.Connection, values: dict[str, object]
) -> None:
    where, params = live_ticket_filter(values)
    live = marts.execute(
        f"""select count(*),
                   count(*) filter (where resolving_tier = 0),
                   count(*) filter (where first_response_sla = 'met'),
                   count(*) filter (where first_response_sla in ('met', 'breached')),
                   count(*) filter (where is_misrouted)
            from fct_tickets where {where}""",
        params,
    ).fetchone()
    assert live is not None
    requests, tier_0, met, timed, misrouted = live
    assert run(marts, card_sql("support-funnel", "requests"), values) == [(requests,)]
    share = round(Decimal(tier_0) / requests, 4) if requests else Decimal(0)
    assert run(marts, card_sql("support-funnel", "tier-0-share"), values) == [(share,)]
    attainment = round(Decimal(met) / timed, 4) if timed else Decimal(0)
    assert run(marts, card_sql("sla-and-escalations", "first-response-attainment"), values) == [(attainment,)]
    right_first_time = round(1 - Decimal(misrouted) / requests, 4) if requests else Decimal(0)
    assert run(marts, card_sql("sla-and-escalations", "right-first-time"), values) == [(right_first_time,)]


@pytest.mark.parametrize("values", FILTER_CASES, ids=lambda values: ",".join(values) or "no-filter")
def test_coverage_card_agrees_with_the_live_messages_mart(marts: psycopg.Connection, values: dict[str, object]) -> None:
    clauses, params = ["true"], {}
    if "account" in values:
        clauses.append("coalesce(account_id, '(none)') = %(account)s")
        params["account"] = values["account"]
    for name, operator in (("date_from", ">="), ("date_to", "<=")):
        if name in values:
            clauses.append(f"sent_on {operator} %({name})s")
            params[name] = values[name]
    row = marts.execute(
        f"""select count(*) filter (where is_actionable and tickets_created > 0), count(*) filter (where is_actionable)
            from fct_messages where {" and ".join(clauses)}""",
        params,
    ).fetchone()
    assert row is not None
    expected = round(Decimal(row[0]) / row[1], 4) if row[1] else Decimal(0)
    card_values = {name: value for name, value in values.items() if name in ("account", "date_from", "date_to")}
    assert run(marts, card_sql("intake-health", "coverage"), card_values) == [(expected,)]


def test_resolution_time_card_agrees_with_percentiles_over_the_live_mart(marts: psycopg.Connection) -> None:
    for values in ({}, {"account": "acme-ford"}, {"tier": 1}, {"route": "ai"}):
        clauses, params = ["is_resolved"], dict(values)
        if "account" in values:
            clauses.append("account_id = %(account)s")
        if "tier" in values:
            clauses.append("resolving_tier = %(tier)s")
        if "route" in values:
            clauses.append("first_route = %(route)s")
        expected = marts.execute(
            f"""select created_month,
                       round(percentile_cont(0.5) within group (order by resolution_business_hours)::numeric, 2),
                       round(percentile_cont(0.9) within group (order by resolution_business_hours)::numeric, 2)
                from fct_tickets where {" and ".join(clauses)} group by created_month order by 1""",
            params,
        ).fetchall()
        got = run(marts, card_sql("support-funnel", "resolution-time-vs-goal"), values)
        assert [row[:3] for row in got] == [tuple(row) for row in expected], values


def test_escalation_paths_card_agrees_with_the_events_mart(marts: psycopg.Connection) -> None:
    for values in ({}, {"account": "bay-kia"}, {"tier": 2}, {"date_from": date(2024, 3, 12)}):
        got = run(marts, card_sql("sla-and-escalations", "escalation-paths"), values)
        clauses, params = ["is_escalation"], dict(values)
        if "account" in values:
            clauses.append("account_id = %(account)s")
        if "tier" in values:
            clauses.append("from_tier = %(tier)s")
        if "date_from" in values:
            clauses.append("occurred_on >= %(date_from)s")
        expected = marts.execute(
            f"""select category, from_tier, from_route, to_tier, to_route, count(*), count(distinct ticket_id)
                from fct_ticket_events where {" and ".join(clauses)}
                group by 1, 2, 3, 4, 5 order by 6 desc, 1, 2, 4""",
            params,
        ).fetchall()
        assert got == [tuple(row) for row in expected], values


def test_render_sql_follows_metabase_template_rules() -> None:
    text = "select 1 where a = coalesce([[{{account}}, ]]'*') [[and d >= {{date_from}}]] and x like 'a%'"
    assert render_sql(text) == ("select 1 where a = coalesce('*')  and x like 'a%%'", {})
    query, params = render_sql(text, {"account": "acme", "date_from": "2024-03-01"})
    assert query == "select 1 where a = coalesce(%(account)s, '*') and d >= %(date_from)s and x like 'a%%'"
    assert params == {"account": "acme", "date_from": date(2024, 3, 1)}
    assert render_sql("select [[{{tier}}]] 1", {"tier": "2"}) == ("select %(tier)s 1", {"tier": 2})


def write_dashboard(tmp_path: Path, cards: list[dict[str, object]], filters: list[str]) -> Path:
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "collection.yaml").write_text(
        yaml.safe_dump({"key": "c", "name": "C", "description": "d", "database_name": "tier0"})
    )
    (tmp_path / "dashboards" / "d.yaml").write_text(
        yaml.safe_dump({"key": "d", "name": "D", "description": "d", "filters": filters, "cards": cards})
    )
    return tmp_path


def card(key: str, sql: str, row: int = 0, col: int = 0) -> dict[str, object]:
    return {
        "key": key,
        "name": key,
        "description": "d",
        "display": "table",
        "sql": sql,
        "position": {"row": row, "col": col, "size_x": 12, "size_y": 4},
    }


@pytest.mark.parametrize(
    ("cards", "filters", "problem"),
    [
        ([card("a", "select {{account}}")], ["account"], "outside an optional"),
        ([card("a", "select 1 [[where x = {{colour}}]]")], [], "unknown variables"),
        ([card("a", "select 1 [[where x = {{tier}}]]")], ["account"], "no filter for"),
        ([card("a", "select 1"), card("b", "select 2", row=2, col=6)], [], "overlap"),
        ([card("a", "select 1", col=20)], [], "grid"),
    ],
)
def test_invalid_definitions_are_refused(
    tmp_path: Path, cards: list[dict[str, object]], filters: list[str], problem: str
) -> None:
    with pytest.raises(DefinitionError, match=problem):
        load_definitions(write_dashboard(tmp_path, cards, filters))
