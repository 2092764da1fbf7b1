"""Shared fixtures: the shipped default model (trained once, cached like in production) and a
LocalClassifier on it. Training on a machine with no cache takes well under a minute."""

from __future__ import annotations

import pytest

from backend.triage.local import LocalClassifier
from backend.triage.model import TriageModel, default_model


@pytest.fixture(scope="session")
def triage_model() -> TriageModel:
    return default_model()


@pytest.fixture(scope="session")
def classifier(triage_model: TriageModel) -> LocalClassifier:
    return LocalClassifier(model=triage_model)
