-- mart_targets: every target a dashboard draws as a line or band: tier shares (config/policy.yaml),
-- the plan's Tier-0 ramp by program month, coverage, mis-route and right-first-time rates, the
-- resolution-time goal (backend/marts/plan_targets.yaml). Rewritten at each mart refresh.
-- grain: target; key: (target_key, tier, program_month)
create view mart_targets as
select
    target_key,
    tier,
    program_month,
    low,
    high,
    description,
    source,
    loaded_at
from stg_policy_targets;
