-- 008: what the observability marts need beyond the raw tables.
--
-- 1. The business clock in SQL. business_calendar_days holds, per IANA timezone and local date, the
--    day's open window (as UTC instants, null when closed) and the business seconds elapsed since the
--    calendar's first date up to that day's local midnight. It is filled from config/policy.yaml by
--    backend/marts/calendar.py (which asks backend/sla/calendar.py for each day's window, so weekly
--    hours, holidays, observed days and DST gaps follow the same rules as the SLA engine). With it,
--    business time up to any instant is one primary-key lookup (business_clock_seconds), the business
--    time between two instants is a difference, and adding business time is one index lookup. An
--    instant outside the filled range gives null, never a guess.
-- 2. policy_settings and policy_targets: policy values and plan targets the dashboards compare
--    against, rewritten from the policy at each mart refresh (backend/marts/targets.py).
-- 3. Rollups: snapshots of the marts the dashboards read, so every card reads a small table
--    (backend/marts/refresh.py refreshes them; flows/refresh_marts.py schedules it).
--    They are plain tables, not materialized views: `tier0 db upgrade` drops and recreates every
--    view, which would drop a materialized view built on them.

create table business_calendar_days (
    timezone text not null,
    local_date date not null,
    opens_at timestamptz,                 -- null: closed all day (weekly day off or holiday)
    closes_at timestamptz,
    open_seconds integer not null check (open_seconds >= 0),
    seconds_before bigint not null check (seconds_before >= 0),  -- business seconds before local midnight
    holiday_name text,
    primary key (timezone, local_date),
    check ((opens_at is null) = (closes_at is null)),
    check (opens_at is null or closes_at > opens_at),
    check ((opens_at is null) = (open_seconds = 0))
);

create index business_calendar_days_open on business_calendar_days (timezone, seconds_before) where open_seconds > 0;

-- Business seconds from the calendar's start up to `at_instant`, on the clock of `timezone_name`.
create function business_clock_seconds(timezone_name text, at_instant timestamptz) returns numeric
language sql stable parallel safe
as $$
    select days.seconds_before
        + case
            when days.opens_at is null then 0
            else greatest(0, least(extract(epoch from at_instant - days.opens_at), days.open_seconds))
        end
    from business_calendar_days as days
    where days.timezone = timezone_name
        and days.local_date = (at_instant at time zone timezone_name)::date
$$;

-- Business minutes in [start_at, end_at) (negative when end_at is before start_at; null when either
-- instant is null or outside the calendar).
create function business_minutes_between(timezone_name text, start_at timestamptz, end_at timestamptz)
returns numeric
language sql stable parallel safe
as $$
    select (business_clock_seconds(timezone_name, end_at) - business_clock_seconds(timezone_name, start_at)) / 60
$$;

-- The earliest instant by which `business_minutes` of business time have elapsed since `start_at`: a start
-- outside business hours begins at the next opening; a budget ending exactly at closing is due at closing
-- (the same rules as BusinessCalendar.add_business_time). Null when the calendar does not reach that far.
create function business_add_minutes(timezone_name text, start_at timestamptz, business_minutes numeric)
returns timestamptz
language sql stable parallel safe
as $$
    with budget as (
        select business_clock_seconds(timezone_name, start_at) + business_minutes * 60 as target_seconds
    )

    select
        case
            when business_minutes <= 0 then start_at
            else (
                -- The last open day that starts before the target; null when the target lies past the
                -- calendar's end (that day then ends before the target).
                select
                    case
                        when budget.target_seconds <= days.seconds_before + days.open_seconds
                            then days.opens_at
                                + make_interval(secs => (budget.target_seconds - days.seconds_before)::double precision)
                    end
                from business_calendar_days as days
                where days.timezone = timezone_name
                    and days.open_seconds > 0
                    -- ceil(...)::bigint: the same test for whole seconds, in the index's type.
                    and days.seconds_before < ceil(budget.target_seconds)::bigint
                order by days.seconds_before desc
                limit 1
            )
        end
    from budget
$$;

create table policy_settings (
    setting text primary key,
    value text not null,
    source text not null,
    loaded_at timestamptz not null default now()
);

create table policy_targets (
    target_key text not null,
    tier smallint,
    program_month smallint,
    low numeric,
    high numeric,
    description text not null,
    source text not null,
    loaded_at timestamptz not null default now(),
    check (low is not null or high is not null),
    check (low is null or high is null or low <= high)
);

create unique index policy_targets_key on policy_targets (target_key, coalesce(tier, -1), coalesce(program_month, -1));

-- Snapshot of fct_tickets (the columns the aggregate marts and the backlog card need), refreshed
-- incrementally: tickets whose history changed since the last refresh, and tickets with a running
-- SLA clock (their outcome changes with time alone).
create table rollup_ticket_facts (
    ticket_id bigint primary key,
    account_id text,
    category text not null,
    product_area text not null,
    integration text,
    priority text not null,
    first_tier smallint not null,
    first_route text not null,
    current_tier smallint not null,
    current_route text not null,
    resolved_tier smallint,
    status text not null,
    is_flagged_for_review boolean not null,
    created_at timestamptz not null,
    created_on date not null,
    first_response_due_at timestamptz,
    resolution_due_at timestamptz,
    first_responded_at timestamptz,
    resolved_at timestamptz,
    escalation_count bigint not null,
    is_misrouted boolean not null,
    is_resolved boolean not null,
    account_timezone text,
    created_week date not null,
    created_month date not null,
    final_tier smallint not null,
    final_route text not null,
    resolving_tier smallint,
    is_escalated boolean not null,
    first_escalated_at timestamptz,
    misroute_count bigint not null,
    reopen_count bigint not null,
    first_response_wall_hours numeric,
    resolution_wall_hours numeric,
    first_response_business_hours numeric,
    resolution_business_hours numeric,
    first_response_sla text not null,
    resolution_sla text not null,
    draft_count bigint not null,
    is_drafted boolean not null,
    is_draft_approved boolean not null,
    is_draft_edited boolean not null,
    is_draft_rejected boolean not null,
    is_auto_sent boolean not null,
    is_assumed_resolved boolean not null,
    is_verified_resolved boolean not null,
    is_human_handled boolean not null,
    has_kb_answer boolean not null,
    llm_call_count bigint not null,
    llm_cost_usd numeric not null,
    refreshed_at timestamptz not null default now()
);

-- The backlog card reads open tickets only; an account's tickets are read by the account filter.
create index rollup_ticket_facts_open on rollup_ticket_facts (created_at) where not is_resolved;
create index rollup_ticket_facts_account on rollup_ticket_facts (account_id, created_on);
-- The incremental refresh re-reads tickets whose SLA clocks are still running.
create index rollup_ticket_facts_running_clock on rollup_ticket_facts (ticket_id)
    where first_response_sla = 'open' or resolution_sla = 'open';

-- Snapshots of the aggregate marts (same names without mart_, same columns), rewritten whole at
-- each refresh from their views in sql/views. Each has the key its view's header states, with
-- account_key first where it exists: a card filtered by account reads one account's rows, an
-- unfiltered one reads the '*' rows.
create table rollup_ticket_daily (
    created_on date not null,
    account_key text not null,
    first_tier smallint not null,
    first_route text not null,
    category text not null,
    priority text not null,
    requests bigint not null,
    resolved bigint not null,
    resolved_tier_0 bigint not null,
    resolved_tier_1 bigint not null,
    resolved_tier_2 bigint not null,
    resolved_tier_3 bigint not null,
    unresolved bigint not null,
    resolved_at_first_tier bigint not null,
    escalated_tickets bigint not null,
    escalations bigint not null,
    misrouted_tickets bigint not null,
    misroutes bigint not null,
    reopened_tickets bigint not null,
    first_response_met bigint not null,
    first_response_breached bigint not null,
    first_response_open bigint not null,
    resolution_met bigint not null,
    resolution_breached bigint not null,
    resolution_open bigint not null,
    drafted bigint not null,
    draft_approved bigint not null,
    draft_edited bigint not null,
    draft_rejected bigint not null,
    auto_sent bigint not null,
    assumed_resolved bigint not null,
    verified_resolved bigint not null,
    human_handled bigint not null,
    human_handled_without_kb_answer bigint not null,
    human_business_hours_without_kb_answer numeric not null,
    first_response_business_hours numeric not null,
    first_responses_timed bigint not null,
    resolution_business_hours numeric not null,
    resolution_wall_hours numeric not null,
    resolutions_timed bigint not null,
    llm_calls bigint not null,
    llm_cost_usd numeric not null,
    primary key (account_key, created_on, first_tier, first_route, category, priority)
);

create table rollup_resolution_times (
    created_month date not null,
    account_key text not null,
    route_key text not null,
    tier_key text not null,
    resolving_tier smallint,
    resolved bigint not null,
    median_wall_hours numeric,
    p90_wall_hours numeric,
    median_business_hours numeric,
    p90_business_hours numeric,
    primary key (account_key, route_key, tier_key, created_month)
);

create table rollup_escalation_paths (
    escalated_on date not null,
    account_key text not null,
    category text not null,
    from_tier smallint not null,
    from_route text not null,
    to_tier smallint not null,
    to_route text not null,
    escalations bigint not null,
    tickets bigint not null,
    primary key (account_key, escalated_on, category, from_tier, from_route, to_tier, to_route)
);

create table rollup_intake_daily (
    sent_on date not null,
    account_key text not null,
    mailbox text not null,
    kind text not null,
    outcome text not null,
    failure_reason text not null,
    emails bigint not null,
    actionable bigint not null,
    actionable_with_ticket bigint not null,
    not_actionable bigint not null,
    automated bigint not null,
    followups bigint not null,
    failed bigint not null,
    tickets_created bigint not null,
    primary key (account_key, sent_on, mailbox, kind, outcome, failure_reason)
);

create table rollup_llm_cost_daily (
    called_on date not null,
    provider text not null,
    model text not null,
    purpose text not null,
    outcome text not null,
    calls bigint not null,
    unpriced_calls bigint not null,
    input_tokens bigint not null,
    output_tokens bigint not null,
    cache_creation_input_tokens bigint not null,
    cache_read_input_tokens bigint not null,
    cost_usd numeric not null,
    latency_ms bigint not null,
    primary key (called_on, provider, model, purpose, outcome)
);

create table rollup_mail_freshness_daily (
    checked_on date not null,
    mailbox text not null,
    checks bigint not null,
    stale_checks bigint not null,
    max_lag_minutes numeric,
    last_lag_minutes numeric,
    is_last_check_stale boolean,
    last_checked_at timestamptz not null,
    primary key (checked_on, mailbox)
);

-- One row per refresh: what it did and when, so a dashboard can say how fresh its numbers are.
create table mart_refreshes (
    refresh_id bigint generated always as identity primary key,
    mode text not null check (mode in ('full', 'incremental')),
    started_at timestamptz not null,
    finished_at timestamptz not null,
    -- History recorded up to here is in the snapshot; the next incremental refresh starts from it.
    watermark_at timestamptz not null,
    tickets_refreshed bigint not null,
    row_counts jsonb not null default '{}'
);

-- The incremental refresh asks what was recorded since its last watermark.
create index ticket_events_recorded_at on ticket_events (recorded_at);
create index tickets_updated_at on tickets (updated_at);
create index llm_calls_recorded_at on llm_calls (recorded_at);

-- The tickets mart reads each ticket's drafts (003 indexes drafts by status only).
create index drafts_ticket on drafts (ticket_id);
