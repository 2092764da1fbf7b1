"""The Prefect flow runs the same backend functions as `tier0 ingest`, against real Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from backend.db.schema import upgrade_database
from backend.pipeline import setup as pipeline_setup
from backend.policy.model import Policy
from backend.settings import get_settings
from tests.pipeline.fakes import MarkerClassifier, make_email


@pytest.fixture
def flow_database(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        upgrade_database(conn)
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    get_settings.cache_clear()
    yield empty_database_url
    get_settings.cache_clear()


def test_flow_ingests_a_folder_and_rerun_is_a_no_op(
    prefect_harness: None, flow_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.ingest_mail as flow_module

    def marker_classifier(policy: Policy, **_: object) -> MarkerClassifier:
        return MarkerClassifier()

    monkeypatch.setattr(pipeline_setup, "default_classifier", marker_classifier)
    when = datetime(2026, 10, 5, 15, 0, tzinfo=UTC)
    (tmp_path / "0001.eml").write_bytes(make_email(sender="a@shop.example", subject="Help", body="[how_to/dashboard]",
                                                   message_id="<1@shop.example>", date=when))
    (tmp_path / "0002.eml").write_bytes(make_email(sender="b@shop.example", subject="Out", body="Away until Monday",
                                                   message_id="<2@shop.example>", date=when,
                                                   headers={"Auto-Submitted": "auto-replied"}))
    first = flow_module.ingest_mail(str(tmp_path), mailbox="flow-test", prefer_local=True)
    assert first["stored"] == {"seen": 2, "stored": 2, "already_stored": 0}
    assert first["processed"]["outcomes"] == {"tickets_created": 1, "automated": 1}
    second = flow_module.ingest_mail(str(tmp_path), mailbox="flow-test", prefer_local=True)
    assert second["stored"] == {"seen": 2, "stored": 0, "already_stored": 2}
    assert second["processed"]["processed"] == 0
    with psycopg.connect(flow_database) as conn:
        assert conn.execute("select outcome, count(*) from fct_messages group by 1 order by 1").fetchall() == [
            ("automated", 1), ("tickets_created", 1)
        ]


def test_flow_fails_loudly_on_internal_errors(
    prefect_harness: None, flow_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.ingest_mail as flow_module

    def broken_classifier(policy: Policy, **_: object) -> MarkerClassifier:
        return MarkerClassifier(fail_with=RuntimeError("model missing"))

    monkeypatch.setattr(pipeline_setup, "default_classifier", broken_classifier)
    (tmp_path / "0001.eml").write_bytes(make_email(sender="a@shop.example", subject="Help", body="[how_to/dashboard]",
                                                   message_id="<1@shop.example>", date=datetime.now(UTC)))
    with pytest.raises(flow_module.IngestFailed, match="1 email\\(s\\) failed with an internal error"):
        flow_module.ingest_mail(str(tmp_path), mailbox="flow-test", prefer_local=True)
