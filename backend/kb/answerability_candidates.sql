-- Spelling candidates for query words the KB vocabulary (kb_terms) does not contain: for each,
-- the KB words most similar by pg_trgm, best first (at most five, similarity from 0.3 up).
-- backend/kb/answerability.py accepts a candidate only within a small edit distance.
-- Parameter: words, text[] of lowercase words.
select given.word, array(
    select kb_terms.term
    from kb_terms
    where greatest(similarity(kb_terms.term, given.word), word_similarity(given.word, kb_terms.term)) >= 0.3
    order by greatest(similarity(kb_terms.term, given.word), word_similarity(given.word, kb_terms.term)) desc,
             kb_terms.document_count desc, kb_terms.term
    limit 5
) as candidates
from unnest(%(words)s::text[]) as given(word)
where not exists (select 1 from kb_terms where kb_terms.term = given.word)
