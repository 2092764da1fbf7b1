"""Reading a labelled mailbox (the dev labels.jsonl format) and the examples it teaches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.triage.labelled import (
    LabelledMailboxError,
    load_labelled_mailbox,
    training_examples_from_emails,
)


def eml(message_id: str, subject: str, body: str, in_reply_to: str | None = None) -> bytes:
    headers = [f"Message-ID: {message_id}", "From: Joe <joe@lakeside.example>", "To: support@pam.example",
               f"Subject: {subject}", "Date: Tue, 04 Aug 2026 08:35:00 -0500", "MIME-Version: 1.0",
               'Content-Type: text/plain; charset="utf-8"']
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    return ("\n".join(headers) + "\n\n" + body).encode()


@pytest.fixture
def mailbox(tmp_path: Path) -> Path:
    (tmp_path / "mail").mkdir()
    first, ours = "<a1@lakeside.example>", "<s1@pam.example>"
    (tmp_path / "mail" / "0001.eml").write_bytes(eml(first, "CDK sync", "Hi,\n\nSome appointments never reach "
                                                     "CDK since Monday. Can you check?\n\nJoe"))
    (tmp_path / "mail" / "0002.eml").write_bytes(eml(
        "<a2@lakeside.example>", "RE: CDK sync", "Any update on this? Three more were missing this morning.\n\nJoe\n\nOn Tue, Aug 4, 2026 at 9:00 AM Pam "
        "Support <support@pam.example> wrote:\n> We're looking.", in_reply_to=ours))
    (tmp_path / "mail" / "0003.eml").write_bytes(eml(
        "<a3@lakeside.example>", "RE: CDK sync", "That fixed it, thanks!\n\n> quoted", in_reply_to=first))
    labels = [
        {"file": "0001.eml", "message_id": first, "kind": "request", "actionable": True, "account": "lakeside",
         "followup_of": None, "notes": "", "requests": [
             {"summary": "Appointments missing in CDK", "category": "integration_issue",
              "product_area": "integrations", "priority": "P2", "tier": 2,
              "route": "support-eng-integrations", "integration": "cdk"}]},
        {"file": "0002.eml", "message_id": "<a2@lakeside.example>", "kind": "followup", "actionable": False,
         "account": "lakeside", "followup_of": first, "notes": "", "requests": []},
        {"file": "0003.eml", "message_id": "<a3@lakeside.example>", "kind": "thanks", "actionable": False,
         "account": "lakeside", "followup_of": None, "notes": "", "requests": []},
    ]
    (tmp_path / "labels.jsonl").write_text("\n".join(json.dumps(label) for label in labels) + "\n")
    (tmp_path / "accounts.csv").write_text("account_id,name,domains,integration\nlakeside,Lakeside,"
                                           "lakeside.example,cdk\n")
    return tmp_path


def test_mailbox_emails_text_replies_and_existing_requests(mailbox: Path) -> None:
    emails = load_labelled_mailbox(mailbox)
    assert [e.kind for e in emails] == ["request", "followup", "thanks"]
    first, chaser, thanks = emails
    assert not first.is_reply and first.existing_requests == ()
    assert first.account_integration == "cdk"
    assert "never reach CDK" in first.text
    assert chaser.is_reply and "We're looking" not in chaser.text
    assert [r.category for r in chaser.existing_requests] == ["integration_issue"]
    assert thanks.conversation == first.message_id  # linked through its In-Reply-To header
    assert thanks.for_triage().is_reply


def test_examples_taught_by_a_mailbox(mailbox: Path) -> None:
    examples = training_examples_from_emails(load_labelled_mailbox(mailbox))
    requests = [e for e in examples if e.role == "request"]
    assert {e.text for e in requests} >= {"Appointments missing in CDK"}
    assert any("never reach CDK" in e.text and e.text.startswith("CDK sync") for e in requests)
    assert all(e.category == "integration_issue" for e in requests)
    assert {e.role for e in examples if e.source == "dev/0002.eml"} == {"chaser"}
    assert {e.role for e in examples if e.source == "dev/0003.eml"} == {"thanks"}


def test_missing_file_is_reported_with_its_line(mailbox: Path) -> None:
    (mailbox / "mail" / "0002.eml").unlink()
    with pytest.raises(LabelledMailboxError, match=r"labels.jsonl:2"):
        load_labelled_mailbox(mailbox)


def test_the_dev_mailbox_loads(shared_dir: Path) -> None:
    emails = load_labelled_mailbox(shared_dir / "data" / "mailbox-dev")
    assert len(emails) == 167  # human mail only: request, followup, followup_new, thanks
    assert sum(len(e.requests) for e in emails) == 197
    assert all(e.text.strip() for e in emails)
