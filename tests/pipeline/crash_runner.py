"""Run one intake in a subprocess and SIGKILL ourselves at a chosen point (used by test_crash_recovery).

usage: python -m tests.pipeline.crash_runner DATABASE_URL MAIL_DIR POINT N
POINT is one of: none, store (after the Nth message is stored and committed), ticket (inside the
Nth ticket's transaction, after its row is written, before commit), event (inside the transaction,
at the Nth event insert), processed (after the Nth message's processing committed).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import psycopg

from backend.mail.sources import EmlFolderSource
from backend.pipeline import process, store, tickets
from backend.pipeline.process import PipelineConfig
from backend.pipeline.run import run_intake
from backend.policy.model import load_policy
from tests.pipeline.fakes import MarkerClassifier


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_on_call(module: Any, name: str, nth: int, *, after: bool) -> None:
    original = getattr(module, name)
    calls = {"count": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["count"] += 1
        if not after and calls["count"] == nth:
            _die()
        result = original(*args, **kwargs)
        if after and calls["count"] == nth:
            _die()
        return result

    setattr(module, name, wrapper)


def main() -> None:
    url, mail_dir, point, nth = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    if point == "store":
        _kill_on_call(store, "store_message", nth, after=True)
    elif point == "ticket":
        _kill_on_call(tickets, "_insert_ticket", nth, after=True)
    elif point == "event":
        _kill_on_call(tickets, "_event", nth, after=False)
    elif point == "processed":
        _kill_on_call(process, "process_message", nth, after=True)
    elif point != "none":
        raise SystemExit(f"unknown crash point {point}")
    config = PipelineConfig(load_policy(), MarkerClassifier(), own_addresses=frozenset({"support@pam.example"}))
    with psycopg.connect(url, autocommit=True) as conn:
        report = run_intake(conn, EmlFolderSource(mail_dir), "crash-test", config)
    print(f"done processed={report.process.processed}")


if __name__ == "__main__":
    main()
