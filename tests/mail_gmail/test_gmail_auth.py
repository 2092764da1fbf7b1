"""Gmail credentials from the environment: which variables, which errors, and no secret in them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from backend.mail.gmail_auth import (
    GMAIL_MODIFY_SCOPE,
    GMAIL_READONLY_SCOPE,
    GmailAuthError,
    build_gmail_service,
    load_credentials,
)

CLIENT_SECRET = "client-secret-do-not-log"
REFRESH_TOKEN = "1//refresh-token-do-not-log"


def user_token_file(tmp_path: Path, **overrides: object) -> Path:
    info: dict[str, object] = {
        "type": "authorized_user",
        "client_id": "1234.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "token": "ya29.access-token-do-not-log",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    info.update(overrides)
    path = tmp_path / "token.json"
    path.write_text(json.dumps({key: value for key, value in info.items() if value is not None}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def service_account_file(tmp_path: Path, private_key_pem: str) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "tier0-test",
                "private_key_id": "abc123",
                "private_key": private_key_pem,
                "client_email": "tier0-sync@tier0-test.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        ),
        encoding="utf-8",
    )
    return path


def test_no_variables_names_all_of_them() -> None:
    with pytest.raises(GmailAuthError) as raised:
        load_credentials({})
    message = str(raised.value)
    for variable in ("GMAIL_TOKEN_FILE", "GMAIL_SERVICE_ACCOUNT_FILE", "GMAIL_DELEGATED_USER"):
        assert variable in message


def test_user_token_file_gives_refreshable_credentials(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = load_credentials({"GMAIL_TOKEN_FILE": str(user_token_file(tmp_path))})
    assert credentials.refresh_token == REFRESH_TOKEN
    assert credentials.scopes == [GMAIL_MODIFY_SCOPE]
    assert str(tmp_path) in caplog.text
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, "ya29."):
        assert secret not in caplog.text


def test_readonly_asks_for_the_readonly_scope(tmp_path: Path) -> None:
    credentials = load_credentials({"GMAIL_TOKEN_FILE": str(user_token_file(tmp_path))}, readonly=True)
    assert credentials.scopes == [GMAIL_READONLY_SCOPE]


def test_token_without_refresh_token_is_refused_without_quoting_it(tmp_path: Path) -> None:
    path = user_token_file(tmp_path, refresh_token=None)
    with pytest.raises(GmailAuthError, match="lacks refresh_token") as raised:
        load_credentials({"GMAIL_TOKEN_FILE": str(path)})
    assert CLIENT_SECRET not in str(raised.value)


def test_unreadable_token_file_errors_do_not_echo_the_content(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text('{"refresh_token": "' + REFRESH_TOKEN + '", broken', encoding="utf-8")
    with pytest.raises(GmailAuthError, match="not readable JSON") as raised:
        load_credentials({"GMAIL_TOKEN_FILE": str(path)})
    assert REFRESH_TOKEN not in str(raised.value)
    with pytest.raises(GmailAuthError, match="missing file"):
        load_credentials({"GMAIL_TOKEN_FILE": str(tmp_path / "absent.json")})


def test_service_account_key_in_the_token_variable_is_pointed_elsewhere(tmp_path: Path, private_key_pem: str) -> None:
    with pytest.raises(GmailAuthError, match="GMAIL_SERVICE_ACCOUNT_FILE"):
        load_credentials({"GMAIL_TOKEN_FILE": str(service_account_file(tmp_path, private_key_pem))})


def test_service_account_needs_a_delegated_user(tmp_path: Path, private_key_pem: str) -> None:
    with pytest.raises(GmailAuthError, match="GMAIL_DELEGATED_USER"):
        load_credentials({"GMAIL_SERVICE_ACCOUNT_FILE": str(service_account_file(tmp_path, private_key_pem))})


def test_service_account_acts_as_the_delegated_user(
    tmp_path: Path, private_key_pem: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = load_credentials(
        {
            "GMAIL_SERVICE_ACCOUNT_FILE": str(service_account_file(tmp_path, private_key_pem)),
            "GMAIL_DELEGATED_USER": "support@pam.example",
        }
    )
    assert credentials._subject == "support@pam.example"
    assert credentials.service_account_email == "tier0-sync@tier0-test.iam.gserviceaccount.com"
    assert credentials._scopes == [GMAIL_MODIFY_SCOPE]
    assert "PRIVATE KEY" not in caplog.text
    assert "support@pam.example" not in caplog.text  # the address is redacted in logs


def test_both_kinds_at_once_is_ambiguous(tmp_path: Path, private_key_pem: str) -> None:
    with pytest.raises(GmailAuthError, match="set only one"):
        load_credentials(
            {
                "GMAIL_TOKEN_FILE": str(user_token_file(tmp_path)),
                "GMAIL_SERVICE_ACCOUNT_FILE": str(service_account_file(tmp_path, private_key_pem)),
                "GMAIL_DELEGATED_USER": "support@pam.example",
            }
        )


def test_service_is_built_from_the_bundled_discovery_document(tmp_path: Path) -> None:
    credentials = load_credentials({"GMAIL_TOKEN_FILE": str(user_token_file(tmp_path))})
    service = build_gmail_service(credentials)  # no network: static discovery, no request executed
    request = service.users().history().list(userId="me", startHistoryId="1", historyTypes=["messageAdded"])
    assert request.uri.startswith("https://gmail.googleapis.com/gmail/v1/users/me/history?")
    with pytest.raises(TypeError):
        service.users().history().list(userId="me", startHistoryId="1", query="not a parameter")
