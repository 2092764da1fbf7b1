"""KB test fixtures: a small copy of the demo KB (fast to embed), a deterministic fake embedder
for storage tests, the real embedder for ranking tests, and a ticket factory."""

from __future__ import annotations

import hashlib
import itertools
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from backend.kb.embedder import EMBEDDING_DIM, Embedder, load_embedder
from backend.paths import SAMPLE_DATA_DIR

DEMO_KB = SAMPLE_DATA_DIR / "kb"

# Close neighbours on purpose (see ../shared/data/kb/README.md), so ranking has to discriminate.
MINI_ARTICLES = [
    "missing-appointments-tekion",
    "missing-appointments-cdk",
    "duplicate-appointments",
    "mykaarma-integration-setup",
    "xtime-integration-setup",
    "reset-password",
    "two-factor-authentication",
    "single-sign-on",
    "business-hours",
    "holiday-schedules",
    "export-conversation-reports",
    "scheduled-email-reports",
]
MINI_RUNBOOKS = ["account-lockout"]


class HashingEmbedder:
    """Deterministic stand-in for storage tests: words hashed into a unit vector (no model)."""

    name = "test-hashing"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * EMBEDDING_DIM
            for word in text.lower().split():
                vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % EMBEDDING_DIM] += 1.0
            norm = sum(value * value for value in vector) ** 0.5 or 1.0
            vectors.append([value / norm for value in vector])
        return vectors


@pytest.fixture(scope="session")
def _embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kb-embeddings")


@pytest.fixture(autouse=True)
def _isolated_embedding_cache(monkeypatch: pytest.MonkeyPatch, _embedding_cache: Path) -> None:
    """Imports cache vectors in a folder of this test session, not in the user's data folder."""
    monkeypatch.setattr("backend.kb.importer.default_cache_dir", lambda: _embedding_cache)


@pytest.fixture
def mini_kb(tmp_path: Path) -> Path:
    """A writable copy of a dozen demo articles and one runbook (tests edit it)."""
    root = tmp_path / "kb"
    (root / "articles").mkdir(parents=True)
    (root / "runbooks").mkdir()
    for slug in MINI_ARTICLES:
        shutil.copy(DEMO_KB / "articles" / f"{slug}.md", root / "articles" / f"{slug}.md")
    for slug in MINI_RUNBOOKS:
        shutil.copy(DEMO_KB / "runbooks" / f"{slug}.md", root / "runbooks" / f"{slug}.md")
    return root


@pytest.fixture
def hashing_embedder() -> Embedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    loaded = load_embedder()
    if loaded is None:
        pytest.skip("the sentence embedder cannot load here (model package missing)")
    return loaded


_sequence = itertools.count(1)

TicketFactory = Callable[..., int]


def insert_ticket(
    conn: psycopg.Connection,
    request_text: str,
    *,
    tier: int = 0,
    category: str = "how_to",
    product_area: str = "dashboard",
    integration: str | None = None,
    contact_name: str | None = "Dana Reyes",
) -> int:
    """Insert a ticket (with the message and conversation it needs); returns its ticket_id."""
    number = next(_sequence)
    contact_id = None
    if contact_name is not None:
        row = conn.execute(
            "insert into contacts (email, display_name) values (%s, %s) returning contact_id",
            (f"contact{number}-{uuid.uuid4().hex[:8]}@dealer.example", contact_name),
        ).fetchone()
        assert row is not None
        contact_id = row[0]
    row = conn.execute(
        """
        insert into conversations (subject, created_at, last_message_at)
        values ('Question', now(), now()) returning conversation_id
        """
    ).fetchone()
    assert row is not None
    conversation_id = row[0]
    raw = f"Subject: Question\r\n\r\n{request_text}\r\n".encode()
    row = conn.execute(
        """
        insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, conversation_id)
        values ('support@pam.example', %s, %s, %s, %s, %s) returning message_pk
        """,
        (f"kb-test-{number}-{uuid.uuid4().hex[:8]}", raw, hashlib.sha256(raw).hexdigest(), len(raw),
         conversation_id),
    ).fetchone()
    assert row is not None
    message_pk = row[0]
    row = conn.execute(
        """
        insert into tickets (conversation_id, message_pk, request_index, contact_id, summary, request_text,
                             category, product_area, integration, priority, tier, route, classifier,
                             model_version, created_at)
        values (%s, %s, 0, %s, %s, %s, %s, %s, %s, 'P3', %s, 'tier0', 'test', 'test', now())
        returning ticket_id
        """,
        (conversation_id, message_pk, contact_id, request_text[:80], request_text, category, product_area,
         integration, tier),
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def make_ticket(db: psycopg.Connection) -> TicketFactory:
    def make(request_text: str, **options: Any) -> int:
        return insert_ticket(db, request_text, **options)

    return make
