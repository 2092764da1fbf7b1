"""`tier0 parse PATH --json`: run the parsing layer over files and describe each one.

PATH is an ``.eml`` message, a bare body (``.txt`` = the text/plain body of a message, ``.html`` = its
text/html body), or a folder of them (processed in file-name order; other files are skipped). Each
file yields one dict::

    {"file", "kind", "reply_text", "signature", "quoted_text",
     "attachments": [{"filename", "content_type", "size", "inline"}], "language"}

``kind`` is ``auto_reply``, ``bounce``, ``newsletter`` or ``spam`` for machine-written mail and
``request`` for everything else (whether a mail is a follow-up or a bare "thanks" is decided later,
with the database). A file that is not an email gets ``kind: "failed"`` and an ``error`` (the
sender's failure: recorded, never raised). A path that does not exist or cannot be read raises
(ours: the caller passed a bad path).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from backend.mail.automated import detect_automated
from backend.mail.html_text import html_to_text
from backend.mail.language import detect_language
from backend.mail.message import ParsedEmail, UnparseableEmail
from backend.mail.mime import parse_email
from backend.mail.reply import split_reply, text_for_triage

SUPPORTED_SUFFIXES = (".eml", ".txt", ".html", ".htm")


def _body_only(text: str, html: str | None) -> ParsedEmail:
    """A header-less ParsedEmail for a bare body, so the content rules still apply."""
    return ParsedEmail(
        message_id=None,
        in_reply_to=[],
        references=[],
        subject="",
        from_address=None,
        from_name=None,
        to_addresses=[],
        cc_addresses=[],
        reply_to_addresses=[],
        date=None,
        headers=[],
        body_text=text,
        body_html=html,
        size_bytes=len(text.encode("utf-8")),
    )


def _decode_text_file(data: bytes) -> str:
    for codec in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def parse_file(path: Path, *, label: str | None = None) -> dict[str, Any]:
    """Describe one file (see the module docstring for the shape)."""
    name = label or str(path)
    data = path.read_bytes()
    suffix = path.suffix.lower()
    sender: str | None = None
    if suffix == ".eml":
        try:
            email = parse_email(data)
        except UnparseableEmail as error:
            return {"file": name, "kind": "failed", "error": error.reason}
        sender = email.header("From")
    elif suffix in (".html", ".htm"):
        html = _decode_text_file(data)
        email = _body_only(html_to_text(html), html)
    else:
        email = _body_only(_decode_text_file(data).replace("\r\n", "\n"), None)
    parts = split_reply(email.body_text, html=email.body_html, sender=sender)
    verdict = detect_automated(email, parts.reply_text)
    language_source = text_for_triage(parts) or email.body_text
    return {
        "file": name,
        "kind": verdict.kind if verdict else "request",
        "reply_text": parts.reply_text,
        "signature": parts.signature,
        "quoted_text": parts.quoted_text,
        "attachments": [
            {
                "filename": attachment.filename,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "inline": attachment.inline,
            }
            for attachment in email.attachments
        ],
        "language": detect_language(language_source),
    }


def parse_path(path: Path) -> Iterator[dict[str, Any]]:
    """One dict per file: PATH itself, or every supported file in the folder PATH, in name order."""
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
        )
        for file in files:
            yield parse_file(file)
        return
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    yield parse_file(path)
