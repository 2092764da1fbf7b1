"""The policy's `notifications:` section: the shipped one is valid, mistakes are named at load,
secrets stay in the environment, and the on-call rotation hands over at the local time set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.notify.config import (
    DeliveryRules,
    NotifyConfigError,
    OnCallRotation,
    load_notifications_config,
    parse_notifications_config,
)
from backend.notify.notifiers import EmailNotifier, SlackWebhookNotifier, build_notifiers
from backend.policy.model import load_policy
from tests.notify.conftest import notifications_section

CHICAGO = ZoneInfo("America/Chicago")


def test_the_shipped_policy_section_is_valid_and_covers_every_human_queue() -> None:
    policy = load_policy()
    config = load_notifications_config(policy)
    assert set(config.events) == {"p1_created", "sla_breach"}
    human_routes = {route for route, info in policy.routes.items() if info.tier >= 1}
    assert set(config.queues) == human_routes
    for channel in config.channels.values():  # names of variables, never URLs or passwords
        for key, value in channel.model_dump().items():
            if key.endswith("_env") and value is not None:
                assert value.isupper() and "://" not in value


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"channels": {"slack": {"kind": "slack", "webhook_url_env": "https://hooks.slack.com/services/T/B/x"}}},
            "is not an environment variable name",
        ),
        ({"queues": {"ops": {"lead": "nobody"}}}, "queues.ops: unknown person 'nobody'"),
        ({"events": {"p1_created": {"channels": ["pager"], "notify": "on_call"}}}, "unknown channel 'pager'"),
        ({"events": {"disk_full": {"channels": ["slack"], "notify": "on_call"}}}, "notifications.events.disk_full"),
        (
            {"on_call": {"rotation": ["sam"], "starts_at": "Monday 9am", "timezone": "America/Chicago"}},
            "YYYY-MM-DDTHH:MM",
        ),
        ({"people": {"sam": {"name": "Sam", "email": "not an address"}}}, "is not an email address"),
    ],
)
def test_mistakes_are_named_at_load(change: dict[str, Any], message: str) -> None:
    with pytest.raises(NotifyConfigError, match=message):
        parse_notifications_config(notifications_section(**change))


def test_a_queue_must_be_a_route_of_the_policy() -> None:
    policy = load_policy()
    section = notifications_section(queues={"sales-team": {"lead": "maria"}})
    with pytest.raises(NotifyConfigError, match="unknown route 'sales-team'"):
        load_notifications_config(policy.model_copy(update={"notifications": section}))


def test_an_empty_section_means_no_notifications() -> None:
    config = parse_notifications_config({})
    assert config.events == {} and config.channels == {} and config.on_call is None


def test_on_call_hands_over_at_the_local_time_across_a_dst_change() -> None:
    rotation = OnCallRotation(
        rotation=["a", "b", "c"], shift_days=7, starts_at="2026-03-02T09:00", timezone="America/Chicago"
    )
    assert rotation.person_at(datetime(2026, 3, 2, 9, 0, tzinfo=CHICAGO)) == "a"
    assert rotation.person_at(datetime(2026, 3, 2, 8, 59, tzinfo=CHICAGO)) == "c"  # the shift before the first
    # DST starts on Sunday 2026-03-08; the handover stays at 09:00 local (14:00 UTC, no longer 15:00).
    assert rotation.person_at(datetime(2026, 3, 9, 13, 59, tzinfo=UTC)) == "a"
    assert rotation.person_at(datetime(2026, 3, 9, 14, 0, tzinfo=UTC)) == "b"
    assert rotation.person_at(datetime(2026, 3, 16, 9, 0, tzinfo=CHICAGO)) == "c"
    assert rotation.person_at(datetime(2026, 3, 23, 9, 0, tzinfo=CHICAGO)) == "a"


def test_retry_delay_doubles_up_to_the_cap() -> None:
    rules = DeliveryRules(max_attempts=6, retry_base_seconds=60, retry_max_seconds=300)
    assert [rules.retry_delay(n) for n in range(1, 6)] == [
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(seconds=240),
        timedelta(seconds=300),
        timedelta(seconds=300),
    ]


def test_notifiers_come_from_the_environment_variables_the_policy_names() -> None:
    config = parse_notifications_config(notifications_section())
    built = build_notifiers(
        config, {"TEST_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/secret", "TEST_SMTP_HOST": "relay"}
    )
    assert isinstance(built.notifiers["slack"], SlackWebhookNotifier)
    assert isinstance(built.notifiers["email"], EmailNotifier)
    assert built.unavailable == {}


def test_an_unset_variable_leaves_its_channel_out_and_says_which() -> None:
    config = parse_notifications_config(notifications_section())
    built = build_notifiers(config, {"TEST_SMTP_HOST": "relay"})
    assert set(built.notifiers) == {"email"}
    assert built.unavailable == {"slack": "environment variable TEST_SLACK_WEBHOOK_URL is not set"}
