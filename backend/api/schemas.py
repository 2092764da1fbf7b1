"""The approval API's request and response bodies (pydantic), shared by the routes, the action
functions that fill them and the OpenAPI document FastAPI serves at /openapi.json.

Request bodies refuse unknown fields (`extra="forbid"`), so a typo such as `"reson"` is a 422
instead of a silently missing reason.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SlaStateName = Literal["ok", "warning", "breached", "paused", "met"]
TicketStatus = Literal["open", "pending_customer", "resolved", "closed"]

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ReplyBody = Annotated[str, StringConstraints(min_length=1, max_length=50_000)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApproveDraftBody(_Request):
    body: ReplyBody | None = Field(
        default=None, description="the reply as edited by the approver; omitted: the draft is sent as written"
    )


class HumanReplyBody(_Request):
    body: ReplyBody = Field(description="the reply, as the customer will read it")


class RejectDraftBody(_Request):
    reason: Reason


class ReassignBody(_Request):
    route: Name = Field(description="a route at the ticket's current tier")
    reason: Reason | None = None
    assignee: Name | None = None


class EscalateBody(_Request):
    to_tier: int = Field(ge=1, le=3, description="higher than the ticket's tier")
    to_route: Name | None = Field(default=None, description="default: the policy's route for the tier and product area")
    reason: Reason
    assignee: Name | None = None


class DeescalateBody(_Request):
    to_tier: int = Field(ge=0, le=2, description="lower than the ticket's tier")
    to_route: Name | None = None
    reason: Reason


class ResolveBody(_Request):
    note: Note | None = None


class ReopenBody(_Request):
    reason: Reason


class RelabelBody(_Request):
    category: Name | None = None
    product_area: Name | None = None
    reason: Reason | None = None


class WaitBody(_Request):
    note: Note | None = None


# --- responses --------------------------------------------------------------------------------


class ErrorOut(BaseModel):
    detail: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


class TicketOut(BaseModel):
    ticket_id: int
    public_id: uuid.UUID
    status: TicketStatus
    tier: int
    route: str
    priority: str
    category: str
    product_area: str
    integration: str | None
    summary: str
    sentiment: str | None
    confidence: float | None
    top_categories: list[Any]
    signals: dict[str, Any]
    is_flagged_for_review: bool
    assignee: str | None
    account_id: str | None
    created_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    resolved_tier: int | None


class EventOut(BaseModel):
    event_id: int
    event_type: str
    occurred_at: datetime
    actor: str
    from_tier: int | None
    to_tier: int | None
    from_route: str | None
    to_route: str | None
    message_pk: int | None
    data: dict[str, Any]


class DraftOut(BaseModel):
    draft_id: int
    ticket_id: int
    status: str
    body: str
    citations: list[Any]
    generator: str
    model: str | None
    incident_id: int | None
    search_score: float | None
    is_edited: bool
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reject_reason: str | None
    sent_at: datetime | None
    send_status: str | None = Field(
        default=None, description="the reply's delivery: queued, sending, sent, not_sent (will retry), unknown, failed"
    )


class EscalationCandidateOut(BaseModel):
    person: str
    open_tickets: int
    resolved_in_category: int


class EscalationOptionOut(BaseModel):
    to_tier: int
    to_route: str
    assignee: str | None
    reason: str
    open_tickets: int | None = None
    resolved_in_category: int | None = None


class EscalationSuggestionOut(BaseModel):
    ticket_id: int
    from_tier: int
    from_route: str
    to_tier: int
    to_route: str
    assignee: str | None = Field(description="the suggested person: lightest load, most resolutions of the category")
    reason: str = Field(description="why this route and person, in words")
    alternatives: list[EscalationOptionOut]
    candidates: list[EscalationCandidateOut]


class ActionResult(BaseModel):
    ticket: TicketOut
    events: list[EventOut] = Field(description="the events this action wrote")


class DraftDecisionResult(BaseModel):
    ticket: TicketOut
    draft: DraftOut
    events: list[EventOut]
    outbox_id: int | None = Field(description="the send_reply outbox row of an approved draft")


class ClockOut(BaseModel):
    state: SlaStateName
    due_at: datetime | None
    fraction: float


class SlaOut(BaseModel):
    state: SlaStateName = Field(description="the worse of the two clocks")
    first_response: ClockOut
    resolution: ClockOut


class QueueItem(BaseModel):
    ticket_id: int
    public_id: uuid.UUID
    summary: str
    status: TicketStatus
    tier: int
    route: str
    priority: str
    category: str
    product_area: str
    is_flagged_for_review: bool
    assignee: str | None
    account_id: str | None
    account_name: str | None
    created_at: datetime
    has_pending_draft: bool
    sla: SlaOut


class QueuePage(BaseModel):
    items: list[QueueItem]
    total: int = Field(description="tickets matching the filters, all pages")
    limit: int
    offset: int


class AccountOut(BaseModel):
    account_id: str
    name: str
    timezone: str
    plan: str | None
    mrr_usd: float | None
    contract_start: date | None
    renewal_date: date | None
    onboarding_status: str | None
    integration: str | None


class TicketBrief(BaseModel):
    ticket_id: int
    summary: str
    status: TicketStatus
    tier: int
    priority: str
    category: str
    created_at: datetime
    resolved_at: datetime | None


class CustomerContext(BaseModel):
    account: AccountOut | None
    contact_email: str | None
    open_tickets: list[TicketBrief] = Field(description="the account's other open tickets")
    recent_tickets: list[TicketBrief] = Field(description="the account's other most recent tickets, any status")


class IncidentOut(BaseModel):
    incident_id: int
    title: str
    product_area: str
    integration: str | None
    customer_message: str
    started_at: datetime
    ended_at: datetime | None


class EmailOut(BaseModel):
    message_pk: int
    subject: str | None
    from_address: str | None
    from_name: str | None
    sent_at: datetime | None
    new_text: str | None = Field(description="the email's new text: quoted history and signature removed")
    request_text: str = Field(description="the part of the email this ticket was taken from")


class TicketDetail(BaseModel):
    ticket: TicketOut
    sla: SlaOut
    email: EmailOut
    customer: CustomerContext
    incidents: list[IncidentOut]
    drafts: list[DraftOut]
    events: list[EventOut]


class WebhookResult(BaseModel):
    delivery_id: str
    status: Literal["recorded", "ignored", "duplicate"]
    ticket_id: int | None
    event_type: str | None
    reason: str | None


class UserOut(BaseModel):
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    active_tokens: int
    token_hints: list[str]


class MeOut(BaseModel):
    name: str
    role: str
    permissions: list[str]
