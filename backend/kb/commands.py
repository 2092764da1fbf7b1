"""What the `tier0 kb ...` commands do, as functions the CLI wires (output goes to `echo`,
the return value is the exit code):

    tier0 kb import DIR                       -> kb_import_command(conn, DIR)
    tier0 kb search --queries FILE --json     -> kb_search_command(conn, FILE, as_json=True)
    tier0 kb search "some question"           -> kb_search_command(conn, query="some question")
    tier0 kb check [--golden FILE]            -> kb_check_command(conn, FILE)
    tier0 kb draft TICKET_ID                  -> kb_draft_command(conn, TICKET_ID)
    tier0 kb incident open --area A --title T --message M [--integration I]
                                              -> incident_open_command(conn, policy, ...)
    tier0 kb incident close ID / list         -> incident_close_command, incident_list_command

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
from backend.kb.incidents import Incident, close_incident, list_incidents, open_incident
from backend.kb.search import search_kb, search_queries_json
from backend.paths import SAMPLE_DATA_DIR
from backend.policy.model import Policy

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
    from backend.kb.claude_drafter import drafter_from_environment

    draft = draft_for_ticket(conn, ticket_id, claude=drafter_from_environment())
    conn.commit()
    if draft is None:
        echo(f"ticket {ticket_id}: no draft (no open incident explains it and no article answers it)")
        return 0
    echo(f"draft {draft.draft_id} ({draft.generator}, {draft.status}) citing "
         f"{[(citation['slug'], citation['version']) for citation in draft.citations]}")
    echo(draft.body)
    return 0


def _describe(incident: Incident) -> str:
    scope = f"{incident.product_area}/{incident.integration}" if incident.integration else incident.product_area
    state = f"closed {incident.ended_at:%Y-%m-%d %H:%M %Z}" if incident.ended_at else "open"
    since = f"{incident.started_at:%Y-%m-%d %H:%M %Z}"
    return f"incident {incident.incident_id} [{scope}] {incident.title!r}: {state}, since {since}"


def incident_open_command(
    conn: psycopg.Connection,
    policy: Policy,
    *,
    product_area: str,
    title: str,
    customer_message: str,
    integration: str | None = None,
    echo: Echo = print,
) -> int:
    """Open an incident; from now on new tickets it explains are linked to it and drafted its message.
    The area and integration must be the policy's: a typo would silently match no ticket."""
    if product_area not in policy.product_areas:
        echo(f"error: unknown product area {product_area!r}; the policy's: {', '.join(policy.product_areas)}")
        return 2
    if integration is not None and integration not in policy.integrations:
        echo(f"error: unknown integration {integration!r}; the policy's: {', '.join(policy.integrations)}")
        return 2
    if not title.strip() or not customer_message.strip():
        echo("error: an incident needs a title and the message customers will get")
        return 2
    incident = open_incident(conn, product_area=product_area, integration=integration, title=title.strip(),
                             customer_message=customer_message.strip())
    conn.commit()
    echo(_describe(incident))
    return 0


def incident_close_command(conn: psycopg.Connection, incident_id: int, echo: Echo = print) -> int:
    try:
        incident = close_incident(conn, incident_id)
    except LookupError as error:
        conn.rollback()
        echo(f"error: {error}")
        return 1
    conn.commit()
    echo(_describe(incident))
    return 0


def incident_list_command(conn: psycopg.Connection, *, include_closed: bool = False, echo: Echo = print) -> int:
    incidents = list_incidents(conn, include_closed=include_closed)
    if not incidents:
        echo("no open incidents" if not include_closed else "no incidents")
    for incident in incidents:
        linked = conn.execute(
            "select count(*) from ticket_incidents where incident_id = %s", (incident.incident_id,)
        ).fetchone()
        echo(f"{_describe(incident)}; {linked[0] if linked else 0} tickets linked")
    return 0
