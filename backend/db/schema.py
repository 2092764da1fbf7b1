"""One call that brings a database to the current schema: migrations, then views."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from backend.db import migrate, views


@dataclass(frozen=True)
class UpgradeResult:
    applied_migrations: list[str]
    views: list[str]


def upgrade_database(conn: psycopg.Connection) -> UpgradeResult:
    applied = migrate.upgrade(conn)
    created = views.recreate_views(conn)
    return UpgradeResult([m.path.name for m in applied], created)
