"""Corrections OPS make become training examples.

When a person changes a ticket's category or product area (the approval API's relabel action
writes a `relabelled` event with `before` and `after`), the ticket's request text with the
corrected labels is a training example. The latest correction of a ticket wins. `tier0 train`
reads them next to a labelled mailbox and the written examples.
"""

from __future__ import annotations

import psycopg

from backend.triage.model import TrainingExample


def correction_examples(conn: psycopg.Connection) -> list[TrainingExample]:
    rows = conn.execute(
        """
        select distinct on (events.ticket_id)
            events.ticket_id, tickets.request_text, events.data -> 'after' ->> 'category',
            events.data -> 'after' ->> 'product_area', tickets.integration
        from ticket_events as events
        join tickets on tickets.ticket_id = events.ticket_id
        where events.event_type = 'relabelled' and events.actor like 'user:%%'
        order by events.ticket_id, events.occurred_at desc, events.event_id desc
        """
    ).fetchall()
    examples = []
    for ticket_id, text, category, product_area, integration in rows:
        if not text or not category or not product_area:
            continue
        examples.append(
            TrainingExample(
                text=text,
                role="request",
                category=category,
                product_area=product_area,
                integration=integration,
                source=f"correction/ticket-{ticket_id}",
            )
        )
    return examples
