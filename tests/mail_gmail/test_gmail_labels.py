"""The processed label: created when missing, found regardless of case, added per message."""

from __future__ import annotations

from collections.abc import Callable

from backend.mail.gmail import GmailSource
from tests.mail_gmail.gmail_fakes import (
    SYSTEM_LABELS,
    FakeGmail,
    api_error,
    created_label,
    label_list,
    modified_message,
)

MakeSource = Callable[..., GmailSource]


def test_missing_label_is_created_then_added_to_each_message(make_source: MakeSource) -> None:
    fake = FakeGmail(
        [
            label_list(*SYSTEM_LABELS),
            created_label("Label_7", "tier0/processed"),
            modified_message("m1", ["INBOX", "Label_7"]),
            modified_message("m2", ["INBOX", "Label_7"]),
        ]
    )
    source = make_source(fake, processed_label="tier0/processed")

    assert source.mark_processed(["m1", "m2", "m1"]) == 2

    requests = fake.requests
    assert [request.method_id for request in requests] == [
        "gmail.users.labels.list",
        "gmail.users.labels.create",
        "gmail.users.messages.modify",
        "gmail.users.messages.modify",
    ]
    assert requests[1].body == {
        "name": "tier0/processed",
        "labelListVisibility": "labelShow",
        "messageListVisibility": "show",
    }
    assert [request.path for request in requests[2:]] == [
        "gmail/v1/users/me/messages/m1/modify",
        "gmail/v1/users/me/messages/m2/modify",
    ]
    assert all(request.body == {"addLabelIds": ["Label_7"]} for request in requests[2:])


def test_existing_label_is_found_regardless_of_case_and_remembered(make_source: MakeSource) -> None:
    fake = FakeGmail(
        [
            label_list(*SYSTEM_LABELS, ("Label_3", "Tier0/Processed", "user")),
            modified_message("m1", ["INBOX", "Label_3"]),
            modified_message("m2", ["INBOX", "Label_3"]),
        ]
    )
    source = make_source(fake, processed_label="tier0/processed")
    assert source.mark_processed(["m1"]) == 1
    assert source.mark_processed(["m2"]) == 1  # no second labels.list
    assert fake.method_ids == [
        "gmail.users.labels.list",
        "gmail.users.messages.modify",
        "gmail.users.messages.modify",
    ]
    assert fake.unused_responses == 0


def test_label_created_meanwhile_by_another_worker_is_read_back(make_source: MakeSource) -> None:
    fake = FakeGmail(
        [
            label_list(*SYSTEM_LABELS),
            api_error(409, "duplicate", "Label name exists or conflicts"),
            label_list(*SYSTEM_LABELS, ("Label_9", "tier0", "user")),
            modified_message("m1", ["INBOX", "Label_9"]),
        ]
    )
    source = make_source(fake, processed_label="tier0")
    assert source.mark_processed(["m1"]) == 1
    assert fake.requests[-1].body == {"addLabelIds": ["Label_9"]}


def test_a_message_deleted_before_labelling_does_not_stop_the_rest(make_source: MakeSource) -> None:
    fake = FakeGmail(
        [
            label_list(*SYSTEM_LABELS, ("Label_3", "tier0", "user")),
            api_error(404, "notFound", "Requested entity was not found."),
            modified_message("m2", ["INBOX", "Label_3"]),
        ]
    )
    source = make_source(fake, processed_label="tier0")
    assert source.mark_processed(["gone", "m2"]) == 1
    assert fake.unused_responses == 0


def test_without_a_processed_label_nothing_is_sent(make_source: MakeSource) -> None:
    fake = FakeGmail([])
    source = make_source(fake)
    assert source.mark_processed(["m1"]) == 0
    assert fake.requests == []
