-- 004: Linear. `linear_issues` maps a ticket to the one Linear issue made for it (Tier 2 and 3
-- tickets get one, from the outbox); `linear_webhook_deliveries` remembers every webhook delivery
-- we processed, so a redelivery of the same one is recognised and recorded nowhere twice.

create table linear_issues (
    ticket_id bigint primary key references tickets (ticket_id),
    linear_issue_id text not null unique,  -- Linear's issue id (a UUID we chose, see backend/linear/outbox.py)
    identifier text not null,               -- the human key, e.g. ENG-123
    url text not null,
    team_key text,
    created_at timestamptz not null default now()
);

create table linear_webhook_deliveries (
    -- The `Linear-Delivery` header when sent, else "sha256:" + a hash of the payload.
    delivery_id text primary key,
    event_type text,                        -- the payload's `type`: Issue, Comment, ...
    action text,                            -- create, update, remove
    linear_entity_id text,
    ticket_id bigint references tickets (ticket_id),
    outcome text not null check (outcome in ('recorded', 'ignored')),
    reason text,
    webhook_at timestamptz,                 -- the payload's webhookTimestamp
    received_at timestamptz not null default now()
);

create index linear_webhook_deliveries_ticket on linear_webhook_deliveries (ticket_id);
