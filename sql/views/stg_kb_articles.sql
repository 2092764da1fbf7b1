-- stg_kb_articles: one row per knowledge-base article or runbook, at the version in use now.
-- grain: article; key: slug
create view stg_kb_articles as
select
    articles.slug,
    articles.kind,
    articles.current_version as version,
    versions.title,
    versions.category,
    versions.product_area,
    versions.integration,
    versions.applies_to,
    versions.tags,
    versions.url,
    articles.created_at,
    articles.updated_at
from kb_articles as articles
inner join kb_article_versions as versions
    on versions.slug = articles.slug and versions.version = articles.current_version;
