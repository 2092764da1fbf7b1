"""A fake Linear GraphQL API at the HTTP level (an `httpx.MockTransport` handler with state).

It keeps teams, labels, issues and attachments, answers the operations tier0 sends (dispatched
by operation name, with the filters we use interpreted, not canned), sends Linear's rate-limit
headers, and can be told to fail the next call of an operation in the ways Linear fails
(RATELIMITED, 5xx, an answer lost after the work was done). When given Linear's schema it
validates every request it receives: the document, and the variables against the document's
declared input types; a request that does not fit is refused exactly as a GraphQL server would,
and noted in `schema_errors`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from graphql import GraphQLSchema, OperationDefinitionNode, parse, validate
from graphql.execution.values import get_variable_values

API_KEY = "lin_api_fake_key"
_UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@dataclass
class Fault:
    """How the next call of an operation fails."""

    status: int = 200
    errors: list[dict[str, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # Do the work first, then lose the answer (as when a response times out on the way back).
    apply_then_raise: type[Exception] | None = None
    raise_before: type[Exception] | None = None


def rate_limited_error() -> dict[str, Any]:
    return {
        "message": "Rate limit exceeded",
        "extensions": {"code": "RATELIMITED", "type": "ratelimited", "userPresentableMessage": "Too many requests"},
    }


class FakeLinear:
    def __init__(self, *, schema: GraphQLSchema | None = None, clock: Callable[[], float] | None = None) -> None:
        self.schema = schema
        self.clock = clock or (lambda: 1_800_000_000.0)
        self.teams: dict[str, dict[str, Any]] = {}
        self.labels: list[dict[str, Any]] = []
        self.issues: dict[str, dict[str, Any]] = {}
        self.attachments: list[dict[str, Any]] = []
        self.viewer = {"id": str(uuid.uuid4()), "name": "tier0 bot"}
        self.calls: Counter[str] = Counter()  # operation name -> requests received
        self.requests: list[dict[str, Any]] = []
        self.schema_errors: list[str] = []
        self.faults: dict[str, list[Fault]] = {}
        self.requests_remaining = 2500
        self.reset_in_seconds = 3600.0
        self._numbers: Counter[str] = Counter()

    # -- set-up ------------------------------------------------------------------------------

    def add_team(self, key: str, name: str | None = None) -> dict[str, Any]:
        team = {"id": str(uuid.uuid4()), "key": key, "name": name or key}
        self.teams[team["id"]] = team
        return team

    def add_label(self, name: str, *, team: dict[str, Any] | None = None, is_group: bool = False) -> dict[str, Any]:
        label = {
            "id": str(uuid.uuid4()),
            "name": name,
            "isGroup": is_group,
            "team": {"id": team["id"]} if team else None,
        }
        self.labels.append(label)
        return label

    def fail_next(self, operation: str, fault: Fault, *, times: int = 1) -> None:
        self.faults.setdefault(operation, []).extend([fault] * times)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- HTTP --------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        reset_ms = int((self.clock() + self.reset_in_seconds) * 1000)
        return {
            "X-RateLimit-Requests-Limit": "2500",
            "X-RateLimit-Requests-Remaining": str(self.requests_remaining),
            "X-RateLimit-Requests-Reset": str(reset_ms),
            "X-Complexity": "12",
            "X-RateLimit-Complexity-Limit": "3000000",
            "X-RateLimit-Complexity-Remaining": "2999000",
            "X-RateLimit-Complexity-Reset": str(reset_ms),
        }

    def _reply(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json=payload, headers={**self._headers(), **(headers or {})})

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != API_KEY:
            return self._reply(
                401,
                {"errors": [{"message": "Authentication required", "extensions": {"code": "AUTHENTICATION_ERROR"}}]},
            )
        body = json.loads(request.content)
        query, variables = body["query"], body.get("variables") or {}
        document = parse(query)
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        name = operation.name.value if operation.name else ""
        self.calls[name] += 1
        self.requests.append({"operation": name, "variables": variables, "headers": dict(request.headers)})
        if self.schema is not None:
            problems = [error.message for error in validate(self.schema, document)]
            if not problems:
                coerced = get_variable_values(self.schema, operation.variable_definitions or [], variables)
                if isinstance(coerced, list):
                    problems = [error.message for error in coerced]
            if problems:
                self.schema_errors.extend(f"{name}: {problem}" for problem in problems)
                return self._reply(
                    400,
                    {"errors": [{"message": p, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}} for p in problems]},
                )
        fault = self.faults.get(name, []).pop(0) if self.faults.get(name) else None
        if fault is not None and fault.raise_before is not None:
            raise fault.raise_before("simulated failure before reaching Linear")
        if fault is not None and fault.apply_then_raise is None:
            if fault.body is not None:
                return httpx.Response(fault.status, content=fault.body, headers={**self._headers(), **fault.headers})
            return self._reply(fault.status, {"errors": fault.errors or [], "data": None}, fault.headers)
        self.requests_remaining = max(0, self.requests_remaining - 1)
        try:
            data = getattr(self, f"_op_{name}")(variables)
        except _GraphQLFailure as failure:
            return self._reply(400, {"errors": [failure.error], "data": None})
        if fault is not None and fault.apply_then_raise is not None:
            raise fault.apply_then_raise("simulated: the answer was lost after Linear did the work")
        return self._reply(200, {"data": data})

    # -- operations --------------------------------------------------------------------------

    def _issue_node(self, issue: dict[str, Any]) -> dict[str, Any]:
        team = self.teams[issue["teamId"]]
        return {
            "id": issue["id"],
            "identifier": issue["identifier"],
            "url": issue["url"],
            "title": issue["title"],
            "team": {"id": team["id"], "key": team["key"]},
            "state": dict(issue["state"]),
        }

    def _op_Tier0IssueCreate(self, variables: dict[str, Any]) -> dict[str, Any]:
        given = variables["input"]
        issue_id = given.get("id") or str(uuid.uuid4())
        if not _UUID_V4.match(issue_id):
            raise _GraphQLFailure("Argument Validation Error: id must be a UUID v4", "INVALID_INPUT")
        if issue_id in self.issues:
            raise _GraphQLFailure("Entity already exists", "INVALID_INPUT")
        team = self.teams.get(given["teamId"])
        if team is None:
            raise _GraphQLFailure("Entity not found: Team", "INVALID_INPUT")
        known_labels = {label["id"] for label in self.labels}
        if any(label_id not in known_labels for label_id in given.get("labelIds", [])):
            raise _GraphQLFailure("Entity not found: IssueLabel", "INVALID_INPUT")
        self._numbers[team["key"]] += 1
        identifier = f"{team['key']}-{self._numbers[team['key']]}"
        issue = {
            **given,
            "id": issue_id,
            "identifier": identifier,
            "url": f"https://linear.app/fake/issue/{identifier}/",
            "state": {"id": str(uuid.uuid4()), "name": "Triage", "type": "triage"},
        }
        self.issues[issue_id] = issue
        return {"issueCreate": {"success": True, "issue": self._issue_node(issue)}}

    def _op_Tier0IssueById(self, variables: dict[str, Any]) -> dict[str, Any]:
        issue = self.issues.get(variables["id"])
        return {"issues": {"nodes": [self._issue_node(issue)] if issue else []}}

    def _attachment_node(self, attachment: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": attachment["id"],
            "url": attachment["url"],
            "title": attachment["title"],
            "issue": self._issue_node(self.issues[attachment["issueId"]]),
        }

    def _op_Tier0AttachmentsForUrl(self, variables: dict[str, Any]) -> dict[str, Any]:
        nodes = [self._attachment_node(a) for a in self.attachments if a["url"] == variables["url"]]
        return {"attachmentsForURL": {"nodes": nodes}}

    def _op_Tier0AttachmentCreate(self, variables: dict[str, Any]) -> dict[str, Any]:
        given = variables["input"]
        if given["issueId"] not in self.issues:
            raise _GraphQLFailure("Entity not found: Issue", "INVALID_INPUT")
        # Linear: "creates a new attachment, or updates existing if the same url and issueId is used".
        for attachment in self.attachments:
            if attachment["url"] == given["url"] and attachment["issueId"] == given["issueId"]:
                attachment.update(given)
                break
        else:
            attachment = {"id": str(uuid.uuid4()), **given}
            self.attachments.append(attachment)
        return {"attachmentCreate": {"success": True, "attachment": self._attachment_node(attachment)}}

    def _op_Tier0Teams(self, variables: dict[str, Any]) -> dict[str, Any]:
        nodes = [team for team in self.teams.values() if _matches(team, variables["filter"])]
        return {"teams": {"nodes": nodes}}

    def _op_Tier0LabelsByName(self, variables: dict[str, Any]) -> dict[str, Any]:
        nodes = [label for label in self.labels if _matches(label, variables["filter"])]
        return {"issueLabels": {"nodes": nodes[: variables["first"]]}}

    def _op_Tier0Viewer(self, variables: dict[str, Any]) -> dict[str, Any]:
        return {"viewer": dict(self.viewer)}


class _GraphQLFailure(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.error = {"message": message, "extensions": {"code": code}}


def _compare(value: Any, comparator: dict[str, Any]) -> bool:
    for op, expected in comparator.items():
        if op == "eq" and value != expected:
            return False
        if op == "eqIgnoreCase" and (not isinstance(value, str) or value.casefold() != expected.casefold()):
            return False
        if op == "in" and value not in expected:
            return False
        if op not in ("eq", "eqIgnoreCase", "in"):
            raise NotImplementedError(f"fake Linear does not interpret comparator {op!r}")
    return True


_NESTED_ENTITIES = {"team"}  # filter keys that hold a filter of another entity (NullableTeamFilter)


def _matches(entity: dict[str, Any] | None, entity_filter: dict[str, Any]) -> bool:
    """Linear's filter semantics for the subset tier0 uses: and/or, null, nested entities, comparators."""
    for key, condition in entity_filter.items():
        if key == "and":
            matched = all(_matches(entity, part) for part in condition)
        elif key == "or":
            matched = any(_matches(entity, part) for part in condition)
        elif key == "null":
            matched = (entity is None) == condition
        elif entity is None:
            matched = False
        elif key in _NESTED_ENTITIES:
            matched = _matches(entity.get(key), condition)
        else:
            matched = _compare(entity.get(key), condition)
        if not matched:
            return False
    return True
