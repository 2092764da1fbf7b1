"""Which classifier triages: Claude when ANTHROPIC_API_KEY is set (with the local model as its
fallback when the API fails), else the local model, which needs no network."""

from __future__ import annotations

from backend.policy.model import Policy
from backend.settings import get_settings
from backend.triage.types import Classifier


def local_classifier(policy: Policy) -> Classifier:
    from backend.triage.local import load_default_classifier

    return load_default_classifier(policy)


def default_classifier(policy: Policy, *, prefer_local: bool = False) -> Classifier:
    local = local_classifier(policy)
    key = get_settings().anthropic_api_key
    if prefer_local or key is None:
        return local
    from backend.triage.claude import ClaudeClassifier

    return ClaudeClassifier(policy, api_key=key.get_secret_value(), fallback=local)
