-- mart_kb_coverage: per ticket category seen in tickets, how many current knowledge-base articles and
-- runbooks serve it (an article's own category, or a runbook's applies_to list).
-- grain: category; key: category
create view mart_kb_coverage as
with served as (
    select slug, kind, category
    from stg_kb_articles
    where category is not null
    union
    select slug, kind, unnest(applies_to) as category
    from stg_kb_articles
),

categories as (
    select distinct category from stg_ticket_facts
)

select
    categories.category,
    count(served.slug) filter (where served.kind = 'article') as articles,
    count(served.slug) filter (where served.kind = 'runbook') as runbooks
from categories
left join served on served.category = categories.category
group by categories.category;
