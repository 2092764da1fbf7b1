"""Fixtures for the Retool export's contract tests: the export as committed, the approval API's
OpenAPI document, and (imported from tests/api) a real API over its own database."""

from __future__ import annotations

from typing import Any

import pytest

from backend.api.app import create_app
from backend.retool.export import RetoolApp
from backend.retool.ops_app import EXPORT_PATH
from tests.api.conftest import api_database_url, api_db, client, clock  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def app() -> RetoolApp:
    return RetoolApp.load(EXPORT_PATH)


@pytest.fixture(scope="session")
def openapi() -> dict[str, Any]:
    # The document needs no database: the API's pool connects on the first request only.
    document: dict[str, Any] = create_app(
        "postgresql://unused@127.0.0.1:9/unused", linear_webhook_secret="unused"
    ).openapi()
    return document
