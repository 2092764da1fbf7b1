"""Writing tickets: one row per request, with its events and outbox rows, in the caller's transaction.

A ticket's history lives in `ticket_events` (append-only): created, classified, routed, flagged
for review, customer replied, reopened. The outbox gets one row per side effect the ticket needs
(a Linear issue for tier 2-3, a Tier-0 draft, a page for an outage), each with an idempotency key,
so delivering them later can be retried without doing anything twice.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from backend.accounts.resolve import AccountFacts, Sender
from backend.policy.decide import Decision, RequestLabels, decide
from backend.policy.model import Policy
from backend.sla.clock import due_times
from backend.sla.config import BusinessHoursConfig, SlaConfig
from backend.triage.types import EmailTriage, PrioritySignals, RequestTriage

_SUMMARY_LIMIT = 200


def sla_configs(policy: Policy) -> tuple[SlaConfig, BusinessHoursConfig]:
    return policy.sla, policy.business_hours


def _event(
    conn: psycopg.Connection,
    ticket_id: int,
    event_type: str,
    occurred_at: datetime,
    *,
    dedupe_key: str,
    message_pk: int | None = None,
    data: dict[str, object] | None = None,
    from_tier: int | None = None,
    to_tier: int | None = None,
    from_route: str | None = None,
    to_route: str | None = None,
    actor: str = "system",
) -> None:
    conn.execute(
        """insert into ticket_events (ticket_id, event_type, occurred_at, actor, from_tier, to_tier, from_route,
                                      to_route, message_pk, data, dedupe_key)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           on conflict (dedupe_key) do nothing""",
        (
            ticket_id,
            event_type,
            occurred_at,
            actor,
            from_tier,
            to_tier,
            from_route,
            to_route,
            message_pk,
            Jsonb(data or {}),
            dedupe_key,
        ),
    )


def _outbox(conn: psycopg.Connection, kind: str, ticket_id: int, key: str, payload: dict[str, object]) -> None:
    conn.execute(
        """insert into outbox (kind, ticket_id, idempotency_key, payload) values (%s, %s, %s, %s)
           on conflict (idempotency_key) do nothing""",
        (kind, ticket_id, key, Jsonb(payload)),
    )


def _fallback_request(policy: Policy, text: str) -> RequestTriage:
    """An email with no request the classifier could name still becomes a ticket, flagged for a human."""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "(no text)")
    return RequestTriage(
        text=text,
        summary=first_line[:_SUMMARY_LIMIT],
        category="feedback" if "feedback" in policy.categories else policy.category_names[0],
        product_area="other" if "other" in policy.product_areas else policy.product_area_names[0],
        integration=None,
        signals=PrioritySignals(),
        sentiment="neutral",
        confidence=0.0,
        needs_review=True,
    )


def _valid_labels(policy: Policy, request: RequestTriage) -> tuple[RequestTriage, bool]:
    """A label outside the policy is never stored: the request is flagged instead."""
    category_ok = request.category in policy.categories
    area_ok = request.product_area in policy.product_areas
    integration_ok = request.integration is None or request.integration in policy.integrations
    if category_ok and area_ok and integration_ok:
        return request, request.needs_review
    fixed = RequestTriage(
        text=request.text,
        summary=request.summary,
        category=request.category if category_ok else _fallback_request(policy, "").category,
        product_area=request.product_area if area_ok else "other",
        integration=request.integration if integration_ok else None,
        signals=request.signals,
        sentiment=request.sentiment,
        confidence=request.confidence,
        top_categories=request.top_categories,
        needs_review=True,
    )
    return fixed, True


def create_tickets(
    conn: psycopg.Connection,
    policy: Policy,
    triage: EmailTriage,
    *,
    conversation_id: int,
    message_pk: int,
    sent_at: datetime,
    sender: Sender,
    first_index: int = 0,
    fallback_text: str | None = None,
) -> list[int]:
    requests = list(triage.requests)
    if not requests and fallback_text is not None:
        requests = [_fallback_request(policy, fallback_text)]
    sla_config, hours = sla_configs(policy)
    account = sender.account
    ticket_ids: list[int] = []
    for offset, raw_request in enumerate(requests):
        request, flagged = _valid_labels(policy, raw_request)
        decision = decide(
            policy,
            RequestLabels(request.category, request.product_area, request.signals, needs_review=flagged),
            account,
            sent_at,
        )
        due = due_times(decision.priority, sent_at, account.timezone if account else None, sla_config, hours)
        ticket_id = _insert_ticket(
            conn,
            request,
            decision,
            triage,
            conversation_id=conversation_id,
            message_pk=message_pk,
            request_index=first_index + offset,
            sent_at=sent_at,
            sender=sender,
            first_response_due=due.first_response_due,
            resolution_due=due.resolution_due,
        )
        _record_creation(conn, ticket_id, request, decision, triage, message_pk=message_pk, sent_at=sent_at)
        ticket_ids.append(ticket_id)
    return ticket_ids


def _insert_ticket(
    conn: psycopg.Connection,
    request: RequestTriage,
    decision: Decision,
    triage: EmailTriage,
    *,
    conversation_id: int,
    message_pk: int,
    request_index: int,
    sent_at: datetime,
    sender: Sender,
    first_response_due: datetime | None,
    resolution_due: datetime | None,
) -> int:
    row = conn.execute(
        """
        insert into tickets (conversation_id, message_pk, request_index, account_id, contact_id, summary,
                             request_text, category, product_area, integration, priority, tier, route,
                             sentiment, confidence, is_flagged_for_review, classifier, model_version, signals,
                             top_categories, priority_reasons, created_at, first_response_due_at,
                             resolution_due_at)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (message_pk, request_index) do nothing
        returning ticket_id
        """,
        (
            conversation_id,
            message_pk,
            request_index,
            sender.account.account_id if sender.account else None,
            sender.contact_id,
            (request.summary or request.text)[:_SUMMARY_LIMIT],
            request.text,
            request.category,
            request.product_area,
            request.integration,
            decision.priority,
            decision.tier,
            decision.route,
            request.sentiment,
            request.confidence,
            decision.flagged_for_review,
            triage.classifier or "unknown",
            triage.model_version or "unknown",
            Jsonb(asdict(request.signals)),
            Jsonb([[label, score] for label, score in request.top_categories]),
            Jsonb(list(decision.priority_reasons)),
            sent_at,
            first_response_due,
            resolution_due,
        ),
    ).fetchone()
    if row is None:
        existing = conn.execute(
            "select ticket_id from tickets where message_pk = %s and request_index = %s", (message_pk, request_index)
        ).fetchone()
        assert existing is not None
        return int(existing[0])
    return int(row[0])


def _record_creation(
    conn: psycopg.Connection,
    ticket_id: int,
    request: RequestTriage,
    decision: Decision,
    triage: EmailTriage,
    *,
    message_pk: int,
    sent_at: datetime,
) -> None:
    key = f"ticket:{ticket_id}"
    _event(conn, ticket_id, "created", sent_at, dedupe_key=f"{key}:created", message_pk=message_pk)
    _event(
        conn,
        ticket_id,
        "classified",
        sent_at,
        dedupe_key=f"{key}:classified",
        message_pk=message_pk,
        data={
            "classifier": triage.classifier,
            "model_version": triage.model_version,
            "category": request.category,
            "product_area": request.product_area,
            "integration": request.integration,
            "confidence": request.confidence,
            "top_categories": [[label, score] for label, score in request.top_categories],
            "signals": asdict(request.signals),
        },
    )
    _event(
        conn,
        ticket_id,
        "routed",
        sent_at,
        dedupe_key=f"{key}:routed",
        message_pk=message_pk,
        to_tier=decision.tier,
        to_route=decision.route,
        data={"priority": decision.priority, "reasons": list(decision.priority_reasons)},
    )
    if decision.flagged_for_review:
        _event(
            conn,
            ticket_id,
            "flagged_for_review",
            sent_at,
            dedupe_key=f"{key}:flagged",
            message_pk=message_pk,
            data={"reason": "classifier abstained or gave a label outside the policy"},
        )
    public_id = conn.execute("select public_id from tickets where ticket_id = %s", (ticket_id,)).fetchone()
    assert public_id is not None
    if decision.tier >= 2:
        _outbox(conn, "linear_issue", ticket_id, f"linear:{public_id[0]}", {"ticket_id": ticket_id})
    # Every new ticket is offered to drafting, whatever its tier: a ticket that matches an open
    # incident gets the incident message as its draft (outages start at Tier 2/3), and the KB
    # drafts only for the policy's `kb.draft_tiers` (Tier 0 answers, Tier 1 help for OPS).
    _outbox(conn, "draft_reply", ticket_id, f"draft:{public_id[0]}", {"ticket_id": ticket_id})
    if decision.page_on_call or decision.priority == "P1":
        _outbox(conn, "page", ticket_id, f"page:{public_id[0]}", {"ticket_id": ticket_id, "priority": "P1"})


def record_followup(
    conn: psycopg.Connection,
    policy: Policy,
    *,
    conversation_id: int,
    message_pk: int,
    sent_at: datetime,
    kind: str,
    account: AccountFacts | None,
) -> list[int]:
    """A reply in a conversation updates its tickets. A reply to a resolved ticket reopens it; after
    `threading.reopen_within_days` it opens a new ticket linked to the old one instead.
    Returns the ids of tickets created for that reason (reopening creates none)."""
    event_type = "customer_thanked" if kind == "thanks" else "customer_replied"
    rows = conn.execute(
        "select ticket_id, status, resolved_at from tickets where conversation_id = %s order by ticket_id",
        (conversation_id,),
    ).fetchall()
    created: list[int] = []
    window = timedelta(days=policy.threading.reopen_within_days)
    for ticket_id, status, resolved_at in rows:
        _event(
            conn,
            ticket_id,
            event_type,
            sent_at,
            dedupe_key=f"message:{message_pk}:{event_type}:{ticket_id}",
            message_pk=message_pk,
            data={"kind": kind},
        )
        if kind == "thanks" or status not in ("resolved", "closed"):
            if status == "pending_customer" and kind != "thanks":
                conn.execute(
                    "update tickets set status = 'open', updated_at = now() where ticket_id = %s", (ticket_id,)
                )
            continue
        if resolved_at is not None and sent_at - resolved_at <= window:
            conn.execute(
                """update tickets set status = 'open', resolved_at = null, resolved_tier = null, updated_at = now()
                   where ticket_id = %s""",
                (ticket_id,),
            )
            _event(
                conn,
                ticket_id,
                "reopened",
                sent_at,
                dedupe_key=f"message:{message_pk}:reopened:{ticket_id}",
                message_pk=message_pk,
                data={"reason": "customer replied to a resolved ticket"},
            )
        else:
            created.extend(_successor_ticket(conn, policy, ticket_id, message_pk, sent_at, account))
    return created


def _successor_ticket(
    conn: psycopg.Connection,
    policy: Policy,
    old_ticket_id: int,
    message_pk: int,
    sent_at: datetime,
    account: AccountFacts | None,
) -> list[int]:
    old = conn.execute(
        """select conversation_id, contact_id, summary, category, product_area, integration, classifier,
                  model_version from tickets where ticket_id = %s""",
        (old_ticket_id,),
    ).fetchone()
    assert old is not None
    conversation_id, contact_id, summary, category, area, integration, classifier, model_version = old
    reply = conn.execute(
        "select coalesce(reply_text, '') from messages where message_pk = %s", (message_pk,)
    ).fetchone()
    request = RequestTriage(
        text=reply[0] if reply else "",
        summary=f"Follow-up to closed ticket #{old_ticket_id}: {summary}",
        category=category,
        product_area=area,
        integration=integration,
        signals=PrioritySignals(),
        sentiment="neutral",
        confidence=1.0,
    )
    index_row = conn.execute(
        "select coalesce(max(request_index) + 1, 100) from tickets where message_pk = %s", (message_pk,)
    ).fetchone()
    assert index_row is not None
    triage = EmailTriage(requests=[request], classifier=classifier, model_version=model_version)
    ticket_ids = create_tickets(
        conn,
        policy,
        triage,
        conversation_id=conversation_id,
        message_pk=message_pk,
        sent_at=sent_at,
        sender=Sender(contact_id, account),
        first_index=max(100, int(index_row[0])),
    )
    for ticket_id in ticket_ids:
        _event(
            conn,
            ticket_id,
            "linked_to_previous",
            sent_at,
            dedupe_key=f"ticket:{ticket_id}:linked",
            message_pk=message_pk,
            data={"previous_ticket_id": old_ticket_id},
        )
    return ticket_ids
