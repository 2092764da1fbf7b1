"""Linear issues for Tier 2 and Tier 3 tickets, delivered from the outbox exactly once.

The pipeline calls `enqueue_linear_issue` in the same transaction that routes a ticket to tier 2
or 3; `deliver_linear_outbox` (a Prefect task, a CLI command) later makes the issue. Linear has no
idempotency header, so "exactly once" rests on three things, checked in this order before any
issue is created:

1. our own mapping: a `linear_issues` row for the ticket means the work is done;
2. `attachmentsForURL(ticket url)`: the issue we made links back to the ticket, so after a crash
   between Linear's answer and our commit the issue is found by its link;
3. the issue's id: we choose it (`IssueCreateInput.id`, a UUID v4 derived from the ticket's
   public id), so even a crash between issueCreate and attachmentCreate, or an answer lost in a
   timeout, finds the issue by id instead of making a second one.

Each outbox row is handled in its own transaction (a savepoint when the caller already has one
open), with the row locked `for update skip locked` so two workers never deliver the same row.
The lock is held across the HTTP calls; that is the price of a simple, provably single delivery.

Failures: a retryable `LinearError` (rate limit, 5xx, timeout) reschedules the row with
exponential backoff, until `linear.delivery.max_attempts`; a non-retryable one (Linear refused the
input, a team that does not exist, a ticket whose route has no team) marks it `failed` with the
reason, for a human to look at. Anything else (a bug, the database) is ours and raises.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import psycopg
from psycopg.types.json import Jsonb

from backend.linear.client import IssueDraft, LinearClient, LinearError, LinearIssue
from backend.linear.config import LinearConfig, load_linear_config
from backend.linear.issue_content import (
    TicketContext,
    load_ticket_context,
    render_description,
    render_title,
    ticket_url,
)

logger = logging.getLogger(__name__)

LINEAR_ISSUE_KIND = "linear_issue"
ISSUE_CREATED_EVENT = "linear_issue_created"
EVENT_ACTOR = "linear"

# Fixed forever: changing it would change every ticket's issue id and break the by-id check.
_ISSUE_ID_NAMESPACE = "tier0/linear-issue/v1:"

DeliveryOutcome = Literal["created", "found_attachment", "found_by_id", "already_linked", "retry", "failed"]

# Named points in a delivery where tests inject a crash (`checkpoint`), to prove a crash anywhere
# between Linear's answer and our commit never leads to a second issue.
CHECKPOINTS = ("issue_created", "attachment_created", "before_commit")


def linear_issue_id_for(public_id: uuid.UUID | str) -> str:
    """The Linear issue id for a ticket: deterministic, and shaped as the UUID v4 Linear requires
    (schema.graphql: `IssueCreateInput.id` "The identifier in UUID v4 format")."""
    digest = hashlib.sha256(f"{_ISSUE_ID_NAMESPACE}{public_id}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def enqueue_linear_issue(conn: psycopg.Connection, ticket_id: int) -> None:
    """Queue the ticket's Linear issue, once: a second call for the same ticket does nothing.

    Runs in the caller's transaction, so the outbox row commits (or not) with the routing.
    """
    row = conn.execute("select public_id from tickets where ticket_id = %s", (ticket_id,)).fetchone()
    if row is None:
        raise LookupError(f"ticket {ticket_id} does not exist")
    public_id = row[0]
    conn.execute(
        """
        insert into outbox (kind, ticket_id, idempotency_key, payload)
        values (%s, %s, %s, %s)
        on conflict (idempotency_key) do nothing
        """,
        (
            LINEAR_ISSUE_KIND,
            ticket_id,
            f"linear:{public_id}",
            Jsonb({"ticket_public_id": str(public_id), "linear_issue_id": linear_issue_id_for(public_id)}),
        ),
    )


@dataclass(frozen=True)
class DeliveryResult:
    outbox_id: int
    ticket_id: int | None
    outcome: DeliveryOutcome
    identifier: str | None = None
    url: str | None = None
    error: str | None = None
    rate_limited: bool = False


@dataclass
class DeliveryReport:
    results: list[DeliveryResult] = field(default_factory=list)

    def count(self, outcome: DeliveryOutcome) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def delivered(self) -> int:
        """Rows finished: an issue created, an existing one recorded, or already linked."""
        return sum(1 for result in self.results if result.outcome not in ("retry", "failed"))

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def retry(self) -> int:
        return self.count("retry")

    @property
    def failed(self) -> int:
        return self.count("failed")


class _Undeliverable(Exception):
    """A row that can never be delivered as it stands (no ticket, no team for its route)."""


def deliver_linear_outbox(
    conn: psycopg.Connection,
    client: LinearClient,
    *,
    base_url: str,
    limit: int = 50,
    config: LinearConfig | None = None,
    now: datetime | None = None,
    checkpoint: Callable[[str], None] | None = None,
) -> DeliveryReport:
    """Deliver up to `limit` due `linear_issue` outbox rows; returns what happened to each.

    `base_url` is tier0's public address (the ticket link is `{base_url}/tickets/{ticket_id}`).
    `config` defaults to the policy's `linear:` section. `now` defaults to the current time (tests
    pass it to make rescheduled rows due). `checkpoint` is called with each name in `CHECKPOINTS`
    as a delivery passes it; tests raise from it to simulate a crash at that point.
    """
    config = config or _default_config()
    now = now or datetime.now(UTC)
    with conn.transaction():
        due = [
            row[0]
            for row in conn.execute(
                """
                select outbox_id from outbox
                where kind = %s and status = 'pending' and available_at <= %s
                order by available_at, outbox_id
                limit %s
                """,
                (LINEAR_ISSUE_KIND, now, limit),
            ).fetchall()
        ]
    report = DeliveryReport()
    for outbox_id in due:
        result = _deliver_one(conn, client, outbox_id, base_url=base_url, config=config, now=now, checkpoint=checkpoint)
        if result is None:
            continue
        report.results.append(result)
        logger.info("linear outbox %s (ticket %s): %s", outbox_id, result.ticket_id, result.outcome)
        if result.rate_limited:
            # Every further row would hit the same empty bucket: leave them for the next run
            # rather than spend their attempts.
            break
    return report


def _default_config() -> LinearConfig:
    from backend.policy.model import load_policy
    from backend.settings import get_settings

    return load_linear_config(load_policy(get_settings().policy_path))


def _deliver_one(
    conn: psycopg.Connection,
    client: LinearClient,
    outbox_id: int,
    *,
    base_url: str,
    config: LinearConfig,
    now: datetime,
    checkpoint: Callable[[str], None] | None,
) -> DeliveryResult | None:
    ticket_id: int | None = None
    attempts = 0
    try:
        with conn.transaction():
            row = conn.execute(
                """
                select ticket_id, attempts from outbox
                where outbox_id = %s and status = 'pending' and available_at <= %s
                for update skip locked
                """,
                (outbox_id, now),
            ).fetchone()
            if row is None:
                return None  # delivered or taken by another worker meanwhile
            ticket_id, attempts = row
            result = _make_issue(
                conn, client, outbox_id, ticket_id, base_url=base_url, config=config, now=now, checkpoint=checkpoint
            )
            conn.execute(
                """
                update outbox set status = 'delivered', delivered_at = %s, attempts = attempts + 1,
                                  last_error = null
                where outbox_id = %s
                """,
                (now, outbox_id),
            )
            if checkpoint:
                checkpoint("before_commit")
            return result
    except _Undeliverable as error:
        return _record_failure(conn, outbox_id, ticket_id, attempts, str(error), retry_in=None, now=now)
    except LinearError as error:
        attempts_now = attempts + 1
        retry_in: float | None = None
        if error.retryable and attempts_now < config.delivery.max_attempts:
            retry_in = max(error.retry_after or 0.0, config.delivery.retry_delay_seconds(attempts_now))
        result = _record_failure(conn, outbox_id, ticket_id, attempts, str(error), retry_in=retry_in, now=now)
        return replace(result, rate_limited=error.is_rate_limited)


def _record_failure(
    conn: psycopg.Connection,
    outbox_id: int,
    ticket_id: int | None,
    attempts: int,
    error: str,
    *,
    retry_in: float | None,
    now: datetime,
) -> DeliveryResult:
    logger.warning(
        "linear outbox %s (ticket %s) %s: %s",
        outbox_id,
        ticket_id,
        "will retry" if retry_in is not None else "failed",
        error,
    )
    with conn.transaction():
        if retry_in is not None:
            conn.execute(
                "update outbox set attempts = %s, last_error = %s, available_at = %s where outbox_id = %s",
                (attempts + 1, error[:2000], now + timedelta(seconds=retry_in), outbox_id),
            )
        else:
            conn.execute(
                "update outbox set status = 'failed', attempts = %s, last_error = %s where outbox_id = %s",
                (attempts + 1, error[:2000], outbox_id),
            )
    return DeliveryResult(
        outbox_id=outbox_id, ticket_id=ticket_id, outcome="retry" if retry_in is not None else "failed", error=error
    )


def _make_issue(
    conn: psycopg.Connection,
    client: LinearClient,
    outbox_id: int,
    ticket_id: int | None,
    *,
    base_url: str,
    config: LinearConfig,
    now: datetime,
    checkpoint: Callable[[str], None] | None,
) -> DeliveryResult:
    if ticket_id is None:
        raise _Undeliverable("outbox row has no ticket")
    linked = conn.execute("select identifier, url from linear_issues where ticket_id = %s", (ticket_id,)).fetchone()
    if linked is not None:
        return DeliveryResult(outbox_id, ticket_id, "already_linked", identifier=linked[0], url=linked[1])
    try:
        context = load_ticket_context(conn, ticket_id, earlier_limit=config.earlier_tickets)
    except LookupError as error:
        raise _Undeliverable(str(error)) from error
    team_key = config.team_for_route(context.route)
    if team_key is None:
        raise _Undeliverable(
            f"route {context.route!r} (tier {context.tier}) has no Linear team in linear.team_by_route"
        )

    link = ticket_url(base_url, ticket_id)
    missing_labels: tuple[str, ...] = ()
    found = client.attachments_for_url(link)
    issue: LinearIssue | None = found[0].issue if found else None
    outcome: DeliveryOutcome = "found_attachment"
    if issue is None:
        issue_id = linear_issue_id_for(context.public_id)
        issue = client.find_issue(issue_id)
        outcome = "found_by_id"
        if issue is None:
            issue, missing_labels = _create_issue(client, context, issue_id, team_key, base_url=base_url, config=config)
            outcome = "created"
            if checkpoint:
                checkpoint("issue_created")
        client.create_attachment(
            issue_id=issue.id, url=link, title=f"tier0 ticket #{ticket_id}", subtitle=render_title(context)
        )
        if checkpoint:
            checkpoint("attachment_created")

    conn.execute(
        """
        insert into linear_issues (ticket_id, linear_issue_id, identifier, url, team_key, created_at)
        values (%s, %s, %s, %s, %s, %s)
        on conflict (ticket_id) do nothing
        """,
        (ticket_id, issue.id, issue.identifier, issue.url, issue.team_key or team_key, now),
    )
    conn.execute(
        """
        insert into ticket_events (ticket_id, event_type, occurred_at, actor, data, dedupe_key)
        values (%s, %s, %s, %s, %s, %s)
        on conflict (dedupe_key) do nothing
        """,
        (
            ticket_id,
            ISSUE_CREATED_EVENT,
            now,
            EVENT_ACTOR,
            Jsonb(
                {
                    "linear_issue_id": issue.id,
                    "identifier": issue.identifier,
                    "url": issue.url,
                    "team_key": issue.team_key or team_key,
                    "how": outcome,
                    "missing_labels": list(missing_labels),
                }
            ),
            f"{ISSUE_CREATED_EVENT}:{ticket_id}",
        ),
    )
    return DeliveryResult(outbox_id, ticket_id, outcome, identifier=issue.identifier, url=issue.url)


def _create_issue(
    client: LinearClient,
    context: TicketContext,
    issue_id: str,
    team_key: str,
    *,
    base_url: str,
    config: LinearConfig,
) -> tuple[LinearIssue, tuple[str, ...]]:
    team = client.team(team_key)
    names = [
        name
        for name in (
            config.labels.category.get(context.category),
            config.labels.product_area.get(context.product_area),
            config.labels.integration.get(context.integration) if context.integration else None,
        )
        if name
    ]
    labels = client.label_ids(team.id, names) if names else None
    draft = IssueDraft(
        id=issue_id,
        team_id=team.id,
        title=render_title(context),
        description=render_description(context, base_url=base_url),
        priority=config.linear_priority(context.priority),
        label_ids=tuple(labels.ids.values()) if labels else (),
    )
    return client.create_issue(draft), (labels.missing if labels else ())
