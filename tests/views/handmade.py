"""A small hand-made history (2024, well before any test run's "now"), written so every number the
marts derive from it can be worked out by hand. The expected values in test_marts.py say how.

Business hours (config/policy.yaml): Mon-Fri 08:00-18:00, Sat 08:00-13:00, Sun closed, in the
account's timezone; tickets without an account use America/Chicago. US DST began on Sunday
2024-03-10 (Chicago UTC-6 -> UTC-5, New York UTC-5 -> UTC-4).

Recorded-at and updated-at stamps are set to the history's own times (as if it had been recorded back
then), so an incremental refresh in the test transaction can tell old history from new.

Tickets (account A = acme-ford, America/Chicago; B = bay-kia, America/New_York):
101 A how_to P4 tier 0: drafted, approved with edits, replied, resolved at tier 0, assumed then verified.
102 A account_access P3 tier 0 on a Saturday: auto-sent and resolved at tier 0.
103 B how_to P4 tier 0 on a Friday evening: draft rejected, escalated to ops (tier 1), resolved there.
104 A config_change P3 tier 1: replied, resolved, reopened by a follow-up, resolved again.
105 B integration_issue P2 tier 2: mis-routed core -> integrations, first response late (breach event).
106 A bug P3 tier 2: escalated to product-eng (tier 3), never answered: both clocks breached.
107 (no account) outage P1 tier 2: paged, answered in 10 minutes, resolved after 6 wall hours (breach).
108 B billing P3 tier 1: answered, then waiting on the customer (resolution clock paused: no due).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import psycopg

MAILBOX = "support@pam.example"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


ACCOUNTS = [
    ("acme-ford", "Acme Ford", "America/Chicago"),
    ("bay-kia", "Bay Kia", "America/New_York"),
]

# message_pk, kind, outcome, outcome_reason, sent_at, account_id
MESSAGES: list[tuple[int, str, str, str | None, str, str | None]] = [
    (1, "request", "tickets_created", None, "2024-03-04T15:00:00Z", "acme-ford"),
    (2, "request", "tickets_created", None, "2024-03-09T18:00:00Z", "acme-ford"),
    (3, "request", "tickets_created", None, "2024-03-08T22:00:00Z", "bay-kia"),
    (4, "request", "tickets_created", None, "2024-03-12T13:30:00Z", "acme-ford"),
    (5, "request", "tickets_created", None, "2024-03-13T14:00:00Z", "bay-kia"),
    (6, "request", "tickets_created", None, "2024-03-14T19:00:00Z", "acme-ford"),
    (7, "request", "tickets_created", None, "2024-03-16T03:00:00Z", None),
    (8, "request", "tickets_created", None, "2024-03-18T13:00:00Z", "bay-kia"),
    (9, "auto_reply", "automated", None, "2024-03-04T16:00:00Z", "acme-ford"),
    (10, "bounce", "automated", None, "2024-03-04T17:00:00Z", None),
    (11, "newsletter", "automated", None, "2024-03-05T12:00:00Z", None),
    (12, "thanks", "not_actionable", None, "2024-03-05T13:00:00Z", "acme-ford"),
    (13, "request", "failed", "classifier: timeout after 3 attempts", "2024-03-05T14:00:00Z", "bay-kia"),
    (14, "followup", "followup_attached", None, "2024-03-13T15:00:00Z", "acme-ford"),
    (15, "spam", "automated", None, "2024-03-05T15:00:00Z", None),
]

# ticket_id, message_pk, account, category, product_area, priority, tier, route, status, created_at,
# first_response_due_at, resolution_due_at, first_responded_at, resolved_at, resolved_tier
TICKETS: list[tuple[Any, ...]] = [
    (
        101,
        1,
        "acme-ford",
        "how_to",
        "dashboard",
        "P4",
        0,
        "ai",
        "resolved",
        "2024-03-04T15:00:00Z",
        "2024-03-05T15:00:00Z",
        "2024-03-18T15:00:00Z",
        "2024-03-04T16:00:00Z",
        "2024-03-05T16:00:00Z",
        0,
    ),
    (
        102,
        2,
        "acme-ford",
        "account_access",
        "dashboard",
        "P3",
        0,
        "ai",
        "resolved",
        "2024-03-09T18:00:00Z",
        "2024-03-11T16:00:00Z",
        "2024-03-14T14:00:00Z",
        "2024-03-09T18:01:00Z",
        "2024-03-09T18:30:00Z",
        0,
    ),
    (
        103,
        3,
        "bay-kia",
        "how_to",
        "pam_core",
        "P4",
        1,
        "ops",
        "resolved",
        "2024-03-08T22:00:00Z",
        "2024-03-11T16:00:00Z",
        "2024-03-22T16:00:00Z",
        "2024-03-11T14:00:00Z",
        "2024-03-11T20:00:00Z",
        1,
    ),
    (
        104,
        4,
        "acme-ford",
        "config_change",
        "pam_core",
        "P3",
        1,
        "ops",
        "resolved",
        "2024-03-12T13:30:00Z",
        "2024-03-12T17:30:00Z",
        "2024-03-15T14:30:00Z",
        "2024-03-12T16:30:00Z",
        "2024-03-14T13:30:00Z",
        1,
    ),
    (
        105,
        5,
        "bay-kia",
        "integration_issue",
        "integrations",
        "P2",
        2,
        "support-eng-integrations",
        "resolved",
        "2024-03-13T14:00:00Z",
        "2024-03-13T15:00:00Z",
        "2024-03-15T16:00:00Z",
        "2024-03-13T15:30:00Z",
        "2024-03-14T14:00:00Z",
        2,
    ),
    (
        106,
        6,
        "acme-ford",
        "bug",
        "pam_core",
        "P3",
        3,
        "product-eng",
        "open",
        "2024-03-14T19:00:00Z",
        "2024-03-14T23:00:00Z",
        "2024-03-19T14:00:00Z",
        None,
        None,
        None,
    ),
    (
        107,
        7,
        None,
        "outage",
        "telephony",
        "P1",
        2,
        "support-eng-core",
        "closed",
        "2024-03-16T03:00:00Z",
        "2024-03-16T03:15:00Z",
        "2024-03-16T07:00:00Z",
        "2024-03-16T03:10:00Z",
        "2024-03-16T09:00:00Z",
        2,
    ),
    (
        108,
        8,
        "bay-kia",
        "billing",
        "billing",
        "P3",
        1,
        "ops",
        "pending_customer",
        "2024-03-18T13:00:00Z",
        "2024-03-18T17:00:00Z",
        None,
        "2024-03-18T13:30:00Z",
        None,
        None,
    ),
]

# ticket_id, event_type, occurred_at, from_tier, to_tier, from_route, to_route, data
EVENTS: list[tuple[Any, ...]] = [
    (101, "created", "2024-03-04T15:00:00Z", None, None, None, None, {}),
    (101, "routed", "2024-03-04T15:00:00Z", None, 0, None, "ai", {"priority": "P4"}),
    (101, "drafted", "2024-03-04T15:05:00Z", None, None, None, None, {"draft_id": 201}),
    (101, "draft_approved", "2024-03-04T16:00:00Z", None, None, None, None, {"draft_id": 201, "edited": True}),
    (101, "reply_sent", "2024-03-04T16:00:00Z", None, None, None, None, {"draft_id": 201}),
    (101, "resolved", "2024-03-05T16:00:00Z", None, 0, None, None, {"resolution": "human"}),
    (101, "assumed_resolved", "2024-03-06T16:00:00Z", None, None, None, None, {}),
    (101, "verified_resolved", "2024-03-08T16:00:00Z", None, None, None, None, {}),
    (102, "created", "2024-03-09T18:00:00Z", None, None, None, None, {}),
    (102, "routed", "2024-03-09T18:00:00Z", None, 0, None, "ai", {}),
    (102, "drafted", "2024-03-09T18:00:30Z", None, None, None, None, {"draft_id": 202}),
    (102, "auto_sent", "2024-03-09T18:01:00Z", None, None, None, None, {"draft_id": 202, "confidence": 0.93}),
    (102, "reply_sent", "2024-03-09T18:01:00Z", None, None, None, None, {"draft_id": 202}),
    (102, "resolved", "2024-03-09T18:30:00Z", None, 0, None, None, {"resolution": "auto_sent"}),
    (103, "created", "2024-03-08T22:00:00Z", None, None, None, None, {}),
    (103, "routed", "2024-03-08T22:00:00Z", None, 0, None, "ai", {}),
    (103, "drafted", "2024-03-08T22:01:00Z", None, None, None, None, {"draft_id": 203}),
    (103, "draft_rejected", "2024-03-11T13:00:00Z", None, None, None, None, {"draft_id": 203, "reason": "wrong"}),
    (103, "escalated", "2024-03-11T13:00:00Z", 0, 1, "ai", "ops", {"reason": "draft rejected"}),
    (103, "reply_sent", "2024-03-11T14:00:00Z", None, None, None, None, {}),
    (103, "resolved", "2024-03-11T20:00:00Z", None, 1, None, None, {"resolution": "human"}),
    (104, "created", "2024-03-12T13:30:00Z", None, None, None, None, {}),
    (104, "routed", "2024-03-12T13:30:00Z", None, 1, None, "ops", {}),
    (104, "reply_sent", "2024-03-12T16:30:00Z", None, None, None, None, {}),
    (104, "resolved", "2024-03-13T14:00:00Z", None, 1, None, None, {"resolution": "human"}),
    (104, "customer_replied", "2024-03-13T15:00:00Z", None, None, None, None, {"kind": "followup"}),
    (104, "reopened", "2024-03-13T15:00:00Z", None, None, None, None, {"reason": "customer replied"}),
    (104, "resolved", "2024-03-14T13:30:00Z", None, 1, None, None, {"resolution": "human"}),
    (105, "created", "2024-03-13T14:00:00Z", None, None, None, None, {}),
    (105, "routed", "2024-03-13T14:00:00Z", None, 2, None, "support-eng-core", {}),
    (105, "misrouted", "2024-03-13T14:30:00Z", 2, 2, "support-eng-core", "support-eng-integrations", {}),
    (105, "sla_breach", "2024-03-13T15:00:00Z", None, None, None, None, {"clock": "first_response", "fraction": 1.0}),
    (105, "reply_sent", "2024-03-13T15:30:00Z", None, None, None, None, {}),
    (105, "resolved", "2024-03-14T14:00:00Z", None, 2, None, None, {"resolution": "human"}),
    (106, "created", "2024-03-14T19:00:00Z", None, None, None, None, {}),
    (106, "routed", "2024-03-14T19:00:00Z", None, 2, None, "support-eng-core", {}),
    (106, "sla_warning", "2024-03-14T22:00:00Z", None, None, None, None, {"clock": "first_response", "fraction": 0.75}),
    (106, "escalated", "2024-03-15T14:00:00Z", 2, 3, "support-eng-core", "product-eng", {"reason": "code change"}),
    (107, "created", "2024-03-16T03:00:00Z", None, None, None, None, {}),
    (107, "routed", "2024-03-16T03:00:00Z", None, 2, None, "support-eng-core", {"priority": "P1"}),
    (107, "paged", "2024-03-16T03:00:00Z", None, None, None, None, {"channel": "pager"}),
    (107, "reply_sent", "2024-03-16T03:10:00Z", None, None, None, None, {}),
    (107, "sla_breach", "2024-03-16T07:00:00Z", None, None, None, None, {"clock": "resolution", "fraction": 1.0}),
    (107, "resolved", "2024-03-16T09:00:00Z", None, 2, None, None, {"resolution": "linear"}),
    (108, "created", "2024-03-18T13:00:00Z", None, None, None, None, {}),
    (108, "routed", "2024-03-18T13:00:00Z", None, 1, None, "ops", {}),
    (108, "reply_sent", "2024-03-18T13:30:00Z", None, None, None, None, {}),
    (108, "waiting_on_customer", "2024-03-18T13:30:00Z", None, None, None, None, {}),
]

# draft_id, ticket_id, status, generator, created_at, decided_at, is_edited, reject_reason
DRAFTS: list[tuple[Any, ...]] = [
    (201, 101, "sent", "extractive", "2024-03-04T15:05:00Z", "2024-03-04T16:00:00Z", True, None),
    (202, 102, "sent", "extractive", "2024-03-09T18:00:30Z", "2024-03-09T18:01:00Z", False, None),
    (203, 103, "rejected", "extractive", "2024-03-08T22:01:00Z", "2024-03-11T13:00:00Z", False, "wrong article"),
]

# llm_call_id, model, purpose, outcome, cost_usd, started_at, [(ticket_id, share)]
LLM_CALLS: list[tuple[Any, ...]] = [
    (301, "claude-haiku-4-5", "triage", "ok", "0.003", "2024-03-04T15:00:10Z", [(101, "0.003")]),
    (302, "claude-haiku-4-5", "triage", "ok", "0.004", "2024-03-13T14:00:10Z", [(104, "0.002"), (105, "0.002")]),
    (303, "claude-haiku-4-5", "triage", "retry", None, "2024-03-13T14:00:05Z", []),
    (304, "claude-sonnet-4-5", "draft", "ok", "0.010", "2024-03-04T15:04:00Z", [(101, "0.010")]),
]

# checked_at, lag_seconds, is_stale
FRESHNESS: list[tuple[str, float, bool]] = [
    ("2024-03-04T10:00:00Z", 0.0, False),
    ("2024-03-04T12:00:00Z", 1200.0, True),
    ("2024-03-05T09:00:00Z", 60.0, False),
]


def _raw(message_pk: int) -> bytes:
    return f"Message-ID: <m{message_pk}@example.test>\r\n\r\nbody {message_pk}\r\n".encode()


def write_history(conn: psycopg.Connection) -> None:
    for account_id, name, timezone in ACCOUNTS:
        conn.execute(
            "insert into accounts (account_id, name, timezone) values (%s, %s, %s)", (account_id, name, timezone)
        )
    for message_pk, kind, outcome, reason, sent_at, account_id in MESSAGES:
        conversation = conn.execute(
            """insert into conversations (account_id, subject, created_at, last_message_at)
               values (%s, %s, %s, %s) returning conversation_id""",
            (account_id, f"subject {message_pk}", at(sent_at), at(sent_at)),
        ).fetchone()
        assert conversation is not None
        raw = _raw(message_pk)
        conn.execute(
            """insert into messages (message_pk, mailbox, source_id, raw, raw_sha256, size_bytes, message_id,
                                     sent_at, account_id, conversation_id, kind, outcome, outcome_reason,
                                     processed_at, ingested_at)
               overriding system value
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                message_pk,
                MAILBOX,
                f"hand-{message_pk}.eml",
                raw,
                hashlib.sha256(raw).hexdigest(),
                len(raw),
                f"<m{message_pk}@example.test>",
                at(sent_at),
                account_id,
                conversation[0],
                kind,
                outcome,
                reason,
                at(sent_at),
                at(sent_at),
            ),
        )
    for (
        ticket_id,
        message_pk,
        account_id,
        category,
        area,
        priority,
        tier,
        route,
        status,
        created_at,
        first_due,
        resolution_due,
        responded_at,
        resolved_at,
        resolved_tier,
    ) in TICKETS:
        conn.execute(
            """insert into tickets (ticket_id, conversation_id, message_pk, request_index, account_id, summary,
                                    request_text, category, product_area, priority, tier, route, status,
                                    classifier, model_version, created_at, first_response_due_at,
                                    resolution_due_at, first_responded_at, resolved_at, resolved_tier,
                                    updated_at)
               overriding system value
               select %s, conversation_id, message_pk, 0, %s, 'summary', 'text', %s, %s, %s, %s, %s, %s,
                      'hand', 'v1', %s, %s, %s, %s, %s, %s, sent_at
               from messages where message_pk = %s""",
            (
                ticket_id,
                account_id,
                category,
                area,
                priority,
                tier,
                route,
                status,
                at(created_at),
                at(first_due) if first_due else None,
                at(resolution_due) if resolution_due else None,
                at(responded_at) if responded_at else None,
                at(resolved_at) if resolved_at else None,
                resolved_tier,
                message_pk,
            ),
        )
    for ticket_id, event_type, occurred_at, from_tier, to_tier, from_route, to_route, data in EVENTS:
        conn.execute(
            """insert into ticket_events (ticket_id, event_type, occurred_at, from_tier, to_tier, from_route,
                                          to_route, data, recorded_at)
               values (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)""",
            (
                ticket_id,
                event_type,
                at(occurred_at),
                from_tier,
                to_tier,
                from_route,
                to_route,
                json.dumps(data),
                at(occurred_at),
            ),
        )
    for draft_id, ticket_id, status, generator, created_at, decided_at, is_edited, reject_reason in DRAFTS:
        conn.execute(
            """insert into drafts (draft_id, ticket_id, status, body, citations, generator, created_at,
                                   decided_at, is_edited, reject_reason, sent_at)
               overriding system value
               values (%s, %s, %s, 'draft body', %s::jsonb, %s, %s, %s, %s, %s, %s)""",
            (
                draft_id,
                ticket_id,
                status,
                json.dumps([{"slug": "export-reports", "version": 1}]),
                generator,
                at(created_at),
                at(decided_at),
                is_edited,
                reject_reason,
                at(decided_at) if status == "sent" else None,
            ),
        )
    for call_id, model, purpose, outcome, cost, started_at, shares in LLM_CALLS:
        conn.execute(
            """insert into llm_calls (llm_call_id, model, purpose, outcome, error, cost_usd, input_tokens,
                                      output_tokens, started_at, recorded_at)
               overriding system value
               values (%s, %s, %s, %s, %s, %s, 1000, 100, %s, %s)""",
            (
                call_id,
                model,
                purpose,
                outcome,
                None if outcome == "ok" else "overloaded",
                cost,
                at(started_at),
                at(started_at),
            ),
        )
        for ticket_id, share in shares:
            conn.execute(
                "insert into llm_call_tickets (llm_call_id, ticket_id, cost_share_usd) values (%s, %s, %s)",
                (call_id, ticket_id, share),
            )
    for checked_at, lag_seconds, is_stale in FRESHNESS:
        conn.execute(
            """insert into mail_freshness_checks (mailbox, checked_at, lag_seconds, max_lag_seconds, is_stale)
               values (%s, %s, %s, 900, %s)""",
            (MAILBOX, at(checked_at), lag_seconds, is_stale),
        )
    _write_kb(conn)


def _write_kb(conn: psycopg.Connection) -> None:
    articles = [
        ("export-reports", "article", "how_to", []),
        ("account-lockout", "runbook", None, ["account_access", "tekion"]),
    ]
    for slug, kind, category, applies_to in articles:
        conn.execute("insert into kb_articles (slug, kind, current_version) values (%s, %s, 1)", (slug, kind))
        conn.execute(
            """insert into kb_article_versions (slug, version, content_sha256, title, category, applies_to, body,
                                                url, search_vector, search_label)
               values (%s, 1, 'sha', %s, %s, %s, 'body', %s, to_tsvector('simple', %s), %s)""",
            (slug, slug, category, applies_to, f"https://help.example/{slug}", slug, slug),
        )
