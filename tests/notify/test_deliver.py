"""Delivering pages and notifications from the outbox on a real Postgres: once per channel, the
`paged`/`notified` events, retries with backoff that end in `failed` (never a loop), and the SLA
monitor's breach notice reaching the queue lead exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from backend.escalation.sla_monitor import check_slas
from backend.notify.config import NotificationsConfig, parse_notifications_config
from backend.notify.deliver import deliver_notifications, enqueue_notification
from backend.notify.message import Notification
from backend.notify.notifiers import Notifier
from backend.policy.model import load_policy
from tests.escalation.seed import events_of, make_account, make_ticket
from tests.notify.conftest import FakeSlack, SmtpServer, notifications_section

NOW = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)  # Monday 10:00 Chicago: shift 17 of the rotation, dev's


def _p1_page(db: psycopg.Connection) -> tuple[int, int]:
    """A P1 ticket and the page row the pipeline queues for it (kind 'page', key 'page:<public_id>')."""
    make_account(db, "lakeside")
    ticket = make_ticket(
        db,
        created_at=NOW - timedelta(minutes=1),
        account_id="lakeside",
        priority="P1",
        tier=2,
        route="support-eng-core",
        category="outage",
        product_area="telephony",
        summary="Pam stopped answering calls at all three stores",
    )
    row = db.execute(
        """insert into outbox (kind, ticket_id, idempotency_key, payload, available_at)
           select 'page', ticket_id, 'page:' || public_id, %s, %s from tickets where ticket_id = %s
           returning outbox_id""",
        (Jsonb({"ticket_id": ticket, "priority": "P1"}), NOW - timedelta(minutes=1), ticket),
    ).fetchone()
    assert row is not None
    return ticket, int(row[0])


def _outbox(db: psycopg.Connection, outbox_id: int) -> tuple[Any, ...]:
    row = db.execute(
        "select status, attempts, available_at, last_error from outbox where outbox_id = %s", (outbox_id,)
    ).fetchone()
    assert row is not None
    return tuple(row)


def _deliveries(db: psycopg.Connection, outbox_id: int) -> dict[str, tuple[str, int]]:
    rows = db.execute(
        "select channel, status, attempts from notification_deliveries where outbox_id = %s", (outbox_id,)
    ).fetchall()
    return {channel: (status, attempts) for channel, status, attempts in rows}


def test_a_p1_page_goes_to_the_on_call_person_on_every_channel_once(
    db: psycopg.Connection, notify_config: NotificationsConfig, slack: FakeSlack, smtp_server: SmtpServer
) -> None:
    ticket, outbox_id = _p1_page(db)
    notifiers: dict[str, Notifier] = {"slack": slack.notifier(), "email": smtp_server.notifier()}

    report = deliver_notifications(db, notifiers, now=NOW, config=notify_config)
    assert (report.delivered, report.sent) == (1, 2)
    assert _outbox(db, outbox_id)[:2] == ("delivered", 1)
    assert _deliveries(db, outbox_id) == {"slack": ("delivered", 1), "email": ("delivered", 1)}
    [(envelope, message)] = smtp_server.handler.messages
    assert envelope.rcpt_tos == ["dev@pam.example"]
    assert message["Subject"].startswith("[tier0 PAGE] P1 page: ticket #")
    assert "Pam stopped answering calls" in slack.requests[0].content.decode()
    paged = events_of(db, ticket, "paged")
    assert [(event[7]["channel"], event[7]["target"], event[7]["role"]) for event in paged] == [
        ("slack", "dev", "on_call"),
        ("email", "dev", "on_call"),
    ]
    assert paged[1][7]["address"] == "email:dev@pam.example"

    # A retry of the run (or a second worker) sends nothing again.
    again = deliver_notifications(db, notifiers, now=NOW + timedelta(hours=1), config=notify_config)
    assert again.rows == [] and len(slack.requests) == 1 and len(smtp_server.handler.messages) == 1
    assert len(events_of(db, ticket, "paged")) == 2


def test_a_failing_webhook_is_retried_with_backoff_then_failed_never_in_a_loop(
    db: psycopg.Connection, notify_config: NotificationsConfig, slack: FakeSlack, smtp_server: SmtpServer
) -> None:
    slack.default = (500, "rollup_error")
    _ticket, outbox_id = _p1_page(db)
    notifiers: dict[str, Notifier] = {"slack": slack.notifier(), "email": smtp_server.notifier()}

    first = deliver_notifications(db, notifiers, now=NOW, config=notify_config)
    assert first.retry == 1 and first.sent == 1  # the email went out; Slack will be retried
    assert _outbox(db, outbox_id)[:3] == ("pending", 1, NOW + timedelta(seconds=60))
    # Not due yet: the same instant sends nothing.
    assert deliver_notifications(db, notifiers, now=NOW, config=notify_config).rows == []
    assert len(slack.requests) == 1

    second = deliver_notifications(db, notifiers, now=NOW + timedelta(seconds=60), config=notify_config)
    assert second.retry == 1 and second.sent == 0
    assert _outbox(db, outbox_id)[:3] == ("pending", 2, NOW + timedelta(seconds=60 + 120))

    third = deliver_notifications(db, notifiers, now=NOW + timedelta(seconds=180), config=notify_config)
    assert third.failed == 1
    status, attempts, _available, last_error = _outbox(db, outbox_id)
    assert (status, attempts) == ("failed", 3)  # notifications.delivery.max_attempts
    assert "gave up after 3 attempts" in last_error and "rollup_error" in last_error
    assert _deliveries(db, outbox_id) == {"slack": ("failed", 3), "email": ("delivered", 1)}

    assert deliver_notifications(db, notifiers, now=NOW + timedelta(days=7), config=notify_config).rows == []
    assert len(slack.requests) == 3 and len(smtp_server.handler.messages) == 1


def test_a_permanent_refusal_fails_at_once_and_keeps_what_was_delivered(
    db: psycopg.Connection, notify_config: NotificationsConfig, slack: FakeSlack, smtp_server: SmtpServer
) -> None:
    slack.default = (404, "channel_not_found")
    _ticket, outbox_id = _p1_page(db)
    notifiers: dict[str, Notifier] = {"slack": slack.notifier(), "email": smtp_server.notifier()}
    report = deliver_notifications(db, notifiers, now=NOW, config=notify_config)
    assert report.failed == 1 and report.sent == 1
    assert _outbox(db, outbox_id)[:2] == ("failed", 1)
    assert _deliveries(db, outbox_id) == {"slack": ("failed", 1), "email": ("delivered", 1)}
    assert len(slack.requests) == 1


def test_a_retry_resends_only_on_the_channel_that_failed(
    db: psycopg.Connection, notify_config: NotificationsConfig, slack: FakeSlack, smtp_server: SmtpServer
) -> None:
    slack.script.append((503, "", {}))
    ticket, outbox_id = _p1_page(db)
    notifiers: dict[str, Notifier] = {"slack": slack.notifier(), "email": smtp_server.notifier()}
    deliver_notifications(db, notifiers, now=NOW, config=notify_config)
    report = deliver_notifications(db, notifiers, now=NOW + timedelta(minutes=5), config=notify_config)
    assert report.delivered == 1 and report.sent == 1
    assert len(slack.requests) == 2 and len(smtp_server.handler.messages) == 1
    assert _deliveries(db, outbox_id) == {"slack": ("delivered", 2), "email": ("delivered", 1)}
    assert len(events_of(db, ticket, "paged")) == 2


def test_a_channel_without_a_notifier_is_retried_then_failed_with_the_reason(
    db: psycopg.Connection, notify_config: NotificationsConfig, smtp_server: SmtpServer
) -> None:
    _ticket, outbox_id = _p1_page(db)
    notifiers: dict[str, Notifier] = {"email": smtp_server.notifier()}
    for minutes in (0, 1, 3):
        deliver_notifications(db, notifiers, now=NOW + timedelta(minutes=minutes), config=notify_config)
    status, attempts, _available, last_error = _outbox(db, outbox_id)
    assert (status, attempts) == ("failed", 3)
    assert "no notifier for channel 'slack'" in last_error
    assert len(smtp_server.handler.messages) == 1


class _Broken:
    def __init__(self) -> None:
        self.calls = 0

    def send(self, notification: Notification) -> str:
        self.calls += 1
        raise KeyError("a bug")


def test_our_own_bug_in_a_notifier_is_recorded_and_never_resent(
    db: psycopg.Connection, notify_config: NotificationsConfig, smtp_server: SmtpServer
) -> None:
    _ticket, outbox_id = _p1_page(db)
    broken = _Broken()
    notifiers: dict[str, Notifier] = {"slack": broken, "email": smtp_server.notifier()}
    report = deliver_notifications(db, notifiers, now=NOW, config=notify_config)
    assert report.failed == 1 and len(report.internal_errors) == 1 and "KeyError" in report.internal_errors[0]
    assert deliver_notifications(db, notifiers, now=NOW + timedelta(days=1), config=notify_config).rows == []
    assert broken.calls == 1 and len(smtp_server.handler.messages) == 1
    assert _deliveries(db, outbox_id)["slack"] == ("failed", 1)


def test_an_event_without_a_rule_fails_visibly(db: psycopg.Connection, slack: FakeSlack) -> None:
    config = parse_notifications_config(notifications_section(events={}))
    _ticket, outbox_id = _p1_page(db)
    report = deliver_notifications(db, {"slack": slack.notifier()}, now=NOW, config=config)
    assert report.failed == 1
    assert _outbox(db, outbox_id)[3] == "notifications.events has no rule for event 'p1_created'"
    assert slack.requests == []


def test_a_queue_without_a_lead_falls_back_to_the_on_call_person(
    db: psycopg.Connection, notify_config: NotificationsConfig
) -> None:
    sent: list[Notification] = []

    class Recorder:
        def send(self, notification: Notification) -> str:
            sent.append(notification)
            return "recorded"

    ticket = make_ticket(db, created_at=NOW - timedelta(hours=3), tier=0, route="ai", category="how_to")
    enqueue_notification(
        db,
        ticket_id=ticket,
        event="sla_breach",
        idempotency_key="k1",
        payload={"clock": "first_response"},
        available_at=NOW,
    )
    deliver_notifications(db, {"slack": Recorder(), "email": Recorder()}, now=NOW, config=notify_config)
    assert [(n.recipient.person, n.recipient.role) for n in sent] == [("dev", "on_call"), ("dev", "on_call")]


def test_an_sla_breach_notifies_the_new_queues_lead_once(
    db: psycopg.Connection, notify_config: NotificationsConfig, slack: FakeSlack, smtp_server: SmtpServer
) -> None:
    policy = load_policy()
    created = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)  # Monday 09:00 Chicago
    make_account(db, "northside")
    ticket = make_ticket(
        db, created_at=created, account_id="northside", priority="P2", tier=1, route="ops", product_area="pam_core"
    )
    notifiers: dict[str, Notifier] = {"slack": slack.notifier(), "email": smtp_server.notifier()}
    breach = created + timedelta(hours=1, minutes=3)

    for _run in range(2):  # a re-run of both flows at the same instant adds nothing
        check_slas(db, policy, now=breach)
        deliver_notifications(db, notifiers, now=breach, config=notify_config)

    assert len(slack.requests) == 1 and len(smtp_server.handler.messages) == 1
    [(envelope, message)] = smtp_server.handler.messages
    assert envelope.rcpt_tos == ["sam@pam.example"]  # lead of support-eng-core, where it now is
    assert message["Subject"].startswith("[tier0] SLA breach: P2 ticket #")
    body = message.get_content()
    assert "First response was due 2026-05-04 10:00 CDT" in body
    assert "Escalated automatically from tier 1 (ops) to tier 2 (support-eng-core)" in body
    notified = events_of(db, ticket, "notified")
    assert [(event[7]["channel"], event[7]["target"], event[7]["role"]) for event in notified] == [
        ("slack", "sam", "queue_lead"),
        ("email", "sam", "queue_lead"),
    ]


def test_nobody_is_woken_for_a_ticket_resolved_before_its_page_went_out(
    db: psycopg.Connection, notify_config: NotificationsConfig, slack: FakeSlack
) -> None:
    ticket, outbox_id = _p1_page(db)
    db.execute("update tickets set status = 'resolved', resolved_at = %s where ticket_id = %s", (NOW, ticket))
    report = deliver_notifications(db, {"slack": slack.notifier()}, now=NOW, config=notify_config)
    assert report.skipped == 1 and report.failed == 0 and slack.requests == []
    row = db.execute("select status, payload->>'skipped' from outbox where outbox_id = %s", (outbox_id,)).fetchone()
    assert row == ("delivered", f"not sent: ticket {ticket} was already resolved")
    assert events_of(db, ticket, "paged") == []


def test_now_must_be_aware(db: psycopg.Connection, notify_config: NotificationsConfig) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        deliver_notifications(db, {}, now=datetime(2026, 5, 4, 15, 0), config=notify_config)
