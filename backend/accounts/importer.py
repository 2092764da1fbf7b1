"""`tier0 accounts import FILE`: accounts from a CRM export (CSV, columns as in the sample
`accounts.csv`). Importing is an upsert: re-importing the same file changes nothing, and an
edited row updates the account. A bad row is the file's fault: the whole import is refused
with the line number and the problem, and nothing is written.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg

REQUIRED_COLUMNS = ("account_id", "name", "domains", "timezone")
OPTIONAL_COLUMNS = (
    "plan",
    "mrr_usd",
    "contract_start",
    "renewal_date",
    "onboarding_status",
    "integration",
    "integration_pending_since",
)


class AccountImportError(Exception):
    """The file cannot be imported; the message names the line and the problem."""


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    name: str
    domains: tuple[str, ...]
    timezone: str
    plan: str | None
    mrr_usd: float | None
    contract_start: date | None
    renewal_date: date | None
    onboarding_status: str | None
    integration: str | None
    integration_pending_since: date | None


def _optional_date(value: str, column: str, line: int) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise AccountImportError(f"line {line}: {column} must be an ISO date (YYYY-MM-DD), got {value!r}") from error


def parse_accounts_csv(path: Path) -> list[AccountRow]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise AccountImportError(f"cannot read {path}: {error}") from error
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            raise AccountImportError(f"{path}: missing column(s) {', '.join(missing)} in the header row")
        rows: list[AccountRow] = []
        seen: set[str] = set()
        for line, record in enumerate(reader, start=2):
            account_id = (record.get("account_id") or "").strip()
            if not account_id:
                raise AccountImportError(f"line {line}: account_id is empty")
            if account_id in seen:
                raise AccountImportError(f"line {line}: account_id {account_id!r} appears twice")
            seen.add(account_id)
            domains = tuple(
                d.strip().lower().lstrip("@") for d in (record.get("domains") or "").split(";") if d.strip()
            )
            if not domains:
                raise AccountImportError(f"line {line}: account {account_id!r} has no domains")
            timezone = (record.get("timezone") or "").strip()
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise AccountImportError(
                    f"line {line}: timezone must be an IANA name such as America/Chicago, got {timezone!r}"
                ) from error
            mrr_text = (record.get("mrr_usd") or "").strip()
            try:
                mrr = float(mrr_text) if mrr_text else None
            except ValueError as error:
                raise AccountImportError(f"line {line}: mrr_usd must be a number, got {mrr_text!r}") from error
            integration = (record.get("integration") or "").strip().lower()
            rows.append(
                AccountRow(
                    account_id=account_id,
                    name=(record.get("name") or "").strip() or account_id,
                    domains=domains,
                    timezone=timezone,
                    plan=(record.get("plan") or "").strip() or None,
                    mrr_usd=mrr,
                    contract_start=_optional_date(record.get("contract_start") or "", "contract_start", line),
                    renewal_date=_optional_date(record.get("renewal_date") or "", "renewal_date", line),
                    onboarding_status=(record.get("onboarding_status") or "").strip() or None,
                    integration=None if integration in ("", "none") else integration,
                    integration_pending_since=_optional_date(
                        record.get("integration_pending_since") or "", "integration_pending_since", line
                    ),
                )
            )
    return rows


@dataclass(frozen=True)
class ImportReport:
    accounts: int
    inserted: int
    updated: int
    domains: int


def import_accounts(conn: psycopg.Connection, path: Path) -> ImportReport:
    rows = parse_accounts_csv(path)
    inserted = updated = 0
    with conn.transaction():
        for row in rows:
            existed = conn.execute("select 1 from accounts where account_id = %s", (row.account_id,)).fetchone()
            conn.execute(
                """
                insert into accounts (account_id, name, timezone, plan, mrr_usd, contract_start, renewal_date,
                                      onboarding_status, integration, integration_pending_since)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                on conflict (account_id) do update set
                    name = excluded.name, timezone = excluded.timezone, plan = excluded.plan,
                    mrr_usd = excluded.mrr_usd, contract_start = excluded.contract_start,
                    renewal_date = excluded.renewal_date, onboarding_status = excluded.onboarding_status,
                    integration = excluded.integration,
                    integration_pending_since = excluded.integration_pending_since,
                    updated_at = now()
                """,
                (
                    row.account_id,
                    row.name,
                    row.timezone,
                    row.plan,
                    row.mrr_usd,
                    row.contract_start,
                    row.renewal_date,
                    row.onboarding_status,
                    row.integration,
                    row.integration_pending_since,
                ),
            )
            if existed:
                updated += 1
            else:
                inserted += 1
            conn.execute("delete from account_domains where account_id = %s", (row.account_id,))
            for domain in row.domains:
                owner = conn.execute("select account_id from account_domains where domain = %s", (domain,)).fetchone()
                if owner and owner[0] != row.account_id:
                    raise AccountImportError(
                        f"domain {domain!r} of account {row.account_id!r} already belongs to account {owner[0]!r}"
                    )
                conn.execute(
                    "insert into account_domains (domain, account_id) values (%s, %s)", (domain, row.account_id)
                )
    return ImportReport(len(rows), inserted, updated, sum(len(row.domains) for row in rows))
