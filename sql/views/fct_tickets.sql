-- fct_tickets: one row per ticket with its account, first routing and current state.
-- grain: ticket; key: ticket_id
create view fct_tickets as
with first_routing as (
    select distinct on (ticket_id)
        ticket_id,
        to_tier as first_tier,
        to_route as first_route
    from stg_ticket_events
    where event_type = 'routed'
    order by ticket_id, occurred_at, event_id
),

escalations as (
    select ticket_id, count(*) as escalation_count
    from stg_ticket_events
    where event_type = 'escalated'
    group by ticket_id
),

misroutes as (
    select distinct ticket_id
    from stg_ticket_events
    where event_type = 'misrouted'
)

select
    tickets.ticket_id,
    tickets.public_id,
    tickets.conversation_id,
    tickets.message_pk,
    tickets.account_id,
    accounts.account_name,
    accounts.plan,
    accounts.mrr_usd,
    tickets.summary,
    tickets.category,
    tickets.product_area,
    tickets.integration,
    tickets.priority,
    coalesce(first_routing.first_tier, tickets.tier) as first_tier,
    coalesce(first_routing.first_route, tickets.route) as first_route,
    tickets.tier as current_tier,
    tickets.route as current_route,
    tickets.resolved_tier,
    tickets.status,
    tickets.is_flagged_for_review,
    tickets.confidence,
    tickets.classifier,
    tickets.model_version,
    tickets.created_at,
    (tickets.created_at at time zone 'UTC')::date as created_on,
    tickets.first_response_due_at,
    tickets.resolution_due_at,
    tickets.first_responded_at,
    tickets.resolved_at,
    coalesce(escalations.escalation_count, 0) as escalation_count,
    misroutes.ticket_id is not null as is_misrouted,
    tickets.status in ('resolved', 'closed') as is_resolved
from stg_tickets as tickets
left join stg_accounts as accounts on accounts.account_id = tickets.account_id
left join first_routing on first_routing.ticket_id = tickets.ticket_id
left join escalations on escalations.ticket_id = tickets.ticket_id
left join misroutes on misroutes.ticket_id = tickets.ticket_id;
