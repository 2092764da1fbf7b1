"""The policy's `linear:` section: the shipped one loads, and mistakes are named at load."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from backend.linear.config import DeliveryRules, LinearConfigError, load_linear_config, parse_linear_config
from backend.policy.model import Policy, load_policy


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _with_linear(policy: Policy, change: Any) -> Policy:
    section = copy.deepcopy(policy.linear)
    change(section)
    return policy.model_copy(update={"linear": section})


def test_the_shipped_policy_maps_every_issue_route_and_priority(policy: Policy) -> None:
    config = load_linear_config(policy)
    issue_routes = {route for route, info in policy.routes.items() if info.tier in config.issue_tiers}
    assert set(config.team_by_route) == issue_routes
    assert sorted(config.issue_tiers) == [2, 3]
    # Linear: 1 urgent, 2 high, 3 medium, 4 low.
    assert [config.linear_priority(p) for p in ("P1", "P2", "P3", "P4")] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["team_by_route"].update({"nowhere": "ENG"}), "unknown route 'nowhere'"),
        (lambda s: s["team_by_route"].update({"ops": "OPS"}), "team_by_route.ops: route is at tier 1"),
        (lambda s: s["team_by_route"].pop("product-eng"), "route 'product-eng' (tier 3) has no Linear team"),
        (lambda s: s["labels"]["category"].update({"gossip": "Gossip"}), "unknown category 'gossip'"),
        (lambda s: s["labels"]["integration"].update({"dealertrack": "DT"}), "unknown integration 'dealertrack'"),
        (lambda s: s["priority"].update({"P1": 7}), "linear.priority"),
        (lambda s: s["priority"].pop("P4"), "missing ['P4']"),
        (lambda s: s.update({"issue_tiers": [5]}), "linear.issue_tiers"),
        (lambda s: s.update({"team": "ENG"}), "linear.team"),
    ],
    ids=[
        "unknown-route",
        "tier1-route",
        "missing-route",
        "unknown-category",
        "unknown-integration",
        "bad-priority",
        "missing-priority",
        "bad-tier",
        "unknown-key",
    ],
)
def test_mistakes_fail_at_load_naming_the_key(policy: Policy, change: Any, message: str) -> None:
    with pytest.raises(LinearConfigError) as caught:
        load_linear_config(_with_linear(policy, change))
    assert message in str(caught.value)


def test_an_empty_section_is_refused() -> None:
    with pytest.raises(LinearConfigError, match="team_by_route"):
        parse_linear_config({})


def test_retry_backoff_doubles_up_to_the_cap() -> None:
    rules = DeliveryRules(max_attempts=8, retry_base_seconds=60, retry_max_seconds=600)
    assert [rules.retry_delay_seconds(n) for n in (1, 2, 3, 4, 5)] == [60, 120, 240, 480, 600]
