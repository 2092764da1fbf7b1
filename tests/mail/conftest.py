"""Shared helpers for the mail parsing tests: fixture paths and the ../shared corpora (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backend.paths import SHARED_DIR

HERE = Path(__file__).parent
CASES = HERE / "cases"
EML = HERE / "eml"


def load_cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((CASES / name).read_text(encoding="utf-8"))
    return cases


def require_shared(*parts: str) -> Path:
    """A path under ../shared, or skip the test when a fresh clone does not have it."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available (../shared is only present in the project workspace)")
    return path
