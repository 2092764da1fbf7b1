"""What `tier0 seed --tickets N` calls: seed the application database, then refresh the marts."""

from __future__ import annotations

from datetime import date

from backend.db.schema import upgrade_database
from backend.db.server import connect
from backend.marts.refresh import refresh_marts
from backend.seed.history import SeedReport, seed_history


def seed_database(
    tickets: int, *, seed: int = 0, start: date | None = None, years: float = 2, refresh: bool = True
) -> SeedReport:
    with connect(autocommit=True) as conn:
        upgrade_database(conn)
        report = seed_history(conn, tickets=tickets, seed=seed, start=start, years=years)
        if refresh:
            refresh_marts(conn, mode="full")
    return report
