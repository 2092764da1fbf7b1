"""Linear: Tier 2 and Tier 3 tickets become Linear issues (once), and what engineering does there
(state changes, comments) comes back as ticket events.

- `client.py`: `LinearClient`, the GraphQL client (typed results, one `LinearError`, rate limits).
- `documents.py`: every GraphQL document we send, validated against Linear's schema in tests.
- `config.py`: the policy's `linear:` section (teams, labels, priority mapping) and the secrets.
- `issue_content.py`: the issue's title and Markdown description, from the ticket's context.
- `outbox.py`: `enqueue_linear_issue` and `deliver_linear_outbox` (idempotent issue creation).
- `webhooks.py`: `verify_webhook` (signature, freshness) and `handle_webhook` (ticket events).
"""

from backend.linear.client import IssueDraft, LinearClient, LinearError, LinearIssue
from backend.linear.config import LinearConfig, LinearSecrets, load_linear_config
from backend.linear.outbox import DeliveryReport, deliver_linear_outbox, enqueue_linear_issue, linear_issue_id_for
from backend.linear.webhooks import (
    WebhookError,
    WebhookMalformedError,
    WebhookOutcome,
    WebhookSignatureError,
    WebhookStaleError,
    handle_webhook,
    verify_webhook,
)

__all__ = [
    "DeliveryReport",
    "IssueDraft",
    "LinearClient",
    "LinearConfig",
    "LinearError",
    "LinearIssue",
    "LinearSecrets",
    "WebhookError",
    "WebhookMalformedError",
    "WebhookOutcome",
    "WebhookSignatureError",
    "WebhookStaleError",
    "deliver_linear_outbox",
    "enqueue_linear_issue",
    "handle_webhook",
    "linear_issue_id_for",
    "load_linear_config",
    "verify_webhook",
]
