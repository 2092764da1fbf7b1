"""`tier0`: the command line. Every command is a thin wrapper around a function in `backend/`;
the Prefect flows and the approval API call the same functions."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from backend.paths import SAMPLE_DATA_DIR

app = typer.Typer(help="tier0: a support inbox becomes classified, routed, measured tickets.", no_args_is_help=True)
db_app = typer.Typer(help="Database: migrations and views.", no_args_is_help=True)
accounts_app = typer.Typer(help="Customer accounts from the CRM.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure triage quality.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(eval_app, name="eval")
sla_app = typer.Typer(help="SLA clocks in business hours.", no_args_is_help=True)
app.add_typer(sla_app, name="sla")
users_app = typer.Typer(help="Approval API users and their bearer tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
api_app = typer.Typer(help="The approval API.", no_args_is_help=True)
app.add_typer(api_app, name="api")
kb_app = typer.Typer(help="Knowledge base: import, search, regression check, drafts.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
incident_app = typer.Typer(help="Known incidents: new tickets they explain get the incident message as draft.",
                           no_args_is_help=True)
kb_app.add_typer(incident_app, name="incident")
metabase_app = typer.Typer(help="Metabase dashboards as code.", no_args_is_help=True)
app.add_typer(metabase_app, name="metabase")
marts_app = typer.Typer(help="Rollups behind the dashboards.", no_args_is_help=True)
app.add_typer(marts_app, name="marts")

DEMO_MAILBOX = SAMPLE_DATA_DIR / "demo-mailbox"


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")


def _connect() -> Any:
    from backend.db.server import connect

    return connect(autocommit=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (sql/migrations) and recreate the views (sql/views)."""
    from backend.db.schema import upgrade_database

    with _connect() as conn:
        result = upgrade_database(conn)
    applied = ", ".join(result.applied_migrations) or "none (already up to date)"
    typer.echo(f"migrations applied: {applied}")
    typer.echo(f"views: {len(result.views)} recreated")


@accounts_app.command("import")
def accounts_import(file: Annotated[Path, typer.Argument(help="CSV in the format of accounts.csv")]) -> None:
    """Import (upsert) customer accounts from a CRM CSV export."""
    from backend.accounts.importer import AccountImportError, import_accounts
    from backend.db.schema import upgrade_database

    with _connect() as conn:
        upgrade_database(conn)
        try:
            report = import_accounts(conn, file)
        except AccountImportError as error:
            _fail(f"accounts import refused: {error}")
            return
    typer.echo(
        f"accounts: {report.accounts} ({report.inserted} new, {report.updated} updated), {report.domains} domains"
    )


@app.command("ingest")
def ingest(
    path: Annotated[Path | None, typer.Argument(help="a folder of .eml files or an mbox file")] = None,
    gmail: Annotated[bool, typer.Option("--gmail", help="sync the Gmail mailbox (credentials from GMAIL_*)")] = False,
    label: Annotated[str | None, typer.Option(help="Gmail label to add to processed messages")] = None,
    include_sent: Annotated[
        bool,
        typer.Option(
            "--include-sent",
            help="sync all Gmail mail, not only INBOX: replies staff send from Gmail then count as first responses",
        ),
    ] = False,
    max_lag_minutes: Annotated[int, typer.Option(help="freshness alarm: allowed ingestion lag")] = 30,
    mailbox: Annotated[str | None, typer.Option(help="mailbox name (default: TIER0_MAILBOX)")] = None,
    local: Annotated[
        bool, typer.Option("--local", help="use the local model even if ANTHROPIC_API_KEY is set")
    ] = False,
) -> None:
    """Store every email of PATH, or new Gmail mail (idempotent), and turn each unprocessed one into tickets."""
    from backend.db.schema import upgrade_database
    from backend.mail.sources import SourceError, source_for_path
    from backend.pipeline.run import run_intake
    from backend.pipeline.setup import build_pipeline_config
    from backend.policy.model import load_policy
    from backend.settings import get_settings

    settings = get_settings()
    policy = load_policy(settings.policy_path)
    if gmail == (path is not None):
        _fail("give either PATH or --gmail", code=2)
    if gmail:
        _ingest_gmail(policy, mailbox or settings.mailbox, label, max_lag_minutes, local, include_sent=include_sent)
        return
    assert path is not None
    try:
        source = source_for_path(path)
    except SourceError as error:
        _fail(str(error))
        return
    config = build_pipeline_config(policy, prefer_local=local)
    with _connect() as conn:
        upgrade_database(conn)
        report = run_intake(conn, source, mailbox or settings.mailbox, config)
    typer.echo(
        f"stored {report.store.stored} new of {report.store.seen} emails; processed {report.process.processed}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(report.process.outcomes.items()))
        + f"; tickets created {report.process.tickets_created}"
    )
    if report.process.internal_errors:
        _fail(f"{report.process.internal_errors} email(s) failed with an internal error; see fct_messages")


def _ingest_gmail(
    policy: Any, mailbox: str, label: str | None, max_lag_minutes: int, local: bool, *, include_sent: bool = False
) -> None:
    from datetime import timedelta

    from backend.db.schema import upgrade_database
    from backend.mail.freshness import FreshnessAlarm
    from backend.mail.gmail_auth import GmailAuthError, gmail_service_from_env
    from backend.pipeline.gmail_intake import run_gmail_intake
    from backend.pipeline.setup import build_pipeline_config

    try:
        service = gmail_service_from_env(readonly=label is None)
    except GmailAuthError as error:
        _fail(str(error), code=2)
        return
    with _connect() as conn:
        upgrade_database(conn)
        report = run_gmail_intake(
            conn,
            service,
            mailbox,
            build_pipeline_config(policy, prefer_local=local),
            processed_label=label,
            max_lag=timedelta(minutes=max_lag_minutes),
            # No label filter: everything but drafts, spam and trash, our sent mail included.
            source_options={"label_id": None} if include_sent else None,
        )
    typer.echo(
        f"gmail: stored {report.store.stored} new of {report.store.seen}; processed {report.process.processed}; "
        f"tickets created {report.process.tickets_created}; labelled {report.labelled}"
    )
    try:
        report.freshness.raise_if_stale()
    except FreshnessAlarm as alarm:
        _fail(f"FRESHNESS ALARM: {alarm}")
    if report.process.internal_errors:
        _fail(f"{report.process.internal_errors} email(s) failed with an internal error; see fct_messages")


@app.command("funnel")
def funnel() -> None:
    """Print the funnel from the SQL views."""
    from backend.reporting.funnel import funnel_summary, render_funnel

    with _connect() as conn:
        typer.echo(render_funnel(funnel_summary(conn)))


@app.command("triage")
def triage(
    path: Annotated[Path, typer.Argument(help="a folder of .eml files (file-name order) or an mbox file")],
    accounts: Annotated[Path | None, typer.Option(help="accounts CSV (format of accounts.csv)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per input email")] = False,
) -> None:
    """Run the whole pipeline over PATH on a fresh temporary database (nothing persists)."""
    from backend.pipeline.oneshot import triage_path

    try:
        results = triage_path(path, accounts_csv=accounts)
    except Exception as error:  # a clear message for bad input, not a traceback
        _fail(f"triage failed: {error}")
        return
    from backend.pipeline.results import contract_view

    if not results:
        # Not an error (an empty day's export is valid), but say so: no output could look like a hang.
        typer.echo(f"no emails in {path} (a folder is read for *.eml files)", err=True)
    for result in results:
        if as_json:
            _print_json(contract_view(result))
        else:
            tickets = "; ".join(
                f"{t['category']}/{t['product_area']} {t['priority']} tier {t['tier']} {t['route']}"
                for t in result["tickets"]
            )
            typer.echo(f"{result['file']}: {result['kind']} {tickets}")


@eval_app.command("triage")
def eval_triage(
    mailbox: Annotated[Path, typer.Option(help="folder with mail/, labels.jsonl, accounts.csv")],
    as_json: Annotated[bool, typer.Option("--json", help="print the metrics as JSON")] = False,
) -> None:
    """Run the pipeline over a labelled mailbox and compare with its labels."""
    from backend.evaluation.triage_eval import evaluate_mailbox, render_report

    report = evaluate_mailbox(mailbox)
    if as_json:
        _print_json(report)
    else:
        typer.echo(render_report(report))


@sla_app.command("due")
def sla_due(
    priority: Annotated[str, typer.Option(help="P1..P4")],
    created: Annotated[str, typer.Option(help="ISO-8601 instant with offset, e.g. 2026-11-25T16:30:00-06:00")],
    timezone: Annotated[str | None, typer.Option(help="IANA timezone of the customer (default: the policy's)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """When a new ticket is due for first response and resolution under the policy's calendar."""
    from backend.settings import get_settings
    from backend.sla.command import SlaInputError, sla_due_json

    try:
        result = sla_due_json(priority, created, timezone, get_settings().policy_path)
    except SlaInputError as error:
        _fail(str(error), code=2)
        return
    if as_json:
        _print_json(result)
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


@app.command("parse")
def parse(
    path: Annotated[Path, typer.Argument(help=".eml file, bare .txt/.html body, or a folder of them")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per file")] = False,
) -> None:
    """Parse mail: the new text of each message, its signature, quoted history, attachments, kind."""
    from backend.mail.parse_command import parse_path

    if not path.exists():
        _fail(f"no such file or folder: {path}")
    for result in parse_path(path):
        if as_json:
            _print_json(result)
        else:
            typer.echo(f"== {result['file']} ({result['kind']}, {result.get('language')})")
            typer.echo(result.get("reply_text") or "")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name, e.g. maria")],
    role: Annotated[str, typer.Option(help="ops, lead or admin")] = "ops",
) -> None:
    """Create a user and print their bearer token (shown once; only a hash is stored)."""
    from backend.db.schema import upgrade_database
    from backend.users.store import UserExistsError, add_user

    with _connect() as conn:
        upgrade_database(conn)
        try:
            issued = add_user(conn, name, role)
        except (UserExistsError, ValueError) as error:
            _fail(str(error), code=2)
            return
    typer.echo(f"user {name} ({role}) created. Bearer token (shown once, keep it secret):")
    typer.echo(issued.token)


@users_app.command("token")
def users_token(name: Annotated[str, typer.Argument(help="an existing user")]) -> None:
    """Issue another bearer token for an existing user."""
    from backend.users.store import UnknownUserError, issue_token

    with _connect() as conn:
        try:
            issued = issue_token(conn, name)
        except UnknownUserError as error:
            _fail(str(error), code=2)
            return
    typer.echo(issued.token)


@users_app.command("list")
def users_list() -> None:
    """Users, roles and active tokens (hints only)."""
    from backend.db.schema import upgrade_database
    from backend.users.store import list_users

    with _connect() as conn:
        upgrade_database(conn)
        for user in list_users(conn):
            state = f"revoked {user.revoked_at:%Y-%m-%d}" if user.revoked_at else f"{user.active_tokens} token(s)"
            typer.echo(f"{user.name:<20} {user.role:<6} {state}")


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="the user whose tokens to revoke")]) -> None:
    """Revoke every token of a user."""
    from backend.users.store import UnknownUserError, revoke_user

    with _connect() as conn:
        try:
            count = revoke_user(conn, name)
        except UnknownUserError as error:
            _fail(str(error), code=2)
            return
    typer.echo(f"revoked {count} token(s) of {name}")


@api_app.command("serve")
def api_serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Run the approval API (OpenAPI at /docs and /openapi.json)."""
    from backend.api.app import serve
    from backend.db.schema import upgrade_database

    with _connect() as conn:
        upgrade_database(conn)
    serve(host=host, port=port)


def _kb_connection() -> Any:
    """A connection for the KB commands (they commit their own work), on an upgraded schema whose
    knowledge base holds at least the demo KB shipped in data/kb."""
    from backend.db.schema import upgrade_database
    from backend.db.server import connect
    from backend.kb.demo import ensure_demo_kb

    conn = connect()
    upgrade_database(conn)
    conn.commit()
    imported = ensure_demo_kb(conn)
    if imported:
        typer.echo(f"(the knowledge base was empty: imported the demo KB, {imported} articles)", err=True)
    return conn


@kb_app.command("import")
def kb_import(directory: Annotated[Path, typer.Argument(help="folder of Markdown articles with front matter")]) -> None:
    """Import articles (an edit becomes a new version; an unchanged file changes nothing)."""
    from backend.db.schema import upgrade_database
    from backend.db.server import connect
    from backend.kb.commands import kb_import_command

    if not directory.is_dir():
        _fail(f"not a folder: {directory}", code=2)
    with connect() as conn:
        upgrade_database(conn)
        conn.commit()
        code = kb_import_command(conn, directory, echo=typer.echo)
    raise typer.Exit(code)


@kb_app.command("search")
def kb_search(
    query: Annotated[str | None, typer.Argument(help="one question")] = None,
    queries: Annotated[Path | None, typer.Option(help="JSONL file with a `query` key per line")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per query")] = False,
) -> None:
    """Search the knowledge base; also decides whether any article answers the question."""
    from backend.kb.commands import kb_search_command

    if queries is not None and not queries.is_file():
        _fail(f"no such file: {queries}", code=2)
    with _kb_connection() as conn:
        try:
            code = kb_search_command(conn, queries, query=query, as_json=as_json, echo=typer.echo)
        except (ValueError, UnicodeDecodeError) as error:  # a bad line of the queries file
            _fail(f"error: {error}", code=2)
    raise typer.Exit(code)


@kb_app.command("check")
def kb_check(
    golden: Annotated[Path | None, typer.Option(help="golden questions (default: data/kb/golden.jsonl)")] = None,
) -> None:
    """Fail when any golden question's article is no longer in the top 3."""
    from backend.kb.commands import DEFAULT_GOLDEN, kb_check_command

    with _kb_connection() as conn:
        code = kb_check_command(conn, golden or DEFAULT_GOLDEN, echo=typer.echo)
    raise typer.Exit(code)


@kb_app.command("draft")
def kb_draft(ticket_id: Annotated[int, typer.Argument(help="ticket id")]) -> None:
    """Write a grounded draft reply for a ticket (incident message or KB answer)."""
    from backend.kb.commands import kb_draft_command

    with _kb_connection() as conn:
        code = kb_draft_command(conn, ticket_id, echo=typer.echo)
    raise typer.Exit(code)


@incident_app.command("open")
def incident_open(
    area: Annotated[str, typer.Option(help="product area, as in policy.yaml")],
    title: Annotated[str, typer.Option(help="short internal title")],
    message: Annotated[str, typer.Option(help="what customers who write about it are told (their draft)")],
    integration: Annotated[str | None, typer.Option(help="integration, as in policy.yaml (narrows the match)")] = None,
) -> None:
    """Open an incident: new tickets it explains are linked to it and get its message as their draft."""
    from backend.kb.commands import incident_open_command
    from backend.policy.model import load_policy
    from backend.settings import get_settings

    policy = load_policy(get_settings().policy_path)
    with _kb_connection() as conn:
        code = incident_open_command(conn, policy, product_area=area, title=title, customer_message=message,
                                     integration=integration, echo=typer.echo)
    raise typer.Exit(code)


@incident_app.command("close")
def incident_close(incident_id: Annotated[int, typer.Argument(help="incident id")]) -> None:
    """Close an incident: new tickets are no longer linked to it."""
    from backend.kb.commands import incident_close_command

    with _kb_connection() as conn:
        code = incident_close_command(conn, incident_id, echo=typer.echo)
    raise typer.Exit(code)


@incident_app.command("list")
def incident_list(
    include_closed: Annotated[bool, typer.Option("--all", help="closed incidents too")] = False,
) -> None:
    """Open incidents (with --all, closed ones too) and how many tickets each explains."""
    from backend.kb.commands import incident_list_command

    with _kb_connection() as conn:
        code = incident_list_command(conn, include_closed=include_closed, echo=typer.echo)
    raise typer.Exit(code)


@metabase_app.command("sync")
def metabase_sync(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the requests instead of sending writes")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per request")] = False,
) -> None:
    """Create or update the tier0 collection, cards and dashboards in Metabase (idempotent).
    With --dry-run --json: every request it would send to an empty Metabase, one per line."""
    from backend.metabase.command import dry_run_lines, sync_from_env

    if dry_run and as_json:
        for line in dry_run_lines():
            sys.stdout.write(line + "\n")
        return
    records = sync_from_env(dry_run=dry_run)
    for record in records:
        typer.echo(json.dumps(record, default=str) if as_json else str(record))


@app.command("report")
def report(out: Annotated[Path, typer.Option(help="the HTML file to write")]) -> None:
    """Render every dashboard card from Postgres into one self-contained HTML page."""
    from backend.report.render import write_report

    summary = write_report(out)
    typer.echo(f"wrote {out}: {summary.dashboards} dashboards, {summary.cards} cards, {summary.charts} charts")


@app.command("seed")
def seed(
    tickets: Annotated[int, typer.Option(help="how many tickets of synthetic history")],
    seed_value: Annotated[int, typer.Option("--seed", help="random seed")] = 0,
    years: Annotated[float, typer.Option(help="length of the history")] = 2,
) -> None:
    """Generate a realistic synthetic history (for load and dashboard testing)."""
    from backend.seed.command import seed_database

    result = seed_database(tickets, seed=seed_value, years=years)
    typer.echo(str(result))


@marts_app.command("refresh")
def marts_refresh(full: Annotated[bool, typer.Option("--full", help="rebuild everything")] = False) -> None:
    """Refresh the rollup tables the dashboards read."""
    from backend.marts.refresh import refresh_database

    typer.echo(str(refresh_database("full" if full else "incremental")))


@app.command("train")
def train(
    mailbox: Annotated[
        list[Path] | None, typer.Option(help="labelled mailbox folder (mail/ + labels.jsonl); repeatable")
    ] = None,
    corrections: Annotated[
        bool, typer.Option(help="include the relabels OPS made in the database as training examples")
    ] = True,
    out: Annotated[Path | None, typer.Option(help="artifact folder (default: .tier0/models/<version>)")] = None,
    without_dev: Annotated[
        bool,
        typer.Option(
            "--without-dev-examples",
            help="leave out the examples derived from the dev mailbox (training/dev_*.jsonl), e.g. to evaluate on it",
        ),
    ] = False,
) -> None:
    """Train the local triage model on the written examples, labelled mail and OPS corrections; save a
    versioned artifact. Use it with TIER0_TRIAGE_MODEL=<folder>."""
    import tempfile

    from backend.settings import get_settings
    from backend.triage.labelled import load_training_examples
    from backend.triage.model import TrainingExample, load_written_examples, train_from_examples

    examples: list[TrainingExample] = []
    for folder in mailbox or []:
        if not (folder / "labels.jsonl").is_file():
            _fail(f"{folder} is not a labelled mailbox (no labels.jsonl)", code=2)
        loaded = load_training_examples(folder)
        typer.echo(f"{folder}: {len(loaded)} examples")
        examples.extend(loaded)
    if corrections:
        from backend.db.schema import upgrade_database
        from backend.triage.corrections import correction_examples

        with _connect() as conn:
            upgrade_database(conn)
            fixed = correction_examples(conn)
        typer.echo(f"corrections from the database: {len(fixed)} examples")
        examples.extend(fixed)
    target = out or Path(tempfile.mkdtemp(prefix="model-", dir=get_settings().data_dir))
    if without_dev:
        written = load_written_examples(include_dev=False)
        info = train_from_examples([*written, *examples], target, include_written=False)
    else:
        info = train_from_examples(examples, target)
    final = Path(info.path)
    if out is None:
        final = get_settings().data_dir / "models" / info.version
        if final.exists():
            import shutil

            shutil.rmtree(target)
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            target.rename(final)
    typer.echo(
        f"model {info.version}: {info.examples} examples ({info.requests} requests), "
        f"trained in {info.train_seconds:.1f} s -> {final}"
    )
    typer.echo(f"use it with: TIER0_TRIAGE_MODEL={final}")


@eval_app.command("intents")
def eval_intents(
    train_csv: Annotated[Path, typer.Option("--train", help="CSV with columns text,category")],
    test_csv: Annotated[Path, typer.Option("--test", help="CSV with columns text,category")],
    as_json: Annotated[bool, typer.Option("--json", help="print accuracy, macro_f1, train_seconds as JSON")] = False,
) -> None:
    """Train the local model's learning machinery on a public intent dataset and score it."""
    from backend.triage.intents import evaluate_intents

    for path in (train_csv, test_csv):
        if not path.is_file():
            _fail(f"no such file: {path}", code=2)
    result = evaluate_intents(train_csv, test_csv)
    if as_json:
        _print_json({key: result[key] for key in ("accuracy", "macro_f1", "train_seconds")})
    else:
        for key, value in result.items():
            typer.echo(f"{key:<16} {value}")


@app.command("demo")
def demo() -> None:
    """Import the sample accounts, ingest the sample mailbox into the embedded Postgres, print the funnel."""
    from backend.demo import run_demo
    from backend.settings import get_settings

    run_demo(DEMO_MAILBOX, report_path=get_settings().data_dir / "report.html", echo=typer.echo)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
