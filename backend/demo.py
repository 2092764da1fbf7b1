"""`tier0 demo`: the product end to end on the embedded defaults: real embedded Postgres, the local
model, the sample mailbox shipped in the repo. Re-running it is safe: storing is idempotent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from backend.accounts.importer import import_accounts
from backend.db.schema import upgrade_database
from backend.db.server import connect
from backend.mail.sources import EmlFolderSource
from backend.pipeline.run import run_intake
from backend.pipeline.setup import build_pipeline_config
from backend.policy.model import load_policy
from backend.reporting.funnel import funnel_summary, render_funnel
from backend.settings import get_settings

DEMO_MAILBOX_NAME = "demo@pam.example"


def run_demo(mailbox_dir: Path, *, report_path: Path, echo: Callable[[str], None] = print) -> None:
    settings = get_settings()
    policy = load_policy(settings.policy_path)
    config = build_pipeline_config(policy, prefer_local=True)
    classifier = config.classifier
    where = settings.database_url or f"embedded Postgres in {settings.data_dir / 'pgdata'}"
    echo(f"Database: {where}")
    with connect(autocommit=True) as conn:
        upgrade = upgrade_database(conn)
        echo(f"Schema: {len(upgrade.applied_migrations)} migration(s) applied, {len(upgrade.views)} views")
        accounts = import_accounts(conn, mailbox_dir / "accounts.csv")
        echo(f"Accounts: {accounts.accounts} imported ({accounts.inserted} new)")
        echo(f"Classifier: {classifier.name} {classifier.model_version}")
        report = run_intake(conn, EmlFolderSource(mailbox_dir / "mail"), DEMO_MAILBOX_NAME, config)
        echo(
            f"Mailbox: {report.store.seen} emails read, {report.store.stored} new, "
            f"{report.process.processed} processed, {report.process.tickets_created} tickets created"
        )
        echo("")
        echo(render_funnel(funnel_summary(conn)))
    _knowledge_base_and_report(report_path, echo)


def _knowledge_base_and_report(report_path: Path, echo: Callable[[str], None]) -> None:
    from backend.db.server import connect as connect_transactional
    from backend.kb.demo import ensure_demo_kb
    from backend.report.render import write_report

    with connect_transactional() as conn:
        imported = ensure_demo_kb(conn)
        if imported:
            echo(f"\nKnowledge base: imported the demo KB ({imported} articles)")
    summary = write_report(report_path)
    echo(
        f"\nReport: {report_path} ({summary.dashboards} dashboards, {summary.cards} cards, {summary.charts} charts"
        f"{'; empty: ' + ', '.join(summary.empty_cards) if summary.empty_cards else ''})"
    )
