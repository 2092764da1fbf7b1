"""Quota and server errors are retried with bounded exponential backoff; other 4xx raise at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from backend.mail.gmail import GmailSource, GmailSyncError, RetryPolicy
from backend.mail.sync_state import SyncState, SyncStateStore
from tests.mail_gmail.gmail_fakes import (
    MAILBOX,
    FakeGmail,
    Response,
    api_error,
    days_ago,
    history_page,
    history_record,
    message_list,
    profile,
    raw_message,
)

MakeSource = Callable[..., GmailSource]

RATE_LIMITED = api_error(429, "rateLimitExceeded", "Too many concurrent requests for user.")
USER_RATE_LIMITED = api_error(403, "userRateLimitExceeded", "User Rate Limit Exceeded")
PROJECT_RATE_LIMITED = api_error(403, "rateLimitExceeded", "Rate Limit Exceeded")
BACKEND_ERROR = api_error(500, "backendError", "Backend Error")
UNAVAILABLE = api_error(503, "backendError", "The service is currently unavailable.")


def incremental(store: SyncStateStore, *responses: Response) -> FakeGmail:
    store.save(SyncState(mailbox=MAILBOX, history_id=1000))
    return FakeGmail(
        [history_page([history_record(1005, ("m1", ["INBOX"]))], history_id=1006), *responses],
    )


def test_429_is_retried_after_a_backoff(make_source: MakeSource, store: SyncStateStore, sleeps: list[float]) -> None:
    fake = incremental(store, RATE_LIMITED, raw_message("m1", received_at=days_ago(0.1)))
    assert [message.source_id for message in make_source(fake).iter_messages()] == ["m1"]
    assert sleeps == [1.0]
    assert fake.method_ids == ["gmail.users.history.list", "gmail.users.messages.get", "gmail.users.messages.get"]
    assert fake.requests[1] == fake.requests[2]  # the same request, sent again


@pytest.mark.parametrize("error", [USER_RATE_LIMITED, PROJECT_RATE_LIMITED], ids=["user", "project"])
def test_403_rate_limits_are_retried(
    make_source: MakeSource, store: SyncStateStore, sleeps: list[float], error: Response
) -> None:
    fake = incremental(store, error, error, raw_message("m1", received_at=days_ago(0.1)))
    assert [message.source_id for message in make_source(fake).iter_messages()] == ["m1"]
    assert sleeps == [1.0, 2.0]


def test_server_errors_are_retried_on_list_calls_too(
    make_source: MakeSource, store: SyncStateStore, sleeps: list[float]
) -> None:
    fake = FakeGmail([BACKEND_ERROR, profile(10), UNAVAILABLE, message_list([])])
    assert list(make_source(fake).iter_messages()) == []
    assert sleeps == [1.0, 1.0]  # each call has its own attempts
    assert fake.unused_responses == 0


def test_retries_are_bounded_and_then_raise(
    make_source: MakeSource, store: SyncStateStore, sleeps: list[float]
) -> None:
    fake = incremental(store, *[BACKEND_ERROR] * 4)
    source = make_source(fake, retry=RetryPolicy(max_attempts=4, jitter_seconds=0))
    with pytest.raises(GmailSyncError, match="still failing after 4 attempts") as raised:
        list(source.iter_messages())
    assert raised.value.status == 500
    assert sleeps == [1.0, 2.0, 4.0]  # exponential, and no sleep after the last attempt
    assert fake.unused_responses == 0
    assert source.commit_checkpoint() is None


def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay_seconds=1.0, max_delay_seconds=10.0, jitter_seconds=0.5, rng=lambda: 0.5)
    assert [policy.delay_seconds(attempt) for attempt in (1, 2, 3, 4, 5)] == [1.25, 2.25, 4.25, 8.25, 10.25]


def test_retry_after_is_honoured(make_source: MakeSource, store: SyncStateStore, sleeps: list[float]) -> None:
    limited = api_error(429, "rateLimitExceeded", "Too many requests", retry_after="7")
    fake = incremental(store, limited, raw_message("m1", received_at=days_ago(0.1)))
    list(make_source(fake).iter_messages())
    assert sleeps == [7.0]


def test_400_raises_a_domain_error_without_retrying(
    make_source: MakeSource, store: SyncStateStore, sleeps: list[float]
) -> None:
    fake = FakeGmail([profile(10), api_error(400, "invalidArgument", "Invalid query")])
    with pytest.raises(GmailSyncError) as raised:
        list(make_source(fake).iter_messages())
    error = raised.value
    assert (error.status, error.reasons) == (400, frozenset({"invalidArgument"}))
    assert "gmail.users.messages.list: HTTP 400" in str(error)
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [(401, "authError"), (403, "insufficientPermissions"), (403, "dailyLimitExceeded")],
)
def test_other_4xx_are_not_retried(
    make_source: MakeSource, store: SyncStateStore, sleeps: list[float], status: int, reason: str
) -> None:
    fake = incremental(store, api_error(status, reason, "refused"))
    with pytest.raises(GmailSyncError) as raised:
        list(make_source(fake).iter_messages())
    assert raised.value.status == status
    assert sleeps == []
    assert fake.unused_responses == 0


def test_network_timeouts_are_retried(make_source: MakeSource, store: SyncStateStore, sleeps: list[float]) -> None:
    fake = incremental(store, raw_message("m1", received_at=days_ago(0.1)))
    original = fake.http.request
    calls = {"count": 0}

    def flaky(*args: object, **kwargs: object) -> object:
        calls["count"] += 1
        if calls["count"] == 2:  # the messages.get, once
            raise TimeoutError("timed out")
        return original(*args, **kwargs)

    fake.http.request = flaky
    assert [message.source_id for message in make_source(fake).iter_messages()] == ["m1"]
    assert sleeps == [1.0]
