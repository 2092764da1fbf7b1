"""MIME parsing: hand-written .eml fixtures (one per failure mode we handle) and generated edge cases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from backend.mail.message import UnparseableEmail
from backend.mail.mime import decode_header_value, parse_email, parse_message_ids
from tests.mail.conftest import EML, load_cases

CASES = load_cases("mime_cases.json")


@pytest.mark.parametrize("case", CASES, ids=[case["file"] for case in CASES])
def test_mime_fixture(case: dict[str, Any]) -> None:
    email = parse_email((EML / case["file"]).read_bytes())
    for field in ("subject", "from_name", "from_address", "to_addresses", "message_id", "in_reply_to", "references"):
        if field in case:
            assert getattr(email, field) == case[field], field
    if "subject_startswith" in case:
        assert email.subject.startswith(case["subject_startswith"])
    if "date" in case:
        expected = datetime.fromisoformat(case["date"]) if case["date"] else None
        assert email.date == expected
        if email.date is not None:
            assert email.date.tzinfo is not None
    for expected in case.get("body_contains", []):
        assert expected in email.body_text
    for unexpected in case.get("body_excludes", []):
        assert unexpected not in email.body_text
    if "has_html" in case:
        assert (email.body_html is not None) == case["has_html"]
    for name, value in case.get("headers", {}).items():
        assert email.header(name) == value
    if case.get("defects_empty"):
        assert email.defects == []
    if "defect_contains" in case:
        assert any(case["defect_contains"] in defect for defect in email.defects), email.defects
    if "attachments" in case:
        got = [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size, "inline": a.inline,
             "content_id": a.content_id}
            for a in email.attachments
        ]
        assert got == case["attachments"]
    assert email.size_bytes == len((EML / case["file"]).read_bytes())
    assert email.truncated is False


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \r\n\r\n  ", "empty"),
        (b"\x00\x01\x02PK\x03\x04" + bytes(range(256)) * 4, "binary"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", "no header block"),
        (b"Dear team,\nthis is just a letter without any header.\n", "no header block"),
        (b"X-Custom: 1\nX-Other: 2\n\nbody\n", "no recognisable email header"),
    ],
)
def test_not_an_email_raises_unparseable_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(UnparseableEmail) as error:
        parse_email(raw)
    assert reason in error.value.reason


def test_large_mail_is_truncated_with_a_note() -> None:
    attachment = b"QUFB" * 700_000  # ~2.8 MB of base64
    raw = (
        b"From: a@example.com\r\nTo: support@pam.example\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n'
        b"Please see the attached export.\r\n--B\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=export.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + attachment
        + b"\r\n--B--\r\n"
    )
    email = parse_email(raw, max_bytes=1_000_000)
    assert email.truncated is True
    assert email.size_bytes == len(raw)
    assert any("over the 1000000-byte limit" in defect for defect in email.defects)
    assert email.body_text == "Please see the attached export."
    assert email.attachments[0].filename == "export.bin"
    assert email.attachments[0].size < 1_000_000  # only what fitted under the limit


def test_huge_body_text_is_capped() -> None:
    from backend.mail.mime import MAX_BODY_CHARS

    raw = b"From: a@example.com\nSubject: log\n\n" + (b"line of a pasted log file\n" * (MAX_BODY_CHARS // 20))
    email = parse_email(raw)
    assert email.truncated is True
    assert len(email.body_text) <= MAX_BODY_CHARS
    assert any("body text cut" in defect for defect in email.defects)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@b> <c@d>", ["<a@b>", "<c@d>"]),
        ("<a@b>,<c@d>, <e@f>", ["<a@b>", "<c@d>", "<e@f>"]),
        ("<a@b>\r\n\t<c@d>", ["<a@b>", "<c@d>"]),
        ("a@b", ["<a@b>"]),
        ("<a@b> (John's message of Mon, 5 Oct 2026)", ["<a@b>"]),
        ("< a@b >", ["<a@b>"]),
        ("<a@b> <a@b>", ["<a@b>"]),
        ("", []),
        ("no ids here", []),
    ],
)
def test_message_id_lists(value: str, expected: list[str]) -> None:
    assert parse_message_ids(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=?utf-8?Q?Caf=C3=A9?=", "Café"),
        ("=?UTF-8?B?Q2Fmw6k=?=", "Café"),
        ("=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab"),  # RFC 2047 §6.2: space between encoded words is dropped
        ("=?utf-8?Q?a?= plain =?utf-8?Q?b?=", "a plain b"),
        ("=?iso-8859-1?q?caf=E9?=", "café"),
        ("=?utf-8?q?caf=E9?=", "café"),  # declared utf-8, Latin-1 bytes
        ("=?utf-8?B?Q2Fmw6k?=", "Café"),  # missing base64 padding
        ("=?utf-8?Q?no_end", "no end"),  # missing "?="
        ("=?utf-8*en?Q?tagged?=", "tagged"),  # RFC 2231 language tag
        ("=?nonsense?Q?x?=", "x"),
        ("folded\r\n continuation", "folded continuation"),
        ("plain ascii", "plain ascii"),
    ],
)
def test_header_decoding(value: str, expected: str) -> None:
    assert decode_header_value(value) == expected
