-- mart_kb_coverage: per category of the policy (policy setting `categories`), how many current
-- knowledge-base articles and runbooks serve it (an article's own category, or a runbook's applies_to
-- list, which may also name integrations: those are not categories and are left out).
-- grain: category; key: category
create view mart_kb_coverage as
with categories as (
    select unnest(string_to_array(value, ',')) as category
    from stg_policy_settings
    where setting = 'categories'
),

served as (
    select slug, kind, category
    from stg_kb_articles
    where category is not null
    union
    select slug, kind, unnest(applies_to) as category
    from stg_kb_articles
)

select
    categories.category,
    count(served.slug) filter (where served.kind = 'article') as articles,
    count(served.slug) filter (where served.kind = 'runbook') as runbooks
from categories
left join served on served.category = categories.category
group by categories.category;
