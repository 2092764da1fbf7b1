-- ticketHistory: the selected ticket's events, newest first (routing, drafts and decisions,
-- escalations, SLA warnings and breaches, replies), from the events mart.
-- reads: fct_ticket_events (grain: ticket event)
select
    event_id,
    occurred_at,
    event_type,
    actor,
    from_tier,
    to_tier,
    from_route,
    to_route,
    reason,
    sla_clock,
    draft_id
from fct_ticket_events
where ticket_id = {{ queueTable.selectedRow.data?.ticket_id ?? null }}
order by occurred_at desc, event_id desc
