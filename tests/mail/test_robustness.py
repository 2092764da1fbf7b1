"""Every message of the public MIME corpus, the automated-mail samples and the dev mailbox goes through
parse_email, split_reply and detect_automated without an unhandled exception. Only inputs that are not
emails at all (a licence file, a bare MIME body, an Outlook .msg binary) may raise UnparseableEmail."""

from __future__ import annotations

from backend.mail.measure import measure_mime_robustness
from tests.mail.conftest import require_shared

# Files listed in the MIME corpus index that are not RFC 5322 messages.
NOT_EMAILS = {
    "external/mime_corpus/cpython_test_email/msg_19.txt",  # a digest body without headers
    "external/mime_corpus/mikel_mail/MIT-LICENSE",
    "external/mime_corpus/spamscope_mail_parser/tests/mails/mail_outlook_1",  # Outlook .msg (OLE binary)
}


def test_no_unhandled_exception_on_any_corpus_file() -> None:
    require_shared("external", "mime_corpus", "index.json")
    require_shared("external", "automated_mail")
    require_shared("data", "mailbox-dev", "mail")
    result = measure_mime_robustness()
    assert result["crashes"] == []
    unparseable = {line.split(":", 1)[0] for line in result["unparseable"]}
    assert unparseable <= NOT_EMAILS
    assert result["per_corpus"]["mime_corpus"]["parsed"] >= 217
    assert result["per_corpus"]["mailbox_dev"]["parsed"] == 192
    assert result["per_corpus"]["automated_mail"]["parsed"] >= 750
