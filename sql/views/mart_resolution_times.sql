-- mart_resolution_times: time to resolution of resolved tickets by month of creation and resolving
-- tier: median and 90th percentile, in wall-clock and business hours (percentile_cont). Percentiles do
-- not add up, so each filter combination the dashboards offer is its own row: all accounts and routes
-- ('*'), per account, per first route, per account and first route.
-- grain: created month x account_key x route_key x resolving tier
-- key: (created_month, account_key, route_key, resolving_tier)
create view mart_resolution_times as
select
    created_month,
    case when grouping(account_id) = 1 then '*' else coalesce(account_id, '(none)') end as account_key,
    case when grouping(first_route) = 1 then '*' else first_route end as route_key,
    resolving_tier,
    count(*) as resolved,
    round(percentile_cont(0.5) within group (order by resolution_wall_hours)::numeric, 2) as median_wall_hours,
    round(percentile_cont(0.9) within group (order by resolution_wall_hours)::numeric, 2) as p90_wall_hours,
    round(percentile_cont(0.5) within group (order by resolution_business_hours)::numeric, 2)
        as median_business_hours,
    round(percentile_cont(0.9) within group (order by resolution_business_hours)::numeric, 2)
        as p90_business_hours
from stg_ticket_facts
where is_resolved and resolving_tier is not null
group by grouping sets (
    (created_month, resolving_tier),
    (created_month, account_id, resolving_tier),
    (created_month, first_route, resolving_tier),
    (created_month, account_id, first_route, resolving_tier)
);
