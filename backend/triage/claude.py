"""The Claude classifier: one Messages API call per email returns its separate requests, labelled.

`ClaudeClassifier.triage(email)` sends the prompt of `backend.triage.prompt` (cached system
prompt, policy enums in a JSON-schema structured output, the email delimited and escaped) and
turns the answer into `EmailTriage`. The model only labels; priority, tier and route are decided
later by the policy step, and nothing in the answer can carry them: fields the schema does not
define are dropped, and a label outside the policy is never kept.

What happens when things go wrong:

- Retried (exponential backoff with jitter, or the `retry-after` the API sends): 429 rate
  limits, 529 overloaded and other 5xx, 408/409, timeouts and connection errors. Never retried:
  other 4xx (400 bad request, 401/403 key problems: retrying cannot fix them) and a 429 that
  says the organisation's spend limit is reached. The SDK's own retries are off
  (`max_retries=0`) so every attempt is ours and is recorded.
- Final failure of the API (ours, not the sender's): the `fallback` classifier (the local model)
  answers, and the last attempt is recorded with outcome `fallback`; with no fallback,
  `ClaudeUnavailable` is raised so the flow retries later and alerts.
- An answer that does not fit the schema (not JSON, cut off, a label outside the policy, extra
  fields): recorded as `invalid_output`. What is usable is kept; anything that is not becomes a
  safe in-policy value and the request gets `needs_review=True` (the policy then sends it to its
  abstain route, flagged). A wholly unusable answer gives the fallback's result, every request
  flagged for review. Such an answer may come from the email itself (a manipulation attempt), so
  it is not retried.
- An answer with no request at all (a bare thanks, a follow-up adding nothing) is only accepted
  when the fallback classifier agrees; when it sees requests, its requests are used, flagged for
  review. So an email that talks the model into "nothing to do" still reaches a human.

Every HTTP attempt is reported to `recorder` as an `LlmCall` (tokens, cache tokens, list-price
cost, latency, outcome); see `backend.triage.llm_calls`.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast

import anthropic
import httpx2
from anthropic.types import Message, OutputConfigParam, ThinkingConfigParam
from pydantic import BaseModel, ConfigDict, Field, Strict, StrictBool, StrictStr, TypeAdapter, ValidationError

from backend.policy.model import Policy
from backend.triage.llm_calls import LlmCall, Outcome, cost_usd
from backend.triage.prompt import (
    DEFAULT_EXAMPLES_K,
    MAX_QUOTE_CHARS,
    MAX_SUMMARY_CHARS,
    NO_INTEGRATION,
    PROMPT_VERSION,
    SENTIMENTS,
    SIGNAL_NAMES,
    ExampleRetriever,
    PromptBuilder,
    TriagePrompt,
)
from backend.triage.types import Classifier, EmailForTriage, EmailTriage, PrioritySignals, RequestTriage

# The current Haiku (platform.claude.com/docs/en/models/haiku-5-5/overview, released 2026-10-07),
# built for classification and routing at $0.10 / $0.50 per million tokens.
DEFAULT_MODEL = "claude-haiku-5-5"

# Thinking per model. Haiku 5.5 thinks adaptively by default; thinking can be switched off at
# effort "high" or lower, and a labelling task gains nothing from it but latency and output
# tokens. Models not listed get the API's default. No model gets `temperature`: the 5.x models
# answer a non-default sampling parameter with a 400.
_THINKING: dict[str, ThinkingConfigParam] = {
    "claude-haiku-5-5": {"type": "disabled"},
}
EFFORT: Literal["low"] = "low"  # a labelling task; effort also bounds thinking where it stays on

MAX_TOKENS = 2048  # a three-request answer is about 300-600 tokens
MAX_REQUESTS_PER_EMAIL = 10  # more is a runaway or injected answer, not a real email
# A "bare thanks" is short (the dev mailbox's longest is about 100 characters); a long email
# labelled gratitude-only is more likely a request that was talked out of existence.
GRATITUDE_MAX_CHARS = 600
# Waiting longer than this on `retry-after` would stall the flow: fall back instead.
MAX_RETRY_AFTER_SECONDS = 60.0
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0

_RETRYABLE_4XX = frozenset({408, 409, 429})
# A 429 with this code means the monthly spend cap is reached: retrying fails until it resets
# (Claude API errors, "rate_limit_error ... enforced_spend_limit_reached").
_SPEND_LIMIT_CODE = "enforced_spend_limit_reached"


class ClaudeUnavailable(Exception):
    """Ours: the API could not answer after retries and no fallback classifier was configured."""


# ---------------------------------------------------------------------------------------------
# Reading the model's answer
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SafeLabels:
    """The in-policy values that replace a label the model got wrong (see `safe_labels`)."""

    category: str
    product_area: str


def safe_labels(policy: Policy) -> SafeLabels:
    """The least consequential labels the policy offers, derived from the policy itself.

    Category: among categories whose default tier is the tier of the policy's abstain route and
    that neither page on-call nor change tier by product area, the one with the lowest default
    priority (ties: the last listed, where catch-alls go). With the default policy: `feedback`.
    Product area: the last one that no routing or tier rule mentions. Default policy: `other`.
    The request also gets confidence 0 and `needs_review`, so the policy abstains on it anyway.
    """
    abstain_tier = policy.routes[policy.triage.abstain_route].tier
    levels = policy.priority.levels
    plain = [
        name
        for name, rule in policy.categories.items()
        if rule.default_tier == abstain_tier and not rule.page_on_call and not rule.tier_by_product_area
    ] or list(policy.categories)
    lowest = max(levels.index(policy.categories[name].default_priority) for name in plain)
    category = [name for name in plain if levels.index(policy.categories[name].default_priority) == lowest][-1]
    routed_areas = {area for rule in policy.categories.values() for area in rule.tier_by_product_area}
    routed_areas |= {area for routing in policy.tier_routes.values() for area in routing.by_product_area}
    areas = [area for area in policy.product_areas if area not in routed_areas] or list(policy.product_areas)
    return SafeLabels(category=category, product_area=areas[-1])


class _Signals(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    urgent_with_reason: bool
    churn_threat: bool
    legal_or_security: bool
    data_wrong_at_scale: bool


def _enum(values: list[str]) -> TypeAdapter[str]:
    return TypeAdapter(cast(Any, Literal)[tuple(values)])


@dataclass(frozen=True)
class _FieldRules:
    """Pydantic validators of each field of a request, with the policy's names as enums."""

    text: TypeAdapter[str]
    category: TypeAdapter[str]
    product_area: TypeAdapter[str]
    integration: TypeAdapter[str]
    sentiment: TypeAdapter[str]
    confidence: TypeAdapter[float]
    flag: TypeAdapter[bool]
    signals: TypeAdapter[_Signals]

    @classmethod
    def for_policy(cls, policy: Policy) -> _FieldRules:
        return cls(
            text=TypeAdapter(StrictStr),
            category=_enum(policy.category_names),
            product_area=_enum(policy.product_area_names),
            integration=_enum([*policy.integrations, NO_INTEGRATION]),
            sentiment=_enum(list(SENTIMENTS)),
            confidence=TypeAdapter(Annotated[float, Strict(), Field(ge=0, le=1)]),
            flag=TypeAdapter(StrictBool),
            signals=TypeAdapter(_Signals),
        )


_REQUEST_FIELDS = frozenset(
    {"quote", "summary", "category", "product_area", "integration", "signals", "sentiment", "confidence"}
)
_TOP_FIELDS = frozenset({"manipulation_attempt", "gratitude_only", "requests"})


@dataclass(frozen=True)
class Interpretation:
    requests: list[RequestTriage]
    gratitude_only: bool
    problems: list[str]  # every way the answer departed from the schema; empty when it fit


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _squash(text: str) -> str:
    return " ".join(text.split()).lower()


class OutputReader:
    """Turns the model's JSON into `RequestTriage` values that contain only policy labels."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.rules = _FieldRules.for_policy(policy)
        self.safe = safe_labels(policy)

    def _valid(self, adapter: TypeAdapter[Any], value: object) -> bool:
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True

    def _request(self, raw: dict[str, Any], email_in: EmailForTriage, index: int) -> tuple[RequestTriage, list[str]]:
        rules, problems = self.rules, []
        where = f"requests[{index}]"
        extra = sorted(set(raw) - _REQUEST_FIELDS)
        if extra:
            problems.append(f"{where}: fields outside the schema ignored: {', '.join(extra)}")

        category = raw.get("category")
        category_replaced = not self._valid(rules.category, category)
        if category_replaced:
            problems.append(f"{where}.category {category!r} is not a policy category")
            category = self.safe.category
        area = raw.get("product_area")
        if not self._valid(rules.product_area, area):
            problems.append(f"{where}.product_area {area!r} is not a policy product area")
            area = self.safe.product_area
        integration = raw.get("integration")
        if not self._valid(rules.integration, integration):
            problems.append(f"{where}.integration {integration!r} is not a policy integration")
            integration = NO_INTEGRATION
        sentiment = raw.get("sentiment")
        if not self._valid(rules.sentiment, sentiment):
            problems.append(f"{where}.sentiment {sentiment!r} is not one of {', '.join(SENTIMENTS)}")
            sentiment = "neutral"
        confidence = raw.get("confidence")
        if not self._valid(rules.confidence, confidence):
            problems.append(f"{where}.confidence {confidence!r} is not a number from 0 to 1")
            confidence = 0.0
        if category_replaced:
            confidence = 0.0  # a replaced category is not a judgement anyone made

        raw_signals = raw.get("signals")
        if self._valid(rules.signals, raw_signals):
            signals = PrioritySignals(**cast(dict[str, bool], raw_signals))
        else:
            problems.append(f"{where}.signals do not match the schema")
            given = raw_signals if isinstance(raw_signals, dict) else {}
            # Only an explicit JSON true counts; anything else ("yes", 1, missing) is false.
            signals = PrioritySignals(**{name: given.get(name) is True for name in SIGNAL_NAMES})

        text = email_in.text.strip()
        quote = raw.get("quote")
        if self._valid(rules.text, quote) and _squash(str(quote)) and _squash(str(quote)) in _squash(text):
            text = str(quote).strip()[:MAX_QUOTE_CHARS]
        elif not self._valid(rules.text, quote):
            problems.append(f"{where}.quote is not text")
        summary = raw.get("summary")
        if not self._valid(rules.text, summary) or not str(summary).strip():
            problems.append(f"{where}.summary is missing")
            summary = text
        return (
            RequestTriage(
                text=text,
                summary=_one_line(str(summary), MAX_SUMMARY_CHARS),
                category=str(category),
                product_area=str(area),
                integration=None if integration == NO_INTEGRATION else str(integration),
                signals=signals,
                sentiment=str(sentiment),
                confidence=float(cast(float, confidence)),
                top_categories=((str(category), float(cast(float, confidence))),),
                needs_review=bool(problems),
            ),
            problems,
        )

    def flagged_placeholder(self, email_in: EmailForTriage, summary: str) -> RequestTriage:
        """One request covering the whole email, safe labels, for a human to look at."""
        return RequestTriage(
            text=email_in.text.strip(),
            summary=_one_line(summary, MAX_SUMMARY_CHARS),
            category=self.safe.category,
            product_area=self.safe.product_area,
            integration=None,
            signals=PrioritySignals(),
            sentiment="neutral",
            confidence=0.0,
            top_categories=((self.safe.category, 0.0),),
            needs_review=True,
        )

    def read(self, payload: object, email_in: EmailForTriage) -> Interpretation | None:
        """None when the answer is unusable as a whole (not an object with a list of requests)."""
        if not isinstance(payload, dict) or not isinstance(payload.get("requests"), list):
            return None
        # Departures of the answer as a whole: a "route" or "priority" field, a flag that is not a
        # boolean, a flood of requests. They mean the answer was steered, so every request it
        # produced gets a human look.
        steered: list[str] = []
        extra = sorted(set(payload) - _TOP_FIELDS)
        if extra:
            steered.append(f"fields outside the schema ignored: {', '.join(extra)}")
        manipulation = payload.get("manipulation_attempt")
        if not self._valid(self.rules.flag, manipulation):
            steered.append(f"manipulation_attempt {manipulation!r} is not a boolean")
        gratitude = payload.get("gratitude_only")
        if not self._valid(self.rules.flag, gratitude):
            steered.append(f"gratitude_only {gratitude!r} is not a boolean")
            gratitude = False
        raw_requests: list[object] = payload["requests"]
        if len(raw_requests) > MAX_REQUESTS_PER_EMAIL:
            steered.append(f"{len(raw_requests)} requests; kept the first {MAX_REQUESTS_PER_EMAIL}")
            raw_requests = raw_requests[:MAX_REQUESTS_PER_EMAIL]
        if any(not isinstance(raw, dict) for raw in raw_requests):
            steered.append("requests that are not objects were dropped")
        if gratitude is True and raw_requests:
            steered.append("gratitude_only with requests: kept the requests")
            gratitude = False
        if gratitude is True and len(email_in.text.strip()) > GRATITUDE_MAX_CHARS:
            steered.append("gratitude_only on an email longer than a bare thanks")
            gratitude = False

        requests: list[RequestTriage] = []
        request_problems: list[str] = []
        for index, raw in enumerate(raw_requests):
            if isinstance(raw, dict):
                request, problems = self._request(raw, email_in, index)
                requests.append(request)
                request_problems.extend(problems)

        if manipulation is True or steered:
            # Anything that tried to steer the triage is seen by a human, and never vanishes.
            gratitude = False
            requests = [dataclasses.replace(request, needs_review=True) for request in requests]
            if not requests:
                summary = (
                    "Email addresses the automated triage; no support request identified"
                    if manipulation is True
                    else "Triage answer departed from the schema; needs a human label"
                )
                requests = [self.flagged_placeholder(email_in, summary)]
        return Interpretation(requests=requests, gratitude_only=gratitude is True, problems=steered + request_problems)


# ---------------------------------------------------------------------------------------------
# Retries
# ---------------------------------------------------------------------------------------------


def retry_after_seconds(headers: httpx2.Headers) -> float | None:
    """The server's requested wait: `retry-after-ms` (Anthropic), else `retry-after` in seconds
    or as an HTTP date (RFC 9110 section 10.2.3)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def is_retryable(error: Exception) -> bool:
    if isinstance(error, anthropic.APIStatusError):
        hint = error.response.headers.get("x-should-retry")
        if hint in {"true", "false"}:
            return hint == "true"  # the API's own verdict, as the SDK honours it
        if error.status_code == 429 and error.error_code == _SPEND_LIMIT_CODE:
            return False
        return error.status_code in _RETRYABLE_4XX or error.status_code >= 500
    return isinstance(error, anthropic.APIConnectionError)  # includes APITimeoutError


def _describe(error: Exception) -> str:
    if isinstance(error, anthropic.APIStatusError):
        detail = error.api_message or str(error)
        text = f"{error.status_code} {error.type or 'error'}: {detail}"
    elif isinstance(error, anthropic.APITimeoutError):
        text = "timeout"
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:500]


# ---------------------------------------------------------------------------------------------
# The classifier
# ---------------------------------------------------------------------------------------------


class ClaudeClassifier:
    """`Classifier` backed by the Anthropic Messages API (see the module docstring)."""

    name = "claude"

    def __init__(
        self,
        policy: Policy,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        http_client: httpx2.Client | None = None,
        fallback: Classifier | None = None,
        recorder: Callable[[LlmCall], None] | None = None,
        timeout: float = 30,
        max_retries: int = 3,
        retriever: ExampleRetriever | None = None,
        examples_k: int = DEFAULT_EXAMPLES_K,
        max_tokens: int = MAX_TOKENS,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        base_url: str | None = None,
    ) -> None:
        self.policy = policy
        self.model = model
        self.model_version = f"{model}+prompt-{PROMPT_VERSION}"
        self.fallback = fallback
        self.recorder = recorder
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_tokens = max_tokens
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.prompts = PromptBuilder(policy, retriever=retriever, examples_k=examples_k)
        self.reader = OutputReader(policy)
        # max_retries=0: the SDK would retry silently; our loop retries so each attempt is recorded.
        self.client = anthropic.Anthropic(
            api_key=api_key, http_client=http_client, max_retries=0, timeout=timeout, base_url=base_url
        )

    # -- one email ------------------------------------------------------------------------------

    def triage(self, email_in: EmailForTriage) -> EmailTriage:
        prompt = self.prompts.build(email_in)
        attempt = 0
        while True:
            attempt += 1
            started_at, start = datetime.now(UTC), time.monotonic()
            try:
                message = self._create(prompt)
            except (anthropic.APIStatusError, anthropic.APIConnectionError) as error:
                elapsed = time.monotonic() - start
                delay = self._delay_before_retry(error, attempt)
                status = error.status_code if isinstance(error, anthropic.APIStatusError) else None
                request_id = error.request_id if isinstance(error, anthropic.APIStatusError) else None
                outcome: Outcome = "retry" if delay is not None else ("fallback" if self.fallback else "error")
                self._record(
                    LlmCall(
                        model=self.model,
                        outcome=outcome,
                        cost_usd=0.0,  # a failed request is not billed
                        latency_ms=round(elapsed * 1000),
                        error=_describe(error),
                        attempt=attempt,
                        http_status=status,
                        request_id=request_id,
                        started_at=started_at,
                    )
                )
                if delay is not None:
                    self.sleep(delay)
                    continue
                if self.fallback is None:
                    raise ClaudeUnavailable(
                        f"Claude API failed after {attempt} attempt(s): {_describe(error)}"
                    ) from error
                return self.fallback.triage(email_in)
            return self._answer(message, email_in, attempt, started_at, time.monotonic() - start)

    def _create(self, prompt: TriagePrompt) -> Message:
        thinking = _THINKING.get(self.model)
        output_config: OutputConfigParam = {
            "effort": EFFORT,
            "format": {"type": "json_schema", "schema": prompt.schema},
        }
        return self.client.messages.create(
            model=self.model,
            max_tokens=self.max_tokens,
            system=cast(Any, prompt.system),
            messages=cast(Any, prompt.messages),
            output_config=output_config,
            thinking=thinking if thinking is not None else anthropic.omit,
            timeout=self.timeout,
        )

    def _delay_before_retry(self, error: Exception, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when there is none to make."""
        if attempt > self.max_retries or not is_retryable(error):
            return None
        if isinstance(error, anthropic.APIStatusError):
            requested = retry_after_seconds(error.response.headers)
            if requested is not None:
                return requested if requested <= MAX_RETRY_AFTER_SECONDS else None
        backoff = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        return backoff * (0.5 + self.rng.random() / 2)  # jitter keeps parallel workers apart

    def _answer(
        self, message: Message, email_in: EmailForTriage, attempt: int, started_at: datetime, elapsed: float
    ) -> EmailTriage:
        usage = message.usage
        cache_write, cache_read = usage.cache_creation_input_tokens or 0, usage.cache_read_input_tokens or 0
        interpretation, problem = self._interpret(message, email_in)
        problems = [problem] if problem else (interpretation.problems if interpretation else [])
        self._record(
            LlmCall(
                model=self.model,
                outcome="invalid_output" if problems else "ok",
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_creation_input_tokens=cache_write,
                cache_read_input_tokens=cache_read,
                cost_usd=cost_usd(
                    self.model,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cache_creation_input_tokens=cache_write,
                    cache_read_input_tokens=cache_read,
                ),
                latency_ms=round(elapsed * 1000),
                error="; ".join(problems)[:2000] if problems else None,
                attempt=attempt,
                http_status=200,
                request_id=getattr(message, "_request_id", None),
                stop_reason=message.stop_reason,
                started_at=started_at,
            )
        )
        if interpretation is not None:
            if not interpretation.requests and self.fallback is not None:
                # Dropping an email (a bare thanks, a follow-up with nothing new) takes two
                # independent classifiers agreeing: a model talked into "no ticket" by the email
                # itself must not make a real request vanish.
                second = self.fallback.triage(email_in)
                if second.requests:
                    return dataclasses.replace(
                        second,
                        requests=[dataclasses.replace(request, needs_review=True) for request in second.requests],
                    )
            return EmailTriage(
                requests=interpretation.requests,
                gratitude_only=interpretation.gratitude_only,
                classifier=self.name,
                model_version=self.model_version,
            )
        # Unusable answer: the fallback labels it, and a human reviews every request.
        if self.fallback is not None:
            result = self.fallback.triage(email_in)
            return dataclasses.replace(
                result, requests=[dataclasses.replace(request, needs_review=True) for request in result.requests]
            )
        return EmailTriage(
            requests=[self.reader.flagged_placeholder(email_in, "Triage answer unusable; needs a human label")],
            classifier=self.name,
            model_version=self.model_version,
        )

    def _interpret(self, message: Message, email_in: EmailForTriage) -> tuple[Interpretation | None, str | None]:
        if message.stop_reason not in {"end_turn", "stop_sequence"}:
            return None, f"stop_reason {message.stop_reason}: answer incomplete or refused"
        text = "".join(block.text for block in message.content if block.type == "text")
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as error:
            return None, f"answer is not JSON ({error.msg} at {error.pos})"
        interpretation = self.reader.read(payload, email_in)
        if interpretation is None:
            return None, "answer is not an object with a list of requests"
        return interpretation, None

    def _record(self, call: LlmCall) -> None:
        if self.recorder is not None:
            self.recorder(call)
