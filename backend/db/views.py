"""Analytics views: `sql/views/<name>.sql`, one view per file, recreated on every upgrade.

Views hold no data, so they are dropped and created again in dependency order (a view that
names another view in its SQL is created after it). The whole set changes in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from backend.paths import VIEWS_DIR


class ViewError(Exception):
    """Our failure: a view file is malformed or its dependencies form a cycle."""


@dataclass(frozen=True)
class ViewFile:
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover(directory: Path = VIEWS_DIR) -> list[ViewFile]:
    return [ViewFile(path.stem, path) for path in sorted(directory.glob("*.sql"))]


def creation_order(views: list[ViewFile]) -> list[ViewFile]:
    by_name = {view.name: view for view in views}
    depends: dict[str, set[str]] = {}
    for view in views:
        words = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", view.sql.lower()))
        depends[view.name] = {name for name in by_name if name in words and name != view.name}
    ordered: list[ViewFile] = []
    placed: set[str] = set()
    while len(ordered) < len(views):
        ready = sorted(name for name in by_name if name not in placed and depends[name] <= placed)
        if not ready:
            cycle = sorted(name for name in by_name if name not in placed)
            raise ViewError(f"views depend on each other in a cycle: {', '.join(cycle)}")
        for name in ready:
            ordered.append(by_name[name])
            placed.add(name)
    return ordered


def _view_grants(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    """(view, grantee, privilege) granted to roles other than the owner: dropping a view drops its
    grants, so they are read before and given back after (e.g. the Retool read-only user)."""
    rows = conn.execute(
        """
        select grants.table_name, grants.grantee, grants.privilege_type
        from information_schema.role_table_grants as grants
        join information_schema.views as views
          on views.table_schema = grants.table_schema and views.table_name = grants.table_name
        where grants.table_schema = current_schema() and grants.grantee <> current_user
        """
    ).fetchall()
    return [(str(view), str(grantee), str(privilege)) for view, grantee, privilege in rows]


def recreate_views(conn: psycopg.Connection, directory: Path = VIEWS_DIR) -> list[str]:
    views = creation_order(discover(directory))
    with conn.transaction():
        grants = _view_grants(conn)
        existing = conn.execute(
            "select table_name from information_schema.views where table_schema = current_schema()"
        ).fetchall()
        for (name,) in existing:
            conn.execute(sql.SQL("drop view if exists {} cascade").format(sql.Identifier(name)))
        for view in views:
            try:
                conn.execute(view.sql.encode())  # file content, not user input
            except psycopg.Error as error:
                raise ViewError(f"view {view.path.name} failed: {error}") from error
        created = {view.name for view in views}
        for view_name, grantee, privilege in grants:
            if view_name in created:
                grantee_sql = sql.SQL("public") if grantee == "PUBLIC" else sql.Identifier(grantee)
                conn.execute(
                    sql.SQL("grant {} on {} to {}").format(sql.SQL(privilege), sql.Identifier(view_name), grantee_sql)
                )
    return [view.name for view in views]
