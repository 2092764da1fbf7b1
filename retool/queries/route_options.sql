-- routeOptions: the routes OPS can pick when reassigning or escalating, with their tier: every
-- route an open ticket sits in, a ticket was first routed to, or an escalation went from or to.
-- (The policy's route list is not in the warehouse; see retool/README.md.)
-- reads: fct_tickets, mart_ticket_daily, mart_escalation_paths
with seen_routes as (
    select current_tier as tier, current_route as route
    from fct_tickets
    where status in ('open', 'pending_customer')
    union
    select first_tier, first_route
    from mart_ticket_daily
    where account_key = '*'
    union
    select from_tier, from_route
    from mart_escalation_paths
    where account_key = '*'
    union
    select to_tier, to_route
    from mart_escalation_paths
    where account_key = '*'
)

select tier, route
from seen_routes
where route is not null and route <> '(unknown)'
order by tier, route
