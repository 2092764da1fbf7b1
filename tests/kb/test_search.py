"""Ranking and the answer decision on a dozen close demo articles, with the real embedder and
without vectors. Thresholds come from config/policy.yaml (tuned on the dev queries, none of
which is used here)."""

import json
from pathlib import Path

import psycopg
import pytest

from backend.kb.config import load_kb_settings
from backend.kb.embedder import Embedder
from backend.kb.importer import import_kb
from backend.kb.search import expand_aliases, search_kb, search_queries_json


@pytest.fixture
def kb_with_vectors(db: psycopg.Connection, mini_kb: Path, embedder: Embedder) -> psycopg.Connection:
    import_kb(db, mini_kb, embedder=embedder)
    return db


# One import, several queries: each test re-imports the mini KB, so queries share a test.
QUESTIONS = [
    ("Pam booked a customer for Tuesday but the appointment never showed up in Tekion", "missing-appointments-tekion"),
    ("I'm locked out of the dashboard and the password reset email never arrives", "reset-password"),
    ("lost my phone with the authenticator app, how do I log in now", "two-factor-authentication"),
    ("can the GM get a report emailed to him every monday morning", "scheduled-email-reports"),
    ("we're closed on memorial day, how do I tell Pam", "holiday-schedules"),
]
OFF_TOPIC = [
    "What is a good recipe for banana bread?",
    "Who won the football game last night?",
    "How do I convert a PDF to a Word document on my laptop?",
]


def test_questions_find_their_article_first(kb_with_vectors: psycopg.Connection) -> None:
    for query, slug in QUESTIONS:
        result = search_kb(kb_with_vectors, query)
        assert result.has_vectors
        assert [hit.slug for hit in result.results][:1] == [slug], query
        assert result.answerable, query
        assert result.results[0].version == 1
        scores = [hit.score for hit in result.results]
        assert scores == sorted(scores, reverse=True) and len(scores) == 5


def test_off_topic_text_is_not_answerable(kb_with_vectors: psycopg.Connection) -> None:
    for query in OFF_TOPIC:
        result = search_kb(kb_with_vectors, query)
        assert not result.answerable, query
        assert result.results  # still ranked, just not claimed as an answer


def test_runbooks_are_not_returned_to_customers_unless_asked(kb_with_vectors: psycopg.Connection) -> None:
    query = "customer locked out, identity verification before a 2FA reset"
    customer = search_kb(kb_with_vectors, query, limit=13)
    assert "account-lockout" not in [hit.slug for hit in customer.results]
    ops = search_kb(kb_with_vectors, query, limit=13, kinds=["article", "runbook"])
    assert "account-lockout" in [hit.slug for hit in ops.results]


def test_trigram_correction_catches_a_misspelled_integration_nickname(db: psycopg.Connection, mini_kb: Path) -> None:
    """Without vectors, "mykarma" (MyKaarma misspelled) only matches through pg_trgm."""
    import_kb(db, mini_kb, embedder=None)
    query = "is mykarma hooked up right? something looks off"
    settings = load_kb_settings()
    found = search_kb(db, query, embedder=None, settings=settings)
    assert found.results[0].slug == "mykaarma-integration-setup"
    without_trigrams = settings.model_copy(
        update={"correction_similarity": 1.0, "weights": settings.weights.model_copy(update={"trigram": 0.0})}
    )
    blind = search_kb(db, query, embedder=None, settings=without_trigrams)
    assert blind.results[0].slug != "mykaarma-integration-setup"
    assert found.results[0].score > blind.results[0].score


def test_policy_aliases_expand_to_the_integration_name() -> None:
    aliases = {"xtime": ["xtime", "x-time", "x time"], "cdk": ["cdk", "fortellis"]}
    assert expand_aliases("Our X time slots look wrong", aliases) == "Our X time slots look wrong xtime"
    assert expand_aliases("xtime is slow", aliases) == "xtime is slow"
    assert expand_aliases("Fortellis says expired", aliases) == "Fortellis says expired cdk"


def test_empty_query_answers_nothing(db: psycopg.Connection, mini_kb: Path) -> None:
    import_kb(db, mini_kb, embedder=None)
    assert not search_kb(db, "   ", embedder=None).answerable


def test_search_queries_json_contract(kb_with_vectors: psycopg.Connection, tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        json.dumps({"query": "Two-factor codes are not accepted", "relevant": ["x"]}) + "\n\n"
        + json.dumps({"query": "Is there a recipe for banana bread?"}) + "\n"
    )
    lines = list(search_queries_json(kb_with_vectors, queries))
    assert [line["query"] for line in lines] == ["Two-factor codes are not accepted", "Is there a recipe for banana bread?"]
    for line in lines:
        assert set(line) == {"query", "answerable", "results"}
        assert 1 <= len(line["results"]) <= 5
        assert all(set(hit) == {"slug", "score"} for hit in line["results"])
        scores = [hit["score"] for hit in line["results"]]
        assert scores == sorted(scores, reverse=True)
        json.dumps(line)  # serialisable as the CLI prints it
    assert lines[0]["answerable"] is True and lines[0]["results"][0]["slug"] == "two-factor-authentication"
    assert lines[1]["answerable"] is False


def test_bad_query_file_line_names_the_line(db: psycopg.Connection, tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"query": "ok"}\n{"text": "no query key"}\n')
    with pytest.raises(ValueError, match=r"queries.jsonl:2"):
        list(search_queries_json(db, queries))
