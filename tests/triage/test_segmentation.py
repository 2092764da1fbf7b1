"""Segmentation with the shipped model: how many requests an email holds, and which.

The emails here were written for these tests (not taken from the dev mailbox)."""

from __future__ import annotations

import pytest

from backend.triage.local import LocalClassifier
from backend.triage.types import EmailForTriage


def triage(classifier: LocalClassifier, text: str, subject: str = "Question") -> list[str]:
    result = classifier.triage(EmailForTriage(subject=subject, text=text))
    return [request.category for request in result.requests]


def test_single_request_with_greeting_context_and_signoff(classifier: LocalClassifier) -> None:
    text = (
        "Good morning,\n\n"
        "We're a two-store group and I handle the BDC for both.\n\n"
        "Since Tuesday the password reset email never arrives for me, so I can't get into the dashboard. "
        "I checked spam and junk.\n\n"
        "Can you reset it for me?\n\n"
        "Thanks,\nMaria Lopez\nBDC Manager | Lakeside Honda\n(555) 010-3344"
    )
    assert triage(classifier, text, "Locked out") == ["account_access"]


def test_numbered_list_of_unrelated_requests(classifier: LocalClassifier) -> None:
    text = (
        "Hi team,\n\nA couple of things:\n\n"
        "1. Our September invoice charges us for three rooftops but we only have two live. "
        "Please send a corrected invoice.\n\n"
        "2. How do I export all of last month's text conversations to Excel? I only see a print button.\n\n"
        "Thanks,\nJoe"
    )
    assert triage(classifier, text) == ["billing", "how_to"]


def test_request_buried_mid_paragraph_after_also(classifier: LocalClassifier) -> None:
    text = (
        "Pam keeps telling callers our body shop is open on Saturdays, which it has never been, and two "
        "people showed up to a locked door last weekend. Also, could you add our new advisor Tom Reese "
        "(treese@lakeside.example) to the dashboard as an Agent?\n\nThanks"
    )
    assert triage(classifier, text) == ["ai_behavior", "account_access"]


def test_ps_adds_a_second_request(classifier: LocalClassifier) -> None:
    text = (
        "Please add Veterans Day to our holiday schedule, service is closed that day.\n\n"
        "Thanks!\nKaren\n\n"
        "P.S. It would be great if the app could show the Analytics numbers someday."
    )
    categories = triage(classifier, text, "Holiday")
    assert len(categories) == 2
    assert categories[0] == "config_change"


def test_forwarded_staff_note_under_a_one_line_intro_is_one_request(classifier: LocalClassifier) -> None:
    text = (
        "See below from one of my advisors. Can you look into this?\n\n"
        "Mike,\n\n"
        "A customer came in today saying Pam told him on the phone that his oil change would be free "
        "because of a promotion. We don't have any promotion like that. He was pretty annoyed when we "
        "charged him.\n\n"
        "Dave"
    )
    assert triage(classifier, text, "Fwd: customer complaint") == ["ai_behavior"]


def test_two_asks_about_the_same_thing_are_one_request(classifier: LocalClassifier) -> None:
    text = (
        "Our CDK sync has been dropping some appointments since the weekend, maybe one in five.\n\n"
        "Can you tell me which appointments didn't make it over? And can you fix whatever is causing it?"
    )
    assert triage(classifier, text, "CDK") == ["integration_issue"]


def test_announced_count_splits_unannounced_paragraphs(classifier: LocalClassifier) -> None:
    text = (
        "Two things.\n\n"
        "Please change our parts transfer number to 555-0188, the old one goes to a fax machine now.\n\n"
        "I'd love to see a way to reply to customers from my smartwatch. Probably not possible today, "
        "but please pass it along."
    )
    assert len(triage(classifier, text)) == 2


@pytest.mark.parametrize("text", [
    "Pam is down. Nobody can get through, calls ring forever and nobody answers. Full drive this morning.",
    "ALL of our texts are failing since 8am, confirmations and replies, nothing goes out.",
])
def test_outages(classifier: LocalClassifier, text: str) -> None:
    assert triage(classifier, text, "Help") == ["outage"]
