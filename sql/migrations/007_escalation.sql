-- 007: escalation and notifications.
--
-- notification_deliveries: one row per (outbox row, channel) for the `page` and `notify` outbox
-- kinds (backend/notify/deliver.py). A page goes to several channels (Slack and email); each
-- channel's outcome is recorded on its own, so a retry after one channel failed never sends again
-- on a channel that already delivered.
--
-- ticket_events gets two checks that hold the vocabulary of docs/events.md: an escalation goes up
-- (from_tier < to_tier), and a mis-route stays at its tier and changes queue. Both are written only
-- by backend/escalation/actions.py.
--
-- Indexes serve the SLA monitor (open tickets, every few minutes) and the escalation suggestion
-- (who holds a ticket now: the latest assigned / escalated / misrouted event).

create table notification_deliveries (
    outbox_id bigint not null references outbox (outbox_id),
    channel text not null,                 -- a channel name of the policy's notifications.channels
    ticket_id bigint references tickets (ticket_id),
    event text not null,                   -- p1_created, sla_breach: the notifications.events rule used
    target text,                           -- who: a person of notifications.people
    target_role text,                      -- why them: on_call, queue_lead
    status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
    attempts integer not null default 0 check (attempts >= 0),
    last_error text,
    last_attempt_at timestamptz,
    delivered_at timestamptz,
    primary key (outbox_id, channel),
    check ((status = 'delivered') = (delivered_at is not null)),
    check (status <> 'failed' or last_error is not null)
);

create index notification_deliveries_ticket on notification_deliveries (ticket_id);

alter table ticket_events
    add constraint ticket_events_escalation_goes_up
    check (event_type <> 'escalated' or (from_tier is not null and to_tier is not null and from_tier < to_tier));

alter table ticket_events
    add constraint ticket_events_misroute_same_tier
    check (
        event_type <> 'misrouted'
        or (from_tier is not null and from_tier = to_tier
            and from_route is not null and to_route is not null and from_route <> to_route)
    );

create index tickets_open on tickets (ticket_id) where status in ('open', 'pending_customer');

create index ticket_events_assignment on ticket_events (ticket_id, occurred_at desc, event_id desc)
    where event_type in ('assigned', 'escalated', 'misrouted');

create index ticket_events_resolved on ticket_events (ticket_id, occurred_at) where event_type = 'resolved';
