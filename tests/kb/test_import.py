from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest

from backend.kb.embedder import Embedder
from backend.kb.importer import import_kb


def _count(db: psycopg.Connection, table: str) -> int:
    row = db.execute(f"select count(*) from {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_first_import_creates_articles_runbooks_passages_and_vectors(
    db: psycopg.Connection, mini_kb: Path, hashing_embedder: Embedder
) -> None:
    result = import_kb(db, mini_kb, embedder=hashing_embedder)
    assert result.errors == []
    assert len(result.created) == 13 and result.updated == [] and result.unchanged == []
    kinds: dict[str, str] = dict(db.execute("select slug, kind from kb_articles").fetchall())
    assert kinds["account-lockout"] == "runbook" and kinds["reset-password"] == "article"
    row = db.execute(
        """
        select version, title, tags, product_area, audience, url, embedding is not null, embedding_model,
               search_vector @@ websearch_to_tsquery('english', 'backup codes')
        from kb_article_versions where slug = 'two-factor-authentication'
        """
    ).fetchone()
    assert row == (
        1, "Two-factor authentication (2FA)",
        ["2fa", "two-factor", "authenticator", "backup codes", "security", "lost phone"],
        "dashboard", "customer", "https://help.pam.example/articles/two-factor-authentication", True,
        "test-hashing", True,
    )
    missing = db.execute("select count(*) from kb_passages where embedding is null").fetchone()
    assert missing == (0,)
    assert _count(db, "kb_passages") > 13 * 5
    assert db.execute("select 1 from kb_terms where term = 'fortellis'").fetchone() == (1,)


def test_identical_reimport_is_a_no_op(db: psycopg.Connection, mini_kb: Path) -> None:
    import_kb(db, mini_kb, embedder=None)
    before = (_count(db, "kb_article_versions"), _count(db, "kb_passages"))
    again = import_kb(db, mini_kb, embedder=None)
    assert again.created == [] and again.updated == [] and len(again.unchanged) == 13
    assert again.not_in_source == []
    assert (_count(db, "kb_article_versions"), _count(db, "kb_passages")) == before


def test_an_edit_adds_a_version_and_keeps_the_old_one(db: psycopg.Connection, mini_kb: Path) -> None:
    import_kb(db, mini_kb, embedder=None)
    path = mini_kb / "articles" / "reset-password.md"
    path.write_text(path.read_text().replace("valid for 60 minutes", "valid for 30 minutes"))
    result = import_kb(db, mini_kb, embedder=None)
    assert result.updated == ["reset-password"] and result.created == []
    assert db.execute("select current_version from kb_articles where slug = 'reset-password'").fetchone() == (2,)
    bodies: dict[int, str] = dict(db.execute("select version, body from kb_article_versions where slug = 'reset-password'").fetchall())
    assert "60 minutes" in bodies[1] and "30 minutes" in bodies[2]
    # Restoring the first text is an edit too: a third version, not a return to version 1.
    path.write_text(path.read_text().replace("valid for 30 minutes", "valid for 60 minutes"))
    assert import_kb(db, mini_kb, embedder=None).updated == ["reset-password"]
    assert db.execute("select current_version from kb_articles where slug = 'reset-password'").fetchone() == (3,)


def test_a_bad_file_is_recorded_and_the_others_are_imported(db: psycopg.Connection, mini_kb: Path) -> None:
    (mini_kb / "articles" / "broken.md").write_text("no front matter here\n")
    (mini_kb / "articles" / "renamed.md").write_text("---\nslug: reset-password\ntitle: Copy\n---\nBody text.\n")
    result = import_kb(db, mini_kb, embedder=None)
    assert len(result.created) == 13
    assert len(result.errors) == 2
    assert any("broken.md" in error and "front matter" in error for error in result.errors)
    assert any("renamed.md" in error and "differs from the file name" in error for error in result.errors)


def test_a_file_missing_from_the_folder_is_reported_not_deleted(db: psycopg.Connection, mini_kb: Path) -> None:
    import_kb(db, mini_kb, embedder=None)
    (mini_kb / "articles" / "holiday-schedules.md").unlink()
    result = import_kb(db, mini_kb, embedder=None)
    assert result.not_in_source == ["holiday-schedules"]
    assert db.execute("select current_version from kb_articles where slug = 'holiday-schedules'").fetchone() == (1,)


def test_vectors_are_cached_by_text_across_imports(tmp_path: Path, hashing_embedder: Embedder) -> None:
    from backend.kb.embedder import embed_cached

    calls: list[list[str]] = []

    class Counting:
        name = "counting"

        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            calls.append(list(texts))
            return hashing_embedder.embed(texts)

    cache = tmp_path / "cache"
    first = embed_cached(Counting(), ["alpha beta", "gamma"], cache)
    again = embed_cached(Counting(), ["gamma", "alpha beta", "delta"], cache)
    assert calls == [["alpha beta", "gamma"], ["delta"]]
    assert again[0] == first[1] and again[1] == first[0]
    expected = hashing_embedder.embed(["gamma", "alpha beta", "delta"])
    assert all(got == pytest.approx(want, abs=1e-6) for got, want in zip(again, expected, strict=True))
