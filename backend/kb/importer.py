"""`tier0 kb import DIR`: load Markdown KB files into Postgres, keeping every version.

Each `*.md` file under DIR (recursively) is one article; files under a folder named `runbooks`
(or whose front matter says `kind: runbook`) are runbooks. For each file:

- new slug: the article and its version 1 are created;
- content changed (sha256 of the whole file, front matter included): a new version is added and
  becomes current; older versions stay, so drafts keep citing what they quoted;
- identical content: nothing is written (an identical re-import is a no-op);
- in the KB but not under DIR: kept, and listed in `ImportResult.not_in_source`.

Vectors (when an embedder is available) are computed for the article (title, tags, lead) and
for each passage, and cached on disk by text, so an unchanged KB re-imports in seconds.

Failures are the file's (a bad front matter, a slug that differs from the file name, a slug
used twice): recorded in `ImportResult.errors`, the other files are imported. Database errors
are ours and raise; the whole import is one transaction, so it never leaves half a KB.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from backend.kb.config import KbSettings, load_kb_settings
from backend.kb.documents import KbDocument, KbDocumentError, Kind, read_document
from backend.kb.embedder import Embedder, default_cache_dir, embed_cached, load_embedder, vector_literal

logger = logging.getLogger(__name__)

_NOT_GIVEN: Any = object()


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # In the KB but not in this directory: left as they are (removing an article is a decision,
    # not a side effect of importing a folder that lacks it), listed so the caller sees them.
    not_in_source: list[str] = field(default_factory=list)
    embedder: str | None = None

    @property
    def is_ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        vectors = f"vectors: {self.embedder}" if self.embedder else "vectors: none (full-text and trigram only)"
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.errors)} errors, {len(self.not_in_source)} in the KB but not in this folder; {vectors}"
        )


def _kind_for(path: Path, directory: Path) -> Kind:
    relative = path.relative_to(directory)
    return "runbook" if "runbooks" in relative.parts[:-1] or directory.name == "runbooks" else "article"


def discover_documents(directory: Path, result: ImportResult) -> list[KbDocument]:
    """Parse every Markdown file under `directory`; bad files land in `result.errors`."""
    documents: list[KbDocument] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        kind = _kind_for(path, directory)
        try:
            document = read_document(path, kind=kind)
        except KbDocumentError as error:
            result.errors.append(str(error))
            continue
        declared = document.front_matter.get("kind")
        if declared in ("article", "runbook") and declared != kind:
            document = read_document(path, kind=declared)
        if document.slug in seen:
            result.errors.append(f"{path}: slug {document.slug!r} is already used by {seen[document.slug]}")
            continue
        seen[document.slug] = path
        documents.append(document)
    return documents


_LEAD_WORDS = 80


def _version_text(document: KbDocument) -> str:
    """What the whole-article vector encodes: title, tags and the start of the body."""
    lead = " ".join(document.sections[0].text.split()[:_LEAD_WORDS]) if document.sections else ""
    return f"{document.title}. {', '.join(document.tags)}. {lead}"


def _passage_text(heading: str, text: str) -> str:
    # The heading gives a bare step ("Click Send reset link.") the context it answers.
    return f"{heading}: {text}"


def _embed(embedder: Embedder | None, texts: Sequence[str], cache_dir: Path | None) -> list[str | None]:
    if embedder is None or not texts:
        return [None] * len(texts)
    return [vector_literal(vector) for vector in embed_cached(embedder, texts, cache_dir)]


def _url(document: KbDocument, settings: KbSettings) -> str:
    declared = document.front_matter.get("url")
    if isinstance(declared, str) and declared:
        return declared
    template = settings.runbook_url_template if document.kind == "runbook" else settings.article_url_template
    return template.format(slug=document.slug)


_INSERT_VERSION = """
insert into kb_article_versions (
    slug, version, content_sha256, title, tags, audience, product_area, category, integration,
    applies_to, source_updated_on, front_matter, body, url, source_path,
    search_vector, search_label, embedding, embedding_model
) values (
    %(slug)s, %(version)s, %(sha)s, %(title)s, %(tags)s, %(audience)s, %(product_area)s, %(category)s,
    %(integration)s, %(applies_to)s, %(updated)s, %(front_matter)s, %(body)s, %(url)s, %(source_path)s,
    setweight(to_tsvector('english', %(title)s), 'A')
        || setweight(to_tsvector('english', %(tags_text)s), 'B')
        || setweight(to_tsvector('english', %(body)s), 'C'),
    %(label)s, %(embedding)s::vector, %(embedding_model)s
)
"""

_INSERT_PASSAGE = """
insert into kb_passages (slug, version, passage_index, section_index, heading, body, embedding)
values (%s, %s, %s, %s, %s, %s, %s::vector)
"""

# Vocabulary for correcting misspelled query words: every word of 3+ letters in the current
# versions' titles, tags and bodies, with the number of articles using it.
_REBUILD_TERMS = """
delete from kb_terms;
insert into kb_terms (term, document_count)
select word, count(distinct versions.slug)
from kb_articles as articles
join kb_article_versions as versions
    on versions.slug = articles.slug and versions.version = articles.current_version
cross join lateral regexp_split_to_table(
    lower(versions.search_label || ' ' || versions.body), '[^a-z0-9]+'
) as word
where length(word) >= 3
group by word;
"""


def import_kb(
    conn: psycopg.Connection,
    directory: Path,
    *,
    embedder: Embedder | None = _NOT_GIVEN,
    settings: KbSettings | None = None,
    cache_dir: Path | None = _NOT_GIVEN,
) -> ImportResult:
    """Import every KB file under `directory`; see the module docstring for the rules.

    `embedder` defaults to the process's MiniLM embedder (None when it cannot load); pass None
    to import without vectors. Vectors of texts seen before are reused from `cache_dir`
    (default: the data folder's cache/kb-embeddings; None: no cache).
    """
    if cache_dir is _NOT_GIVEN:
        cache_dir = default_cache_dir()
    if not directory.is_dir():
        raise FileNotFoundError(f"KB directory not found: {directory}")
    settings = settings or load_kb_settings()
    chosen = load_embedder() if embedder is _NOT_GIVEN else embedder
    result = ImportResult(embedder=chosen.name if chosen else None)
    documents = discover_documents(directory, result)
    with conn.transaction():
        # An article row and its first version point at each other; the link is checked at the end.
        conn.execute("set constraints kb_articles_current_version_exists deferred")
        current = {
            slug: (version, sha)
            for slug, version, sha in conn.execute(
                """
                select articles.slug, articles.current_version, versions.content_sha256
                from kb_articles as articles
                join kb_article_versions as versions
                    on versions.slug = articles.slug and versions.version = articles.current_version
                """
            ).fetchall()
        }
        result.not_in_source = sorted(set(current) - {document.slug for document in documents})
        changed = [document for document in documents if current.get(document.slug, (0, None))[1]
                   != document.content_sha256]
        result.unchanged = [document.slug for document in documents if document not in changed]
        texts = [_version_text(document) for document in changed] + [
            _passage_text(passage.heading, passage.text) for document in changed for passage in document.passages
        ]
        vectors = _embed(chosen, texts, cache_dir)
        version_vectors = vectors[: len(changed)]
        passage_vectors = iter(vectors[len(changed) :])
        for document, vector in zip(changed, version_vectors, strict=True):
            previous = current.get(document.slug)
            version = previous[0] + 1 if previous else 1
            if previous is None:
                conn.execute(
                    "insert into kb_articles (slug, kind, current_version) values (%s, %s, %s)",
                    (document.slug, document.kind, version),
                )
                result.created.append(document.slug)
            else:
                conn.execute(
                    "update kb_articles set current_version = %s, kind = %s, updated_at = now() where slug = %s",
                    (version, document.kind, document.slug),
                )
                result.updated.append(document.slug)
            conn.execute(
                _INSERT_VERSION,
                {
                    "slug": document.slug,
                    "version": version,
                    "sha": document.content_sha256,
                    "title": document.title,
                    "tags": document.tags,
                    "tags_text": " ".join(document.tags),
                    "audience": document.audience,
                    "product_area": document.product_area,
                    "category": document.category,
                    "integration": document.integration,
                    "applies_to": document.applies_to,
                    "updated": document.source_updated_on,
                    "front_matter": Jsonb(document.front_matter),
                    "body": document.body,
                    "url": _url(document, settings),
                    "source_path": document.source_path,
                    "label": document.search_label,
                    "embedding": vector,
                    "embedding_model": chosen.name if chosen and vector else None,
                },
            )
            with conn.cursor() as cursor:
                cursor.executemany(
                    _INSERT_PASSAGE,
                    [
                        (document.slug, version, index, passage.section_index, passage.heading, passage.text,
                         next(passage_vectors))
                        for index, passage in enumerate(document.passages)
                    ],
                )
        if changed:
            conn.execute(_REBUILD_TERMS)
        # Check the article -> current version link now, not at commit: inside a caller's
        # transaction (tests) a deferred check would otherwise never run.
        conn.execute("set constraints kb_articles_current_version_exists immediate")
    logger.info("KB import from %s: %s", directory, result.summary())
    return result
