"""What the `tier0 kb ...` commands do, as functions the CLI wires (output goes to `echo`,
the return value is the exit code):

    tier0 kb import DIR                       -> kb_import_command(conn, DIR)
    tier0 kb search --queries FILE --json     -> kb_search_command(conn, FILE, as_json=True)
    tier0 kb search "some question"           -> kb_search_command(conn, query="some question")
    tier0 kb check [--golden FILE]            -> kb_check_command(conn, FILE)
    tier0 kb draft TICKET_ID                  -> kb_draft_command(conn, TICKET_ID)

Each commits its own work (import, draft) on the connection it is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import psycopg

from backend.kb.check import GoldenFileError, kb_check
from backend.kb.drafts import draft_for_ticket
from backend.kb.importer import import_kb
from backend.kb.search import search_kb, search_queries_json
from backend.paths import SAMPLE_DATA_DIR

DEFAULT_GOLDEN = SAMPLE_DATA_DIR / "kb" / "golden.jsonl"

Echo = Callable[[str], None]


def kb_import_command(conn: psycopg.Connection, directory: Path, echo: Echo = print) -> int:
    result = import_kb(conn, directory)
    conn.commit()
    echo(result.summary())
    for error in result.errors:
        echo(f"error: {error}")
    return 0 if result.is_ok else 1


def kb_search_command(
    conn: psycopg.Connection,
    queries_file: Path | None = None,
    *,
    query: str | None = None,
    as_json: bool = False,
    echo: Echo = print,
) -> int:
    if queries_file is not None:
        for line in search_queries_json(conn, queries_file):
            if as_json:
                echo(json.dumps(line, ensure_ascii=False))
            else:
                hits = ", ".join(f"{hit['slug']} ({hit['score']:.3f})" for hit in line["results"])
                echo(f"{'answer' if line['answerable'] else 'no answer'}: {line['query']!r} -> {hits}")
        return 0
    if query is None:
        echo("give a query or --queries FILE")
        return 2
    result = search_kb(conn, query)
    if as_json:
        echo(json.dumps({"query": query, "answerable": result.answerable,
                         "results": [{"slug": hit.slug, "score": round(hit.score, 6)} for hit in result.results]}))
    else:
        echo("answerable" if result.answerable else "no article answers this")
        for hit in result.results:
            echo(f"  {hit.score:.3f}  {hit.slug} (v{hit.version})")
    return 0


def kb_check_command(conn: psycopg.Connection, golden_path: Path = DEFAULT_GOLDEN, echo: Echo = print) -> int:
    try:
        result = kb_check(conn, golden_path)
    except GoldenFileError as error:
        echo(f"error: {error}")
        return 2
    echo(result.summary())
    for failure in result.failures:
        echo(f"FAIL {failure.describe()}")
    return 0 if result.passed else 1


def kb_draft_command(conn: psycopg.Connection, ticket_id: int, echo: Echo = print) -> int:
    draft = draft_for_ticket(conn, ticket_id)
    conn.commit()
    if draft is None:
        echo(f"ticket {ticket_id}: no draft (no open incident explains it and no article answers it)")
        return 0
    echo(f"draft {draft.draft_id} ({draft.generator}, {draft.status}) citing "
         f"{[(citation['slug'], citation['version']) for citation in draft.citations]}")
    echo(draft.body)
    return 0
