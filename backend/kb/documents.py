"""Read one knowledge-base file: YAML front matter, then a Markdown body, split into sections.

A KB file looks like

    ---
    slug: reset-password
    title: Reset your password or unlock your account
    product_area: dashboard
    tags: [password, reset]
    ---
    # Reset your password ...
    ## Reset your own password
    1. ...

Failures are the author's (the file's): a file without front matter, with YAML that does not
parse, without a slug or a title, or whose slug differs from its file name raises
`KbDocumentError` naming the file; the importer records it and goes on with the other files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

Kind = Literal["article", "runbook"]

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n?(.*)\Z", re.DOTALL)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
# A sentence ends at . ! or ? followed by space and a capital, a digit or Markdown emphasis.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*_\"(])")
_MIN_PASSAGE_WORDS = 3


class KbDocumentError(Exception):
    """The file is not a valid KB document (the author's failure); the message names the file."""


@dataclass(frozen=True)
class Section:
    """A part of the body under one heading (the text before the first `##` is the lead)."""

    heading: str
    text: str


@dataclass(frozen=True)
class Passage:
    """One list item or sentence of a section: the unit search embeds and drafts select."""

    section_index: int
    heading: str
    text: str


@dataclass(frozen=True)
class KbDocument:
    slug: str
    kind: Kind
    title: str
    body: str
    content_sha256: str
    tags: list[str] = field(default_factory=list)
    audience: str | None = None
    product_area: str | None = None
    category: str | None = None
    integration: str | None = None
    applies_to: list[str] = field(default_factory=list)
    source_updated_on: dt.date | None = None
    front_matter: dict[str, Any] = field(default_factory=dict)
    source_path: str | None = None

    @property
    def sections(self) -> list[Section]:
        return split_sections(self.body, self.title)

    @property
    def passages(self) -> list[Passage]:
        return split_passages(self.sections)

    @property
    def search_label(self) -> str:
        """Title and tags in one line: what trigram matching compares query words with."""
        return " ".join([self.title, *self.tags])


def _string_list(value: Any, key: str, path: Path) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return [str(item) for item in value]
    raise KbDocumentError(f"{path}: front matter {key!r} must be a list of words, got {value!r}")


def _optional_string(value: Any, key: str, path: Path) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int | float):
        return str(value)
    raise KbDocumentError(f"{path}: front matter {key!r} must be text, got {value!r}")


def _yaml_safe(value: Any) -> Any:
    """Front matter as JSON can store it (YAML dates become ISO strings)."""
    if isinstance(value, dict):
        return {str(key): _yaml_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_yaml_safe(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def parse_document(text: str, *, kind: Kind, path: Path) -> KbDocument:
    """Parse one file's text. `path` names the file in errors and must match the slug."""
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not match:
        raise KbDocumentError(f"{path}: no YAML front matter (the file must start with a '---' block)")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        raise KbDocumentError(f"{path}: front matter is not valid YAML: {error}") from error
    if not isinstance(meta, dict):
        raise KbDocumentError(f"{path}: front matter must be a mapping of keys to values")
    body = match.group(2).strip()
    slug = _optional_string(meta.get("slug"), "slug", path) or path.stem
    if not _SLUG.match(slug):
        raise KbDocumentError(f"{path}: slug {slug!r} must be lowercase letters, digits and hyphens")
    if slug != path.stem:
        raise KbDocumentError(f"{path}: slug {slug!r} differs from the file name {path.stem!r}")
    title = _optional_string(meta.get("title"), "title", path)
    if not title:
        raise KbDocumentError(f"{path}: front matter has no title")
    if not body:
        raise KbDocumentError(f"{path}: the body is empty")
    updated = meta.get("updated")
    if updated is not None and not isinstance(updated, dt.date):
        try:
            updated = dt.date.fromisoformat(str(updated))
        except ValueError as error:
            raise KbDocumentError(f"{path}: 'updated' must be a date (YYYY-MM-DD), got {updated!r}") from error
    # The hash covers the whole file as written (front matter included): a tag change is an edit too.
    normalised = text.replace("\r\n", "\n").strip() + "\n"
    return KbDocument(
        slug=slug,
        kind=kind,
        title=title.strip(),
        body=body,
        content_sha256=hashlib.sha256(normalised.encode("utf-8")).hexdigest(),
        tags=[tag.strip() for tag in _string_list(meta.get("tags"), "tags", path) if tag.strip()],
        audience=_optional_string(meta.get("audience"), "audience", path),
        product_area=_optional_string(meta.get("product_area"), "product_area", path),
        category=_optional_string(meta.get("category"), "category", path),
        integration=_optional_string(meta.get("integration"), "integration", path),
        applies_to=_string_list(meta.get("applies_to"), "applies_to", path),
        source_updated_on=updated,
        front_matter=_yaml_safe(meta),
        source_path=str(path),
    )


def read_document(path: Path, *, kind: Kind) -> KbDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise KbDocumentError(f"{path}: not UTF-8 text: {error}") from error
    return parse_document(text, kind=kind, path=path)


def split_sections(body: str, title: str) -> list[Section]:
    """Split a Markdown body on `##`-and-deeper headings; the `#` title line is dropped.

    Text before the first section heading becomes a section headed by the title, so every
    word of the body belongs to exactly one section.
    """
    sections: list[Section] = []
    heading = title
    lines: list[str] = []

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(Section(heading=heading, text=text))

    for line in body.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            continue  # the page title repeats the front matter's title
        if match:
            flush()
            heading = match.group(2).strip()
            lines = []
        else:
            lines.append(line)
    flush()
    return sections


def plain_text(markdown: str) -> str:
    """Markdown inline emphasis and list markers removed (for embedding, not for quoting)."""
    text = _LIST_MARKER.sub("", markdown)
    return text.replace("**", "").replace("`", "").strip()


def split_passages(sections: list[Section]) -> list[Passage]:
    """Each list item or paragraph line of each section, split further into sentences.

    Fragments shorter than three words ("Wait.") carry no meaning of their own and are
    skipped; the draft quotes whole sections, so nothing is lost from the reply.
    """
    passages: list[Passage] = []
    for index, section in enumerate(sections):
        for line in section.text.splitlines():
            text = plain_text(line)
            if not text:
                continue
            for sentence in _SENTENCE_END.split(text):
                # Count real words only: a table's "| --- | --- |" row has none.
                if sum(1 for token in sentence.split() if any(char.isalnum() for char in token)) >= _MIN_PASSAGE_WORDS:
                    passages.append(Passage(section_index=index, heading=section.heading, text=sentence.strip()))
    return passages
