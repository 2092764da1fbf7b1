"""Reply extraction: a table of cases written for this project, plus the public peer corpus."""

from __future__ import annotations

from typing import Any

import pytest

from backend.mail.message import ReplyParts
from backend.mail.reply import split_reply, text_for_triage
from tests.mail.conftest import load_cases, require_shared

CASES = load_cases("reply_cases.json")


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_reply_case(case: dict[str, Any]) -> None:
    parts = split_reply(case["text"], html=case.get("html"), sender=case.get("sender"))
    assert isinstance(parts, ReplyParts)
    if "reply_equals" in case:
        assert parts.reply_text == case["reply_equals"]
    for expected in case.get("reply_contains", []):
        assert expected in parts.reply_text
    for unexpected in case.get("reply_excludes", []):
        assert unexpected not in parts.reply_text
    if "signature_equals" in case:
        assert parts.signature == case["signature_equals"]
    for expected in case.get("signature_contains", []):
        assert expected in parts.signature
    for expected in case.get("quoted_contains", []):
        assert expected in parts.quoted_text
    for expected in case.get("forwarded_contains", []):
        assert expected in parts.forwarded_text
    for unexpected in case.get("forwarded_excludes", []):
        assert unexpected not in parts.forwarded_text
    for expected in case.get("triage_contains", []):
        assert expected in text_for_triage(parts)


def test_triage_text_is_the_reply_when_the_sender_wrote_enough() -> None:
    text = (
        "Since Monday some appointments show up twice in myKaarma. Yesterday we had four, today three. "
        "The advisors delete the extra ones by hand every morning, which takes them about half an hour, and "
        "customers get two reminder texts for the same visit, which confuses them. It seems to happen only "
        "for appointments that were rescheduled through Pam, not for new ones booked at the desk. Could "
        "someone look into it this week?\n\n"
        "---------- Forwarded message ---------\nFrom: A <a@example.com>\nDate: Mon, Oct 5, 2026 at 9:00 AM\n"
        "Subject: x\nTo: B <b@example.com>\n\nunrelated older note\n"
    )
    parts = split_reply(text)
    assert parts.forwarded_text == "unrelated older note"
    # The note is long enough and does not point at the forward, so triage reads the note alone.
    assert "unrelated older note" not in text_for_triage(parts)


def test_pathological_body_is_handled() -> None:
    # A long run of quote-like and header-like lines must not blow up (linear patterns only).
    body = "Reply\n" + "> On Mon, Oct 5, 2026 at 9:00 AM X <x@example.com> wrote:\n" * 3000 + ("From: a\n" * 2000)
    parts = split_reply(body)
    assert parts.reply_text.startswith("Reply")


@pytest.fixture(scope="module")
def peer_results() -> dict[str, Any]:
    require_shared("external", "reply_extraction", "reply_cases.jsonl")
    from backend.mail.measure import measure_reply_cases

    return measure_reply_cases()


def test_portable_peer_cases_pass_rate(peer_results: dict[str, Any]) -> None:
    assert peer_results["portable"] == 254
    failing = [f["id"] for f in peer_results["failures"] if f["portable"]]
    assert peer_results["portable_rate"] >= 0.95, failing


@pytest.mark.parametrize(
    "suite",
    [
        "github_email_reply_parser",
        "zapier_email_reply_parser",
        "mail_parser_reply",
        "mailgun_talon",
        "closeio_quotequail",
        "discourse_email_reply_trimmer",
    ],
)
def test_each_peer_suite_portable_cases(peer_results: dict[str, Any], suite: str) -> None:
    row = peer_results["per_suite"][suite]
    assert row["portable"] > 0
    # Every suite, not just the total, stays at 95% or better on its portable cases.
    assert row["portable_passed"] / row["portable"] >= 0.95, row
