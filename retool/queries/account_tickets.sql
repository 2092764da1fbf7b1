-- accountTickets: the other tickets of the selected ticket's account, open ones first, then the
-- newest, with the SLA outcome and escalations of each (the customer's recent experience).
-- reads: fct_tickets (grain: ticket)
select
    ticket_id,
    created_at,
    summary,
    status,
    current_tier,
    current_route,
    priority,
    category,
    first_response_sla,
    resolution_sla,
    escalation_count,
    resolved_at
from fct_tickets
where account_id = {{ queueTable.selectedRow.data?.account_id ?? null }}
    and ticket_id <> {{ queueTable.selectedRow.data?.ticket_id ?? null }}
order by status in ('open', 'pending_customer') desc, created_at desc, ticket_id desc
limit 30
