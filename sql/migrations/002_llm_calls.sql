-- 002: LLM cost accounting. One llm_calls row per HTTP attempt at an LLM API (successful,
-- retried, failed or answered with invalid output: every attempt may be billed), and the
-- tickets each call served, so cost per ticket is a query:
--     select ticket_id, sum(cost_share_usd) from llm_call_tickets group by ticket_id;
-- Timestamps are timestamptz (UTC); ids are <thing>_id. Written by backend/triage/llm_calls.py.

create table llm_calls (
    llm_call_id bigint generated always as identity primary key,
    provider text not null default 'anthropic',
    model text not null,
    purpose text not null default 'triage',          -- what the call was for: triage, draft, ...
    message_pk bigint references messages (message_pk),  -- the email that caused it, when known
    attempt smallint not null default 1 check (attempt >= 1),
    outcome text not null check (outcome in ('ok', 'retry', 'error', 'fallback', 'invalid_output')),
    http_status smallint,                            -- null when no HTTP answer (timeout, connection)
    error text,
    request_id text,                                 -- the vendor's request-id header
    stop_reason text,
    input_tokens integer not null default 0 check (input_tokens >= 0),
    output_tokens integer not null default 0 check (output_tokens >= 0),
    cache_creation_input_tokens integer not null default 0 check (cache_creation_input_tokens >= 0),
    cache_read_input_tokens integer not null default 0 check (cache_read_input_tokens >= 0),
    cost_usd numeric(14, 8) check (cost_usd >= 0),   -- list price; null when the model's price is unknown
    latency_ms integer not null default 0 check (latency_ms >= 0),
    started_at timestamptz not null,
    recorded_at timestamptz not null default now(),
    -- A failed attempt says why.
    check (outcome in ('ok', 'invalid_output') or error is not null)
);

create index llm_calls_started_at on llm_calls (started_at);
create index llm_calls_message on llm_calls (message_pk);

-- Which tickets a call served. A call that classified an email with three requests serves three
-- tickets; its cost is split evenly so per-ticket shares add up to the call's cost.
create table llm_call_tickets (
    llm_call_id bigint not null references llm_calls (llm_call_id) on delete cascade,
    ticket_id bigint not null references tickets (ticket_id),
    cost_share_usd numeric(14, 8) check (cost_share_usd >= 0),
    primary key (llm_call_id, ticket_id)
);

create index llm_call_tickets_ticket on llm_call_tickets (ticket_id);
