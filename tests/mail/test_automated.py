"""Automated-mail detection: a table of cases written for this project (positives for every rule and
the customer mails each rule must leave alone), plus the public corpora and the dev mailbox."""

from __future__ import annotations

from typing import Any

import pytest

from backend.mail.automated import detect_automated
from backend.mail.message import ParsedEmail
from backend.mail.mime import parse_email
from backend.mail.reply import split_reply
from tests.mail.conftest import load_cases, require_shared

CASES = load_cases("automated_cases.json")


def _email(case: dict[str, Any]) -> ParsedEmail:
    headers = case["headers"]
    if "Message-ID" not in headers:
        headers += f"\nMessage-ID: <{case['id']}@test.example>"
    if "To:" not in headers:
        headers += "\nTo: Pam Support <support@pam.example>"
    return parse_email(f"{headers}\n\n{case['body']}\n".encode())


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_automated_case(case: dict[str, Any]) -> None:
    email = _email(case)
    parts = split_reply(email.body_text, html=email.body_html, sender=email.header("From"))
    verdict = detect_automated(email, parts.reply_text)
    assert (verdict.kind if verdict else None) == case["kind"], verdict
    if verdict:
        assert verdict.reason  # every verdict says which rule fired


def test_reply_text_defaults_to_the_parsed_body() -> None:
    case = next(c for c in CASES if c["id"] == "english_ooo_text_without_headers")
    verdict = detect_automated(_email(case))
    assert verdict is not None and verdict.kind == "auto_reply"


@pytest.fixture(scope="module")
def corpora() -> dict[str, Any]:
    require_shared("external", "automated_mail")
    from backend.mail.measure import measure_automated_corpora

    return measure_automated_corpora()


def test_sisimai_bounces_and_auto_replies(corpora: dict[str, Any]) -> None:
    sisimai = corpora["sisimai"]
    assert sisimai["bounce_detected"] / sisimai["bounce_total"] >= 0.98, sisimai["misses"]
    assert sisimai["auto_reply_detected"] == sisimai["auto_reply_total"] == 5
    assert sisimai["not_bounce_flagged"] == 0


def test_flufl_bounces(corpora: dict[str, Any]) -> None:
    flufl = corpora["flufl_bounce"]
    assert flufl["bounce_detected"] / flufl["bounce_total"] >= 0.95, flufl["misses"]


def test_bounce_email_corpus(corpora: dict[str, Any]) -> None:
    mitio = corpora["mitio_bounce_email"]
    assert mitio["bounce_detected"] == mitio["bounce_total"]
    # The three Latvian out-of-office mails and the no-subject mail are not bounces.
    assert mitio["non_bounce_flagged_bounce"] == 0


def test_flanker_bounces(corpora: dict[str, Any]) -> None:
    flanker = corpora["mailgun_flanker"]
    assert flanker["bounce_detected"] == flanker["bounce_total"]
    assert flanker["asserted_correct"] == flanker["asserted_total"]


def test_discourse_and_zammad_header_cases(corpora: dict[str, Any]) -> None:
    rows = corpora["discourse_zammad"]
    assert rows["correct"] == rows["total"], rows["rows"]


def test_dev_mailbox_kinds_and_no_false_positives() -> None:
    require_shared("data", "mailbox-dev", "labels.jsonl")
    from backend.mail.measure import measure_dev_mailbox

    dev = measure_dev_mailbox()
    assert dev["false_positives"] == []
    assert dev["automated_kind_correct"] == dev["automated_total"], dev["wrong"]
