"""Who sent an email: sender address to contact, then domain (or a parent domain: a dealer's own
mail server such as mail.dealer.example) to account. Unknown senders get a contact with no
account and are still triaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg


@dataclass(frozen=True)
class AccountFacts:
    account_id: str
    name: str
    timezone: str
    plan: str | None
    mrr_usd: float | None
    contract_start: date | None
    renewal_date: date | None
    integration: str | None


@dataclass(frozen=True)
class Sender:
    contact_id: int | None
    account: AccountFacts | None


def _domain_candidates(address: str) -> list[str]:
    domain = address.rsplit("@", 1)[-1].lower().strip(".")
    parts = domain.split(".")
    # mail.dealer.example -> mail.dealer.example, dealer.example (never the bare TLD)
    return [".".join(parts[index:]) for index in range(len(parts) - 1)]


def load_account(conn: psycopg.Connection, account_id: str) -> AccountFacts | None:
    row = conn.execute(
        """select account_id, name, timezone, plan, mrr_usd, contract_start, renewal_date, integration
           from accounts where account_id = %s""",
        (account_id,),
    ).fetchone()
    if row is None:
        return None
    return AccountFacts(
        account_id=row[0],
        name=row[1],
        timezone=row[2],
        plan=row[3],
        mrr_usd=float(row[4]) if row[4] is not None else None,
        contract_start=row[5],
        renewal_date=row[6],
        integration=row[7],
    )


def account_for_address(conn: psycopg.Connection, address: str) -> AccountFacts | None:
    for candidate in _domain_candidates(address):
        row = conn.execute("select account_id from account_domains where domain = %s", (candidate,)).fetchone()
        if row:
            return load_account(conn, row[0])
    return None


def resolve_sender(conn: psycopg.Connection, address: str | None, display_name: str | None) -> Sender:
    if not address:
        return Sender(contact_id=None, account=None)
    address = address.lower()
    existing = conn.execute("select contact_id, account_id from contacts where email = %s", (address,)).fetchone()
    if existing:
        contact_id, account_id = existing
        account = load_account(conn, account_id) if account_id else account_for_address(conn, address)
        if account and not account_id:
            conn.execute("update contacts set account_id = %s where contact_id = %s", (account.account_id, contact_id))
        return Sender(contact_id=contact_id, account=account)
    account = account_for_address(conn, address)
    row = conn.execute(
        """insert into contacts (email, display_name, account_id) values (%s, %s, %s)
           on conflict (email) do update set display_name = coalesce(contacts.display_name, excluded.display_name)
           returning contact_id""",
        (address, display_name, account.account_id if account else None),
    ).fetchone()
    assert row is not None
    return Sender(contact_id=int(row[0]), account=account)
