"""The demo's OPS replay (backend/demo_workday.py) on real Postgres: what people do follows the
labels, every change is an API action with its event, replies land in the folder, nothing runs twice."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from backend.demo_workday import LEAD_USER, OPS_USER, replay_ops_work
from backend.pipeline.process import PipelineConfig
from backend.policy.model import Policy
from backend.reporting.funnel import outcome_summary
from tests.pipeline.conftest import MAILBOX, MONDAY_10AM_CHICAGO, ingest
from tests.pipeline.fakes import make_email

pytestmark = pytest.mark.usefixtures("accounts")


def _write_draft(conn: psycopg.Connection, ticket_id: int, at: datetime) -> int:
    """Stands in for the KB's drafting: a pending draft for tier-0 tickets, dated `at`."""
    tier = conn.execute("select tier from tickets where ticket_id = %s", (ticket_id,)).fetchone()
    if tier is None or tier[0] != 0:
        return 0
    row = conn.execute(
        """insert into drafts (ticket_id, body, citations, generator, created_at)
           values (%s, 'Hi,\n\nReports > Export.\n\nPam support', %s, 'extractive', %s) returning draft_id""",
        (ticket_id, Jsonb([{"slug": "export", "version": 1, "url": "https://help.example/export"}]), at),
    ).fetchone()
    assert row is not None
    conn.execute(
        "insert into ticket_events (ticket_id, event_type, occurred_at, actor, data) values (%s, 'drafted', %s, 'kb', %s)",
        (ticket_id, at, Jsonb({"draft_id": row[0]})),
    )
    return int(row[0])


def _mail(number: int, body: str, hours: float) -> tuple[str, bytes]:
    raw = make_email(
        sender="Dana <dana@lakesideford.example>",
        subject=f"Question {number}",
        body=body,
        message_id=f"<q{number}@lakesideford.example>",
        date=MONDAY_10AM_CHICAGO + timedelta(hours=hours),
    )
    return f"{number:04d}.eml", raw


def _label(file: str, *requests: tuple[int, str]) -> dict[str, object]:
    return {
        "file": file,
        "requests": [
            {"tier": tier, "route": route, "category": "x", "product_area": "y", "integration": None}
            for tier, route in requests
        ],
    }


def _events(db: psycopg.Connection, ticket_id: int) -> list[tuple[str, str]]:
    rows = db.execute(
        "select event_type, actor from ticket_events where ticket_id = %s order by occurred_at, event_id", (ticket_id,)
    ).fetchall()
    return [(str(kind), str(actor)) for kind, actor in rows]


def _ticket(db: psycopg.Connection, file: str, index: int = 0) -> tuple[int, int, str]:
    row = db.execute(
        """select t.ticket_id, t.tier, t.route from tickets t join messages m on m.message_pk = t.message_pk
           where m.source_id = %s and t.request_index = %s""",
        (file, index),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), str(row[2])


def test_people_follow_the_labels_through_the_api_and_only_once(
    db: psycopg.Connection, config: PipelineConfig, policy: Policy, tmp_path: Path
) -> None:
    mails = [
        _mail(1, "How do I export? [how_to/dashboard]", 0),
        _mail(2, "Calls drop. [bug/pam_core]", 1),
        _mail(3, "How do I change this? [how_to/dashboard]", 2),
        _mail(4, "Two things. [how_to/dashboard] [how_to/dashboard]", 3),
    ]
    ingest(db, config, *mails)
    answered, tier0, _ = _ticket(db, "0001.eml")
    misrouted, tier2, route2 = _ticket(db, "0002.eml")
    needs_eng, _, _ = _ticket(db, "0003.eml")
    kept, extra = _ticket(db, "0004.eml", 0)[0], _ticket(db, "0004.eml", 1)[0]
    assert (tier0, tier2, route2) == (0, 2, "support-eng-core")  # what the policy routes the markers to
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "\n".join(
            json.dumps(label)
            for label in [
                _label("0001.eml", (0, "ai")),
                _label("0002.eml", (2, "support-eng-integrations")),  # the model picked the wrong tier-2 queue
                _label("0003.eml", (3, "product-eng")),  # needs engineering, not a KB answer
                _label("0004.eml", (0, "ai")),  # one request, split in two by the model
            ]
        ),
        encoding="utf-8",
    )

    report = replay_ops_work(
        db,
        policy,
        mailbox=MAILBOX,
        labels_path=labels,
        sent_folder=tmp_path / "sent",
        draft=_write_draft,
        end_after=timedelta(days=30),  # long enough for every ticket to be resolved
    )

    ops, lead = f"user:{OPS_USER}", f"user:{LEAD_USER}"
    # The AI answer was approved, sent, then resolved at tier 0 by the follow-up tracker (no reply back).
    answered_events = _events(db, answered)
    assert ("draft_approved", ops) in answered_events and ("reply_sent", "system") in answered_events
    assert db.execute("select status, resolved_tier from tickets where ticket_id = %s", (answered,)).fetchone() == (
        "resolved",
        0,
    )
    # Same tier, wrong queue: a re-assignment (a mis-route), then a reply by hand and a resolution.
    move = db.execute(
        "select from_route, to_route, actor from ticket_events where ticket_id = %s and event_type = 'misrouted'",
        (misrouted,),
    ).fetchall()
    assert move == [("support-eng-core", "support-eng-integrations", ops)]
    kinds = [kind for kind, _ in _events(db, misrouted)]
    assert kinds.index("misrouted") < kinds.index("human_reply_queued") < kinds.index("reply_sent")
    assert kinds[-1] == "resolved"
    # Tier 0 -> 3 skips tiers: the draft is rejected and the lead escalates.
    escalation = db.execute(
        """select from_tier, to_tier, to_route, actor from ticket_events
           where ticket_id = %s and event_type = 'escalated'""",
        (needs_eng,),
    ).fetchall()
    assert escalation[0] == (0, 3, "product-eng", lead)
    assert ("draft_rejected", ops) in _events(db, needs_eng)
    # The extra split is closed as part of the other request, without a reply.
    assert db.execute("select status from tickets where ticket_id = %s", (extra,)).fetchone() == ("resolved",)
    assert "reply_sent" not in [kind for kind, _ in _events(db, extra)]
    assert db.execute("select status from tickets where ticket_id = %s", (kept,)).fetchone() == ("resolved",)

    # Every reply that went out is a file in the folder; nothing was resolved before it was created.
    sent = db.execute("select count(*) from ticket_events where event_type = 'reply_sent'").fetchone()
    assert sent is not None and sent[0] == report.replies_written == len(list((tmp_path / "sent").iterdir()))
    assert db.execute("select count(*) from tickets where resolved_at < created_at").fetchone() == (0,)
    assert (report.reassigned, report.closed_as_part_of_another) == (1, 1)

    # The outcome summary `tier0 demo` prints reads the same story from the views.
    summary = outcome_summary(db)
    assert (summary.tickets, summary.open_tickets, summary.right_first_time) == (5, 0, 4)
    assert dict(summary.resolved_by_tier)[0] == 2  # the two AI answers nobody wrote back to
    assert summary.escalated - summary.escalated_on_breach == 2  # tier 0 -> 3, and the extra split 0 -> 1
    drafts = db.execute(
        """select count(distinct ticket_id), count(distinct ticket_id) filter (where status = 'rejected')
           from drafts where generator <> 'human'"""  # a reply by hand is stored as a 'human' draft
    ).fetchone()
    assert drafts is not None and (summary.tier0.drafted, summary.tier0.rejected) == drafts
    assert summary.tier0.rejected >= 1  # the draft on the request that needs engineering

    # A second run changes nothing.
    before = db.execute("select count(*) from ticket_events").fetchone()
    again = replay_ops_work(
        db, policy, mailbox=MAILBOX, labels_path=labels, sent_folder=tmp_path / "sent", draft=_write_draft
    )
    assert again.already_done
    assert db.execute("select count(*) from ticket_events").fetchone() == before
