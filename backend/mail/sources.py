"""Where raw email comes from. Every source yields `SourceMessage`s: raw RFC 5322 bytes plus the
source's own id, which (with the mailbox name) makes storing a message idempotent.

Local sources: a folder of `.eml` files (file-name order) and an mbox file. The Gmail source
lives in backend/mail/gmail.py and yields the same type.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SourceMessage:
    source_id: str  # stable per mailbox: file name, mbox ordinal + digest, Gmail message id
    raw: bytes
    thread_hint: str | None = None  # e.g. the Gmail thread id: a threading hint, never proof
    label: str | None = None  # a human-readable name for reports (the file name)
    source_received_at: datetime | None = None  # when the mailbox received it, if the source knows


class MailSource(Protocol):
    name: str

    def iter_messages(self) -> Iterator[SourceMessage]: ...


class SourceError(Exception):
    """Our side: the source cannot be read at all (missing folder, unreadable file)."""


@dataclass
class EmlFolderSource:
    """Every `*.eml` file in a folder, in file-name order. The file name is the source id."""

    folder: Path
    name: str = "eml-folder"

    def iter_messages(self) -> Iterator[SourceMessage]:
        if not self.folder.is_dir():
            raise SourceError(f"not a folder of .eml files: {self.folder}")
        for path in sorted(self.folder.glob("*.eml")):
            yield SourceMessage(source_id=path.name, raw=path.read_bytes(), label=path.name)


@dataclass
class MboxSource:
    """Every message of an mbox file, in file order. Source id: ordinal plus a digest of the bytes,
    so a re-read of the same file maps to the same ids and an edited file does not alias."""

    path: Path
    name: str = "mbox"

    def iter_messages(self) -> Iterator[SourceMessage]:
        import hashlib

        if not self.path.is_file():
            raise SourceError(f"not an mbox file: {self.path}")
        box = mailbox.mbox(self.path, create=False)
        try:
            for ordinal, key in enumerate(box.iterkeys(), start=1):
                raw = box.get_bytes(key, from_=False)
                digest = hashlib.sha256(raw).hexdigest()[:16]
                yield SourceMessage(
                    source_id=f"{self.path.name}:{ordinal:06d}:{digest}", raw=raw, label=f"{self.path.name}#{ordinal}"
                )
        finally:
            box.close()


def source_for_path(path: Path) -> MailSource:
    """A folder is read as `.eml` files, a file as an mbox."""
    if path.is_dir():
        return EmlFolderSource(path)
    if path.is_file():
        return MboxSource(path)
    raise SourceError(f"no such folder or mbox file: {path}")
