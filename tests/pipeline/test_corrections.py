"""OPS relabels become training examples for `tier0 train`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from backend.triage.corrections import correction_examples
from tests.pipeline.conftest import ingest, request_email


def relabel(db: psycopg.Connection, ticket_id: int, after: dict[str, str], *, actor: str, minutes: int) -> None:
    db.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, actor, data)
           values (%s, 'relabelled', %s, %s, %s)""",
        (ticket_id, datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=minutes), actor,
         Jsonb({"before": {"category": "bug", "product_area": "dashboard"}, "after": after})),
    )


def test_latest_human_relabel_of_each_ticket_is_an_example(db, config, accounts) -> None:  # type: ignore[no-untyped-def]
    ingest(db, config, ("0001.eml", request_email(body="[bug/dashboard]\n[how_to/dashboard]")))
    first, second = [row[0] for row in db.execute("select ticket_id from tickets order by ticket_id")]
    relabel(db, first, {"category": "how_to", "product_area": "dashboard"}, actor="user:maria", minutes=1)
    relabel(db, first, {"category": "feature_request", "product_area": "mobile"}, actor="user:maria", minutes=2)
    relabel(db, second, {"category": "billing", "product_area": "billing"}, actor="system", minutes=3)
    examples = correction_examples(db)
    assert [(e.category, e.product_area, e.source) for e in examples] == [
        ("feature_request", "mobile", f"correction/ticket-{first}")
    ]
    assert examples[0].text == "[bug/dashboard]"
