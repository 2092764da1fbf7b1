-- seed_timed: seed_tickets with routes, creation instant, first response and resolution instants (business
-- time through business_calendar_days; P1 and auto-sends on the wall clock) and SLA due times.
-- The calendar lookups are business_add_minutes (migration 008) inlined as lateral joins, so 1M rows
-- cost index scans, not function calls; ceil(...)::bigint keeps the comparison in the index's type.
create temp table seed_timed as
with placed as (
    select
        tickets.*,
        accounts.timezone,
        case tickets.first_tier
            when 0 then 'ai'
            when 1 then 'ops'
            when 3 then 'product-eng'
            else case
                when tickets.is_misrouted and tickets.engineering_route = 'support-eng-core' then 'support-eng-integrations'
                when tickets.is_misrouted then 'support-eng-core'
                else tickets.engineering_route
            end
        end as first_route,
        case tickets.final_tier
            when 0 then 'ai'
            when 1 then 'ops'
            when 2 then tickets.engineering_route
            else 'product-eng'
        end as final_route,
        -- Sundays mostly move to Monday, Saturdays often to Friday; most mail in opening hours.
        %(start_date)s::date + tickets.day_index
            + case
                when extract(isodow from %(start_date)s::date + tickets.day_index) = 7 and tickets.u_weekend < 0.85 then 1
                when extract(isodow from %(start_date)s::date + tickets.day_index) = 6 and tickets.u_weekend < 0.6 then -1
                else 0
            end as local_day
    from seed_tickets as tickets
    inner join accounts on accounts.account_id = tickets.account_id
),

created as (
    select
        placed.*,
        date_trunc(
            'second',
            (local_day + make_interval(secs => 3600 * case
                when u_off_hours < 0.85 then 8 + 10 * u_hour
                else 24 * u_hour
            end)) at time zone timezone
        ) as created_at
    from placed
),

clocked as (
    select
        created.*,
        days.seconds_before + case
            when days.opens_at is null then 0
            else greatest(0, least(extract(epoch from created.created_at - days.opens_at), days.open_seconds))
        end as created_clock,
        -- Business minutes to the first response and to resolution (P1 and auto-sends: wall minutes).
        case
            when created.tier0_decision = 'auto_sent' then 2
            when created.priority = 'P1' then pg_temp.seed_lognormal(created.k, 21, 9, 0.6)
            else pg_temp.seed_lognormal(
                created.k, 21, (array[60, 90, 120, 240])[created.first_tier + 1], 0.9
            ) * (1 - 0.3 * created.progress)
        end as first_response_minutes,
        case
            when created.priority = 'P1' then pg_temp.seed_lognormal(created.k, 23, 180, 0.5)
            else pg_temp.seed_lognormal(
                created.k, 23, (array[180, 480, 1200, 4800])[created.final_tier + 1], 1.0
            ) * (1 - 0.35 * created.progress)
        end as resolution_minutes,
        case created.priority when 'P2' then 60 when 'P3' then 240 else 600 end as first_response_budget,
        case created.priority when 'P2' then 1440 when 'P3' then 1800 else 6000 end as resolution_budget
    from created
    inner join business_calendar_days as days
        on days.timezone = created.timezone and days.local_date = (created.created_at at time zone created.timezone)::date
),

targeted as (
    select
        clocked.*,
        clocked.created_clock + 60 * clocked.first_response_minutes as first_response_target,
        clocked.created_clock + 60 * greatest(clocked.resolution_minutes, clocked.first_response_minutes + 10)
            as resolution_target,
        clocked.created_clock + 60 * clocked.first_response_budget as first_response_due_target,
        clocked.created_clock + 60 * clocked.resolution_budget as resolution_due_target
    from clocked
),

instants as (
    select
        targeted.*,
        case
            when targeted.priority = 'P1' or targeted.tier0_decision = 'auto_sent'
                then targeted.created_at + make_interval(secs => 60 * targeted.first_response_minutes)
            else first_response.at
        end as first_response_at,
        case
            when targeted.priority = 'P1'
                then targeted.created_at
                    + make_interval(secs => 60 * greatest(targeted.resolution_minutes, targeted.first_response_minutes + 10))
            else resolution.at
        end as resolution_at,
        case
            when targeted.priority = 'P1' then targeted.created_at + interval '15 minutes'
            else first_response_due.at
        end as first_response_due_at,
        case
            when targeted.priority = 'P1' then targeted.created_at + interval '4 hours'
            else resolution_due.at
        end as resolution_due_at
    from targeted
    left join lateral (
        select days.opens_at + make_interval(secs => (targeted.first_response_target - days.seconds_before)::double precision) as at
        from business_calendar_days as days
        where days.timezone = targeted.timezone and days.open_seconds > 0
            and days.seconds_before < ceil(targeted.first_response_target)::bigint  -- bigint, so the index serves it
        order by days.seconds_before desc
        limit 1
    ) as first_response on true
    left join lateral (
        select days.opens_at + make_interval(secs => (targeted.resolution_target - days.seconds_before)::double precision) as at
        from business_calendar_days as days
        where days.timezone = targeted.timezone and days.open_seconds > 0
            and days.seconds_before < ceil(targeted.resolution_target)::bigint  -- bigint, so the index serves it
        order by days.seconds_before desc
        limit 1
    ) as resolution on true
    left join lateral (
        select days.opens_at + make_interval(secs => (targeted.first_response_due_target - days.seconds_before)::double precision) as at
        from business_calendar_days as days
        where days.timezone = targeted.timezone and days.open_seconds > 0
            and days.seconds_before < ceil(targeted.first_response_due_target)::bigint  -- bigint, so the index serves it
        order by days.seconds_before desc
        limit 1
    ) as first_response_due on true
    left join lateral (
        select days.opens_at + make_interval(secs => (targeted.resolution_due_target - days.seconds_before)::double precision) as at
        from business_calendar_days as days
        where days.timezone = targeted.timezone and days.open_seconds > 0
            and days.seconds_before < ceil(targeted.resolution_due_target)::bigint  -- bigint, so the index serves it
        order by days.seconds_before desc
        limit 1
    ) as resolution_due on true
)

select
    instants.*,
    date_trunc('second', instants.created_at + (instants.first_response_at - instants.created_at) * 0.4) as misroute_at,
    date_trunc(
        'second',
        case
            when instants.first_tier = 0 then instants.created_at + (instants.first_response_at - instants.created_at) * 0.7
            else instants.first_response_at + (instants.resolution_at - instants.first_response_at) * 0.3
        end
    ) as escalated_at,
    date_trunc('second', instants.first_response_at + (instants.resolution_at - instants.first_response_at) * 0.5)
        as followup_at,
    date_trunc('second', instants.first_response_at + (instants.resolution_at - instants.first_response_at) * 0.6)
        as first_resolved_at,
    date_trunc('second', instants.first_response_at + (instants.resolution_at - instants.first_response_at) * 0.72)
        as reopened_at,
    instants.u_followup < 0.35 as has_followup,
    instants.u_wait < 0.15 as is_waiting,
    instants.u_reopen < 0.03 as is_reopened,
    instants.first_response_at > instants.first_response_due_at as is_first_response_breached,
    instants.resolution_at > instants.resolution_due_at as is_resolution_breached,
    instants.first_response_at <= %(history_end)s as is_responded,
    instants.resolution_at <= %(history_end)s as is_resolved,
    %(draft_base)s + instants.k as draft_id,
    (
        select contacts.contact_id from contacts
        where contacts.email = 'contact' || (1 + floor(instants.u_contact * 4)::integer) || '@'
            || instants.account_id || '.example'
    ) as contact_id
from instants
