from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from backend.accounts.importer import AccountImportError, import_accounts
from backend.accounts.resolve import resolve_sender

HEADER = "account_id,name,domains,timezone,plan,mrr_usd,contract_start,renewal_date,onboarding_status,integration,integration_pending_since\n"


def write(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def test_import_is_an_upsert_and_finds_accounts_by_domain_and_subdomain(db: psycopg.Connection, tmp_path: Path) -> None:
    path = write(tmp_path, "acme,Acme Ford,acme.example;acme-group.example,America/Denver,growth,1200,2025-01-01,2027-01-01,live,cdk,\n")
    first = import_accounts(db, path)
    assert (first.accounts, first.inserted, first.updated, first.domains) == (1, 1, 0, 2)
    again = import_accounts(db, path)
    assert (again.inserted, again.updated) == (0, 1)
    assert db.execute("select count(*) from accounts").fetchone() == (1,)

    sender = resolve_sender(db, "Bob@Mail.Acme-Group.example", "Bob")
    assert sender.account is not None and sender.account.account_id == "acme"
    assert sender.account.integration == "cdk" and sender.account.timezone == "America/Denver"
    same = resolve_sender(db, "bob@mail.acme-group.example", None)
    assert same.contact_id == sender.contact_id

    stranger = resolve_sender(db, "someone@gmail.example", "Someone")
    assert stranger.account is None and stranger.contact_id is not None
    assert resolve_sender(db, None, None).contact_id is None


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("acme,Acme,acme.example,Mars/Olympus,growth,1,2025-01-01,2027-01-01,live,cdk,\n", "line 2: timezone must be an IANA name"),
        ("acme,Acme,acme.example,America/Denver,growth,lots,2025-01-01,2027-01-01,live,cdk,\n", "line 2: mrr_usd must be a number, got 'lots'"),
        ("acme,Acme,acme.example,America/Denver,growth,1,01/02/2025,2027-01-01,live,cdk,\n", "line 2: contract_start must be an ISO date"),
        ("acme,Acme,,America/Denver,growth,1,2025-01-01,2027-01-01,live,cdk,\n", "line 2: account 'acme' has no domains"),
        ("acme,Acme,a.example,America/Denver,,,,,,,\nacme,Acme 2,b.example,America/Denver,,,,,,,\n", "line 3: account_id 'acme' appears twice"),
    ],
)
def test_bad_rows_refuse_the_whole_file(db: psycopg.Connection, tmp_path: Path, rows: str, message: str) -> None:
    with pytest.raises(AccountImportError) as caught:
        import_accounts(db, write(tmp_path, rows))
    assert message in str(caught.value)
    assert db.execute("select count(*) from accounts").fetchone() == (0,)


def test_missing_column_is_named(db: psycopg.Connection, tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,name\nacme,Acme\n", encoding="utf-8")
    with pytest.raises(AccountImportError, match="missing column\\(s\\) domains, timezone"):
        import_accounts(db, path)


def test_a_domain_cannot_belong_to_two_accounts(db: psycopg.Connection, tmp_path: Path) -> None:
    path = write(tmp_path, "a,A,shared.example,America/Denver,,,,,,,\nb,B,shared.example,America/Denver,,,,,,,\n")
    with pytest.raises(AccountImportError, match=r"domain 'shared\.example' of account 'b' already belongs to account 'a'"):
        import_accounts(db, path)
    assert db.execute("select count(*) from accounts").fetchone() == (0,)
