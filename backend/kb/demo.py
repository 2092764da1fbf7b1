"""The demo knowledge base shipped in data/kb (help-center articles and runbooks), imported into
an empty knowledge base so search, the check and drafts work on a fresh machine."""

from __future__ import annotations

import psycopg

from backend.kb.importer import import_kb
from backend.paths import SAMPLE_DATA_DIR

DEMO_KB_DIRS = (SAMPLE_DATA_DIR / "kb" / "articles", SAMPLE_DATA_DIR / "kb" / "runbooks")


def kb_is_empty(conn: psycopg.Connection) -> bool:
    return conn.execute("select not exists (select 1 from kb_articles)").fetchone() == (True,)


def ensure_demo_kb(conn: psycopg.Connection) -> int:
    """Import the demo KB when the knowledge base is empty; returns how many articles were imported."""
    if not kb_is_empty(conn):
        return 0
    imported = 0
    for directory in DEMO_KB_DIRS:
        result = import_kb(conn, directory)
        imported += len(result.created)
    conn.commit()
    return imported
