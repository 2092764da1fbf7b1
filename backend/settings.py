"""Configuration, read once from the environment (and an optional .env file).

Secrets (API keys) have no defaults and are never written to files we commit.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.paths import DEFAULT_POLICY_PATH, REPO_ROOT


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Any Postgres; when unset, tier0 runs its embedded Postgres in `data_dir`.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=REPO_ROOT / ".tier0", alias="TIER0_DATA_DIR")
    policy_path: Path = Field(default=DEFAULT_POLICY_PATH, alias="TIER0_POLICY")
    mailbox: str = Field(default="support@pam.example", alias="TIER0_MAILBOX")
    anthropic_api_key: SecretStr | None = Field(default=None, alias="ANTHROPIC_API_KEY")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
