"""Known incidents: while one is open, tickets it explains are linked to it and answered with its
customer message (Tier 0's "known-incident replies", POLICY.md).

An incident names a product area and, optionally, an integration. A ticket matches an open
incident when its category is one an incident can explain (policy `kb.incident_categories`:
an outage explains "appointments are not syncing", not an invoice question) and

- the incident names an integration and the ticket is about that integration, or
- the incident names no integration and the ticket is in its product area.

(A CDK incident does not explain a Tekion ticket although both are `integrations`.)

Failures are ours (database errors raise); closing an unknown or already closed incident raises
`LookupError`, since the caller named something that is not there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from backend.kb.config import KbSettings


@dataclass(frozen=True)
class Incident:
    incident_id: int
    product_area: str
    integration: str | None
    title: str
    customer_message: str
    started_at: dt.datetime
    ended_at: dt.datetime | None


_COLUMNS = "incident_id, product_area, integration, title, customer_message, started_at, ended_at"


def open_incident(
    conn: psycopg.Connection,
    *,
    product_area: str,
    title: str,
    customer_message: str,
    integration: str | None = None,
    started_at: dt.datetime | None = None,
) -> Incident:
    row = conn.execute(
        f"""
        insert into incidents (product_area, integration, title, customer_message, started_at)
        values (%s, %s, %s, %s, coalesce(%s, now()))
        returning {_COLUMNS}
        """,
        (product_area, integration, title, customer_message, started_at),
    ).fetchone()
    assert row is not None
    return Incident(*row)


def close_incident(conn: psycopg.Connection, incident_id: int, ended_at: dt.datetime | None = None) -> Incident:
    row = conn.execute(
        f"""
        update incidents set ended_at = coalesce(%s, now())
        where incident_id = %s and ended_at is null
        returning {_COLUMNS}
        """,
        (ended_at, incident_id),
    ).fetchone()
    if row is None:
        raise LookupError(f"no open incident {incident_id}")
    return Incident(*row)


def list_incidents(conn: psycopg.Connection, *, include_closed: bool = False) -> list[Incident]:
    """Open incidents (and closed ones when asked), newest first."""
    rows = conn.execute(
        f"""select {_COLUMNS} from incidents
            where %s or ended_at is null
            order by started_at desc, incident_id desc""",
        (include_closed,),
    ).fetchall()
    return [Incident(*row) for row in rows]


def matching_open_incident(
    conn: psycopg.Connection,
    *,
    category: str,
    product_area: str,
    integration: str | None,
    settings: KbSettings,
) -> Incident | None:
    """The most recently started open incident that explains such a ticket, if any."""
    if category not in settings.incident_categories:
        return None
    row = conn.execute(
        f"""
        select {_COLUMNS}
        from incidents
        where ended_at is null
            and case
                when integration is not null then integration = %(integration)s
                else product_area = %(product_area)s
            end
        order by started_at desc, incident_id desc
        limit 1
        """,
        {"integration": integration, "product_area": product_area},
    ).fetchone()
    return Incident(*row) if row else None


def link_ticket(conn: psycopg.Connection, ticket_id: int, incident: Incident) -> bool:
    """Link the ticket to the incident (once); True when the link is new. Records an
    'incident_linked' ticket event with the link."""
    inserted = conn.execute(
        """
        insert into ticket_incidents (ticket_id, incident_id) values (%s, %s)
        on conflict do nothing
        returning ticket_id
        """,
        (ticket_id, incident.incident_id),
    ).fetchone()
    if inserted is None:
        return False
    conn.execute(
        """
        insert into ticket_events (ticket_id, event_type, occurred_at, actor, data, dedupe_key)
        values (%s, 'incident_linked', now(), 'kb', %s, %s)
        on conflict (dedupe_key) do nothing
        """,
        (
            ticket_id,
            Jsonb({"incident_id": incident.incident_id, "title": incident.title}),
            f"incident_linked:{ticket_id}:{incident.incident_id}",
        ),
    )
    return True
