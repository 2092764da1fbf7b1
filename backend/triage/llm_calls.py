"""What every LLM call cost: the `LlmCall` record, the list-price table, and writing both to Postgres.

A classifier reports each HTTP attempt (successful or not) as one `LlmCall` through a recorder
callback; the pipeline writes the calls with `record_llm_call` once the tickets they served
exist, so "cost per ticket" is a SQL query over `llm_calls` and `llm_call_tickets`
(sql/migrations/002_llm_calls.sql).

Failures: a model missing from the price table is not an error (the call is recorded with
`cost_usd = None`, meaning "unknown", never 0). A database error while recording is ours: it
raises, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import psycopg

Outcome = Literal["ok", "retry", "error", "fallback", "invalid_output"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "retry", "error", "fallback", "invalid_output")


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens, at list price (no batch or negotiated discount)."""

    input: float
    output: float
    cache_write_5m: float  # we only ever ask for the default 5-minute cache TTL
    cache_read: float
    # Prompts longer than this many input tokens (fresh + cache write + cache read) bill at
    # `long_context` instead (Claude Haiku 5.5 bills prompts over 100K tokens at 5x).
    long_context_threshold: int | None = None
    long_context: ModelPrice | None = None


# List prices, USD per million tokens, from the model overview pages of the Claude Platform docs
# (platform.claude.com/docs/en/models/haiku-5-5/overview, .../sonnet-5-5/overview,
# .../sonnet-5/overview, .../haiku-4-5/overview), read on 2026-11-22. A 5-minute cache write
# costs 1.25x the input price and a cache read 0.1x on every model listed there.
PRICES: dict[str, ModelPrice] = {
    "claude-haiku-5-5": ModelPrice(
        input=0.10,
        output=0.50,
        cache_write_5m=0.125,
        cache_read=0.01,
        long_context_threshold=100_000,
        long_context=ModelPrice(input=0.50, output=2.50, cache_write_5m=0.625, cache_read=0.05),
    ),
    "claude-sonnet-5-5": ModelPrice(input=2.00, output=10.00, cache_write_5m=2.50, cache_read=0.20),
    "claude-sonnet-5": ModelPrice(input=2.00, output=10.00, cache_write_5m=2.50, cache_read=0.20),
    "claude-haiku-4-5": ModelPrice(input=1.00, output=5.00, cache_write_5m=1.25, cache_read=0.10),
    "claude-haiku-4-5-20251001": ModelPrice(input=1.00, output=5.00, cache_write_5m=1.25, cache_read=0.10),
}


def price_for(model: str) -> ModelPrice | None:
    return PRICES.get(model)


def cost_usd(
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_creation_input_tokens: int = 0,
    cache_read_input_tokens: int = 0,
) -> float | None:
    """List-price cost of one call; None when the model is not in the price table.

    The API's `input_tokens` excludes cached tokens: total input is the sum of the three input
    counts (Anthropic Messages API, `usage`), and each part bills at its own rate.
    """
    price = price_for(model)
    if price is None:
        return None
    prompt_tokens = input_tokens + cache_creation_input_tokens + cache_read_input_tokens
    if (
        price.long_context is not None
        and price.long_context_threshold is not None
        and prompt_tokens > price.long_context_threshold
    ):
        price = price.long_context
    total = (
        input_tokens * price.input
        + output_tokens * price.output
        + cache_creation_input_tokens * price.cache_write_5m
        + cache_read_input_tokens * price.cache_read
    )
    return total / 1_000_000


@dataclass(frozen=True)
class LlmCall:
    """One HTTP attempt at an LLM API, billed or not.

    outcome: `ok` (valid answer), `invalid_output` (answered, billed, but the answer failed
    validation), `retry` (failed, another attempt follows), `error` (failed, no attempt follows
    and no fallback took over), `fallback` (failed, no attempt follows, the fallback classifier
    answered instead).
    """

    model: str
    outcome: Outcome
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float | None = 0.0
    latency_ms: int = 0
    error: str | None = None
    attempt: int = 1
    http_status: int | None = None
    request_id: str | None = None  # the API's request-id header, for the vendor's support
    stop_reason: str | None = None
    purpose: str = "triage"
    provider: str = "anthropic"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown LLM call outcome {self.outcome!r}")


def _money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 10)))


def record_llm_call(
    conn: psycopg.Connection,
    call: LlmCall,
    ticket_ids: Iterable[int],
    *,
    message_pk: int | None = None,
) -> int:
    """Insert one call and link it to the tickets it served; returns its llm_call_id.

    The call's cost is split evenly over its tickets (`cost_share_usd`), so summing shares per
    ticket gives cost per ticket and summing over tickets gives back the call's cost. A call
    with no ticket (a failed attempt, a "thanks" email) is still recorded, linked to its
    message when `message_pk` is given.
    """
    tickets = sorted(set(ticket_ids))
    with conn.transaction():
        row = conn.execute(
            """
            insert into llm_calls (
                provider, model, purpose, message_pk, attempt, outcome, http_status, error,
                request_id, stop_reason, input_tokens, output_tokens, cache_creation_input_tokens,
                cache_read_input_tokens, cost_usd, latency_ms, started_at
            ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            returning llm_call_id
            """,
            (
                call.provider,
                call.model,
                call.purpose,
                message_pk,
                call.attempt,
                call.outcome,
                call.http_status,
                call.error,
                call.request_id,
                call.stop_reason,
                call.input_tokens,
                call.output_tokens,
                call.cache_creation_input_tokens,
                call.cache_read_input_tokens,
                _money(call.cost_usd),
                call.latency_ms,
                call.started_at,
            ),
        ).fetchone()
        assert row is not None
        llm_call_id = int(row[0])
        if tickets:
            share = _money(None if call.cost_usd is None else call.cost_usd / len(tickets))
            with conn.cursor() as cursor:
                cursor.executemany(
                    "insert into llm_call_tickets (llm_call_id, ticket_id, cost_share_usd) values (%s, %s, %s)",
                    [(llm_call_id, ticket_id, share) for ticket_id in tickets],
                )
    return llm_call_id
