"""Drafts: extractive ones contain only the article's own text; Claude's path is faked at the
HTTP level (httpx2.MockTransport), nothing reaches the network."""

import json
import re
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import psycopg
import pytest

from backend.kb.claude_drafter import SYSTEM_PROMPT, ClaudeDrafter
from backend.kb.config import load_kb_settings
from backend.kb.drafts import draft_for_ticket
from backend.kb.embedder import Embedder
from backend.kb.importer import import_kb

from .conftest import TicketFactory

SETTINGS = load_kb_settings()
PASSWORD_QUESTION = "I forgot my password and the reset email never came. I checked spam already. What now?"


@pytest.fixture
def kb(db: psycopg.Connection, mini_kb: Path, embedder: Embedder) -> psycopg.Connection:
    import_kb(db, mini_kb, embedder=embedder)
    return db


def _sentences(text: str) -> list[str]:
    return [part.strip() for line in text.splitlines() for part in re.split(r"(?<=[.!?])\s+", line) if part.strip()]


def _article_body(db: psycopg.Connection, slug: str, version: int) -> str:
    row = db.execute("select body from kb_article_versions where slug = %s and version = %s", (slug, version)).fetchone()
    assert row is not None
    return str(row[0])


def test_extractive_draft_quotes_only_the_article(kb: psycopg.Connection, make_ticket: TicketFactory) -> None:
    ticket_id = make_ticket(PASSWORD_QUESTION, contact_name="Dana Reyes")
    draft = draft_for_ticket(kb, ticket_id)
    assert draft is not None and draft.generator == "extractive" and draft.status == "pending"
    assert draft.citations == [
        {"slug": "reset-password", "version": 1, "url": "https://help.pam.example/articles/reset-password"}
    ]
    paragraphs = draft.body.split("\n\n")
    assert paragraphs[0] == "Hi Dana,"
    assert paragraphs[-1] == SETTINGS.sign_off
    assert paragraphs[-2] == "Reset your password or unlock your account: https://help.pam.example/articles/reset-password"
    quoted = "\n\n".join(paragraphs[1:-2])
    assert "The email did not arrive" in quoted  # the section that answers this question
    article = _article_body(kb, "reset-password", 1)
    for sentence in _sentences(quoted):
        assert sentence in article, f"not in the article: {sentence!r}"
    stored = kb.execute(
        "select status, generator, body, citations from drafts where draft_id = %s", (draft.draft_id,)
    ).fetchone()
    assert stored == ("pending", "extractive", draft.body, draft.citations)
    event = kb.execute(
        "select event_type, data->>'draft_id', data->'citations' from ticket_events where ticket_id = %s", (ticket_id,)
    ).fetchone()
    assert event == ("drafted", str(draft.draft_id), draft.citations)


def test_a_new_draft_supersedes_the_pending_one(kb: psycopg.Connection, make_ticket: TicketFactory) -> None:
    ticket_id = make_ticket(PASSWORD_QUESTION)
    first = draft_for_ticket(kb, ticket_id)
    second = draft_for_ticket(kb, ticket_id)
    assert first is not None and second is not None
    statuses: dict[int, str] = dict(kb.execute("select draft_id, status from drafts where ticket_id = %s", (ticket_id,)).fetchall())
    assert statuses == {first.draft_id: "superseded", second.draft_id: "pending"}


def test_no_draft_when_nothing_answers(kb: psycopg.Connection, make_ticket: TicketFactory) -> None:
    ticket_id = make_ticket("Could you recommend a good caterer for our customer appreciation barbecue?")
    assert draft_for_ticket(kb, ticket_id) is None
    assert kb.execute("select count(*) from drafts where ticket_id = %s", (ticket_id,)).fetchone() == (0,)
    assert kb.execute("select count(*) from ticket_events where ticket_id = %s", (ticket_id,)).fetchone() == (0,)


def test_tier_2_tickets_get_no_kb_draft(kb: psycopg.Connection, make_ticket: TicketFactory) -> None:
    ticket_id = make_ticket(PASSWORD_QUESTION, tier=2, category="bug")
    assert draft_for_ticket(kb, ticket_id) is None


def test_unknown_ticket_is_the_callers_error(db: psycopg.Connection) -> None:
    with pytest.raises(LookupError):
        draft_for_ticket(db, 987654321, embedder=None)


def _claude(handler: Any) -> ClaudeDrafter:
    client = anthropic.Anthropic(
        api_key="test-key", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    return ClaudeDrafter(client, model="claude-test", max_tokens=512)


def _message(answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_test", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": json.dumps(answer)}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 900, "output_tokens": 120},
    }


def test_claude_draft_is_grounded_in_the_cited_articles(kb: psycopg.Connection, make_ticket: TicketFactory) -> None:
    requests: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        requests.append(json.loads(request.content))
        reply = "Hi Dana,\n\nCheck spam and junk, then ask an Admin to send the reset for you.\n\nThe Pam support team"
        return httpx2.Response(200, json=_message({"can_answer": True, "reply": reply,
                                                   "cited_slugs": ["reset-password", "not-given"]}))

    ticket_id = make_ticket(PASSWORD_QUESTION)
    draft = draft_for_ticket(kb, ticket_id, claude=_claude(handler))
    assert draft is not None and draft.generator == "claude" and draft.model == "claude-test"
    assert [citation["slug"] for citation in draft.citations] == ["reset-password"]  # unknown slugs dropped
    sent = requests[0]
    system = "\n".join(block["text"] for block in sent["system"])
    assert SYSTEM_PROMPT in system and "Answer ONLY from the help-center articles" in system
    assert '<article slug="reset-password" version="1"' in system
    assert "Locked out after failed attempts" in system  # the article text itself is in the prompt
    assert PASSWORD_QUESTION in sent["messages"][0]["content"]
    assert sent["output_config"]["format"]["type"] == "json_schema"


def test_claude_saying_it_cannot_answer_means_no_draft(kb: psycopg.Connection, make_ticket: TicketFactory) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=_message({"can_answer": False, "reply": "", "cited_slugs": []}))

    ticket_id = make_ticket(PASSWORD_QUESTION)
    assert draft_for_ticket(kb, ticket_id, claude=_claude(handler)) is None
    assert kb.execute("select count(*) from drafts where ticket_id = %s", (ticket_id,)).fetchone() == (0,)


def test_claude_down_falls_back_to_an_extractive_draft(kb: psycopg.Connection, make_ticket: TicketFactory) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(529, json={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})

    ticket_id = make_ticket(PASSWORD_QUESTION)
    draft = draft_for_ticket(kb, ticket_id, claude=_claude(handler))
    assert draft is not None and draft.generator == "extractive"


def test_extractive_body_quotes_the_best_section_even_with_negative_scores() -> None:
    from backend.kb.claude_drafter import SourceArticle
    from backend.kb.drafts import extractive_body

    article = SourceArticle(slug="a", version=1, title="T", url="https://help.pam.example/articles/a",
                            body="# T\n\nLead.\n\n## One\n\nFirst section text.\n\n## Two\n\nSecond section text.")
    body = extractive_body(article, {1: -0.05, 2: -0.2}, "Hi,", SETTINGS)
    assert body == f"Hi,\n\nOne\nFirst section text.\n\nT: https://help.pam.example/articles/a\n\n{SETTINGS.sign_off}"
    both = extractive_body(article, {1: 0.5, 2: 0.48}, "Hi,", SETTINGS)
    assert "One\nFirst section text.\n\nTwo\nSecond section text." in both
