-- seed_tickets: one row per ticket with every decision but the instants (category, area, priority, tiers, Tier-0 outcome).
create temp table seed_tickets as
with base as (
    select
        number as k,
        -- the second request of every twentieth email shares its email (and so its draws for when/who)
        number - (number %% 20 = 0)::integer as source,
        (number %% 20 = 0)::integer as request_index
    from generate_series(1, %(tickets)s) as number
),

drawn as (
    select
        base.*,
        least(%(span_days)s - 1, floor(%(span_days)s * (sqrt(1 + 3 * pg_temp.seed_u(source, 1)) - 1)))::integer
            as day_index,
        1 + least(%(accounts)s - 1, floor(power(pg_temp.seed_u(source, 2), 1.7) * %(accounts)s))::integer
            as account_number,
        pg_temp.seed_u(k, 3) as u_category,
        pg_temp.seed_u(k, 4) as u_area,
        pg_temp.seed_u(k, 5) as u_raise,
        pg_temp.seed_u(k, 6) as u_ai,
        pg_temp.seed_u(k, 7) as u_escalate,
        pg_temp.seed_u(k, 8) as u_misroute,
        pg_temp.seed_u(source, 9) as u_hour,
        pg_temp.seed_u(source, 10) as u_off_hours,
        pg_temp.seed_u(source, 11) as u_weekend,
        pg_temp.seed_u(k, 12) as u_auto,
        pg_temp.seed_u(k, 13) as u_edit,
        pg_temp.seed_u(k, 14) as u_followup,
        pg_temp.seed_u(k, 15) as u_wait,
        pg_temp.seed_u(k, 16) as u_reopen,
        pg_temp.seed_u(k, 17) as u_generator,
        pg_temp.seed_u(k, 18) as u_verified,
        pg_temp.seed_u(k, 19) as u_notes,
        pg_temp.seed_u(k, 20) as u_contact
    from base
),

categorised as (
    select
        drawn.*,
        drawn.day_index::double precision / %(span_days)s as progress,
        case
            when u_category < 0.25 then 'how_to'
            when u_category < 0.40 then 'account_access'
            when u_category < 0.54 then 'config_change'
            when u_category < 0.60 then 'onboarding'
            when u_category < 0.67 then 'billing'
            when u_category < 0.72 then 'feature_request'
            when u_category < 0.75 then 'feedback'
            when u_category < 0.85 then 'integration_issue'
            when u_category < 0.91 then 'ai_behavior'
            when u_category < 0.98 then 'bug'
            else 'outage'
        end as category
    from drawn
),

labelled as (
    select
        categorised.*,
        case category
            when 'how_to' then case when u_area < 0.5 then 'dashboard' when u_area < 0.8 then 'pam_core' else 'mobile' end
            when 'account_access' then case when u_area < 0.8 then 'dashboard' else 'mobile' end
            when 'config_change' then
                case when u_area < 0.5 then 'pam_core' when u_area < 0.75 then 'service_outbound' else 'telephony' end
            when 'onboarding' then case when u_area < 0.6 then 'integrations' else 'pam_core' end
            when 'billing' then 'billing'
            when 'feature_request' then
                case when u_area < 0.4 then 'dashboard' when u_area < 0.8 then 'pam_core' else 'sales_outbound' end
            when 'feedback' then 'pam_core'
            when 'integration_issue' then 'integrations'
            when 'ai_behavior' then 'pam_core'
            when 'bug' then
                case
                    when u_area < 0.25 then 'dashboard'
                    when u_area < 0.35 then 'mobile'
                    when u_area < 0.70 then 'pam_core'
                    when u_area < 0.85 then 'service_outbound'
                    else 'integrations'
                end
            else case when u_area < 0.4 then 'telephony' when u_area < 0.7 then 'pam_core' else 'integrations' end
        end as product_area,
        case category
            when 'outage' then 'P1'
            when 'integration_issue' then 'P2'
            when 'ai_behavior' then 'P2'
            when 'how_to' then 'P4'
            when 'feature_request' then 'P4'
            when 'feedback' then 'P4'
            else 'P3'
        end as default_priority
    from categorised
),

prioritised as (
    select
        labelled.*,
        case
            when u_raise < 0.12 and default_priority = 'P4' then 'P3'
            when u_raise < 0.12 and default_priority = 'P3' then 'P2'
            when u_raise < 0.12 and default_priority = 'P2' then 'P1'
            else default_priority
        end as priority,
        case
            when product_area = 'integrations'
                then (array['tekion', 'cdk', 'xtime', 'mykaarma'])[1 + floor(u_area * 1000)::integer %% 4]
        end as integration
    from labelled
),

tiered as (
    select
        prioritised.*,
        case
            when category in ('how_to', 'account_access')
                then case when priority <> 'P1' and u_ai < least(1.0, 0.15 + 2.0 * progress) then 0 else 1 end
            when category in ('config_change', 'onboarding', 'billing', 'feature_request', 'feedback') then 1
            when category = 'bug' and product_area in ('dashboard', 'mobile') then 3
            else 2
        end as first_tier,
        case when product_area = 'integrations' then 'support-eng-integrations' else 'support-eng-core' end
            as engineering_route
    from prioritised
)

select
    tiered.*,
    %(ticket_base)s + k as ticket_id,
    %(message_base)s + source - source / 20 as message_pk,
    %(conversation_base)s + source - source / 20 as conversation_id,
    'seed-' || lpad(account_number::text, 4, '0') as account_id,
    first_tier = 2 and u_misroute < 0.14 - 0.09 * progress as is_misrouted,
    case
        when first_tier = 0 and u_escalate < 0.12 then 1
        when first_tier = 1 and u_escalate < 0.07 then 2
        when first_tier = 2 and u_escalate < 0.06 then 3
        else first_tier
    end as final_tier,
    case
        when first_tier <> 0 then null
        when u_escalate < 0.12 then 'rejected'
        when u_auto < 0.35 * progress then 'auto_sent'
        else 'approved'
    end as tier0_decision
from tiered
