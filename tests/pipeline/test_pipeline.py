"""The intake pipeline on real Postgres: every email ends in exactly one outcome, tickets carry the
policy's decisions and their history, and re-running never duplicates anything."""

from __future__ import annotations

from datetime import timedelta

from backend.pipeline.process import PipelineConfig
from tests.pipeline.conftest import MAILBOX, MONDAY_10AM_CHICAGO, ingest, message_row, request_email, tickets_of
from tests.pipeline.fakes import MarkerClassifier, make_email


def test_request_becomes_routed_ticket_with_history_outbox_and_sla(db, config, accounts) -> None:
    body = "Two things.\n[bug/dashboard]\nAlso:\n[integration_issue/integrations]\n"
    stored, report = ingest(db, config, ("0001.eml", request_email(body=body)))
    assert (stored.stored, report.processed, report.outcomes) == (1, 1, {"tickets_created": 1})
    assert message_row(db, "0001.eml")["kind"] == "request"
    assert message_row(db, "0001.eml")["account_id"] == "lakeside-ford"
    assert tickets_of(db, "0001.eml") == [
        ("bug", "dashboard", "P3", 3, "product-eng", False),
        ("integration_issue", "integrations", "P2", 2, "support-eng-integrations", False),
    ]
    events = db.execute("select ticket_id, event_type from ticket_events order by ticket_id, event_id").fetchall()
    first, second = sorted({ticket_id for ticket_id, _ in events})
    assert [e for t, e in events if t == first] == ["created", "classified", "routed"]
    assert [e for t, e in events if t == second] == ["created", "classified", "routed"]
    outbox = db.execute("select kind, ticket_id from outbox order by outbox_id").fetchall()
    # Tier 2/3 tickets get a Linear issue; every ticket is offered to drafting (open incidents).
    assert outbox == [("linear_issue", first), ("draft_reply", first), ("linear_issue", second),
                      ("draft_reply", second)]
    # P2 in Chicago on a Monday at 10:00: first response within 1 business hour.
    due = db.execute("select first_response_due_at from tickets where ticket_id = %s", (second,)).fetchone()
    assert due is not None and due[0] == MONDAY_10AM_CHICAGO + timedelta(hours=1)


def test_reingesting_the_same_mail_changes_nothing(db, config, accounts) -> None:
    ingest(db, config, ("0001.eml", request_email()))
    counts_before = db.execute(
        "select (select count(*) from messages), (select count(*) from tickets), (select count(*) from ticket_events),"
        " (select count(*) from outbox)"
    ).fetchone()
    stored, report = ingest(db, config, ("0001.eml", request_email()))
    assert (stored.stored, stored.already_stored, report.processed) == (0, 1, 0)
    counts_after = db.execute(
        "select (select count(*) from messages), (select count(*) from tickets), (select count(*) from ticket_events),"
        " (select count(*) from outbox)"
    ).fetchone()
    assert counts_before == counts_after == (1, 1, 3, 2)  # outbox: linear_issue + draft_reply


def test_followup_attaches_and_followup_with_new_request_creates_ticket(db, config, accounts) -> None:
    root = "<req-1@lakesideford.example>"
    chaser = make_email(
        sender="dana@lakesideford.example",
        subject="RE: Report page broken",
        body="Any update?",
        message_id="<re-1@lakesideford.example>",
        date=MONDAY_10AM_CHICAGO + timedelta(days=1),
        in_reply_to="<our-reply-1@pam.example>",
        references=[root, "<our-reply-1@pam.example>"],
    )
    new_ask = make_email(
        sender="dana@lakesideford.example",
        subject="RE: Report page broken",
        body="Thanks, fixed. Unrelated:\n[account_access/dashboard]",
        message_id="<re-2@lakesideford.example>",
        date=MONDAY_10AM_CHICAGO + timedelta(days=2),
        in_reply_to="<our-reply-2@pam.example>",
    )  # only our reply's id: learnt from the chaser
    _, report = ingest(
        db, config, ("0001.eml", request_email(message_id=root)), ("0002.eml", chaser), ("0003.eml", new_ask)
    )
    assert report.outcomes == {"tickets_created": 2, "followup_attached": 1}
    assert message_row(db, "0002.eml")["kind"] == "followup"
    assert message_row(db, "0002.eml")["followup_of"] == root
    assert message_row(db, "0003.eml")["kind"] == "followup_new"
    assert message_row(db, "0003.eml")["followup_of"] == root
    assert tickets_of(db, "0003.eml") == [("account_access", "dashboard", "P3", 0, "ai", False)]
    replied = db.execute("select count(*) from ticket_events where event_type = 'customer_replied'").fetchone()
    assert replied == (2,)  # both replies on the first ticket; the new request's ticket is created afterwards
    conversations = {message_row(db, f"000{i}.eml")["conversation_id"] for i in (1, 2, 3)}
    assert len(conversations) == 1


def test_automated_mail_never_creates_a_ticket(db, config, accounts) -> None:
    auto = make_email(
        sender="dana@lakesideford.example",
        subject="Automatic reply: Report page broken",
        body="I am out of the office until Monday.\n[bug/dashboard]",
        message_id="<ooo@lakesideford.example>",
        date=MONDAY_10AM_CHICAGO,
        headers={"Auto-Submitted": "auto-replied"},
    )
    _, report = ingest(db, config, ("0001.eml", auto))
    assert report.outcomes == {"automated": 1}
    row = message_row(db, "0001.eml")
    assert row["kind"] == "auto_reply" and "Auto-Submitted" in str(row["outcome_reason"])
    assert tickets_of(db, "0001.eml") == []


def test_unparseable_mail_is_kept_with_a_reason(db, config) -> None:
    _, report = ingest(db, config, ("garbage.eml", b"\x00\x01\x02 not an email \xff\xfe"))
    assert report.outcomes == {"failed": 1}
    row = message_row(db, "garbage.eml")
    assert row["outcome"] == "failed" and str(row["outcome_reason"]).startswith("unparseable")
    raw = db.execute("select raw from messages where source_id = 'garbage.eml'").fetchone()
    assert raw is not None and bytes(raw[0]) == b"\x00\x01\x02 not an email \xff\xfe"


def test_stranger_cannot_join_another_accounts_conversation(db, config, accounts) -> None:
    root = "<req-1@lakesideford.example>"
    hijack = make_email(
        sender="mallory@hilltopkia.example",
        subject="RE: Report page broken",
        body="[billing/billing]",
        message_id="<x@hilltopkia.example>",
        date=MONDAY_10AM_CHICAGO + timedelta(hours=2),
        in_reply_to=root,
        references=[root],
    )
    _, report = ingest(db, config, ("0001.eml", request_email(message_id=root)), ("0002.eml", hijack))
    row = message_row(db, "0002.eml")
    assert row["kind"] == "request" and row["followup_of"] is None
    assert row["conversation_id"] != message_row(db, "0001.eml")["conversation_id"]
    assert "belongs to account hilltop-kia" in str(row["outcome_reason"])
    assert report.outcomes == {"tickets_created": 2}


def test_followup_reopens_a_resolved_ticket_and_a_late_one_opens_a_linked_ticket(db, config, accounts) -> None:
    root = "<req-1@lakesideford.example>"
    ingest(db, config, ("0001.eml", request_email(message_id=root)))
    db.execute(
        "update tickets set status = 'resolved', resolved_at = %s, resolved_tier = tier",
        (MONDAY_10AM_CHICAGO + timedelta(days=1),),
    )
    soon = make_email(
        sender="dana@lakesideford.example",
        subject="RE: Report page broken",
        body="It is broken again",
        message_id="<re-1@lakesideford.example>",
        date=MONDAY_10AM_CHICAGO + timedelta(days=3),
        in_reply_to=root,
    )
    ingest(db, config, ("0002.eml", soon))
    assert db.execute("select status from tickets").fetchall() == [("open",)]
    assert db.execute("select count(*) from ticket_events where event_type = 'reopened'").fetchone() == (1,)

    db.execute(
        "update tickets set status = 'resolved', resolved_at = %s, resolved_tier = tier",
        (MONDAY_10AM_CHICAGO + timedelta(days=4),),
    )
    late = make_email(
        sender="dana@lakesideford.example",
        subject="RE: Report page broken",
        body="Broken again!",
        message_id="<re-2@lakesideford.example>",
        date=MONDAY_10AM_CHICAGO + timedelta(days=60),
        in_reply_to=root,
    )
    _, report = ingest(db, config, ("0003.eml", late))
    assert report.outcomes == {"tickets_created": 1}
    statuses = db.execute("select status from tickets order by ticket_id").fetchall()
    assert statuses == [("resolved",), ("open",)]
    link = db.execute("select data->>'previous_ticket_id' from ticket_events where event_type = 'linked_to_previous'")
    assert link.fetchall() == [(str(db.execute("select min(ticket_id) from tickets").fetchone()[0]),)]


def test_our_own_mail_is_not_a_request(db, config) -> None:
    ours = make_email(
        sender="Support <support@pam.example>",
        subject="RE: Report page broken",
        body="[bug/dashboard]",
        message_id="<our@pam.example>",
        date=MONDAY_10AM_CHICAGO,
    )
    _, report = ingest(db, config, ("0001.eml", ours))
    assert report.outcomes == {"not_actionable": 1}
    assert message_row(db, "0001.eml")["outcome_reason"] == "our own outbound message"


def test_policy_decides_priority_and_tier_not_the_email(db, config, accounts) -> None:
    # hilltop-kia started on 2026-09-01: within its first 30 days, so one level up.
    body = "[account_access/dashboard legal]\n[how_to/dashboard]\n[config_change/pam_core urgent churn]"
    _, _ = ingest(db, config, ("0001.eml", request_email(sender="ann@hilltopkia.example", body=body)))
    assert tickets_of(db, "0001.eml") == [
        ("account_access", "dashboard", "P1", 1, "ops", False),  # security floor P1; a P1 never stays at tier 0
        ("how_to", "dashboard", "P3", 0, "ai", False),  # new account: P4 -> P3, one level only
        ("config_change", "pam_core", "P2", 1, "ops", False),  # three reasons, still one level
    ]


def test_unsure_or_out_of_policy_labels_go_to_ops_flagged(db, config, accounts) -> None:
    body = "[outage/telephony unsure]\n[refund_request/billing]"
    ingest(db, config, ("0001.eml", request_email(body=body)))
    rows = db.execute("select category, route, tier, is_flagged_for_review from tickets order by request_index")
    assert rows.fetchall() == [("outage", "ops", 1, True), ("feedback", "ops", 1, True)]
    flagged = db.execute("select count(*) from ticket_events where event_type = 'flagged_for_review'").fetchone()
    assert flagged == (2,)


def test_email_with_no_recognised_request_still_becomes_a_flagged_ticket(db, config, accounts) -> None:
    ingest(db, config, ("0001.eml", request_email(body="Can someone call me back about the thing we discussed?")))
    assert tickets_of(db, "0001.eml") == [("feedback", "other", "P3", 1, "ops", True)]


def test_bare_thanks_without_conversation_is_not_actionable(db, config, accounts) -> None:
    _, report = ingest(db, config, ("0001.eml", request_email(body="Thanks!")))
    assert report.outcomes == {"not_actionable": 1}
    assert message_row(db, "0001.eml")["kind"] == "thanks"


def test_internal_error_is_recorded_and_reported(db, config, accounts, classifier) -> None:
    classifier.fail_with = RuntimeError("model file corrupted")
    _, report = ingest(db, config, ("0001.eml", request_email()))
    assert report.internal_errors == 1
    row = message_row(db, "0001.eml")
    assert row["outcome"] == "failed"
    assert row["outcome_reason"] == "internal error: RuntimeError: model file corrupted"
    assert db.execute("select count(*) from tickets").fetchone() == (0,)


def test_every_message_has_exactly_one_outcome_in_fct_messages(db, config, accounts) -> None:
    ingest(
        db,
        config,
        ("0001.eml", request_email()),
        ("0002.eml", b"garbage"),
        ("0003.eml", request_email(message_id="<r3@lakesideford.example>", body="Thanks!")),
    )
    rows = db.execute("select source_id, outcome from fct_messages order by source_id").fetchall()
    assert rows == [("0001.eml", "tickets_created"), ("0002.eml", "failed"), ("0003.eml", "not_actionable")]


def test_llm_calls_are_recorded_with_the_tickets_they_served(db, policy, accounts) -> None:
    from backend.pipeline.classifiers import LlmCallCollector
    from backend.triage.llm_calls import LlmCall

    collector = LlmCallCollector()

    class CostlyClassifier(MarkerClassifier):
        def triage(self, email):
            collector(LlmCall(model="claude-haiku", outcome="retry", http_status=529, error="overloaded"))
            collector(
                LlmCall(model="claude-haiku", outcome="ok", input_tokens=2000, output_tokens=300, cost_usd=0.0009)
            )
            return super().triage(email)

    config = PipelineConfig(policy, CostlyClassifier(), own_addresses=frozenset({MAILBOX}), llm_calls=collector)
    ingest(db, config, ("0001.eml", request_email(body="[bug/dashboard]\n[billing/billing]")))
    calls = db.execute("select outcome, cost_usd from llm_calls order by llm_call_id").fetchall()
    assert [(outcome, float(cost) if cost is not None else None) for outcome, cost in calls] == [
        ("retry", 0.0),
        ("ok", 0.0009),
    ]
    per_ticket = db.execute(
        "select ticket_id, sum(cost_share_usd) from llm_call_tickets group by ticket_id order by ticket_id"
    ).fetchall()
    assert [float(share) for _, share in per_ticket] == [0.00045, 0.00045]


def test_a_new_tier3_ticket_that_matches_an_open_incident_gets_its_message_as_draft(db, config, accounts) -> None:
    """Outages and bugs are routed to Tier 2/3, and those are the tickets an incident explains: the
    drafting outbox (queued for every new ticket) links them and drafts the incident message."""
    from backend.kb.incidents import open_incident
    from backend.tier0.drafting import deliver_draft_outbox, kb_draft_function

    incident = open_incident(db, product_area="dashboard", title="Dashboard outage",
                             customer_message="The dashboard is down for everyone; we are on it.")
    ingest(db, config, ("0001.eml", request_email(body="Hello\n[bug/dashboard]\n")))
    ((ticket_id, tier),) = db.execute("select ticket_id, tier from tickets").fetchall()
    assert tier == 3
    report = deliver_draft_outbox(db, draft=kb_draft_function(embedder=None))
    assert [result.outcome for result in report.results] == ["drafted"]
    draft = db.execute("select generator, status, body from drafts where ticket_id = %s", (ticket_id,)).fetchone()
    assert draft is not None and draft[:2] == ("incident", "pending")
    assert "The dashboard is down for everyone; we are on it." in draft[2]
    assert db.execute("select incident_id from ticket_incidents where ticket_id = %s", (ticket_id,)).fetchone() == (
        incident.incident_id,
    )
    assert db.execute("select tier from tickets where ticket_id = %s", (ticket_id,)).fetchone() == (3,)
