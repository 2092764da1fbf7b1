"""Policy values and plan targets as tables, so dashboards draw targets next to actuals.

`policy_settings` gets the values the marts need from config/policy.yaml (default timezone, business
day hours, the category names, the routes and their tiers) and the program start; `policy_targets`
gets each tier's target share of requests (policy.yaml `tiers`), the plan's Tier-0 ramp, coverage,
right-first-time, mis-route and accuracy targets (plan_targets.yaml beside this module) and the
resolution-time goal, whose baseline is measured from the ticket snapshot. Both tables are rewritten
whole at each refresh, so editing a file and refreshing is all it takes.

Failures are ours: an invalid plan_targets.yaml raises `PlanTargetsError` naming the key.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.policy.model import Policy

PLAN_TARGETS_PATH = Path(__file__).with_name("plan_targets.yaml")
POLICY_SOURCE = "config/policy.yaml"
PLAN_SOURCE = "backend/marts/plan_targets.yaml"

Share = float


class PlanTargetsError(Exception):
    """Our failure: plan_targets.yaml is missing or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateTarget(_Strict):
    low: Share | None = Field(default=None, ge=0, le=1)
    high: Share | None = Field(default=None, ge=0, le=1)
    description: str


class ResolutionTimeGoal(_Strict):
    baseline_months: int = Field(ge=1, le=24)
    improvement: Share = Field(gt=0, lt=1)


class PlanTargets(_Strict):
    program_start: date | None = None
    tier_0_share_by_program_month: dict[int, Share] = Field(default_factory=dict)
    targets: dict[str, RateTarget] = Field(default_factory=dict)
    resolution_time: ResolutionTimeGoal | None = None


def load_plan_targets(path: Path = PLAN_TARGETS_PATH) -> PlanTargets:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        return PlanTargets.model_validate(data)
    except FileNotFoundError as error:
        raise PlanTargetsError(f"plan targets file not found: {path}") from error
    except (yaml.YAMLError, ValidationError) as error:
        raise PlanTargetsError(f"invalid plan targets in {path}: {error}") from error


def program_start(conn: psycopg.Connection, plan: PlanTargets, today: date) -> date:
    """The first day of the plan's first month: configured, else the first ticket's month, else today's."""
    if plan.program_start is not None:
        return plan.program_start.replace(day=1)
    row = conn.execute("select min(created_at at time zone 'UTC')::date from tickets").fetchone()
    first = row[0] if row and row[0] else today
    return first.replace(day=1)


def _add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    return date(month_index // 12, month_index % 12 + 1, 1)


def write_policy_settings(conn: psycopg.Connection, policy: Policy, start: date) -> None:
    settings = {
        "default_timezone": (policy.business_hours.default_timezone, POLICY_SOURCE),
        "business_day_hours": (str(policy.business_hours.business_day_hours), POLICY_SOURCE),
        "program_start": (start.isoformat(), PLAN_SOURCE),
        "categories": (",".join(policy.category_names), POLICY_SOURCE),
        "routes": (
            json.dumps(
                {name: {"tier": route.tier, "description": route.description} for name, route in policy.routes.items()},
                sort_keys=True,
            ),
            POLICY_SOURCE,
        ),
    }
    for setting, (value, source) in settings.items():
        conn.execute(
            """insert into policy_settings (setting, value, source) values (%s, %s, %s)
               on conflict (setting) do update
               set value = excluded.value, source = excluded.source, loaded_at = now()""",
            (setting, value, source),
        )


def write_policy_targets(conn: psycopg.Connection, policy: Policy, plan: PlanTargets, start: date) -> int:
    """Rewrite policy_targets; the resolution-time baseline is read from rollup_ticket_facts."""
    rows: list[tuple[str, int | None, int | None, float | None, float | None, str, str]] = []
    for tier, info in sorted(policy.tiers.items()):
        low, high = info.target_share
        rows.append(
            ("tier_share", tier, None, low, high, f"tier {tier} ({info.name}) share of requests", POLICY_SOURCE)
        )
    for month, share in sorted(plan.tier_0_share_by_program_month.items()):
        rows.append(
            (
                "tier_0_share_by_program_month",
                0,
                month,
                share,
                None,
                f"Tier 0 resolves {share:.0%}+ of requests from program month {month}",
                PLAN_SOURCE,
            )
        )
    for key, target in sorted(plan.targets.items()):
        rows.append((key, None, None, target.low, target.high, target.description, PLAN_SOURCE))
    if plan.resolution_time is not None:
        goal = plan.resolution_time
        baseline = conn.execute(
            """select percentile_cont(0.5) within group (order by resolution_business_hours)
               from rollup_ticket_facts
               where resolution_business_hours is not null and created_at >= %s and created_at < %s""",
            (start, _add_months(start, goal.baseline_months)),
        ).fetchone()
        if baseline is not None and baseline[0] is not None:
            hours = float(baseline[0])
            rows.append(
                (
                    "resolution_business_hours_median",
                    None,
                    None,
                    None,
                    round(hours * (1 - goal.improvement), 4),
                    f"median business hours to resolution {goal.improvement:.0%} below the baseline "
                    f"{hours:.2f} h (tickets of program months 1-{goal.baseline_months})",
                    PLAN_SOURCE,
                )
            )
    conn.execute("delete from policy_targets")
    with conn.cursor() as cursor:
        cursor.executemany(
            """insert into policy_targets (target_key, tier, program_month, low, high, description, source)
               values (%s, %s, %s, %s, %s, %s, %s)""",
            rows,
        )
    return len(rows)
