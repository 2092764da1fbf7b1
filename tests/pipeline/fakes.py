"""Test doubles for the pipeline: a classifier that reads its answer from markers in the text, so
pipeline tests control classification exactly and test everything around it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from backend.triage.types import EmailForTriage, EmailTriage, PrioritySignals, RequestTriage

_MARKER = re.compile(r"\[(?P<category>[a-z_]+)/(?P<area>[a-z_]+)(?P<flags>(?:\s+[a-z_]+)*)\]")


@dataclass
class MarkerClassifier:
    """Each `[category/area flags...]` marker in the text is one request; `thanks!` alone is gratitude.
    Flags: urgent (urgent with a reason), churn, legal, scale, unsure (needs review)."""

    name: str = "marker"
    model_version: str = "marker-1"
    seen: list[EmailForTriage] = field(default_factory=list)
    fail_with: Exception | None = None

    def triage(self, email: EmailForTriage) -> EmailTriage:
        self.seen.append(email)
        if self.fail_with is not None:
            raise self.fail_with
        requests = []
        for match in _MARKER.finditer(email.text):
            flags = set(match.group("flags").split())
            requests.append(
                RequestTriage(
                    text=match.group(0),
                    summary=f"{match.group('category')} about {match.group('area')}",
                    category=match.group("category"),
                    product_area=match.group("area"),
                    integration=None,
                    signals=PrioritySignals(
                        urgent_with_reason="urgent" in flags,
                        churn_threat="churn" in flags,
                        legal_or_security="legal" in flags,
                        data_wrong_at_scale="scale" in flags,
                    ),
                    sentiment="neutral",
                    confidence=0.2 if "unsure" in flags else 0.9,
                    top_categories=((match.group("category"), 0.9),),
                    needs_review="unsure" in flags,
                )
            )
        gratitude = not requests and email.text.strip().lower().rstrip("!. ") in ("thanks", "thank you")
        return EmailTriage(
            requests=requests, gratitude_only=gratitude, classifier=self.name, model_version=self.model_version
        )


def make_email(
    *,
    sender: str,
    subject: str,
    body: str,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Support <support@pam.example>"
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()
