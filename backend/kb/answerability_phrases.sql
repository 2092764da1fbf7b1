-- Two-word phrases of the query (adjacent content words) in the KB, for the answer decision
-- (backend/kb/answerability.py). phraseto_tsquery keeps the words' order and distance, skipping
-- stop words as to_tsvector does (Postgres docs 12.3.2), so "out of office" matches itself only.
-- Parameters: phrases text[], kinds text[], top_slugs text[] (best first).
-- Columns: the phrase, how many searched articles contain it, and in which of top_slugs it occurs.
with documents as (
    select versions.slug, versions.search_vector
    from kb_articles as articles
    join kb_article_versions as versions
        on versions.slug = articles.slug and versions.version = articles.current_version
    where articles.kind = any(%(kinds)s)
)

select
    given.phrase,
    (select count(*) from documents where documents.search_vector @@ phraseto_tsquery('english', given.phrase))
        as document_count,
    array(
        select exists (
            select 1 from documents
            where documents.slug = top.slug
                and documents.search_vector @@ phraseto_tsquery('english', given.phrase)
        )
        from unnest(%(top_slugs)s::text[]) with ordinality as top(slug, position)
        order by top.position
    ) as in_top
from unnest(%(phrases)s::text[]) as given(phrase)
