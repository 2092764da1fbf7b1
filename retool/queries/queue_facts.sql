-- queueFacts: what the warehouse knows about the tickets on the queue page (the approval API's
-- GET /tickets gives the tickets, their SLA state and order): account plan and MRR, and the
-- ticket's history counts. Joined to the API's rows by ticket_id in the queueRows transformer.
-- reads: fct_tickets (grain: ticket)
select
    ticket_id,
    plan,
    mrr_usd,
    escalation_count,
    misroute_count,
    reopen_count
from fct_tickets
where ticket_id = any({{ queueQuery.data ? queueQuery.data.items.map(item => item.ticket_id) : [] }})
