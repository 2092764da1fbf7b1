"""Reply drafts written by Claude from cited KB articles only.

`ClaudeDrafter` wraps an injected `anthropic.Anthropic` client (SDK 2.x, httpx2 transport; tests
pass `http_client=httpx2.Client(transport=httpx2.MockTransport(handler))`, nothing reaches the
network). The system prompt tells the model to answer only from the articles given, to say
when they do not answer the question, and to name the articles it used; the answer comes back
as JSON (structured output, `output_config` json_schema). The article texts sit in a cached
system block (prompt caching) so repeated drafts from the same articles cost less.

Failures:
- the vendor's (network error, 429/5xx, an answer that is not the promised JSON): raised as
  `ClaudeDraftError`; the caller falls back to an extractive draft;
- the model declining (`can_answer: false`) or citing no article it was given: not an error,
  `draft()` returns None and no draft is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic

SYSTEM_PROMPT = """You write reply drafts for the support team of Pam, an AI assistant for car dealerships.
A human reviews every draft before it is sent.

Rules:
- Answer ONLY from the help-center articles below. Do not add facts, steps, numbers, menu paths,
  timings or promises that are not in them.
- If the articles do not answer the customer's question, set can_answer to false and leave the
  reply empty. Do not guess.
- Quote steps and menu paths as the article writes them.
- Write a short, friendly email body: a greeting line, the answer, and a sign-off from
  "The Pam support team". No subject line.
- List in cited_slugs the slug of every article you used."""

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "can_answer": {"type": "boolean"},
        "reply": {"type": "string"},
        "cited_slugs": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["can_answer", "reply", "cited_slugs"],
    "additionalProperties": False,
}


class ClaudeDraftError(Exception):
    """Claude could not be reached or did not answer in the promised shape."""


@dataclass(frozen=True)
class SourceArticle:
    slug: str
    version: int
    title: str
    url: str
    body: str


@dataclass(frozen=True)
class ClaudeDraft:
    body: str
    cited: list[SourceArticle]
    model: str


def _articles_block(articles: list[SourceArticle]) -> str:
    parts = [
        f'<article slug="{article.slug}" version="{article.version}" url="{article.url}">\n'
        f"# {article.title}\n\n{article.body}\n</article>"
        for article in articles
    ]
    return "Help-center articles:\n\n" + "\n\n".join(parts)


class ClaudeDrafter:
    def __init__(self, client: anthropic.Anthropic, *, model: str, max_tokens: int = 1024) -> None:
        self._client = client
        self.model = model
        self._max_tokens = max_tokens

    def draft(self, *, request_text: str, articles: list[SourceArticle]) -> ClaudeDraft | None:
        if not articles:
            return None
        try:
            message = self._client.messages.create(
                model=self.model,
                max_tokens=self._max_tokens,
                system=[
                    {"type": "text", "text": SYSTEM_PROMPT},
                    {"type": "text", "text": _articles_block(articles), "cache_control": {"type": "ephemeral"}},
                ],
                messages=[{"role": "user", "content": f"Customer's message:\n\n{request_text}"}],
                output_config={"format": {"type": "json_schema", "schema": OUTPUT_SCHEMA}},
            )
        except anthropic.APIError as error:
            raise ClaudeDraftError(f"Claude request failed: {error}") from error
        text = "".join(getattr(block, "text", "") for block in message.content)
        try:
            answer = json.loads(text)
            can_answer = bool(answer["can_answer"])
            reply = str(answer["reply"]).strip()
            cited_slugs = [str(slug) for slug in answer["cited_slugs"]]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ClaudeDraftError(f"Claude's answer is not the promised JSON: {text[:200]!r}") from error
        by_slug = {article.slug: article for article in articles}
        cited = [by_slug[slug] for slug in dict.fromkeys(cited_slugs) if slug in by_slug]
        if not can_answer or not reply or not cited:
            return None
        return ClaudeDraft(body=reply, cited=cited, model=message.model or self.model)


def drafter_from_environment(policy_path: Path | None = None) -> ClaudeDrafter | None:
    """The Claude drafter when ANTHROPIC_API_KEY is set (model and token limit from the policy's
    `kb:` section), else None: drafts are then extractive."""
    from backend.kb.config import load_kb_settings
    from backend.settings import get_settings

    settings = get_settings()
    if settings.anthropic_api_key is None:
        return None
    kb = load_kb_settings(policy_path or settings.policy_path)
    client = anthropic.Anthropic(api_key=settings.anthropic_api_key.get_secret_value())
    return ClaudeDrafter(client, model=kb.claude_model, max_tokens=kb.claude_max_tokens)
