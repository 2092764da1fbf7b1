"""Render an HTML mail body as readable plain text.

Many mails (newsletters, Outlook and Gmail replies without a text/plain part, phishing) only
carry HTML. Later stages read text, and reply extraction reads *structure*, so the renderer keeps
what a reader sees and what the quote detector needs:

* paragraphs, ``<div>``s and headings become separate lines with blank lines where a reader sees a gap;
* ``<br>`` is a line break, ``<li>`` a "- " (or "1. ") item, a table row one line;
* ``<blockquote>`` becomes "> "-quoted lines, as a text/plain client would have quoted them;
* ``<hr>`` becomes the underscore line Outlook writes in its own text/plain part, so the same
  "separator + From:/Sent: block" rule finds quoted history in both renderings;
* ``<head>``, ``<style>``, ``<script>``, comments and elements hidden with ``display:none``
  (newsletter "preheaders", tracking blocks) are dropped.

With ``mark_quotes=True`` (used by reply extraction only) containers that clients use for quoted
history *without* a ``<blockquote>`` (Outlook's ``#divRplyFwdMsg`` and Mac ``#OLK_SRC_BODY_SECTION``,
Hotmail's ``hr#stopSpelling``, Yahoo's ``.yahoo_quoted``) and everything after them are "> "-quoted as well.

Failures: HTML is never "invalid" for this module; the lexbor parser repairs anything. Deeply nested
torture input is walked iteratively, so there is no recursion limit to hit. Nothing here raises for
the sender's input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Elements whose content a reader never sees.
_SKIPPED_TAGS = frozenset(
    {"head", "style", "script", "title", "meta", "link", "template", "noscript", "object", "svg", "xml"}
)
# Elements that start and end a line of their own.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "center", "dd", "details", "dialog", "dir", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "main", "menu", "nav",
        "section", "summary", "table", "tbody", "thead", "tfoot", "caption", "tr", "body", "html",
    }
)
# Blocks that a reader sees with a gap around them.
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre", "blockquote"})
_CELL_TAGS = frozenset({"td", "th"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all", re.I)
_SPACE_RUN = re.compile(r"[ \t\r\n\f\v\u00a0\u200b\u200c\u200d\ufeff]+")

# Outlook writes an underscore line before the From:/Sent: block in its text/plain part; <hr> is the
# same separator in HTML, so render it identically.
HR_LINE = "_" * 32

# Containers that mean "quoted history starts here" in specific clients (checked only with mark_quotes).
_QUOTE_START_IDS = frozenset({"divrplyfwdmsg", "olk_src_body_section", "stopspelling", "appendonsend"})
_QUOTE_CONTAINER_CLASSES = frozenset({"yahoo_quoted", "gmail_quote_container", "protonmail_quote"})


@dataclass
class _Writer:
    """Accumulates rendered lines; `depth` is the current "> " quote depth."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    depth: int = 0
    list_stack: list[list[int]] = field(default_factory=list)  # [counter] per <ol>/<ul>; -1 = bullets
    line_marks: list[int] = field(default_factory=list)  # len(lines) when each Word paragraph opened

    def text(self, value: str, *, preformatted: bool = False) -> None:
        if preformatted:
            parts = value.replace("\r\n", "\n").split("\n")
            for index, part in enumerate(parts):
                if index:
                    self.newline(force=True)
                if part:
                    self.current.append(part)
            return
        collapsed = _SPACE_RUN.sub(" ", value)
        if not collapsed.strip() and not self.current:
            return
        if not self.current:
            collapsed = collapsed.lstrip()
        self.current.append(collapsed)

    def newline(self, *, force: bool = False) -> None:
        """End the current line; with force, emit it even when it is empty (a <br>)."""
        line = "".join(self.current).rstrip()
        self.current = []
        if line or force:
            self.lines.append((self.depth, line))

    def blank(self) -> None:
        """Make sure the output ends with one blank line (a paragraph gap)."""
        self.newline()
        if self.lines and self.lines[-1][1] != "":
            self.lines.append((self.depth, ""))

    def render(self) -> str:
        self.newline()
        out: list[str] = []
        for depth, line in self.lines:
            prefix = "> " * depth
            out.append((prefix + line).rstrip() if depth else line)
        text = "\n".join(out)
        text = re.sub(r"\n(?:[> ]*\n){2,}", lambda m: "\n" + _blank_like(m.group(0)) + "\n", text)
        # No blank (or quote-marker-only) lines at either end.
        return re.sub(r"^(?:[> ]*\n)+|(?:\n[> ]*)+$", "", text)


def _blank_like(run: str) -> str:
    """Collapse a run of blank (or quote-only) lines into a single one, keeping its quote prefix."""
    lines = [line for line in run.split("\n") if line != ""]
    return min(lines, key=len).rstrip() if lines else ""


def _is_hidden(node: LexborNode) -> bool:
    attrs = node.attributes
    style = attrs.get("style") or ""
    return bool(_HIDDEN_STYLE.search(style)) or "hidden" in attrs


def _starts_quote(node: LexborNode) -> bool:
    attrs = node.attributes
    node_id = (attrs.get("id") or "").lower()
    if node_id in _QUOTE_START_IDS or node_id.endswith("divrplyfwdmsg"):
        return True
    classes = set((attrs.get("class") or "").lower().split())
    return bool(classes & _QUOTE_CONTAINER_CLASSES)


def html_to_text(html: str, *, mark_quotes: bool = False) -> str:
    """Readable text of an HTML document or fragment (see the module docstring for the rules)."""
    if not html or not html.strip():
        return ""
    parser = LexborHTMLParser(html)
    root = parser.root
    if root is None:
        return ""
    writer = _Writer()
    quote_rest = False  # with mark_quotes: a client's quote container was seen; quote all that follows
    preformatted_depth = 0
    # Iterative walk: (node, is_exit). Torture-test HTML nests thousands of levels deep.
    stack: list[tuple[LexborNode, bool]] = [(root, False)]
    while stack:
        node, is_exit = stack.pop()
        tag = node.tag or ""
        if is_exit:
            _close(writer, tag, node)
            if tag == "pre":
                preformatted_depth -= 1
            continue
        if tag == "-text":
            writer.text(node.text_content or "", preformatted=preformatted_depth > 0)
            continue
        if tag.startswith("-") or tag in _SKIPPED_TAGS or _is_hidden(node):
            continue  # comments, doctype, invisible content
        if mark_quotes and not quote_rest and _starts_quote(node):
            writer.newline()
            writer.depth += 1
            quote_rest = True  # the quoted history runs to the end of the document
        _open(writer, tag, node)
        if tag == "pre":
            preformatted_depth += 1
        if tag in ("br", "hr", "img", "input", "wbr"):
            continue  # void elements: nothing to close
        stack.append((node, True))
        children = list(node.iter(include_text=True))
        stack.extend((child, False) for child in reversed(children))
    return writer.render()


def _open(writer: _Writer, tag: str, node: LexborNode) -> None:
    if tag == "br":
        writer.newline(force=True)
    elif tag == "hr":
        writer.newline()
        writer.lines.append((writer.depth, HR_LINE))
    elif tag == "blockquote":
        writer.blank()
        writer.depth += 1
    elif tag in ("ul", "ol"):
        writer.newline()
        if not writer.list_stack:
            writer.blank()
        writer.list_stack.append([0 if tag == "ol" else -1])
    elif tag == "li":
        writer.newline()
        indent = "  " * max(0, len(writer.list_stack) - 1)
        if writer.list_stack and writer.list_stack[-1][0] >= 0:
            writer.list_stack[-1][0] += 1
            writer.current.append(f"{indent}{writer.list_stack[-1][0]}. ")
        else:
            writer.current.append(f"{indent}- ")
    elif tag == "p" and _is_word_paragraph(node):
        writer.newline()
        writer.line_marks.append(len(writer.lines))
    elif tag in _PARAGRAPH_TAGS:
        writer.blank()
    elif tag in _BLOCK_TAGS:
        writer.newline()
    elif tag in _CELL_TAGS:
        if writer.current and "".join(writer.current).strip():
            writer.current.append(" ")
    elif tag == "img":
        alt = (node.attributes.get("alt") or "").strip()
        if alt and len(alt) < 80:
            writer.text(f" {alt} ")


def _is_word_paragraph(node: LexborNode) -> bool:
    """Outlook/Word's <p class=MsoNormal> has no margins: one paragraph is one line, and an empty one
    (&nbsp;) is the blank line the writer typed."""
    return "msonormal" in (node.attributes.get("class") or "").lower()


def _close(writer: _Writer, tag: str, node: LexborNode) -> None:
    if tag == "p" and _is_word_paragraph(node) and writer.line_marks:
        mark = writer.line_marks.pop()
        writer.newline()
        if len(writer.lines) == mark and not writer.current:
            writer.lines.append((writer.depth, ""))
    elif tag == "blockquote":
        writer.newline()
        writer.depth = max(0, writer.depth - 1)
        writer.blank()
    elif tag in ("ul", "ol"):
        writer.newline()
        if writer.list_stack:
            writer.list_stack.pop()
        if not writer.list_stack:
            writer.blank()
    elif tag == "li" or tag in _BLOCK_TAGS:
        writer.newline()
    elif tag in _PARAGRAPH_TAGS:
        writer.blank()
    elif tag in _CELL_TAGS:
        writer.current.append(" ")
