"""The policy's `auto_send:` section: which Tier-0 categories may send an AI answer with no human
approval, the guardrails every auto-sent answer must pass, and the follow-up windows that turn
an answer into an assumed, then verified, resolution.

Everything is off unless the file turns it on: a category missing from `categories`, or listed
with `enabled: false`, always waits for a person. Validated at load; a bad section raises
`AutoSendConfigError` naming the key and value (our failure: the operator's configuration).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from backend.policy.errors import describe_validation_error

if TYPE_CHECKING:
    from backend.policy.model import Policy

Priority = Literal["P1", "P2", "P3", "P4"]
Signal = Literal["urgent_with_reason", "churn_threat", "legal_or_security", "data_wrong_at_scale"]
Generator = Literal["extractive", "claude", "incident"]


class AutoSendConfigError(ValueError):
    """The `auto_send:` policy section is invalid; the message names the key and the value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryAutoSend(_Strict):
    enabled: bool = False
    # The classifier's confidence in the category must be at least this.
    min_confidence: float = Field(default=0.9, gt=0, le=1)


class FollowupRules(_Strict):
    # No customer reply this long after our answer: the ticket is assumed resolved.
    assume_resolved_after_hours: float = Field(default=24, gt=0)
    # Not reopened this long after our answer: the resolution is verified.
    verify_resolved_after_hours: float = Field(default=72, gt=0)

    @model_validator(mode="after")
    def _order(self) -> FollowupRules:
        if self.verify_resolved_after_hours <= self.assume_resolved_after_hours:
            raise ValueError(
                "verify_resolved_after_hours must be longer than assume_resolved_after_hours "
                f"(got {self.verify_resolved_after_hours} <= {self.assume_resolved_after_hours})"
            )
        return self


def _blocked_priorities() -> list[Priority]:
    return ["P1", "P2"]


def _all_signals() -> list[Signal]:
    return ["urgent_with_reason", "churn_threat", "legal_or_security", "data_wrong_at_scale"]


def _kb_generators() -> list[Generator]:
    return ["extractive", "claude"]


class AutoSendConfig(_Strict):
    categories: dict[str, CategoryAutoSend] = Field(default_factory=dict)
    # Guardrails: any of these keeps a ticket for a person, whatever its category says.
    blocked_priorities: list[Priority] = Field(default_factory=_blocked_priorities)
    blocking_signals: list[Signal] = Field(default_factory=_all_signals)
    blocked_sentiments: list[str] = Field(default_factory=lambda: ["negative"])
    # Which drafts may go out unreviewed: KB answers (extractive quotes, Claude grounded in
    # articles); known-incident messages only when listed.
    generators: list[Generator] = Field(default_factory=_kb_generators)
    followup: FollowupRules = FollowupRules()

    def category(self, name: str) -> CategoryAutoSend | None:
        rule = self.categories.get(name)
        return rule if rule is not None and rule.enabled else None


def parse_auto_send_config(section: object) -> AutoSendConfig:
    try:
        return AutoSendConfig.model_validate(section or {})
    except ValidationError as error:
        details = describe_validation_error(error, section="auto_send")
        raise AutoSendConfigError(f"invalid auto_send section in the policy:\n{details}") from error


def load_auto_send_config(policy: Policy) -> AutoSendConfig:
    """The policy's `auto_send:` section, validated, its categories checked against the policy's."""
    config = parse_auto_send_config(policy.auto_send)
    unknown = [name for name in config.categories if name not in policy.categories]
    if unknown:
        raise AutoSendConfigError(
            "invalid auto_send section in the policy:\n"
            + "\n".join(f"auto_send.categories: unknown category {name!r}" for name in unknown)
        )
    return config
