-- ticketFacts: the selected ticket's routing history and SLA outcome from the tickets mart: where
-- it started, how often it was escalated, mis-routed or reopened, how each SLA clock ended (or is
-- running), and what its AI work cost.
-- reads: fct_tickets (grain: ticket)
select
    ticket_id,
    first_tier,
    first_route,
    current_tier,
    current_route,
    escalation_count,
    misroute_count,
    reopen_count,
    first_response_sla,
    resolution_sla,
    draft_count,
    llm_call_count,
    llm_cost_usd
from fct_tickets
where ticket_id = {{ queueTable.selectedRow.data?.ticket_id ?? null }}
