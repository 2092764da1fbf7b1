"""LLM cost accounting on a real Postgres: record calls, link them to tickets, cost per ticket in SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest

from backend.triage.llm_calls import PRICES, LlmCall, cost_usd, record_llm_call

NOW = datetime(2026, 10, 6, 15, 0, tzinfo=UTC)


def _message(db: psycopg.Connection, source_id: str) -> tuple[int, int]:
    conversation = db.execute(
        "insert into conversations (subject, created_at, last_message_at) values ('s', %s, %s) "
        "returning conversation_id",
        (NOW, NOW),
    ).fetchone()
    message = db.execute(
        "insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, conversation_id) "
        "values ('support@pam.example', %s, 'x', 'sha', 1, %s) returning message_pk",
        (source_id, conversation[0] if conversation else None),
    ).fetchone()
    assert conversation is not None and message is not None
    return int(conversation[0]), int(message[0])


def _ticket(db: psycopg.Connection, conversation_id: int, message_pk: int, index: int) -> int:
    row = db.execute(
        """
        insert into tickets (conversation_id, message_pk, request_index, summary, request_text, category,
                             product_area, priority, tier, route, classifier, model_version, created_at)
        values (%s, %s, %s, 'summary', 'text', 'how_to', 'dashboard', 'P4', 0, 'ai', 'claude', 'm', %s)
        returning ticket_id
        """,
        (conversation_id, message_pk, index, NOW),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _call(outcome: str = "ok", cost: float | None = 0.0003, **fields: object) -> LlmCall:
    return LlmCall(
        model="claude-haiku-5-5",
        outcome=outcome,  # type: ignore[arg-type]
        input_tokens=1200,
        output_tokens=250,
        cache_read_input_tokens=1950,
        cost_usd=cost,
        latency_ms=840,
        started_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


def test_cost_per_ticket_is_a_query(db: psycopg.Connection) -> None:
    conversation_id, message_pk = _message(db, "0001.eml")
    first, second, third = (_ticket(db, conversation_id, message_pk, index) for index in range(3))
    # The email needed a retry (unbilled 529), then one answer served three tickets.
    record_llm_call(db, _call("retry", cost=0.0, error="529 overloaded_error: Overloaded", http_status=529), [])
    record_llm_call(db, _call(cost=0.0006), [first, second, third], message_pk=message_pk)
    # A later follow-up call served only the first ticket.
    record_llm_call(db, _call(cost=0.0002), [first])

    rows = db.execute(
        "select ticket_id, sum(cost_share_usd) from llm_call_tickets group by ticket_id order by ticket_id"
    ).fetchall()
    assert rows == [(first, Decimal("0.00040000")), (second, Decimal("0.00020000")), (third, Decimal("0.00020000"))]
    total = db.execute("select sum(cost_usd), count(*) from llm_calls").fetchone()
    assert total == (Decimal("0.00080000"), 3)
    per_message = db.execute("select count(*) from llm_calls where message_pk = %s", (message_pk,)).fetchone()
    assert per_message == (1,)


def test_every_field_is_stored(db: psycopg.Connection) -> None:
    call = _call(
        "invalid_output",
        cost=cost_usd("claude-haiku-5-5", input_tokens=1200, output_tokens=250, cache_read_input_tokens=1950),
        error="requests[0].category 'p1' is not a policy category",
        attempt=2,
        http_status=200,
        request_id="req_1",
        stop_reason="end_turn",
    )
    llm_call_id = record_llm_call(db, call, [])
    row = db.execute(
        """
        select provider, model, purpose, attempt, outcome, http_status, error, request_id, stop_reason,
               input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, cost_usd,
               latency_ms, started_at
        from llm_calls where llm_call_id = %s
        """,
        (llm_call_id,),
    ).fetchone()
    assert row == (
        "anthropic",
        "claude-haiku-5-5",
        "triage",
        2,
        "invalid_output",
        200,
        "requests[0].category 'p1' is not a policy category",
        "req_1",
        "end_turn",
        1200,
        250,
        0,
        1950,
        Decimal("0.00026450"),  # 1200 x 0.10 + 250 x 0.50 + 1950 x 0.01 per million
        840,
        NOW,
    )


def test_unknown_price_is_stored_as_null_not_zero(db: psycopg.Connection) -> None:
    assert cost_usd("claude-future-9", input_tokens=10, output_tokens=10) is None
    conversation_id, message_pk = _message(db, "0002.eml")
    ticket = _ticket(db, conversation_id, message_pk, 0)
    llm_call_id = record_llm_call(db, _call(cost=None), [ticket])
    assert db.execute("select cost_usd from llm_calls where llm_call_id = %s", (llm_call_id,)).fetchone() == (None,)
    assert db.execute("select cost_share_usd from llm_call_tickets").fetchone() == (None,)


def test_a_failed_call_must_say_why(db: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        record_llm_call(db, _call("error", cost=0.0), [])


def test_unknown_outcome_is_refused_before_the_database() -> None:
    with pytest.raises(ValueError, match="unknown LLM call outcome"):
        _call("maybe")


def test_long_prompts_bill_at_the_long_context_price() -> None:
    short = cost_usd("claude-haiku-5-5", input_tokens=100_000, output_tokens=1000)
    long = cost_usd("claude-haiku-5-5", input_tokens=100_001, output_tokens=1000)
    assert short == pytest.approx((100_000 * 0.10 + 1000 * 0.50) / 1e6)
    assert long == pytest.approx((100_001 * 0.50 + 1000 * 2.50) / 1e6)
    assert set(PRICES) >= {"claude-haiku-5-5", "claude-sonnet-5-5"}
