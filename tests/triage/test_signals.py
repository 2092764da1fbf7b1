"""Priority signals, integration aliases and sentiment read from the sender's words."""

from __future__ import annotations

import pytest

from backend.policy.model import load_policy
from backend.triage.signals import IntegrationMatcher, detect_signals, has_gratitude, sentiment


@pytest.fixture(scope="module")
def matcher() -> IntegrationMatcher:
    policy = load_policy()
    return IntegrationMatcher.from_aliases({name: rule.aliases for name, rule in policy.integrations.items()})


def test_bare_urgent_is_not_urgent_with_reason() -> None:
    assert not detect_signals("URGENT!!! Please change our greeting.").urgent_with_reason
    assert not detect_signals("This is urgent.").urgent_with_reason


def test_urgent_with_a_reason() -> None:
    assert detect_signals("Urgent: every transfer since Saturday goes nowhere and we're losing calls.").urgent_with_reason
    assert detect_signals("Please fix ASAP, I need to get in before Saturday to enter our holiday hours."
                          ).urgent_with_reason


@pytest.mark.parametrize("text", [
    "If this isn't fixed by Friday we're not renewing.",
    "Honestly we're looking at other vendors.",
    "I want to cancel our contract.",
])
def test_churn_threats(text: str) -> None:
    assert detect_signals(text).churn_threat


def test_no_churn_in_ordinary_requests() -> None:
    assert not detect_signals("Please cancel the appointment for Mr. Lee tomorrow.").churn_threat


@pytest.mark.parametrize("text", [
    "Our attorney will be in touch if this continues.",
    "A customer who replied STOP last month still got the recall text today.",
    "One advisor entered his password on a phishing page that looked like yours.",
    "The manager we fired yesterday is still logged in to the app and can read conversations.",
])
def test_legal_or_security(text: str) -> None:
    assert detect_signals(text).legal_or_security


def test_a_first_opt_out_request_is_not_legal() -> None:
    assert not detect_signals("Please remove my number from your texts, I sold the car.").legal_or_security


def test_data_wrong_at_scale() -> None:
    text = "We found 47 duplicate appointments in CDK last week across both stores."
    assert detect_signals(text, category="integration_issue").data_wrong_at_scale
    assert not detect_signals("One appointment had the wrong time.", category="integration_issue"
                              ).data_wrong_at_scale
    assert not detect_signals(text, category="billing").data_wrong_at_scale


def test_integration_aliases_on_word_boundaries(matcher: IntegrationMatcher) -> None:
    assert matcher.find_all("Since the Fortellis change...") == ["cdk"]
    assert matcher.find_all("our X-Time schedule") == ["xtime"]
    assert matcher.find_all("My Kaarma says disconnected") == ["mykaarma"]
    assert matcher.find_all("Tekion ARC and tekion again, plus cdk once") == ["tekion", "cdk"]
    assert matcher.find_all("cdkx and mytekion are not names") == []
    # Dealers shorten myKaarma to "myK" (config/policy.yaml lists it); a longer word is not it.
    assert matcher.find_all("RO closed in myK Tue 9/1 11:40am") == ["mykaarma"]
    assert matcher.find_all("the mykey fob and a myk-style name") == []


def test_sentiment_and_gratitude() -> None:
    assert sentiment("This is unacceptable, my advisors are furious!!") == "negative"
    assert sentiment("Love the new app, great work.") == "positive"
    assert sentiment("Please add Veterans Day to our holidays.") == "neutral"
    assert has_gratitude("muchas gracias") and not has_gratitude("Please reset my password")
