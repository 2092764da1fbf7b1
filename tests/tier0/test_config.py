"""The policy's `auto_send:` section."""

from __future__ import annotations

import pytest

from backend.policy.model import load_policy
from backend.tier0.config import AutoSendConfigError, load_auto_send_config, parse_auto_send_config


def test_the_shipped_policy_auto_sends_nothing() -> None:
    config = load_auto_send_config(load_policy())
    assert set(config.categories) <= set(load_policy().categories)
    assert [name for name in config.categories if config.category(name) is not None] == []
    assert config.blocked_priorities == ["P1", "P2"]
    assert (config.followup.assume_resolved_after_hours, config.followup.verify_resolved_after_hours) == (24, 72)


def test_a_missing_section_means_off() -> None:
    config = parse_auto_send_config(None)
    assert config.categories == {} and config.category("how_to") is None
    assert config.generators == ["extractive", "claude"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"categories": {"how_to": {"enabled": True, "min_confidence": 1.5}}},
            "auto_send.categories.how_to.min_confidence: Input should be less than or equal to 1",
        ),
        ({"categories": {"how_to": {"enabeld": True}}}, "auto_send.categories.how_to.enabeld: Extra inputs"),
        ({"blocked_priorities": ["P5"]}, "auto_send.blocked_priorities.0: Input should be 'P1', 'P2', 'P3' or 'P4'"),
        ({"blocking_signals": ["angry"]}, "auto_send.blocking_signals.0"),
        ({"generators": ["gpt"]}, "auto_send.generators.0"),
        (
            {"followup": {"assume_resolved_after_hours": 72, "verify_resolved_after_hours": 24}},
            "verify_resolved_after_hours must be longer than assume_resolved_after_hours",
        ),
    ],
)
def test_invalid_sections_name_the_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(AutoSendConfigError, match="invalid auto_send section") as caught:
        parse_auto_send_config(section)
    assert message in str(caught.value)


def test_unknown_categories_are_refused() -> None:
    policy = load_policy().model_copy(update={"auto_send": {"categories": {"how-to": {"enabled": True}}}})
    with pytest.raises(AutoSendConfigError, match=r"auto_send\.categories: unknown category 'how-to'"):
        load_auto_send_config(policy)
