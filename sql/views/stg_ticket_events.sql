-- stg_ticket_events: one row per event in a ticket's append-only history.
-- grain: ticket event; key: event_id
create view stg_ticket_events as
select
    event_id,
    ticket_id,
    event_type,
    occurred_at,
    actor,
    from_tier,
    to_tier,
    from_route,
    to_route,
    message_pk,
    data,
    recorded_at
from ticket_events;
