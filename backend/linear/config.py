"""The policy's `linear:` section (which Linear team, labels and priority a ticket's issue gets) and
the Linear secrets from the environment.

`load_linear_config(policy)` validates the section and cross-checks it against the rest of the
policy: every route named must exist and sit at a tier that gets a Linear issue, every category,
product area and integration given a label must exist. All failures here are "ours" (the
operator's configuration): a bad section raises `LinearConfigError` at load, naming the key and
value, so nothing half-configured ever reaches Linear.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.policy.errors import describe_validation_error

if TYPE_CHECKING:
    from backend.policy.model import Policy

OurPriority = Literal["P1", "P2", "P3", "P4"]


class LinearConfigError(ValueError):
    """The `linear:` policy section is invalid; the message names the key and the value."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelMapping(_Frozen):
    """Our taxonomy value -> the Linear label name put on the issue (unmapped values get no label)."""

    category: dict[str, str] = Field(default_factory=dict)
    product_area: dict[str, str] = Field(default_factory=dict)
    integration: dict[str, str] = Field(default_factory=dict)


class DeliveryRules(_Frozen):
    """How the outbox worker retries a failed delivery (only failures that can succeed on retry)."""

    max_attempts: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=60, gt=0)
    retry_max_seconds: float = Field(default=3600, gt=0)

    def retry_delay_seconds(self, attempts: int) -> float:
        """Exponential backoff after `attempts` failed attempts (1 -> base, 2 -> 2x base, ...)."""
        return float(min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(0, attempts - 1)))


class LinearConfig(_Frozen):
    # POLICY.md: "Tier-2 and tier-3 tickets get a Linear issue".
    issue_tiers: list[int] = Field(default=[2, 3], min_length=1)
    # Route -> Linear team key (the "ENG" of ENG-123) or team id.
    team_by_route: dict[str, str] = Field(min_length=1)
    # Our priority -> Linear's: 0 none, 1 urgent, 2 high, 3 medium, 4 low.
    priority: dict[OurPriority, int]
    labels: LabelMapping = Field(default_factory=LabelMapping)
    # How many earlier tickets of the same account the issue description links to.
    earlier_tickets: int = Field(default=5, ge=0, le=50)
    delivery: DeliveryRules = Field(default_factory=DeliveryRules)
    # Linear user ids our integration acts as: their comments are not mirrored back as notes.
    own_user_ids: list[str] = Field(default_factory=list)

    @field_validator("issue_tiers")
    @classmethod
    def _tiers(cls, value: list[int]) -> list[int]:
        for tier in value:
            if tier not in (0, 1, 2, 3):
                raise ValueError(f"{tier!r} is not a tier (0-3)")
        return value

    @field_validator("priority")
    @classmethod
    def _linear_priorities(cls, value: dict[str, int]) -> dict[str, int]:
        missing = sorted({"P1", "P2", "P3", "P4"} - set(value))
        if missing:
            raise ValueError(f"every priority needs a Linear priority; missing {missing}")
        for ours, theirs in value.items():
            if theirs not in (0, 1, 2, 3, 4):
                raise ValueError(f"{ours}: {theirs!r} is not a Linear priority (0 none, 1 urgent .. 4 low)")
        return value

    @field_validator("team_by_route")
    @classmethod
    def _team_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for route, team in value.items():
            if not team.strip():
                raise ValueError(f"{route}: empty Linear team")
        return value

    def team_for_route(self, route: str) -> str | None:
        return self.team_by_route.get(route)

    def linear_priority(self, priority: str) -> int:
        return self.priority[priority]  # type: ignore[index]  # validated: all of P1-P4 present


def parse_linear_config(section: object) -> LinearConfig:
    """Validate the `linear:` section on its own (no cross-check against the rest of the policy)."""
    try:
        return LinearConfig.model_validate(section)
    except ValidationError as error:
        details = describe_validation_error(error, section="linear")
        raise LinearConfigError(f"invalid linear section in the policy:\n{details}") from error


def load_linear_config(policy: Policy) -> LinearConfig:
    """The policy's `linear:` section, validated and cross-checked against the policy's names."""
    config = parse_linear_config(policy.linear)
    errors: list[str] = []
    for tier in config.issue_tiers:
        if tier not in policy.tiers:
            errors.append(f"linear.issue_tiers: unknown tier {tier}")
    for route in config.team_by_route:
        if route not in policy.routes:
            errors.append(f"linear.team_by_route: unknown route {route!r}")
        elif policy.routes[route].tier not in config.issue_tiers:
            errors.append(
                f"linear.team_by_route.{route}: route is at tier {policy.routes[route].tier}, "
                f"which gets no Linear issue (issue_tiers: {config.issue_tiers})"
            )
    for route, info in policy.routes.items():
        if info.tier in config.issue_tiers and route not in config.team_by_route:
            errors.append(f"linear.team_by_route: route {route!r} (tier {info.tier}) has no Linear team")
    known = {
        "category": set(policy.categories),
        "product_area": set(policy.product_areas),
        "integration": set(policy.integrations),
    }
    for kind, names in known.items():
        for name in getattr(config.labels, kind):
            if name not in names:
                errors.append(f"linear.labels.{kind}: unknown {kind.replace('_', ' ')} {name!r}")
    if errors:
        raise LinearConfigError("invalid linear section in the policy:\n" + "\n".join(errors))
    return config


class LinearSecrets(BaseSettings):
    """Linear credentials, from the environment only (never from a file we commit)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # A personal API key goes in `Authorization` as is (no "Bearer" prefix).
    api_key: SecretStr | None = Field(default=None, alias="LINEAR_API_KEY")
    # The signing secret shown when the webhook was created in Linear's settings.
    webhook_secret: SecretStr | None = Field(default=None, alias="LINEAR_WEBHOOK_SECRET")
