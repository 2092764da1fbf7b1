"""Raw RFC 5322 bytes to a `ParsedEmail`: headers decoded, one readable body, attachments listed.

Real mail is often broken, so every step has a fallback instead of an exception:

* **Structure**: Python's `email` package with `policy.default` (it never raises while parsing; it
  records defects). Bodies are decoded from `get_payload(decode=True)` by this module rather than
  with `get_content()`, because `get_content()` raises on unknown charsets and unknown
  Content-Transfer-Encodings (21 files of the public MIME corpus do that).
* **Headers**: decoded here from the raw value: RFC 2047 encoded-words, including malformed ones
  (missing "?=", spaces inside, unknown or wrong charsets), and raw 8-bit bytes (UTF-8 first, then
  Windows-1252). Folded lines are unfolded (RFC 5322 §2.2.3).
* **Charsets**: the declared one when it decodes cleanly; aliases mail clients use that Python
  does not know (``ks_c_5601-1987``, ``x-unknown``, ``iso-8859-8-i``…) are mapped; a declared charset
  that does not fit the bytes falls back (UTF-8, then charset-normalizer for non-Latin scripts, then
  Windows-1252) and the fallback is recorded in `defects`.
* **Body**: in `multipart/alternative` the text/plain part, unless it is empty or a stub ("view
  this email in your browser"), then the HTML rendered by `html_text`. Parts of `multipart/mixed`
  are concatenated in order; an attached message (`message/rfc822`) and the machine part of a
  delivery report stay attachments.
* **Size**: input over `max_bytes` is parsed up to the limit and the body text is capped;
  `truncated` is set and `defects` says so.

Failures: the only exception is `UnparseableEmail` (the sender's failure: record, count, move on)
when the bytes are not an email at all: empty, binary, or without a header block. Anything else
odd is recorded in `defects` and parsing carries on.
"""

from __future__ import annotations

import codecs
import email
import email.utils
import re
from datetime import UTC, datetime
from email import policy
from email.message import Message

import charset_normalizer

from backend.mail.html_text import html_to_text
from backend.mail.message import Attachment, ParsedEmail, UnparseableEmail

MAX_BODY_CHARS = 500_000  # a readable body longer than this is cut (triage reads far less)

# Charset names seen in real mail that Python's codec registry does not know or gets wrong.
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",  # cp949 is the superset mail clients actually send
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-1": "cp1252",  # WHATWG: labels for Latin-1 mean Windows-1252 in practice
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "136": "big5hkscs",
    "cp-850": "cp850",
    "tis-620": "cp874",
}
# Labels that say "no idea": detect instead.
_UNKNOWN_CHARSETS = frozenset({"x-unknown", "unknown", "unknown-8bit", "x-user-defined", "default", "charset", ""})
_LATIN_GUESSES = frozenset(
    {"cp1250", "cp1252", "latin_1", "iso8859_1", "iso8859_2", "iso8859_15", "cp850", "mac_roman", "ascii",
     "iso8859_9", "cp1254", "iso8859_3", "iso8859_4", "cp1257", "iso8859_13", "iso8859_10", "iso8859_14",
     "iso8859_16", "cp437", "cp1258", "mac_latin2", "cp852", "utf_16", "utf_16_le", "utf_16_be"}
)

# text/plain alternatives that only point at the HTML.
_PLAIN_STUB = re.compile(
    r"(?:html|rich[- ]text)\s+(?:e-?mail|message|version)|view\s+(?:this|it|the)\s+(?:e-?mail|message)?\s*"
    r"(?:in|on)\s+(?:your|a|the)\s+(?:web\s+)?browser|does\s+not\s+support\s+html|"
    r"html[- ]compatible|enable\s+html|no\s+text\s+version|this\s+is\s+a\s+multi-?part\s+message",
    re.IGNORECASE,
)
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([bBqQ])\?(.*?)(?:\?=|(?=\s)|$)")
_MSG_ID = re.compile(r"<\s*([^<>\s]+?)\s*>")
_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]{1,100}[ \t]*:")
# RFC 5322 §4.5 obsolete syntax allows white space before the colon ("From  : John"); Python's
# parser does not, so such names are closed up before parsing.
_OBS_HEADER_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]{1,100})[ \t]+:", re.MULTILINE)
_KNOWN_HEADERS = frozenset(
    {
        "from", "to", "cc", "subject", "date", "message-id", "received", "return-path", "mime-version",
        "content-type", "delivered-to", "reply-to", "sender", "in-reply-to", "references", "x-mailer",
        "content-transfer-encoding", "x-original-to", "envelope-to", "x-failed-recipients", "auto-submitted",
    }
)


# --------------------------------------------------------------------------------------------
# Charsets and header decoding
# --------------------------------------------------------------------------------------------


def _codec_for(label: str | None) -> str | None:
    """A Python codec name for a declared charset label, or None when the label says nothing."""
    if label is None:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _UNKNOWN_CHARSETS:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _guess_decode(data: bytes) -> tuple[str, str]:
    """Decode bytes with no usable charset: UTF-8, then a non-Latin guess, then Windows-1252."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data[:65536]).best()
    if best is not None:
        encoding = codecs.lookup(best.encoding).name
        # Short Western text is often misread as Central European; Windows-1252 is what such mail
        # actually uses, so only trust the detector for other scripts (Cyrillic, CJK, Greek, …).
        if encoding.replace("-", "_") not in _LATIN_GUESSES:
            try:
                return data.decode(encoding), encoding
            except (UnicodeDecodeError, LookupError):
                pass
    return data.decode("cp1252", errors="replace"), "cp1252"


def decode_bytes(data: bytes, declared: str | None, defects: list[str], where: str) -> str:
    """Decode `data` with its declared charset, falling back (and recording why) when it does not fit."""
    codec = _codec_for(declared)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            text, used = _guess_decode(data)
            defects.append(f"{where}: declared charset {declared!r} does not match the bytes; decoded as {used}")
            return text
        except LookupError:  # codecs.lookup accepted it but the codec cannot decode (e.g. a text encoding only)
            pass
    if declared and declared.strip().lower() not in _UNKNOWN_CHARSETS and declared.strip():
        defects.append(f"{where}: unknown charset {declared!r}")
    if data.isascii():
        return data.decode("ascii")
    text, used = _guess_decode(data)
    if declared is None or declared.strip().lower() in _UNKNOWN_CHARSETS or _codec_for(declared) is None:
        defects.append(f"{where}: no usable charset declared; decoded as {used}")
    return text


def _raw_header_text(value: object, hint: str | None = None) -> str:
    """The header value as a str. Raw 8-bit bytes (RFC 6532 allows UTF-8; older clients send their
    local charset) are tried as UTF-8, then as the message's body charset, then as Windows-1252."""
    text = str(value)
    if not any("\udc80" <= char <= "\udcff" for char in text):
        return text
    raw = text.encode("utf-8", errors="surrogateescape")
    for codec in ("utf-8", _codec_for(hint)):
        if codec is None:
            continue
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("cp1252", errors="replace")


def _decode_word(charset: str, encoding: str, payload: str, defects: list[str]) -> str | None:
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix: =?utf-8*en?Q?…?=
    try:
        if encoding.lower() == "b":
            cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
            data = codecs.decode((cleaned + "=" * (-len(cleaned) % 4)).encode("ascii"), "base64")
        else:
            data = _decode_q(payload)
    except ValueError:
        return None
    return decode_bytes(data, charset, defects, "header")


def _decode_q(payload: str) -> bytes:
    """RFC 2047 §4.2 "Q" encoding: "_" is a space, "=XX" a byte; a stray "=" is kept as is."""
    out = bytearray()
    index = 0
    raw = payload.encode("utf-8", errors="surrogateescape")
    while index < len(raw):
        byte = raw[index]
        if byte == 0x5F:  # "_"
            out.append(0x20)
        elif byte == 0x3D and index + 2 < len(raw) + 0 and re.match(rb"[0-9A-Fa-f]{2}", raw[index + 1 : index + 3]):
            out.append(int(raw[index + 1 : index + 3], 16))
            index += 2
        else:
            out.append(byte)
        index += 1
    return bytes(out)


def decode_header_value(value: object, defects: list[str] | None = None, hint: str | None = None) -> str:
    """Decode one header value: unfold, RFC 2047 encoded-words (tolerant), raw 8-bit text.

    `hint` is a charset to try for raw 8-bit bytes (the message's body charset)."""
    sink: list[str] = defects if defects is not None else []
    text = _raw_header_text(value, hint)
    text = re.sub(r"\r?\n[ \t]*", " ", text).replace("\r", " ").strip()
    if "=?" not in text:
        return text
    pieces: list[str] = []
    last_end = 0
    previous_was_word = False
    for match in _ENCODED_WORD.finditer(text):
        between = text[last_end : match.start()]
        decoded = _decode_word(match.group(1), match.group(2), match.group(3), sink)
        if decoded is None:
            pieces.append(between + match.group(0))
            previous_was_word = False
        else:
            # RFC 2047 §6.2: whitespace between two adjacent encoded-words is not displayed.
            if not (previous_was_word and not between.strip()):
                pieces.append(between)
            pieces.append(decoded)
            previous_was_word = True
        last_end = match.end()
    pieces.append(text[last_end:])
    return "".join(pieces).strip()


def normalise_message_id(value: str | None) -> str | None:
    """"<local@domain>" with surrounding and inner whitespace removed; bare ids get their brackets."""
    ids = parse_message_ids(value)
    return ids[0] if ids else None


def parse_message_ids(value: str | None) -> list[str]:
    """Message-IDs in a References / In-Reply-To value, in order, duplicates dropped.

    Tolerates comma separation (Exchange, iOS), folding, missing angle brackets and trailing
    comments such as "(John's message of …)".
    """
    if not value:
        return []
    text = re.sub(r"\s+", " ", value)
    found: list[str] = []
    bracketed = list(_MSG_ID.finditer(text))
    if bracketed:
        candidates = [f"<{m.group(1)}>" for m in bracketed]
        # Bare ids mixed in with bracketed ones ("a@b, <c@d>").
        remainder = _MSG_ID.sub(" ", text)
        candidates += [f"<{tok}>" for tok in re.split(r"[\s,;]+", remainder) if "@" in tok and "(" not in tok]
    else:
        candidates = [f"<{tok.strip('<>')}>" for tok in re.split(r"[\s,;]+", text) if "@" in tok]
    for candidate in candidates:
        cleaned = re.sub(r"\s+", "", candidate)
        if cleaned not in found and len(cleaned) > 2:
            found.append(cleaned)
    return found


def _addresses(values: list[str], defects: list[str], hint: str | None = None) -> list[tuple[str, str]]:
    """(decoded name, lowercased addr-spec) pairs; names decoded after splitting, so encoded commas stay."""
    raw_values = [re.sub(r"\r?\n[ \t]*", " ", _raw_header_text(v, hint)) for v in values]
    try:
        pairs = email.utils.getaddresses(raw_values)
    except Exception as error:  # getaddresses has raised on pathological input in some Python releases
        defects.append(f"address header could not be split: {type(error).__name__}")
        pairs = [("", v) for v in raw_values]
    out: list[tuple[str, str]] = []
    for name, address in pairs:
        address = address.strip().strip("<>").lower()
        if not address:
            continue
        out.append((decode_header_value(name, defects).strip().strip('"'), address))
    return out


def _parse_date(value: str | None, defects: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append(f"unparseable Date header: {value[:80]!r}")
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # "-0000": the time is UTC but the zone unknown (RFC 5322 §3.3)
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------


def _check_is_email(raw: bytes) -> None:
    if not raw or not raw.strip():
        raise UnparseableEmail("empty input")
    head = raw[:4096]
    if b"\x00" in head[:512]:
        raise UnparseableEmail("binary data (NUL bytes), not an email")
    controls = sum(1 for byte in head if byte < 0x09 or 0x0E <= byte < 0x20)
    if controls > len(head) * 0.05:
        raise UnparseableEmail("binary data, not an email")
    lines = raw.lstrip(b"\r\n\t ").split(b"\n", 50)
    if lines and lines[0].startswith(b"From "):  # mbox separator line
        lines = lines[1:]
    if not lines or not _HEADER_LINE.match(lines[0]):
        raise UnparseableEmail("no header block at the start of the input")


def _close_obsolete_header_names(raw: bytes) -> bytes:
    match = re.search(rb"\r?\n\r?\n", raw)
    end = match.start() if match else len(raw)
    head = raw[:end]
    if not _OBS_HEADER_NAME.search(head):
        return raw
    return _OBS_HEADER_NAME.sub(rb"\1:", head) + raw[end:]


def _part_filename(part: Message, defects: list[str]) -> str | None:
    try:
        name = part.get_filename()
    except Exception as error:  # RFC 2231 parameter parsing has raised on broken continuations
        defects.append(f"unreadable attachment filename: {type(error).__name__}")
        name = None
    if name is None:
        raw = part.get_param("name", header="content-type")
        if isinstance(raw, tuple):  # RFC 2231 (charset, language, value)
            name = email.utils.collapse_rfc2231_value(raw)
        elif isinstance(raw, str):
            name = raw
    if name is None:
        return None
    return decode_header_value(name, defects) or None


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception as error:  # a broken transfer encoding: keep the raw text
        defects.append(f"undecodable {part.get_content_type()} payload: {type(error).__name__}")
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", errors="surrogateescape")
    return b""


def _disposition(part: Message) -> str:
    value = part.get("Content-Disposition")
    if value is None:
        return ""
    return str(value).split(";", 1)[0].strip().lower()


class _Walker:
    """Collects body texts and attachments from a message tree."""

    def __init__(self, defects: list[str]) -> None:
        self.defects = defects
        self.attachments: list[Attachment] = []

    def attach(self, part: Message, size: int | None = None) -> None:
        content_id = part.get("Content-ID")
        if size is None:
            payload = part.get_payload()
            if isinstance(payload, list):
                size = sum(len(p.as_bytes()) if isinstance(p, Message) else 0 for p in payload)
            else:
                size = len(_payload_bytes(part, self.defects))
        disposition = _disposition(part)
        self.attachments.append(
            Attachment(
                filename=_part_filename(part, self.defects),
                content_type=part.get_content_type(),
                size=size,
                inline=disposition == "inline" or (content_id is not None and disposition != "attachment"),
                content_id=normalise_message_id(str(content_id)) if content_id else None,
            )
        )

    def text_of(self, part: Message) -> str:
        data = _payload_bytes(part, self.defects)
        text = decode_bytes(data, part.get_content_charset(), self.defects, part.get_content_type())
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def walk(self, part: Message, depth: int = 0) -> tuple[list[str], list[str]]:
        """(plain texts, html texts) of this part, in document order."""
        if depth > 60:
            self.defects.append("MIME nesting deeper than 60 levels; inner parts skipped")
            return [], []
        content_type = part.get_content_type()
        maintype = part.get_content_maintype()
        if part.is_multipart():
            children = [p for p in part.get_payload() if isinstance(p, Message)]
            if content_type == "message/rfc822" or maintype == "message":
                self.attach(part)
                return [], []
            if content_type == "multipart/alternative":
                return self._alternative(children, depth)
            plains: list[str] = []
            htmls: list[str] = []
            for child in children:
                child_plain, child_html = self.walk(child, depth + 1)
                plains += child_plain
                htmls += child_html
            return plains, htmls
        if maintype == "multipart":
            # A multipart part whose boundary is missing or broken arrives as one string; keep what it
            # says as text rather than losing it (sisimai's Verizon samples fold the boundary wrongly).
            self.defects.append(f"{content_type} part without a usable boundary; its content is kept as text")
            return [self.text_of(part)], []
        disposition = _disposition(part)
        has_name = _part_filename(part, []) is not None
        if content_type in ("text/plain", "text/html") and disposition != "attachment" and not has_name:
            text = self.text_of(part)
            return ([text], []) if content_type == "text/plain" else ([], [text])
        self.attach(part)
        return [], []

    def _alternative(self, children: list[Message], depth: int) -> tuple[list[str], list[str]]:
        best_plain: list[str] = []
        best_html: list[str] = []
        for child in children:
            plain, html = self.walk(child, depth + 1)
            if plain and not best_plain:
                best_plain = plain
            if html:
                best_html = html  # RFC 2046 §5.1.4: the last alternative is the richest
        return best_plain, best_html


def _charset_hint(message: Message) -> str | None:
    """The first charset the message declares for a text part (used for raw 8-bit headers)."""
    try:
        for part in message.walk():
            if part.get_content_maintype() == "text":
                charset = part.get_content_charset()
                if charset:
                    return charset
    except Exception:  # a broken structure only costs the hint
        return None
    return None


def _is_stub(plain: str, html_text: str) -> bool:
    stripped = plain.strip()
    if not stripped:
        return True
    if len(stripped) < 400 and _PLAIN_STUB.search(stripped) and len(html_text.strip()) > len(stripped) * 2:
        return True
    # A plain part that carries a fraction of what the HTML says (some ESPs send a one-line plain part).
    return len(stripped) < 200 and len(html_text.strip()) > 10 * len(stripped)


def parse_email(raw: bytes, *, max_bytes: int = 10_000_000) -> ParsedEmail:
    """Parse raw RFC 5322 bytes. Raises `UnparseableEmail` only when the input is not an email."""
    _check_is_email(raw)
    defects: list[str] = []
    size = len(raw)
    truncated = False
    if size > max_bytes:
        raw = raw[:max_bytes]
        truncated = True
        defects.append(f"message is {size} bytes, over the {max_bytes}-byte limit: only the first {max_bytes} "
                       "bytes were parsed (later parts and attachments are missing)")
    raw = _close_obsolete_header_names(raw)
    message = email.message_from_bytes(raw, policy=policy.default)
    for defect in getattr(message, "defects", []):
        defects.append(f"parser: {type(defect).__name__}")

    hint = _charset_hint(message)
    headers: list[tuple[str, str]] = []
    for name, value in message.raw_items():
        headers.append((name, decode_header_value(value, defects, hint)))
    known = {name.lower() for name, _ in headers} & _KNOWN_HEADERS
    if not known:
        raise UnparseableEmail("no recognisable email header (From, To, Subject, Date, Received, …)")

    def raw_values(name: str) -> list[str]:
        lowered = name.lower()
        return [str(v) for k, v in message.raw_items() if k.lower() == lowered]

    def first(name: str) -> str | None:
        values = raw_values(name)
        return values[0] if values else None

    walker = _Walker(defects)
    try:
        plains, htmls = walker.walk(message)
    except RecursionError:
        defects.append("MIME structure too deep to walk")
        plains, htmls = [], []
    for part in message.walk():
        for defect in getattr(part, "defects", []) if part is not message else []:
            defects.append(f"parser ({part.get_content_type()}): {type(defect).__name__}")

    body_html = "\n".join(htmls) if htmls else None
    plain = "\n\n".join(p.strip("\n") for p in plains if p.strip())
    if body_html is not None:
        html_text = html_to_text(body_html)
        body_text = html_text if _is_stub(plain, html_text) else plain
    else:
        body_text = plain
    if len(body_text) > MAX_BODY_CHARS:
        body_text = body_text[:MAX_BODY_CHARS]
        truncated = True
        defects.append(f"body text cut at {MAX_BODY_CHARS} characters")
    if body_html is not None and len(body_html) > MAX_BODY_CHARS * 4:
        body_html = body_html[: MAX_BODY_CHARS * 4]
        truncated = True
        defects.append(f"HTML body cut at {MAX_BODY_CHARS * 4} characters")

    from_pairs = _addresses(raw_values("From"), defects, hint)
    return ParsedEmail(
        message_id=normalise_message_id(first("Message-ID")),
        in_reply_to=parse_message_ids(" ".join(raw_values("In-Reply-To"))),
        references=parse_message_ids(" ".join(raw_values("References"))),
        subject=decode_header_value(first("Subject") or "", [], hint),
        from_address=from_pairs[0][1] if from_pairs else None,
        from_name=(from_pairs[0][0] or None) if from_pairs else None,
        to_addresses=[address for _, address in _addresses(raw_values("To"), defects, hint)],
        cc_addresses=[address for _, address in _addresses(raw_values("Cc"), defects, hint)],
        reply_to_addresses=[address for _, address in _addresses(raw_values("Reply-To"), defects, hint)],
        date=_parse_date(first("Date"), defects),
        headers=headers,
        body_text=body_text.strip("\n"),
        body_html=body_html,
        attachments=walker.attachments,
        defects=defects,
        size_bytes=size,
        truncated=truncated,
    )
