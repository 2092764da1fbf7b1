"""Exact rows of the marts over the hand-made history (tests/views/handmade.py explains each ticket).

Every expected number below was worked out by hand from the history and the policy's business hours,
not copied from a query result; the comments show the arithmetic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg


def rows(conn: psycopg.Connection, query: str) -> list[tuple]:  # type: ignore[type-arg]
    return [tuple(row) for row in conn.execute(query).fetchall()]  # type: ignore[arg-type]


def test_tickets_mart_routing_times_and_outcomes(marts: psycopg.Connection) -> None:
    got = rows(
        marts,
        """select ticket_id, first_tier, first_route, final_tier, final_route, resolving_tier, escalation_count,
                  misroute_count, reopen_count, first_response_wall_hours, first_response_business_hours,
                  resolution_wall_hours, resolution_business_hours, first_response_sla, resolution_sla
           from fct_tickets order by ticket_id""",
    )
    d = Decimal
    assert got == [
        # Mon 09:00 CST -> 10:00 (1 h); resolved Tue 10:00: Mon 09-18 (9 h) + Tue 08-10 (2 h) = 11 business h.
        (101, 0, "ai", 0, "ai", 0, 0, 0, 0, d("1.0000"), d("1.0000"), d("25.0000"), d("11.0000"), "met", "met"),
        # Saturday 12:00 CST, open until 13:00: one minute to answer, 30 minutes to resolve.
        (102, 0, "ai", 0, "ai", 0, 0, 0, 0, d("0.0167"), d("0.0167"), d("0.5000"), d("0.5000"), "met", "met"),
        # Fri 17:00 EST: Fri 17-18 (1) + Sat 08-13 (5) + Mon 08-10 EDT (2) = 8 business h in 64 wall h.
        (103, 0, "ai", 1, "ops", 1, 1, 0, 0, d("64.0000"), d("8.0000"), d("70.0000"), d("14.0000"), "met", "met"),
        # Tue 08:30 CDT -> Thu 08:30: 9.5 + 10 + 0.5 = 20 business h; reopened once.
        (104, 1, "ops", 1, "ops", 1, 0, 0, 1, d("3.0000"), d("3.0000"), d("48.0000"), d("20.0000"), "met", "met"),
        # First response at 11:30 EDT, due 11:00 (and an sla_breach event): breached.
        (
            105,
            2,
            "support-eng-core",
            2,
            "support-eng-integrations",
            2,
            0,
            1,
            0,
            d("1.5000"),
            d("1.5000"),
            d("24.0000"),
            d("10.0000"),
            "breached",
            "met",
        ),
        # Never answered, both due times long past.
        (106, 2, "support-eng-core", 3, "product-eng", None, 1, 0, 0, None, None, None, None, "breached", "breached"),
        # No account: America/Chicago. Fri 22:00 CDT to Sat 04:00: closed all along, 0 business hours.
        (
            107,
            2,
            "support-eng-core",
            2,
            "support-eng-core",
            2,
            0,
            0,
            0,
            d("0.1667"),
            d("0.0000"),
            d("6.0000"),
            d("0.0000"),
            "met",
            "breached",
        ),
        # Waiting on the customer: the resolution clock is paused (no due time), still open.
        (108, 1, "ops", 1, "ops", None, 0, 0, 0, d("0.5000"), d("0.5000"), None, None, "met", "open"),
    ]


def test_tickets_mart_tier0_cost_and_knowledge(marts: psycopg.Connection) -> None:
    got = rows(
        marts,
        """select ticket_id, draft_count, is_draft_approved, is_draft_edited, is_draft_rejected, is_auto_sent,
                  is_assumed_resolved, is_verified_resolved, is_human_handled, has_kb_answer, llm_call_count,
                  llm_cost_usd
           from fct_tickets order by ticket_id""",
    )
    assert got == [
        (101, 1, True, True, False, False, True, True, False, True, 2, Decimal("0.01300000")),
        (102, 1, False, False, False, True, False, False, False, True, 0, Decimal("0")),
        # The only KB draft was rejected: no KB answer; a person (ops) handled it.
        (103, 1, False, False, True, False, False, False, True, False, 0, Decimal("0")),
        (104, 0, False, False, False, False, False, False, True, False, 1, Decimal("0.00200000")),
        (105, 0, False, False, False, False, False, False, True, False, 1, Decimal("0.00200000")),
        (106, 0, False, False, False, False, False, False, True, False, 0, Decimal("0")),
        (107, 0, False, False, False, False, False, False, True, False, 0, Decimal("0")),
        (108, 0, False, False, False, False, False, False, True, False, 0, Decimal("0")),
    ]


def test_ticket_events_mart(marts: psycopg.Connection) -> None:
    assert rows(marts, "select count(*), count(distinct ticket_id) from fct_ticket_events") == [(48, 8)]
    assert rows(
        marts,
        """select ticket_id, account_id, category, from_tier, to_tier, from_route, to_route, hours_since_created
           from fct_ticket_events where is_escalation or is_misroute order by event_id""",
    ) == [
        (103, "bay-kia", "how_to", 0, 1, "ai", "ops", Decimal("63.0000")),
        (105, "bay-kia", "integration_issue", 2, 2, "support-eng-core", "support-eng-integrations", Decimal("0.5000")),
        (106, "acme-ford", "bug", 2, 3, "support-eng-core", "product-eng", Decimal("19.0000")),
    ]
    assert rows(
        marts, "select sla_clock, count(*) from fct_ticket_events where sla_clock is not null group by 1 order by 1"
    ) == [
        ("first_response", 2),
        ("resolution", 1),
    ]


def test_funnel_by_month_and_week(marts: psycopg.Connection) -> None:
    got = rows(
        marts,
        """select period_grain, period_start, program_month, requests,
                  entered_tier_0, entered_tier_1, entered_tier_2, entered_tier_3,
                  resolved_tier_0, resolved_tier_1, resolved_tier_2, resolved_tier_3, unresolved,
                  tier_0_share_low, tier_0_share_high, tier_0_plan_target
           from mart_funnel where period_grain in ('week', 'month') order by period_grain, period_start""",
    )
    share = (Decimal("0.25"), Decimal("0.4"))
    assert got == [
        # 101, 102, 103 entered at tier 0; 104, 108 at 1; 105, 106, 107 at 2. 106 and 108 are unresolved.
        ("month", date(2024, 3, 1), 1, 8, 3, 2, 3, 0, 2, 2, 2, 0, 2, *share, None),
        ("week", date(2024, 3, 4), 1, 3, 3, 0, 0, 0, 2, 1, 0, 0, 0, *share, None),
        ("week", date(2024, 3, 11), 1, 4, 0, 1, 3, 0, 0, 1, 2, 0, 1, *share, None),
        ("week", date(2024, 3, 18), 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, *share, None),
    ]
    assert rows(marts, "select count(*), sum(requests) from mart_funnel where period_grain = 'day'") == [(8, 8)]


def test_funnel_tier0_rates(marts: psycopg.Connection) -> None:
    got = rows(
        marts,
        """select period_grain, period_start, drafted, draft_approved, draft_edited, draft_rejected, auto_sent,
                  assumed_resolved, verified_resolved, draft_rate, draft_approval_rate, draft_edit_rate,
                  draft_rejection_rate, auto_sent_rate, assumed_resolution_rate, verified_resolution_rate
           from mart_funnel where period_grain in ('week', 'month') order by period_grain, period_start""",
    )
    third, eighth = Decimal(1) / 3, Decimal(1) / 8
    assert [row[:9] for row in got] == [
        # 101 (approved after an edit, assumed and verified resolved), 102 (auto-sent), 103 (rejected).
        ("month", date(2024, 3, 1), 3, 1, 1, 1, 1, 1, 1),
        ("week", date(2024, 3, 4), 3, 1, 1, 1, 1, 1, 1),
        ("week", date(2024, 3, 11), 0, 0, 0, 0, 0, 0, 0),
        ("week", date(2024, 3, 18), 0, 0, 0, 0, 0, 0, 0),
    ]
    def r(value: Decimal) -> Decimal:
        return round(value, 6)

    rates = [tuple(None if value is None else r(value) for value in row[9:]) for row in got]
    assert rates == [
        # month: 3 of 8 drafted; 1 of 3 approved, that 1 edited; 1 of 3 rejected; 1 of 8 auto-sent,
        # assumed and verified.
        (r(3 * eighth), r(third), r(Decimal(1)), r(third), r(eighth), r(eighth), r(eighth)),
        # the week of 101-103: all 3 drafted.
        (r(Decimal(1)), r(third), r(Decimal(1)), r(third), r(third), r(third), r(third)),
        # no drafts: the draft-based rates have no denominator.
        (r(Decimal(0)), None, None, None, r(Decimal(0)), r(Decimal(0)), r(Decimal(0))),
        (r(Decimal(0)), None, None, None, r(Decimal(0)), r(Decimal(0)), r(Decimal(0))),
    ]
    daily = rows(marts, "select sum(drafted), sum(draft_rejected), sum(auto_sent), sum(verified_resolved) from funnel_daily")
    assert daily == [(3, 1, 1, 1)]


def test_resolution_times_per_tier(marts: psycopg.Connection) -> None:
    got = rows(
        marts,
        """select resolving_tier, resolved, median_wall_hours, p90_wall_hours, median_business_hours, p90_business_hours
           from mart_resolution_times where account_key = '*' and route_key = '*' order by tier_key""",
    )
    d = Decimal
    assert got == [
        # all tiers ('*' sorts first): six resolved tickets, wall 0.5, 6, 24, 25, 48, 70 hours: median
        # (24 + 25) / 2, p90 48 + 0.5 * 22; business 0, 0.5, 10, 11, 14, 20
        (None, 6, d("24.50"), d("59.00"), d("10.50"), d("17.00")),
        # tier 0: 101 (25 h wall, 11 business), 102 (0.5, 0.5): p90 = 0.5 + 0.9 * (25 - 0.5) = 22.55
        (0, 2, d("12.75"), d("22.55"), d("5.75"), d("9.95")),
        # tier 1: 103 (70, 14), 104 (48, 20): p90 = 48 + 0.9 * 22 = 67.8; 14 + 0.9 * 6 = 19.4
        (1, 2, d("59.00"), d("67.80"), d("17.00"), d("19.40")),
        # tier 2: 105 (24, 10), 107 (6, 0)
        (2, 2, d("15.00"), d("22.20"), d("5.00"), d("9.00")),
    ]
    assert rows(
        marts,
        """select route_key, tier_key, resolved, median_business_hours from mart_resolution_times
           where account_key = 'bay-kia' order by route_key, tier_key""",
    ) == [
        ("*", "*", 2, Decimal("12.00")),
        ("*", "1", 1, Decimal("14.00")),
        ("*", "2", 1, Decimal("10.00")),
        ("ai", "*", 1, Decimal("14.00")),
        ("ai", "1", 1, Decimal("14.00")),
        ("support-eng-core", "*", 1, Decimal("10.00")),
        ("support-eng-core", "2", 1, Decimal("10.00")),
    ]


def test_escalation_paths(marts: psycopg.Connection) -> None:
    assert rows(marts, "select * from mart_escalation_paths order by account_key, escalated_on") == [
        (date(2024, 3, 11), "*", "how_to", 0, "ai", 1, "ops", 1, 1),
        (date(2024, 3, 15), "*", "bug", 2, "support-eng-core", 3, "product-eng", 1, 1),
        (date(2024, 3, 15), "acme-ford", "bug", 2, "support-eng-core", 3, "product-eng", 1, 1),
        (date(2024, 3, 11), "bay-kia", "how_to", 0, "ai", 1, "ops", 1, 1),
    ]


def test_ticket_daily_measures(marts: psycopg.Connection) -> None:
    got = rows(
        marts,
        """select sum(requests), sum(resolved), sum(escalated_tickets), sum(misrouted_tickets),
                  sum(first_response_met), sum(first_response_breached), sum(resolution_met),
                  sum(resolution_breached), sum(resolution_open), sum(drafted), sum(draft_approved),
                  sum(draft_edited), sum(draft_rejected), sum(auto_sent), sum(assumed_resolved),
                  sum(verified_resolved), sum(human_handled), sum(human_handled_without_kb_answer),
                  sum(human_business_hours_without_kb_answer), sum(llm_cost_usd)
           from mart_ticket_daily where account_key = '*'""",
    )
    # human without a KB answer: 103-108 (all six); their resolution business hours 14 + 20 + 10 + 0.
    assert got == [(8, 6, 2, 1, 6, 2, 5, 2, 1, 3, 1, 1, 1, 1, 1, 1, 6, 6, Decimal("44.0000"), Decimal("0.01700000"))]
    assert rows(
        marts,
        """select account_key, sum(requests), sum(resolved_at_first_tier) from mart_ticket_daily
           where account_key <> '*' group by account_key order by account_key""",
    ) == [("(none)", 1, 1), ("acme-ford", 4, 3), ("bay-kia", 3, 1)]


def test_intake_daily_coverage_and_failures(marts: psycopg.Connection) -> None:
    assert rows(
        marts,
        """select sum(emails), sum(actionable), sum(actionable_with_ticket), sum(not_actionable), sum(automated),
                  sum(followups), sum(failed), sum(tickets_created)
           from mart_intake_daily where account_key = '*'""",
    ) == [(15, 9, 8, 5, 4, 1, 1, 8)]
    assert rows(
        marts,
        """select sent_on, kind, outcome, failure_reason, emails from mart_intake_daily
           where account_key = '*' and sent_on <= '2024-03-05' order by sent_on, kind""",
    ) == [
        (date(2024, 3, 4), "auto_reply", "automated", "", 1),
        (date(2024, 3, 4), "bounce", "automated", "", 1),
        (date(2024, 3, 4), "request", "tickets_created", "", 1),
        (date(2024, 3, 5), "newsletter", "automated", "", 1),
        (date(2024, 3, 5), "request", "failed", "classifier", 1),
        (date(2024, 3, 5), "spam", "automated", "", 1),
        (date(2024, 3, 5), "thanks", "not_actionable", "", 1),
    ]


def test_llm_cost_and_freshness(marts: psycopg.Connection) -> None:
    assert rows(
        marts,
        "select called_on, model, purpose, outcome, calls, unpriced_calls, cost_usd from mart_llm_cost_daily order by 1, 2, 4",
    ) == [
        (date(2024, 3, 4), "claude-haiku-4-5", "triage", "ok", 1, 0, Decimal("0.00300000")),
        (date(2024, 3, 4), "claude-sonnet-4-5", "draft", "ok", 1, 0, Decimal("0.01000000")),
        (date(2024, 3, 13), "claude-haiku-4-5", "triage", "ok", 1, 0, Decimal("0.00400000")),
        (date(2024, 3, 13), "claude-haiku-4-5", "triage", "retry", 1, 1, Decimal("0")),
    ]
    assert rows(
        marts,
        """select checked_on, checks, stale_checks, max_lag_minutes, last_lag_minutes, is_last_check_stale
           from mart_mail_freshness_daily order by checked_on""",
    ) == [
        (date(2024, 3, 4), 2, 1, Decimal("20.00"), Decimal("20.00"), True),
        (date(2024, 3, 5), 1, 0, Decimal("1.00"), Decimal("1.00"), False),
    ]


def test_kb_coverage_and_targets(marts: psycopg.Connection) -> None:
    # Every policy category; the runbook also applies to the integration "tekion", which is not one.
    assert rows(marts, "select * from mart_kb_coverage order by category") == [
        ("account_access", 0, 1),
        ("ai_behavior", 0, 0),
        ("billing", 0, 0),
        ("bug", 0, 0),
        ("config_change", 0, 0),
        ("feature_request", 0, 0),
        ("feedback", 0, 0),
        ("how_to", 1, 0),
        ("integration_issue", 0, 0),
        ("onboarding", 0, 0),
        ("outage", 0, 0),
    ]
    # Baseline: tickets of program months 1-3 (from 2024-03) resolved in 11, 0.5, 14, 20, 10, 0 business
    # hours: median 10.5; 30% faster = 7.35.
    assert rows(marts, "select low, high from mart_targets where target_key = 'resolution_business_hours_median'") == [
        (None, Decimal("7.35"))
    ]
    assert rows(
        marts,
        "select program_month, low from mart_targets where target_key = 'tier_0_share_by_program_month' order by 1",
    ) == [(3, Decimal("0.1")), (6, Decimal("0.25")), (12, Decimal("0.4"))]


def test_policy_routes(marts: psycopg.Connection) -> None:
    assert rows(marts, "select route, tier from mart_policy_routes order by tier, route") == [
        ("ai", 0),
        ("ops", 1),
        ("support-eng-core", 2),
        ("support-eng-integrations", 2),
        ("product-eng", 3),
    ]
