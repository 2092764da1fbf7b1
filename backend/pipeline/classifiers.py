"""Which classifier triages: Claude when ANTHROPIC_API_KEY is set (with the local model as its
fallback when the API fails), else the local model, which needs no network."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.policy.model import Policy
from backend.settings import get_settings
from backend.triage.llm_calls import LlmCall
from backend.triage.types import Classifier


@dataclass
class LlmCallCollector:
    """Collects the LLM calls made while triaging one email, so the pipeline can record them in
    the same transaction as the tickets they served (cost per ticket is then a SQL query)."""

    calls: list[LlmCall] = field(default_factory=list)

    def __call__(self, call: LlmCall) -> None:
        self.calls.append(call)

    def drain(self) -> list[LlmCall]:
        drained, self.calls = self.calls, []
        return drained


def local_classifier(policy: Policy) -> Classifier:
    from backend.triage.local import LocalClassifier

    return LocalClassifier(policy=policy)


def default_classifier(
    policy: Policy, *, prefer_local: bool = False, recorder: LlmCallCollector | None = None
) -> Classifier:
    local = local_classifier(policy)
    key = get_settings().anthropic_api_key
    if prefer_local or key is None:
        return local
    from backend.triage.claude import ClaudeClassifier

    return ClaudeClassifier(policy, api_key=key.get_secret_value(), fallback=local, recorder=recorder)
