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


def test_a_follow_up_question_on_a_new_point_is_kept(classifier: LocalClassifier) -> None:
    open_login = ExistingRequest(category="account_access", product_area="dashboard",
                                 summary="Two new advisors cannot sign in with SSO")
    result = reply(classifier, "Thanks, both can sign in now.\n\nFollow-up question for our checklist: when we "
                               "disable someone in our identity provider, is their Pam user switched off too, or "
                               "do we also remove them in the dashboard?\n\nMaria", open_login)
    assert len(result.requests) == 1


def test_a_reply_that_announces_a_count_keeps_its_items(classifier: LocalClassifier) -> None:
    open_outage = ExistingRequest(category="outage", product_area="pam_core",
                                  summary="Pam is not answering the service line")
    result = reply(classifier, "Phones are working again. Two things.\n\n"
                               "How can I pull a list of the people who called while it was down, so we can "
                               "call them back?\n\n"
                               "And can you add my assistant Dana Ruiz to whatever alert emails you send "
                               "during an outage?", open_outage)
    assert len(result.requests) == 2


def test_context_about_the_old_topic_does_not_hide_a_new_ask(classifier: LocalClassifier) -> None:
    result = reply(classifier, "Thank you, the CDK appointments are all showing again.\n\n"
                               "That said, we went two weeks without it. I'd like a credit on this month's "
                               "invoice for that period.")
    assert [request.category for request in result.requests] == ["billing"]
