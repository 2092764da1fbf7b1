"""A stateful fake Metabase at the HTTP level, for `responses` (metabase-api speaks requests).

Every request is recorded and checked before it is answered: its path and method must be an operation
of Metabase's OpenAPI description, its JSON body must validate against that operation's request-body
schema, and a card's native query must validate against the legacy query and template-tag component
schemas. Problems are collected in `problems` (a test asserts it is empty). The state behind the answers
is backend.metabase.memory.InMemoryMetabase.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from backend.metabase.memory import InMemoryMetabase
from backend.metabase.openapi import OpenApiSpec

BASE_URL = "http://metabase.test"
API_KEY = "mb_test_key_not_secret"
USERNAME, PASSWORD = "sync@example.test", "not-a-real-password"
SESSION_TOKEN = "11111111-2222-3333-4444-555555555555"


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, Any]
    body: Any
    headers: dict[str, str]


@dataclass
class FakeMetabaseServer:
    spec: OpenApiSpec
    state: InMemoryMetabase = field(default_factory=InMemoryMetabase)
    api_key: str = API_KEY
    seen: list[SeenRequest] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def install(self, mock: responses.RequestsMock) -> None:
        for method in (responses.GET, responses.POST, responses.PUT, responses.DELETE):
            mock.add_callback(method, re.compile(re.escape(BASE_URL) + r"/api/.*"), callback=self._answer)

    def writes(self) -> list[SeenRequest]:
        return [request for request in self.seen if request.method != "GET"]

    def _answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        query = {key: values if len(values) > 1 else values[0] for key, values in parse_qs(url.query).items()}
        body = json.loads(request.body) if request.body else None
        headers = {key.lower(): value for key, value in request.headers.items()}
        self.seen.append(SeenRequest(request.method, url.path, query, body, headers))
        if request.method == "POST" and url.path.rstrip("/") == "/api/session":
            # metabase-api posts to /api/session (Metabase's docs spell it so too); the description has
            # /api/session/: the body is checked against that operation.
            self._check("POST", "/api/session/", body)
            if body == {"username": USERNAME, "password": PASSWORD}:
                return 200, {}, json.dumps({"id": SESSION_TOKEN})
            return 401, {}, json.dumps({"errors": {"password": "did not match stored password"}})
        if headers.get("x-api-key") != self.api_key and headers.get("x-metabase-session") != SESSION_TOKEN:
            return 401, {}, json.dumps("Unauthenticated")
        self._check(request.method, url.path, body)
        if request.method == "GET" and url.path == "/api/user/current":
            return 200, {}, json.dumps({"id": 1, "email": USERNAME})
        if request.method == "GET" and re.fullmatch(r"/api/database/\d+", url.path):
            # metabase-api checks an API key with GET /api/database/1 when the client is built.
            wanted = int(url.path.rsplit("/", 1)[1])
            found = [database for database in self.state.databases if database["id"] == wanted]
            return (200, {}, json.dumps(found[0])) if found else (404, {}, json.dumps("Not found."))
        status, answer = self.state.handle(request.method, url.path, query, body)
        return status, {"Content-Type": "application/json"}, json.dumps(answer)

    def _check(self, method: str, path: str, body: Any) -> None:
        operation = self.spec.find(method, path)
        if operation is None:
            self.problems.append(f"{method} {path}: not an operation of Metabase's OpenAPI description")
            return
        self.problems.extend(self.spec.validate_request(method, path, body))
        query = body.get("dataset_query") if isinstance(body, dict) else None
        if isinstance(query, dict):
            self.problems.extend(self.spec.validate_component("metabase.legacy-mbql.schema.Query", query))
            tags = (query.get("native") or {}).get("template-tags")
            if tags is not None:
                self.problems.extend(self.spec.validate_component("metabase.legacy-mbql.schema.TemplateTagMap", tags))
