"""A short load test of the approval API on loopback: p50 / p95 / p99 latency per endpoint.

    python -m backend.api.loadtest [--tickets 1000] [--requests 2000] [--seconds 20] [--concurrency 4]

What it does, in order:
1. starts a throwaway embedded Postgres (deleted afterwards) and migrates it;
2. seeds a queue: `--tickets` open tickets over 50 accounts (tiers, priorities and ages mixed so
   every SLA state occurs; a tenth waiting on the customer), each with created / classified /
   routed events, and a pending draft on every Tier-0 ticket; one OPS user;
3. runs the API in a separate process (uvicorn, one worker, as `tier0 api serve` does) on a free
   loopback port;
4. sends a bounded mix of requests from `--concurrency` threads, each with its own keep-alive
   httpx client: 30% queue listing (GET /tickets?limit=50, sorted by SLA risk over every open
   ticket), 50% ticket detail (GET /tickets/{id}), 20% approve (POST .../approve, each draft
   once), until `--requests` requests or `--seconds` seconds, whichever comes first;
5. prints a Markdown table (count, errors, p50, p95, p99, max in ms) and, with `--json`, writes it.

Latency is measured client-side around each request (time.perf_counter), so it includes HTTP and
JSON on both sides. The machine is shared and noisy: numbers are indicative, which is why this is
a script and not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from backend.db.schema import upgrade_database
from backend.db.server import temporary_database
from backend.users.store import add_user

ENDPOINTS = ("GET /tickets", "GET /tickets/{id}", "POST approve")

_SEED_SQL = """
insert into accounts (account_id, name, timezone, plan, mrr_usd, contract_start, renewal_date)
select 'acct-' || n, 'Dealer ' || n, (array['America/Chicago', 'America/New_York', 'America/Denver',
       'America/Los_Angeles'])[1 + n % 4], (array['starter', 'pro', 'enterprise'])[1 + n % 3], 500 + n * 37,
       now()::date - 400, now()::date + (n * 7) % 365
from generate_series(1, 50) as n;

insert into conversations (account_id, subject, subject_key, root_message_id, created_at, last_message_at)
select 'acct-' || (1 + n % 50), 'Question ' || n, 'question ' || n, '<load-' || n || '@dealer.example>',
       now() - (n % 600) * interval '1 minute', now() - (n % 600) * interval '1 minute'
from generate_series(1, %(tickets)s) as n;

insert into messages (mailbox, source_id, raw, raw_sha256, size_bytes, message_id, subject, from_address,
                      from_name, sent_at, account_id, conversation_id, body_text, reply_text, kind, outcome,
                      processed_at)
select 'support@pam.example', 'load-' || c.conversation_id, 'x', 'x', 1, c.root_message_id, c.subject,
       'contact' || c.conversation_id || '@dealer.example', 'Contact ' || c.conversation_id, c.created_at,
       c.account_id, c.conversation_id, 'How do I export the call report for last week?',
       'How do I export the call report for last week?', 'request', 'tickets_created', now()
from conversations c;

insert into tickets (conversation_id, message_pk, request_index, account_id, summary, request_text, category,
                     product_area, priority, tier, route, status, sentiment, confidence, classifier, model_version,
                     created_at)
select m.conversation_id, m.message_pk, 0, m.account_id, m.subject, m.reply_text,
       (array['how_to', 'config_change', 'integration_issue', 'bug'])[1 + m.message_pk % 4],
       (array['dashboard', 'pam_core', 'integrations', 'telephony'])[1 + m.message_pk % 4],
       (array['P4', 'P3', 'P2', 'P3'])[1 + m.message_pk % 4],
       (array[0, 1, 2, 2])[1 + m.message_pk % 4],
       (array['ai', 'ops', 'support-eng-integrations', 'support-eng-core'])[1 + m.message_pk % 4],
       case when m.message_pk % 10 = 7 then 'pending_customer' else 'open' end,
       'neutral', 0.9, 'load', 'load', m.sent_at
from messages m;

insert into ticket_events (ticket_id, event_type, occurred_at, to_tier, to_route, data)
select t.ticket_id, kind, t.created_at, case when kind = 'routed' then t.tier end,
       case when kind = 'routed' then t.route end, '{}'
from tickets t cross join unnest(array['created', 'classified', 'routed']) as kind;

insert into ticket_events (ticket_id, event_type, occurred_at, actor, data)
select ticket_id, 'waiting_on_customer', created_at + interval '5 minutes', 'user:seed', '{}'
from tickets where status = 'pending_customer';

insert into drafts (ticket_id, body, citations, generator)
select ticket_id, 'Hi,' || chr(10) || chr(10) || 'Open Reports, then Export.' || chr(10) || chr(10) || 'The Pam team',
       '[{"slug": "export-conversation-reports", "version": 1, "url": "https://help.pam.example/x"}]', 'extractive'
from tickets where tier = 0 and status = 'open';
"""


def seed(conn: psycopg.Connection, tickets: int) -> tuple[list[int], list[tuple[int, int]]]:
    """The queue to load: returns every ticket id and every (ticket id, pending draft id)."""
    with conn.transaction():
        for statement in _SEED_SQL.split(";\n"):
            if statement.strip():
                conn.execute(statement.replace("%(tickets)s", str(int(tickets))))
    ticket_ids = [int(row[0]) for row in conn.execute("select ticket_id from tickets order by ticket_id").fetchall()]
    drafts = [
        (int(row[0]), int(row[1]))
        for row in conn.execute("select ticket_id, draft_id from drafts where status = 'pending' order by draft_id")
    ]
    conn.execute("analyze")
    return ticket_ids, drafts


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def api_server(database_url: str) -> Iterator[str]:
    """The API in its own process (uvicorn, one worker) on a free loopback port; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("LINEAR_WEBHOOK_SECRET", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "backend.api.app:app_from_env",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the API process exited with code {process.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Samples:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, elapsed_ms: float, error: str | None) -> None:
        with self.lock:
            self.latencies_ms[endpoint].append(elapsed_ms)
            if error:
                self.errors[endpoint].append(error)


def run_load(
    base: str,
    token: str,
    ticket_ids: list[int],
    drafts: list[tuple[int, int]],
    *,
    requests: int,
    seconds: float,
    concurrency: int,
    seed_value: int = 7,
) -> tuple[Samples, float, int]:
    samples = Samples()
    budget = iter(range(requests))
    budget_lock = threading.Lock()
    draft_queue = list(drafts)
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    def take() -> bool:
        with budget_lock:
            return next(budget, None) is not None and time.monotonic() < deadline

    def next_draft() -> tuple[int, int] | None:
        with budget_lock:
            return draft_queue.pop() if draft_queue else None

    def worker(index: int) -> None:
        chooser = random.Random(seed_value + index)
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while take():
                roll = chooser.random()
                draft = next_draft() if roll >= 0.8 else None
                if draft is not None:
                    endpoint, method, url = "POST approve", "POST", f"/tickets/{draft[0]}/drafts/{draft[1]}/approve"
                elif roll < 0.3:
                    endpoint, method, url = "GET /tickets", "GET", "/tickets?limit=50"
                else:
                    endpoint, method, url = "GET /tickets/{id}", "GET", f"/tickets/{chooser.choice(ticket_ids)}"
                started = time.perf_counter()
                error = None
                try:
                    response = client.request(method, url)
                    if response.status_code != 200:
                        error = f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as failure:
                    error = f"{type(failure).__name__}: {failure}"
                samples.record(endpoint, (time.perf_counter() - started) * 1000, error)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(index,)) for index in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    total = sum(len(values) for values in samples.latencies_ms.values())
    return samples, elapsed, total


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation): the value at rank ceil(fraction * n)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarise(samples: Samples) -> list[dict[str, Any]]:
    rows = []
    for endpoint in ENDPOINTS:
        values = samples.latencies_ms.get(endpoint, [])
        if not values:
            continue
        rows.append(
            {
                "endpoint": endpoint,
                "requests": len(values),
                "errors": len(samples.errors.get(endpoint, [])),
                "p50_ms": round(percentile(values, 0.50), 1),
                "p95_ms": round(percentile(values, 0.95), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
                "max_ms": round(max(values), 1),
                "mean_ms": round(statistics.fmean(values), 1),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| endpoint | requests | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['endpoint']} | {row['requests']} | {row['errors']} | {row['p50_ms']} | {row['p95_ms']} | "
            f"{row['p99_ms']} | {row['max_ms']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1000, help="open tickets in the queue (default 1000)")
    parser.add_argument("--requests", type=int, default=2000, help="stop after this many requests (default 2000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="or after this many seconds (default 20)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    with temporary_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            upgrade_database(conn)
            ticket_ids, drafts = seed(conn, args.tickets)
            token = add_user(conn, "loadtest", "ops").token
        with api_server(url) as base:
            samples, elapsed, total = run_load(
                base,
                token,
                ticket_ids,
                drafts,
                requests=args.requests,
                seconds=args.seconds,
                concurrency=args.concurrency,
            )
    rows = summarise(samples)
    print(
        f"{total} requests in {elapsed:.1f} s ({total / elapsed:.0f}/s), concurrency {args.concurrency}, "
        f"{len(ticket_ids)} tickets in the queue, {len(drafts)} pending drafts"
    )
    print(markdown(rows))
    for endpoint, errors in samples.errors.items():
        print(f"{endpoint}: {len(errors)} errors, e.g. {errors[0]}", file=sys.stderr)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "requests": total,
                    "seconds": round(elapsed, 2),
                    "concurrency": args.concurrency,
                    "tickets": len(ticket_ids),
                    "endpoints": rows,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 1 if any(samples.errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
