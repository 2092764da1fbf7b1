from pathlib import Path

import pytest

from backend.kb.documents import KbDocumentError, parse_document, split_passages, split_sections

ARTICLE = """---
slug: sample-article
title: Sample article
product_area: dashboard
tags: [alpha, beta gamma]
updated: 2026-01-05
---

# Sample article

Lead paragraph here. It has two sentences.

## Steps

1. Open **Settings > Users**.
2. Click Save.
"""


def test_front_matter_and_body_are_parsed() -> None:
    document = parse_document(ARTICLE, kind="article", path=Path("sample-article.md"))
    assert document.slug == "sample-article"
    assert document.title == "Sample article"
    assert document.tags == ["alpha", "beta gamma"]
    assert document.product_area == "dashboard"
    assert document.source_updated_on is not None and document.source_updated_on.isoformat() == "2026-01-05"
    assert document.front_matter["updated"] == "2026-01-05"
    assert document.body.startswith("# Sample article")


def test_sections_keep_text_verbatim_and_passages_split_sentences() -> None:
    document = parse_document(ARTICLE, kind="article", path=Path("sample-article.md"))
    sections = split_sections(document.body, document.title)
    assert [section.heading for section in sections] == ["Sample article", "Steps"]
    assert sections[1].text == "1. Open **Settings > Users**.\n2. Click Save."
    passages = [passage.text for passage in split_passages(sections)]
    # "Click Save." has two words: too short to mean anything alone, so it is not a passage.
    assert passages == ["Lead paragraph here.", "It has two sentences.", "Open Settings > Users."]


def test_content_hash_changes_with_front_matter_too() -> None:
    first = parse_document(ARTICLE, kind="article", path=Path("sample-article.md"))
    retagged = parse_document(ARTICLE.replace("[alpha, beta gamma]", "[alpha]"), kind="article",
                              path=Path("sample-article.md"))
    assert first.content_sha256 != retagged.content_sha256


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("# No front matter\n", "x.md", "no YAML front matter"),
        ("---\nslug: [unclosed\n---\nbody\n", "x.md", "not valid YAML"),
        ("---\nslug: other\ntitle: T\n---\nbody\n", "x.md", "differs from the file name"),
        ("---\nslug: x\n---\nbody\n", "x.md", "no title"),
        ("---\nslug: x\ntitle: T\n---\n\n", "x.md", "body is empty"),
    ],
)
def test_invalid_files_are_the_authors_failure(text: str, name: str, message: str) -> None:
    with pytest.raises(KbDocumentError, match=message):
        parse_document(text, kind="article", path=Path(name))
