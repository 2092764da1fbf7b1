"""LinearClient against a fake Linear at the HTTP level: requests, typed results, rate limits,
and every vendor failure turned into one `LinearError` that says whether to retry."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from backend.linear.client import IssueDraft, LinearClient, LinearError, LinearIssue
from backend.linear.config import LinearSecrets
from backend.linear.outbox import linear_issue_id_for
from tests.linear.conftest import FakeClock
from tests.linear.fake_linear import API_KEY, FakeLinear, Fault, rate_limited_error


def _draft(fake: FakeLinear, key: str = "SUP", **overrides: object) -> IssueDraft:
    team = next(team for team in fake.teams.values() if team["key"] == key)
    fields: dict[str, object] = {
        "id": linear_issue_id_for("3f0c5a34-0d8b-4e57-9a55-1d1b6c2f7e10"),
        "team_id": team["id"],
        "title": "Lakeside Motors: sync broken",
        "description": "**Customer:** Lakeside Motors",
        "priority": 2,
    }
    fields.update(overrides)
    return IssueDraft(**fields)  # type: ignore[arg-type]


def test_sends_the_api_key_without_bearer_to_the_graphql_endpoint(fake: FakeLinear, client: LinearClient) -> None:
    seen: list[httpx.Request] = []

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fake.handle(request)

    with LinearClient(API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(spy))) as spied:
        spied.viewer()
    assert seen[0].url == "https://api.linear.app/graphql"
    assert seen[0].method == "POST"
    assert seen[0].headers["authorization"] == API_KEY
    assert not seen[0].headers["authorization"].lower().startswith("bearer")
    assert seen[0].headers["content-type"] == "application/json"


def test_create_issue_returns_a_typed_issue_with_our_id(fake: FakeLinear, client: LinearClient) -> None:
    draft = _draft(fake)
    issue = client.create_issue(draft)
    assert isinstance(issue, LinearIssue)
    assert issue.id == draft.id
    assert issue.identifier == "SUP-1"
    assert issue.team_key == "SUP"
    assert issue.url.startswith("https://linear.app/")
    stored = fake.issues[draft.id]
    assert stored["priority"] == 2 and stored["title"] == draft.title and stored["description"] == draft.description
    assert fake.schema_errors == []


def test_find_issue_by_id_is_none_when_linear_has_no_such_issue(fake: FakeLinear, client: LinearClient) -> None:
    draft = _draft(fake)
    assert client.find_issue(draft.id) is None
    client.create_issue(draft)
    found = client.find_issue(draft.id)
    assert found is not None and found.identifier == "SUP-1"


def test_attachment_links_back_and_is_found_by_url(fake: FakeLinear, client: LinearClient) -> None:
    issue = client.create_issue(_draft(fake))
    url = "https://ops.example/tickets/42"
    assert client.attachments_for_url(url) == []
    attachment = client.create_attachment(issue_id=issue.id, url=url, title="tier0 ticket #42", subtitle="Sync")
    assert attachment.issue.id == issue.id and attachment.url == url
    again = client.create_attachment(issue_id=issue.id, url=url, title="tier0 ticket #42")
    assert again.id == attachment.id  # Linear updates the attachment with the same url and issueId
    found = client.attachments_for_url(url)
    assert [a.issue.identifier for a in found] == ["SUP-1"]


def test_team_by_key_is_case_insensitive_and_cached(fake: FakeLinear, client: LinearClient) -> None:
    team = client.team("eng")
    assert team.key == "ENG"
    assert client.team("eng") is team
    assert fake.calls["Tier0Teams"] == 1
    assert client.team(team.id).key == "ENG"  # by id too


def test_unknown_team_is_a_non_retryable_error(client: LinearClient) -> None:
    with pytest.raises(LinearError) as caught:
        client.team("NOPE")
    assert not caught.value.retryable
    assert "NOPE" in str(caught.value)


def test_labels_resolve_by_name_prefer_the_team_label_and_report_missing(
    fake: FakeLinear, client: LinearClient
) -> None:
    eng = client.team("ENG")
    own_bug = next(label for label in fake.labels if label["name"] == "Bug" and label["team"])
    tekion = next(label for label in fake.labels if label["name"] == "Tekion")
    fake.add_label("Sync", team=fake.teams[eng.id], is_group=True)  # a group cannot go on an issue
    lookup = client.label_ids(eng.id, ["bug", "Tekion", "Sync", "Pam core", "No such label"])
    assert lookup.ids == {"bug": own_bug["id"], "Tekion": tekion["id"]}
    # "Pam core" is SUP's label: it cannot go on an ENG issue.
    assert lookup.missing == ("Sync", "Pam core", "No such label")
    calls = fake.calls["Tier0LabelsByName"]
    client.label_ids(eng.id, ["Bug", "Tekion", "No such label"])
    assert fake.calls["Tier0LabelsByName"] == calls  # cached, misses included


def test_rate_limit_headers_are_read(fake: FakeLinear, client: LinearClient, clock: FakeClock) -> None:
    client.viewer()
    status = client.rate_limit
    assert status is not None
    assert status.requests_limit == 2500
    assert status.requests_remaining == 2499
    assert status.requests_reset_at == pytest.approx(clock.now + 3600)
    assert status.complexity == 12
    assert status.complexity_remaining == 2999000


def test_ratelimited_graphql_error_waits_for_the_reset_then_retries(
    fake: FakeLinear, client: LinearClient, clock: FakeClock
) -> None:
    # Linear refuses over-limit requests with HTTP 400 and extensions.code RATELIMITED.
    reset_ms = int((clock.now + 7) * 1000)
    fake.fail_next(
        "Tier0Viewer",
        Fault(
            status=400,
            errors=[rate_limited_error()],
            headers={"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": str(reset_ms)},
        ),
    )
    assert client.viewer().name == "tier0 bot"
    assert clock.sleeps == [pytest.approx(7)]
    assert fake.calls["Tier0Viewer"] == 2


def test_http_429_honours_retry_after_seconds(fake: FakeLinear, client: LinearClient, clock: FakeClock) -> None:
    fake.fail_next("Tier0Viewer", Fault(status=429, body=b"Too Many Requests", headers={"Retry-After": "3"}))
    client.viewer()
    assert clock.sleeps == [3.0]


def test_http_429_honours_retry_after_as_a_date(fake: FakeLinear, client: LinearClient, clock: FakeClock) -> None:
    when = format_datetime(datetime.fromtimestamp(clock.now + 20, tz=UTC), usegmt=True)
    fake.fail_next("Tier0Viewer", Fault(status=429, body=b"", headers={"Retry-After": when}))
    client.viewer()
    assert clock.sleeps == [pytest.approx(20, abs=1)]


def test_without_hints_the_client_backs_off_exponentially(fake: FakeLinear, clock: FakeClock) -> None:
    fake.fail_next("Tier0Viewer", Fault(status=429, body=b""), times=3)
    transport_without_reset = httpx.MockTransport(lambda r: _strip_rate_headers(fake.handle(r)))
    with LinearClient(
        API_KEY, http_client=httpx.Client(transport=transport_without_reset), sleep=clock.sleep, clock=clock
    ) as linear:
        linear.viewer()
    assert clock.sleeps == [1.0, 2.0, 4.0]


def _strip_rate_headers(response: httpx.Response) -> httpx.Response:
    headers = {k: v for k, v in response.headers.items() if not k.lower().startswith("x-ratelimit")}
    return httpx.Response(response.status_code, content=response.content, headers=headers)


def test_rate_limit_exhausted_becomes_a_retryable_linear_error(
    fake: FakeLinear, client: LinearClient, clock: FakeClock
) -> None:
    fake.fail_next(
        "Tier0Viewer", Fault(status=400, errors=[rate_limited_error()], headers={"Retry-After": "2"}), times=10
    )
    with pytest.raises(LinearError) as caught:
        client.viewer()
    assert caught.value.retryable and caught.value.is_rate_limited
    assert caught.value.retry_after == 2.0
    assert fake.calls["Tier0Viewer"] == 4  # the first try and max_rate_limit_retries (3) more
    assert clock.sleeps == [2.0, 2.0, 2.0]


def test_a_wait_longer_than_allowed_is_not_slept_but_reported(
    fake: FakeLinear, client: LinearClient, clock: FakeClock
) -> None:
    fake.fail_next("Tier0Viewer", Fault(status=429, body=b"", headers={"Retry-After": "900"}))
    with pytest.raises(LinearError) as caught:
        client.viewer()
    assert caught.value.retryable and caught.value.retry_after == 900.0
    assert clock.sleeps == []


def test_an_empty_bucket_is_waited_out_before_the_next_request(
    fake: FakeLinear, client: LinearClient, clock: FakeClock
) -> None:
    fake.requests_remaining = 1  # this request spends the last one; the answer says 0 remain
    fake.reset_in_seconds = 5
    client.viewer()
    assert client.rate_limit is not None and client.rate_limit.requests_remaining == 0
    assert clock.sleeps == []
    client.viewer()
    assert clock.sleeps == [pytest.approx(5)]  # waited for the reset instead of being refused
    assert fake.calls["Tier0Viewer"] == 2


def test_an_empty_bucket_for_long_fails_fast_without_sending(
    fake: FakeLinear, client: LinearClient, clock: FakeClock
) -> None:
    fake.requests_remaining = 1
    fake.reset_in_seconds = 1800
    client.viewer()
    with pytest.raises(LinearError) as caught:
        client.viewer()
    assert caught.value.retryable and caught.value.retry_after == pytest.approx(1800)
    assert fake.calls["Tier0Viewer"] == 1 and clock.sleeps == []


@pytest.mark.parametrize(
    ("fault", "retryable"),
    [
        (Fault(status=500, body=b"<html>oops</html>"), True),
        (Fault(status=503, errors=[{"message": "unavailable"}]), True),
        (
            Fault(
                status=400, errors=[{"message": "Argument Validation Error", "extensions": {"code": "INVALID_INPUT"}}]
            ),
            False,
        ),
        (Fault(status=200, errors=[{"message": "Entity not found", "extensions": {"code": "INVALID_INPUT"}}]), False),
        (Fault(status=403, body=b"forbidden"), False),
        (Fault(raise_before=httpx.ConnectTimeout), True),
        (Fault(raise_before=httpx.ConnectError), True),
    ],
    ids=["500-html", "503", "400-invalid-input", "200-with-errors", "403-not-json", "timeout", "connect-error"],
)
def test_every_vendor_failure_is_one_linear_error(
    fake: FakeLinear, client: LinearClient, fault: Fault, retryable: bool
) -> None:
    fake.fail_next("Tier0Viewer", fault)
    with pytest.raises(LinearError) as caught:
        client.viewer()
    assert caught.value.retryable is retryable


def test_a_wrong_api_key_is_not_retryable(fake: FakeLinear) -> None:
    with (
        LinearClient("wrong", http_client=httpx.Client(transport=fake.transport())) as linear,
        pytest.raises(LinearError) as caught,
    ):
        linear.viewer()
    assert caught.value.status_code == 401 and not caught.value.retryable


def test_a_response_without_the_fields_asked_for_is_a_linear_error() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"data": {"issues": {"edges": []}}}))
    with (
        LinearClient(API_KEY, http_client=httpx.Client(transport=transport)) as linear,
        pytest.raises(LinearError, match="unexpected response"),
    ):
        linear.find_issue("x")


def test_an_api_key_is_required() -> None:
    with pytest.raises(ValueError, match="LINEAR_API_KEY"):
        LinearClient("")


def test_the_api_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, fake: FakeLinear) -> None:
    monkeypatch.setenv("LINEAR_API_KEY", API_KEY)
    with LinearClient.from_env(http_client=httpx.Client(transport=fake.transport())) as linear:
        assert linear.viewer().name == "tier0 bot"
    monkeypatch.delenv("LINEAR_API_KEY")
    with pytest.raises(ValueError, match="LINEAR_API_KEY"):
        LinearClient.from_env(LinearSecrets(_env_file=None))  # type: ignore[call-arg]
