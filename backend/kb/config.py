"""The `kb:` section of config/policy.yaml, validated. Every key has a default, so a policy file
without the section still works; a key with a bad value fails at load, naming the key.

The search weights and answer thresholds were tuned on the dev query set
(`python -m backend.kb.measure`, numbers in docs/results-kb.md); change them there, not in code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.paths import DEFAULT_POLICY_PATH


class KbConfigError(Exception):
    """The policy's `kb:` section is invalid; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SearchWeights(_Strict):
    """How much each signal adds to an article's score (each signal is roughly in 0..1; see
    backend/kb/search.sql for what each one measures)."""

    full_text: float = Field(default=0.5, ge=0)
    trigram: float = Field(default=0.1, ge=0)
    document: float = Field(default=0.5, ge=0)
    passage: float = Field(default=1.0, ge=0)


class AnswerRule(_Strict):
    """An answer is claimed when the best score reaches `min_score` and beats the runner-up by
    `min_margin` (0 disables the margin test)."""

    min_score: float
    min_margin: float = Field(default=0.0, ge=0)


class KbSettings(_Strict):
    article_url_template: str = "https://help.pam.example/articles/{slug}"
    runbook_url_template: str = "https://help.pam.example/runbooks/{slug}"
    # What customer-facing search returns: articles only; runbooks are OPS material.
    search_kinds: list[Literal["article", "runbook"]] = Field(default_factory=lambda: ["article"])  # type: ignore[arg-type]
    weights: SearchWeights = SearchWeights()
    # Full-text normalisation: bm25 / (bm25 + full_text_saturation), in 0..1.
    full_text_saturation: float = Field(default=10.0, gt=0)
    # A query word in the title (tags) counts this many times one in the body.
    title_boost: float = Field(default=2.0, ge=1)
    tags_boost: float = Field(default=1.5, ge=1)
    # A query word the KB never uses is replaced by the KB word at least this trigram-similar.
    correction_similarity: float = Field(default=0.6, gt=0, le=1)
    # A tag counts as mentioned by the query from this pg_trgm word_similarity up.
    trigram_similarity: float = Field(default=0.7, gt=0, le=1)
    # With vectors the answer decision is the trained answerability model (backend/kb/answerability.py)
    # unless this says "threshold"; without vectors, or without the model file, it is the rule below.
    answer_decision: Literal["model", "threshold"] = "model"
    answer_with_vectors: AnswerRule = AnswerRule(min_score=0.962)
    answer_without_vectors: AnswerRule = AnswerRule(min_score=0.234)
    # Drafts: which ticket tiers get a KB draft, how many article sections a draft quotes, and
    # which article audiences may be quoted to a customer.
    draft_tiers: list[int] = Field(default_factory=lambda: [0, 1])
    draft_max_sections: int = Field(default=2, ge=1)
    draft_audiences: list[str] = Field(default_factory=lambda: ["customer"])
    greeting: str = "Hi {first_name},"
    greeting_without_name: str = "Hi,"
    sign_off: str = "Best regards,\nThe Pam support team"
    # Incidents explain tickets of these categories (a billing question is not explained by an outage).
    incident_categories: list[str] = Field(
        default_factory=lambda: ["outage", "bug", "integration_issue", "ai_behavior", "how_to"]
    )
    claude_model: str = "claude-sonnet-4-5"
    claude_max_tokens: int = Field(default=1024, ge=64)


def kb_settings_from_section(section: dict[str, object]) -> KbSettings:
    try:
        return KbSettings.model_validate(section)
    except ValidationError as error:
        problems = "; ".join(
            f"kb.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise KbConfigError(f"invalid kb section in the policy: {problems}") from error


def load_kb_settings(path: Path = DEFAULT_POLICY_PATH) -> KbSettings:
    """The `kb:` section of the policy file at `path` (defaults when the section is absent)."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    section = (data or {}).get("kb") or {}
    if not isinstance(section, dict):
        raise KbConfigError(f"kb section in {path} must be a mapping")
    return kb_settings_from_section(section)


def load_integration_aliases(path: Path = DEFAULT_POLICY_PATH) -> dict[str, list[str]]:
    """The policy's `integrations:` names and the words customers use for them."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    integrations = (data or {}).get("integrations") or {}
    aliases: dict[str, list[str]] = {}
    for name, rule in integrations.items():
        words = rule.get("aliases", []) if isinstance(rule, dict) else []
        aliases[str(name)] = [str(word) for word in words]
    return aliases
