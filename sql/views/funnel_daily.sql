-- funnel_daily: requests (tickets) created per day, by first tier and category, with the Tier-0
-- counts (AI drafts and their fate, auto-sent, assumed / verified resolved) that sum to the rates of
-- mart_funnel.
-- grain: day x first tier x category; key: (day, first_tier, category)
create view funnel_daily as
select
    created_on as day,
    first_tier,
    category,
    count(*) as requests,
    count(*) filter (where is_resolved) as resolved,
    count(*) filter (where resolved_tier = first_tier) as resolved_at_first_tier,
    count(*) filter (where is_drafted) as drafted,
    count(*) filter (where is_draft_approved) as draft_approved,
    count(*) filter (where is_draft_edited) as draft_edited,
    count(*) filter (where is_draft_rejected) as draft_rejected,
    count(*) filter (where is_auto_sent) as auto_sent,
    count(*) filter (where is_assumed_resolved) as assumed_resolved,
    count(*) filter (where is_verified_resolved) as verified_resolved
from fct_tickets
group by created_on, first_tier, category;
