"""Shared fixtures: one embedded Postgres per test session, one rolled-back transaction per test.

`db` gives a connection inside an open transaction on a fully migrated database; everything
the test writes disappears at the end, so assertions can be exact. `empty_database_url`
gives a brand-new empty database for tests of the migration runner itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from backend.db.schema import upgrade_database
from backend.db.server import temporary_database
from backend.paths import SHARED_DIR


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with temporary_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            upgrade_database(conn)
        yield url


@pytest.fixture
def db(postgres_url: str) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(postgres_url)
    conn.execute("select 1")  # opens the transaction: code under test nests savepoints inside it
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


@pytest.fixture
def empty_database_url(postgres_url: str) -> Iterator[str]:
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    url = postgres_url.replace("/tier0?", f"/{name}?") if "/tier0?" in postgres_url else None
    if url is None:
        base, _, query = postgres_url.partition("?")
        url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    yield url
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repository; tests that need it skip on a user's fresh clone."""
    if not SHARED_DIR.is_dir():
        pytest.skip("../shared is not present (a fresh clone): external test material unavailable")
    return SHARED_DIR
