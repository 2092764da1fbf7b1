-- 006: the approval API and reply sending.
--
-- api_users / api_tokens: who may use the approval API, with which role (ops, lead, admin). A
-- token is shown once when issued; only its SHA-256 is stored (the token is 32 random bytes, so
-- a fast hash is enough: there is nothing to brute-force). Revoking sets revoked_at; rows are
-- never deleted, so ticket_events' `user:<name>` actors always resolve to a user.
--
-- reply_sends: one row per outbox row of kind 'send_reply': the exact message we send (its own
-- Message-ID, the raw bytes), written and committed BEFORE the first attempt to send it. A run
-- that finds a row in 'sending' state knows an earlier attempt may have reached the mail server
-- and never sends it blindly again (backend/sending/outbox.py explains the trade-off).
--
-- tickets.assignee: the person working the ticket within its route (free text: a queue member,
-- an engineer), set by the API's reassign / escalate.

create table api_users (
    user_id bigint generated always as identity primary key,
    name text not null unique check (name ~ '^[a-z][a-z0-9._-]{0,62}$'),
    role text not null check (role in ('ops', 'lead', 'admin')),
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);

create table api_tokens (
    token_id bigint generated always as identity primary key,
    user_id bigint not null references api_users (user_id),
    token_sha256 text not null unique check (token_sha256 ~ '^[0-9a-f]{64}$'),
    token_hint text not null,  -- the token's first characters, to tell tokens apart in a listing
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);

create index api_tokens_user on api_tokens (user_id);

create table reply_sends (
    send_id bigint generated always as identity primary key,
    outbox_id bigint not null unique references outbox (outbox_id),
    ticket_id bigint not null references tickets (ticket_id),
    draft_id bigint not null references drafts (draft_id),
    channel text not null,                 -- smtp, gmail
    message_id text not null unique,       -- the Message-ID we generated, angle brackets kept
    to_address text not null,
    subject text not null,
    raw bytea not null,                    -- the RFC 5322 message exactly as sent (and re-sent)
    is_automatic boolean not null,         -- Tier-0 auto-send (no human approved it)
    -- sending: an attempt started and its outcome is not known yet (or was lost in a crash);
    -- sent: the server accepted it; not_sent: the server refused it, nothing was delivered;
    -- unknown: an attempt's outcome could not be established: never re-sent automatically.
    status text not null check (status in ('sending', 'sent', 'not_sent', 'unknown')),
    attempts integer not null default 0 check (attempts >= 0),
    started_at timestamptz not null,
    sent_at timestamptz,
    provider_message_id text,              -- Gmail's message id, when sent through Gmail
    provider_thread_id text,
    last_error text,
    check ((status = 'sent') = (sent_at is not null))
);

create index reply_sends_ticket on reply_sends (ticket_id);

alter table tickets add column assignee text;
