"""FolderSender: the demo's and dry runs' channel writes the exact bytes, once, inside its folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.sending.config import SendingConfigError, SendingSettings, sender_from_env
from backend.sending.message import OutgoingMessage
from backend.sending.senders import FolderSender, SendError
from tests.sending.conftest import sample_message


def _message(message_id: str) -> OutgoingMessage:
    return sample_message(thread=None, message_id=message_id)


def test_writes_the_exact_bytes_and_finds_them_again(tmp_path: Path) -> None:
    sender = FolderSender(tmp_path / "sent")
    message = _message("<m1@pam.example>")
    assert sender.find_sent(message.message_id) is None
    receipt = sender.send(message)
    files = list((tmp_path / "sent").iterdir())
    assert [f.name for f in files] == ["m1@pam.example.eml"]
    assert files[0].read_bytes() == message.raw
    assert receipt.provider_message_id == "m1@pam.example.eml"
    assert sender.find_sent(message.message_id) == receipt


def test_a_hostile_message_id_stays_inside_the_folder(tmp_path: Path) -> None:
    sender = FolderSender(tmp_path / "sent")
    sender.send(_message("<../../etc/passwd@x>"))
    written = list((tmp_path / "sent").iterdir())
    assert len(written) == 1 and written[0].parent == tmp_path / "sent"
    assert "/" not in written[0].name and not written[0].name.startswith("..")


def test_an_unwritable_folder_is_a_retryable_not_sent(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SendError) as raised:
        FolderSender(blocker / "sent").send(_message("<m2@pam.example>"))
    assert raised.value.outcome == "not_sent" and raised.value.retryable


def test_the_folder_channel_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIER0_REPLY_CHANNEL", "folder")
    monkeypatch.delenv("TIER0_REPLY_FOLDER", raising=False)
    with pytest.raises(SendingConfigError, match="TIER0_REPLY_FOLDER"):
        sender_from_env(SendingSettings(_env_file=None))  # type: ignore[call-arg]
    monkeypatch.setenv("TIER0_REPLY_FOLDER", str(tmp_path))
    sender = sender_from_env(SendingSettings(_env_file=None))  # type: ignore[call-arg]
    assert isinstance(sender, FolderSender) and sender.folder == tmp_path
