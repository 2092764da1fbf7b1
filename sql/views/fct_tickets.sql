-- fct_tickets: one row per ticket: its account, routing history (first, final and resolving tier),
-- first response and resolution times in wall-clock and business hours, SLA outcome per clock,
-- escalations, mis-routes, Tier-0 outcomes and LLM cost. Live (computed from the history on every
-- read); the dashboards read its snapshot rollup_ticket_facts, refreshed by backend/marts/refresh.py.
--
-- Definitions:
-- - first tier/route: the first `routed` event (else the ticket's own, for tickets written before
--   events existed); final tier/route: the ticket's current ones; resolving tier: the tier that
--   resolved it (tickets.resolved_tier, else the last `resolved` event's to_tier), null while open.
-- - business hours: business_minutes_between() of migration 008, in the account's timezone (the
--   policy's default timezone without an account), from the calendar refreshed from the policy.
--   Null when the calendar does not cover the instants (run a mart refresh).
-- - SLA outcome per clock (first response, resolution): 'breached' when an sla_breach event names the
--   clock, or it completed after its due time, or it is still running past it; 'met' when it completed
--   by its due time; 'open' while it runs (or is paused) before its due time; 'unknown' without one.
-- - human handled: the ticket sits at tier 1 or above now (a person owns it).
-- - KB answer: a draft from the knowledge base (extractive or Claude) that was not rejected.
-- grain: ticket; key: ticket_id
create view fct_tickets as
with default_timezone as (
    select max(value) as timezone
    from stg_policy_settings
    where setting = 'default_timezone'
),

tickets_in_context as (
    select
        tickets.*,
        coalesce(accounts.timezone, default_timezone.timezone) as account_timezone,
        accounts.account_name,
        accounts.plan,
        accounts.mrr_usd
    from stg_tickets as tickets
    left join stg_accounts as accounts on accounts.account_id = tickets.account_id
    cross join default_timezone
)

select
    tickets.ticket_id,
    tickets.public_id,
    tickets.conversation_id,
    tickets.message_pk,
    tickets.account_id,
    tickets.account_name,
    tickets.plan,
    tickets.mrr_usd,
    tickets.summary,
    tickets.category,
    tickets.product_area,
    tickets.integration,
    tickets.priority,
    coalesce(history.first_tier, tickets.tier) as first_tier,
    coalesce(history.first_route, tickets.route) as first_route,
    tickets.tier as current_tier,
    tickets.route as current_route,
    tickets.resolved_tier,
    tickets.status,
    tickets.is_flagged_for_review,
    tickets.confidence,
    tickets.classifier,
    tickets.model_version,
    tickets.created_at,
    (tickets.created_at at time zone 'UTC')::date as created_on,
    tickets.first_response_due_at,
    tickets.resolution_due_at,
    tickets.first_responded_at,
    tickets.resolved_at,
    history.escalation_count,
    history.misroute_count > 0 as is_misrouted,
    tickets.status in ('resolved', 'closed') as is_resolved,
    -- Added for the observability marts (the columns above are the original contract).
    tickets.account_timezone,
    date_trunc('week', tickets.created_at at time zone 'UTC')::date as created_week,
    date_trunc('month', tickets.created_at at time zone 'UTC')::date as created_month,
    tickets.tier as final_tier,
    tickets.route as final_route,
    case
        when tickets.status in ('resolved', 'closed')
            then coalesce(tickets.resolved_tier, history.resolved_event_tier, tickets.tier)
    end as resolving_tier,
    history.escalation_count > 0 as is_escalated,
    history.first_escalated_at,
    history.misroute_count,
    history.reopen_count,
    round(extract(epoch from tickets.first_responded_at - tickets.created_at) / 3600, 4) as first_response_wall_hours,
    round(extract(epoch from tickets.resolved_at - tickets.created_at) / 3600, 4) as resolution_wall_hours,
    round(
        business_minutes_between(tickets.account_timezone, tickets.created_at, tickets.first_responded_at) / 60, 4
    ) as first_response_business_hours,
    round(
        business_minutes_between(tickets.account_timezone, tickets.created_at, tickets.resolved_at) / 60, 4
    ) as resolution_business_hours,
    case
        when history.has_first_response_breach_event then 'breached'
        when tickets.first_response_due_at is null
            then case when tickets.first_responded_at is null then 'open' else 'unknown' end
        when tickets.first_responded_at is not null
            then case when tickets.first_responded_at <= tickets.first_response_due_at then 'met' else 'breached' end
        when tickets.first_response_due_at < now() then 'breached'
        else 'open'
    end as first_response_sla,
    case
        when history.has_resolution_breach_event then 'breached'
        when tickets.resolution_due_at is null
            then case when tickets.resolved_at is null then 'open' else 'unknown' end
        when tickets.resolved_at is not null
            then case when tickets.resolved_at <= tickets.resolution_due_at then 'met' else 'breached' end
        when tickets.resolution_due_at < now() then 'breached'
        else 'open'
    end as resolution_sla,
    history.draft_count,
    history.draft_count > 0 as is_drafted,
    history.is_draft_approved,
    history.is_draft_edited,
    history.is_draft_rejected,
    history.is_auto_sent,
    history.is_assumed_resolved,
    history.is_verified_resolved,
    tickets.tier >= 1 as is_human_handled,
    coalesce(kb_drafts.has_kb_answer, false) as has_kb_answer,
    coalesce(llm_cost.llm_call_count, 0) as llm_call_count,
    coalesce(llm_cost.llm_cost_usd, 0) as llm_cost_usd
from tickets_in_context as tickets
cross join lateral (
    select
        (array_agg(events.to_tier order by events.occurred_at, events.event_id)
            filter (where events.event_type = 'routed'))[1] as first_tier,
        (array_agg(events.to_route order by events.occurred_at, events.event_id)
            filter (where events.event_type = 'routed'))[1] as first_route,
        (array_agg(events.to_tier order by events.occurred_at desc, events.event_id desc)
            filter (where events.event_type = 'resolved' and events.to_tier is not null))[1] as resolved_event_tier,
        count(*) filter (where events.event_type = 'escalated') as escalation_count,
        min(events.occurred_at) filter (where events.event_type = 'escalated') as first_escalated_at,
        count(*) filter (where events.event_type = 'misrouted') as misroute_count,
        count(*) filter (where events.event_type = 'reopened') as reopen_count,
        count(*) filter (where events.event_type = 'drafted') as draft_count,
        coalesce(bool_or(events.event_type = 'draft_approved'), false) as is_draft_approved,
        coalesce(bool_or(events.event_type = 'draft_approved' and events.data ->> 'edited' = 'true'), false)
            as is_draft_edited,
        coalesce(bool_or(events.event_type = 'draft_rejected'), false) as is_draft_rejected,
        coalesce(bool_or(events.event_type = 'auto_sent'), false) as is_auto_sent,
        coalesce(bool_or(events.event_type = 'assumed_resolved'), false) as is_assumed_resolved,
        coalesce(bool_or(events.event_type = 'verified_resolved'), false) as is_verified_resolved,
        coalesce(bool_or(events.event_type = 'sla_breach' and events.data ->> 'clock' = 'first_response'), false)
            as has_first_response_breach_event,
        coalesce(bool_or(events.event_type = 'sla_breach' and events.data ->> 'clock' = 'resolution'), false)
            as has_resolution_breach_event
    from stg_ticket_events as events
    where events.ticket_id = tickets.ticket_id
) as history
left join lateral (
    select bool_or(drafts.is_from_kb and drafts.status <> 'rejected') as has_kb_answer
    from stg_drafts as drafts
    where drafts.ticket_id = tickets.ticket_id
) as kb_drafts on true
left join lateral (
    select
        count(*) as llm_call_count,
        sum(calls.cost_share_usd) as llm_cost_usd
    from stg_llm_call_tickets as calls
    where calls.ticket_id = tickets.ticket_id
) as llm_cost on true;
