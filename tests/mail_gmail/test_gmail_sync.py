"""GmailSource over a fake Gmail: first sync, incremental sync, expired history, checkpoints."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import psycopg
import pytest

from backend.mail.gmail import GmailSource, GmailSyncError
from backend.mail.sources import MailSource, SourceMessage
from backend.mail.sync_state import SyncState, SyncStateStore
from tests.mail_gmail.gmail_fakes import (
    MAILBOX,
    NOW,
    FakeGmail,
    api_error,
    days_ago,
    history_page,
    history_record,
    message_list,
    profile,
    raw_message,
    sample_raw,
)

MakeSource = Callable[..., GmailSource]


def store_messages(conn: psycopg.Connection, messages: list[SourceMessage]) -> None:
    """What the pipeline does with what the source yields: an idempotent insert."""
    for message in messages:
        conn.execute(
            "insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, source_received_at) "
            "values (%s, %s, %s, %s, %s, %s) on conflict (mailbox, source_id) do nothing",
            (
                MAILBOX,
                message.source_id,
                message.raw,
                hashlib.sha256(message.raw).hexdigest(),
                len(message.raw),
                message.source_received_at,
            ),
        )


def epoch(days: float) -> str:
    return str(int(days_ago(days).timestamp()))


def test_gmail_source_is_a_mail_source(make_source: MakeSource) -> None:
    source: MailSource = make_source(FakeGmail([]))
    assert source.name == "gmail"


def test_first_sync_reads_two_pages_of_the_window_and_yields_oldest_first(
    make_source: MakeSource, store: SyncStateStore
) -> None:
    fake = FakeGmail(
        [
            profile(1000),
            message_list(["m3", "m2"], next_page_token="page-2"),
            message_list(["m1"]),
            raw_message("m1", received_at=days_ago(3)),
            raw_message("m2", received_at=days_ago(2)),
            raw_message("m3", received_at=days_ago(1)),
        ]
    )
    source = make_source(fake, first_sync_window_days=7)

    messages = list(source.iter_messages())

    assert [message.source_id for message in messages] == ["m1", "m2", "m3"]
    assert messages[0] == SourceMessage(
        source_id="m1",
        raw=sample_raw("m1"),
        thread_hint="t-m1",
        label="gmail:m1",
        source_received_at=days_ago(3),
    )
    requests = fake.requests
    assert [request.method_id for request in requests] == [
        "gmail.users.getProfile",
        "gmail.users.messages.list",
        "gmail.users.messages.list",
        "gmail.users.messages.get",
        "gmail.users.messages.get",
        "gmail.users.messages.get",
    ]
    first_list, second_list = requests[1], requests[2]
    assert first_list.query == {"q": [f"after:{epoch(7)}"], "labelIds": ["INBOX"], "maxResults": ["500"]}
    assert second_list.query["pageToken"] == ["page-2"]
    assert second_list.query["q"] == first_list.query["q"]
    assert [request.path for request in requests[3:]] == [f"gmail/v1/users/me/messages/{m}" for m in ("m1", "m2", "m3")]
    assert all(request.query == {"format": ["raw"]} for request in requests[3:])
    assert fake.unused_responses == 0

    report = source.last_report
    assert report is not None
    assert (report.mode, report.messages_listed, report.messages_yielded, report.is_truncated) == (
        "first_sync",
        3,
        3,
        False,
    )
    # Nothing is saved until the pipeline says the messages are stored.
    assert store.load() == SyncState(mailbox=MAILBOX)
    saved = source.commit_checkpoint()
    assert saved is not None
    assert store.load() == saved
    assert saved.history_id == 1000  # read before listing, so mail arriving meanwhile is not lost
    assert saved.last_full_sync_reason == "first_sync"
    assert saved.last_full_sync_at == NOW
    assert saved.full_sync_window_start_at == days_ago(7)
    assert saved.last_message_received_at == days_ago(1)
    assert source.commit_checkpoint() is None  # nothing new to save


def test_query_and_label_shape_the_first_sync(make_source: MakeSource) -> None:
    fake = FakeGmail([profile(10), message_list([])])
    source = make_source(fake, query="-from:noreply@pam.example", label_id=None, first_sync_window_days=2)
    assert list(source.iter_messages()) == []
    listing = fake.requests[1]
    assert listing.query == {"q": [f"-from:noreply@pam.example after:{epoch(2)}"], "maxResults": ["500"]}
    checkpoint = source.commit_checkpoint()
    assert checkpoint is not None and checkpoint.history_id == 10


def test_incremental_sync_pages_through_history_and_moves_the_checkpoint_per_page(
    make_source: MakeSource, store: SyncStateStore
) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=1000, last_message_received_at=days_ago(1)))
    fake = FakeGmail(
        [
            history_page(
                [history_record(1005, ("m4", ["INBOX", "UNREAD"])), history_record(1006, ("d1", ["DRAFT"]))],
                history_id=1010,
                next_page_token="history-2",
            ),
            raw_message("m4", received_at=days_ago(0.5)),
            history_page([history_record(1009, ("m5", ["INBOX", "UNREAD"]))], history_id=1010),
            raw_message("m5", received_at=days_ago(0.1)),
        ]
    )
    source = make_source(fake)
    messages = source.iter_messages()

    assert next(messages).source_id == "m4"
    assert source.pending_checkpoint is None  # the caller has not finished with m4 yet
    assert next(messages).source_id == "m5"
    # Asking for m5 meant m4 (all of page 1) was handled: the checkpoint may pass page 1's records.
    pending = source.pending_checkpoint
    assert pending is not None and pending.history_id == 1006
    assert store.load().history_id == 1000  # still only pending
    with pytest.raises(StopIteration):
        next(messages)
    pending = source.pending_checkpoint
    assert pending is not None and pending.history_id == 1010
    assert pending.last_synced_at == NOW
    assert pending.last_message_received_at == days_ago(0.1)

    history_requests = [request for request in fake.requests if request.method_id == "gmail.users.history.list"]
    assert [request.query for request in history_requests] == [
        {"startHistoryId": ["1000"], "historyTypes": ["messageAdded"], "maxResults": ["500"], "labelId": ["INBOX"]},
        {
            "startHistoryId": ["1000"],
            "historyTypes": ["messageAdded"],
            "maxResults": ["500"],
            "labelId": ["INBOX"],
            "pageToken": ["history-2"],
        },
    ]
    report = source.last_report
    assert report is not None
    assert (report.mode, report.messages_yielded, report.messages_filtered, report.filtered_ids) == (
        "incremental",
        2,
        1,
        ["d1"],
    )
    source.commit_checkpoint()
    assert store.load().history_id == 1010
    assert fake.unused_responses == 0


def test_empty_history_still_advances_to_the_current_history_id(make_source: MakeSource, store: SyncStateStore) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=1000))
    fake = FakeGmail([history_page([], history_id=1044)])
    source = make_source(fake)
    assert list(source.iter_messages()) == []
    source.commit_checkpoint()
    assert store.load().history_id == 1044


def test_a_crash_before_commit_re_reads_the_same_messages(
    make_source: MakeSource, store: SyncStateStore, db: psycopg.Connection
) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=1000))
    page = history_page([history_record(1005, ("m4", ["INBOX"]), ("m5", ["INBOX"]))], history_id=1007)
    first_run = make_source(FakeGmail([page, raw_message("m4", received_at=days_ago(0.2))]))
    messages = first_run.iter_messages()
    store_messages(db, [next(messages)])
    first_run.commit_checkpoint()  # mid-page: nothing is safe to save yet
    del messages  # the process dies here, m5 never read
    assert store.load().history_id == 1000

    # The next run starts from the same history id; m4 is already stored, so only m5 is fetched.
    fake = FakeGmail([page, raw_message("m5", received_at=days_ago(0.1))])
    second_run = make_source(fake)
    replayed = list(second_run.iter_messages())
    assert [message.source_id for message in replayed] == ["m5"]
    assert second_run.last_report is not None and second_run.last_report.messages_already_stored == 1
    assert [request.method_id for request in fake.requests] == [
        "gmail.users.history.list",
        "gmail.users.messages.get",
    ]
    store_messages(db, replayed)
    second_run.commit_checkpoint()
    assert store.load().history_id == 1007
    stored = db.execute("select source_id from messages where mailbox = %s order by source_id", (MAILBOX,))
    assert stored.fetchall() == [("m4",), ("m5",)]


def test_checkpoint_saved_in_the_pipelines_transaction_is_undone_with_it(
    make_source: MakeSource, store: SyncStateStore, db: psycopg.Connection, postgres_url: str
) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=1000))
    db.commit()  # a committed starting point, visible to other connections
    try:
        page = history_page([history_record(1005, ("m4", ["INBOX"]))], history_id=1006)
        source = make_source(FakeGmail([page, raw_message("m4", received_at=days_ago(0.2))]))
        store_messages(db, list(source.iter_messages()))
        source.commit_checkpoint()
        with psycopg.connect(postgres_url) as other:  # save() did not commit on its own
            row = other.execute("select history_id from mail_sync_state where mailbox = %s", (MAILBOX,)).fetchone()
            assert row is not None and int(row[0]) == 1000
        db.rollback()  # the pipeline's transaction fails: messages and checkpoint go together
        assert store.load().history_id == 1000
        assert db.execute("select count(*) from messages where mailbox = %s", (MAILBOX,)).fetchone() == (0,)
    finally:
        db.execute("delete from mail_sync_state where mailbox = %s", (MAILBOX,))
        db.commit()


def test_expired_history_runs_one_bounded_full_resync(make_source: MakeSource, store: SyncStateStore) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=500, last_message_received_at=days_ago(3)))
    fake = FakeGmail(
        [
            api_error(404, "notFound", "Requested entity was not found."),
            profile(2000),
            message_list(["m9", "m8"]),
            raw_message("m8", received_at=days_ago(2)),
            raw_message("m9", received_at=days_ago(1)),
        ]
    )
    source = make_source(fake, first_sync_window_days=7)
    assert [message.source_id for message in source.iter_messages()] == ["m8", "m9"]
    assert fake.method_ids == [
        "gmail.users.history.list",
        "gmail.users.getProfile",
        "gmail.users.messages.list",
        "gmail.users.messages.get",
        "gmail.users.messages.get",
    ]
    # The window reaches back to the first-sync window (further than a day before the last message).
    assert fake.requests[2].query["q"] == [f"after:{epoch(7)}"]
    report = source.last_report
    assert report is not None and (report.mode, report.is_history_expired) == ("full_resync", True)
    saved = source.commit_checkpoint()
    assert saved is not None
    assert (saved.history_id, saved.last_full_sync_reason) == (2000, "history_expired")
    assert fake.unused_responses == 0


def test_a_second_expired_history_does_not_loop(make_source: MakeSource, store: SyncStateStore) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=500, last_message_received_at=days_ago(1)))
    # Each run: exactly one history.list, then one resync; the fake has nothing more to give.
    for run, history_id in enumerate((2000, 2100), start=1):
        fake = FakeGmail(
            [api_error(404, "notFound", "Requested entity was not found."), profile(history_id), message_list([])]
        )
        source = make_source(fake)
        assert list(source.iter_messages()) == []
        assert fake.method_ids.count("gmail.users.history.list") == 1, run
        assert fake.unused_responses == 0
        source.commit_checkpoint()
        assert store.load().history_id == history_id


def test_a_failing_resync_raises_instead_of_retrying_history(make_source: MakeSource, store: SyncStateStore) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=500))
    fake = FakeGmail(
        [
            api_error(404, "notFound", "Requested entity was not found."),
            profile(2000),
            api_error(404, "notFound", "Requested entity was not found."),
        ]
    )
    source = make_source(fake)
    with pytest.raises(GmailSyncError) as raised:
        list(source.iter_messages())
    assert raised.value.status == 404
    assert fake.method_ids == ["gmail.users.history.list", "gmail.users.getProfile", "gmail.users.messages.list"]
    assert source.commit_checkpoint() is None
    assert store.load().history_id == 500


def test_resync_is_bounded_by_count_and_keeps_the_newest(make_source: MakeSource, store: SyncStateStore) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=500, last_message_received_at=days_ago(2)))
    fake = FakeGmail(
        [
            api_error(404, "notFound", "Requested entity was not found."),
            profile(2000),
            message_list(["m9", "m8"], next_page_token="more"),
            raw_message("m8", received_at=days_ago(1.5)),
            raw_message("m9", received_at=days_ago(1)),
        ]
    )
    source = make_source(fake, max_full_resync_messages=2)
    assert [message.source_id for message in source.iter_messages()] == ["m8", "m9"]
    assert fake.requests[2].query["maxResults"] == ["2"]
    assert fake.method_ids.count("gmail.users.messages.list") == 1  # the next page is not read
    report = source.last_report
    assert report is not None and report.is_truncated


def test_resync_window_is_bounded_by_max_resync_window_days(make_source: MakeSource, store: SyncStateStore) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=500, last_message_received_at=days_ago(60)))
    fake = FakeGmail([api_error(404, "notFound", "Requested entity was not found."), profile(2000), message_list([])])
    source = make_source(fake, max_resync_window_days=30)
    assert list(source.iter_messages()) == []
    assert fake.requests[2].query["q"] == [f"after:{epoch(30)}"]
    saved = source.commit_checkpoint()
    assert saved is not None and saved.full_sync_window_start_at == days_ago(30)


def test_resync_after_a_long_gap_starts_a_day_before_the_last_message(
    make_source: MakeSource, store: SyncStateStore
) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=500, last_message_received_at=days_ago(12)))
    fake = FakeGmail([api_error(404, "notFound", "Requested entity was not found."), profile(2000), message_list([])])
    source = make_source(fake, first_sync_window_days=7, max_resync_window_days=30)
    list(source.iter_messages())
    assert fake.requests[2].query["q"] == [f"after:{epoch(13)}"]


def test_a_message_deleted_before_fetching_is_skipped_and_counted(
    make_source: MakeSource, store: SyncStateStore
) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=1000))
    fake = FakeGmail(
        [
            history_page([history_record(1005, ("gone", ["INBOX"]), ("m4", ["INBOX"]))], history_id=1006),
            api_error(404, "notFound", "Requested entity was not found."),
            raw_message("m4", received_at=days_ago(0.2)),
        ]
    )
    source = make_source(fake)
    assert [message.source_id for message in source.iter_messages()] == ["m4"]
    assert source.last_report is not None and source.last_report.messages_gone == 1
    saved = source.commit_checkpoint()
    assert saved is not None and saved.history_id == 1006


def test_a_draft_found_only_on_fetch_is_not_yielded(make_source: MakeSource, store: SyncStateStore) -> None:
    fake = FakeGmail(
        [
            profile(10),
            message_list(["d2", "m1"]),
            raw_message("m1", received_at=days_ago(2)),
            raw_message("d2", received_at=days_ago(1), labels=["DRAFT"]),
        ]
    )
    source = make_source(fake, label_id=None)
    assert [message.source_id for message in source.iter_messages()] == ["m1"]
    assert source.last_report is not None and source.last_report.filtered_ids == ["d2"]


def test_raw_is_base64url_decoded_exactly_with_or_without_padding(
    make_source: MakeSource, store: SyncStateStore
) -> None:
    # Bytes that encode to "-" and "_" in base64url (RFC 4648 §5), plus 8-bit and CRLF content.
    raw = b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n\xfb\xff\xfe caf\xc3\xa9 \xe2\x9c\x89\r\n"
    store.save(SyncState(mailbox=MAILBOX, history_id=1000))
    fake = FakeGmail(
        [
            history_page([history_record(1005, ("p1", ["INBOX"]), ("p2", ["INBOX"]))], history_id=1006),
            raw_message("p1", received_at=days_ago(0.2), raw=raw, pad=True),
            raw_message("p2", received_at=days_ago(0.1), raw=raw[:-1], pad=False),
        ]
    )
    encoded = fake.http._iterable[1][1]
    assert "-" in encoded and "_" in encoded  # the url-safe alphabet is really exercised
    messages = list(make_source(fake).iter_messages())
    assert [message.raw for message in messages] == [raw, raw[:-1]]


def test_raw_that_is_not_base64url_is_our_error(make_source: MakeSource, store: SyncStateStore) -> None:
    store.save(SyncState(mailbox=MAILBOX, history_id=1000))
    headers, body = raw_message("p1", received_at=days_ago(0.2))
    encoded = json.loads(body)["raw"]
    fake = FakeGmail(
        [
            history_page([history_record(1005, ("p1", ["INBOX"]))], history_id=1006),
            (headers, body.replace(encoded, "SGVsbG8*IHdvcmxk")),  # "*" is outside the alphabet
        ]
    )
    source = make_source(fake)
    with pytest.raises(GmailSyncError, match="base64url"):
        list(source.iter_messages())
    assert source.commit_checkpoint() is None


def test_invalid_settings_are_refused(make_source: MakeSource) -> None:
    with pytest.raises(ValueError):
        make_source(FakeGmail([]), first_sync_window_days=0)
    with pytest.raises(ValueError):
        make_source(FakeGmail([]), max_full_resync_messages=0)


def test_received_at_is_exact_to_the_millisecond(make_source: MakeSource, store: SyncStateStore) -> None:
    received = NOW.replace(microsecond=123000)
    store.save(SyncState(mailbox=MAILBOX, history_id=1000))
    page = history_page([history_record(1005, ("m1", ["INBOX"]))], history_id=1006)
    fake = FakeGmail([page, raw_message("m1", received_at=received)])
    (message,) = make_source(fake).iter_messages()
    assert message.source_received_at == received
