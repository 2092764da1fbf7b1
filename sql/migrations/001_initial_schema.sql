-- 001: the first schema. Accounts and contacts (the CRM side), messages as received (raw bytes
-- kept), conversations, tickets (one row per request, its current state), the append-only
-- ticket_events history, and the outbox of side effects to deliver later.
-- Timestamps are timestamptz (UTC); booleans are is_/has_; ids are <thing>_id.

create extension if not exists pg_trgm;

create table accounts (
    account_id text primary key,
    name text not null,
    timezone text not null,
    plan text,
    mrr_usd numeric(12, 2),
    contract_start date,
    renewal_date date,
    onboarding_status text,
    integration text,
    integration_pending_since date,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- A sender's domain (or any subdomain of it) finds its account.
create table account_domains (
    domain text primary key check (domain = lower(domain)),
    account_id text not null references accounts (account_id) on delete cascade
);

create table contacts (
    contact_id bigint generated always as identity primary key,
    email text not null unique check (email = lower(email)),
    display_name text,
    account_id text references accounts (account_id),
    created_at timestamptz not null default now()
);

create table conversations (
    conversation_id bigint generated always as identity primary key,
    account_id text references accounts (account_id),
    subject text not null default '',
    subject_key text not null default '',  -- the subject without Re:/Fwd: prefixes, lowercased
    -- Message-ID of the first customer message: the ticket a follow-up updates.
    root_message_id text,
    gmail_thread_id text,
    created_at timestamptz not null,
    last_message_at timestamptz not null
);

create index conversations_subject_key on conversations (subject_key, last_message_at);

create table messages (
    message_pk bigint generated always as identity primary key,
    mailbox text not null,
    source_id text not null,          -- the source's own id: file name, mbox key, Gmail message id
    raw bytea not null,               -- the message exactly as delivered
    raw_sha256 text not null,
    size_bytes integer not null,
    ingested_at timestamptz not null default now(),
    source_label text,                -- a human-readable name (the file name) for reports
    thread_hint text,                 -- e.g. the Gmail thread id: a threading hint, never proof
    source_received_at timestamptz,   -- when the mailbox received it, if the source says
    direction text not null default 'inbound' check (direction in ('inbound', 'outbound')),
    -- Filled by processing:
    message_id text,                  -- the Message-ID header, angle brackets kept
    in_reply_to text[] not null default '{}',
    references_ids text[] not null default '{}',
    subject text,
    from_address text,
    from_name text,
    sent_at timestamptz,              -- the Date header when sane, else ingested_at
    contact_id bigint references contacts (contact_id),
    account_id text references accounts (account_id),
    conversation_id bigint references conversations (conversation_id),
    body_text text,
    reply_text text,
    signature text,
    quoted_text text,
    language text,
    attachments jsonb not null default '[]',
    parse_defects jsonb not null default '[]',
    kind text check (kind in ('request', 'followup', 'followup_new', 'auto_reply', 'bounce',
                              'newsletter', 'spam', 'thanks')),
    followup_of text,                 -- Message-ID of the first message of the conversation continued
    outcome text check (outcome in ('tickets_created', 'followup_attached', 'automated',
                                    'not_actionable', 'failed')),
    outcome_reason text,
    processed_at timestamptz,
    unique (mailbox, source_id),
    -- Every processed message has exactly one outcome; a failure always says why.
    check ((processed_at is null) = (outcome is null)),
    check (outcome <> 'failed' or outcome_reason is not null)
);

create index messages_unprocessed on messages (message_pk) where processed_at is null;
create index messages_message_id on messages (message_id);
create index messages_conversation on messages (conversation_id);

-- Every Message-ID known to belong to a conversation (ours included), for threading lookups.
create table conversation_message_ids (
    message_id text primary key,
    conversation_id bigint not null references conversations (conversation_id),
    is_ours boolean not null default false
);

create table tickets (
    ticket_id bigint generated always as identity primary key,
    public_id uuid not null default gen_random_uuid() unique,
    conversation_id bigint not null references conversations (conversation_id),
    message_pk bigint not null references messages (message_pk),
    request_index smallint not null,  -- position of the request within its email
    account_id text references accounts (account_id),
    contact_id bigint references contacts (contact_id),
    summary text not null,
    request_text text not null,
    category text not null,
    product_area text not null,
    integration text,
    priority text not null check (priority in ('P1', 'P2', 'P3', 'P4')),
    tier smallint not null check (tier between 0 and 3),
    route text not null,
    status text not null default 'open'
        check (status in ('open', 'pending_customer', 'resolved', 'closed')),
    sentiment text,
    confidence real,
    is_flagged_for_review boolean not null default false,
    classifier text not null,
    model_version text not null,
    signals jsonb not null default '{}',
    top_categories jsonb not null default '[]',
    priority_reasons jsonb not null default '[]',
    created_at timestamptz not null,
    first_response_due_at timestamptz,
    resolution_due_at timestamptz,
    first_responded_at timestamptz,
    resolved_at timestamptz,
    resolved_tier smallint,
    updated_at timestamptz not null default now(),
    unique (message_pk, request_index),
    check (resolved_at is null or resolved_at >= created_at)
);

create index tickets_conversation on tickets (conversation_id);
create index tickets_account on tickets (account_id);
create index tickets_created_at on tickets (created_at);

create table ticket_events (
    event_id bigint generated always as identity primary key,
    ticket_id bigint not null references tickets (ticket_id),
    event_type text not null,
    occurred_at timestamptz not null,
    actor text not null default 'system',
    from_tier smallint,
    to_tier smallint,
    from_route text,
    to_route text,
    message_pk bigint references messages (message_pk),
    data jsonb not null default '{}',
    recorded_at timestamptz not null default now(),
    -- Events caused by an email carry a key, so re-processing never records them twice.
    dedupe_key text unique
);

create index ticket_events_ticket on ticket_events (ticket_id, occurred_at);
create index ticket_events_type on ticket_events (event_type, occurred_at);

-- History is append-only: an event, once written, is never changed or removed.
create function ticket_events_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'ticket_events is append-only (% refused)', tg_op;
end;
$$;

create trigger ticket_events_no_update before update or delete on ticket_events
    for each statement execute function ticket_events_append_only();

create table outbox (
    outbox_id bigint generated always as identity primary key,
    kind text not null,               -- linear_issue, draft_reply, page, ...
    ticket_id bigint references tickets (ticket_id),
    idempotency_key text not null unique,
    payload jsonb not null default '{}',
    status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
    attempts integer not null default 0,
    last_error text,
    available_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    delivered_at timestamptz
);

create index outbox_pending on outbox (available_at) where status = 'pending';
