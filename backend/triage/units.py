"""Cut an email's new text into units: the pieces segmentation reasons about.

A unit is a paragraph, a list item, or the part of a paragraph that starts at a topic-shift cue
("Also, ...", "Separately, ...", "P.S. ...", "On a different note ..."), so a request buried
mid-paragraph gets a unit of its own. Each unit records how it starts (new paragraph, list
item, cue), which is what tells segmentation that a new request may begin there; whether it
*is* a request is the model's call (`backend.triage.segment`).

Signature blocks, legal disclaimers, "Sent from my iPhone" and the closing ("Thanks,", "Regards,")
are removed here by layout rules: they are never requests and they confuse the model. The
closing words are kept as `closing` so a bare "thanks" can still be recognised.

Pure text rules; nothing here raises for the sender's input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Sentence-initial phrases that announce a new, separate topic (English and Spanish, the two
# languages customers write in). Matched at the start of a sentence, case-insensitive.
_CUE_PATTERNS = [
    r"also\b", r"additionally\b", r"separately\b", r"plus,", r"and also\b", r"and lastly\b",
    r"on an?(?: \w+)?(?: different| separate| unrelated| other| another| related)? note\b",
    r"on another note\b", r"in other news\b", r"totally different\b", r"completely different\b",
    r"unrelated\b", r"not related\b", r"separate (?:thing|question|issue|item|request|topic|note|matter)\b",
    r"different (?:thing|subject|question|topic|problem|issue|matter|request)\b",
    r"(?:one|another|other|last|final|second|third|next) (?:more )?"
    r"(?:thing|question|item|request|issue|one|problem|point)\b",
    r"and (?:one|another) (?:more )?(?:thing|question|item|request)\b",
    r"oh,? and\b", r"oh,? also\b", r"while i have you\b", r"while (?:you're|you are|i'm|i am) (?:in there|at it)\b",
    r"since i have you\b", r"by the way\b", r"btw\b", r"p\.? ?s\.?\b", r"second(?:ly)?,", r"third(?:ly)?,",
    r"finally\b", r"lastly\b", r"last(?:ly)?,", r"next,", r"before i forget\b", r"and i wanted to say\b",
    r"otra cosa\b", r"otro tema\b", r"aparte\b", r"adem[aá]s\b", r"tambi[eé]n\b", r"por cierto\b",
    r"(?:a |one |my |our )?(?:other|another|separate|follow-?up|related|unrelated|different|second|last|final) "
    r"(?:quick )?(?:question|request|issue|problem|item|thing)\b",
    r"something (?:else|different|unrelated)\b", r"(?:which|that) (?:brings me to|is my other)\b",
]
# "Also" a few words into a paragraph's first sentence announces a second ask as well:
# "I'd also like ...", "We also need ...", "I also wanted to ask ...".
_EARLY_ALSO = re.compile(r"^(?:\W*\w+\W+){0,3}?(?:also|as well)\b(?=.{0,40}\b(?:like|need|want|ask|wonder|request|"
                         r"have|question|would|could|can)\b)", re.IGNORECASE)
_CUE = re.compile(r"^[\s\"'(\[*_-]*(?:" + "|".join(_CUE_PATTERNS) + r")", re.IGNORECASE)

_LIST_MARKER = re.compile(r"^\s*(?:\(?\d{1,2}[.):]|\d{1,2}\s+-|\d{1,2}\s*–|[-*•·▪●]|\(?[a-h]\))\s+")

_CLOSING = re.compile(
    r"^\s*(?:many |thanks? (?:again|so much|a lot|in advance)|thank you(?: so much| again| all)?|thanks|thx|tia|"
    r"best(?: regards| wishes)?|kind regards|warm regards|regards|sincerely|cheers|respectfully|"
    r"mahalo|gracias|muchas gracias|saludos|atentamente|merci|danke|appreciate it|talk soon|"
    r"have a (?:good|great) (?:day|one|weekend))[\s!.,]*(?:[A-Z][\w.'-]*)?[\s!.,]*$",
    re.IGNORECASE,
)
_SIGNATURE_DELIMITER = re.compile(r"^\s*--\s*$")
_SENT_FROM = re.compile(r"^\s*(?:sent from my|get outlook for|enviado desde)", re.IGNORECASE)
_DISCLAIMER = re.compile(
    r"(confidential|privileged|intended (?:only|solely) for|intended recipient|unauthori[sz]ed (?:review|use)|"
    r"if you (?:have )?received this (?:message |e-?mail )?in error|exempt from disclosure|does not accept liability)",
    re.IGNORECASE,
)
_CSS_LINE = re.compile(r"^\s*[\w.#:,\s-]+\{[^}]*:[^}]*\}\s*$")
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|morning|afternoon|greetings|hola|"
    r"buenos d[ií]as|buenas tardes|aloha|team|all|folks|yo)\b[^.?!\n]{0,60}[,!:.]?\s*$",
    re.IGNORECASE,
)
# Text that tries to instruct an AI reading the mail. Never a request, never a signal: the
# words are recorded as the sender's text and otherwise ignored.
_INJECTION = re.compile(
    r"(ignore (?:all |any |your |the )?(?:previous|prior|above|earlier|preceding) (?:instructions|rules|prompts?)|"
    r"disregard (?:all |any |your |the )?(?:previous |prior |routing |above )?(?:instructions|rules|routing)|"
    r"instructions? (?:to|for) (?:the |any )?(?:ai|assistant|llm|model|bot)|"
    r"\b(?:ai|llm) (?:assistant|agent|support agent|model|system)s? (?:processing|reading|handling|triaging)|"
    r"^\W*(?:assistant|system)\s*:|you are now (?:a|an|in)|new instructions\s*:|system prompt)",
    re.IGNORECASE | re.MULTILINE,
)
_SHORT_ITEM_WORDS = 30
# backend.mail.reply.text_for_triage appends a forwarded (or, for a bare reply, the quoted) message
# under one of these markers; mail clients write similar ones.
_SECTION_MARKER = re.compile(r"^\s*-{3,}\s*(forwarded|quoted|original) message\s*-*\s*$", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^\s*(from|date|sent|to|cc|subject)\s*:\s", re.IGNORECASE)
_ADDRESS_ONLY = re.compile(r"^\s*[\w .'/&|-]{0,40},\s*$")  # "Tom," / "Jenna or whoever gets this,"
_ABBREVIATIONS = re.compile(
    r"\b(?:mr|mrs|ms|dr|st|sr|jr|vs|etc|e\.g|i\.e|approx|no|ext|inc|llc|co|corp|dept|jan|feb|mar|apr|jun|"
    r"jul|aug|sep|sept|oct|nov|dec|mon|tue|tues|wed|thu|thurs|fri|sat|sun|a\.m|p\.m|u\.s|sra|sr)\.$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Unit:
    text: str
    index: int
    paragraph: int  # index of the paragraph (or list item) it came from
    starts_paragraph: bool
    list_item: bool  # starts with a list marker ("1.", "2)", "-", "•")
    cue: str | None  # the topic-shift cue it begins with, lowercased, or None
    section: str = "main"  # "main", or "forwarded" / "quoted": below a marker text_for_triage writes

    @property
    def boundary(self) -> str:
        """How strongly this unit announces a new topic: "cue", "list", "paragraph" or "none"."""
        if self.cue:
            return "cue"
        if self.list_item:
            return "list"
        if self.starts_paragraph:
            return "paragraph"
        return "none"


@dataclass(frozen=True)
class SplitText:
    units: list[Unit]
    greeting: str  # the salutation line(s), "" if none
    closing: str  # the closing words ("Thanks,") and what followed, "" if none
    removed: list[str]  # signature / disclaimer lines dropped
    injections: list[str] = field(default_factory=list)  # paragraphs addressed to an AI reader, dropped


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").replace("\t", "  ")
    text = re.sub(r"[\u200b\u200c\u200d\ufeff]", "", text)
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(line for line in lines if not _CSS_LINE.match(line))


def _paragraphs(lines: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def _looks_like_signature_line(line: str) -> bool:
    stripped = line.strip()
    if not stripped:
        return True
    if len(stripped) > 70 or re.search(r"[.?!]\s+\w+.*[.?!]$", stripped):
        return False
    words = stripped.split()
    if re.search(r"\(?\d{3}\)?[\s.-]\d{3}-\d{4}|@|https?://|www\.", stripped):
        return True
    # A name, a title, a dealership: short lines with no sentence punctuation.
    return len(words) <= 9 and not stripped.endswith("?")


def _strip_signature(paragraphs: list[list[str]]) -> tuple[list[list[str]], str, list[str]]:
    """Drop disclaimers, 'Sent from', the closing line and the signature block after it."""
    removed: list[str] = []
    kept: list[list[str]] = []
    for paragraph in paragraphs:
        joined = " ".join(paragraph)
        if _DISCLAIMER.search(joined) and len(joined) > 80:
            removed.append(joined)
            continue
        lines = [line for line in paragraph if not _SENT_FROM.match(line)]
        if len(lines) != len(paragraph):
            removed.extend(line for line in paragraph if _SENT_FROM.match(line))
        if lines:
            kept.append(lines)
    closing = ""
    # Find the last closing line ("Thanks,", "Regards,") and cut it with everything after it,
    # when what follows looks like a signature (names, titles, phone numbers).
    for p_index in range(len(kept) - 1, -1, -1):
        paragraph = kept[p_index]
        for l_index, line in enumerate(paragraph):
            if _CLOSING.match(line) or _SIGNATURE_DELIMITER.match(line):
                rest = paragraph[l_index + 1 :] + [ln for para in kept[p_index + 1 :] for ln in para]
                if all(_looks_like_signature_line(ln) for ln in rest):
                    closing = "\n".join([line, *rest]).strip()
                    removed.extend(rest)
                    head = paragraph[:l_index]
                    kept = kept[:p_index] + ([head] if head else [])
                    return kept, closing, removed
        if p_index < len(kept) - 1:
            break  # only the last two paragraphs can hold the closing
    # No closing line: a trailing short block of signature-like lines (name, title, phone).
    if (len(kept) > 1 and len(kept[-1]) >= 2 and all(_looks_like_signature_line(line) for line in kept[-1])
            and (any(re.search(r"\d{3}.?\d{4}|@|\|", line) for line in kept[-1]) or len(kept[-1]) <= 4)):
        removed.extend(kept[-1])
        kept = kept[:-1]
    # A lone first-name sign-off line ("Clint", "- Ramón") closing the text.
    if len(kept) > 1 and len(kept[-1]) == 1 and re.match(r"^\s*-?\s*[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?\s*$", kept[-1][0]):
        removed.append(kept[-1][0])
        kept = kept[:-1]
    return kept, closing, removed


def split_sentences(text: str) -> list[str]:
    """Sentences of a block of text (a simple rule splitter that respects common abbreviations)."""
    flat = re.sub(r"\s*\n\s*", " ", text.strip())
    if not flat:
        return []
    pieces = re.split(r"(?<=[.!?…])[\"')\]]*\s+(?=[\"'(¿¡]?[A-Z0-9ÁÉÍÓÚÑ])", flat)
    sentences: list[str] = []
    for piece in pieces:
        if sentences and _ABBREVIATIONS.search(sentences[-1].split()[-1] if sentences[-1].split() else ""):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    # A cue can also follow a colon or a dash inside a sentence ("Two things. Other thing, ...")
    return [sentence.strip() for sentence in sentences if sentence.strip()]


def cue_of(sentence: str, *, paragraph_start: bool = False) -> str | None:
    match = _CUE.match(sentence)
    if match:
        return match.group(0).strip(" \"'([*_-").lower()
    if paragraph_start:
        early = _EARLY_ALSO.match(sentence)
        if early:
            return "also"
    return None


def _list_blocks(paragraph: list[str]) -> list[tuple[list[str], bool]]:
    """Split a paragraph's lines at list markers: (lines, starts_with_marker)."""
    blocks: list[tuple[list[str], bool]] = []
    for line in paragraph:
        is_marker = bool(_LIST_MARKER.match(line))
        if is_marker or not blocks:
            blocks.append(([line], is_marker))
        else:
            blocks[-1][0].append(line)
    return blocks


_COUNT_WORDS = {"two": 2, "2": 2, "three": 3, "3": 3, "four": 4, "4": 4, "five": 5, "5": 5, "couple": 2,
                "couple of": 2}
_ANNOUNCED_COUNT = re.compile(
    r"\b(two|three|four|five|[2-5]|couple(?: of)?)\s+"
    r"(?:(?:quick|small|separate|unrelated|different|more|other|little)\s+)?"
    r"(things|items|questions|issues|requests|changes|problems|matters|topics)\b",
    re.IGNORECASE,
)


_SEVERAL_THINGS = re.compile(
    r"\b(?:couple|few|several|some|multiple|number of|two|three|four|five|[2-9])\b.{0,25}"
    r"\b(?:things|items|issues|requests|changes|problems|matters|topics)\b",
    re.IGNORECASE,
)


def announced_count(texts: list[str]) -> int | None:
    """A count the sender announces ("Two things:", "3 issues"), or None."""
    for text in texts:
        match = _ANNOUNCED_COUNT.search(text)
        if match:
            return _COUNT_WORDS[re.sub(r"\s+", " ", match.group(1).lower())]
    return None


def _count_words(lines: list[str]) -> int:
    return len(" ".join(lines).split())


def _marker_kind(line: str) -> str:
    return "number" if re.match(r"^\s*\(?(?:\d{1,2}|[a-h])\W", line) else "bullet"


def _blocks(paragraphs: list[list[str]]) -> list[tuple[list[str], bool, bool]]:
    """(lines, is_list_item, starts_paragraph) blocks. A run of short list items after an intro
    ending in ":" ("What I need from you:", "Here are three from this week:") is one block with
    its intro: the items are the steps or data of one thing, not separate topics."""
    raw: list[tuple[list[str], bool, bool]] = []
    for paragraph in paragraphs:
        for position, (lines, is_item) in enumerate(_list_blocks(paragraph)):
            raw.append((lines, is_item, position == 0))
    merged: list[tuple[list[str], bool, bool]] = []
    index = 0
    while index < len(raw):
        lines, is_item, starts = raw[index]
        run_end = index + 1
        kind = _marker_kind(raw[run_end][0][0]) if run_end < len(raw) and raw[run_end][1] else None
        while run_end < len(raw) and raw[run_end][1] and _marker_kind(raw[run_end][0][0]) == kind:
            run_end += 1
        items = raw[index + 1 : run_end]
        nested_under_sibling = is_item and _marker_kind(lines[0]) == kind
        # "What I need from you:" + short steps is one thing; "Two things:" + short items is two.
        if (items and lines[-1].rstrip().endswith(":") and not nested_under_sibling
                and not _SEVERAL_THINGS.search(lines[-1])
                and max(_count_words(item_lines) for item_lines, _, _ in items) <= _SHORT_ITEM_WORDS):
            combined = list(lines)
            for item_lines, _, _ in items:
                combined.extend(item_lines)
            merged.append((combined, is_item, starts))
            index = run_end
            continue
        merged.append((lines, is_item, starts))
        index += 1
    return merged


def _sections(text: str) -> list[tuple[str, str]]:
    """(section, text) pieces: the sender's own text, then forwarded / quoted messages below a
    marker line. Header lines ("From:", "Sent:") of a forwarded block are dropped."""
    sections: list[tuple[str, list[str]]] = [("main", [])]
    for line in text.split("\n"):
        marker = _SECTION_MARKER.match(line)
        if marker:
            kind = marker.group(1).lower()
            sections.append(("quoted" if kind == "quoted" else "forwarded", []))
            continue
        name, lines = sections[-1]
        if name != "main" and _HEADER_LINE.match(line):
            continue
        lines.append(line)
    return [(name, "\n".join(lines)) for name, lines in sections if "\n".join(lines).strip()]


def split_units(text: str) -> SplitText:
    """Units of an email's new text, in order, with the greeting and closing set apart."""
    units: list[Unit] = []
    greeting = ""
    closing = ""
    removed: list[str] = []
    injections: list[str] = []
    paragraph_offset = 0
    for position, (section, section_text) in enumerate(_sections(_normalise(text))):
        paragraphs = _paragraphs(section_text.split("\n"))
        # Text written to manipulate an AI reader is never a request; set it aside first so it
        # cannot hide the signature block either.
        injections += [" ".join(p) for p in paragraphs if _INJECTION.search(" ".join(p))]
        paragraphs = [p for p in paragraphs if not _INJECTION.search(" ".join(p))]
        paragraphs, section_closing, section_removed = _strip_signature(paragraphs)
        removed += section_removed
        if position == 0:
            closing = section_closing
        section_greeting = ""
        if paragraphs:
            first = paragraphs[0]
            if _GREETING.match(first[0]) or (_ADDRESS_ONLY.match(first[0]) and len(paragraphs) > 1):
                section_greeting = first[0].strip()
                paragraphs[0] = first[1:]
                if not paragraphs[0]:
                    paragraphs = paragraphs[1:]
        if position == 0:
            greeting = section_greeting
        blocks = _blocks(paragraphs)
        for block_index, (block_lines, is_list_item, starts_paragraph) in enumerate(blocks):
            paragraph_index = paragraph_offset + block_index
            sentences = split_sentences("\n".join(block_lines))
            first_in_block = True
            current: list[str] = []
            current_cue: str | None = None
            for sentence in sentences:
                cue = cue_of(sentence, paragraph_start=first_in_block and not current)
                if cue and current:
                    units.append(_unit(current, len(units), paragraph_index, first_in_block and (
                        starts_paragraph or is_list_item), is_list_item and first_in_block, current_cue, section))
                    first_in_block = False
                    current = []
                if not current:
                    current_cue = cue
                current.append(sentence)
            if current:
                units.append(_unit(current, len(units), paragraph_index, first_in_block and (
                    starts_paragraph or is_list_item), is_list_item and first_in_block, current_cue, section))
        paragraph_offset += len(blocks)
    return SplitText(units=units, greeting=greeting, closing=closing, removed=removed, injections=injections)


def _unit(sentences: list[str], index: int, paragraph: int, starts_paragraph: bool, list_item: bool,
          cue: str | None, section: str) -> Unit:
    return Unit(" ".join(sentences), index, paragraph, starts_paragraph, list_item, cue, section)


def strip_list_marker(text: str) -> str:
    return _LIST_MARKER.sub("", text, count=1).strip()
