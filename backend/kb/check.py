"""`tier0 kb check`: the KB regression suite.

A golden file (data/kb/golden.jsonl) lists questions with the article each must find:

    {"question": "...", "slug": "reset-password"}

`kb_check` searches every question and fails when the expected slug is not in the top 3, so
an edit that makes an article unfindable (a retitled page, a removed section, a new article
that shadows it) is caught before customers notice. The CLI exits non-zero with the list.

Failures: a golden line that is not JSON, lacks `question`/`slug`, or names a slug the KB does
not have is the golden file's failure and raises `GoldenFileError` naming the line (a check
that cannot fail because its expectation is wrong would be worse than no check).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from backend.kb.config import KbSettings, load_kb_settings
from backend.kb.embedder import Embedder
from backend.kb.search import _NOT_GIVEN, search_many

TOP_K = 3


class GoldenFileError(Exception):
    """The golden file is malformed or names an article the KB does not have."""


@dataclass(frozen=True)
class GoldenCase:
    question: str
    slug: str
    line: int


@dataclass(frozen=True)
class CheckFailure:
    question: str
    expected: str
    got: list[str]
    line: int

    def describe(self) -> str:
        return f"line {self.line}: {self.expected!r} not in top {TOP_K} for {self.question!r} (got {self.got})"


@dataclass
class CheckResult:
    total: int = 0
    failures: list[CheckFailure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.total > 0 and not self.failures

    def summary(self) -> str:
        return f"{self.total - len(self.failures)}/{self.total} golden questions find their article in the top {TOP_K}"


def read_golden(path: Path) -> list[GoldenCase]:
    cases: list[GoldenCase] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise GoldenFileError(f"{path}:{number}: not JSON: {error}") from error
        question, slug = (record.get("question"), record.get("slug")) if isinstance(record, dict) else (None, None)
        if not isinstance(question, str) or not question.strip() or not isinstance(slug, str):
            raise GoldenFileError(f"{path}:{number}: needs a non-empty 'question' and a 'slug'")
        cases.append(GoldenCase(question, slug, number))
    if not cases:
        raise GoldenFileError(f"{path}: no golden questions")
    return cases


def kb_check(
    conn: psycopg.Connection,
    golden_path: Path,
    *,
    embedder: Embedder | None = _NOT_GIVEN,
    settings: KbSettings | None = None,
) -> CheckResult:
    """Search every golden question; a failure for each whose slug is not in the top 3."""
    cases = read_golden(golden_path)
    settings = settings or load_kb_settings()
    searchable = {
        slug
        for (slug,) in conn.execute(
            "select slug from kb_articles where kind = any(%s)", (list(settings.search_kinds),)
        ).fetchall()
    }
    unknown = sorted({case.slug for case in cases} - searchable)
    if unknown:
        raise GoldenFileError(
            f"{golden_path}: names articles that search does not cover (kinds {settings.search_kinds}): "
            f"{', '.join(unknown)}"
        )
    result = CheckResult(total=len(cases))
    searches = search_many(conn, [case.question for case in cases], limit=TOP_K, embedder=embedder, settings=settings)
    for case, (_, found) in zip(cases, searches, strict=True):
        got = [hit.slug for hit in found.results]
        if case.slug not in got:
            result.failures.append(CheckFailure(case.question, case.slug, got, case.line))
    return result
