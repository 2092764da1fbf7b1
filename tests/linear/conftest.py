"""Fixtures for the Linear tests: Linear's schema, a stateful fake Linear, a client wired to it,
and helpers that seed accounts and tickets in the rolled-back test transaction."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import psycopg
import pytest
from graphql import GraphQLSchema, build_schema

from backend.linear.client import LinearClient
from backend.linear.config import LinearConfig, load_linear_config
from backend.paths import SHARED_DIR
from backend.policy.model import load_policy
from tests.linear.fake_linear import API_KEY, FakeLinear

LINEAR_DIR = SHARED_DIR / "external" / "linear"
NOW = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def linear_schema_or_none() -> GraphQLSchema | None:
    """Linear's published schema when ../shared is present (the fake then validates every request)."""
    path = LINEAR_DIR / "schema.graphql"
    return build_schema(path.read_text(encoding="utf-8")) if path.is_file() else None


@pytest.fixture(scope="session")
def linear_schema(linear_schema_or_none: GraphQLSchema | None) -> GraphQLSchema:
    if linear_schema_or_none is None:
        pytest.skip("../shared/external/linear/schema.graphql is not present")
    return linear_schema_or_none


@dataclass
class FakeClock:
    now: float = NOW.timestamp()
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(linear_schema_or_none: GraphQLSchema | None, clock: FakeClock) -> FakeLinear:
    fake = FakeLinear(schema=linear_schema_or_none, clock=clock)
    support = fake.add_team("SUP", "Support engineering")
    fake.add_team("INT", "Integrations")
    product = fake.add_team("ENG", "Product engineering")
    fake.add_label("Integration issue")  # workspace labels
    fake.add_label("Bug")
    fake.add_label("Outage")
    fake.add_label("Tekion")
    fake.add_label("Integrations")
    fake.add_label("Bug", team=product)  # ENG's own "Bug" wins over the workspace one there
    fake.add_label("Dashboard", team=product)
    fake.add_label("Pam core", team=support)
    return fake


@pytest.fixture
def client(fake: FakeLinear, clock: FakeClock) -> Iterator[LinearClient]:
    http = httpx.Client(transport=fake.transport())
    with LinearClient(API_KEY, http_client=http, sleep=clock.sleep, clock=clock) as linear:
        yield linear
    http.close()


@pytest.fixture(scope="session")
def linear_config() -> LinearConfig:
    return load_linear_config(load_policy())


# -- seeding ------------------------------------------------------------------------------------


def make_account(
    conn: psycopg.Connection,
    account_id: str = "acct-lakeside",
    *,
    name: str = "Lakeside Motors",
    plan: str | None = "growth",
    mrr_usd: Decimal | None = Decimal("4500.00"),
    renewal_date: date | None = date(2026, 6, 30),
) -> str:
    conn.execute(
        """
        insert into accounts (account_id, name, timezone, plan, mrr_usd, renewal_date)
        values (%s, %s, 'America/Chicago', %s, %s, %s)
        """,
        (account_id, name, plan, mrr_usd, renewal_date),
    )
    return account_id


def make_ticket(
    conn: psycopg.Connection,
    *,
    account_id: str | None = "acct-lakeside",
    summary: str = "Tekion appointments stopped syncing since Friday",
    reply_text: str
    | None = "Hi team,\nappointments booked by Pam are not showing in Tekion since Friday.\nThanks, Dana",
    category: str = "integration_issue",
    product_area: str = "integrations",
    integration: str | None = "tekion",
    priority: str = "P2",
    tier: int = 2,
    route: str = "support-eng-integrations",
    created_at: datetime = NOW,
    status: str = "open",
) -> int:
    raw = f"Subject: help\n\n{reply_text}".encode()
    row = conn.execute(
        "insert into conversations (account_id, subject, created_at, last_message_at) values (%s, %s, %s, %s) "
        "returning conversation_id",
        (account_id, "Appointments not syncing", created_at, created_at),
    ).fetchone()
    assert row is not None
    conversation_id = row[0]
    row = conn.execute(
        """
        insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, subject, from_name, account_id,
                              conversation_id, reply_text, sent_at)
        values ('support@pam.example', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        returning message_pk
        """,
        (
            str(uuid.uuid4()),
            raw,
            hashlib.sha256(raw).hexdigest(),
            len(raw),
            "Appointments not syncing",
            "Dana Reyes",
            account_id,
            conversation_id,
            reply_text,
            created_at,
        ),
    ).fetchone()
    assert row is not None
    message_pk = row[0]
    row = conn.execute(
        """
        insert into tickets (conversation_id, message_pk, request_index, account_id, summary, request_text,
                             category, product_area, integration, priority, tier, route, status,
                             classifier, model_version, created_at)
        values (%s, %s, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'test', 'test', %s)
        returning ticket_id
        """,
        (
            conversation_id,
            message_pk,
            account_id,
            summary,
            reply_text or summary,
            category,
            product_area,
            integration,
            priority,
            tier,
            route,
            status,
            created_at,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])
