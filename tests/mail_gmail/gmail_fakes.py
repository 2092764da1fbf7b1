"""A fake Gmail at the HTTP boundary, held to Gmail's own discovery document.

The service is the real googleapiclient client built from the discovery document the library
ships (`static_discovery=True`), over `HttpMockSequence`: the client itself refuses unknown methods
and parameters. On top of that, every canned response is checked against the response schema of
the discovery document (unknown fields, wrong JSON types, non-numeric int64 strings, enum values),
and every recorded request is matched to a method of the document (HTTP verb, path template, each
query parameter declared, required ones present, request body against its schema).

The document is Gmail's published one in ../shared/external/gmail/ when present, else the copy
bundled with google-api-python-client (the same Google document), so the tests run on a fresh clone.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import googleapiclient
from googleapiclient.discovery import build
from googleapiclient.http import HttpMockSequence

from backend.paths import SHARED_DIR

SHARED_DISCOVERY = SHARED_DIR / "external" / "gmail" / "gmail.v1.discovery.json"
BUNDLED_DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "gmail.v1.json"

MAILBOX = "support@pam.example"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

Response = tuple[dict[str, str], str]


@cache
def discovery() -> dict[str, Any]:
    path = SHARED_DISCOVERY if SHARED_DISCOVERY.is_file() else BUNDLED_DISCOVERY
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


# ------------------------------------------------------------------------------------------------
# Schema checks
# ------------------------------------------------------------------------------------------------


def shape_problems(schema_or_name: dict[str, Any] | str, value: Any, where: str = "$") -> list[str]:
    """Differences between a JSON value and a discovery-document schema (empty: it conforms)."""
    schemas = discovery()["schemas"]
    schema: dict[str, Any] = schemas[schema_or_name] if isinstance(schema_or_name, str) else schema_or_name
    if "$ref" in schema:
        return shape_problems(schemas[schema["$ref"]], value, where)
    kind = schema.get("type")
    problems: list[str] = []
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                problems += shape_problems(properties[key], item, f"{where}.{key}")
            elif extra is not None:
                problems += shape_problems(extra, item, f"{where}.{key}")
            else:
                problems.append(f"{where}: field {key!r} is not in the schema")
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array, got {type(value).__name__}"]
        for index, item in enumerate(value):
            problems += shape_problems(schema["items"], item, f"{where}[{index}]")
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {type(value).__name__}"]
        if schema.get("format") in {"int64", "uint64"} and not value.lstrip("-").isdigit():
            problems.append(f"{where}: {value!r} is not a {schema['format']} string")
        if schema.get("format") == "byte" and not re.fullmatch(r"[A-Za-z0-9_\-+/]*={0,2}", value):
            problems.append(f"{where}: not base64")
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{where}: expected an integer, got {type(value).__name__}")
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append(f"{where}: expected a boolean, got {type(value).__name__}")
    return problems


def _methods(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(resource.get("methods", {}).values())
    for child in resource.get("resources", {}).values():
        found += _methods(child)
    return found


@dataclass(frozen=True)
class Request:
    method_id: str
    http_method: str
    path: str
    query: dict[str, list[str]]
    body: Any


def match_request(http_method: str, uri: str, body: Any) -> Request:
    """The discovery method this request calls, after checking it is a valid call of that method."""
    document = discovery()
    parts = urlsplit(uri)
    assert f"{parts.scheme}://{parts.netloc}/" == document["rootUrl"], uri
    path = parts.path.removeprefix("/" + document["servicePath"]).lstrip("/")
    candidates = []
    for method in _methods(document):
        if method["httpMethod"] != http_method:
            continue
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", re.escape(method["path"]).replace(r"\{", "{").replace(r"\}", "}"))
        if re.fullmatch(pattern, path):
            candidates.append(method)
    assert candidates, f"no Gmail API method answers {http_method} {path}"
    method = min(candidates, key=lambda candidate: candidate["path"].count("{"))  # literal segments win

    query = parse_qs(parts.query, keep_blank_values=True)
    query.pop("alt", None)  # a standard parameter the client adds to every call
    parameters = method.get("parameters", {})
    for name, values in query.items():
        assert name in parameters and parameters[name]["location"] == "query", f"{method['id']}: unknown {name}"
        declared = parameters[name]
        assert len(values) == 1 or declared.get("repeated"), f"{method['id']}: {name} is not repeated"
        for value in values:
            if "enum" in declared:
                assert value in declared["enum"], f"{method['id']}: {name}={value!r} not in {declared['enum']}"
            if declared.get("type") == "integer" or declared.get("format") in {"int64", "uint64"}:
                assert value.isdigit(), f"{method['id']}: {name}={value!r} is not a number"
    for name, declared in parameters.items():
        if declared.get("required") and declared["location"] == "query":
            assert name in query, f"{method['id']}: required {name} missing"
    if method["id"] == "gmail.users.history.list":
        # "Required" says its description, though the document does not flag it so.
        assert "startHistoryId" in query, "history.list without startHistoryId"

    decoded = json.loads(body) if body else None
    if "request" in method:
        assert decoded is not None, f"{method['id']} needs a request body"
        problems = shape_problems(method["request"]["$ref"], decoded)
        assert not problems, f"{method['id']} request body: {problems}"
    return Request(method["id"], http_method, path, query, decoded)


# ------------------------------------------------------------------------------------------------
# The fake service
# ------------------------------------------------------------------------------------------------


class FakeGmail:
    """A real Gmail client whose HTTP layer replays `responses` in order and records each request."""

    def __init__(self, responses: list[Response]) -> None:
        self.http = HttpMockSequence(list(responses))
        self.service = build("gmail", "v1", http=self.http, static_discovery=True)

    @property
    def requests(self) -> list[Request]:
        return [match_request(method, uri, body) for uri, method, body, _headers in self.http.request_sequence]

    @property
    def method_ids(self) -> list[str]:
        return [request.method_id for request in self.requests]

    @property
    def unused_responses(self) -> int:
        return len(self.http._iterable)


def ok(schema: str, body: dict[str, Any]) -> Response:
    problems = shape_problems(schema, body)
    assert not problems, f"fake {schema} response does not match Gmail's schema: {problems}"
    return {"status": "200", "content-type": "application/json; charset=UTF-8"}, json.dumps(body)


_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def api_error(status: int, reason: str, message: str, *, retry_after: str | None = None) -> Response:
    """Google's JSON error body (the shape Gmail's "Resolve errors" guide shows)."""
    domain = "usageLimits" if reason.endswith("RateLimitExceeded") or reason == "rateLimitExceeded" else "global"
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }
    headers = {"status": str(status), "content-type": "application/json; charset=UTF-8"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return headers, json.dumps(body)


def epoch_ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def profile(history_id: int) -> Response:
    return ok(
        "Profile",
        {"emailAddress": MAILBOX, "messagesTotal": 120, "threadsTotal": 80, "historyId": str(history_id)},
    )


def message_list(ids: list[str], *, next_page_token: str | None = None) -> Response:
    body: dict[str, Any] = {
        "messages": [{"id": message_id, "threadId": f"t-{message_id}"} for message_id in ids],
        "resultSizeEstimate": len(ids),
    }
    if next_page_token:
        body["nextPageToken"] = next_page_token
    return ok("ListMessagesResponse", body)


def history_record(record_id: int, *added: tuple[str, list[str]]) -> dict[str, Any]:
    messages = [{"id": message_id, "threadId": f"t-{message_id}", "labelIds": labels} for message_id, labels in added]
    return {"id": str(record_id), "messages": messages, "messagesAdded": [{"message": m} for m in messages]}


def history_page(records: list[dict[str, Any]], *, history_id: int, next_page_token: str | None = None) -> Response:
    body: dict[str, Any] = {"history": records, "historyId": str(history_id)}
    if next_page_token:
        body["nextPageToken"] = next_page_token
    return ok("ListHistoryResponse", body)


def sample_raw(message_id: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Dana Customer <dana@acme.example>"
    mail["To"] = MAILBOX
    mail["Subject"] = f"Export fails ({message_id})"
    mail["Message-ID"] = f"<{message_id}@acme.example>"
    mail.set_content("Bonjour, l'export échoue depuis ce matin. ✉\n", charset="utf-8", cte="8bit")
    return mail.as_bytes()


def raw_message(
    message_id: str,
    *,
    received_at: datetime,
    raw: bytes | None = None,
    labels: list[str] | None = None,
    history_id: int = 900,
    pad: bool = True,
) -> Response:
    data = base64.urlsafe_b64encode(raw if raw is not None else sample_raw(message_id)).decode("ascii")
    return ok(
        "Message",
        {
            "id": message_id,
            "threadId": f"t-{message_id}",
            "labelIds": labels if labels is not None else ["INBOX", "UNREAD"],
            "snippet": "Bonjour, l'export échoue",
            "historyId": str(history_id),
            "internalDate": epoch_ms(received_at),
            "sizeEstimate": 512,
            "raw": data if pad else data.rstrip("="),
        },
    )


def minimal_message(message_id: str, *, received_at: datetime) -> Response:
    return ok(
        "Message",
        {
            "id": message_id,
            "threadId": f"t-{message_id}",
            "labelIds": ["INBOX"],
            "historyId": "901",
            "internalDate": epoch_ms(received_at),
            "sizeEstimate": 512,
        },
    )


def label_list(*labels: tuple[str, str, str]) -> Response:
    return ok(
        "ListLabelsResponse",
        {
            "labels": [
                {
                    "id": label_id,
                    "name": name,
                    "type": kind,
                    "messageListVisibility": "show",
                    "labelListVisibility": "labelShow",
                }
                for label_id, name, kind in labels
            ]
        },
    )


SYSTEM_LABELS = (("INBOX", "INBOX", "system"), ("SENT", "SENT", "system"), ("DRAFT", "DRAFT", "system"))


def created_label(label_id: str, name: str) -> Response:
    return ok(
        "Label",
        {
            "id": label_id,
            "name": name,
            "type": "user",
            "messageListVisibility": "show",
            "labelListVisibility": "labelShow",
        },
    )


def modified_message(message_id: str, labels: list[str]) -> Response:
    return ok("Message", {"id": message_id, "threadId": f"t-{message_id}", "labelIds": labels})


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)
