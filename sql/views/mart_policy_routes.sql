-- mart_policy_routes: the routes of the policy (config/policy.yaml `routes`) with their tier and
-- description, as loaded at the last mart refresh: the queues a ticket can be routed, re-assigned or
-- escalated to.
-- grain: route; key: route
create view mart_policy_routes as
select
    routes.key as route,
    (routes.value ->> 'tier')::smallint as tier,
    routes.value ->> 'description' as description
from stg_policy_settings as settings
cross join lateral jsonb_each(settings.value::jsonb) as routes
where settings.setting = 'routes';
