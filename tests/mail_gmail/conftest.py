"""Fixtures for the Gmail source tests: a sync-state store on the rolled-back test database,
a recorded sleep, and a source factory with a fixed clock and no backoff jitter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from backend.mail.gmail import GmailSource, RetryPolicy
from backend.mail.sync_state import SyncStateStore
from tests.mail_gmail.gmail_fakes import MAILBOX, NOW, FakeGmail


@pytest.fixture
def store(db: psycopg.Connection) -> SyncStateStore:
    return SyncStateStore(db, MAILBOX)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_source(store: SyncStateStore, sleeps: list[float]) -> Callable[..., GmailSource]:
    def make(fake: FakeGmail, **options: Any) -> GmailSource:
        options.setdefault("retry", RetryPolicy(jitter_seconds=0))
        return GmailSource(fake.service, state=store, sleep=sleeps.append, clock=lambda: NOW, **options)

    return make
