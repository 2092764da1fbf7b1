"""The HTTP side of Metabase: one `request` method, over the `metabase-api` package's authenticated
session (an API key in the `x-api-key` header, or a session from a user's credentials).

`metabase-api` handles authentication and the raw REST calls; its higher-level helpers are not used
(`add_card_to_dashboard` posts to `/api/dashboard/:id/cards`, which current Metabase removed; dashboards
are written with `PUT /api/dashboard/:id` and their full `dashcards` list instead). Its constructor with
an API key makes a live request (`GET /api/database/1`) to check the key, so tests fake the HTTP layer.

Failures are ours or the server's, never "the sender's": any non-2xx answer raises `MetabaseError`
(with the method, path, status and the start of the body), and network errors propagate from requests.
Secrets come from the environment only (`client_from_env`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

REQUEST_TIMEOUT_SECONDS = 60


class MetabaseError(Exception):
    """Metabase refused a request (status >= 400) or answered something that is not JSON."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"Metabase {method} {path} answered {status}: {detail[:500]}")
        self.method = method
        self.path = path
        self.status = status


class MetabaseClient(Protocol):
    """What the sync needs: send one request, get the decoded JSON answer (or MetabaseError)."""

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None) -> Any: ...


class MetabaseHttpClient:
    """A `MetabaseClient` over `metabase_api.Metabase_API` (requests-based)."""

    def __init__(self, api: Any) -> None:
        self._api = api

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> MetabaseHttpClient:
        from metabase_api import Metabase_API

        if api_key:
            return cls(Metabase_API(url, api_key=api_key))
        if username and password:
            return cls(Metabase_API(url, email=username, password=password))
        raise ValueError("Metabase needs an API key, or a username and a password")

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        verb = method.lower()
        if verb not in ("get", "post", "put", "delete"):
            raise ValueError(f"unsupported method {method}")
        kwargs: dict[str, Any] = {"timeout": REQUEST_TIMEOUT_SECONDS}
        if params:
            kwargs["params"] = dict(params)
        if body is not None:
            kwargs["json"] = body
        # 'raw' makes metabase-api return the requests.Response instead of swallowing errors as False.
        response = getattr(self._api, verb)(path, "raw", **kwargs)
        if not response.ok:
            raise MetabaseError(method.upper(), path, response.status_code, response.text)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise MetabaseError(method.upper(), path, response.status_code, "answer is not JSON") from error


def client_from_env() -> MetabaseHttpClient:
    """METABASE_URL with METABASE_API_KEY, or METABASE_USERNAME and METABASE_PASSWORD."""
    url = os.environ.get("METABASE_URL")
    if not url:
        raise ValueError("set METABASE_URL (and METABASE_API_KEY, or METABASE_USERNAME and METABASE_PASSWORD)")
    return MetabaseHttpClient.connect(
        url,
        api_key=os.environ.get("METABASE_API_KEY"),
        username=os.environ.get("METABASE_USERNAME"),
        password=os.environ.get("METABASE_PASSWORD"),
    )
