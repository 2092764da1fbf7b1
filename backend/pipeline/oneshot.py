"""`tier0 triage`: the whole pipeline over a folder or mbox on a throwaway database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from backend.accounts.importer import import_accounts
from backend.db.schema import upgrade_database
from backend.db.server import temporary_database
from backend.mail.sources import source_for_path
from backend.pipeline.results import email_results
from backend.pipeline.run import run_intake
from backend.pipeline.setup import build_pipeline_config
from backend.policy.model import Policy, load_policy
from backend.settings import get_settings
from backend.triage.types import Classifier

ONESHOT_MAILBOX = "triage"


def triage_path(
    path: Path,
    *,
    accounts_csv: Path | None = None,
    policy: Policy | None = None,
    classifier: Classifier | None = None,
) -> list[dict[str, Any]]:
    settings = get_settings()
    policy = policy or load_policy(settings.policy_path)
    source = source_for_path(path)  # fails early, before starting a database, on a bad path
    config = build_pipeline_config(policy, classifier=classifier)
    with temporary_database() as url, psycopg.connect(url, autocommit=True) as conn:
        upgrade_database(conn)
        if accounts_csv is not None:
            import_accounts(conn, accounts_csv)
        run_intake(conn, source, ONESHOT_MAILBOX, config)
        return email_results(conn, ONESHOT_MAILBOX)
