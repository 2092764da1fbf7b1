-- stg_llm_calls: one row per HTTP attempt at an LLM API (ok, retried, failed or invalid output).
-- grain: LLM call attempt; key: llm_call_id
create view stg_llm_calls as
select
    llm_call_id,
    provider,
    model,
    purpose,
    message_pk,
    attempt,
    outcome,
    http_status,
    input_tokens,
    output_tokens,
    cache_creation_input_tokens,
    cache_read_input_tokens,
    cost_usd,
    latency_ms,
    started_at,
    recorded_at
from llm_calls;
