"""`LinearClient`: the one class that speaks to Linear's GraphQL API (https://api.linear.app/graphql).

It speaks HTTP only (an injectable `httpx.Client`, so tests fake Linear with `httpx.MockTransport`),
returns typed results (frozen dataclasses), and turns every vendor failure into one domain error,
`LinearError`, which says whether trying again can help (`retryable`). That follows DESIGN.md:
retry 429s, 5xx and timeouts, never a request Linear rejected as wrong.

Authentication: a personal API key goes in `Authorization` as is, with no `Bearer` prefix
(https://linear.app/developers/graphql).

Rate limits (https://linear.app/developers/rate-limiting): Linear meters requests and query
complexity per user with leaky buckets and reports both on every response in
`X-RateLimit-Requests-{Limit,Remaining,Reset}` and `X-RateLimit-Complexity-{Limit,Remaining,Reset}`
(resets are UTC epoch milliseconds), plus `X-RateLimit-Endpoint-*` for endpoint-specific limits.
A request over a limit is refused with HTTP 400 and a GraphQL error whose `extensions.code` is
`RATELIMITED` (a proxy may also answer 429 with `Retry-After`). The client
  * remembers the last headers (`rate_limit`) and, when a bucket is empty, waits for its reset
    before sending the next request instead of spending a refused one;
  * on a refusal, waits `Retry-After`, else the reset of the exhausted bucket, else backs off
    exponentially, and tries again (a refused request was not executed, so even a mutation is
    safe to resend), at most `max_rate_limit_retries` times and never longer than
    `max_wait_seconds` at once; past that it raises a retryable `LinearError` with `retry_after`,
    so the outbox worker reschedules the delivery rather than blocking.
The sleep function and clock are injectable so tests run without waiting.

Failures: none here are "the sender's"; everything the caller cannot fix by retrying raises
`LinearError(retryable=False)` (bad key, an input Linear rejects, an unexpected response shape).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from backend.linear import documents
from backend.linear.config import LinearSecrets

logger = logging.getLogger(__name__)

LINEAR_GRAPHQL_URL = "https://api.linear.app/graphql"
USER_AGENT = "tier0-linear/1"
RATE_LIMITED_CODE = "RATELIMITED"


class LinearError(Exception):
    """Any failure talking to Linear. `retryable` says whether the same call can succeed later."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        codes: tuple[str, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code
        self.codes = codes
        self.retry_after = retry_after

    @property
    def is_rate_limited(self) -> bool:
        return RATE_LIMITED_CODE in self.codes or self.status_code == 429


# ---------------------------------------------------------------------------------------------
# Typed results


@dataclass(frozen=True)
class LinearIssue:
    id: str
    identifier: str  # e.g. ENG-123
    url: str
    title: str
    team_id: str | None = None
    team_key: str | None = None
    state_name: str | None = None
    state_type: str | None = None  # triage, backlog, unstarted, started, completed, canceled


@dataclass(frozen=True)
class LinearAttachment:
    id: str
    url: str
    title: str
    issue: LinearIssue


@dataclass(frozen=True)
class LinearTeam:
    id: str
    key: str
    name: str


@dataclass(frozen=True)
class LinearUser:
    id: str
    name: str


@dataclass(frozen=True)
class LabelLookup:
    """Label names resolved for a team: the ids found (by the name asked) and the names Linear lacks."""

    ids: dict[str, str]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class IssueDraft:
    """What we ask Linear to create. `id` is our own UUID v4, so a retry can find the issue again."""

    id: str
    team_id: str
    title: str
    description: str
    priority: int
    label_ids: tuple[str, ...] = ()

    def as_input(self) -> dict[str, Any]:
        """The `IssueCreateInput` (schema.graphql) for this draft."""
        payload: dict[str, Any] = {
            "id": self.id,
            "teamId": self.team_id,
            "title": self.title,
            "description": self.description,
            "priority": self.priority,
        }
        if self.label_ids:
            payload["labelIds"] = list(self.label_ids)
        return payload


@dataclass(frozen=True)
class RateLimitStatus:
    """Linear's rate-limit headers from one response. Reset times are epoch seconds (sent as ms)."""

    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset_at: float | None = None
    complexity_limit: int | None = None
    complexity_remaining: int | None = None
    complexity_reset_at: float | None = None
    complexity: int | None = None  # what the last query cost (`X-Complexity`)
    endpoint_name: str | None = None
    endpoint_remaining: int | None = None
    endpoint_reset_at: float | None = None
    retry_after_seconds: float | None = field(default=None, compare=False)

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], *, now: float) -> RateLimitStatus:
        return cls(
            requests_limit=_int_header(headers, "x-ratelimit-requests-limit"),
            requests_remaining=_int_header(headers, "x-ratelimit-requests-remaining"),
            requests_reset_at=_epoch_ms_header(headers, "x-ratelimit-requests-reset"),
            complexity_limit=_int_header(headers, "x-ratelimit-complexity-limit"),
            complexity_remaining=_int_header(headers, "x-ratelimit-complexity-remaining"),
            complexity_reset_at=_epoch_ms_header(headers, "x-ratelimit-complexity-reset"),
            complexity=_int_header(headers, "x-complexity"),
            endpoint_name=headers.get("x-ratelimit-endpoint-name"),
            endpoint_remaining=_int_header(headers, "x-ratelimit-endpoint-requests-remaining"),
            endpoint_reset_at=_epoch_ms_header(headers, "x-ratelimit-endpoint-requests-reset"),
            retry_after_seconds=_retry_after(headers.get("retry-after"), now=now),
        )

    def exhausted_until(self) -> float | None:
        """The latest reset among the buckets with nothing left, or None when none is empty."""
        resets = [
            reset
            for remaining, reset in (
                (self.requests_remaining, self.requests_reset_at),
                (self.complexity_remaining, self.complexity_reset_at),
                (self.endpoint_remaining, self.endpoint_reset_at),
            )
            if remaining is not None and remaining <= 0 and reset is not None
        ]
        return max(resets) if resets else None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def _epoch_ms_header(headers: Mapping[str, str], name: str) -> float | None:
    value = _int_header(headers, name)
    return value / 1000.0 if value is not None else None


def _retry_after(value: str | None, *, now: float) -> float | None:
    """RFC 9110 section 10.2.3: delay-seconds or an HTTP-date."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Parsing helpers: a response without the fields we asked for is Linear's failure, not a crash.


def _shape_error(what: str) -> LinearError:
    return LinearError(f"unexpected response from Linear: {what}", retryable=False)


def _str(node: Mapping[str, Any], key: str) -> str:
    value = node.get(key)
    if not isinstance(value, str):
        raise _shape_error(f"{key!r} missing or not a string")
    return value


def _nodes(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    connection = data.get(key)
    if not isinstance(connection, Mapping) or not isinstance(connection.get("nodes"), list):
        raise _shape_error(f"{key}.nodes missing")
    return [node for node in connection["nodes"] if isinstance(node, Mapping)]


def _issue(node: Any) -> LinearIssue:
    if not isinstance(node, Mapping):
        raise _shape_error("issue missing")
    team = node.get("team")
    team = team if isinstance(team, Mapping) else {}
    state = node.get("state")
    state = state if isinstance(state, Mapping) else {}
    return LinearIssue(
        id=_str(node, "id"),
        identifier=_str(node, "identifier"),
        url=_str(node, "url"),
        title=_str(node, "title"),
        team_id=team.get("id"),
        team_key=team.get("key"),
        state_name=state.get("name"),
        state_type=state.get("type"),
    )


def _attachment(node: Any) -> LinearAttachment:
    if not isinstance(node, Mapping):
        raise _shape_error("attachment missing")
    return LinearAttachment(
        id=_str(node, "id"), url=_str(node, "url"), title=_str(node, "title"), issue=_issue(node.get("issue"))
    )


def _error_codes(errors: Iterable[Any]) -> tuple[str, ...]:
    codes = []
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, Mapping) else None
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        if isinstance(code, str):
            codes.append(code)
    return tuple(codes)


def _error_messages(errors: Iterable[Any]) -> str:
    messages = [str(error.get("message", error)) if isinstance(error, Mapping) else str(error) for error in errors]
    return "; ".join(messages)[:500]


# ---------------------------------------------------------------------------------------------


class LinearClient:
    """Linear's GraphQL API: issues, attachments, teams, labels. Not thread-safe (caches, headers)."""

    def __init__(
        self,
        api_key: str,
        *,
        http_client: httpx.Client | None = None,
        endpoint: str = LINEAR_GRAPHQL_URL,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_rate_limit_retries: int = 3,
        max_wait_seconds: float = 60.0,
        timeout_seconds: float = 30.0,
    ) -> None:
        if not api_key:
            raise ValueError("a Linear API key is required (LINEAR_API_KEY)")
        self._api_key = api_key
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout_seconds)
        self._endpoint = endpoint
        self._sleep = sleep
        self._clock = clock
        self._max_retries = max_rate_limit_retries
        self._max_wait = max_wait_seconds
        self.rate_limit: RateLimitStatus | None = None
        self.requests_sent = 0
        self._teams: dict[str, LinearTeam] = {}
        self._labels: dict[tuple[str, str], str | None] = {}

    @classmethod
    def from_env(cls, secrets: LinearSecrets | None = None, **options: Any) -> LinearClient:
        """A client with the API key from the environment (`LINEAR_API_KEY`); `options` as above."""
        key = (secrets or LinearSecrets()).api_key
        if key is None or not key.get_secret_value():
            raise ValueError("LINEAR_API_KEY is not set: Linear delivery needs a personal API key")
        return cls(key.get_secret_value(), **options)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> LinearClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- transport ----------------------------------------------------------------------------

    def execute(self, document: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one GraphQL document; returns its `data`. Raises `LinearError` on any failure."""
        body = {"query": document, "variables": dict(variables or {})}
        attempt = 0
        while True:
            self._wait_for_empty_bucket()
            response = self._post(body)
            self.rate_limit = RateLimitStatus.from_headers(response.headers, now=self._clock())
            payload = self._json(response)
            errors = payload.get("errors") if isinstance(payload, Mapping) else None
            codes = _error_codes(errors) if isinstance(errors, list) else ()
            if response.status_code == 429 or RATE_LIMITED_CODE in codes:
                wait = self._rate_limited_wait(attempt)
                if attempt >= self._max_retries or wait > self._max_wait:
                    raise LinearError(
                        f"Linear rate limit exhausted after {attempt + 1} attempt(s); retry in {wait:.0f} s",
                        retryable=True,
                        status_code=response.status_code,
                        codes=codes or (RATE_LIMITED_CODE,),
                        retry_after=wait,
                    )
                logger.info("Linear rate limit hit; waiting %.1f s (attempt %d)", wait, attempt + 1)
                self._sleep(wait)
                attempt += 1
                continue
            if response.status_code >= 500:
                raise LinearError(
                    f"Linear answered HTTP {response.status_code}",
                    retryable=True,
                    status_code=response.status_code,
                    codes=codes,
                )
            if errors:
                raise LinearError(
                    f"Linear refused the request (HTTP {response.status_code}): {_error_messages(errors)}",
                    retryable=False,
                    status_code=response.status_code,
                    codes=codes,
                )
            if response.status_code >= 400:
                raise LinearError(
                    f"Linear answered HTTP {response.status_code}",
                    retryable=response.status_code == 408,
                    status_code=response.status_code,
                )
            data = payload.get("data") if isinstance(payload, Mapping) else None
            if not isinstance(data, dict):
                raise _shape_error("no data")
            return data

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        headers = {
            # No "Bearer": personal API keys go in as is (https://linear.app/developers/graphql).
            "Authorization": self._api_key,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        self.requests_sent += 1
        try:
            return self._http.post(self._endpoint, json=body, headers=headers)
        except httpx.TimeoutException as error:
            raise LinearError(f"Linear did not answer in time: {type(error).__name__}", retryable=True) from error
        except httpx.TransportError as error:
            raise LinearError(f"could not reach Linear: {type(error).__name__}", retryable=True) from error

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            if response.status_code == 429 or response.status_code >= 500:
                return {}
            raise LinearError(
                f"Linear answered HTTP {response.status_code} with a body that is not JSON",
                retryable=False,
                status_code=response.status_code,
            ) from None

    def _wait_for_empty_bucket(self) -> None:
        """Before sending, wait out a bucket the last response reported empty (no request wasted)."""
        if self.rate_limit is None:
            return
        until = self.rate_limit.exhausted_until()
        if until is None:
            return
        wait = until - self._clock()
        if wait <= 0:
            return
        if wait > self._max_wait:
            raise LinearError(
                f"Linear rate limit empty for another {wait:.0f} s",
                retryable=True,
                codes=(RATE_LIMITED_CODE,),
                retry_after=wait,
            )
        self._sleep(wait)

    def _rate_limited_wait(self, attempt: int) -> float:
        status = self.rate_limit or RateLimitStatus()
        if status.retry_after_seconds is not None:
            return status.retry_after_seconds
        now = self._clock()
        until = status.exhausted_until() or status.requests_reset_at
        if until is not None and until > now:
            return until - now
        return float(2**attempt)  # no usable hint: 1 s, 2 s, 4 s, ...

    # -- operations ---------------------------------------------------------------------------

    def create_issue(self, draft: IssueDraft) -> LinearIssue:
        data = self.execute(documents.ISSUE_CREATE, {"input": draft.as_input()})
        result = data.get("issueCreate")
        if not isinstance(result, Mapping) or result.get("success") is not True:
            raise LinearError("Linear did not create the issue (success: false)", retryable=False)
        return _issue(result.get("issue"))

    def find_issue(self, issue_id: str) -> LinearIssue | None:
        data = self.execute(documents.ISSUE_BY_ID, {"id": issue_id})
        nodes = _nodes(data, "issues")
        return _issue(nodes[0]) if nodes else None

    def attachments_for_url(self, url: str) -> list[LinearAttachment]:
        data = self.execute(documents.ATTACHMENTS_FOR_URL, {"url": url})
        return [_attachment(node) for node in _nodes(data, "attachmentsForURL")]

    def create_attachment(
        self, *, issue_id: str, url: str, title: str, subtitle: str | None = None
    ) -> LinearAttachment:
        attachment_input: dict[str, Any] = {"issueId": issue_id, "url": url, "title": title}
        if subtitle:
            attachment_input["subtitle"] = subtitle
        data = self.execute(documents.ATTACHMENT_CREATE, {"input": attachment_input})
        result = data.get("attachmentCreate")
        if not isinstance(result, Mapping) or result.get("success") is not True:
            raise LinearError("Linear did not create the attachment (success: false)", retryable=False)
        return _attachment(result.get("attachment"))

    def team(self, key_or_id: str) -> LinearTeam:
        """A team by its key (ENG) or id; cached for the client's lifetime."""
        cached = self._teams.get(key_or_id.casefold())
        if cached is not None:
            return cached
        by_id = _looks_like_uuid(key_or_id)
        team_filter = {"id": {"eq": key_or_id}} if by_id else {"key": {"eqIgnoreCase": key_or_id}}
        nodes = _nodes(self.execute(documents.TEAMS, {"filter": team_filter}), "teams")
        if len(nodes) != 1:
            raise LinearError(
                f"Linear team {key_or_id!r} not found (or not unique); check linear.team_by_route in the policy",
                retryable=False,
            )
        team = LinearTeam(id=_str(nodes[0], "id"), key=_str(nodes[0], "key"), name=_str(nodes[0], "name"))
        self._teams[key_or_id.casefold()] = team
        return team

    def label_ids(self, team_id: str, names: Iterable[str]) -> LabelLookup:
        """Label names -> ids usable on an issue of `team_id` (the team's own label wins over a
        workspace label of the same name). Names are matched case-insensitively; cached."""
        wanted = list(dict.fromkeys(name for name in names if name.strip()))
        unknown = [name for name in wanted if (team_id, name.casefold()) not in self._labels]
        if unknown:
            label_filter = {
                "and": [
                    {"or": [{"name": {"eqIgnoreCase": name}} for name in unknown]},
                    {"team": {"or": [{"id": {"eq": team_id}}, {"null": True}]}},
                ]
            }
            data = self.execute(documents.LABELS_BY_NAME, {"filter": label_filter, "first": 100})
            found: dict[str, tuple[bool, str]] = {}
            for node in _nodes(data, "issueLabels"):
                if node.get("isGroup") is True:
                    continue  # a label group cannot be put on an issue, only its children
                team = node.get("team")
                is_team_label = isinstance(team, Mapping) and team.get("id") == team_id
                key = _str(node, "name").casefold()
                if key not in found or (is_team_label and not found[key][0]):
                    found[key] = (is_team_label, _str(node, "id"))
            for name in unknown:
                hit = found.get(name.casefold())
                self._labels[(team_id, name.casefold())] = hit[1] if hit else None
        ids: dict[str, str] = {}
        missing: list[str] = []
        for name in wanted:
            label_id = self._labels[(team_id, name.casefold())]
            if label_id is None:
                missing.append(name)
            else:
                ids[name] = label_id
        return LabelLookup(ids=ids, missing=tuple(missing))

    def viewer(self) -> LinearUser:
        """The user the API key acts as (its comments are ours)."""
        node = self.execute(documents.VIEWER).get("viewer")
        if not isinstance(node, Mapping):
            raise _shape_error("viewer missing")
        return LinearUser(id=_str(node, "id"), name=_str(node, "name"))


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
