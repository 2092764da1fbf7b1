"""The policy file is data: it loads, and a bad edit fails at load naming the key and the value."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.paths import DEFAULT_POLICY_PATH
from backend.policy.model import PolicyError, load_policy, parse_policy


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_default_policy_encodes_policy_md(document: dict[str, Any]) -> None:
    policy = parse_policy(document)
    assert policy.category_names == [
        "how_to", "account_access", "config_change", "onboarding", "integration_issue", "ai_behavior", "bug",
        "outage", "billing", "feature_request", "feedback",
    ]
    assert set(policy.product_area_names) == {
        "pam_core", "service_outbound", "sales_outbound", "integrations", "telephony", "dashboard", "mobile",
        "billing", "other",
    }
    assert {name: route.tier for name, route in policy.routes.items()} == {
        "ai": 0, "ops": 1, "support-eng-core": 2, "support-eng-integrations": 2, "product-eng": 3,
    }
    assert policy.categories["bug"].tier_by_product_area == {"dashboard": 3, "mobile": 3}
    assert policy.categories["outage"].default_priority == "P1" and policy.categories["outage"].page_on_call
    assert policy.priority.raise_.max_levels == 1
    assert policy.priority.raise_.reasons.account_new_days == 30
    assert policy.priority.raise_.reasons.account_renewal_within_days == 60
    assert len(policy.business_hours.holidays) == 11
    assert policy.sla.target("P3", "resolution").budget(policy.business_hours.business_day_hours).total_seconds() == 30 * 3600


def _broken(document: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(document)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["categories", "bug", "default_priority"], "P5", "categories.bug.default_priority"),
        (["categories", "bug", "default_tier"], 7, "categories.bug.default_tier"),
        (["tier_routes", 2, "by_product_area", "integrations"], "nowhere", "unknown route 'nowhere'"),
        (["tier_routes", 2, "default"], "ops", "route 'ops' belongs to tier 1"),
        (["categories", "bug", "tier_by_product_area", "spaceships"], 3, "tier_by_product_area: unknown product area"),
        (["triage", "abstain_route"], "humans", "unknown route 'humans'"),
        (["priority", "raise", "max_levels"], -1, "priority.raise.max_levels"),
        (["business_hours", "weekly", "mon"], ["8:00", "18:00"], "business_hours.weekly.mon.opens"),
        (["tiers", 0, "target_share"], [0.5, 0.2], "target_share must be two shares"),
        (["categories", "bug", "colour"], "red", "categories.bug.colour"),
    ],
)
def test_invalid_policy_names_key_and_value(document: dict[str, Any], path: list[Any], value: Any, expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(_broken(document, path, value))
    message = str(caught.value)
    assert expected in message
    # The offending value is named too (for a renamed key, the key is the value).
    shown = {repr(value), str(value), repr(path[-1])} | ({repr(value[0])} if isinstance(value, list) else set())
    assert any(text in message for text in shown), message


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("categories: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
