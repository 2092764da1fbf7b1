-- KB search: one ranking over the current version of every article of the requested kinds.
-- Grain: one row per article (slug), best first. Parameters (psycopg named):
--   query            the customer's text
--   expanded_query   the text plus canonical names of integrations it mentions by alias
--   query_vector     the text's sentence vector as pgvector text, or null (no embedder)
--   kinds            text[] of kb_articles.kind to search
--   title_boost, tags_boost   how much a query word in the title / tags counts over one in the body
--   full_text_saturation, correction_similarity, trigram_similarity,
--   weight_full_text, weight_trigram, weight_document, weight_passage, row_limit
-- Signals, each roughly in 0..1:
--   full_text  BM25 of the words of an OR websearch query over the weighted tsvector (title A,
--              tags B, body C as field boosts), squashed as bm25 / (bm25 + saturation); query
--              words missing from the KB's
--              vocabulary are replaced by their closest KB words (pg_trgm), so "apointment"
--              still finds "appointment" and "tekoin" finds "tekion".
--   trigram    the best pg_trgm word_similarity of any tag inside the query, counted only
--              from trigram_similarity up: catches nicknames and misspellings of tag words.
--   document   cosine similarity of the query and the article vector (title, tags, lead).
--   passage    cosine similarity of the query and the article's best passage (step/sentence).
with query_words as (
    select distinct word
    from regexp_split_to_table(lower(%(expanded_query)s), '[^a-z0-9]+') as word
    where length(word) >= 3
),

corrections as (
    select best.term
    from query_words
    cross join lateral (
        select kb_terms.term
        from kb_terms
        where greatest(similarity(kb_terms.term, query_words.word),
                         word_similarity(query_words.word, kb_terms.term)) >= %(correction_similarity)s
        order by greatest(similarity(kb_terms.term, query_words.word),
                          word_similarity(query_words.word, kb_terms.term)) desc,
                 kb_terms.document_count desc
        limit 1
    ) as best
    where not exists (select 1 from kb_terms as known where known.term = query_words.word)
),

search_words as (
    select word from query_words
    union
    select term from corrections
),

full_text_query as (
    -- websearch syntax: words joined by "or" match any of them (Postgres docs 12.3.2).
    select
        websearch_to_tsquery('english', coalesce(string_agg(word, ' or '), '')) as tsquery,
        to_tsvector('english', coalesce(string_agg(word, ' '), '')) as lexemes
    from search_words
),

query_lexemes as (
    select entry.lexeme
    from full_text_query
    cross join unnest(full_text_query.lexemes) as entry
),

documents as (
    select versions.slug, versions.version, versions.tags, versions.search_vector, versions.embedding,
           length(versions.search_vector) as document_length
    from kb_articles as articles
    join kb_article_versions as versions
        on versions.slug = articles.slug and versions.version = articles.current_version
    where articles.kind = any(%(kinds)s)
),

collection as (
    select count(*) as document_count, greatest(avg(document_length), 1) as average_length
    from documents
),

-- Each query lexeme found in a document, with its frequency there and the boost of the most
-- important field it occurs in (setweight A = title, B = tags, C = body).
lexeme_matches as (
    select
        documents.slug,
        documents.document_length,
        entry.lexeme,
        cardinality(entry.positions) as frequency,
        case
            when 'A' = any(entry.weights) then %(title_boost)s
            when 'B' = any(entry.weights) then %(tags_boost)s
            else 1.0
        end as boost
    from documents
    cross join full_text_query
    cross join unnest(documents.search_vector) as entry
    where documents.search_vector @@ full_text_query.tsquery
        and entry.lexeme in (select lexeme from query_lexemes)
),

lexeme_document_counts as (
    select lexeme, count(*) as document_count
    from lexeme_matches
    group by lexeme
),

-- BM25 (Robertson and Zaragoza 2009, k1 = 1.2, b = 0.75) with field boosts: ts_rank has no
-- inverse document frequency, so with an OR query common words ("appointment") would
-- outweigh the one word that tells articles apart ("duplicate").
text_scores as (
    select
        lexeme_matches.slug,
        sum(
            ln(1 + (collection.document_count - counts.document_count + 0.5) / (counts.document_count + 0.5))
            * lexeme_matches.boost * lexeme_matches.frequency * 2.2
            / (lexeme_matches.frequency
               + 1.2 * (0.25 + 0.75 * lexeme_matches.document_length / collection.average_length))
        ) as bm25
    from lexeme_matches
    join lexeme_document_counts as counts on counts.lexeme = lexeme_matches.lexeme
    cross join collection
    group by lexeme_matches.slug
),

passage_matches as (
    select passages.slug, max(1 - (passages.embedding <=> %(query_vector)s::vector)) as similarity
    from kb_passages as passages
    join documents on documents.slug = passages.slug and documents.version = passages.version
    where %(query_vector)s::vector is not null and passages.embedding is not null
    group by passages.slug
),

signals as (
    select
        documents.slug,
        documents.version,
        coalesce(text_scores.bm25, 0) as text_rank,
        coalesce((
            select max(word_similarity(tag, %(query)s))
            from unnest(documents.tags) as tag
            where length(tag) >= 3
        ), 0) as tag_similarity,
        coalesce(1 - (documents.embedding <=> %(query_vector)s::vector), 0) as document_similarity,
        coalesce(passage_matches.similarity, 0) as passage_similarity
    from documents
    left join text_scores on text_scores.slug = documents.slug
    left join passage_matches on passage_matches.slug = documents.slug
)

select
    slug,
    version,
    %(weight_full_text)s * text_rank / (text_rank + %(full_text_saturation)s)
        + %(weight_trigram)s * case when tag_similarity >= %(trigram_similarity)s then tag_similarity else 0 end
        + %(weight_document)s * document_similarity
        + %(weight_passage)s * passage_similarity as score,
    text_rank,
    tag_similarity,
    document_similarity,
    passage_similarity
from signals
order by score desc, slug
limit %(row_limit)s
