-- LLM calls: triage per ticket email (about one in fifty retried first), and a call per Claude draft.
insert into llm_calls (llm_call_id, provider, model, purpose, message_pk, attempt, outcome, http_status, error,
                       input_tokens, output_tokens, cache_read_input_tokens, cost_usd, latency_ms, started_at,
                       recorded_at)
overriding system value
select llm_call_id, 'anthropic', model, purpose, message_pk, attempt, outcome, http_status, error,
       input_tokens, output_tokens, cache_read_input_tokens, cost_usd, latency_ms, started_at, started_at
from (
    -- Triage: one call per ticket email (a retried attempt before about one in fifty).
    select %(llm_base)s + message_pk - %(message_base)s as llm_call_id, 'claude-haiku-4-5' as model,
           'triage' as purpose, message_pk, 1 + (pg_temp.seed_u(message_pk, 61) < 0.02)::integer as attempt,
           'ok' as outcome, 200 as http_status, null as error, 1800 + (pg_temp.seed_u(message_pk, 62) * 900)::integer
           as input_tokens, 250 as output_tokens, 1500 as cache_read_input_tokens,
           round((0.0018 + pg_temp.seed_u(message_pk, 63) * 0.0012)::numeric, 8) as cost_usd,
           900 + (pg_temp.seed_u(message_pk, 64) * 1200)::integer as latency_ms,
           sent_at + interval '10 seconds' as started_at
    from seed_messages where kind = 'request' and outcome = 'tickets_created'
    union all
    select %(llm_base)s + 2 * %(tickets)s + message_pk - %(message_base)s, 'claude-haiku-4-5', 'triage',
           message_pk, 1, 'retry', 529, 'overloaded', 0, 0, 0, null, 30000, sent_at + interval '5 seconds'
    from seed_messages where kind = 'request' and outcome = 'tickets_created' and pg_temp.seed_u(message_pk, 61) < 0.02
    union all
    -- Claude drafts.
    select %(llm_base)s + 4 * %(tickets)s + ticket_id - %(ticket_base)s, 'claude-sonnet-4-5', 'draft', message_pk,
           1, 'ok', 200, null, 3500, 400, 2500, 0.0125, 4000, created_at + interval '50 seconds'
    from seed_timed where first_tier = 0 and u_generator >= 0.7 and created_at + interval '1 minute' <= %(history_end)s
) as calls
