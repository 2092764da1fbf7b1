"""Hybrid KB search and the decision whether any article answers the question.

The ranking is one SQL query (backend/kb/search.sql): full text (`websearch_to_tsquery` over
a weighted tsvector), pg_trgm for misspellings and nicknames, and pgvector cosine similarity
of the query to each article and to its best passage when vectors exist. Python only prepares
the inputs (the query's vector; the canonical names of integrations the query mentions by
alias, from the policy) and applies the answer rule to the ranked scores:

    answerable = top score >= min_score and (top score - second score) >= min_margin

with one rule for search with vectors and another for search without (their scores are on
different scales). Each threshold is the one that answers at least 95% of the answerable dev
queries and declines the most unanswerable ones; leave-one-out cross-validation of that choice
estimates how it generalises (`python -m backend.kb.measure`, docs/results-kb.md).

With vectors, and unless the policy says `answer_decision: threshold`, the decision is instead
the answerability model's (backend/kb/answerability.py): the scores plus how much of the
question the best articles cover. Without its model file it falls back to the threshold rule.

Failures: any text is a valid query (an empty one simply answers nothing); a query file line
that is not JSON or has no `query` is the file's failure and raises `ValueError` naming the
line. Database errors are ours and raise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import psycopg

from backend.kb.answerability import (
    TOP_ARTICLES,
    RankEvidence,
    adjacent_pairs,
    answer_features,
    content_words,
    kb_names,
    load_model,
    query_phrases,
    query_terms,
    unknown_names,
)
from backend.kb.config import AnswerRule, KbSettings, load_integration_aliases, load_kb_settings
from backend.kb.embedder import Embedder, load_embedder, vector_literal
from backend.kb.incidental_names import incidental_words

_NOT_GIVEN: Any = object()


class SearchHit(NamedTuple):
    slug: str
    score: float
    version: int


@dataclass(frozen=True)
class Signals:
    """The evidence behind one hit's score (see search.sql)."""

    text_rank: float
    tag_similarity: float
    document_similarity: float
    passage_similarity: float


@dataclass(frozen=True)
class SearchResult:
    answerable: bool
    results: list[SearchHit]
    has_vectors: bool
    signals: list[Signals] = field(default_factory=list)

    @property
    def best(self) -> SearchHit | None:
        return self.results[0] if self.results else None


@cache
def _ranking_sql() -> str:
    return resources.files("backend.kb").joinpath("search.sql").read_text(encoding="utf-8")


def expand_aliases(query: str, aliases: dict[str, list[str]]) -> str:
    """The query plus the canonical name of each integration it names by an alias ("X time")."""
    lowered = query.lower()
    additions = [
        name
        for name, words in aliases.items()
        if not re.search(rf"\b{re.escape(name)}\b", lowered)
        and any(re.search(rf"(?<![a-z0-9]){re.escape(word.lower())}(?![a-z0-9])", lowered) for word in words)
    ]
    return " ".join([query, *additions])


def answer_rule(settings: KbSettings, *, has_vectors: bool) -> AnswerRule:
    return settings.answer_with_vectors if has_vectors else settings.answer_without_vectors


def is_answerable(scores: Sequence[float], rule: AnswerRule) -> bool:
    if not scores:
        return False
    second = scores[1] if len(scores) > 1 else 0.0
    return scores[0] >= rule.min_score and scores[0] - second >= rule.min_margin


@dataclass(frozen=True)
class RankedArticle:
    slug: str
    version: int
    score: float
    signals: Signals


def rank_articles(
    conn: psycopg.Connection,
    query: str,
    *,
    query_vector: Sequence[float] | None,
    settings: KbSettings,
    limit: int,
    kinds: Sequence[str] | None = None,
    aliases: dict[str, list[str]] | None = None,
) -> list[RankedArticle]:
    """Run the ranking query; the best `limit` articles with their scores and signals."""
    weights = settings.weights
    parameters = {
        "query": query,
        "expanded_query": expand_aliases(query, aliases if aliases is not None else _policy_aliases()),
        "query_vector": vector_literal(query_vector) if query_vector is not None else None,
        "kinds": list(kinds or settings.search_kinds),
        "title_boost": settings.title_boost,
        "tags_boost": settings.tags_boost,
        "full_text_saturation": settings.full_text_saturation,
        "correction_similarity": settings.correction_similarity,
        "trigram_similarity": settings.trigram_similarity,
        "weight_full_text": weights.full_text,
        "weight_trigram": weights.trigram,
        "weight_document": weights.document if query_vector is not None else 0.0,
        "weight_passage": weights.passage if query_vector is not None else 0.0,
        "row_limit": limit,
    }
    rows = conn.execute(_ranking_sql(), parameters).fetchall()
    return [
        RankedArticle(
            slug=slug,
            version=int(version),
            score=float(score),
            signals=Signals(float(text_rank), float(tag_similarity), float(document_similarity),
                            float(passage_similarity)),
        )
        for slug, version, score, text_rank, tag_similarity, document_similarity, passage_similarity in rows
    ]


@cache
def _policy_aliases() -> dict[str, list[str]]:
    return load_integration_aliases()


def answer_features_for(
    conn: psycopg.Connection,
    query: str,
    ranked: Sequence[RankedArticle],
    settings: KbSettings,
    *,
    kinds: Sequence[str] | None = None,
    aliases: dict[str, list[str]] | None = None,
) -> list[float]:
    """The answerability model's features for a query and its ranking (best first)."""
    aliases = aliases if aliases is not None else _policy_aliases()
    alias_words = frozenset(word.lower() for words in aliases.values() for word in words if word.isalnum())
    kinds = list(kinds or settings.search_kinds)
    # Integration nicknames and incidental names (people, cars, dates) are not what the KB must cover.
    ignored = frozenset(alias_words - set(aliases)) | incidental_words(query)
    terms, collection = query_terms(
        conn,
        content_words(expand_aliases(query, aliases), ignored),
        [article.slug for article in ranked[:TOP_ARTICLES]],
        kinds=kinds,
    )
    names = unknown_names(query, kb_names(conn, kinds), ignored)
    top_slugs = [article.slug for article in ranked[:TOP_ARTICLES]]
    phrases = query_phrases(conn, adjacent_pairs(query, {term.word for term in terms}), top_slugs, kinds=kinds)
    evidence = [
        RankEvidence(
            score=article.score,
            passage_similarity=article.signals.passage_similarity,
            document_similarity=article.signals.document_similarity,
            full_text=article.signals.text_rank / (article.signals.text_rank + settings.full_text_saturation),
        )
        for article in ranked
    ]
    return answer_features(query, evidence, terms, collection, names, phrases)


def decide_answerable(
    conn: psycopg.Connection,
    query: str,
    ranked: Sequence[RankedArticle],
    settings: KbSettings,
    *,
    has_vectors: bool,
    kinds: Sequence[str] | None = None,
) -> bool:
    """Whether the best article answers the query: the answerability model with vectors (when
    the policy asks for it and its file loads), else the policy's score threshold."""
    if not ranked or not query.strip():
        return False
    model = load_model() if has_vectors and settings.answer_decision == "model" else None
    if model is None:
        return is_answerable([article.score for article in ranked], answer_rule(settings, has_vectors=has_vectors))
    return model.answers(answer_features_for(conn, query, ranked, settings, kinds=kinds))


def _result(
    conn: psycopg.Connection,
    query: str,
    ranked: list[RankedArticle],
    limit: int,
    settings: KbSettings,
    has_vectors: bool,
    kinds: Sequence[str] | None = None,
) -> SearchResult:
    return SearchResult(
        answerable=decide_answerable(conn, query, ranked, settings, has_vectors=has_vectors, kinds=kinds),
        results=[SearchHit(article.slug, article.score, article.version) for article in ranked[:limit]],
        has_vectors=has_vectors,
        signals=[article.signals for article in ranked[:limit]],
    )


def search_kb(
    conn: psycopg.Connection,
    query: str,
    limit: int = 5,
    *,
    embedder: Embedder | None = _NOT_GIVEN,
    settings: KbSettings | None = None,
    kinds: Sequence[str] | None = None,
) -> SearchResult:
    """The best `limit` articles for `query`, best first, and whether the best one answers it.

    `embedder` defaults to the process's MiniLM embedder; None searches without vectors.
    """
    settings = settings or load_kb_settings()
    chosen = load_embedder() if embedder is _NOT_GIVEN else embedder
    vector = chosen.embed([query])[0] if chosen is not None and query.strip() else None
    # At least five rows: the answer decision compares the best score with the next four.
    ranked = rank_articles(conn, query, query_vector=vector, settings=settings, limit=max(limit + 1, 5),
                           kinds=kinds)
    return _result(conn, query, ranked, limit, settings, has_vectors=vector is not None, kinds=kinds)


def read_queries(queries_file: Path) -> list[str]:
    """The `query` of every non-empty line of a JSONL file."""
    queries: list[str] = []
    for number, line in enumerate(queries_file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{queries_file}:{number}: not JSON: {error}") from error
        if not isinstance(record, dict) or not isinstance(record.get("query"), str):
            raise ValueError(f"{queries_file}:{number}: each line needs a string 'query'")
        queries.append(record["query"])
    return queries


def search_many(
    conn: psycopg.Connection,
    queries: Sequence[str],
    limit: int = 5,
    *,
    embedder: Embedder | None = _NOT_GIVEN,
    settings: KbSettings | None = None,
) -> Iterator[tuple[str, SearchResult]]:
    """`search_kb` for many queries, embedding them in batches."""
    settings = settings or load_kb_settings()
    chosen = load_embedder() if embedder is _NOT_GIVEN else embedder
    batch = 64
    for start in range(0, len(queries), batch):
        chunk = list(queries[start : start + batch])
        vectors: list[list[float] | None] = list(chosen.embed(chunk)) if chosen is not None else [None] * len(chunk)
        for query, vector in zip(chunk, vectors, strict=True):
            if not query.strip():
                vector = None
            ranked = rank_articles(conn, query, query_vector=vector, settings=settings, limit=max(limit + 1, 5))
            yield query, _result(conn, query, ranked, limit, settings, has_vectors=vector is not None)


def search_queries_json(conn: psycopg.Connection, queries_file: Path) -> Iterator[dict[str, Any]]:
    """`tier0 kb search --queries FILE --json`: one object per query line, in file order:
    {"query", "answerable", "results": [{"slug", "score"}, ...]} with at most 5 results, best first."""
    for query, result in search_many(conn, read_queries(queries_file), limit=5):
        yield {
            "query": query,
            "answerable": result.answerable,
            "results": [{"slug": hit.slug, "score": round(hit.score, 6)} for hit in result.results],
        }
