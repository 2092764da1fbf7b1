"""Speech-act cue features: each family fires on its definition's phrasing and not on the others'."""

from __future__ import annotations

import numpy as np

from backend.triage.cues import CUE_FAMILIES, cue_features
from backend.triage.features import TextClassifier, TextClassifierConfig

FAMILY = {name: index for index, name in enumerate(CUE_FAMILIES)}


def fired(text: str) -> set[str]:
    row = cue_features([text])[0]
    return {name for name, index in FAMILY.items() if row[index] > 0}


def test_asking_how_asking_us_and_wishing_are_told_apart() -> None:
    assert "how_question" in fired("How do I change the Saturday hours?")
    assert "how_question" not in fired("Please change the Saturday hours to 8-2.")
    assert "action_request" in fired("Please change the Saturday hours to 8-2.")
    assert "action_request" not in fired("How do I change the Saturday hours?")
    assert "wish" in fired("It would be great if the app showed the Saturday hours.")
    assert "wish" not in fired("Please change the Saturday hours to 8-2.")


def test_total_and_partial_failures() -> None:
    assert "total_failure" in fired("Nothing has synced since last night, not a single appointment.")
    assert "partial_failure" in fired("A few appointments from Monday are missing in the DMS.")
    assert "total_failure" not in fired("A few appointments from Monday are missing in the DMS.")


def test_counts_are_log_scaled_and_shaped() -> None:
    features = cue_features(["error error error", ""])
    assert features.shape == (2, len(CUE_FAMILIES))
    assert np.isclose(features[0, FAMILY["problem"]], np.log1p(3))
    assert not features[1].any()


def test_classifier_appends_the_cue_block_only_when_weighted() -> None:
    texts = ["How do I export the report?", "Please change our hours.", "The export gives an error."]
    labels = ["how_to", "config_change", "bug"]
    plain = TextClassifier(TextClassifierConfig(use_embeddings=False)).fit(texts, labels)
    cued = TextClassifier(TextClassifierConfig(use_embeddings=False, cue_weight=0.5)).fit(texts, labels)
    width = plain._features(texts, fit=False).shape[1]
    assert cued._features(texts, fit=False).shape[1] == width + len(CUE_FAMILIES)
