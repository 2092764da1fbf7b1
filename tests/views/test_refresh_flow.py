"""The refresh flow's task body and its retry rule (the flow itself only orchestrates)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

import flows.refresh_marts as flow_module
from backend.marts.refresh import RefreshError
from tests.views.handmade import write_history


class _State:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def result(self, raise_on_failure: bool = True) -> Any:
        return self.error


def test_refresh_task_refreshes_through_the_flow_connection(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_history(db)

    @contextmanager
    def connect(autocommit: bool = False):  # type: ignore[no-untyped-def]
        yield db

    monkeypatch.setattr(flow_module, "connect", connect)
    result = flow_module.refresh.fn("full")
    assert result["mode"] == "full" and result["row_counts"]["rollup_ticket_facts"] == 8
    assert result["skipped_timezones"] == []


def test_only_passing_trouble_is_retried() -> None:
    assert flow_module._worth_retrying(None, None, _State(psycopg.OperationalError("connection lost")))
    assert not flow_module._worth_retrying(None, None, _State(RefreshError("rollup_x lacks columns")))
