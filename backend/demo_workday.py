"""The demo's second act: a simulated OPS team works the queue the sample mailbox filled, so the
human half of the funnel (Tier-0 approvals, re-assignments, escalations, replies, resolutions,
SLA outcomes) has data to show. Run once per database, after intake, by `tier0 demo`.

What is real and what is simulated:
  * Every change goes through the functions the approval API calls (backend/api/actions.py) as
    the users `demo-ops` (role ops) and `demo-lead` (lead); replies leave through the send outbox
    into a folder (FolderSender: nothing is sent); the SLA monitor and the Tier-0 follow-up
    tracker run on the simulated clock, exactly as their flows would.
  * WHAT the team does is decided by the mailbox's labels (labels.jsonl: the tier and route a
    person gave each request), not invented: a ticket the model routed to another queue at the
    same tier is re-assigned (a mis-route), one that belongs higher is escalated, one routed too
    high is moved down by the lead, an AI draft on a request that needs a person is rejected, and
    a ticket the labels do not know (an extra split) is closed as part of another request. So the
    right-first-time and escalation views measure the model against people's labels.
  * WHEN they do it is simulated, deterministically from each ticket's id (nothing random): a
    first look 5-45 business minutes after the email (2-8 wall minutes for a P1), a reply by
    hand 5-30 business minutes later (1-4 wall minutes for a P1), and a resolution after a
    handling time that grows with the tier (HANDLING_MINUTES below). Resolutions come after the
    customer's last email in the thread. Tickets whose resolution falls after the end of the
    simulated period stay open (the backlog). A Tier-0 answer the customer wrote back to is
    handed to OPS (escalated to tier 1). The SLA monitor runs every two simulated hours, so a
    ticket that breaches is escalated by it, as in production.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from backend.api import actions
from backend.api.actions import ActionContext
from backend.api.errors import ActionError
from backend.escalation.sla_monitor import check_slas
from backend.evaluation.triage_eval import match_requests
from backend.pipeline.tickets import sla_configs
from backend.policy.model import Policy
from backend.sending.config import DeliveryRules
from backend.sending.outbox import deliver_send_outbox
from backend.sending.senders import FolderSender
from backend.sla.calendar import BusinessCalendar
from backend.tier0.config import load_auto_send_config
from backend.tier0.drafting import deliver_draft_outbox
from backend.tier0.followup import track_tier0_resolutions
from backend.users.store import User, UserExistsError, add_user

OPS_USER = "demo-ops"
LEAD_USER = "demo-lead"

# Handling time after the first reply, in business minutes, by tier: (shortest, longest).
HANDLING_MINUTES = {1: (30, 240), 2: (240, 1440), 3: (960, 4800)}
P1_SPEEDUP = 4  # a P1 is worked this many times faster
SLA_MONITOR_EVERY = timedelta(hours=2)
END_AFTER_LAST_EMAIL = timedelta(days=2)
EDITED_SHARE = 0.2  # approvals where the person adds a line before sending


@dataclass
class WorkdayReport:
    already_done: bool = False
    drafts_written: int = 0
    drafts_approved: int = 0
    drafts_edited: int = 0
    drafts_rejected: int = 0
    replies_by_hand: int = 0
    replies_written: int = 0
    reassigned: int = 0
    escalated: int = 0
    deescalated: int = 0
    resolved: int = 0
    closed_as_part_of_another: int = 0
    left_open: int = 0
    sla_runs: int = 0
    sla_breaches: int = 0
    sla_escalations: int = 0
    tier0_assumed: int = 0
    tier0_verified: int = 0
    refused: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.already_done:
            return ["OPS replay: already run on this database (nothing changed)"]
        return [
            f"OPS replay (simulated timing; decisions from the mailbox's labels): {self.drafts_written} AI drafts, "
            f"{self.drafts_approved} approved ({self.drafts_edited} edited), {self.drafts_rejected} rejected",
            f"  {self.reassigned} re-assigned (mis-routes), {self.escalated} escalated by people, "
            f"{self.deescalated} moved down, {self.replies_by_hand} replies by hand, "
            f"{self.replies_written} replies written to the outbox folder",
            f"  {self.resolved} resolved by people, {self.closed_as_part_of_another} closed as part of another "
            f"request, {self.tier0_assumed} Tier-0 answers assumed resolved ({self.tier0_verified} verified), "
            f"{self.left_open} left open",
            f"  SLA monitor: {self.sla_runs} runs, {self.sla_breaches} breaches, "
            f"{self.sla_escalations} escalations on breach",
        ]


@dataclass(frozen=True)
class _Gold:
    tier: int
    route: str


@dataclass(order=True)
class _Step:
    at: datetime
    seq: int
    kind: str = field(compare=False)
    ticket_id: int = field(compare=False, default=0)


def _fraction(key: str) -> float:
    """A stable number in [0, 1) from a key: the simulation's only source of variety."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / 16**12


def _user(conn: psycopg.Connection, name: str, role: str) -> User:
    try:
        return add_user(conn, name, role).user
    except UserExistsError:
        row = conn.execute("select user_id, name, role from api_users where name = %s", (name,)).fetchone()
        assert row is not None
        return User(int(row[0]), row[1], row[2])


def _gold_by_ticket(
    conn: psycopg.Connection, mailbox: str, labels_path: Path
) -> tuple[dict[int, _Gold | None], dict[int, str]]:
    """Each ticket of the mailbox, matched to the labelled request it stands for (None: no such
    request, e.g. one request split in two), with the matching the evaluation uses; and each
    ticket's stable name (email file and request index: ids differ from one database to another)."""
    labels = {}
    for line in labels_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            labels[record["file"]] = record.get("requests") or []
    rows = conn.execute(
        """select m.source_id, t.ticket_id, t.category, t.product_area, t.route, t.integration
           from tickets t join messages m on m.message_pk = t.message_pk
           where m.mailbox = %s order by m.source_id, t.request_index""",
        (mailbox,),
    ).fetchall()
    by_file: dict[str, list[dict[str, Any]]] = {}
    names: dict[int, str] = {}
    for source_id, ticket_id, category, area, route, integration in rows:
        names[ticket_id] = f"{source_id}#{len(by_file.get(source_id, []))}"
        by_file.setdefault(source_id, []).append(
            {
                "ticket_id": ticket_id,
                "category": category,
                "product_area": area,
                "route": route,
                "integration": integration,
            }
        )
    gold: dict[int, _Gold | None] = {}
    for source_id, predicted in by_file.items():
        for pair in match_requests(labels.get(source_id, []), predicted):
            if pair.predicted is not None:
                match = pair.gold
                gold[pair.predicted["ticket_id"]] = _Gold(int(match["tier"]), match["route"]) if match else None
    return gold, names


class _Replay:
    def __init__(
        self,
        conn: psycopg.Connection,
        policy: Policy,
        gold: dict[int, _Gold | None],
        names: dict[int, str],
        sent_folder: Path,
    ):
        self.conn = conn
        self.policy = policy
        self.gold = gold
        self.names = names
        self.ops = _user(conn, OPS_USER, "ops")
        self.lead = _user(conn, LEAD_USER, "lead")
        self.hours = sla_configs(policy)[1]
        self.calendars: dict[str | None, BusinessCalendar] = {}
        self.sender = FolderSender(sent_folder)
        self.rules = DeliveryRules(from_address="support@pam.example")
        self.followup = load_auto_send_config(policy).followup
        self.report = WorkdayReport()
        self.queue: list[_Step] = []
        self.seq = 0

    # --- scheduling -------------------------------------------------------------------------

    def schedule(self, at: datetime, kind: str, ticket_id: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.queue, _Step(at, self.seq, kind, ticket_id))

    def vary(self, ticket_id: int, salt: str) -> float:
        """The same fraction for the same email and request in every database."""
        return _fraction(f"{self.names.get(ticket_id, str(ticket_id))}:{salt}")

    def later(self, ticket_id: int, start: datetime, salt: str, low: int, high: int, *, urgent: bool) -> datetime:
        minutes = low + (high - low) * self.vary(ticket_id, salt)
        if urgent:
            return start + timedelta(minutes=minutes / P1_SPEEDUP)
        return self.calendar(ticket_id).add_business_time(start, timedelta(minutes=minutes))

    def calendar(self, ticket_id: int) -> BusinessCalendar:
        """Business hours in the account's timezone, as the SLA clocks count them."""
        row = self.conn.execute(
            "select a.timezone from tickets t left join accounts a using (account_id) where t.ticket_id = %s",
            (ticket_id,),
        ).fetchone()
        timezone = row[0] if row else None
        if timezone not in self.calendars:
            try:
                self.calendars[timezone] = BusinessCalendar(self.hours, timezone)
            except ValueError:  # an unusable timezone: the SLA monitor falls back to the default too
                self.calendars[timezone] = BusinessCalendar(self.hours)
        return self.calendars[timezone]

    def reply_time(self, ticket_id: int, at: datetime, salt: str, priority: str) -> datetime:
        if priority == "P1":  # someone is paged: minutes on the wall clock
            return at + timedelta(minutes=1 + 3 * self.vary(ticket_id, salt))
        return self.later(ticket_id, at, salt, 5, 30, urgent=False)

    def ctx(self, at: datetime) -> ActionContext:
        return ActionContext(policy=self.policy, now=at, linear_issue_tiers=frozenset())

    # --- one ticket -------------------------------------------------------------------------

    def ticket(self, ticket_id: int) -> tuple[str, int, str, str, datetime, int]:
        row = self.conn.execute(
            "select status, tier, route, priority, created_at, conversation_id from tickets where ticket_id = %s",
            (ticket_id,),
        ).fetchone()
        assert row is not None
        return row[0], int(row[1]), row[2], row[3], row[4], int(row[5])

    def act(self, what: str, action: Callable[[], object]) -> bool:
        try:
            action()
        except ActionError as refused:  # e.g. the SLA monitor escalated it first: note and go on
            self.report.refused.append(f"{what}: {refused}")
            return False
        return True

    def first_look(self, ticket_id: int, at: datetime) -> None:
        status, tier, route, priority, _, _ = self.ticket(ticket_id)
        if status not in ("open", "pending_customer"):
            return
        gold = self.gold.get(ticket_id)
        ctx = self.ctx(at)
        draft = self.conn.execute(
            "select draft_id from drafts where ticket_id = %s and status = 'pending'", (ticket_id,)
        ).fetchone()
        if gold is None:
            self.close_as_part_of_another(ticket_id, tier, draft[0] if draft else None, ctx)
            return
        if tier == 0 and gold.tier == 0 and draft is not None:
            self.approve(ticket_id, int(draft[0]), ctx)
            return
        if tier == 0 and draft is not None:
            reason = f"needs a person ({gold.route}), not a knowledge-base answer"
            if self.act(
                "reject",
                lambda: actions.reject_draft(self.conn, ticket_id, int(draft[0]), self.ops, ctx, reason=reason),
            ):
                self.report.drafts_rejected += 1
        self.correct(ticket_id, tier, route, gold, ctx)
        self.schedule(self.reply_time(ticket_id, at, "reply", priority), "reply", ticket_id)

    def correct(self, ticket_id: int, tier: int, route: str, gold: _Gold, ctx: ActionContext) -> None:
        target_tier = max(gold.tier, 1)  # a person handles it now: at least tier 1
        target_route = gold.route if gold.tier >= 1 else None
        if target_tier > tier:
            user = self.lead if target_tier - tier > 1 else self.ops
            reason = "no knowledge-base answer" if tier == 0 and gold.tier == 0 else f"belongs to {gold.route}"
            if self.act(
                "escalate",
                lambda: actions.escalate(
                    self.conn, ticket_id, user, ctx, to_tier=target_tier, to_route=target_route, reason=reason
                ),
            ):
                self.report.escalated += 1
        elif target_tier < tier:
            if self.act(
                "deescalate",
                lambda: actions.deescalate(
                    self.conn,
                    ticket_id,
                    self.lead,
                    ctx,
                    to_tier=target_tier,
                    to_route=target_route,
                    reason=f"belongs to {gold.route}",
                ),
            ):
                self.report.deescalated += 1
        elif (
            target_route is not None
            and target_route != route
            and self.act(
                "reassign",
                lambda: actions.reassign(self.conn, ticket_id, self.ops, ctx, route=target_route, reason="wrong queue"),
            )
        ):
            self.report.reassigned += 1

    def approve(self, ticket_id: int, draft_id: int, ctx: ActionContext) -> None:
        edited = self.vary(ticket_id, "edit") < EDITED_SHARE
        body = None
        if edited:
            row = self.conn.execute("select body from drafts where draft_id = %s", (draft_id,)).fetchone()
            assert row is not None
            body = row[0].rstrip() + "\n\nIf anything is unclear, just reply to this email."
        if self.act("approve", lambda: actions.approve_draft(self.conn, ticket_id, draft_id, self.ops, ctx, body=body)):
            self.report.drafts_approved += 1
            self.report.drafts_edited += edited
            self.send(ctx.now)
            written_back = self.conn.execute(
                """select min(occurred_at) from ticket_events
                   where ticket_id = %s and event_type = 'customer_replied' and occurred_at > %s""",
                (ticket_id, ctx.now),
            ).fetchone()
            if written_back and written_back[0] is not None:  # the answer did not settle it
                self.schedule(
                    self.later(ticket_id, written_back[0], "back", 10, 90, urgent=False), "handover", ticket_id
                )

    def handover(self, ticket_id: int, at: datetime) -> None:
        status, tier, _, priority, _, _ = self.ticket(ticket_id)
        if status not in ("open", "pending_customer") or tier != 0:
            return
        if self.act(
            "escalate",
            lambda: actions.escalate(
                self.conn,
                ticket_id,
                self.ops,
                self.ctx(at),
                to_tier=1,
                reason="the customer wrote back after the AI answer",
            ),
        ):
            self.report.escalated += 1
            self.schedule(self.reply_time(ticket_id, at, "reply2", priority), "reply", ticket_id)

    def close_as_part_of_another(self, ticket_id: int, tier: int, draft_id: int | None, ctx: ActionContext) -> None:
        if draft_id is not None and self.act(
            "reject",
            lambda: actions.reject_draft(
                self.conn, ticket_id, draft_id, self.ops, ctx, reason="part of another request of the email"
            ),
        ):
            self.report.drafts_rejected += 1
        if tier == 0:
            self.act(
                "escalate",
                lambda: actions.escalate(
                    self.conn, ticket_id, self.ops, ctx, to_tier=1, reason="part of another request of the email"
                ),
            )
        if self.act(
            "resolve",
            lambda: actions.resolve(
                self.conn, ticket_id, self.ops, ctx, note="part of another request of the same email"
            ),
        ):
            self.report.closed_as_part_of_another += 1

    def reply(self, ticket_id: int, at: datetime) -> None:
        status, tier, route, priority, _, conversation_id = self.ticket(ticket_id)
        if status not in ("open", "pending_customer") or tier == 0:
            return
        body = (
            "Hello,\n\nThank you for writing. Your request is with our "
            f"{route} team; we are on it and will write again here when it is done.\n\nPam support"
        )
        if self.act("reply", lambda: actions.reply_by_hand(self.conn, ticket_id, self.ops, self.ctx(at), body=body)):
            self.report.replies_by_hand += 1
            self.send(at)
        low, high = HANDLING_MINUTES[tier]
        done = self.later(ticket_id, at, "resolve", low, high, urgent=priority == "P1")
        last_email = self.conn.execute(
            "select max(sent_at) from messages where conversation_id = %s", (conversation_id,)
        ).fetchone()
        if last_email and last_email[0] is not None:
            done = max(done, last_email[0] + timedelta(minutes=15))
        self.schedule(done, "resolve", ticket_id)

    def resolve(self, ticket_id: int, at: datetime) -> None:
        status, tier, _, _, _, _ = self.ticket(ticket_id)
        if status not in ("open", "pending_customer") or tier == 0:
            return
        if self.act("resolve", lambda: actions.resolve(self.conn, ticket_id, self.ops, self.ctx(at))):
            self.report.resolved += 1

    def send(self, at: datetime) -> None:
        sent = deliver_send_outbox(self.conn, self.sender, self.rules, now=at)
        self.report.replies_written += sum(1 for result in sent.results if result.outcome == "sent")

    def tick(self, at: datetime) -> None:
        run = check_slas(self.conn, self.policy, now=at)
        self.report.sla_runs += 1
        self.report.sla_breaches += len(run.breaches) + len(run.stale_breaches)
        self.report.sla_escalations += len(run.escalations)
        tracked = track_tier0_resolutions(self.conn, self.followup, now=at)
        self.report.tier0_assumed += len(tracked.assumed)
        self.report.tier0_verified += len(tracked.verified)


def replay_ops_work(
    conn: psycopg.Connection,
    policy: Policy,
    *,
    mailbox: str,
    labels_path: Path,
    sent_folder: Path,
    draft: Callable[[psycopg.Connection, int, datetime], object],
    end_after: timedelta = END_AFTER_LAST_EMAIL,
) -> WorkdayReport:
    """Work the mailbox's tickets as described in the module docstring; `conn` in autocommit.
    `draft(conn, ticket_id, at)` writes a ticket's Tier-0 draft dated `at` (the KB's drafting).
    The simulated period ends `end_after` the last email: later work is left undone (open)."""
    done = conn.execute(
        "select 1 from ticket_events where actor in (%s, %s) limit 1", (f"user:{OPS_USER}", f"user:{LEAD_USER}")
    ).fetchone()
    if done is not None:
        return WorkdayReport(already_done=True)
    gold, names = _gold_by_ticket(conn, mailbox, labels_path)
    replay = _Replay(conn, policy, gold, names, sent_folder)
    tickets = conn.execute(
        """select t.ticket_id, t.created_at, t.priority from tickets t join messages m on m.message_pk = t.message_pk
           where m.mailbox = %s and t.status = 'open' order by t.created_at, t.ticket_id""",
        (mailbox,),
    ).fetchall()
    if not tickets:
        return replay.report

    # Tier-0 drafting happens minutes after intake, each draft dated then.
    created_at: dict[int, datetime] = {int(ticket_id): created for ticket_id, created, _ in tickets}
    last_created: datetime = tickets[-1][1]
    drafted = deliver_draft_outbox(
        conn,
        draft=lambda c, ticket_id: draft(c, ticket_id, created_at.get(ticket_id, last_created) + timedelta(minutes=2)),
        # The pipeline queued the drafting rows at the real time of intake: all are due now.
        now=max(datetime.now(UTC), last_created + timedelta(minutes=5)),
        limit=len(tickets) + 100,
    )
    replay.report.drafts_written = drafted.count("drafted")

    for ticket_id, created, priority in tickets:
        look = replay.later(int(ticket_id), created, "look", 5, 45, urgent=False)
        if priority == "P1":
            look = created + timedelta(minutes=2 + 6 * replay.vary(int(ticket_id), "look"))
        replay.schedule(look, "look", int(ticket_id))
    end = last_created + end_after
    tick = tickets[0][1] + SLA_MONITOR_EVERY
    while tick <= end:
        replay.schedule(tick, "tick")
        tick += SLA_MONITOR_EVERY

    handlers: dict[str, Callable[[int, datetime], None]] = {
        "look": replay.first_look,
        "reply": replay.reply,
        "resolve": replay.resolve,
        "handover": replay.handover,
    }
    while replay.queue:
        step = heapq.heappop(replay.queue)
        if step.at > end:
            break
        if step.kind == "tick":
            replay.tick(step.at)
        else:
            handlers[step.kind](step.ticket_id, step.at)
    open_row = conn.execute(
        """select count(*) from tickets t join messages m on m.message_pk = t.message_pk
           where m.mailbox = %s and t.status in ('open', 'pending_customer')""",
        (mailbox,),
    ).fetchone()
    replay.report.left_open = int(open_row[0]) if open_row else 0
    return replay.report
