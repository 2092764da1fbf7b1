"""Time every dashboard card against a scan of the whole event history, at scale.

Usage (from the repository root; the data folder is separate from the application's and the tests'):

    .venv/bin/python benchmarks/cards.py --tickets 1000000 --data-dir /tmp/tier0-bench

1. starts an embedded Postgres in --data-dir (kept, so a second run reuses the seeded history), brings
   it to the current schema, and seeds --tickets tickets of history (backend/seed) unless it already
   holds that many;
2. refreshes the marts (a full refresh, then an incremental one with nothing new: the scheduled case);
3. VACUUM ANALYZE, then one warm-up round, then --runs rounds; each round times
   `select count(*) from ticket_events` and every card's SQL, unfiltered and with all its filters set
   (one account, a tier, a route, the last 90 days);
4. prints a Markdown table: each card's median time and its ratio to the median scan (goal: < 0.2).

The machine is shared: run it once or twice, not in a loop.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from backend.db.schema import upgrade_database  # noqa: E402
from backend.db.server import _embedded_server, _ensure_database  # noqa: E402
from backend.marts.refresh import refresh_marts  # noqa: E402
from backend.metabase.definitions import load_definitions, render_sql  # noqa: E402
from backend.seed.history import seed_history  # noqa: E402

SCAN = "select count(*) from ticket_events"
GOAL = 0.2


def timed(conn: psycopg.Connection, query: str, params: dict[str, object] | None = None) -> tuple[float, int]:
    started = time.perf_counter()
    rows = conn.execute(query, params).fetchall()  # the repository's own card SQL
    return (time.perf_counter() - started) * 1000, len(rows)


def filter_values(conn: psycopg.Connection) -> dict[str, object]:
    """Filters a user would set: the busiest account, tier 1, the ops route, the last 90 days."""
    row = conn.execute(
        "select account_id, max(created_on) from rollup_ticket_facts group by account_id order by count(*) desc limit 1"
    ).fetchone()
    assert row is not None, "no tickets: seed first"
    return {"account": row[0], "tier": 1, "route": "ops", "date_from": row[1] - timedelta(days=90), "date_to": row[1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/tier0-bench"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--years", type=float, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()

    args.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(args.data_dir, 0o755)  # the embedded server runs as its own user when we are root
    server = _embedded_server(args.data_dir / "pgdata")
    _ensure_database(server.get_uri(), "tier0")
    facts: dict[str, Any] = {"tickets_wanted": args.tickets}
    with psycopg.connect(server.get_uri("tier0"), autocommit=True) as conn:
        upgrade_database(conn)
        present = conn.execute("select count(*) from tickets").fetchone()
        if present is None or present[0] < args.tickets:
            report = seed_history(
                conn, tickets=args.tickets - (present[0] if present else 0), seed=args.seed, years=args.years
            )
            facts["seed_seconds"] = report.seconds
            facts["seed_timings"] = report.timings
            print(
                f"seeded {report.tickets} tickets, {report.events} events in {report.seconds:.0f} s: {report.timings}"
            )
        full = refresh_marts(conn, mode="full")
        incremental = refresh_marts(conn, mode="incremental")
        facts["refresh_full_seconds"], facts["refresh_full_timings"] = full.seconds, full.timings
        facts["refresh_incremental_seconds"] = incremental.seconds
        facts["refresh_incremental_tickets"] = incremental.tickets_refreshed
        print(
            f"refresh: full {full.seconds:.1f} s {full.timings}; incremental {incremental.seconds:.1f} s "
            f"({incremental.tickets_refreshed} tickets)"
        )
        conn.execute("vacuum analyze")
        counts = conn.execute(
            "select (select count(*) from tickets), (select count(*) from ticket_events),"
            " (select count(*) from messages), pg_size_pretty(pg_total_relation_size('ticket_events'))"
        ).fetchone()
        assert counts is not None
        facts.update(tickets=counts[0], events=counts[1], messages=counts[2], ticket_events_size=counts[3])

        cards = [(f"{dashboard.key}/{card.key}", card) for dashboard, card in load_definitions().cards()]
        values = filter_values(conn)
        facts["filters"] = {name: str(value) for name, value in values.items()}
        scans: list[float] = []
        plain: dict[str, list[float]] = {name: [] for name, _ in cards}
        filtered: dict[str, list[float]] = {name: [] for name, _ in cards}
        rows: dict[str, int] = {}
        for round_number in range(args.runs + 1):  # round 0 warms the caches and is not counted
            scan_ms, _ = timed(conn, SCAN)
            for name, card in cards:
                query, params = render_sql(card.sql)
                plain_ms, rows[name] = timed(conn, query, params)
                query, params = render_sql(card.sql, {key: values[key] for key in card.variables})
                filtered_ms, _ = timed(conn, query, params)
                if round_number:
                    plain[name].append(plain_ms)
                    filtered[name].append(filtered_ms)
            if round_number:
                scans.append(scan_ms)
    scan = statistics.median(scans)
    facts["scan_ms"] = round(scan, 1)
    print(
        f"\n{facts['tickets']:,} tickets, {facts['events']:,} events ({facts['ticket_events_size']}); "
        f"`{SCAN}`: median {scan:.1f} ms of {args.runs} runs; goal: every card < {GOAL} x that\n"
    )
    print("| card | rows | median ms | ratio | filtered ms | filtered ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    results: list[dict[str, Any]] = []
    for name, _ in cards:
        plain_ms, filtered_ms = statistics.median(plain[name]), statistics.median(filtered[name])
        results.append(
            {
                "card": name,
                "rows": rows[name],
                "median_ms": round(plain_ms, 2),
                "ratio": round(plain_ms / scan, 4),
                "filtered_median_ms": round(filtered_ms, 2),
                "filtered_ratio": round(filtered_ms / scan, 4),
            }
        )
        print(
            f"| {name} | {rows[name]} | {plain_ms:.1f} | {plain_ms / scan:.3f} "
            f"| {filtered_ms:.1f} | {filtered_ms / scan:.3f} |"
        )
    worst = max(max(float(result["ratio"]), float(result["filtered_ratio"])) for result in results)
    print(f"\nworst ratio {worst:.3f}: {'all cards under' if worst < GOAL else 'NOT all cards under'} {GOAL}")
    if args.json:
        args.json.write_text(json.dumps({"facts": facts, "cards": results}, indent=2, default=str))
    return 0 if worst < GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
