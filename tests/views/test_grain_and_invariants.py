"""Every view's stated key is unique (its header comment says `key: ...`), every rollup holds exactly
its view's rows after a refresh, and the marts obey the invariants their definitions promise."""

from __future__ import annotations

import re
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from backend.db.views import discover
from backend.marts.refresh import AGGREGATES, TICKET_FACTS, copy_columns

VIEWS = discover()
_KEY = re.compile(r"^--.*\bkey:\s*(\([^)]*\)|[a-z_]+)", re.MULTILINE)


def view_key(text: str) -> list[str]:
    match = _KEY.search(text)
    assert match, "the header comment must state the key"
    return [column.strip() for column in match.group(1).strip("()").split(",")]


def test_every_view_states_its_grain_and_its_key_is_unique(marts: psycopg.Connection) -> None:
    problems: list[str] = []
    for view in VIEWS:
        if not re.search(r"^--.*\bgrain:", view.sql, re.MULTILINE):
            problems.append(f"{view.name}: the header does not state the grain")
        key = view_key(view.sql)
        columns = sql.SQL(", ").join(sql.Identifier(column) for column in key)
        total = marts.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(view.name))).fetchone()
        if total is None or total[0] == 0:
            problems.append(f"{view.name}: no rows in the hand-made history, so its key check would be empty")
        duplicates = marts.execute(
            sql.SQL("select {cols}, count(*) from {view} group by {cols} having count(*) > 1").format(
                cols=columns, view=sql.Identifier(view.name)
            )
        ).fetchall()
        if duplicates:
            problems.append(f"{view.name}: key {key} is not unique: {duplicates[:3]}")
    assert problems == []
    assert len(VIEWS) >= 25


@pytest.mark.parametrize("rollup", [TICKET_FACTS, *AGGREGATES], ids=lambda rollup: rollup.table)
def test_rollup_holds_exactly_its_view(marts: psycopg.Connection, rollup) -> None:  # type: ignore[no-untyped-def]
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in copy_columns(marts, rollup))
    difference = marts.execute(
        sql.SQL(
            "(select {c} from {t} except all select {c} from {v}) union all (select {c} from {v} except all select {c} from {t})"
        ).format(c=columns, t=sql.Identifier(rollup.table), v=sql.Identifier(rollup.view))
    ).fetchall()
    assert difference == []


@pytest.mark.parametrize("rollup", AGGREGATES, ids=lambda rollup: rollup.table)
def test_rollup_primary_key_is_its_views_key(marts: psycopg.Connection, rollup) -> None:  # type: ignore[no-untyped-def]
    primary_key = marts.execute(
        """select array_agg(attribute.attname::text order by attribute.attname)
           from pg_index as index_
           join pg_attribute as attribute on attribute.attrelid = index_.indrelid and attribute.attnum = any(index_.indkey)
           where index_.indrelid = %s::regclass and index_.indisprimary""",
        (rollup.table,),
    ).fetchone()
    view = next(view for view in VIEWS if view.name == rollup.view)
    assert primary_key is not None and primary_key[0] == sorted(view_key(view.sql))


def test_tickets_mart_invariants(marts: psycopg.Connection) -> None:
    violations = marts.execute(
        """select ticket_id from fct_tickets
           where resolved_at < created_at
              or first_responded_at < created_at
              or resolution_business_hours > resolution_wall_hours
              or first_response_business_hours > first_response_wall_hours
              or resolution_business_hours < 0
              or (resolving_tier is null) = is_resolved
              or resolving_tier < first_tier
              or final_tier < first_tier
              or (is_misrouted <> (misroute_count > 0))
              or (is_escalated <> (escalation_count > 0))
              or (is_draft_edited and not is_draft_approved)
              or first_response_sla not in ('met', 'breached', 'open', 'unknown')
              or resolution_sla not in ('met', 'breached', 'open', 'unknown')"""
    ).fetchall()
    assert violations == []


def test_funnel_shares_sum_to_one_and_counts_add_up(marts: psycopg.Connection) -> None:
    periods = marts.execute(
        """select period_grain, period_start,
                  share_resolved_tier_0 + share_resolved_tier_1 + share_resolved_tier_2 + share_resolved_tier_3
                      + share_unresolved,
                  requests - (entered_tier_0 + entered_tier_1 + entered_tier_2 + entered_tier_3),
                  requests - (resolved_tier_0 + resolved_tier_1 + resolved_tier_2 + resolved_tier_3 + unresolved)
           from mart_funnel"""
    ).fetchall()
    assert len(periods) == 8 + 3 + 1
    for grain, start, shares, entered_gap, resolved_gap in periods:
        assert abs(shares - 1) < Decimal("1e-15"), (grain, start)
        assert (entered_gap, resolved_gap) == (0, 0), (grain, start)
    by_grain = marts.execute("select period_grain, sum(requests) from mart_funnel group by 1 order by 1").fetchall()
    assert by_grain == [("day", 8), ("month", 8), ("week", 8)]


@pytest.mark.parametrize(
    ("view", "dimensions"),
    [
        ("mart_ticket_daily", "created_on, first_tier, first_route, category, priority"),
        ("mart_escalation_paths", "escalated_on, category, from_tier, from_route, to_tier, to_route"),
        ("mart_intake_daily", "sent_on, mailbox, kind, outcome, failure_reason"),
    ],
)
def test_all_accounts_rows_are_the_sum_of_the_account_rows(
    marts: psycopg.Connection, view: str, dimensions: str
) -> None:
    measures = [
        name
        for (name, type_name) in marts.execute(
            """select attname, format_type(atttypid, atttypmod) from pg_attribute
               where attrelid = %s::regclass and attnum > 0 and not attisdropped""",
            (view,),
        ).fetchall()
        if type_name in ("bigint", "numeric") and name not in dimensions
    ]
    assert measures
    sums = sql.SQL(", ").join(sql.SQL("sum({})").format(sql.Identifier(name)) for name in measures)
    query = sql.SQL("select {dims}, {sums} from {view} where account_key {op} '*' group by {dims} order by {dims}")
    dims = sql.SQL(dimensions)  # type: ignore[arg-type]  # a constant of this test
    everyone = marts.execute(query.format(dims=dims, sums=sums, view=sql.Identifier(view), op=sql.SQL("="))).fetchall()
    per_account = marts.execute(
        query.format(dims=dims, sums=sums, view=sql.Identifier(view), op=sql.SQL("<>"))
    ).fetchall()
    assert everyone == per_account and everyone


def test_percentiles_are_ordered(marts: psycopg.Connection) -> None:
    assert marts.execute(
        """select count(*) from mart_resolution_times
           where median_wall_hours > p90_wall_hours or median_business_hours > p90_business_hours"""
    ).fetchone() == (0,)


def test_coverage_never_exceeds_actionable(marts: psycopg.Connection) -> None:
    assert marts.execute(
        "select count(*) from mart_intake_daily where actionable_with_ticket > actionable or failed > emails"
    ).fetchone() == (0,)
