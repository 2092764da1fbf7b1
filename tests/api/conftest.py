"""The API under test: a real FastAPI app (TestClient) over a dedicated, fully migrated Postgres
database. The app commits through its own pooled connections (as in production), so tests cannot
use the rolled-back `db` fixture; instead every test starts from empty tables (TRUNCATE), and its
assertions stay exact.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.db.schema import upgrade_database
from tests.api.factories import NOW

SECRET = "whsec-test-secret"


@pytest.fixture(scope="session")
def api_database_url(postgres_url: str) -> Iterator[str]:
    name = f"api_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    base, _, query = postgres_url.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    with psycopg.connect(url, autocommit=True) as conn:
        upgrade_database(conn)
    yield url
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def api_db(api_database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the API's database, every data table emptied first.

    Only the tables that hold rows are emptied (TRUNCATE of all of them costs most of a second),
    with `session_replication_role = replica` so foreign keys and the append-only trigger of
    ticket_events do not get in the way of a plain DELETE.
    """
    with psycopg.connect(api_database_url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                """select tablename from pg_tables where schemaname = 'public'
                   and tablename not in ('schema_migrations')"""
            ).fetchall()
        ]
        probe = " union all ".join(f"select '{table}' where exists (select 1 from \"{table}\")" for table in tables)
        filled = [row[0] for row in conn.execute(probe).fetchall()]
        if filled:
            with conn.transaction():
                conn.execute("set local session_replication_role = replica")
                for table in filled:
                    conn.execute(f'delete from "{table}"')
        yield conn


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(api_db: psycopg.Connection, api_database_url: str, clock: Clock) -> Iterator[TestClient]:
    app = create_app(api_database_url, clock=clock, linear_webhook_secret=SECRET, pool_size=4)
    with TestClient(app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
