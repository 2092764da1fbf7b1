from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from backend.db import migrate
from backend.db.migrate import MigrationError


def _write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql, encoding="utf-8")


def _tables(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("select table_name from information_schema.tables where table_schema = 'public'").fetchall()
    return {row[0] for row in rows}


def test_migrations_apply_in_version_order(empty_database_url: str, tmp_path: Path) -> None:
    # 002 refers to the table 001 creates: applied out of order it would fail.
    _write(tmp_path, "002_add_column.sql", "alter table widgets add column size integer;")
    _write(tmp_path, "001_create.sql", "create table widgets (widget_id integer primary key);")
    _write(tmp_path, "010_index.sql", "create index widgets_size on widgets (size);")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        applied = migrate.upgrade(conn, tmp_path)
        assert [m.version for m in applied] == [1, 2, 10]
        rows = conn.execute("select version, name from schema_migrations order by applied_at, version").fetchall()
        assert rows == [(1, "create"), (2, "add_column"), (10, "index")]


def test_second_run_applies_nothing(empty_database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "001_create.sql", "create table widgets (widget_id integer primary key);")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert len(migrate.upgrade(conn, tmp_path)) == 1
        assert migrate.upgrade(conn, tmp_path) == []
        assert conn.execute("select count(*) from schema_migrations").fetchone() == (1,)


def test_failing_migration_rolls_back_with_its_bookkeeping(empty_database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "001_create.sql", "create table widgets (widget_id integer primary key);")
    # The first statement would succeed on its own; the second fails, so neither may remain.
    _write(tmp_path, "002_broken.sql", "create table gadgets (gadget_id integer);\nselect * from no_such_table;")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        with pytest.raises(MigrationError, match=r"002_broken\.sql failed and was rolled back"):
            migrate.upgrade(conn, tmp_path)
        assert "gadgets" not in _tables(conn)
        assert "widgets" in _tables(conn)
        assert conn.execute("select version from schema_migrations").fetchall() == [(1,)]
        # Fixing the file lets the next run apply it.
        _write(tmp_path, "002_broken.sql", "create table gadgets (gadget_id integer);")
        assert [m.version for m in migrate.upgrade(conn, tmp_path)] == [2]


def test_edited_migration_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "001_create.sql", "create table widgets (widget_id integer primary key);")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        migrate.upgrade(conn, tmp_path)
        _write(tmp_path, "001_create.sql", "create table widgets (widget_id bigint primary key);")
        with pytest.raises(MigrationError, match="edited after it was applied"):
            migrate.upgrade(conn, tmp_path)


def test_badly_named_file_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "1_create.sql", "select 1;")
    with pytest.raises(MigrationError, match=r"NNN_name\.sql"):
        migrate.discover(tmp_path)


def test_project_migrations_applied_to_the_test_database(db: psycopg.Connection) -> None:
    versions = [row[0] for row in db.execute("select version from schema_migrations order by version")]
    assert versions == [m.version for m in migrate.discover()]
    assert {"accounts", "messages", "tickets", "ticket_events", "outbox", "conversations"} <= _tables(db)


def test_recreating_views_keeps_their_grants(db: psycopg.Connection) -> None:
    from backend.db.views import recreate_views

    db.execute("create role tier0_reader_test nologin")
    db.execute("grant select on fct_tickets to tier0_reader_test")
    recreate_views(db)
    rows = db.execute(
        """select privilege_type from information_schema.role_table_grants
           where table_name = 'fct_tickets' and grantee = 'tier0_reader_test'"""
    ).fetchall()
    assert rows == [("SELECT",)]
