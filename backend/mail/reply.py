"""Split an email body into the sender's new text, their signature and the quoted history.

Triage must read what the customer wrote *in this message*, not the thread below it nor their
signature block. `split_reply` works on text lines (HTML is rendered first, with quoted containers
marked) in three passes:

1. **Hard boundary**: the first line where a client starts quoted history that is not ">"-quoted:
   an attribution line ("On … wrote:", in a dozen languages, wrapped over up to four lines), an
   Outlook header block ("From: … Sent: … To: … Subject:", localised field names, with or without the
   "-----Original Message-----" or underscore separator above it), a forward marker
   ("---------- Forwarded message ---------", "Begin forwarded message:", …) or a helpdesk
   "reply above this line" marker. Everything from there on is history.
2. **">"-quotes** above the boundary are history too (with the attribution line introducing them), but
   unquoted text *between* quote blocks is kept: that is how inline (interleaved) replies are written.
   One HTML exception: a passage the sender indented with Gmail's composer "Quote" formatting (a bare
   `blockquote.gmail_quote`, outside Gmail's reply wrapper) is their own text, not history.
3. **Signature**: from the bottom of what is left, the first of: a "-- " delimiter, a mobile-client line
   ("Sent from my iPhone", localised), a sign-off ("Best regards,", "Mit freundlichen Grüßen", …) or a
   "-Name" line followed only by a short name/title/phone block. A signature never starts on the first
   line of the message (a one-line "Thanks!" is the message).

A forward's own text (the forwarded message without its header block) is returned separately in
`forwarded_text`; `text_for_triage` adds it when the sender wrote little more than "FYI".

Nothing here raises on the sender's input: any text yields a `ReplyParts` (an empty body gives empty
parts). All patterns are anchored line patterns without nested quantifiers, so a pathological
body costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from backend.mail.html_text import html_to_text
from backend.mail.message import ReplyParts

# --------------------------------------------------------------------------------------------
# Vocabulary (facts about mail clients, gathered from their output in many languages)
# --------------------------------------------------------------------------------------------

# Verbs clients put in the attribution line of a reply ("On <date>, <name> wrote:").
_WROTE_VERBS = (
    r"wrote|writes|said|sent|schrieb|schreibt|geschrieben|a\s+écrit|a\s+ecrit|écrit|escribió|escribio|"
    r"escreveu|ha\s+scritto|scrisse|schreef|geschreven|skrev|skriver|kirjoitti|pisze|napisał|napisała|"
    r"napisal|napsal|napísal|írta|yazdı|пише|написал|написала|написав|написал\(а\)|"
    r"写道|寫道|のメッセージ|からのメッセージ|wrote\s+the\s+following|het\s+volgende\s+geschreven"
)
_ATTRIBUTION_VERB = re.compile(rf"(?:^|[\s,>\"'):])(?:{_WROTE_VERBS})(?:\(a\))?", re.IGNORECASE)
# How an attribution block may start (used to join lines of a wrapped attribution).
_ATTRIBUTION_START = re.compile(
    r"^(?:(?:on|am|le|el|il|em|op|den|dne|dnia|w\s+dniu|в|у|il\s+giorno|på|"
    r"понедельник|вторник|среда|четверг|пятница|суббота|воскресенье|"
    r"mon|tue|wed|thu|fri|sat|sun|lun|mar|mer|jeu|ven|sam|dim|ons|tis|tors|fre|lör|sön|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\d{1,4}[./\-年 ]|\S+@\S+|[\"']|在|於)",
    re.IGNORECASE,
)
_DATE_OR_TIME = re.compile(
    r"\d{1,2}:\d{2}|\d{4}[-/.年]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|"
    r"\b(?:19|20)\d{2}\b|\b\d{1,2}\s+\w{3,}\.?\s+\d{4}",
)
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# Android's "---- John Smith wrote ----".
_DASHED_WROTE = re.compile(rf"^-{{2,}}\s*.{{1,80}}\s(?:{_WROTE_VERBS})\s*-{{2,}}\s*$", re.IGNORECASE)

# Outlook-style header block field names, localised (Outlook, OWA, Gmail web "forward", Apple, Thunderbird).
_FROM_FIELDS = (
    "from|von|de|da|van|från|fra|frá|od|от|від|lähettäjä|feladó|kimden|odesílatel|差出人|发件人|寄件者|"
    "送信者|보낸 사람|afzender|remitente|expéditeur|mittente|nadawca"
)
_SENT_FIELDS = (
    "sent|date|datum|gesendet|envoyé|envoye|enviado|enviada|fecha|inviato|data|verzonden|verstuurd|skickat|"
    "sendt|wysłano|wysłany|отправлено|дата|надіслано|lähetetty|päivämäärä|elküldve|dátum|gönderildi|tarih|"
    "odesláno|送信日時|日付|发送时间|日期|寄件日期|時間|보낸 날짜|sent on|date sent"
)
_TO_FIELDS = (
    "to|an|à|a|para|aan|till|til|do|кому|komu|vastaanottaja|címzett|kime|komu|宛先|收件人|收件者|받는 사람|"
    "destinataire|destinatario|ontvanger|mottagare|modtager"
)
_CC_FIELDS = "cc|kopie|copie|cópia|cco|kopia|копия|kopio|másolat|bilgi|写し|抄送|副本|참조|bcc"
_SUBJECT_FIELDS = (
    "subject|betreff|objet|sujet|asunto|assunto|oggetto|onderwerp|ämne|emne|temat|тема|aihe|tárgy|konu|"
    "předmět|件名|主题|主旨|제목|reply-to|antwort an|répondre à"
)
_HEADER_FIELD = re.compile(
    rf"^[*_\s>]*(?P<name>{_FROM_FIELDS}|{_SENT_FIELDS}|{_TO_FIELDS}|{_CC_FIELDS}|{_SUBJECT_FIELDS})"
    r"\s*[*_]*\s*[:：]\s*[*_]*(?P<value>.*)$",
    re.IGNORECASE,
)
_FROM_FIELD = re.compile(rf"^(?:{_FROM_FIELDS})$", re.IGNORECASE)
_SENT_FIELD = re.compile(rf"^(?:{_SENT_FIELDS})$", re.IGNORECASE)
_SUBJECT_FIELD = re.compile(rf"^(?:{_SUBJECT_FIELDS})$", re.IGNORECASE)
_TO_FIELD = re.compile(rf"^(?:{_TO_FIELDS}|{_CC_FIELDS})$", re.IGNORECASE)

# Separators that clients write above quoted history.
_ORIGINAL_MESSAGE = re.compile(
    r"^[\s>*]*[-=_]{2,}\s*(?:original\s+message|original|ursprüngliche\s+nachricht|originalnachricht|"
    r"message\s+d'origine|message\s+original|mensaje\s+original|mensagem\s+original|messaggio\s+originale|"
    r"oorspronkelijk\s+bericht|origineel\s+bericht|originalmeddelande|ursprungligt\s+meddelande|"
    r"oprindelig\s+meddelelse|oprindelig\s+besked|opprinnelig\s+melding|original\s+melding|"
    r"wiadomość\s+oryginalna|oryginalna\s+wiadomość|исходное\s+сообщение|původní\s+zpráva|"
    r"alkuperäinen\s+viesti|eredeti\s+üzenet|orijinal\s+mesaj|原始邮件|原始郵件|元のメッセージ|reply\s+message|"
    r"original\s+email)\s*[-=_]{2,}[\s*]*$",
    re.IGNORECASE,
)
_FORWARD_MARKER = re.compile(
    r"^[\s>*]*(?:[-=_]{2,}\s*)?(?:forwarded\s+message|forwarded\s+e-?mail|forwarded\s+by\s.{0,60}|"
    r"begin\s+forwarded\s+message|weitergeleitete\s+nachricht|anfang\s+der\s+weitergeleiteten\s+nachricht|"
    r"message\s+transféré|début\s+du\s+message\s+(?:réexpédié|transféré)|mensaje\s+reenviado|"
    r"inicio\s+del\s+mensaje\s+reenviado|mensagem\s+encaminhada|início\s+da\s+mensagem\s+reencaminhada|"
    r"messaggio\s+inoltrato|inizio\s+messaggio\s+inoltrato|doorgestuurd\s+bericht|"
    r"begin\s+doorgestuurd\s+bericht|vidarebefordrat\s+meddelande|vidarebefordrat\s+brev|"
    r"videresendt\s+meddelelse|videresendt\s+besked|start\s+på\s+videresendt\s+(?:besked|meddelelse)|"
    r"videresendt\s+melding|wiadomość\s+przekazana\s+dalej|początek\s+przekazywanej\s+wiadomości|"
    r"пересылаемое\s+сообщение|пересланное\s+сообщение|начало\s+переадресованного\s+сообщения|"
    r"转发的邮件|轉寄的郵件|転送されたメッセージ|forwarded)\s*[:：]?\s*(?:[-=_]{2,})?\s*$",
    re.IGNORECASE,
)
# "-----Antwort Nachricht-----", "----- Reply message -----": any short label between dash runs that
# names a message.
_LABELLED_SEPARATOR = re.compile(
    r"^[\s>*]*-{3,}\s*[\w' ]{0,30}(?:message|nachricht|mensaje|messaggio|bericht|meddelande|melding|"
    r"meddelelse|besked|wiadomość|сообщение|mensagem|zpráva|viesti|üzenet|mesaj|courriel|e-?mail|antwort)"
    r"[\w' ]{0,30}\s*-{3,}\s*$",
    re.IGNORECASE,
)
_SEPARATOR_LABEL_WORDS = re.compile(
    r"original|forward|antwort|reply|answer|ursprüng|weitergeleitet|origin|oorspronkelijk|opprinnelig|"
    r"oprindelig|alkuperäinen|původní|исходное|пересылаемое|przekazan|oryginaln|reenviad|inoltrat|encaminhad",
    re.IGNORECASE,
)


def _is_labelled_separator(lines: Sequence[str], index: int) -> bool:
    """"-----Antwort Nachricht-----" starts history; "----- Error message -----" is a heading, unless a
    header block follows it."""
    line = lines[index]
    if not _LABELLED_SEPARATOR.match(line):
        return False
    if _SEPARATOR_LABEL_WORDS.search(line):
        return True
    following = _next_nonblank(lines, index + 1)
    return following is not None and following - index <= 2 and _header_block(lines, following) > 0


# Helpdesk and notification systems ask the customer to write above a marker line.
_REPLY_ABOVE = re.compile(
    r"^[\s>#*-]*(?:please\s+)?(?:type|write|enter)\s+(?:your\s+)?(?:reply|response)\s+above\s+this\s+line|"
    r"^[\s>#*-]*reply\s+above\s+this\s+line",
    re.IGNORECASE,
)
_UNDERSCORE_LINE = re.compile(r"^[\s>]*_{5,}\s*$")
_DASH_RULE = re.compile(r"^[\s>]*[-–—]{5,}\s*$")
_QUOTED_MARK = re.compile(r"^\s*(?:>|&gt;)")
# ">>> http://example.com <<<" is decoration, not a quote.
_ARROW_DECORATION = re.compile(r"^\s*>{2,}.*<{2,}\s*$")


class _QuotedLine:
    """Matcher for ">"-quoted lines (a `re.Pattern`-like `match`)."""

    @staticmethod
    def match(line: str) -> bool:
        return bool(_QUOTED_MARK.match(line)) and not _ARROW_DECORATION.match(line)


_QUOTED = _QuotedLine()
_BLANK = re.compile(r"^[\s>]*$")

# Signature delimiter lines: RFC 3676 §4.3 "-- ", plus what people and clients type instead.
_SIG_DELIMITER = re.compile(r"^\s*(?:--|---|-- |—|–|__|___|\*\*\*|~~~|==|===|####)\s*$")
_DELIMITER_LIKE = re.compile(r"^\s*(?:[-_*#~=+ᐧ]\s*){2,}$|^\s*ᐧ\s*$")
_DASH_NAME = re.compile(r"^\s*[-–—~/]\s?[A-Za-zÀ-ÿŁłŚśŻżŹźĆćŃńÓóĘęĄą][\w.'’-]*(?:\s+[\w.'’-]+){0,3}\s*\.?$")

# Mobile and webmail client lines ("Sent from my iPhone"), localised.
_DEVICE_WORDS = (
    r"i-?phone|i-?pad|i-?pod|android|blackberry|mobile|móvil|mobil|mobilgerät|mobiltelefon|phone|cell|"
    r"galaxy|samsung|htc|nokia|motorola|pixel|huawei|xiaomi|sony|lg|tablet|smartphone|handy|device|"
    r"windows|mail|outlook|yahoo|gmail|aol|airmail|mailbox|spark|proton|superhuman|newton|edison|"
    r"ios|watch|kindle|palm|treo|verizon|at&t|t-mobile|sprint|bell|telcel|k-9|bluemail|nine|"
    r"telefon|téléphone|teléfono|telefono|cellulare|portable|celular|teléfono|мобильн|iphone'?a"
)
_DEVICE_LINE = re.compile(
    r"^\s*[(<\[]*\s*(?:"
    # English: "Sent from my iPhone", "Sent with Airmail", "Sent via mobile", "Sent wirelessly from my …"
    rf"(?:sent|send|posted|typed|written)(?:\s+\w+ly)?\s+(?:from|with|via|by|using|on)\s+(?:my\s+|a\s+|an\s+|the\s+)?"
    rf"(?:[A-Z\[(]|(?:{_DEVICE_WORDS}))"
    rf"|from\s+my\s+(?:{_DEVICE_WORDS})"
    r"|get\s+\[?outlook\s+for\s+"
    r"|envoyé\s+(?:de|depuis|à\s+partir\s+de)\s+(?:mon|ma)\s+"
    r"|(?:von|vom)\s+(?:meinem|meiner)\s+\S+.{0,40}gesendet"
    r"|gesendet\s+(?:von|vom|mit)\s+(?:meinem|meiner)?\s*"
    r"|diese\s+nachricht\s+wurde\s+von\s+meinem\s+"
    r"|enviado\s+(?:desde|do|de)\s+(?:mi|meu|o\s+meu|my)?\s*"
    r"|inviato\s+(?:da|dal|dal\s+mio)\s+"
    r"|verzonden\s+(?:vanaf|van|met|via)\s+"
    r"|skickat\s+från\s+"
    r"|sendt\s+fra\s+"
    r"|wysłane\s+z\s+|wysłano\s+z\s+"
    r"|отправлено\s+с\s+"
    r"|從我的|发自我的|來自我的|iphoneから送信|从我的"
    r")",
    re.IGNORECASE,
)
_DEVICE_LINE_MAX = 110

# Sign-offs that open a signature block when a short name/title/contact block follows.
_SIGN_OFF = re.compile(
    r"^\s*(?:"
    r"(?:best|kind|warm|warmest|many|with\s+kind|with\s+best|all\s+the\s+best|kindest|sincere|friendly)?\s*"
    r"(?:regards|wishes)|rgds|br|"
    r"(?:many\s+)?thanks(?:\s+(?:again|so\s+much|a\s+lot|in\s+advance|and\s+regards|&\s+regards))?|"
    r"thank\s+you(?:\s+(?:again|so\s+much|very\s+much|in\s+advance))?|thx|ty|tia|"
    # "Thanks for your help," closes a mail only with the comma; with a full stop it is a sentence.
    r"(?:thanks|thank\s+you)\s+for\s+\w+(?:\s+\w+)?\s*,|"
    r"cheers|best|all\s+best|take\s+care|sincerely(?:\s+yours)?|yours(?:\s+(?:truly|sincerely|faithfully))?|"
    r"respectfully|cordially|talk\s+soon|speak\s+soon|have\s+a\s+(?:great|good|nice)\s+(?:day|weekend|one)|"
    r"mit\s+freundlichen\s+grüßen|mit\s+freundlichen\s+grüssen|freundliche\s+grüße|viele\s+grüße|"
    r"beste\s+grüße|liebe\s+grüße|lg|vg|mfg|gruß|grüße|grüsse|gruss|herzliche\s+grüße|(?:vielen\s+)?dank|"
    r"cordialement|bien\s+cordialement|bien\s+à\s+vous|salutations|merci(?:\s+beaucoup)?|amicalement|bises|"
    r"saludos(?:\s+cordiales)?|un\s+saludo|atentamente|(?:muchas\s+)?gracias|abrazos|"
    r"atenciosamente|cumprimentos|obrigad[oa]|abraços|"
    r"cordiali\s+saluti|distinti\s+saluti|saluti|grazie|"
    r"met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|groeten|groetjes|mvg|"
    r"med\s+vänlig\s+hälsning|vänliga\s+hälsningar|hälsningar|mvh|"
    r"med\s+venlig\s+hilsen|venlig\s+hilsen|hilsen|kh|vh|med\s+vennlig\s+hilsen|vennlig\s+hilsen|"
    r"pozdrawiam|z\s+poważaniem|z\s+powazaniem|pozdrowienia|"
    r"с\s+уважением|спасибо|"
    r"よろしくお願いいたします|よろしくお願いします|以上|"
    r"此致|谢谢|敬上"
    r")\s*[,.!:;]*\s*$",
    re.IGNORECASE,
)
_SIGNATURE_BLOCK_MAX_LINES = 8
# Legal footers that mail gateways and companies append ("CONFIDENTIALITY NOTICE: This e-mail …").
_LEGAL_FOOTER = re.compile(
    r"^\W*(?:confidentiality\s+(?:notice|note|statement)|disclaimer|privileged\s+(?:and|&)\s+confidential|"
    r"this\s+(?:e-?mail|message|communication)(?:\s+\w+){0,6}\s+(?:is|are|may\s+be|contains?)\s+"
    r"(?:intended|confidential|privileged|for\s+the\s+(?:sole|exclusive)\s+use)|"
    r"the\s+information\s+(?:contained\s+)?in\s+this\s+(?:e-?mail|message|communication)|"
    r"if\s+you\s+(?:are\s+not|have\s+received\s+this)\s+.{0,40}(?:intended\s+recipient|in\s+error)|"
    r"please\s+consider\s+the\s+environment\s+before\s+printing|"
    r"diese\s+(?:e-?mail|nachricht)\s+(?:enthält|ist)\s+vertrauliche|"
    r"ce\s+(?:message|courriel)\s+(?:et\s+ses\s+pièces\s+jointes\s+)?(?:est|sont)\s+confidentiel)",
    re.IGNORECASE,
)
_SIGNATURE_LINE_MAX = 72

_POINTS_AT_QUOTE = re.compile(
    r"\b(?:this|below|attached|see|forward(?:ed|ing)?|fyi|thoughts|look|check)\b", re.IGNORECASE
)
# What a sender types when they forward or quote without adding anything of their own.
_LITTLE_ADDED = re.compile(
    r"^\W*(?:fyi|fwiw|see\s+below|please\s+see\s+below|see\s+(?:the\s+)?(?:email|message|thread|note)\s+below|"
    r"see\s+attached|please\s+advise|thoughts|any\s+ideas|can\s+you\s+help|please\s+help|help|"
    r"please\s+(?:look|check|review)(?:\s+(?:into|at))?\s+(?:this|the\s+below)|"
    r"forwarding|fw|fwd|for\s+you|as\s+discussed|per\s+our\s+(?:call|conversation)|"
    r"see\s+(?:the\s+)?forwarded\s+(?:email|message)|below|this|sending\s+this\s+over|"
    r"look\s+at\s+this|check\s+this\s+out|hi|hello|hey)\W*$",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------------------------
# Boundary detection
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Boundary:
    start: int  # first line of the history
    kind: str  # "attribution" | "headers" | "separator" | "forward" | "reply_above"
    body_start: int  # first line after the boundary's own header lines


def _strip_quote(line: str) -> str:
    return re.sub(r"^(?:\s*(?:>|&gt;))+\s?", "", line)


def _is_blank(line: str) -> bool:
    return not line.strip()


def _header_field(line: str) -> tuple[str, bool] | None:
    """(field name, strong) when `line` looks like "From: …" in an Outlook/Apple/Gmail header block.

    Two-letter localised names ("De", "Da", "An", "A", "To") also start ordinary sentences ("A: we
    lost …"), so they are "strong" evidence only with a value that looks like an address or a date.
    """
    match = _HEADER_FIELD.match(line)
    if not match:
        return None
    name = match.group("name").strip().lower()
    value = match.group("value").strip()
    if not value and len(name) <= 2:
        return None
    strong = len(name) > 2 or bool(_EMAIL.search(value) or _DATE_OR_TIME.search(value) or "[mailto:" in value)
    return name, strong


def _header_block(lines: Sequence[str], start: int, *, quoted: bool = False) -> int:
    """Length in lines of an Outlook-style header block starting at `start` (0 if there is none).

    A block is consecutive field lines (a wrapped value or an unknown field may sit between them)
    with a sender or date field and at least one more field, at least two of them strong.
    """
    fields: list[tuple[str, bool]] = []
    index = start
    end = start
    gap_budget = 2
    while index < len(lines) and index - start < 16:
        raw = lines[index]
        line = _strip_quote(raw) if quoted else raw
        if _is_blank(line):
            # Some exports put a blank line between fields; allow it inside an unfinished block.
            if fields and len(fields) < 3 and index + 1 < len(lines) and _header_field(lines[index + 1]):
                index += 1
                continue
            break
        field = _header_field(line)
        if field is None:
            if not fields or gap_budget == 0:
                break
            gap_budget -= 1
            index += 1
            continue
        fields.append(field)
        index += 1
        end = index
    if len(fields) < 2 or sum(strong for _, strong in fields) < 2:
        return 0
    names = [name for name, _ in fields]
    has_from = any(_FROM_FIELD.match(n) for n in names)
    has_date = any(_SENT_FIELD.match(n) for n in names)
    has_subject = any(_SUBJECT_FIELD.match(n) for n in names)
    has_to = any(_TO_FIELD.match(n) for n in names)
    if has_from and (has_date or has_subject or has_to):
        return end - start
    has_strong_date = any(_SENT_FIELD.match(name) and strong for name, strong in fields)
    if has_date and (has_subject or has_to) and has_strong_date:
        return end - start  # "Date: … To: …" blocks without a sender (Hotmail, some webmails)
    return 0


_WRAPPED_WROTE = re.compile(rf"^>?\s*(?:{_WROTE_VERBS})\s*[:：]?\s*$", re.IGNORECASE)
# Gmail's date-first attribution in several locales: "2016-03-03 17:21 GMT+01:00 Some One <x@y>:".
_GMAIL_DATE_FIRST = re.compile(r"^\d{4}-\d{2}-\d{2}\s+\d{1,2}:\d{2}\s+GMT[+-]\d{1,2}:\d{2}\s+\S")


def _attribution_end(lines: Sequence[str], start: int) -> int | None:
    """If an "On … wrote:" attribution starts at `start` (possibly wrapped), the index of its last line."""
    first = lines[start].strip()
    if not first or len(first) > 300 or _QUOTED.match(lines[start]):
        return None
    if _GMAIL_DATE_FIRST.match(first):
        # The address may wrap: "… Postmaster <" / "postmaster@example.org>:".
        for end in range(start, min(start + 3, len(lines))):
            if re.search(r"[:：]\s*$", lines[end]):
                return end
        return start
    starts_like_attribution = bool(_ATTRIBUTION_START.match(first))
    has_evidence = bool(_DATE_OR_TIME.search(first) or _EMAIL.search(first))
    if not has_evidence and not (starts_like_attribution and re.search(r"\d", first)):
        return None
    # Wrapped attributions (long names and addresses) span up to six lines; Polymail even puts blank
    # lines and a lone "<" between the name and the address.
    allow_blank = starts_like_attribution and bool(_DATE_OR_TIME.search(first))
    joined = first
    if _looks_like_attribution(joined, first_line=first):
        return start
    for end in range(start + 1, min(start + 6, len(lines))):
        part = lines[end].strip()
        if not part:
            if allow_blank:
                continue
            return None
        if _QUOTED.match(lines[end]) and not _WRAPPED_WROTE.match(part) and not re.match(r"^>\s*[:：]", part):
            return None
        joined = f"{joined} {part}"
        if len(joined) > 400:
            return None
        if _looks_like_attribution(joined, first_line=first):
            return end
    return None


def _looks_like_attribution(joined: str, *, first_line: str) -> bool:
    text = joined.rstrip()
    if not re.search(r"[:：]\s*$|\s(?:wrote|schrieb)\s*$", text):
        return False
    if _ATTRIBUTION_VERB.search(text):
        # "On … wrote:" needs a date/time or an address to avoid "My manager wrote:" in prose.
        return bool(_DATE_OR_TIME.search(text) or _EMAIL.search(text) or _ATTRIBUTION_START.match(first_line))
    # Verb-less forms: "2014-03-20 10:00 GMT+01:00 John Doe <john@example.com>:" (Gmail in some locales).
    return bool(_DATE_OR_TIME.search(text) and _EMAIL.search(text) and len(text) < 200)


def _quote_intro(lines: Sequence[str], start: int) -> bool:
    """A date + address line directly above a ">" quote with no colon ("2011/4/7 Name <a@b>")."""
    line = lines[start].strip()
    if not line or len(line) > 200 or _QUOTED.match(lines[start]):
        return False
    if not (_DATE_OR_TIME.search(line) and _EMAIL.search(line)):
        return False
    following = _next_nonblank(lines, start + 1)
    return following is not None and following - start <= 2 and bool(_QUOTED.match(lines[following]))


def _next_nonblank(lines: Sequence[str], index: int) -> int | None:
    while index < len(lines):
        if not _is_blank(lines[index]):
            return index
        index += 1
    return None


def _find_boundary(lines: Sequence[str]) -> _Boundary | None:
    """The first line where non-">" quoted history, a forward or a header block starts."""
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        quoted = bool(_QUOTED.match(raw))
        if quoted:
            inner = _strip_quote(raw).strip()
            # Forwards and Outlook blocks inside a ">" quote (Apple's HTML forward) still mark a forward.
            if _FORWARD_MARKER.match(inner) and _is_start_of_quote_block(lines, index):
                return _Boundary(index, "forward", _skip_headers(lines, index + 1, quoted=True))
            continue
        if _REPLY_ABOVE.match(line):
            return _Boundary(index, "reply_above", index + 1)
        if _FORWARD_MARKER.match(line):
            return _Boundary(index, "forward", _skip_headers(lines, index + 1))
        if _ORIGINAL_MESSAGE.match(line) or _is_labelled_separator(lines, index):
            return _Boundary(index, "separator", _skip_headers(lines, index + 1))
        if _DASHED_WROTE.match(line):
            return _Boundary(index, "attribution", index + 1)
        if _UNDERSCORE_LINE.match(raw) or _DASH_RULE.match(raw):
            following = _next_nonblank(lines, index + 1)
            if following is not None and following - index <= 2:
                size = _header_block(lines, following)
                if size:
                    return _Boundary(index, "headers", following + size)
                if _attribution_end(lines, following) is not None:
                    return _Boundary(index, "attribution", following)
            continue
        size = _header_block(lines, index)
        if size:
            return _Boundary(index, "headers", index + size)
        end = _attribution_end(lines, index)
        if end is not None:
            following = _next_nonblank(lines, end + 1)
            # An attribution that introduces a ">" quote is handled with the quote (text after the
            # quote may be an inline reply). One followed by unquoted text (Outlook mobile, some
            # webmails) or by nothing starts the history for good.
            if following is not None and _QUOTED.match(lines[following]):
                continue
            if following is None or _strong_attribution(lines, index, end):
                return _Boundary(index, "attribution", end + 1)
    return None


def _strong_attribution(lines: Sequence[str], start: int, end: int) -> bool:
    joined = " ".join(line.strip() for line in lines[start : end + 1])
    if _GMAIL_DATE_FIRST.match(joined):
        return True
    # Without a ">" quote below, prose such as "On 9/21 at 10 AM the customer wrote:" followed by what
    # the customer wrote must stay text: an unquoted history needs what clients write and people do
    # not, the writer's address or a full timestamp (a four-digit year and a clock time).
    full_timestamp = bool(re.search(r"\b(?:19|20)\d{2}\b", joined) and re.search(r"\d{1,2}[:.]\d{2}", joined))
    return bool(_ATTRIBUTION_VERB.search(joined) and (_EMAIL.search(joined) or full_timestamp))


def _is_start_of_quote_block(lines: Sequence[str], index: int) -> bool:
    """True when the ">" line at `index` is the first content line of its quote block."""
    back = index - 1
    while back >= 0 and _QUOTED.match(lines[back]) and not _strip_quote(lines[back]).strip():
        back -= 1
    return back < 0 or not _QUOTED.match(lines[back])


def _skip_headers(lines: Sequence[str], index: int, *, quoted: bool = False) -> int:
    """Index of the first body line after a forward/separator's own header block."""
    start = index
    while start < len(lines) and not (_strip_quote(lines[start]) if quoted else lines[start]).strip():
        start += 1
    if start >= len(lines):
        return len(lines)
    size = _header_block(lines, start, quoted=quoted)
    if size:
        return start + size
    # Tolerate a sparse block (e.g. only "From:" and "Date:" that Thunderbird writes in a table).
    cursor = start
    while cursor < len(lines):
        line = _strip_quote(lines[cursor]) if quoted else lines[cursor]
        if _header_field(line) is None:
            break
        cursor += 1
    return cursor


# --------------------------------------------------------------------------------------------
# ">"-quotes above the boundary (inline replies keep their unquoted parts)
# --------------------------------------------------------------------------------------------


def _wrapped_quote_fragment(lines: Sequence[str], index: int) -> bool:
    """An unquoted line squeezed between two ">" lines that a client's line wrapping broke off.

    Wrapping leaves a fragment such as "_nonce=3dd518)" or " (http://…) >"; an inline answer
    starts like a sentence (a capital letter) and usually has a blank line around it.
    """
    line = lines[index]
    if not line.strip() or index == 0 or index + 1 >= len(lines):
        return False
    if not (_QUOTED.match(lines[index - 1]) and _QUOTED.match(lines[index + 1])):
        return False
    first = line.lstrip()[:1]
    return (not first.isupper() and not first.isdigit()) or line.startswith(" ")


def _drop_quotes(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate ">"-quoted lines (and the attribution introducing each quote) from new text."""
    keep: list[str] = []
    quoted: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _QUOTED.match(line) or _wrapped_quote_fragment(lines, index):
            quoted.append(line)
            index += 1
            continue
        end = _attribution_end(lines, index)
        if end is None and _quote_intro(lines, index):
            end = index
        if end is not None:
            following = _next_nonblank(lines, end + 1)
            if following is not None and _QUOTED.match(lines[following]):
                quoted.extend(lines[index:following])
                index = following
                continue
        keep.append(line)
        index += 1
    return keep, quoted


# --------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------


_SENT_VIA = re.compile(
    r"^\W*(?:sent|send|posted|typed|written)(?:\s+\w+ly)?\s+(?:from|with|via|by|using|on)\s+"
    r"(?:my\s+|a\s+|an\s+|the\s+)?(?P<thing>\S+)",
    re.IGNORECASE,
)
_DEVICE_WORD = re.compile(rf"^[\[(]?(?:{_DEVICE_WORDS})", re.IGNORECASE)
_EXCUSE_TYPOS = re.compile(r"[.,;!]?\s*(?:please\s+)?(?:excuse|forgive|pardon)\b.*$", re.IGNORECASE)


def _is_device_line(line: str) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped) > _DEVICE_LINE_MAX or not _DEVICE_LINE.match(stripped):
        return False
    # "Sent from my desk, this is easier …" is prose: a client line names a product (capitalised:
    # "Sent from my TI-85", "Sent with Airmail") or a device word right away, and ends there
    # (an apology for typos aside).
    via = _SENT_VIA.match(stripped)
    if via:
        thing = via.group("thing")
        if not (thing[:1].isupper() or thing[:1] in "[(" or _DEVICE_WORD.match(thing)):
            return False
    rest = _EXCUSE_TYPOS.sub("", stripped)
    two_sentences = re.search(r"[.!?]\s+[A-Z]\w*\s+\w+", rest)
    clause_after_comma = re.search(r",\s+(?:\w+\s+){2,}\w+", rest)
    return not (two_sentences or clause_after_comma)


def _looks_like_signature_line(line: str) -> bool:
    """A line that fits in a name/title/company/contact block."""
    stripped = line.strip()
    if not stripped or _LEGAL_FOOTER.match(stripped):
        return True
    if re.match(r"^p\.?\s?s\b", stripped, re.IGNORECASE):
        return False  # a postscript is the sender's text, not part of the signature
    if len(stripped) > _SIGNATURE_LINE_MAX:
        return bool(re.search(r"https?://|www\.|@|\+?\d[\d ().-]{6,}", stripped)) and len(stripped) < 160
    # Sentences end in "." or "?" and have several lowercase words; signature lines rarely do.
    if stripped.endswith("?"):
        return False
    words = [w for w in stripped.split() if not re.search(r"@|https?://|www\.", w)]
    if len(words) > 9 and stripped.endswith("."):
        return False
    # Prose: many words, mostly lowercase ("This is a paragraph that talks about …").
    lowercase = sum(1 for w in words if w[:1].islower())
    return not (len(words) >= 7 and lowercase / len(words) > 0.5)


_BULLET = re.compile(r"^\s*[-*•–]\s+\S")


def _in_bullet_list(lines: Sequence[str], index: int) -> bool:
    """True when the "- x" line at `index` has a bulleted neighbour (a list item, not a "-Name")."""
    neighbours = [j for j in (index - 1, index + 1, index - 2, index + 2) if 0 <= j < len(lines)]
    close = [j for j in neighbours if lines[j].strip()][:2]
    return any(_BULLET.match(lines[j]) for j in close)


def _fenced_lines(lines: Sequence[str]) -> set[int]:
    """Indexes of lines inside Markdown ``` fences (and the fences themselves)."""
    fenced: set[int] = set()
    inside = False
    for index, line in enumerate(lines):
        if line.strip().startswith("```"):
            fenced.add(index)
            inside = not inside
        elif inside:
            fenced.add(index)
    return fenced


def _signature_start(lines: Sequence[str]) -> int | None:
    """Index where the trailing signature starts in `lines` (already free of quotes), or None."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    if len(content) < 2:
        return None
    fenced = _fenced_lines(lines)
    # The earliest line (never the first one) that opens a signature by any of three rules.
    for i in content[1:]:
        line = lines[i]
        if i in fenced:
            continue  # inside a ``` code block: "####" or "--" there is code, not a delimiter
        rest = [j for j in content if j > i]
        # 1. Explicit delimiter ("-- ", RFC 3676 §4.3, or what people type instead).
        if _SIG_DELIMITER.match(line) or _DELIMITER_LIKE.match(line):
            if _DELIMITER_LIKE.match(line) and not _SIG_DELIMITER.match(line) and len(rest) > 12:
                continue  # a decorative rule in a long mail, not a signature delimiter
            if len(rest) <= 20:
                return i
        # 2. Mobile-client line or a legal footer: it and everything after it.
        if _is_device_line(line):
            return i
        if _LEGAL_FOOTER.match(line) and len(rest) <= 6:
            return _signature_start(lines[:i]) if _signature_start(lines[:i]) is not None else i
        # 3. Sign-off or "-Name" followed by a short block of signature-like lines.
        opens_block = bool(_SIGN_OFF.match(line) or (_DASH_NAME.match(line) and not _in_bullet_list(lines, i)))
        if opens_block and len(rest) <= _SIGNATURE_BLOCK_MAX_LINES and all(
            _looks_like_signature_line(lines[j]) for j in rest
        ):
            return i
    return None


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\ufeff]")
# "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:" - a reply typed on the attribution line.
_SHARED_ATTRIBUTION = re.compile(
    rf"^(?P<reply>.*?\S)\s*-*\s*(?P<attribution>(?:On|Am|Le|El|Il|Op|Den|Em)\s.{{5,200}}(?:{_WROTE_VERBS})\s*[:：])\s*$"
)


# Supercite-style quoting ("JD> text") and Usenet "| text" quoting, rewritten to ">" when a run of
# lines shares the prefix (a single "Re> x" line is left alone).
_SUPERCITE = re.compile(r"^\s*([A-Za-z]{1,4}>|\|)(?=\s|$)")


def _quote_prefix(line: str) -> str | None:
    match = _SUPERCITE.match(line)
    return match.group(1) if match else None


def _canonical_quotes(lines: list[str]) -> list[str]:
    out = list(lines)
    index = 0
    while index < len(out):
        prefix = _quote_prefix(out[index])
        if prefix is None:
            index += 1
            continue
        end = index
        while end < len(out) and _quote_prefix(out[end]) == prefix:
            end += 1
        run = out[index:end]
        # "|" quoting must follow an attribution-like line and must not be a table; supercite needs 2+ lines.
        previous = next((line for line in reversed(out[max(0, index - 2) : index]) if line.strip()), "")
        introduced = bool(_DATE_OR_TIME.search(previous) or _EMAIL.search(previous))
        is_table = all(line.rstrip().endswith("|") for line in run)
        if len(run) >= 2 and (prefix != "|" or introduced) and not is_table:
            for position in range(index, end):
                line = out[position]
                out[position] = ">" + line[line.index(prefix) + len(prefix) :]
        index = end
    return out


def _normalise(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    lines = _canonical_quotes([line.rstrip() for line in text.split("\n")])
    out: list[str] = []
    for index, line in enumerate(lines):
        match = _SHARED_ATTRIBUTION.match(line) if not _QUOTED.match(line) else None
        if match and _DATE_OR_TIME.search(match.group("attribution")):
            following = _next_nonblank(lines, index + 1)
            if following is not None and _QUOTED.match(lines[following]):
                out.extend([match.group("reply"), match.group("attribution")])
                continue
        out.append(line)
    return out


def _join(lines: Sequence[str]) -> str:
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n").strip()


def _end_of_quote_block(lines: Sequence[str]) -> int:
    """Length of the ">"-quoted block (blank lines inside allowed) that opens `lines`; 0 if none."""
    first = _next_nonblank(lines, 0)
    if first is None or not _QUOTED.match(lines[first]):
        return 0
    end = first
    for index in range(first, len(lines)):
        if _QUOTED.match(lines[index]):
            end = index + 1
        elif lines[index].strip():
            break
    return end


def _split_lines(lines: list[str], names: Sequence[str] = ()) -> tuple[ReplyParts, bool]:
    """Split normalised lines; the flag says whether any quoted history was found."""
    boundary = _find_boundary(lines)
    history: list[str] = []
    forwarded = ""
    head = lines
    if boundary is not None:
        head = lines[: boundary.start]
        history = lines[boundary.start :]
        if boundary.kind == "forward":
            body = lines[boundary.body_start :]
            marker_quoted = bool(_QUOTED.match(lines[boundary.start]))
            quoted_end = _end_of_quote_block(body)
            if marker_quoted and not quoted_end:
                forwarded = _join([_strip_quote(line) for line in body])
            else:
                if quoted_end:
                    # "Begin forwarded message:" over a ">"-quoted message (Apple Mail in plain text):
                    # the quote is the forward; unquoted text after it is the sender's again.
                    forwarded = _join([_strip_quote(line) for line in body[:quoted_end]])
                    after = body[quoted_end:]
                    history = lines[boundary.start : boundary.body_start + quoted_end]
                    head = [*head, "", *after]
                else:
                    forwarded = _join(body)
        elif not any(line.strip() for line in head) and boundary.kind in ("headers", "attribution"):
            # The text opens with a bare header block (a pasted or resent message) or with an
            # attribution above unquoted text (bottom-posting clients): that opening is the
            # message's own header, and what follows it is what the sender wrote.
            return _split_lines(lines[boundary.body_start :], names)
    kept, quoted_lines = _drop_quotes(head)
    found_history = boundary is not None or bool(quoted_lines)
    candidates = [i for i in (_signature_start(kept), _sender_signature_start(kept, names)) if i is not None]
    signature_index = min(candidates) if candidates else None
    if signature_index is not None:
        reply_lines, signature_lines = kept[:signature_index], kept[signature_index:]
    else:
        reply_lines, signature_lines = kept, []
    quoted_text = _join([*quoted_lines, *history])
    return (
        ReplyParts(
            reply_text=_join(reply_lines),
            signature=_join(signature_lines),
            quoted_text=quoted_text,
            forwarded_text=forwarded,
        ),
        found_history,
    )


_NAME_LINE = re.compile(r"^[*_]*[A-ZÀ-Þ][\w'’.-]*(?:\s+[A-ZÀ-Þ][\w'’.-]*){0,3}[*_]*,?$")


def _sender_names(sender: str | None) -> tuple[str, ...]:
    """Lowercased forms of the sender's name to look for at the top of a signature block.

    From "Dwayne Iverson <diverson@example.com>" (or just the address): the display name, and from the
    address local part the forms people use ("dwayne.iverson" -> "dwayne iverson").
    """
    if not sender:
        return ()
    names: list[str] = []
    match = re.match(r"^\s*\"?([^\"<]*?)\"?\s*<([^>]*)>", sender)
    display, address = (match.group(1), match.group(2)) if match else ("", sender)
    display = re.sub(r"\s*\(.*?\)", "", display).strip()
    if "," in display:  # "Iverson, Dwayne"
        last, _, first = display.partition(",")
        display = f"{first.strip()} {last.strip()}"
    if len(display.split()) >= 2:
        names.append(display.lower())
    local = address.split("@", 1)[0].lower()
    parts = [p for p in re.split(r"[._-]+", local) if p.isalpha()]
    if len(parts) >= 2:
        names.append(" ".join(parts))
    return tuple(names)


def _sender_signature_start(lines: Sequence[str], names: Sequence[str]) -> int | None:
    """Start of a trailing name/title/phone block that opens with the sender's own name."""
    if not names:
        return None
    content = [i for i, line in enumerate(lines) if line.strip()]
    for i in content[1:]:
        line = lines[i].strip().strip("*_").rstrip(",")
        if not _NAME_LINE.match(lines[i].strip()) or line.lower() not in names:
            continue
        rest = [j for j in content if j > i]
        if len(rest) <= _SIGNATURE_BLOCK_MAX_LINES and all(_looks_like_signature_line(lines[j]) for j in rest):
            return i
    return None


# Gmail wraps the history of a reply or forward in `div.gmail_quote` (the attribution in `div.gmail_attr`,
# the quoted message in a `blockquote.gmail_quote` inside it); its composer's "Quote" formatting (the
# indent-with-a-bar a sender applies to a passage of their own message) is a bare `blockquote.gmail_quote`
# with neither. Other clients that borrow the class for cited history mark the block `type="cite"` or
# put an attribution line right above it.
_GMAIL_WRAPPER_CLASSES = frozenset({"gmail_quote", "gmail_quote_container", "gmail_extra"})


def _classes(node: LexborNode) -> set[str]:
    return set((node.attributes.get("class") or "").lower().split())


def _text_above(node: LexborNode) -> str:
    """The last non-blank line of text just before `node` inside its parent (or its parent's)."""
    current: LexborNode | None = node
    for _ in range(3):  # the block itself, then up to two wrapping elements
        if current is None:
            return ""
        sibling = current.prev
        while sibling is not None:
            lines = [line.strip() for line in (sibling.text(deep=True) or "").splitlines() if line.strip()]
            if lines:
                return lines[-1]
            sibling = sibling.prev
        current = current.parent
    return ""


def _is_gmail_composed_quote(node: LexborNode) -> bool:
    if "gmail_quote" not in _classes(node) or (node.attributes.get("type") or "").lower() == "cite":
        return False
    parent = node.parent
    while parent is not None:
        if parent.tag == "blockquote" or _classes(parent) & _GMAIL_WRAPPER_CLASSES:
            return False
        parent = parent.parent
    above = _text_above(node)
    return not (above and _attribution_end([above], 0) is not None)


def _without_composed_quotes(html: str) -> str | None:
    """`html` with Gmail "Quote"-formatted passages turned into plain blocks; None when it has none."""
    if "gmail_quote" not in html:
        return None
    parser = LexborHTMLParser(html)
    composed = [node for node in parser.css("blockquote") if _is_gmail_composed_quote(node)]
    if not composed:
        return None
    for node in composed:
        # Block boundaries around the passage, so its lines do not run into the text beside it.
        for insert in (node.insert_before, node.insert_after):
            block = LexborHTMLParser("<div></div>").css_first("div")
            if block is not None:
                insert(block)
        node.unwrap()
    return parser.html


def split_reply(text: str, *, html: str | None = None, sender: str | None = None) -> ReplyParts:
    """The new text of a reply, its signature, and the quoted history / forwarded message.

    `text` is the readable body (text/plain, or the HTML rendered by `html_to_text`); `html` is the
    original HTML part when there is one: its quote containers (Gmail, Outlook, Apple, Yahoo) are
    used when the plain text alone shows no quoted history. `sender` is accepted for callers that
    know the From header ("Name <address>" or the address): a trailing block that opens with the
    sender's own name (a signature without a sign-off) is then split off too.
    """
    names = _sender_names(sender)
    plain = text or ""
    composed_html = _without_composed_quotes(html) if html else None
    if composed_html is not None:
        # The sender quoted a passage inside their own text with Gmail's "Quote" formatting: that passage
        # is theirs. The text/plain rendering cannot tell it from a quoted reply, so read the HTML.
        html = composed_html
        plain = html_to_text(composed_html)
    if not plain.strip() and html:
        plain = html_to_text(html, mark_quotes=True)
        return _split_lines(_normalise(plain), names)[0]
    parts, found = _split_lines(_normalise(plain), names)
    if not found and html:
        marked = html_to_text(html, mark_quotes=True)
        html_parts, html_found = _split_lines(_normalise(marked), names)
        if html_found and html_parts.reply_text.strip():
            return html_parts
    return parts


def text_for_triage(parts: ReplyParts) -> str:
    """What triage should read: the new text, plus the forwarded message when the sender adds little.

    "FYI", "see below" or an empty forward carry no request of their own; the request is the
    forwarded (or, for a bare quote, the quoted) message.
    """
    reply = parts.reply_text.strip()
    words = re.findall(r"\w+", reply)
    adds_little = (
        not reply
        or len(words) <= 3
        or bool(_LITTLE_ADDED.match(reply))
        or all(_LITTLE_ADDED.match(line) for line in reply.splitlines() if line.strip())
        # "Can you look at this?" / "See attached email below": a short note pointing at what it quotes.
        or (len(words) <= 10 and bool(_POINTS_AT_QUOTE.search(reply)))
    )
    # A forward whose covering note is short or points at it ("see below") is about the forwarded mail.
    points_at_forward = bool(
        parts.forwarded_text.strip()
        and (len(words) <= 60 or re.search(r"\b(?:below|forward(?:ed|ing)?|fwd|attached)\b", reply, re.I))
    )
    if not adds_little and not points_at_forward:
        return reply
    extra = parts.forwarded_text.strip()
    if not extra:
        extra = _first_quoted_message(parts.quoted_text)
    if not extra:
        return reply
    if not reply:
        return extra
    label = "Forwarded message" if parts.forwarded_text.strip() else "Quoted message"
    return f"{reply}\n\n---------- {label} ----------\n{extra}"


def _first_quoted_message(quoted: str) -> str:
    """The body of the most recent quoted message (header lines and ">" markers removed)."""
    lines = [_strip_quote(line) for line in quoted.splitlines()]
    start = 0
    size = _header_block(lines, _next_nonblank(lines, 0) or 0)
    if size:
        start = (_next_nonblank(lines, 0) or 0) + size
    else:
        for index, line in enumerate(lines[:6]):
            if _ORIGINAL_MESSAGE.match(line) or _attribution_end(lines, index) is not None:
                start = index + 1
                break
    body = lines[start:]
    nested = _find_boundary(body)
    if nested is not None and nested.start > 0:
        body = body[: nested.start]
    return _join(body)
