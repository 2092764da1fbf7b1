"""The approval API's settings, from the environment.

TIER0_PUBLIC_URL   tier0's public address (Linear issues link to {url}/tickets/{id})
TIER0_API_POOL     database connections the API keeps open (default 8)
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    public_url: str = Field(default="http://localhost:8000", alias="TIER0_PUBLIC_URL")
    pool_size: int = Field(default=8, ge=1, le=100, alias="TIER0_API_POOL")
