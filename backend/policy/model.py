"""The policy file's schema. Loading validates everything; a bad file fails at load, naming the
key and the value, so a team editing config/policy.yaml learns what is wrong before anything runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.paths import DEFAULT_POLICY_PATH
from backend.policy.errors import describe_validation_error
from backend.sla.config import BusinessHoursConfig, SlaConfig

Priority = Literal["P1", "P2", "P3", "P4"]
_SLUG = re.compile(r"^[a-z][a-z0-9_-]*$")


class PolicyError(Exception):
    """The policy file is invalid; the message names the key and the value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntegrationRule(_Strict):
    aliases: list[str] = Field(min_length=1)


class TierInfo(_Strict):
    name: str
    target_share: tuple[float, float]

    @field_validator("target_share")
    @classmethod
    def _share_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low <= high <= 1:
            raise ValueError(f"target_share must be two shares 0 <= low <= high <= 1, got {list(value)}")
        return value


class RouteInfo(_Strict):
    tier: int = Field(ge=0, le=3)
    description: str = ""


class TierRouting(_Strict):
    default: str
    by_product_area: dict[str, str] = Field(default_factory=dict)


class CategoryRule(_Strict):
    description: str
    default_priority: Priority
    default_tier: int = Field(ge=0, le=3)
    tier_by_product_area: dict[str, int] = Field(default_factory=dict)
    page_on_call: bool = False
    churn_signal_on_cancellation: bool = False


class RaiseReasons(_Strict):
    urgent_with_reason: bool = True
    churn_threat: bool = True
    account_new_days: int = Field(ge=0)
    account_renewal_within_days: int = Field(ge=0)


class RaiseRules(_Strict):
    max_levels: int = Field(ge=0, le=3)
    reasons: RaiseReasons


class PriorityRules(_Strict):
    levels: list[Priority]
    floors: dict[Literal["legal_or_security", "data_wrong_at_scale"], Priority] = Field(default_factory=dict)
    raise_: RaiseRules = Field(alias="raise")
    never_lower: list[str] = Field(default_factory=list)
    p1_min_tier: int = Field(ge=0, le=3)

    @field_validator("levels")
    @classmethod
    def _levels_in_order(cls, value: list[Priority]) -> list[Priority]:
        if value != ["P1", "P2", "P3", "P4"]:
            raise ValueError(f"levels must be [P1, P2, P3, P4], most urgent first, got {value}")
        return value


class TriageRules(_Strict):
    min_confidence: float = Field(ge=0, le=1)
    abstain_route: str


class ThreadingRules(_Strict):
    reopen_within_days: int = Field(ge=0)
    subject_fallback_days: int = Field(ge=0)


class Policy(_Strict):
    version: int
    product_areas: dict[str, str]
    integrations: dict[str, IntegrationRule]
    tiers: dict[int, TierInfo]
    routes: dict[str, RouteInfo]
    tier_routes: dict[int, TierRouting]
    categories: dict[str, CategoryRule]
    not_actionable_kinds: list[str]
    priority: PriorityRules
    business_hours: BusinessHoursConfig
    sla: SlaConfig
    triage: TriageRules
    threading: ThreadingRules
    # Sections owned by later capabilities; each capability validates its own section with its own
    # model when it loads (Linear mapping, notifications, Tier-0 auto-send, knowledge base).
    linear: dict[str, Any] = Field(default_factory=dict)
    notifications: dict[str, Any] = Field(default_factory=dict)
    auto_send: dict[str, Any] = Field(default_factory=dict)
    kb: dict[str, Any] = Field(default_factory=dict)

    @field_validator("product_areas", "categories", "routes", "integrations")
    @classmethod
    def _slugs(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not _SLUG.match(key):
                raise ValueError(f"{key!r} is not a valid name (lowercase letters, digits, _ or -)")
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> Policy:
        errors: list[str] = []
        if sorted(self.tiers) != [0, 1, 2, 3]:
            errors.append(f"tiers: must define tiers 0, 1, 2 and 3, got {sorted(self.tiers)}")
        for route, info in self.routes.items():
            if info.tier not in self.tiers:
                errors.append(f"routes.{route}.tier: unknown tier {info.tier}")
        for tier, routing in self.tier_routes.items():
            for where, route in [("default", routing.default), *routing.by_product_area.items()]:
                if route not in self.routes:
                    errors.append(f"tier_routes.{tier}.{where}: unknown route {route!r}")
                elif self.routes[route].tier != tier:
                    errors.append(
                        f"tier_routes.{tier}.{where}: route {route!r} belongs to tier {self.routes[route].tier}"
                    )
            for area in routing.by_product_area:
                if area not in self.product_areas:
                    errors.append(f"tier_routes.{tier}.by_product_area: unknown product area {area!r}")
        for tier in self.tiers:
            if tier not in self.tier_routes:
                errors.append(f"tier_routes: no route for tier {tier}")
        for name, rule in self.categories.items():
            for area, tier in rule.tier_by_product_area.items():
                if area not in self.product_areas:
                    errors.append(f"categories.{name}.tier_by_product_area: unknown product area {area!r}")
                if tier not in self.tiers:
                    errors.append(f"categories.{name}.tier_by_product_area.{area}: unknown tier {tier}")
        for name in self.priority.never_lower:
            if name not in self.categories:
                errors.append(f"priority.never_lower: unknown category {name!r}")
        if sorted(self.sla.targets) != sorted(self.priority.levels):
            errors.append(f"sla.targets: must define exactly {self.priority.levels}, got {sorted(self.sla.targets)}")
        if self.triage.abstain_route not in self.routes:
            errors.append(f"triage.abstain_route: unknown route {self.triage.abstain_route!r}")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # Convenience lookups used by the policy step and the classifiers.
    @property
    def category_names(self) -> list[str]:
        return list(self.categories)

    @property
    def product_area_names(self) -> list[str]:
        return list(self.product_areas)

    @property
    def route_names(self) -> list[str]:
        return list(self.routes)


def parse_policy(data: object, *, source: str = "policy") -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise PolicyError(f"invalid policy in {source}:\n{describe_validation_error(error)}") from error


def load_policy(path: Path | None = None) -> Policy:
    path = path or DEFAULT_POLICY_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise PolicyError(f"policy file not found: {path}") from error
    except yaml.YAMLError as error:
        raise PolicyError(f"policy file {path} is not valid YAML: {error}") from error
    return parse_policy(data, source=str(path))
