"""Fixtures: the hand-made history (handmade.py) written into the test transaction, marts refreshed."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from backend.marts.refresh import refresh_marts
from tests.views.handmade import write_history


@pytest.fixture
def marts(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    write_history(db)
    refresh_marts(db, mode="full")
    yield db
