"""Replies in an open conversation: only new, unrelated requests become requests."""

from __future__ import annotations

from backend.triage.local import LocalClassifier
from backend.triage.types import EmailForTriage, ExistingRequest

OPEN_SYNC_ISSUE = ExistingRequest(
    category="integration_issue", product_area="integrations",
    summary="Some appointments booked by Pam are missing in CDK since Monday",
)
OPEN_INVOICE = ExistingRequest(
    category="billing", product_area="billing", summary="Invoice charges for three rooftops instead of two",
)


def reply(classifier: LocalClassifier, text: str, *existing: ExistingRequest):
    return classifier.triage(EmailForTriage(subject="RE: CDK [Pam Support #1234]", text=text, is_reply=True,
                                            existing_requests=existing or (OPEN_SYNC_ISSUE,)))


def test_status_chaser_yields_no_request(classifier: LocalClassifier) -> None:
    result = reply(classifier, "Any update on this? Four more were missing this morning.\n\nThanks,\nJoe")
    assert result.requests == []
    assert not result.gratitude_only


def test_still_happening_yields_no_request(classifier: LocalClassifier) -> None:
    result = reply(classifier, "Still happening today. Two customers showed up that weren't on the CDK "
                               "schedule again. Can someone look at it today?")
    assert result.requests == []


def test_supplying_requested_info_yields_no_request(classifier: LocalClassifier) -> None:
    result = reply(classifier, "Here are three from yesterday:\n- Ann Lee 9:00\n- Bo Diaz 10:30\n"
                               "- Cy Park 2:15\n\nJoe")
    assert result.requests == []


def test_confirming_the_fix_then_asking_something_unrelated_yields_only_the_new_request(
        classifier: LocalClassifier) -> None:
    result = reply(classifier, "Confirmed, everything is syncing again. Thank you!\n\n"
                               "Different subject: can you add our new service advisor Kim Tran "
                               "(ktran@lakeside.example) to the dashboard?\n\nJoe")
    assert [request.category for request in result.requests] == ["account_access"]


def test_a_new_request_in_the_same_category_but_about_something_else_is_kept(
        classifier: LocalClassifier) -> None:
    result = reply(classifier, "Thanks, the corrected invoice is fine.\n\nOn a separate note, starting next "
                               "month please send our invoices to ap@lakeside.example instead of me.",
                   OPEN_INVOICE)
    assert [request.category for request in result.requests] == ["billing"]


def test_bare_thanks_in_a_reply_is_gratitude_only(classifier: LocalClassifier) -> None:
    result = reply(classifier, "That fixed it, they're all on the board now. Thanks Tom!\n\nJoe")
    assert result.requests == []
    assert result.gratitude_only


def test_quoted_history_under_a_short_reply_is_not_a_new_request(classifier: LocalClassifier) -> None:
    # backend.mail.reply.text_for_triage appends the quoted message under a reply of a few words.
    text = ("Any update?\n\n---------- Quoted message ----------\n"
            "Hi, our reminder texts are going out with the wrong store name. Can you fix that?")
    assert reply(classifier, text).requests == []
