-- Query-article coverage evidence for the answer decision (backend/kb/answerability.py).
-- Grain: one row per given word that has a lexeme in the 'english' text search configuration
-- (stop words have none). Parameters (psycopg named):
--   words       text[] of lowercase words (the query's, plus spelling corrections chosen in Python)
--   kinds       text[] of kb_articles.kind searched
--   top_slugs   text[] of the best-ranked articles, best first
-- Columns: the word, its lexeme, how many searched articles contain the lexeme, in which of
-- top_slugs it occurs (booleans in top_slugs order), and the number of searched articles.
-- A lexeme "occurs" in an article also when they are of one word family that the Snowball
-- stemmer keeps apart: the query's lexeme (4+ letters) begins an article lexeme ("slow" and
-- "slower", "tech" and "technician"), or an article lexeme (5+ letters) begins the query's with
-- at most three more letters ("transcript" and "transcription").
with documents as (
    select versions.slug, tsvector_to_array(versions.search_vector) as lexemes
    from kb_articles as articles
    join kb_article_versions as versions
        on versions.slug = articles.slug and versions.version = articles.current_version
    where articles.kind = any(%(kinds)s)
),

word_lexemes as (
    select given.word, entry.lexeme
    from unnest(%(words)s::text[]) as given(word)
    cross join lateral unnest(to_tsvector('english', given.word)) as entry
),

occurrences as (
    select word_lexemes.word, documents.slug
    from word_lexemes
    cross join documents
    where exists (
        select 1 from unnest(documents.lexemes) as article(lexeme)
        where article.lexeme = word_lexemes.lexeme
            or (length(word_lexemes.lexeme) >= 4 and starts_with(article.lexeme, word_lexemes.lexeme))
            or (length(article.lexeme) >= 5 and starts_with(word_lexemes.lexeme, article.lexeme)
                and length(word_lexemes.lexeme) <= length(article.lexeme) + 3)
    )
)

select
    word_lexemes.word,
    word_lexemes.lexeme,
    (select count(*) from occurrences where occurrences.word = word_lexemes.word) as document_count,
    array(
        select exists (
            select 1 from occurrences
            where occurrences.word = word_lexemes.word and occurrences.slug = top.slug
        )
        from unnest(%(top_slugs)s::text[]) with ordinality as top(slug, position)
        order by top.position
    ) as in_top,
    (select count(*) from documents) as collection_size
from word_lexemes
order by word_lexemes.word
