"""Killing the intake (SIGKILL) at any point and running it again loses nothing and duplicates
nothing: the final database equals the one an uninterrupted run produces."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from backend.db.schema import upgrade_database
from backend.paths import REPO_ROOT
from tests.pipeline.fakes import make_email

START = datetime(2026, 10, 5, 14, 0, tzinfo=UTC)


def write_mailbox(folder: Path) -> None:
    folder.mkdir()
    emails = [
        ("a@one.example", "Help 1", "[how_to/dashboard]\n[bug/mobile]", "<1@one.example>", None),
        ("b@two.example", "Help 2", "[outage/telephony]", "<2@two.example>", None),
        ("a@one.example", "RE: Help 1", "any news?", "<3@one.example>", "<1@one.example>"),
        ("c@three.example", "Hours", "[config_change/pam_core]\n[billing/billing]", "<4@three.example>", None),
        ("b@two.example", "RE: Help 2", "Also [account_access/dashboard]", "<5@two.example>", "<2@two.example>"),
        ("d@four.example", "Auto", "away", "<6@four.example>", None),
        ("c@three.example", "RE: Hours", "Thanks!", "<7@three.example>", "<4@three.example>"),
        ("e@five.example", "New", "[integration_issue/integrations]", "<8@five.example>", None),
    ]
    for index, (sender, subject, body, message_id, parent) in enumerate(emails, start=1):
        headers = {"Auto-Submitted": "auto-replied"} if subject == "Auto" else None
        raw = make_email(
            sender=sender,
            subject=subject,
            body=body,
            message_id=message_id,
            date=START + timedelta(hours=index),
            in_reply_to=parent,
            references=[parent] if parent else None,
            headers=headers,
        )
        (folder / f"{index:04d}.eml").write_bytes(raw)
    (folder / "0009.eml").write_bytes(b"\x00\x01 garbage")


def run(url: str, mail_dir: Path, point: str = "none", nth: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.pipeline.crash_runner", url, str(mail_dir), point, str(nth)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def snapshot(url: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        return {
            "messages": conn.execute(
                "select source_id, kind, outcome, followup_of from messages order by source_id"
            ).fetchall(),
            "tickets": conn.execute(
                """select source_id, request_index, category, product_area, priority, tier, route
                   from tickets join messages using (message_pk) order by source_id, request_index"""
            ).fetchall(),
            "events": conn.execute(
                """select source_id, request_index, event_type, count(*)
                   from ticket_events join tickets using (ticket_id) join messages on messages.message_pk = tickets.message_pk
                   group by 1, 2, 3 order by 1, 2, 3"""
            ).fetchall(),
            "outbox": conn.execute(
                """select source_id, request_index, outbox.kind from outbox join tickets using (ticket_id)
                   join messages using (message_pk) order by 1, 2, 3"""
            ).fetchall(),
            "conversations": conn.execute("select count(*) from conversations").fetchone(),
        }


@pytest.fixture
def fresh_url(empty_database_url: str) -> str:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        upgrade_database(conn)
    return empty_database_url


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash") / "mail"
    write_mailbox(folder)
    return folder


@pytest.fixture(scope="module")
def reference(mailbox: Path, postgres_url: str) -> dict[str, object]:
    name = "crash_reference"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    base, _, query = postgres_url.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    with psycopg.connect(url, autocommit=True) as conn:
        upgrade_database(conn)
    result = run(url, mailbox)
    assert result.returncode == 0, result.stderr
    return snapshot(url)


def test_reference_run_has_every_outcome(reference: dict[str, object]) -> None:
    outcomes = {row[0]: row[2] for row in reference["messages"]}  # type: ignore[attr-defined]
    assert len(outcomes) == 9 and None not in outcomes.values()
    assert outcomes["0006.eml"] == "automated" and outcomes["0009.eml"] == "failed"


@pytest.mark.parametrize(
    ("point", "nth"),
    [
        ("store", 1),
        ("store", 5),
        ("ticket", 1),
        ("ticket", 4),
        ("event", 2),
        ("event", 11),
        ("processed", 3),
        ("processed", 8),
    ],
)
def test_sigkill_then_rerun_equals_uninterrupted_run(
    point: str, nth: int, mailbox: Path, fresh_url: str, reference: dict[str, object]
) -> None:
    crashed = run(fresh_url, mailbox, point, nth)
    assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr[-2000:])
    assert "done" not in crashed.stdout
    rerun = run(fresh_url, mailbox)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert snapshot(fresh_url) == reference
    # A third run changes nothing at all.
    assert run(fresh_url, mailbox).returncode == 0
    assert snapshot(fresh_url) == reference
