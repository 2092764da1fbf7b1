-- mart_resolution_times: time to resolution of resolved tickets by month of creation: median and 90th
-- percentile, in wall-clock and business hours (percentile_cont). Percentiles do not add up, so every
-- combination of the dashboards' filters is its own row: all accounts or one (account_key '*' or the
-- account, '(none)' without one), all first routes or one (route_key), all resolving tiers or one
-- (tier_key '*' or '0'..'3'; resolving_tier is null on the '*' rows).
-- grain: created month x account_key x route_key x tier_key
-- key: (created_month, account_key, route_key, tier_key)
create view mart_resolution_times as
select
    created_month,
    case when grouping(account_id) = 1 then '*' else coalesce(account_id, '(none)') end as account_key,
    case when grouping(first_route) = 1 then '*' else first_route end as route_key,
    case when grouping(resolving_tier) = 1 then '*' else resolving_tier::text end as tier_key,
    case when grouping(resolving_tier) = 0 then resolving_tier end as resolving_tier,
    count(*) as resolved,
    round(percentile_cont(0.5) within group (order by resolution_wall_hours)::numeric, 2) as median_wall_hours,
    round(percentile_cont(0.9) within group (order by resolution_wall_hours)::numeric, 2) as p90_wall_hours,
    round(percentile_cont(0.5) within group (order by resolution_business_hours)::numeric, 2)
        as median_business_hours,
    round(percentile_cont(0.9) within group (order by resolution_business_hours)::numeric, 2)
        as p90_business_hours
from stg_ticket_facts
where is_resolved and resolving_tier is not null
group by created_month, cube (account_id, first_route, resolving_tier);
