"""Language guesses on short support-mail sentences."""

from __future__ import annotations

from typing import Any

import pytest

from backend.mail.language import detect_language
from tests.mail.conftest import load_cases

CASES = load_cases("language_cases.json")


@pytest.mark.parametrize("case", CASES, ids=[f"{c['lang']}:{c['text'][:20]}" for c in CASES])
def test_language(case: dict[str, Any]) -> None:
    assert detect_language(case["text"]) == case["lang"]
