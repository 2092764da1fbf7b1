-- mart_funnel: the support funnel per day, ISO week and month (UTC, by creation): requests, the tier
-- they entered at, the tier that resolved them and their shares (shares of resolution, with the
-- unresolved share, sum to 1), against the targets: each tier's target share of requests
-- (config/policy.yaml) and the plan's Tier-0 share for the program month (the latest ramp point at or
-- before it; program month 1 is the month of policy setting program_start). Tier 0's rates: draft rate
-- (tickets with an AI draft / requests), approval and rejection rates (of drafted tickets, approved
-- by a person / rejected), edit rate (of approved, edited before sending), auto-sent, and the assumed
-- (no customer reply in 24 h) and verified (not reopened in 72 h) Tier-0 resolution rates (of
-- requests). Rates are null when their denominator is 0. All accounts.
-- grain: period grain x period start; key: (period_grain, period_start)
create view mart_funnel as
with grains as (
    select unnest(array['day', 'week', 'month']) as period_grain
),

periods as (
    select
        grains.period_grain,
        date_trunc(grains.period_grain, facts.created_at at time zone 'UTC')::date as period_start,
        count(*) as requests,
        count(*) filter (where facts.first_tier = 0) as entered_tier_0,
        count(*) filter (where facts.first_tier = 1) as entered_tier_1,
        count(*) filter (where facts.first_tier = 2) as entered_tier_2,
        count(*) filter (where facts.first_tier = 3) as entered_tier_3,
        count(*) filter (where facts.resolving_tier = 0) as resolved_tier_0,
        count(*) filter (where facts.resolving_tier = 1) as resolved_tier_1,
        count(*) filter (where facts.resolving_tier = 2) as resolved_tier_2,
        count(*) filter (where facts.resolving_tier = 3) as resolved_tier_3,
        count(*) filter (where not facts.is_resolved) as unresolved,
        count(*) filter (where facts.is_drafted) as drafted,
        count(*) filter (where facts.is_draft_approved) as draft_approved,
        count(*) filter (where facts.is_draft_edited) as draft_edited,
        count(*) filter (where facts.is_draft_rejected) as draft_rejected,
        count(*) filter (where facts.is_auto_sent) as auto_sent,
        count(*) filter (where facts.is_assumed_resolved) as assumed_resolved,
        count(*) filter (where facts.is_verified_resolved) as verified_resolved
    from stg_ticket_facts as facts
    cross join grains
    group by grains.period_grain, date_trunc(grains.period_grain, facts.created_at at time zone 'UTC')::date
),

program as (
    select max(value)::date as program_start
    from stg_policy_settings
    where setting = 'program_start'
),

tier_targets as (
    select
        max(low) filter (where tier = 0) as tier_0_share_low,
        max(high) filter (where tier = 0) as tier_0_share_high,
        max(low) filter (where tier = 1) as tier_1_share_low,
        max(high) filter (where tier = 1) as tier_1_share_high,
        max(low) filter (where tier = 2) as tier_2_share_low,
        max(high) filter (where tier = 2) as tier_2_share_high,
        max(low) filter (where tier = 3) as tier_3_share_low,
        max(high) filter (where tier = 3) as tier_3_share_high
    from stg_policy_targets
    where target_key = 'tier_share'
),

periods_in_program as (
    select
        periods.*,
        (extract(year from age(date_trunc('month', periods.period_start), date_trunc('month', program.program_start)))
            * 12
            + extract(month from age(date_trunc('month', periods.period_start), date_trunc('month', program.program_start)))
            + 1)::integer as program_month
    from periods
    cross join program
)

select
    periods.period_grain,
    periods.period_start,
    periods.program_month,
    periods.requests,
    periods.entered_tier_0,
    periods.entered_tier_1,
    periods.entered_tier_2,
    periods.entered_tier_3,
    periods.resolved_tier_0,
    periods.resolved_tier_1,
    periods.resolved_tier_2,
    periods.resolved_tier_3,
    periods.unresolved,
    periods.resolved_tier_0::numeric / periods.requests as share_resolved_tier_0,
    periods.resolved_tier_1::numeric / periods.requests as share_resolved_tier_1,
    periods.resolved_tier_2::numeric / periods.requests as share_resolved_tier_2,
    periods.resolved_tier_3::numeric / periods.requests as share_resolved_tier_3,
    periods.unresolved::numeric / periods.requests as share_unresolved,
    periods.drafted,
    periods.draft_approved,
    periods.draft_edited,
    periods.draft_rejected,
    periods.auto_sent,
    periods.assumed_resolved,
    periods.verified_resolved,
    periods.drafted::numeric / periods.requests as draft_rate,
    periods.draft_approved::numeric / nullif(periods.drafted, 0) as draft_approval_rate,
    periods.draft_edited::numeric / nullif(periods.draft_approved, 0) as draft_edit_rate,
    periods.draft_rejected::numeric / nullif(periods.drafted, 0) as draft_rejection_rate,
    periods.auto_sent::numeric / periods.requests as auto_sent_rate,
    periods.assumed_resolved::numeric / periods.requests as assumed_resolution_rate,
    periods.verified_resolved::numeric / periods.requests as verified_resolution_rate,
    tier_targets.tier_0_share_low,
    tier_targets.tier_0_share_high,
    tier_targets.tier_1_share_low,
    tier_targets.tier_1_share_high,
    tier_targets.tier_2_share_low,
    tier_targets.tier_2_share_high,
    tier_targets.tier_3_share_low,
    tier_targets.tier_3_share_high,
    (
        select max(ramp.low)
        from stg_policy_targets as ramp
        where ramp.target_key = 'tier_0_share_by_program_month' and ramp.program_month <= periods.program_month
    ) as tier_0_plan_target
from periods_in_program as periods
cross join tier_targets;
