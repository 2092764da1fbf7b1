"""The `tier0 parse PATH --json` contract: one dict per file, in file-name order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from backend.mail.parse_command import parse_path
from tests.mail.conftest import EML, HERE

KEYS = {"file", "kind", "reply_text", "signature", "quoted_text", "attachments", "language"}


def test_eml_file() -> None:
    [row] = list(parse_path(EML / "attachments_inline_and_named.eml"))
    assert set(row) == KEYS
    assert row["kind"] == "request"
    assert row["reply_text"] == "See the screenshot below and the attached report."
    assert row["language"] == "en"
    assert row["attachments"][1] == {
        "filename": "Rapport février.pdf",
        "content_type": "application/pdf",
        "size": 113,
        "inline": False,
    }
    json.dumps(row)  # the CLI prints it as JSON


def test_txt_body_is_split() -> None:
    [row] = list(parse_path(HERE / "bodies" / "outlook_reply.txt"))
    assert row["kind"] == "request"
    assert row["reply_text"].startswith("The Saturday hours are wrong again")
    assert "Done, Pam now says" in row["quoted_text"]
    assert row["attachments"] == []


def test_html_body_content_rules_apply() -> None:
    [row] = list(parse_path(HERE / "bodies" / "vacation.html"))
    assert row["kind"] == "auto_reply"


def test_folder_in_file_name_order_with_failures_recorded(tmp_path: Path) -> None:
    shutil.copy(EML / "html_only.eml", tmp_path / "b.eml")
    shutil.copy(HERE / "bodies" / "outlook_reply.txt", tmp_path / "a.txt")
    (tmp_path / "c.eml").write_bytes(b"\x00\x01binary")
    (tmp_path / "notes.md").write_text("not a mail file")
    (tmp_path / ".hidden.eml").write_text("From: x@example.com\n\nhidden")
    rows = list(parse_path(tmp_path))
    assert [Path(r["file"]).name for r in rows] == ["a.txt", "b.eml", "c.eml"]
    assert rows[2]["kind"] == "failed"
    assert "binary" in rows[2]["error"]
    assert set(rows[1]) == KEYS


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(parse_path(tmp_path / "nope.eml"))
