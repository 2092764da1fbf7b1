-- stg_policy_targets: the targets the dashboards compare against (tier shares from config/policy.yaml,
-- the plan's targets from backend/marts/plan_targets.yaml), loaded at each mart refresh.
-- grain: target; key: (target_key, tier, program_month)
create view stg_policy_targets as
select
    target_key,
    tier,
    program_month,
    low,
    high,
    description,
    source,
    loaded_at
from policy_targets;
