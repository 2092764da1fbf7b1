"""Fixtures for the SLA tests: the default policy's two sections, read from config/policy.yaml."""

from __future__ import annotations

import pytest

from backend.paths import DEFAULT_POLICY_PATH
from backend.sla.config import BusinessHoursConfig, SlaConfig, load_sla_sections


@pytest.fixture(scope="session")
def default_sections() -> tuple[BusinessHoursConfig, SlaConfig]:
    return load_sla_sections(DEFAULT_POLICY_PATH)


@pytest.fixture(scope="session")
def default_hours(default_sections: tuple[BusinessHoursConfig, SlaConfig]) -> BusinessHoursConfig:
    return default_sections[0]


@pytest.fixture(scope="session")
def default_sla(default_sections: tuple[BusinessHoursConfig, SlaConfig]) -> SlaConfig:
    return default_sections[1]
