"""What a classifier receives and returns. Both classifiers (local model, Claude) speak these types.

Labels are plain strings here; they are checked against the policy's taxonomy before
anything is stored (a label outside the policy becomes `needs_review`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ExistingRequest:
    """A ticket already open in the conversation an email continues (so a follow-up is not re-ticketed)."""

    category: str
    product_area: str
    summary: str


@dataclass(frozen=True)
class EmailForTriage:
    subject: str
    text: str  # the new text of the email (reply_text, plus forwarded content when the sender adds little)
    sender_address: str | None = None
    is_reply: bool = False  # threaded into an existing conversation
    existing_requests: tuple[ExistingRequest, ...] = ()
    account_integration: str | None = None  # the account's DMS integration from the CRM, a hint only


@dataclass(frozen=True)
class PrioritySignals:
    """Facts stated in the text that the policy's raise rules read. The policy, not the model, sets priority."""

    urgent_with_reason: bool = False  # "urgent" together with a stated reason (bare "URGENT" does not count)
    churn_threat: bool = False  # threatens to cancel / leave / not renew
    legal_or_security: bool = False  # legal threat, data breach, security exposure
    data_wrong_at_scale: bool = False  # many records wrong, not one


@dataclass(frozen=True)
class RequestTriage:
    text: str  # the part of the email this request was taken from
    summary: str  # one line
    category: str
    product_area: str
    integration: str | None
    signals: PrioritySignals
    sentiment: str  # negative | neutral | positive
    confidence: float  # 0..1, the classifier's confidence in the category
    top_categories: tuple[tuple[str, float], ...] = ()  # up to 3 (label, score), best first
    needs_review: bool = False  # the classifier abstained or produced a label outside the policy


@dataclass(frozen=True)
class EmailTriage:
    requests: list[RequestTriage] = field(default_factory=list)
    gratitude_only: bool = False  # a bare "thanks" that asks for nothing
    classifier: str = ""  # e.g. "local" or "claude"
    model_version: str = ""


class Classifier(Protocol):
    name: str
    model_version: str

    def triage(self, email: EmailForTriage) -> EmailTriage: ...
