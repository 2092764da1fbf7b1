-- mart_escalation_paths: escalations per day by category and path (from tier and route to tier and
-- route), for all accounts ('*') and per account. Live over the events mart.
-- grain: escalation day x account_key x category x from tier x from route x to tier x to route
-- key: (escalated_on, account_key, category, from_tier, from_route, to_tier, to_route)
create view mart_escalation_paths as
select
    occurred_on as escalated_on,
    case when grouping(account_id) = 1 then '*' else coalesce(account_id, '(none)') end as account_key,
    category,
    from_tier,
    coalesce(from_route, '(unknown)') as from_route,
    to_tier,
    coalesce(to_route, '(unknown)') as to_route,
    count(*) as escalations,
    count(distinct ticket_id) as tickets
from fct_ticket_events
where event_type = 'escalated'
group by grouping sets (
    (occurred_on, category, from_tier, coalesce(from_route, '(unknown)'), to_tier, coalesce(to_route, '(unknown)')),
    (occurred_on, account_id, category, from_tier, coalesce(from_route, '(unknown)'), to_tier,
        coalesce(to_route, '(unknown)'))
);
