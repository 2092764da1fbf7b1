-- mart_llm_cost_daily: LLM calls per day by provider, model, purpose and outcome: attempts, tokens,
-- list-price cost (null-priced calls counted apart) and latency.
-- grain: day x provider x model x purpose x outcome; key: (called_on, provider, model, purpose, outcome)
create view mart_llm_cost_daily as
select
    (started_at at time zone 'UTC')::date as called_on,
    provider,
    model,
    purpose,
    outcome,
    count(*) as calls,
    count(*) filter (where cost_usd is null) as unpriced_calls,
    sum(input_tokens) as input_tokens,
    sum(output_tokens) as output_tokens,
    sum(cache_creation_input_tokens) as cache_creation_input_tokens,
    sum(cache_read_input_tokens) as cache_read_input_tokens,
    coalesce(sum(cost_usd), 0) as cost_usd,
    sum(latency_ms) as latency_ms
from stg_llm_calls
group by (started_at at time zone 'UTC')::date, provider, model, purpose, outcome;
