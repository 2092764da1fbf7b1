"""Gmail credentials from the environment, and the Gmail API client built from them.

Two ways in, chosen by which variable is set (setting both is refused as ambiguous):

- `GMAIL_TOKEN_FILE`: an OAuth "authorized user" JSON file as google-auth writes it
  (`Credentials.to_json()`: client_id, client_secret, refresh_token, ...). The access token is
  refreshed in memory from the refresh token; the file is only read.
- `GMAIL_SERVICE_ACCOUNT_FILE` + `GMAIL_DELEGATED_USER`: a service account key with Google Workspace
  domain-wide delegation, acting as the delegated user (a service account has no mailbox of its own,
  so the user is required).

Scopes: `gmail.modify` by default (reading plus adding the processed label), `gmail.readonly` when
`readonly=True` (no label is then possible). Every failure here is ours (configuration): it raises
`GmailAuthError`, whose message names the variables to set and never contains a token or key.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

GMAIL_MODIFY_SCOPE = "https://www.googleapis.com/auth/gmail.modify"
GMAIL_READONLY_SCOPE = "https://www.googleapis.com/auth/gmail.readonly"

TOKEN_FILE_VARIABLE = "GMAIL_TOKEN_FILE"
SERVICE_ACCOUNT_FILE_VARIABLE = "GMAIL_SERVICE_ACCOUNT_FILE"
DELEGATED_USER_VARIABLE = "GMAIL_DELEGATED_USER"


class GmailAuthError(Exception):
    """Our side: Gmail credentials are missing or unusable. The message says which variable to fix."""


@dataclass(frozen=True)
class GmailAuthConfig:
    token_file: Path | None = None
    service_account_file: Path | None = None
    delegated_user: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GmailAuthConfig:
        env = os.environ if env is None else env

        def path(variable: str) -> Path | None:
            value = env.get(variable, "").strip()
            return Path(value).expanduser() if value else None

        return cls(
            token_file=path(TOKEN_FILE_VARIABLE),
            service_account_file=path(SERVICE_ACCOUNT_FILE_VARIABLE),
            delegated_user=env.get(DELEGATED_USER_VARIABLE, "").strip() or None,
        )


def scopes_for(*, readonly: bool) -> list[str]:
    return [GMAIL_READONLY_SCOPE if readonly else GMAIL_MODIFY_SCOPE]


def load_credentials(
    env: Mapping[str, str] | None = None, *, readonly: bool = False
) -> Any:  # google.auth.credentials.Credentials (the library ships no type hints mypy can use)
    """Credentials for the Gmail API from `GMAIL_TOKEN_FILE` or a delegated service account."""
    config = GmailAuthConfig.from_env(env)
    scopes = scopes_for(readonly=readonly)
    if config.token_file and config.service_account_file:
        raise GmailAuthError(
            f"both {TOKEN_FILE_VARIABLE} and {SERVICE_ACCOUNT_FILE_VARIABLE} are set: set only one "
            "(an OAuth user token file, or a service account key with domain-wide delegation)"
        )
    if config.token_file:
        return _user_credentials(config.token_file, scopes)
    if config.service_account_file:
        if not config.delegated_user:
            raise GmailAuthError(
                f"{SERVICE_ACCOUNT_FILE_VARIABLE} is set but {DELEGATED_USER_VARIABLE} is not: a service account "
                "reads Gmail only through domain-wide delegation, as the mailbox user named there"
            )
        return _service_account_credentials(config.service_account_file, config.delegated_user, scopes)
    raise GmailAuthError(
        f"no Gmail credentials: set {TOKEN_FILE_VARIABLE} (an OAuth authorized-user JSON file) or "
        f"{SERVICE_ACCOUNT_FILE_VARIABLE} together with {DELEGATED_USER_VARIABLE} (a service account key "
        "with domain-wide delegation and the mailbox user to act as)"
    )


def _read_json(path: Path, variable: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GmailAuthError(f"{variable} points at a missing file: {path}") from None
    except (OSError, ValueError) as error:
        # The error text of a JSON decode can quote the file's content, which holds secrets: leave it out.
        raise GmailAuthError(f"{variable} file {path} is not readable JSON ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise GmailAuthError(f"{variable} file {path} does not hold a JSON object")
    return data


def _user_credentials(path: Path, scopes: list[str]) -> Any:
    from google.oauth2.credentials import Credentials

    info = _read_json(path, TOKEN_FILE_VARIABLE)
    if info.get("type", "authorized_user") != "authorized_user":
        raise GmailAuthError(
            f"{TOKEN_FILE_VARIABLE} file {path} is of type {info.get('type')!r}, not an authorized-user token "
            f"(a service account key belongs in {SERVICE_ACCOUNT_FILE_VARIABLE})"
        )
    missing = [key for key in ("client_id", "client_secret", "refresh_token") if not info.get(key)]
    if missing:
        raise GmailAuthError(
            f"{TOKEN_FILE_VARIABLE} file {path} lacks {', '.join(missing)}: it cannot be refreshed; "
            "create it again with an OAuth consent flow that requests offline access"
        )
    try:
        credentials = Credentials.from_authorized_user_info(info, scopes=scopes)
    except ValueError as error:
        raise GmailAuthError(f"{TOKEN_FILE_VARIABLE} file {path} is not a usable token: {error}") from None
    logger.info("Gmail credentials: OAuth user token from %s", path)
    return credentials


def _service_account_credentials(path: Path, delegated_user: str, scopes: list[str]) -> Any:
    from google.oauth2 import service_account

    info = _read_json(path, SERVICE_ACCOUNT_FILE_VARIABLE)
    if info.get("type") != "service_account":
        raise GmailAuthError(
            f"{SERVICE_ACCOUNT_FILE_VARIABLE} file {path} is of type {info.get('type')!r}, not a service account key"
        )
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=scopes)
    except ValueError as error:
        # google-auth's messages name the missing field, never the key material.
        raise GmailAuthError(f"{SERVICE_ACCOUNT_FILE_VARIABLE} file {path} is not a usable key: {error}") from None
    logger.info(
        "Gmail credentials: service account %s acting as %s", info.get("client_email", "?"), _redact(delegated_user)
    )
    return credentials.with_subject(delegated_user)


def _redact(address: str) -> str:
    local, at, domain = address.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


def build_gmail_service(credentials: Any) -> Any:
    """The Gmail API client (googleapiclient `Resource`) from the discovery document the library ships,
    so building it makes no network request."""
    from googleapiclient.discovery import build

    return build("gmail", "v1", credentials=credentials, cache_discovery=False, static_discovery=True)


def gmail_service_from_env(env: Mapping[str, str] | None = None, *, readonly: bool = False) -> Any:
    """Credentials from the environment, then the client: what `tier0 ingest --gmail` needs."""
    return build_gmail_service(load_credentials(env, readonly=readonly))
