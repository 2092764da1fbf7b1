"""`tier0 demo`: the product end to end on the embedded defaults: real embedded Postgres, the local
model, the sample mailbox shipped in the repo; then a simulated OPS team works the queue
(backend/demo_workday.py) and the report is written. Re-running it is safe: storing is
idempotent and the OPS replay runs once per database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from backend.accounts.importer import import_accounts
from backend.db.schema import upgrade_database
from backend.db.server import connect
from backend.demo_workday import replay_ops_work
from backend.kb.drafts import draft_for_ticket
from backend.mail.sources import EmlFolderSource
from backend.pipeline.run import run_intake
from backend.pipeline.setup import build_pipeline_config
from backend.policy.model import load_policy
from backend.reporting.funnel import funnel_summary, outcome_summary, render_funnel, render_outcomes
from backend.settings import get_settings
from backend.triage.local import LocalClassifier
from backend.triage.model import held_out_model

DEMO_MAILBOX_NAME = "demo@pam.example"


def run_demo(mailbox_dir: Path, *, report_path: Path, echo: Callable[[str], None] = print) -> None:
    settings = get_settings()
    policy = load_policy(settings.policy_path)
    # The demo mailbox is a copy of the dev mailbox, whose labels the shipped model learned from:
    # classify with the model trained without them, so the demo shows what unseen mail gets.
    classifier = LocalClassifier(model=held_out_model(settings.data_dir / "models"), policy=policy)
    config = build_pipeline_config(policy, classifier=classifier)
    where = settings.database_url or f"embedded Postgres in {settings.data_dir / 'pgdata'}"
    echo(f"Database: {where}")
    with connect(autocommit=True) as conn:
        upgrade = upgrade_database(conn)
        echo(f"Schema: {len(upgrade.applied_migrations)} migration(s) applied, {len(upgrade.views)} views")
        accounts = import_accounts(conn, mailbox_dir / "accounts.csv")
        echo(f"Accounts: {accounts.accounts} imported ({accounts.inserted} new)")
        echo(
            f"Classifier: {classifier.name} {classifier.model_version} "
            "(trained without the demo mailbox's labels: the OPS replay below corrects its mistakes)"
        )
        report = run_intake(conn, EmlFolderSource(mailbox_dir / "mail"), DEMO_MAILBOX_NAME, config)
        echo(
            f"Mailbox: {report.store.seen} emails read, {report.store.stored} new, "
            f"{report.process.processed} processed, {report.process.tickets_created} tickets created"
        )
        echo("")
        echo(render_funnel(funnel_summary(conn)))
    _knowledge_base(echo)
    with connect(autocommit=True) as conn:
        workday = replay_ops_work(
            conn,
            policy,
            mailbox=DEMO_MAILBOX_NAME,
            labels_path=mailbox_dir / "labels.jsonl",
            sent_folder=settings.data_dir / "sent-mail",
            draft=lambda c, ticket_id, at: draft_for_ticket(c, ticket_id, now=at),
        )
        echo("")
        for line in workday.lines():
            echo(line)
        if not workday.already_done:
            echo(f"  replies written to {settings.data_dir / 'sent-mail'}")
        echo("")
        echo(render_outcomes(outcome_summary(conn)))
    _report(report_path, echo)


def _knowledge_base(echo: Callable[[str], None]) -> None:
    from backend.db.server import connect as connect_transactional
    from backend.kb.demo import ensure_demo_kb

    with connect_transactional() as conn:
        imported = ensure_demo_kb(conn)
        if imported:
            echo(f"\nKnowledge base: imported the demo KB ({imported} articles)")


def _report(report_path: Path, echo: Callable[[str], None]) -> None:
    from backend.report.render import write_report

    summary = write_report(report_path)
    echo(
        f"\nReport: {report_path} ({summary.dashboards} dashboards, {summary.cards} cards, {summary.charts} charts"
        f"{'; empty: ' + ', '.join(summary.empty_cards) if summary.empty_cards else ''})"
    )
