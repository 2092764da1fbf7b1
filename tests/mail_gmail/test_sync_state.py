"""mail_sync_state through SyncStateStore, and the fake's own checks against the discovery document."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from backend.mail.sync_state import SyncState, SyncStateStore
from tests.mail_gmail.gmail_fakes import (
    MAILBOX,
    NOW,
    SHARED_DISCOVERY,
    discovery,
    match_request,
    shape_problems,
)


def test_unknown_mailbox_loads_as_never_synced(store: SyncStateStore) -> None:
    assert store.load() == SyncState(mailbox=MAILBOX)


def test_state_round_trips_including_the_largest_history_id(store: SyncStateStore) -> None:
    state = SyncState(
        mailbox=MAILBOX,
        history_id=2**64 - 1,  # Gmail history ids are uint64
        last_full_sync_at=NOW,
        last_full_sync_reason="history_expired",
        full_sync_window_start_at=NOW - timedelta(days=7),
        last_synced_at=NOW,
        last_message_received_at=NOW - timedelta(minutes=3),
        newest_mailbox_message_at=NOW - timedelta(minutes=1),
    )
    store.save(state)
    assert store.load() == state
    store.save(SyncState(mailbox=MAILBOX, history_id=7))
    assert store.load() == SyncState(mailbox=MAILBOX, history_id=7)


def test_a_store_keeps_to_its_mailbox(db: psycopg.Connection, store: SyncStateStore) -> None:
    other = SyncStateStore(db, "sales@pam.example")
    other.save(SyncState(mailbox="sales@pam.example", history_id=3))
    assert store.load().history_id is None
    with pytest.raises(ValueError):
        store.save(SyncState(mailbox="sales@pam.example", history_id=4))


def test_the_database_refuses_an_unknown_full_sync_reason(db: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("insert into mail_sync_state (mailbox, last_full_sync_reason) values ('x', 'because')")


def test_reads_leave_no_transaction_open(postgres_url: str) -> None:
    # The pipeline commits each stored message on its own; a read of ours must not wrap that work
    # in an implicit transaction that nobody commits.
    with psycopg.connect(postgres_url) as conn:
        store = SyncStateStore(conn, "nobody@pam.example")
        store.load()
        store.stored_source_ids(["a", "b"])
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_stored_source_ids_answers_for_this_mailbox_only(db: psycopg.Connection, store: SyncStateStore) -> None:
    for mailbox, source_id in ((MAILBOX, "m1"), ("sales@pam.example", "m2")):
        db.execute(
            "insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes) values (%s, %s, '', '', 0)",
            (mailbox, source_id),
        )
    assert store.stored_source_ids(["m1", "m2", "m3"]) == {"m1"}
    assert store.stored_source_ids([]) == set()


# -- the fake holds itself to Gmail's published discovery document ----------------------------------


def test_the_published_discovery_document_is_the_one_checked() -> None:
    if not SHARED_DISCOVERY.is_file():
        pytest.skip("../shared/external/gmail is absent: the bundled copy of the document is used instead")
    assert discovery()["id"] == "gmail:v1"
    assert {"Message", "ListHistoryResponse", "Profile"} <= discovery()["schemas"].keys()


def test_shape_check_catches_wrong_responses() -> None:
    assert shape_problems("Profile", {"historyId": "12", "messagesTotal": 3}) == []
    assert shape_problems("Profile", {"historyId": 12}) == ["$.historyId: expected a string, got int"]
    assert shape_problems("Message", {"internalDate": "yesterday"}) == [
        "$.internalDate: 'yesterday' is not a int64 string"
    ]
    assert shape_problems("ListHistoryResponse", {"history": [{"id": "1", "messagesAdded": [{"msg": {}}]}]}) == [
        "$.history[0].messagesAdded[0]: field 'msg' is not in the schema"
    ]


def test_request_check_catches_invalid_calls() -> None:
    valid = match_request("GET", "https://gmail.googleapis.com/gmail/v1/users/me/messages/m1?format=raw&alt=json", None)
    assert valid.method_id == "gmail.users.messages.get"
    with pytest.raises(AssertionError, match="not in"):
        match_request("GET", "https://gmail.googleapis.com/gmail/v1/users/me/messages/m1?format=mime", None)
    with pytest.raises(AssertionError, match="unknown q"):
        match_request("GET", "https://gmail.googleapis.com/gmail/v1/users/me/history?startHistoryId=1&q=x", None)
    with pytest.raises(AssertionError, match="without startHistoryId"):
        match_request("GET", "https://gmail.googleapis.com/gmail/v1/users/me/history", None)
    with pytest.raises(AssertionError, match="no Gmail API method"):
        match_request("GET", "https://gmail.googleapis.com/gmail/v1/users/me/messages/m1/labels", None)
    with pytest.raises(AssertionError, match="request body"):
        match_request(
            "POST",
            "https://gmail.googleapis.com/gmail/v1/users/me/messages/m1/modify",
            '{"addLabels": ["x"]}',
        )
