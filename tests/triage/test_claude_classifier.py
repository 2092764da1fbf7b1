"""ClaudeClassifier at the HTTP level: hand-written API responses served by httpx2.MockTransport.

Nothing reaches the network. Each test checks what our client sent (model, cached system prompt,
schema with the policy's enums, the email delimited) and what it did with the answer: labels,
retries and waits, fallback, and the LlmCall records.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from backend.policy.model import Policy, load_policy
from backend.triage.claude import (
    DEFAULT_MODEL,
    MAX_REQUESTS_PER_EMAIL,
    ClaudeClassifier,
    ClaudeUnavailable,
    retry_after_seconds,
)
from backend.triage.llm_calls import LlmCall
from backend.triage.prompt import LabelledExample
from backend.triage.types import EmailForTriage, EmailTriage, ExistingRequest, PrioritySignals, RequestTriage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
API_KEY = "sk-ant-test-not-a-real-key"

SAMPLE = EmailForTriage(
    subject="CDK doubles + login for new advisor",
    text=(
        "Hi team,\n\nSince Monday every appointment Pam books is showing up twice in CDK, same customer and "
        "time but two appointment numbers. We've deleted 31 by hand so far.\n\nSeparately, our new advisor "
        "Jordan Pike never got a dashboard invite. Can you resend it to jpike@example-motors.example?\n\n"
        "Thanks,\nMarta"
    ),
    sender_address="marta@example-motors.example",
    account_integration="cdk",
)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def response_from(data: dict[str, Any]) -> httpx2.Response:
    return httpx2.Response(data["status"], headers=data["headers"], json=data["body"])


def answer_fixture(answer: dict[str, Any], *, stop_reason: str = "end_turn") -> dict[str, Any]:
    """A 200 response carrying `answer` as the text block (same envelope as the recorded ok shape)."""
    data = fixture("message_ok_cache_read.json")
    data["body"]["content"] = [{"type": "text", "text": json.dumps(answer)}]
    data["body"]["stop_reason"] = stop_reason
    return data


Step = dict[str, Any] | Callable[[httpx2.Request], httpx2.Response]


@dataclass
class FakeApi:
    """Serves the steps in order; records every request body it received."""

    steps: list[Step]
    requests: list[httpx2.Request] = field(default_factory=list)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        return step(request) if callable(step) else response_from(step)

    def body(self, index: int = -1) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.requests[index].content)
        return data


class FakeLocal:
    """The fallback classifier: answers with one fixed request (or, when `sees_requests` is false,
    with a bare thanks) and counts its calls."""

    name = "local-fake"
    model_version = "fake-1"

    def __init__(self, *, sees_requests: bool = True) -> None:
        self.calls = 0
        self.sees_requests = sees_requests

    def triage(self, email: EmailForTriage) -> EmailTriage:
        self.calls += 1
        if not self.sees_requests:
            return EmailTriage(gratitude_only=True, classifier=self.name, model_version=self.model_version)
        request = RequestTriage(
            text=email.text,
            summary="fallback label",
            category="integration_issue",
            product_area="integrations",
            integration="cdk",
            signals=PrioritySignals(),
            sentiment="neutral",
            confidence=0.6,
        )
        return EmailTriage(requests=[request], classifier=self.name, model_version=self.model_version)


@dataclass
class Harness:
    api: FakeApi
    classifier: ClaudeClassifier
    calls: list[LlmCall]
    sleeps: list[float]
    fallback: FakeLocal | None


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def make(
    policy: Policy, steps: list[Step], *, fallback: bool = True, local_sees_requests: bool = True, **options: Any
) -> Harness:
    api = FakeApi(steps)
    calls: list[LlmCall] = []
    sleeps: list[float] = []
    local = FakeLocal(sees_requests=local_sees_requests) if fallback else None
    classifier = ClaudeClassifier(
        policy,
        api_key=API_KEY,
        http_client=httpx2.Client(transport=httpx2.MockTransport(api.handler)),
        fallback=local,
        recorder=calls.append,
        sleep=sleeps.append,
        rng=random.Random(7),
        **options,
    )
    return Harness(api, classifier, calls, sleeps, local)


# --- a good answer ------------------------------------------------------------------------------


def test_ok_answer_becomes_two_labelled_requests(policy: Policy) -> None:
    h = make(policy, [fixture("message_ok_two_requests.json")])
    result = h.classifier.triage(SAMPLE)

    assert result.classifier == "claude"
    assert result.model_version.startswith(DEFAULT_MODEL)
    assert result.gratitude_only is False
    first, second = result.requests
    assert (first.category, first.product_area, first.integration) == ("integration_issue", "integrations", "cdk")
    assert first.signals == PrioritySignals(data_wrong_at_scale=True)
    assert first.confidence == pytest.approx(0.93)
    assert first.needs_review is False
    assert first.text.startswith("Since Monday every appointment")  # the quote, found in the email
    assert (second.category, second.product_area, second.integration) == ("account_access", "dashboard", None)
    assert second.summary == "Resend dashboard invite to new advisor Jordan Pike"
    assert h.fallback is not None and h.fallback.calls == 0


def test_request_sent_is_cached_schema_constrained_and_delimited(policy: Policy) -> None:
    h = make(policy, [fixture("message_ok_two_requests.json")])
    h.classifier.triage(SAMPLE)

    request = h.api.requests[0]
    assert request.url.path == "/v1/messages"
    assert API_KEY in (request.headers.get("x-api-key", "") + request.headers.get("authorization", ""))
    body = h.api.body()
    assert body["model"] == DEFAULT_MODEL
    assert "temperature" not in body  # 5.x models reject non-default sampling parameters
    assert body["thinking"] == {"type": "disabled"}
    assert body["output_config"]["effort"] == "low"

    # The stable part is the system prompt, marked for the prompt cache, and holds the taxonomy.
    (system,) = body["system"]
    assert system["cache_control"] == {"type": "ephemeral"}
    for name, rule in policy.categories.items():
        assert f"- {name}: {rule.description}" in system["text"]
    assert SAMPLE.text.splitlines()[2][:40] not in system["text"]  # no email text in the cached part

    # The schema's labels are the policy's names.
    schema = body["output_config"]["format"]
    assert schema["type"] == "json_schema"
    item = schema["schema"]["properties"]["requests"]["items"]
    assert item["properties"]["category"]["enum"] == policy.category_names
    assert item["properties"]["product_area"]["enum"] == policy.product_area_names
    assert item["properties"]["integration"]["enum"] == [*policy.integrations, "none"]
    assert item["additionalProperties"] is False

    # The email sits once inside <email>, after everything else, in the user turn.
    (message,) = body["messages"]
    assert message["role"] == "user"
    content = message["content"]
    assert content.count("<email>") == 1 and content.count("</email>") == 1
    inside = content[content.index("<email>") : content.index("</email>")]
    assert "We&#x27;ve" not in inside  # quotes are not escaped, only &, < and >
    assert "deleted 31 by hand" in inside
    assert "<account_integration>cdk</account_integration>" in content
    assert "marta@example-motors.example" not in content  # the sender's address is not needed


def test_usage_and_cost_are_recorded_at_list_price(policy: Policy) -> None:
    h = make(policy, [fixture("message_ok_two_requests.json")])
    h.classifier.triage(SAMPLE)

    (call,) = h.calls
    assert call.outcome == "ok" and call.error is None
    assert (call.input_tokens, call.output_tokens) == (1210, 236)
    assert (call.cache_creation_input_tokens, call.cache_read_input_tokens) == (1954, 0)
    # Haiku 5.5: $0.10 input, $0.50 output, $0.125 5-minute cache write, per million tokens.
    assert call.cost_usd == pytest.approx((1210 * 0.10 + 236 * 0.50 + 1954 * 0.125) / 1e6)
    assert call.request_id == "req_011CVxHaiku55ok0000000001"
    assert call.http_status == 200 and call.stop_reason == "end_turn" and call.attempt == 1


def test_cache_read_is_billed_at_the_read_price(policy: Policy) -> None:
    h = make(policy, [fixture("message_ok_cache_read.json")])
    h.classifier.triage(SAMPLE)
    (call,) = h.calls
    assert call.cache_read_input_tokens == 1954
    assert call.cost_usd == pytest.approx((1210 * 0.10 + 236 * 0.50 + 1954 * 0.01) / 1e6)


def test_thinking_blocks_are_skipped_and_the_text_block_read(policy: Policy) -> None:
    h = make(policy, [fixture("message_thinking_then_text.json")], model="claude-sonnet-5-5")
    result = h.classifier.triage(SAMPLE)
    assert [r.category for r in result.requests] == ["integration_issue", "account_access"]
    assert "thinking" not in h.api.body()  # only Haiku gets thinking switched off explicitly
    assert h.calls[0].cost_usd == pytest.approx((1210 * 2 + 301 * 10 + 1954 * 0.20) / 1e6)


# --- retries -------------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(policy: Policy) -> None:
    h = make(policy, [fixture("error_429_rate_limit.json"), fixture("message_ok_two_requests.json")])
    result = h.classifier.triage(SAMPLE)

    assert len(h.api.requests) == 2
    assert h.sleeps == [2.0]  # the retry-after header, not our own backoff
    assert [c.outcome for c in h.calls] == ["retry", "ok"]
    assert h.calls[0].http_status == 429 and "rate_limit_error" in (h.calls[0].error or "")
    assert h.calls[0].cost_usd == 0.0 and h.calls[1].attempt == 2
    assert len(result.requests) == 2 and result.classifier == "claude"


def test_529_every_time_falls_back_after_max_retries(policy: Policy) -> None:
    h = make(policy, [fixture("error_529_overloaded.json")], max_retries=3)
    result = h.classifier.triage(SAMPLE)

    assert len(h.api.requests) == 4
    assert [c.outcome for c in h.calls] == ["retry", "retry", "retry", "fallback"]
    assert all(c.http_status == 529 for c in h.calls)
    # Exponential backoff (0.5 s, 1 s, 2 s) with jitter between half and all of each step.
    for wait, step in zip(h.sleeps, [0.5, 1.0, 2.0], strict=True):
        assert step / 2 <= wait <= step
    assert h.fallback is not None and h.fallback.calls == 1
    assert result.classifier == "local-fake"


def test_529_without_fallback_raises_ours(policy: Policy) -> None:
    h = make(policy, [fixture("error_529_overloaded.json")], fallback=False, max_retries=1)
    with pytest.raises(ClaudeUnavailable, match="529"):
        h.classifier.triage(SAMPLE)
    assert [c.outcome for c in h.calls] == ["retry", "error"]


def test_500_is_retried(policy: Policy) -> None:
    h = make(policy, [fixture("error_500_api_error.json"), fixture("message_ok_two_requests.json")])
    assert h.classifier.triage(SAMPLE).classifier == "claude"
    assert [c.outcome for c in h.calls] == ["retry", "ok"]


@pytest.mark.parametrize(
    "name",
    ["error_400_invalid_request.json", "error_401_authentication.json", "error_429_spend_limit.json"],
)
def test_errors_retrying_cannot_fix_go_straight_to_fallback(policy: Policy, name: str) -> None:
    h = make(policy, [fixture(name), fixture("message_ok_two_requests.json")])
    result = h.classifier.triage(SAMPLE)

    assert len(h.api.requests) == 1 and h.sleeps == []
    assert [c.outcome for c in h.calls] == ["fallback"]
    assert h.calls[0].http_status == fixture(name)["status"]
    assert result.classifier == "local-fake"


def test_timeouts_are_retried_then_fall_back(policy: Policy) -> None:
    def slow(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    h = make(policy, [slow], max_retries=2, timeout=12.5)
    result = h.classifier.triage(SAMPLE)

    assert len(h.api.requests) == 3
    assert [c.outcome for c in h.calls] == ["retry", "retry", "fallback"]
    assert all(c.http_status is None and c.error == "timeout" for c in h.calls)
    assert h.api.requests[0].extensions["timeout"]["read"] == 12.5  # our timeout reaches the transport
    assert result.classifier == "local-fake"


def test_a_retry_after_too_long_to_wait_falls_back_at_once(policy: Policy) -> None:
    data = fixture("error_429_rate_limit.json")
    data["headers"]["retry-after"] = "3600"
    h = make(policy, [data, fixture("message_ok_two_requests.json")])
    assert h.classifier.triage(SAMPLE).classifier == "local-fake"
    assert h.sleeps == [] and len(h.api.requests) == 1


def test_x_should_retry_header_overrides_the_status(policy: Policy) -> None:
    data = fixture("error_500_api_error.json")
    data["headers"]["x-should-retry"] = "false"
    h = make(policy, [data, fixture("message_ok_two_requests.json")])
    assert h.classifier.triage(SAMPLE).classifier == "local-fake"
    assert len(h.api.requests) == 1


def test_retry_after_forms() -> None:
    assert retry_after_seconds(httpx2.Headers({"retry-after": "7"})) == 7.0
    assert retry_after_seconds(httpx2.Headers({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    assert retry_after_seconds(httpx2.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0  # past
    assert retry_after_seconds(httpx2.Headers({"retry-after": "soon"})) is None
    assert retry_after_seconds(httpx2.Headers({})) is None


# --- answers that do not fit ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["message_not_json.json", "message_max_tokens.json", "message_refusal.json"])
def test_unusable_answer_uses_fallback_labels_flagged_for_review(policy: Policy, name: str) -> None:
    h = make(policy, [fixture(name)])
    result = h.classifier.triage(SAMPLE)

    assert len(h.api.requests) == 1  # the answer came from this email: asking again is not retried
    (call,) = h.calls
    assert call.outcome == "invalid_output" and call.error
    assert call.cost_usd is not None and call.cost_usd > 0  # billed all the same
    assert result.classifier == "local-fake"
    assert result.requests and all(r.needs_review for r in result.requests)


def test_unusable_answer_without_fallback_is_one_flagged_request(policy: Policy) -> None:
    h = make(policy, [fixture("message_not_json.json")], fallback=False)
    result = h.classifier.triage(SAMPLE)
    (request,) = result.requests
    assert request.needs_review and request.confidence == 0.0
    assert (request.category, request.product_area) == ("feedback", "other")
    assert request.text == SAMPLE.text.strip()


def test_out_of_policy_labels_are_replaced_and_flagged(policy: Policy) -> None:
    h = make(policy, [fixture("message_out_of_enum.json")])
    result = h.classifier.triage(SAMPLE)

    first, second = result.requests
    assert (first.category, first.product_area) == ("feedback", "other")  # safe values, documented
    assert first.confidence == 0.0 and first.needs_review
    # The top-level "route" field means the whole answer was steered: the sibling is flagged too,
    # though its own labels are kept.
    assert (second.category, second.needs_review) == ("account_access", True)
    (call,) = h.calls
    assert call.outcome == "invalid_output"
    assert "p1_escalation" in (call.error or "") and "route" in (call.error or "")
    assert h.fallback is not None and h.fallback.calls == 0


def _request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "quote": "never got a dashboard invite",
        "summary": "Resend invite",
        "category": "account_access",
        "product_area": "dashboard",
        "integration": "none",
        "signals": {
            "urgent_with_reason": False,
            "churn_threat": False,
            "legal_or_security": False,
            "data_wrong_at_scale": False,
        },
        "sentiment": "neutral",
        "confidence": 0.8,
    }
    base.update(overrides)
    return base


def _answer(*requests: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"manipulation_attempt": False, "gratitude_only": False, "requests": list(requests), **top}


def test_one_bad_request_does_not_flag_its_valid_sibling(policy: Policy) -> None:
    h = make(policy, [answer_fixture(_answer(_request(sentiment="furious"), _request()))])
    first, second = h.classifier.triage(SAMPLE).requests
    assert first.needs_review and first.sentiment == "neutral"
    assert first.category == "account_access" and first.confidence == pytest.approx(0.8)  # valid fields kept
    assert not second.needs_review


def test_signals_count_only_explicit_booleans(policy: Policy) -> None:
    signals = {"urgent_with_reason": "yes", "churn_threat": 1, "legal_or_security": True, "data_wrong_at_scale": None}
    h = make(policy, [answer_fixture(_answer(_request(signals=signals)))])
    (request,) = h.classifier.triage(SAMPLE).requests
    assert request.signals == PrioritySignals(legal_or_security=True)
    assert request.needs_review


@pytest.mark.parametrize("confidence", [1.5, -0.1, "0.9", None, True])
def test_confidence_outside_0_1_is_zeroed_and_flagged(policy: Policy, confidence: object) -> None:
    h = make(policy, [answer_fixture(_answer(_request(confidence=confidence)))])
    (request,) = h.classifier.triage(SAMPLE).requests
    assert request.confidence == 0.0 and request.needs_review


def test_quote_not_in_the_email_is_replaced_by_the_email_text(policy: Policy) -> None:
    h = make(policy, [answer_fixture(_answer(_request(quote="Please refund $4,000 now")))])
    (request,) = h.classifier.triage(SAMPLE).requests
    assert request.text == SAMPLE.text.strip()


def test_summary_is_one_line_and_capped(policy: Policy) -> None:
    h = make(policy, [answer_fixture(_answer(_request(summary="line one\nline two " + "x" * 400)))])
    (request,) = h.classifier.triage(SAMPLE).requests
    assert "\n" not in request.summary and len(request.summary) <= 200


def test_request_flood_is_capped_and_flagged(policy: Policy) -> None:
    h = make(policy, [answer_fixture(_answer(*[_request() for _ in range(40)]))])
    result = h.classifier.triage(SAMPLE)
    assert len(result.requests) == MAX_REQUESTS_PER_EMAIL
    assert all(r.needs_review for r in result.requests)


THANKS = EmailForTriage(subject="Re: login", text="That fixed it, thank you!\n\nDale", is_reply=True)


def test_bare_thanks_is_gratitude_only_when_the_fallback_agrees(policy: Policy) -> None:
    h = make(policy, [answer_fixture(_answer(gratitude_only=True))], local_sees_requests=False)
    result = h.classifier.triage(THANKS)
    assert result.gratitude_only and result.requests == []
    assert result.classifier == "claude"
    assert h.calls[0].outcome == "ok"
    assert h.fallback is not None and h.fallback.calls == 1  # asked to confirm the drop


def test_no_fallback_means_no_confirmation_is_asked(policy: Policy) -> None:
    h = make(policy, [answer_fixture(_answer(gratitude_only=True))], fallback=False)
    assert h.classifier.triage(THANKS).gratitude_only


def test_an_empty_answer_the_fallback_disputes_goes_to_review(policy: Policy) -> None:
    # The model says "nothing to do"; the local model sees a request: the email must not vanish.
    h = make(policy, [answer_fixture(_answer(gratitude_only=True))])
    result = h.classifier.triage(THANKS)
    assert result.gratitude_only is False
    (request,) = result.requests
    assert request.needs_review and request.summary == "fallback label"


def test_long_email_cannot_be_labelled_gratitude_only(policy: Policy) -> None:
    h = make(policy, [answer_fixture(_answer(gratitude_only=True))])
    long_email = EmailForTriage(subject="thanks", text="Thanks! " + "Our texts are not going out. " * 40)
    result = h.classifier.triage(long_email)
    assert result.gratitude_only is False
    (request,) = result.requests
    assert request.needs_review and request.text == long_email.text.strip()


def test_manipulation_flag_sends_every_request_to_review(policy: Policy) -> None:
    h = make(policy, [answer_fixture(_answer(_request(), manipulation_attempt=True))])
    (request,) = h.classifier.triage(SAMPLE).requests
    assert request.needs_review and request.category == "account_access"
    assert h.calls[0].outcome == "ok"  # the answer fit the schema; flagging is the model's label


def test_manipulation_without_a_request_still_leaves_a_ticket(policy: Policy) -> None:
    h = make(policy, [answer_fixture(_answer(manipulation_attempt=True, gratitude_only=True))])
    result = h.classifier.triage(SAMPLE)
    assert result.gratitude_only is False
    (request,) = result.requests
    assert request.needs_review and "automated triage" in request.summary


# --- prompt contents -----------------------------------------------------------------------------


def test_followup_sends_existing_requests_and_asks_only_for_new_ones(policy: Policy) -> None:
    followup = EmailForTriage(
        subject="Re: CDK doubles",
        text="Still seeing doubles today. Also <b>can</b> you add Saturday hours & a holiday?",
        is_reply=True,
        existing_requests=(
            ExistingRequest("integration_issue", "integrations", "Appointments doubled in CDK </request>"),
        ),
    )
    h = make(policy, [answer_fixture(_answer())], local_sees_requests=False)
    result = h.classifier.triage(followup)
    content = h.api.body()["messages"][0]["content"]

    assert "<existing_requests>" in content
    assert '<request category="integration_issue" product_area="integrations">' in content
    assert "Appointments doubled in CDK &lt;/request&gt;</request>" in content  # summaries are escaped too
    assert "only requests that are new and unrelated" in content
    assert "&lt;b&gt;can&lt;/b&gt; you add Saturday hours &amp; a holiday" in content
    assert result.requests == [] and result.gratitude_only is False


def test_few_shot_examples_follow_the_cached_prefix(policy: Policy) -> None:
    class Retriever:
        def __init__(self) -> None:
            self.queries: list[tuple[str, int]] = []

        def nearest(self, text: str, k: int) -> list[LabelledExample]:
            self.queries.append((text, k))
            from backend.triage.prompt import ExampleRequest

            return [
                LabelledExample(
                    text="Texts <not> sending since noon",
                    requests=(ExampleRequest("SMS down", "outage", "telephony"),),
                ),
                LabelledExample(text="Old label", requests=(ExampleRequest("x", "retired_category", "other"),)),
            ]

    retriever = Retriever()
    plain = make(policy, [fixture("message_ok_two_requests.json")])
    with_examples = make(policy, [fixture("message_ok_two_requests.json")], retriever=retriever, examples_k=2)
    plain.classifier.triage(SAMPLE)
    with_examples.classifier.triage(SAMPLE)

    # The cached prefix is byte-identical with or without examples: examples never break the cache.
    assert plain.api.body()["system"] == with_examples.api.body()["system"]
    content = with_examples.api.body()["messages"][0]["content"]
    assert retriever.queries == [(f"{SAMPLE.subject}\n{SAMPLE.text}", 2)]
    assert content.index("<examples>") < content.index("<email>")
    assert "Texts &lt;not&gt; sending since noon" in content
    assert '"category": "outage"' in content
    assert "retired_category" not in content  # an example whose label left the policy is not taught
