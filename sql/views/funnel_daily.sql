-- funnel_daily: requests (tickets) created per day, by first tier and category.
-- grain: day x first tier x category; key: (day, first_tier, category)
create view funnel_daily as
select
    created_on as day,
    first_tier,
    category,
    count(*) as requests,
    count(*) filter (where is_resolved) as resolved,
    count(*) filter (where resolved_tier = first_tier) as resolved_at_first_tier
from fct_tickets
group by created_on, first_tier, category;
