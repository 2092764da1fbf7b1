"""Schema migrations: `sql/migrations/NNN_name.sql`, applied in order, each exactly once.

Each file runs in one transaction together with its bookkeeping row, so a failing migration
leaves nothing behind (Postgres DDL is transactional). Files are never edited once applied:
the checksum of every applied file is recorded and a changed file is an error.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from backend.paths import MIGRATIONS_DIR

_FILE_PATTERN = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

_BOOKKEEPING = """
create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
)
"""


class MigrationError(Exception):
    """Our failure: the migration set or the database is not in a state we can upgrade."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if not match:
            raise MigrationError(f"migration file name must look like NNN_name.sql: {path.name}")
        migrations.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number in {directory}")
    return migrations


def applied_versions(conn: psycopg.Connection) -> dict[int, str]:
    with conn.transaction():
        conn.execute(_BOOKKEEPING)
    rows = conn.execute("select version, checksum from schema_migrations").fetchall()
    return {int(version): str(checksum) for version, checksum in rows}


def upgrade(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply every pending migration in version order; returns the ones applied now."""
    done = applied_versions(conn)
    applied_now: list[Migration] = []
    for migration in discover(directory):
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.path.name} was edited after it was applied; add a new migration instead"
                )
            continue
        try:
            with conn.transaction():
                conn.execute(migration.sql.encode())  # file content, not user input
                conn.execute(
                    "insert into schema_migrations (version, name, checksum) values (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
        except psycopg.Error as error:
            raise MigrationError(f"migration {migration.path.name} failed and was rolled back: {error}") from error
        applied_now.append(migration)
    return applied_now
