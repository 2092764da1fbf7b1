-- mart_ticket_daily: tickets created per day, with every additive measure the funnel, SLA,
-- escalation, Tier-0, cost and automation cards need, for all accounts together (account_key '*')
-- and for each account (account_key = account_id, '(none)' for senders without an account), so a card
-- filtered by account and an unfiltered one both read a few rows. Tickets are counted in the cohort of
-- the day they were created (UTC), with their outcome as of the last mart refresh.
-- grain: created day x account_key x first tier x first route x category x priority
-- key: (created_on, account_key, first_tier, first_route, category, priority)
create view mart_ticket_daily as
select
    created_on,
    case when grouping(account_id) = 1 then '*' else coalesce(account_id, '(none)') end as account_key,
    first_tier,
    first_route,
    category,
    priority,
    count(*) as requests,
    count(*) filter (where is_resolved) as resolved,
    count(*) filter (where resolving_tier = 0) as resolved_tier_0,
    count(*) filter (where resolving_tier = 1) as resolved_tier_1,
    count(*) filter (where resolving_tier = 2) as resolved_tier_2,
    count(*) filter (where resolving_tier = 3) as resolved_tier_3,
    count(*) filter (where not is_resolved) as unresolved,
    count(*) filter (where resolving_tier = first_tier) as resolved_at_first_tier,
    count(*) filter (where is_escalated) as escalated_tickets,
    sum(escalation_count)::bigint as escalations,
    count(*) filter (where is_misrouted) as misrouted_tickets,
    sum(misroute_count)::bigint as misroutes,
    count(*) filter (where reopen_count > 0) as reopened_tickets,
    count(*) filter (where first_response_sla = 'met') as first_response_met,
    count(*) filter (where first_response_sla = 'breached') as first_response_breached,
    count(*) filter (where first_response_sla = 'open') as first_response_open,
    count(*) filter (where resolution_sla = 'met') as resolution_met,
    count(*) filter (where resolution_sla = 'breached') as resolution_breached,
    count(*) filter (where resolution_sla = 'open') as resolution_open,
    count(*) filter (where is_drafted) as drafted,
    count(*) filter (where is_draft_approved) as draft_approved,
    count(*) filter (where is_draft_edited) as draft_edited,
    count(*) filter (where is_draft_rejected) as draft_rejected,
    count(*) filter (where is_auto_sent) as auto_sent,
    count(*) filter (where is_assumed_resolved) as assumed_resolved,
    count(*) filter (where is_verified_resolved) as verified_resolved,
    count(*) filter (where is_human_handled) as human_handled,
    count(*) filter (where is_human_handled and not has_kb_answer) as human_handled_without_kb_answer,
    coalesce(sum(resolution_business_hours) filter (where is_human_handled and not has_kb_answer), 0)
        as human_business_hours_without_kb_answer,
    coalesce(sum(first_response_business_hours), 0) as first_response_business_hours,
    count(first_response_business_hours) as first_responses_timed,
    coalesce(sum(resolution_business_hours), 0) as resolution_business_hours,
    coalesce(sum(resolution_wall_hours), 0) as resolution_wall_hours,
    count(resolution_business_hours) as resolutions_timed,
    sum(llm_call_count)::bigint as llm_calls,
    sum(llm_cost_usd) as llm_cost_usd
from stg_ticket_facts
group by grouping sets (
    (created_on, first_tier, first_route, category, priority),
    (created_on, account_id, first_tier, first_route, category, priority)
);
