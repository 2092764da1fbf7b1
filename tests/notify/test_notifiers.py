"""The channels: the Slack webhook payload and its error handling (faked at the HTTP level), and
email submitted to a real SMTP server (aiosmtpd) on a loopback port."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from backend.notify.message import Notification, Recipient, TicketFacts, render_notification
from backend.notify.notifiers import EmailNotifier, NotifyError, SlackWebhookNotifier, slack_escape
from tests.notify.conftest import WEBHOOK_URL, FakeSlack, SmtpServer, free_port

MARIA = Recipient("maria", "Maria Okafor", "maria@pam.example", "U0MARIA", "queue_lead")


def _ticket(summary: str = "Calls are not being answered at the Lakeside store") -> TicketFacts:
    return TicketFacts(
        ticket_id=42,
        public_id="7f0c2a4e-0000-4000-8000-000000000042",
        summary=summary,
        priority="P1",
        category="outage",
        product_area="telephony",
        tier=2,
        route="support-eng-core",
        status="open",
        account_name="Lakeside Motors",
        timezone="America/Chicago",
        created_at=datetime(2026, 5, 4, 14, 0, tzinfo=UTC),
    )


def _page(
    summary: str = "Calls are not being answered at the Lakeside store", recipient: Recipient = MARIA
) -> Notification:
    return render_notification(
        key="tier0-page-7",
        severity="page",
        event="p1_created",
        payload={"ticket_id": 42, "priority": "P1"},
        ticket=_ticket(summary),
        recipient=recipient,
        ticket_url_base="https://tier0.pam.example",
    )


def test_slack_payload_is_text_plus_blocks_and_mentions_the_recipient() -> None:
    payload = SlackWebhookNotifier.payload(_page())
    assert set(payload) == {"text", "blocks"}
    assert payload["text"].startswith(":rotating_light: P1 page: ticket #42 (Lakeside Motors)")
    assert "<@U0MARIA>" in payload["text"]
    header, section, context = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": _page().title}}
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "• Summary: Calls are not being answered at the Lakeside store" in section["text"]["text"]
    assert "• Queue now: tier 2 (support-eng-core)" in section["text"]["text"]
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == "For <@U0MARIA> · <https://tier0.pam.example/tickets/42|Open ticket #42>"


def test_customer_text_cannot_mention_or_link_anything_in_slack() -> None:
    payload = SlackWebhookNotifier.payload(_page(summary="<!channel> pay <https://evil.example|here> & now"))
    header, *mrkdwn_blocks = payload["blocks"]
    assert header["text"]["type"] == "plain_text"  # Slack never parses mentions or links in plain_text
    rendered = json.dumps([payload["text"], mrkdwn_blocks])
    assert "<!channel>" not in rendered and "<https://evil.example" not in rendered
    assert "&lt;!channel&gt; pay &lt;https://evil.example|here&gt; &amp; now" in payload["blocks"][1]["text"]["text"]
    assert slack_escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_slack_header_respects_the_block_limit() -> None:
    payload = SlackWebhookNotifier.payload(_page(summary="x" * 1000))
    assert len(payload["blocks"][0]["text"]["text"]) <= 150


def test_slack_webhook_posts_json_to_the_url(slack: FakeSlack) -> None:
    where = slack.notifier().send(_page())
    assert where == "slack:U0MARIA"
    [request] = slack.requests
    assert request.method == "POST" and str(request.url) == WEBHOOK_URL
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == SlackWebhookNotifier.payload(_page())


@pytest.mark.parametrize(
    ("status", "body", "headers", "retryable", "retry_after"),
    [
        (500, "rollup_error", {}, True, None),
        (503, "", {}, True, None),
        (429, "rate_limited", {"Retry-After": "30"}, True, 30.0),
        (400, "invalid_payload", {}, False, None),
        (403, "action_prohibited", {}, False, None),
        (404, "channel_not_found", {}, False, None),
        (410, "channel_is_archived", {}, False, None),
    ],
)
def test_slack_errors_say_whether_a_retry_can_help(
    slack: FakeSlack, status: int, body: str, headers: dict[str, str], retryable: bool, retry_after: float | None
) -> None:
    slack.script.append((status, body, headers))
    with pytest.raises(NotifyError) as caught:
        slack.notifier().send(_page())
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after
    assert body in str(caught.value)
    assert "secret-token" not in str(caught.value)  # the webhook URL is a secret


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("timed out"), httpx.ConnectError("connection refused to hooks.slack.test/services")]
)
def test_slack_transport_failures_are_retryable_and_never_show_the_url(slack: FakeSlack, error: Exception) -> None:
    slack.raise_error = error
    with pytest.raises(NotifyError) as caught:
        slack.notifier().send(_page())
    assert caught.value.retryable is True
    assert "hooks.slack.test" not in str(caught.value)


def test_email_is_delivered_to_a_real_smtp_server(smtp_server: SmtpServer) -> None:
    where = smtp_server.notifier().send(_page())
    assert where == "email:maria@pam.example"
    [(envelope, message)] = smtp_server.handler.messages
    assert envelope.mail_from == "alerts@pam.example"
    assert envelope.rcpt_tos == ["maria@pam.example"]
    assert message["To"] == "Maria Okafor <maria@pam.example>"
    assert message["Subject"] == "[tier0 PAGE] " + _page().title
    assert message["Message-ID"] == "<tier0-page-7@pam.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert "Summary: Calls are not being answered at the Lakeside store" in body
    assert "Open the ticket: https://tier0.pam.example/tickets/42" in body


def test_customer_text_cannot_add_an_email_header(smtp_server: SmtpServer) -> None:
    smtp_server.notifier().send(_page(summary="Outage\r\nBcc: attacker@evil.example"))
    [(envelope, message)] = smtp_server.handler.messages
    assert envelope.rcpt_tos == ["maria@pam.example"]
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]


@pytest.mark.parametrize(("reply", "retryable"), [("550 5.1.1 no such user", False), ("451 4.3.0 try later", True)])
def test_smtp_refusals_follow_rfc_5321_reply_classes(smtp_server: SmtpServer, reply: str, retryable: bool) -> None:
    smtp_server.handler.rcpt_reply = reply
    with pytest.raises(NotifyError) as caught:
        smtp_server.notifier().send(_page())
    assert caught.value.retryable is retryable
    assert smtp_server.handler.messages == []


def test_an_unreachable_relay_is_retryable() -> None:
    notifier = EmailNotifier("127.0.0.1", free_port(), sender="alerts@pam.example", security="none", timeout_seconds=2)
    with pytest.raises(NotifyError) as caught:
        notifier.send(_page())
    assert caught.value.retryable is True


def test_a_person_without_an_email_address_fails_permanently(smtp_server: SmtpServer) -> None:
    nobody = Recipient("dev", "Dev Patel", None, None, "on_call")
    with pytest.raises(NotifyError, match="dev has no email address") as caught:
        smtp_server.notifier().send(_page(recipient=nobody))
    assert caught.value.retryable is False
