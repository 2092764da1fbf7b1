"""The policy step against POLICY.md's rules, and against the dev mailbox's hand labels."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from backend.accounts.resolve import AccountFacts
from backend.policy.decide import RequestLabels, decide
from backend.policy.model import Policy, load_policy
from backend.triage.types import PrioritySignals

WHEN = datetime(2026, 10, 6, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def account(contract_start: date = date(2024, 1, 1), renewal: date = date(2027, 6, 1)) -> AccountFacts:
    return AccountFacts("acme", "Acme", "America/Chicago", "growth", 1000.0, contract_start, renewal, None)


@pytest.mark.parametrize(
    ("category", "area", "signals", "facts", "expected"),
    [
        ("how_to", "dashboard", PrioritySignals(), account(), ("P4", 0, "ai")),
        ("bug", "dashboard", PrioritySignals(), account(), ("P3", 3, "product-eng")),
        ("bug", "mobile", PrioritySignals(), account(), ("P3", 3, "product-eng")),
        ("bug", "service_outbound", PrioritySignals(), account(), ("P3", 2, "support-eng-core")),
        ("outage", "integrations", PrioritySignals(), account(), ("P1", 2, "support-eng-integrations")),
        ("outage", "telephony", PrioritySignals(), account(), ("P1", 2, "support-eng-core")),
        ("integration_issue", "integrations", PrioritySignals(), account(), ("P2", 2, "support-eng-integrations")),
        # "URGENT" with a reason raises one level; several reasons still raise one level.
        ("config_change", "pam_core", PrioritySignals(urgent_with_reason=True), account(), ("P2", 1, "ops")),
        ("config_change", "pam_core", PrioritySignals(urgent_with_reason=True, churn_threat=True),
         account(renewal=date(2026, 11, 1)), ("P2", 1, "ops")),
        # Renewal within 60 days, first 30 days: raise one level.
        ("feature_request", "dashboard", PrioritySignals(), account(renewal=date(2026, 12, 5)), ("P3", 1, "ops")),
        ("feature_request", "dashboard", PrioritySignals(), account(renewal=date(2026, 12, 6)), ("P4", 1, "ops")),
        ("billing", "billing", PrioritySignals(), account(contract_start=date(2026, 9, 6)), ("P2", 1, "ops")),
        ("billing", "billing", PrioritySignals(), account(contract_start=date(2026, 9, 5)), ("P3", 1, "ops")),
        # Security floor P1, and a P1 never stays at tier 0.
        ("account_access", "dashboard", PrioritySignals(legal_or_security=True), account(), ("P1", 1, "ops")),
        ("bug", "dashboard", PrioritySignals(data_wrong_at_scale=True), account(), ("P2", 3, "product-eng")),
        # Never lower an outage; no account: no CRM raise.
        ("outage", "pam_core", PrioritySignals(churn_threat=True), None, ("P1", 2, "support-eng-core")),
    ],
)
def test_policy_rules(policy, category, area, signals, facts, expected) -> None:  # type: ignore[no-untyped-def]
    decision = decide(policy, RequestLabels(category, area, signals), facts, WHEN)
    assert (decision.priority, decision.tier, decision.route) == expected


def test_abstention_goes_to_ops_flagged(policy: Policy) -> None:
    decision = decide(policy, RequestLabels("outage", "pam_core", needs_review=True), account(), WHEN)
    assert (decision.tier, decision.route, decision.flagged_for_review) == (1, "ops", True)
    unknown = decide(policy, RequestLabels("refund", "pam_core"), account(), WHEN)
    assert (unknown.route, unknown.flagged_for_review) == ("ops", True)


def test_routing_from_gold_labels_matches_the_dev_mailbox(policy: Policy, shared_dir: Path) -> None:
    """With the hand labels' category and area, the policy reproduces every labelled tier and route,
    and every priority except the ones that depend on text signals the labels do not carry."""
    mailbox = shared_dir / "data" / "mailbox-dev"
    accounts = {}
    with (mailbox / "accounts.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            accounts[row["account_id"]] = AccountFacts(
                row["account_id"], row["name"], row["timezone"], row["plan"], float(row["mrr_usd"]),
                date.fromisoformat(row["contract_start"]), date.fromisoformat(row["renewal_date"]), None,
            )
    priority_right = total = 0
    for line in (mailbox / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        label = json.loads(line)
        if not label["requests"]:
            continue
        raw = (mailbox / "mail" / label["file"]).read_bytes()
        sent = parsedate_to_datetime(message_from_bytes(raw)["Date"])
        for request in label["requests"]:
            signals = PrioritySignals()
            decision = decide(policy, RequestLabels(request["category"], request["product_area"], signals),
                              accounts.get(label["account"]), sent)
            total += 1
            priority_right += decision.priority == request["priority"]
            if decision.priority == request["priority"]:
                assert (decision.tier, decision.route) == (request["tier"], request["route"]), label["file"]
    # Without text signals (urgent with a reason, churn, security, scale) 11 of 197 differ.
    assert total == 197
    assert priority_right >= 186
