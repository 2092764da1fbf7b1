"""The freshness alarm: the mailbox's newest message against what we ingested, recorded per check."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg
import pytest

from backend.mail.freshness import FreshnessAlarm, check_freshness
from backend.mail.gmail import GmailSource, newest_message_received_at
from backend.mail.sync_state import SyncState, SyncStateStore
from tests.mail_gmail.gmail_fakes import (
    MAILBOX,
    NOW,
    FakeGmail,
    api_error,
    message_list,
    minimal_message,
)

MakeSource = Callable[..., GmailSource]
MAX_LAG = timedelta(minutes=30)


def ingest(
    conn: psycopg.Connection,
    source_id: str,
    *,
    received_at: datetime | None,
    ingested_at: datetime,
    direction: str = "inbound",
    mailbox: str = MAILBOX,
) -> None:
    raw = f"Subject: {source_id}\r\n\r\nbody\r\n".encode()
    conn.execute(
        "insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, source_received_at, ingested_at, "
        "direction) values (%s, %s, %s, %s, %s, %s, %s, %s)",
        (mailbox, source_id, raw, hashlib.sha256(raw).hexdigest(), len(raw), received_at, ingested_at, direction),
    )


def minutes_ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def test_caught_up_mailbox_is_fresh_and_the_check_is_recorded(db: psycopg.Connection) -> None:
    ingest(db, "m1", received_at=minutes_ago(45), ingested_at=minutes_ago(44))
    status = check_freshness(db, MAILBOX, newest_in_mailbox=minutes_ago(45), max_lag=MAX_LAG, now=NOW)
    assert not status.is_stale
    assert status.lag == timedelta(0)
    status.raise_if_stale()  # does not raise
    row = db.execute(
        "select mailbox, checked_at, newest_in_mailbox_at, newest_ingested_at, lag_seconds, max_lag_seconds, "
        "is_stale from mail_freshness_checks where freshness_check_id = %s",
        (status.freshness_check_id,),
    ).fetchone()
    assert row == (MAILBOX, NOW, minutes_ago(45), minutes_ago(45), 0.0, 1800.0, False)
    assert SyncStateStore(db, MAILBOX).load().newest_mailbox_message_at == minutes_ago(45)


def test_mail_waiting_longer_than_the_lag_is_stale(db: psycopg.Connection) -> None:
    ingest(db, "m1", received_at=minutes_ago(180), ingested_at=minutes_ago(179))
    status = check_freshness(db, MAILBOX, newest_in_mailbox=minutes_ago(40), max_lag=MAX_LAG, now=NOW)
    assert status.is_stale
    assert status.lag == timedelta(minutes=140)
    with pytest.raises(FreshnessAlarm, match=f"mailbox {MAILBOX} is stale") as raised:
        status.raise_if_stale()
    assert raised.value.status is status
    assert "40m00s ago, allowed 30m00s" in str(raised.value)
    recorded = db.execute(
        "select is_stale, lag_seconds from mail_freshness_checks where freshness_check_id = %s",
        (status.freshness_check_id,),
    ).fetchone()
    assert recorded == (True, 140 * 60.0)


def test_a_message_that_just_arrived_after_a_quiet_night_is_not_an_alarm(db: psycopg.Connection) -> None:
    ingest(db, "m1", received_at=minutes_ago(8 * 60), ingested_at=minutes_ago(8 * 60 - 1))
    status = check_freshness(db, MAILBOX, newest_in_mailbox=minutes_ago(2), max_lag=MAX_LAG, now=NOW)
    assert not status.is_stale
    assert status.lag == timedelta(minutes=8 * 60 - 2)  # the mailbox is ahead, but not for long yet


def test_receive_time_not_ingest_time_decides(db: psycopg.Connection) -> None:
    # A backfill just stored an old message: ingested a minute ago, received three hours ago.
    ingest(db, "old", received_at=minutes_ago(180), ingested_at=minutes_ago(1))
    status = check_freshness(db, MAILBOX, newest_in_mailbox=minutes_ago(60), max_lag=MAX_LAG, now=NOW)
    assert status.is_stale
    assert status.newest_ingested_at == minutes_ago(180)


def test_rows_without_a_receive_time_fall_back_to_ingested_at(db: psycopg.Connection) -> None:
    ingest(db, "eml", received_at=None, ingested_at=minutes_ago(50))
    assert not check_freshness(db, MAILBOX, newest_in_mailbox=minutes_ago(55), max_lag=MAX_LAG, now=NOW).is_stale
    assert check_freshness(db, MAILBOX, newest_in_mailbox=minutes_ago(45), max_lag=MAX_LAG, now=NOW).is_stale


def test_outbound_mail_and_other_mailboxes_do_not_count(db: psycopg.Connection) -> None:
    ingest(db, "m1", received_at=minutes_ago(300), ingested_at=minutes_ago(299))
    ingest(db, "our-reply", received_at=minutes_ago(5), ingested_at=minutes_ago(5), direction="outbound")
    ingest(db, "elsewhere", received_at=minutes_ago(5), ingested_at=minutes_ago(5), mailbox="sales@pam.example")
    status = check_freshness(db, MAILBOX, newest_in_mailbox=minutes_ago(60), max_lag=MAX_LAG, now=NOW)
    assert status.is_stale
    assert status.newest_ingested_at == minutes_ago(300)


def test_mail_older_than_the_sync_window_is_not_missing(db: psycopg.Connection) -> None:
    SyncStateStore(db, MAILBOX).save(
        SyncState(mailbox=MAILBOX, history_id=5, full_sync_window_start_at=NOW - timedelta(days=7))
    )
    quiet = check_freshness(db, MAILBOX, newest_in_mailbox=NOW - timedelta(days=40), max_lag=MAX_LAG, now=NOW)
    assert not quiet.is_stale  # nothing ingested, but the newest mail predates the first sync's window
    assert quiet.full_sync_window_start_at == NOW - timedelta(days=7)
    missed = check_freshness(db, MAILBOX, newest_in_mailbox=NOW - timedelta(days=2), max_lag=MAX_LAG, now=NOW)
    assert missed.is_stale and missed.newest_ingested_at is None


def test_never_synced_mailbox_with_waiting_mail_is_stale(db: psycopg.Connection) -> None:
    status = check_freshness(db, MAILBOX, newest_in_mailbox=minutes_ago(90), max_lag=MAX_LAG, now=NOW)
    assert status.is_stale and status.lag is None
    assert "nothing yet" in status.message


def test_empty_mailbox_is_fresh(db: psycopg.Connection) -> None:
    status = check_freshness(db, MAILBOX, newest_in_mailbox=None, max_lag=MAX_LAG, now=NOW)
    assert not status.is_stale and status.lag is None
    assert db.execute("select count(*) from mail_sync_state where mailbox = %s", (MAILBOX,)).fetchone() == (0,)


def test_naive_datetimes_are_refused(db: psycopg.Connection) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_freshness(db, MAILBOX, newest_in_mailbox=None, max_lag=MAX_LAG, now=NOW.replace(tzinfo=None))


def test_newest_mailbox_message_is_read_from_gmail(make_source: MakeSource) -> None:
    fake = FakeGmail([message_list(["m7"]), minimal_message("m7", received_at=minutes_ago(42))])
    source = make_source(fake, query="-from:noreply@pam.example")
    assert source.newest_mailbox_message_at(received_before=NOW - MAX_LAG) == minutes_ago(42)
    listing, fetch = fake.requests
    assert listing.query == {
        "maxResults": ["1"],
        "q": [f"-from:noreply@pam.example before:{int((NOW - MAX_LAG).timestamp())}"],
        "labelIds": ["INBOX"],
    }
    assert (fetch.path, fetch.query) == ("gmail/v1/users/me/messages/m7", {"format": ["minimal"]})


def test_newest_mailbox_message_of_an_empty_mailbox_is_none() -> None:
    fake = FakeGmail([message_list([])])
    assert newest_message_received_at(fake.service, label_id=None) is None
    (listing,) = fake.requests
    assert listing.query == {"maxResults": ["1"]}


def test_newest_message_deleted_meanwhile_is_asked_for_again() -> None:
    fake = FakeGmail(
        [
            message_list(["gone"]),
            api_error(404, "notFound", "Requested entity was not found."),
            message_list(["m6"]),
            minimal_message("m6", received_at=minutes_ago(50)),
        ]
    )
    assert newest_message_received_at(fake.service) == minutes_ago(50)
