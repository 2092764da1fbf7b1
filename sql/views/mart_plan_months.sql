-- mart_plan_months: every month from the program start (policy setting program_start) to a year after
-- the current month, with its program month (1 = the start month) and the plan's Tier-0 target share
-- then (the latest ramp point at or before it; null before the first).
-- grain: month; key: month
create view mart_plan_months as
with program as (
    select max(value)::date as program_start
    from stg_policy_settings
    where setting = 'program_start'
),

months as (
    select
        month::date as month,
        (
            extract(year from age(month, program.program_start)) * 12
            + extract(month from age(month, program.program_start))
            + 1
        )::integer as program_month
    from program
    cross join generate_series(
        date_trunc('month', program.program_start),
        date_trunc('month', now()) + interval '12 months',
        interval '1 month'
    ) as month
)

select
    months.month,
    months.program_month,
    (
        select max(ramp.low)
        from stg_policy_targets as ramp
        where ramp.target_key = 'tier_0_share_by_program_month' and ramp.program_month <= months.program_month
    ) as tier_0_plan_target
from months;
