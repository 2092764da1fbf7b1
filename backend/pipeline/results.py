"""Per-email results in the `tier0 triage --json` shape, read back from the database."""

from __future__ import annotations

from typing import Any

import psycopg


def email_results(conn: psycopg.Connection, mailbox: str) -> list[dict[str, Any]]:
    """One dict per stored email of the mailbox, in the order the source yielded them."""
    messages = conn.execute(
        """select message_pk, coalesce(source_label, source_id), message_id, kind, followup_of, outcome,
                  outcome_reason
           from messages where mailbox = %s order by message_pk""",
        (mailbox,),
    ).fetchall()
    tickets: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(
        """select tickets.message_pk, tickets.category, tickets.product_area, tickets.priority, tickets.tier,
                  tickets.route, tickets.integration, tickets.summary, tickets.is_flagged_for_review,
                  tickets.confidence, tickets.top_categories, tickets.classifier
           from tickets join messages using (message_pk)
           where messages.mailbox = %s
           order by tickets.message_pk, tickets.request_index""",
        (mailbox,),
    ):
        tickets.setdefault(row[0], []).append(
            {
                "category": row[1],
                "product_area": row[2],
                "priority": row[3],
                "tier": row[4],
                "route": row[5],
                "integration": row[6],
                "summary": row[7],
                "flagged_for_review": row[8],
                "confidence": row[9],
                "top_categories": row[10],
                "classifier": row[11],
            }
        )
    results = []
    for message_pk, label, message_id, kind, followup_of, outcome, reason in messages:
        result: dict[str, Any] = {
            "file": label,
            "message_id": message_id,
            "kind": kind,
            "followup_of": followup_of,
            "tickets": tickets.get(message_pk, []),
            "outcome": outcome,
        }
        if outcome == "failed":
            result["error"] = reason
        results.append(result)
    return results


CONTRACT_TICKET_KEYS = ("category", "product_area", "priority", "tier", "route", "integration", "summary")


def contract_view(result: dict[str, Any]) -> dict[str, Any]:
    """Exactly the keys `tier0 triage --json` promises (plus `error` for a failed email)."""
    view = {
        "file": result["file"],
        "message_id": result["message_id"],
        "kind": result["kind"],
        "followup_of": result["followup_of"],
        "tickets": [{key: ticket[key] for key in CONTRACT_TICKET_KEYS} for ticket in result["tickets"]],
    }
    if "error" in result:
        view["error"] = result["error"]
    return view
