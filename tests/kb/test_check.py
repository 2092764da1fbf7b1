import json
from pathlib import Path

import psycopg
import pytest

from backend.kb.check import GoldenFileError, kb_check
from backend.kb.embedder import Embedder
from backend.kb.importer import import_kb

GOLDEN = [
    {"question": "My advisors can't find Pam's bookings in Tekion even though it says synced", "slug": "missing-appointments-tekion"},
    {"question": "The same customer appears twice on Thursday's schedule after a reschedule", "slug": "duplicate-appointments"},
    {"question": "Can I get a CSV of every conversation from last month?", "slug": "export-conversation-reports"},
    {"question": "We use Okta, can staff sign in with single sign-on?", "slug": "single-sign-on"},
]


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    path = tmp_path / "golden.jsonl"
    path.write_text("".join(json.dumps(case) + "\n" for case in GOLDEN))
    return path


def test_check_passes_when_every_answer_is_in_the_top_3(
    db: psycopg.Connection, mini_kb: Path, embedder: Embedder, golden: Path
) -> None:
    import_kb(db, mini_kb, embedder=embedder)
    result = kb_check(db, golden, embedder=embedder)
    assert result.passed, [failure.describe() for failure in result.failures]
    assert result.total == 4


def test_editing_an_article_so_it_no_longer_matches_fails_the_check(
    db: psycopg.Connection, mini_kb: Path, embedder: Embedder, golden: Path
) -> None:
    import_kb(db, mini_kb, embedder=embedder)
    # Rewrite single-sign-on into a page about something else entirely (same slug).
    (mini_kb / "articles" / "single-sign-on.md").write_text(
        "---\nslug: single-sign-on\ntitle: Parking at our office\ntags: [parking, visitors]\n---\n\n"
        "Visitors park in the garage on Elm Street. Take a ticket at the gate and bring it to reception.\n"
    )
    assert import_kb(db, mini_kb, embedder=embedder).updated == ["single-sign-on"]
    result = kb_check(db, golden, embedder=embedder)
    assert not result.passed
    assert [(failure.expected, failure.line) for failure in result.failures] == [("single-sign-on", 4)]
    assert "single-sign-on" in result.failures[0].describe()


def test_golden_naming_an_unknown_article_is_an_error(db: psycopg.Connection, mini_kb: Path, tmp_path: Path) -> None:
    import_kb(db, mini_kb, embedder=None)
    path = tmp_path / "golden.jsonl"
    path.write_text(json.dumps({"question": "Where is dark mode?", "slug": "dark-mode"}) + "\n")
    with pytest.raises(GoldenFileError, match="dark-mode"):
        kb_check(db, path, embedder=None)


def test_demo_golden_file_covers_every_demo_article() -> None:
    from backend.paths import SAMPLE_DATA_DIR

    golden = [json.loads(line) for line in (SAMPLE_DATA_DIR / "kb" / "golden.jsonl").read_text().splitlines()]
    articles = {path.stem for path in (SAMPLE_DATA_DIR / "kb" / "articles").glob("*.md")}
    assert {case["slug"] for case in golden} == articles


def test_demo_golden_questions_differ_from_the_dev_queries(shared_dir: Path) -> None:
    from backend.paths import SAMPLE_DATA_DIR

    dev = shared_dir / "data" / "kb" / "queries-dev.jsonl"
    dev_queries = {json.loads(line)["query"].strip().lower() for line in dev.read_text().splitlines() if line.strip()}
    golden = [json.loads(line)["question"].strip().lower()
              for line in (SAMPLE_DATA_DIR / "kb" / "golden.jsonl").read_text().splitlines()]
    assert not dev_queries & set(golden)


@pytest.mark.slow
def test_demo_kb_passes_its_golden_check(db: psycopg.Connection, embedder: Embedder) -> None:
    """The whole demo KB (about a minute to embed on a cold cache): `tier0 kb check` must pass."""
    from backend.paths import SAMPLE_DATA_DIR

    import_kb(db, SAMPLE_DATA_DIR / "kb", embedder=embedder)
    result = kb_check(db, SAMPLE_DATA_DIR / "kb" / "golden.jsonl", embedder=embedder)
    assert result.passed, [failure.describe() for failure in result.failures]


def test_check_command_exits_non_zero_with_the_list(
    db: psycopg.Connection, mini_kb: Path, embedder: Embedder, golden: Path
) -> None:
    from backend.kb.commands import kb_check_command

    import_kb(db, mini_kb, embedder=embedder)
    lines: list[str] = []
    assert kb_check_command(db, golden, echo=lines.append) == 0
    assert lines == ["4/4 golden questions find their article in the top 3"]
    (mini_kb / "articles" / "single-sign-on.md").write_text(
        "---\nslug: single-sign-on\ntitle: Office plants\n---\n\nWater the ferns on Fridays and the cactus monthly.\n"
    )
    import_kb(db, mini_kb, embedder=embedder)
    lines.clear()
    assert kb_check_command(db, golden, echo=lines.append) == 1
    assert lines[0] == "3/4 golden questions find their article in the top 3"
    assert lines[1].startswith("FAIL line 4: 'single-sign-on' not in top 3")
