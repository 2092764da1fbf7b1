"""The CLI contracts acceptance checks call, run as a user runs them (a subprocess of .venv/bin/tier0)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from backend.db.schema import upgrade_database
from backend.paths import REPO_ROOT

DEMO = REPO_ROOT / "data" / "demo-mailbox"
KINDS = {"request", "followup", "followup_new", "auto_reply", "bounce", "newsletter", "spam", "thanks"}
ROUTES = {"ai", "ops", "support-eng-core", "support-eng-integrations", "product-eng"}


def tier0(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})}, check=False,
    )


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_triage_json_one_object_per_email_in_input_order(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    mail.mkdir()
    # A request, its follow-up, a thanks, a three-request email, a newsletter, an auto-reply, a bounce.
    picked = ["0001.eml", "0002.eml", "0003.eml", "0012.eml", "0013.eml", "0026.eml", "0038.eml"]
    for name in picked:
        shutil.copy(DEMO / "mail" / name, mail / name)
    (mail / "0099.eml").write_bytes(b"\x00\x01 not an email")
    result = tier0("triage", str(mail), "--accounts", str(DEMO / "accounts.csv"), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json_lines(result.stdout)
    assert [row["file"] for row in rows] == [*picked, "0099.eml"]
    for row in rows[:-1]:
        assert set(row) == {"file", "message_id", "kind", "followup_of", "tickets"}
        assert row["kind"] in KINDS
        for ticket in row["tickets"]:  # type: ignore[attr-defined]
            assert set(ticket) == {"category", "product_area", "priority", "tier", "route", "integration", "summary"}
            assert ticket["route"] in ROUTES and ticket["priority"] in {"P1", "P2", "P3", "P4"}
            assert ticket["tier"] in {0, 1, 2, 3}
            assert ticket["integration"] in {None, "tekion", "cdk", "xtime", "mykaarma"}
    assert rows[1]["kind"] in {"followup", "followup_new"} and rows[1]["followup_of"] == rows[0]["message_id"]
    assert [row["kind"] for row in rows[4:7]] == ["newsletter", "auto_reply", "bounce"]
    assert all(row["tickets"] == [] for row in rows[4:7])
    assert len(rows[3]["tickets"]) >= 2  # type: ignore[arg-type]
    assert rows[-1]["error"] and rows[-1]["tickets"] == []


def test_triage_reports_a_bad_path_clearly(tmp_path: Path) -> None:
    result = tier0("triage", str(tmp_path / "missing"), "--json")
    assert result.returncode == 1
    assert "no such folder or mbox file" in result.stderr


def test_triage_of_an_empty_folder_says_so(tmp_path: Path) -> None:
    result = tier0("triage", str(tmp_path), "--json")
    assert (result.returncode, result.stdout) == (0, "")
    assert f"no emails in {tmp_path}" in result.stderr


def test_parse_json(tmp_path: Path) -> None:
    body = tmp_path / "reply.txt"
    body.write_text("Thanks, that fixed it.\n\nOn Mon, Oct 5, 2026 at 9:00 AM Pam Support wrote:\n> Try again\n")
    result = tier0("parse", str(body), "--json")
    assert result.returncode == 0, result.stderr
    [row] = json_lines(result.stdout)
    assert set(row) >= {"file", "kind", "reply_text", "signature", "quoted_text", "attachments", "language"}
    assert row["reply_text"] == "Thanks, that fixed it."
    assert "Try again" in str(row["quoted_text"])


def test_sla_due_json() -> None:
    result = tier0("sla", "due", "--priority", "P3", "--created", "2026-11-25T16:30:00-06:00",
                   "--timezone", "America/Chicago", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "first_response_due": "2026-11-27T10:30:00-06:00",
        "resolution_due": "2026-12-01T11:30:00-06:00",
    }
    bad = tier0("sla", "due", "--priority", "P9", "--created", "2026-11-25T16:30:00-06:00", "--json")
    assert bad.returncode == 2


def test_metabase_dry_run_json() -> None:
    result = tier0("metabase", "sync", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    assert {row["path"] for row in rows if row["method"] == "POST"} >= {"/api/card/", "/api/dashboard/"}
    assert all(set(row) >= {"method", "path", "body"} for row in rows)


def test_kb_search_json_imports_the_demo_kb_into_an_empty_database(empty_database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        upgrade_database(conn)
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        json.dumps({"query": "How do I change the hours Pam tells callers?"}) + "\n"
        + json.dumps({"query": "What is the capital of Mongolia?"}) + "\n"
    )
    result = tier0("kb", "search", "--queries", str(queries), "--json",
                   env={"DATABASE_URL": empty_database_url, "TIER0_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json_lines(result.stdout)
    assert [set(row) for row in rows] == [{"query", "answerable", "results"}] * 2
    assert rows[0]["answerable"] is True and rows[0]["results"][0]["slug"] == "business-hours"  # type: ignore[index]
    assert rows[1]["answerable"] is False
    assert all(len(row["results"]) <= 5 for row in rows)  # type: ignore[arg-type]


@pytest.mark.parametrize("args", [["eval", "intents", "--train", "nope.csv", "--test", "nope.csv", "--json"]])
def test_eval_intents_missing_file_is_a_clear_error(args: list[str]) -> None:
    result = tier0(*args)
    assert result.returncode == 2 and "no such file: nope.csv" in result.stderr


def test_kb_search_bad_queries_line_and_incident_commands(empty_database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        upgrade_database(conn)
    env = {"DATABASE_URL": empty_database_url, "TIER0_DATA_DIR": str(tmp_path / "data")}
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"query": "hours"}) + "\n{not json\n")
    result = tier0("kb", "search", "--queries", str(queries), "--json", env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert f"{queries}:2: not JSON" in result.stderr and "Traceback" not in result.stderr

    result = tier0("kb", "incident", "open", "--area", "dashbord", "--title", "x", "--message", "y", env=env)
    assert result.returncode == 2 and "unknown product area 'dashbord'" in result.stdout
    result = tier0("kb", "incident", "open", "--area", "integrations", "--integration", "cdk",
                   "--title", "CDK write failures", "--message", "CDK is rejecting writes; we are on it.", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[integrations/cdk] 'CDK write failures': open" in result.stdout
    incident_id = result.stdout.split()[1]
    listed = tier0("kb", "incident", "list", env=env)
    assert f"incident {incident_id} [integrations/cdk]" in listed.stdout and "0 tickets linked" in listed.stdout
    assert tier0("kb", "incident", "close", incident_id, env=env).returncode == 0
    assert tier0("kb", "incident", "list", env=env).stdout.strip() == "no open incidents"
    again = tier0("kb", "incident", "close", incident_id, env=env)
    assert again.returncode == 1 and f"no open incident {incident_id}" in again.stdout


def test_users_add_prints_a_token_that_the_store_accepts(empty_database_url: str, tmp_path: Path) -> None:
    from backend.users.store import authenticate

    env = {"DATABASE_URL": empty_database_url, "TIER0_DATA_DIR": str(tmp_path / "data")}
    added = tier0("users", "add", "maria", "--role", "lead", env=env)
    assert added.returncode == 0, added.stderr[-3000:]
    assert added.stdout.splitlines()[0] == "user maria (lead) created. Bearer token (shown once, keep it secret):"
    token = added.stdout.splitlines()[1]
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        user = authenticate(conn, token)
        assert user is not None and (user.name, user.role) == ("maria", "lead")
    again = tier0("users", "add", "maria", env=env)
    assert again.returncode == 2 and "maria" in again.stderr
    bad_role = tier0("users", "add", "nico", "--role", "root", env=env)
    assert bad_role.returncode == 2 and "root" in bad_role.stderr
    listed = tier0("users", "list", env=env).stdout
    assert "maria" in listed and "lead" in listed and "1 token(s)" in listed
    assert tier0("users", "revoke", "maria", env=env).stdout.strip() == "revoked 1 token(s) of maria"
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert authenticate(conn, token) is None
