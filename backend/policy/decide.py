"""The policy step: a classified request plus the account's facts become priority, tier and route.

Everything here reads the policy (config/policy.yaml); no routing rule lives in code. The
classifier only labels (category, product area, signals); it cannot choose a tier, a route or a
priority, so nothing written in an email can set them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from backend.accounts.resolve import AccountFacts
from backend.policy.model import Policy, Priority
from backend.triage.types import PrioritySignals

_LEVELS: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True)
class RequestLabels:
    category: str
    product_area: str
    signals: PrioritySignals = field(default_factory=PrioritySignals)
    needs_review: bool = False


@dataclass(frozen=True)
class Decision:
    priority: str
    tier: int
    route: str
    priority_reasons: tuple[str, ...]
    flagged_for_review: bool
    page_on_call: bool


def _more_urgent(first: Priority, second: Priority) -> Priority:
    return first if _LEVELS.index(first) <= _LEVELS.index(second) else second


def _raised(priority: Priority, levels: int) -> Priority:
    return _LEVELS[max(0, _LEVELS.index(priority) - levels)]


def account_raise_reasons(policy: Policy, account: AccountFacts | None, sent_at: datetime) -> list[str]:
    """Raise reasons that come from the CRM, judged on the message's date in the account's timezone."""
    if account is None:
        return []
    local_day: date = sent_at.astimezone(ZoneInfo(account.timezone)).date()
    rules = policy.priority.raise_.reasons
    reasons: list[str] = []
    if account.contract_start is not None:
        days_live = (local_day - account.contract_start).days
        if 0 <= days_live <= rules.account_new_days:
            reasons.append(
                f"account in its first {rules.account_new_days} days (contract start {account.contract_start})"
            )
    if account.renewal_date is not None:
        days_to_renewal = (account.renewal_date - local_day).days
        if 0 <= days_to_renewal <= rules.account_renewal_within_days:
            reasons.append(
                f"account renews within {rules.account_renewal_within_days} days (renewal {account.renewal_date})"
            )
    return reasons


def decide(policy: Policy, labels: RequestLabels, account: AccountFacts | None, sent_at: datetime) -> Decision:
    flagged = labels.needs_review or labels.category not in policy.categories
    if flagged:
        # An abstention or an unknown label: a human decides. Deliberately no raise, no P1 and no page:
        # an uncertain (or steered) label must not trigger anything by itself; the flagged request
        # waits at normal priority in the abstain queue for a person (who can escalate in one step).
        route = policy.triage.abstain_route
        return Decision(
            priority="P3",
            tier=policy.routes[route].tier,
            route=route,
            priority_reasons=("classifier not confident: flagged for review",),
            flagged_for_review=True,
            page_on_call=False,
        )
    rule = policy.categories[labels.category]
    area = labels.product_area if labels.product_area in policy.product_areas else "other"
    reasons: list[str] = [f"{labels.category} defaults to {rule.default_priority}"]
    priority = rule.default_priority

    signals = labels.signals
    for signal_name, floor in policy.priority.floors.items():
        if getattr(signals, signal_name) and _more_urgent(floor, priority) == floor and floor != priority:
            priority = floor
            reasons.append(f"{signal_name.replace('_', ' ')}: at least {floor}")

    raise_rules = policy.priority.raise_
    raise_reasons: list[str] = []
    if raise_rules.reasons.urgent_with_reason and signals.urgent_with_reason:
        raise_reasons.append("sender states urgency with a reason")
    if raise_rules.reasons.churn_threat and signals.churn_threat:
        raise_reasons.append("message threatens cancellation")
    raise_reasons.extend(account_raise_reasons(policy, account, sent_at))
    if raise_reasons and raise_rules.max_levels > 0:
        raised = _raised(priority, raise_rules.max_levels)
        if raised != priority:
            reasons.append(f"raised {priority} -> {raised}: " + "; ".join(raise_reasons))
            priority = raised
    if labels.category in policy.priority.never_lower:
        priority = _more_urgent(priority, rule.default_priority)

    tier = rule.tier_by_product_area.get(area, rule.default_tier)
    if priority == "P1" and tier < policy.priority.p1_min_tier:
        reasons.append(f"P1 never stays at tier {tier}: moved to tier {policy.priority.p1_min_tier}")
        tier = policy.priority.p1_min_tier
    routing = policy.tier_routes[tier]
    route = routing.by_product_area.get(area, routing.default)
    return Decision(
        priority=priority,
        tier=tier,
        route=route,
        priority_reasons=tuple(reasons),
        flagged_for_review=False,
        page_on_call=rule.page_on_call,
    )
