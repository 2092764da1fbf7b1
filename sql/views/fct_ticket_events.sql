-- fct_ticket_events: one row per event of a ticket's history, with the ticket's account, category,
-- priority and creation time, so event-level questions (escalation paths, draft decisions, SLA
-- warnings and breaches) group by ticket attributes without another join. Live.
-- grain: ticket event; key: event_id
create view fct_ticket_events as
select
    events.event_id,
    events.ticket_id,
    events.event_type,
    events.occurred_at,
    (events.occurred_at at time zone 'UTC')::date as occurred_on,
    events.actor,
    events.from_tier,
    events.to_tier,
    events.from_route,
    events.to_route,
    events.message_pk,
    events.data ->> 'clock' as sla_clock,
    events.data ->> 'reason' as reason,
    case when jsonb_typeof(events.data -> 'draft_id') = 'number' then (events.data ->> 'draft_id')::bigint end
        as draft_id,
    events.recorded_at,
    tickets.account_id,
    tickets.category,
    tickets.product_area,
    tickets.priority,
    tickets.created_at as ticket_created_at,
    round(extract(epoch from events.occurred_at - tickets.created_at) / 3600, 4) as hours_since_created,
    events.event_type = 'escalated' as is_escalation,
    events.event_type = 'misrouted' as is_misroute
from stg_ticket_events as events
inner join stg_tickets as tickets on tickets.ticket_id = events.ticket_id;
