"""What `tier0 metabase sync` calls: thin wrappers joining the definitions, the client and the sync."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from backend.metabase.client import client_from_env
from backend.metabase.definitions import METABASE_DIR, load_definitions
from backend.metabase.sync import RequestRecord, dry_run_requests, sync_dashboards


def dry_run_lines(directory: Path = METABASE_DIR) -> Iterator[str]:
    """`tier0 metabase sync --dry-run --json`: one JSON object per request an empty Metabase would get."""
    for request in dry_run_requests(load_definitions(directory)):
        yield json.dumps(request, ensure_ascii=False, sort_keys=True)


def sync_from_env(*, dry_run: bool = False, directory: Path = METABASE_DIR) -> list[RequestRecord]:
    """`tier0 metabase sync [--dry-run]` against METABASE_URL (see client.client_from_env)."""
    return sync_dashboards(client_from_env(), load_definitions(directory), dry_run=dry_run)
