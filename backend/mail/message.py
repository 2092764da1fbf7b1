"""The parsed form of one email, shared by every stage after the MIME parser.

The parser fills it from raw RFC 5322 bytes; later stages (reply extraction,
automated-mail detection, threading, triage) read it and never touch MIME.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int  # decoded payload bytes
    inline: bool  # Content-Disposition inline or referenced by Content-ID (e.g. an embedded image)
    content_id: str | None = None


@dataclass
class ParsedEmail:
    message_id: str | None  # "<local@domain>", angle brackets kept; None when the header is missing
    in_reply_to: list[str]  # Message-IDs, angle brackets kept
    references: list[str]  # in header order; comma- or space-separated forms both accepted
    subject: str  # RFC 2047 decoded, unfolded
    from_address: str | None  # lowercased addr-spec
    from_name: str | None
    to_addresses: list[str]
    cc_addresses: list[str]
    reply_to_addresses: list[str]
    date: datetime | None  # timezone-aware; None when missing or unparseable
    headers: list[tuple[str, str]]  # every header, decoded, in order (names as written)
    body_text: str  # the readable body: text/plain when present, else the HTML part rendered to text
    body_html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)  # parser defects and notes (e.g. charset fallbacks)
    size_bytes: int = 0
    truncated: bool = False  # body capped because the mail exceeded the size limit

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitive."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]


@dataclass(frozen=True)
class ReplyParts:
    reply_text: str  # what the sender wrote in this message, without quoted history or signature
    signature: str  # the sender's signature block, if one was found ("" otherwise)
    quoted_text: str  # quoted history / earlier messages ("" when none)
    forwarded_text: str = ""  # body of a forwarded message, when the mail forwards one


AutomatedKind = Literal["auto_reply", "bounce", "newsletter", "spam"]


@dataclass(frozen=True)
class AutomatedVerdict:
    kind: AutomatedKind
    reason: str  # which rule fired, e.g. "header Auto-Submitted: auto-replied (RFC 3834)"


class UnparseableEmail(Exception):
    """The sender's failure: the bytes cannot be read as an email. Recorded with the reason, never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
