"""Fixtures: Metabase's OpenAPI description (from ../shared, skipped when absent) and the fake server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from backend.metabase.client import MetabaseHttpClient
from backend.metabase.openapi import OpenApiSpec
from tests.metabase.fake_server import API_KEY, BASE_URL, FakeMetabaseServer


@pytest.fixture(scope="session")
def openapi_spec(shared_dir: Path) -> OpenApiSpec:
    path = shared_dir / "external" / "metabase" / "openapi.json"
    if not path.is_file():
        pytest.skip(f"Metabase's OpenAPI description is not at {path}")
    return OpenApiSpec.load(path)


@pytest.fixture
def metabase(openapi_spec: OpenApiSpec) -> Iterator[FakeMetabaseServer]:
    server = FakeMetabaseServer(openapi_spec)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        server.install(mock)
        yield server


@pytest.fixture
def client(metabase: FakeMetabaseServer) -> MetabaseHttpClient:
    return MetabaseHttpClient.connect(BASE_URL, api_key=API_KEY)


# The hand-made history with refreshed marts (tests/views), for running the cards' SQL.
from tests.views.conftest import marts  # noqa: E402, F401
