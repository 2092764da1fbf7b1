"""Issue creation from the outbox against a stateful fake Linear and a real Postgres: the issue's
content, the mapping and event recorded, and exactly one issue whatever crashes or retries."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from backend.linear.client import LinearClient
from backend.linear.config import LinearConfig
from backend.linear.outbox import (
    CHECKPOINTS,
    DeliveryReport,
    deliver_linear_outbox,
    enqueue_linear_issue,
    linear_issue_id_for,
)
from tests.linear.conftest import NOW, make_account, make_ticket
from tests.linear.fake_linear import FakeLinear, Fault, rate_limited_error

BASE_URL = "https://ops.tier0.example"


class SimulatedCrash(Exception):
    """The process dies here: nothing after this point is committed."""


def _deliver(
    db: psycopg.Connection,
    client: LinearClient,
    config: LinearConfig,
    *,
    now: datetime | None = None,
    limit: int = 50,
    checkpoint: Callable[[str], None] | None = None,
) -> DeliveryReport:
    # `now` defaults to the real clock: outbox rows become due at the database's now().
    return deliver_linear_outbox(
        db, client, base_url=BASE_URL, config=config, now=now, limit=limit, checkpoint=checkpoint
    )


def _later(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def _outbox(db: psycopg.Connection, ticket_id: int) -> tuple[str, int, str | None]:
    row = db.execute(
        "select status, attempts, last_error from outbox where ticket_id = %s and kind = 'linear_issue'", (ticket_id,)
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _events(
    db: psycopg.Connection, ticket_id: int, event_type: str = "linear_issue_created"
) -> list[dict[str, object]]:
    rows = db.execute(
        "select data from ticket_events where ticket_id = %s and event_type = %s", (ticket_id, event_type)
    ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def ticket(db: psycopg.Connection) -> int:
    make_account(db)
    ticket_id = make_ticket(db)
    enqueue_linear_issue(db, ticket_id)
    return ticket_id


def _public_id(db: psycopg.Connection, ticket_id: int) -> str:
    row = db.execute("select public_id from tickets where ticket_id = %s", (ticket_id,)).fetchone()
    assert row is not None
    return str(row[0])


# -- enqueue ----------------------------------------------------------------------------------


def test_enqueue_is_idempotent_on_the_tickets_public_id(db: psycopg.Connection, ticket: int) -> None:
    enqueue_linear_issue(db, ticket)
    rows = db.execute("select kind, idempotency_key, status from outbox where ticket_id = %s", (ticket,)).fetchall()
    assert rows == [("linear_issue", f"linear:{_public_id(db, ticket)}", "pending")]


def test_enqueue_for_a_missing_ticket_raises(db: psycopg.Connection) -> None:
    with pytest.raises(LookupError):
        enqueue_linear_issue(db, 987654321)


def test_the_issue_id_is_a_deterministic_uuid_v4() -> None:
    public_id = "0b6f3c1e-6a57-4c1e-9d0e-2b1f6f0a9b11"
    issue_id = linear_issue_id_for(public_id)
    assert issue_id == linear_issue_id_for(uuid.UUID(public_id))
    assert uuid.UUID(issue_id).version == 4
    assert issue_id != public_id and issue_id != linear_issue_id_for("0b6f3c1e-6a57-4c1e-9d0e-2b1f6f0a9b12")


# -- a normal delivery ------------------------------------------------------------------------


def test_delivery_creates_one_issue_with_the_customer_context(
    db: psycopg.Connection, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    make_account(db)
    make_ticket(db, summary="Duplicate appointments last month", created_at=NOW - timedelta(days=30), status="resolved")
    ticket_id = make_ticket(db, summary="Tekion sync stopped", created_at=NOW + timedelta(minutes=5))
    enqueue_linear_issue(db, ticket_id)

    report = _deliver(db, client, linear_config)

    assert [r.outcome for r in report.results] == ["created"]
    assert fake.calls["Tier0IssueCreate"] == 1 and fake.schema_errors == []
    (issue,) = fake.issues.values()
    assert issue["id"] == linear_issue_id_for(_public_id(db, ticket_id))
    assert fake.teams[issue["teamId"]]["key"] == "INT"  # support-eng-integrations -> INT in policy.yaml
    assert issue["priority"] == 2  # P2 -> Linear high
    label_names = sorted(next(label["name"] for label in fake.labels if label["id"] == i) for i in issue["labelIds"])
    assert label_names == ["Integration issue", "Integrations", "Tekion"]
    assert issue["title"] == "Lakeside Motors: Tekion sync stopped"
    description = issue["description"]
    for expected in (
        "Lakeside Motors",
        "plan growth",
        "MRR $4,500.00",
        "renews 2026-06-30",
        "Tekion sync stopped",
        "> appointments booked by Pam are not showing in Tekion since Friday.",
        f"[#{ticket_id}]({BASE_URL}/tickets/{ticket_id})",
        "Duplicate appointments last month",
    ):
        assert expected in description, expected
    (attachment,) = fake.attachments
    assert attachment["url"] == f"{BASE_URL}/tickets/{ticket_id}" and attachment["issueId"] == issue["id"]

    mapping = db.execute(
        "select linear_issue_id, identifier, url, team_key from linear_issues where ticket_id = %s", (ticket_id,)
    ).fetchone()
    assert mapping == (issue["id"], "INT-1", issue["url"], "INT")
    (event,) = _events(db, ticket_id)
    assert event["identifier"] == "INT-1" and event["how"] == "created" and event["missing_labels"] == []
    assert _outbox(db, ticket_id) == ("delivered", 1, None)


def test_earlier_tickets_link_to_their_own_issues(
    db: psycopg.Connection, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    make_account(db)
    first = make_ticket(db, summary="First outage", created_at=NOW - timedelta(days=3))
    enqueue_linear_issue(db, first)
    _deliver(db, client, linear_config)
    second = make_ticket(db, summary="Second outage", created_at=NOW)
    enqueue_linear_issue(db, second)
    _deliver(db, client, linear_config)
    description = fake.issues[linear_issue_id_for(_public_id(db, second))]["description"]
    assert f"[#{first}]({BASE_URL}/tickets/{first})" in description
    assert "[INT-1](https://linear.app/fake/issue/INT-1/)" in description


def test_a_rerun_creates_nothing(
    db: psycopg.Connection, ticket: int, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    _deliver(db, client, linear_config)
    assert _deliver(db, client, linear_config).results == []
    # Even a row forced back to pending (an operator's retry) finds the recorded mapping first.
    db.execute("update outbox set status = 'pending' where ticket_id = %s", (ticket,))
    report = _deliver(db, client, linear_config)
    assert [r.outcome for r in report.results] == ["already_linked"]
    assert fake.calls["Tier0IssueCreate"] == 1 and len(fake.issues) == 1
    assert len(_events(db, ticket)) == 1


def test_product_engineering_tickets_go_to_its_team_with_its_own_label(
    db: psycopg.Connection, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    make_account(db)
    ticket_id = make_ticket(
        db, category="bug", product_area="dashboard", integration=None, priority="P1", tier=3, route="product-eng"
    )
    enqueue_linear_issue(db, ticket_id)
    _deliver(db, client, linear_config)
    (issue,) = fake.issues.values()
    assert fake.teams[issue["teamId"]]["key"] == "ENG" and issue["priority"] == 1
    eng_bug = next(label for label in fake.labels if label["name"] == "Bug" and label["team"])
    dashboard = next(label for label in fake.labels if label["name"] == "Dashboard")
    assert sorted(issue["labelIds"]) == sorted([eng_bug["id"], dashboard["id"]])


def test_labels_linear_lacks_are_skipped_and_noted(
    db: psycopg.Connection, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    make_account(db)
    ticket_id = make_ticket(
        db, category="ai_behavior", product_area="pam_core", integration=None, route="support-eng-core"
    )
    enqueue_linear_issue(db, ticket_id)
    _deliver(db, client, linear_config)
    (issue,) = fake.issues.values()
    pam_core = next(label for label in fake.labels if label["name"] == "Pam core")
    assert issue["labelIds"] == [pam_core["id"]]
    (event,) = _events(db, ticket_id)
    assert event["missing_labels"] == ["AI behavior"]


def test_a_ticket_without_an_account_still_gets_an_issue(
    db: psycopg.Connection, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    ticket_id = make_ticket(db, account_id=None)
    enqueue_linear_issue(db, ticket_id)
    assert [r.outcome for r in _deliver(db, client, linear_config).results] == ["created"]
    (issue,) = fake.issues.values()
    assert "unknown account" in issue["description"] and "None." in issue["description"]


def test_customer_text_cannot_inject_markdown(
    db: psycopg.Connection, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    make_account(db)
    ticket_id = make_ticket(db, reply_text="# Heading\n[click](https://evil.example) @everyone <img src=x>")
    enqueue_linear_issue(db, ticket_id)
    _deliver(db, client, linear_config)
    (issue,) = fake.issues.values()
    assert r"> \# Heading" in issue["description"]
    assert r"\[click\](https://evil.example) \@everyone \<img src=x\>" in issue["description"]


# -- exactly once, whatever happens -----------------------------------------------------------


@pytest.mark.parametrize("crash_at", CHECKPOINTS)
def test_a_crash_after_linear_answered_never_makes_a_second_issue(
    db: psycopg.Connection,
    ticket: int,
    client: LinearClient,
    fake: FakeLinear,
    linear_config: LinearConfig,
    crash_at: str,
) -> None:
    def crash(point: str) -> None:
        if point == crash_at:
            raise SimulatedCrash(point)

    with pytest.raises(SimulatedCrash):
        _deliver(db, client, linear_config, checkpoint=crash)
    # Linear has the issue, our commit never happened.
    assert len(fake.issues) == 1
    assert db.execute("select count(*) from linear_issues").fetchone() == (0,)
    assert _outbox(db, ticket) == ("pending", 0, None)

    report = _deliver(db, client, linear_config)

    assert fake.calls["Tier0IssueCreate"] == 1
    assert len(fake.issues) == 1 and len(fake.attachments) == 1
    expected = "found_by_id" if crash_at == "issue_created" else "found_attachment"
    assert [r.outcome for r in report.results] == [expected]
    assert db.execute("select count(*) from linear_issues where ticket_id = %s", (ticket,)).fetchone() == (1,)
    assert len(_events(db, ticket)) == 1
    assert _outbox(db, ticket)[0] == "delivered"


def test_an_answer_lost_in_a_timeout_is_retried_without_a_second_issue(
    db: psycopg.Connection, ticket: int, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    fake.fail_next("Tier0IssueCreate", Fault(apply_then_raise=httpx.ReadTimeout))
    first = _deliver(db, client, linear_config)
    assert [r.outcome for r in first.results] == ["retry"]
    status, attempts, error = _outbox(db, ticket)
    assert (status, attempts) == ("pending", 1) and "did not answer in time" in (error or "")
    assert _deliver(db, client, linear_config).results == []  # not due yet: backoff

    second = _deliver(db, client, linear_config, now=_later(hours=2))

    assert [r.outcome for r in second.results] == ["found_by_id"]
    assert fake.calls["Tier0IssueCreate"] == 1 and len(fake.issues) == 1 and len(fake.attachments) == 1
    assert _outbox(db, ticket)[0] == "delivered"


def test_rate_limit_exhausted_reschedules_no_sooner_than_linear_asked(
    db: psycopg.Connection, ticket: int, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    fake.fail_next(
        "Tier0AttachmentsForUrl",
        Fault(status=400, errors=[rate_limited_error()], headers={"Retry-After": "5400"}),
    )
    before = datetime.now(UTC)
    report = _deliver(db, client, linear_config)
    assert [r.outcome for r in report.results] == ["retry"]
    row = db.execute("select available_at from outbox where ticket_id = %s", (ticket,)).fetchone()
    assert row is not None and row[0] >= before + timedelta(seconds=5400)
    assert fake.issues == {}


def test_a_rate_limit_stops_the_run_and_leaves_the_other_rows_untouched(
    db: psycopg.Connection, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    make_account(db)
    tickets = [make_ticket(db, summary=f"Issue {n}", created_at=NOW - timedelta(hours=n)) for n in range(3)]
    for ticket_id in tickets:
        enqueue_linear_issue(db, ticket_id)
    fake.fail_next("Tier0AttachmentsForUrl", Fault(status=429, body=b"", headers={"Retry-After": "600"}))
    report = _deliver(db, client, linear_config)
    assert [(r.outcome, r.rate_limited) for r in report.results] == [("retry", True)]
    attempts = sorted(_outbox(db, ticket_id)[1] for ticket_id in tickets)
    assert attempts == [0, 0, 1] and fake.calls["Tier0AttachmentsForUrl"] == 1


def test_a_request_linear_refuses_fails_the_row_at_once(
    db: psycopg.Connection, ticket: int, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    fake.teams.clear()  # the policy's team key does not exist in this workspace
    report = _deliver(db, client, linear_config)
    assert [r.outcome for r in report.results] == ["failed"]
    status, attempts, error = _outbox(db, ticket)
    assert (status, attempts) == ("failed", 1) and "INT" in (error or "")
    assert db.execute("select count(*) from linear_issues").fetchone() == (0,)


def test_retryable_failures_stop_after_max_attempts(
    db: psycopg.Connection, ticket: int, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    fake.fail_next("Tier0AttachmentsForUrl", Fault(status=502, body=b"bad gateway"), times=20)
    now = datetime.now(UTC)
    outcomes = []
    for _ in range(linear_config.delivery.max_attempts + 2):
        outcomes += [r.outcome for r in _deliver(db, client, linear_config, now=now).results]
        now += timedelta(days=1)
    assert outcomes == ["retry"] * (linear_config.delivery.max_attempts - 1) + ["failed"]
    assert _outbox(db, ticket)[:2] == ("failed", linear_config.delivery.max_attempts)


def test_a_ticket_whose_route_has_no_team_fails_with_the_reason(
    db: psycopg.Connection, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    make_account(db)
    ticket_id = make_ticket(db, tier=1, route="ops", category="billing", product_area="billing", integration=None)
    enqueue_linear_issue(db, ticket_id)
    report = _deliver(db, client, linear_config)
    assert [r.outcome for r in report.results] == ["failed"]
    assert "route 'ops'" in (_outbox(db, ticket_id)[2] or "")
    assert sum(fake.calls.values()) == 0  # nothing was sent to Linear


def test_limit_bounds_one_run(
    db: psycopg.Connection, client: LinearClient, fake: FakeLinear, linear_config: LinearConfig
) -> None:
    make_account(db)
    for index in range(3):
        enqueue_linear_issue(db, make_ticket(db, summary=f"Issue {index}", created_at=NOW - timedelta(hours=index)))
    assert _deliver(db, client, linear_config, limit=2).created == 2
    assert _deliver(db, client, linear_config, limit=2).created == 1
    assert len(fake.issues) == 3 and fake.schema_errors == []
    # Request budget (Linear allows an API key 2,500 requests an hour): team and labels are looked
    # up once per client, then each issue costs 4 requests (2 checks, create, link).
    assert dict(fake.calls) == {
        "Tier0AttachmentsForUrl": 3,
        "Tier0IssueById": 3,
        "Tier0Teams": 1,
        "Tier0LabelsByName": 1,
        "Tier0IssueCreate": 3,
        "Tier0AttachmentCreate": 3,
    }
