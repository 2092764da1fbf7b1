"""The thin approval API (FastAPI) that Retool's OPS queue calls.

Each route authenticates the bearer token (backend/users/store.py), validates its input (the
pydantic models in schemas.py; FastAPI answers 422 with the field errors), calls one function in
backend/api (actions, queue, detail) and maps that function's refusals to HTTP:

    401  no bearer token, or an unknown / revoked one        (WWW-Authenticate: Bearer)
    403  the user's role may not do this                     (PermissionDenied)
    404  unknown ticket or draft                             (NotFoundError)
    409  the ticket or draft is in a state that forbids it   (ConflictError, e.g. a decided draft)
    422  a request the policy does not allow                 (InvalidActionError, e.g. an unknown route)

Every error body is `{"detail": "<message>"}`, the message naming what to do instead where there
is something. /webhooks/linear is authenticated by Linear's signature instead of a token
(backend/linear/webhooks.py): 401 for a bad signature or a stale delivery, 400 for a malformed
body, 503 when LINEAR_WEBHOOK_SECRET is not set.

`create_app(database_url, clock=...)` builds the app; `serve(host, port)` runs it with uvicorn
(what `tier0 api serve` calls). Database errors are ours: FastAPI answers 500 and logs them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.api import actions
from backend.api.actions import ActionContext
from backend.api.detail import ticket_detail
from backend.api.errors import ActionError, ConflictError, InvalidActionError, NotFoundError
from backend.api.pool import ConnectionPool
from backend.api.queue import DEFAULT_STATUSES, QueueFilters, list_queue
from backend.api.schemas import (
    ActionResult,
    ApproveDraftBody,
    DeescalateBody,
    DraftDecisionResult,
    ErrorOut,
    EscalateBody,
    EscalationSuggestionOut,
    HealthOut,
    HumanReplyBody,
    MeOut,
    QueuePage,
    ReassignBody,
    RejectDraftBody,
    RelabelBody,
    ReopenBody,
    ResolveBody,
    SlaStateName,
    TicketDetail,
    TicketStatus,
    UserOut,
    WaitBody,
    WebhookResult,
)
from backend.api.sla_view import SlaCache
from backend.policy.model import Policy
from backend.users.roles import PERMISSIONS, Permission, PermissionDenied, require
from backend.users.store import User, authenticate, list_users

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuthError(Exception):
    """No usable bearer token (API: 401)."""


_STATUS = {NotFoundError: 404, ConflictError: 409, InvalidActionError: 422}

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no bearer token, or an unknown or revoked one"},
    403: {"model": ErrorOut, "description": "the user's role may not do this"},
}
_TICKET_ERRORS: dict[int | str, dict[str, Any]] = {
    **_AUTH_ERRORS,
    404: {"model": ErrorOut, "description": "unknown ticket (or draft)"},
    409: {"model": ErrorOut, "description": "the ticket or draft is in a state that does not allow this"},
}

_bearer = HTTPBearer(auto_error=False, description="a token from `tier0 users add NAME --role ops|lead|admin`")


def _connection(request: Request) -> Iterator[psycopg.Connection]:
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


Conn = Annotated[psycopg.Connection, Depends(_connection)]


def _current_user(conn: Conn, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> User:
    if credentials is None or not credentials.credentials:
        raise AuthError("missing bearer token (Authorization: Bearer <token>)")
    user = authenticate(conn, credentials.credentials)
    if user is None:
        raise AuthError("invalid or revoked token")
    return user


CurrentUser = Annotated[User, Depends(_current_user)]
TicketId = Annotated[int, Path(ge=1)]
DraftId = Annotated[int, Path(ge=1)]


def create_app(
    database_url: str | None = None,
    *,
    clock: Clock = utc_now,
    policy: Policy | None = None,
    linear_webhook_secret: str | None = None,
    pool_size: int | None = None,
) -> FastAPI:
    """The approval API over the database at `database_url` (default: DATABASE_URL or the embedded
    Postgres). `clock` gives "now" for SLA states and event times (tests fix it). The policy and
    the Linear webhook secret default to config/policy.yaml and LINEAR_WEBHOOK_SECRET."""
    from backend.api.settings import ApiSettings
    from backend.db.server import database_url as default_database_url
    from backend.linear.config import LinearSecrets, load_linear_config
    from backend.policy.model import load_policy
    from backend.settings import get_settings

    policy = policy or load_policy(get_settings().policy_path)
    linear_config = load_linear_config(policy) if policy.linear else None
    issue_tiers = frozenset(linear_config.issue_tiers) if linear_config else frozenset()
    if linear_webhook_secret is None:
        secret = LinearSecrets().webhook_secret
        linear_webhook_secret = secret.get_secret_value() if secret else None
    pool = ConnectionPool(database_url or default_database_url(), size=pool_size or ApiSettings().pool_size)
    sla_cache = SlaCache(policy)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()

    app = FastAPI(
        title="tier0 approval API",
        version="1",
        summary="The OPS queue: tickets, AI drafts to approve, escalations, resolutions.",
        lifespan=lifespan,
    )
    app.state.pool = pool

    def context() -> ActionContext:
        return ActionContext(policy=policy, now=clock(), linear_issue_tiers=issue_tiers)

    @app.exception_handler(AuthError)
    async def _auth_error(_request: Request, error: AuthError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(PermissionDenied)
    async def _permission_error(_request: Request, error: PermissionDenied) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=403)

    @app.exception_handler(ActionError)
    async def _action_error(_request: Request, error: ActionError) -> JSONResponse:
        status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)
        return JSONResponse({"detail": str(error)}, status_code=status)

    @app.get("/healthz", response_model=HealthOut, tags=["meta"])
    def healthz(conn: Conn) -> HealthOut:
        conn.execute("select 1")
        return HealthOut(status="ok", database="ok")

    @app.get("/me", response_model=MeOut, responses=_AUTH_ERRORS, tags=["meta"])
    def me(user: CurrentUser) -> MeOut:
        return MeOut(name=user.name, role=user.role, permissions=sorted(p.value for p in PERMISSIONS[user.role]))

    @app.get("/tickets", response_model=QueuePage, responses=_AUTH_ERRORS, tags=["queue"])
    def queue(
        conn: Conn,
        user: CurrentUser,
        tier: Annotated[int | None, Query(ge=0, le=3)] = None,
        route: Annotated[str | None, Query(max_length=200)] = None,
        status: Annotated[
            list[TicketStatus] | None, Query(description="repeatable; default open and pending_customer")
        ] = None,
        sla_state: SlaStateName | None = None,
        flagged: bool | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> QueuePage:
        """The queue, most at risk of missing its SLA first."""
        require(user.role, Permission.READ_QUEUE)
        filters = QueueFilters(
            tier=tier,
            route=route,
            statuses=tuple(status) if status else DEFAULT_STATUSES,
            sla_state=sla_state,
            flagged=flagged,
            limit=limit,
            offset=offset,
        )
        return list_queue(conn, filters, policy=policy, now=clock(), sla_cache=sla_cache)

    @app.get("/tickets/{ticket_id}", response_model=TicketDetail, responses=_TICKET_ERRORS, tags=["queue"])
    def ticket(conn: Conn, user: CurrentUser, ticket_id: TicketId) -> TicketDetail:
        """A ticket with its history, drafts, SLA clocks, email and customer context."""
        require(user.role, Permission.READ_QUEUE)
        return ticket_detail(conn, ticket_id, policy=policy, now=clock(), sla_cache=sla_cache)

    @app.post(
        "/tickets/{ticket_id}/drafts/{draft_id}/approve",
        response_model=DraftDecisionResult,
        responses=_TICKET_ERRORS,
        tags=["drafts"],
    )
    def approve(
        conn: Conn, user: CurrentUser, ticket_id: TicketId, draft_id: DraftId, body: ApproveDraftBody | None = None
    ) -> DraftDecisionResult:
        """Approve a pending draft (with `body`: edit and approve); the reply is queued for sending."""
        edited = body.body if body is not None else None
        return actions.approve_draft(conn, ticket_id, draft_id, user, context(), body=edited)

    @app.post(
        "/tickets/{ticket_id}/drafts/{draft_id}/reject",
        response_model=DraftDecisionResult,
        responses=_TICKET_ERRORS,
        tags=["drafts"],
    )
    def reject(
        conn: Conn, user: CurrentUser, ticket_id: TicketId, draft_id: DraftId, body: RejectDraftBody
    ) -> DraftDecisionResult:
        return actions.reject_draft(conn, ticket_id, draft_id, user, context(), reason=body.reason)

    @app.post(
        "/tickets/{ticket_id}/reply", response_model=DraftDecisionResult, responses=_TICKET_ERRORS, tags=["drafts"]
    )
    def reply(conn: Conn, user: CurrentUser, ticket_id: TicketId, body: HumanReplyBody) -> DraftDecisionResult:
        """Answer the customer by hand (tier 1 and up); queued for sending like an approved draft."""
        return actions.reply_by_hand(conn, ticket_id, user, context(), body=body.body)

    @app.post("/tickets/{ticket_id}/reassign", response_model=ActionResult, responses=_TICKET_ERRORS, tags=["tickets"])
    def reassign(conn: Conn, user: CurrentUser, ticket_id: TicketId, body: ReassignBody) -> ActionResult:
        """Another queue at the same tier (counted as a mis-route), and/or an assignee."""
        return actions.reassign(
            conn, ticket_id, user, context(), route=body.route, reason=body.reason, assignee=body.assignee
        )

    @app.get(
        "/tickets/{ticket_id}/escalation-suggestion",
        response_model=EscalationSuggestionOut,
        responses=_TICKET_ERRORS,
        tags=["tickets"],
    )
    def escalation_suggestion(conn: Conn, user: CurrentUser, ticket_id: TicketId) -> EscalationSuggestionOut:
        """Whom to escalate to: the policy's route for the next tier, then a person by load and past
        resolutions of the same category, with the reason (backend/escalation/suggest.py)."""
        from backend.escalation.actions import EscalationRefused, TicketNotFound
        from backend.escalation.suggest import suggest_escalation

        try:
            suggestion = suggest_escalation(conn, policy, ticket_id)
        except TicketNotFound as missing:
            raise NotFoundError(str(missing)) from missing
        except EscalationRefused as refused:
            raise ConflictError(str(refused)) from refused
        return EscalationSuggestionOut.model_validate(suggestion.as_dict())

    @app.post("/tickets/{ticket_id}/escalate", response_model=ActionResult, responses=_TICKET_ERRORS, tags=["tickets"])
    def escalate(conn: Conn, user: CurrentUser, ticket_id: TicketId, body: EscalateBody) -> ActionResult:
        """Up to a higher tier; skipping a tier needs the lead role."""
        return actions.escalate(
            conn,
            ticket_id,
            user,
            context(),
            to_tier=body.to_tier,
            to_route=body.to_route,
            reason=body.reason,
            assignee=body.assignee,
        )

    @app.post(
        "/tickets/{ticket_id}/deescalate", response_model=ActionResult, responses=_TICKET_ERRORS, tags=["tickets"]
    )
    def deescalate(conn: Conn, user: CurrentUser, ticket_id: TicketId, body: DeescalateBody) -> ActionResult:
        """Back down to a lower tier (lead or admin)."""
        return actions.deescalate(
            conn, ticket_id, user, context(), to_tier=body.to_tier, to_route=body.to_route, reason=body.reason
        )

    @app.post("/tickets/{ticket_id}/resolve", response_model=ActionResult, responses=_TICKET_ERRORS, tags=["tickets"])
    def resolve(conn: Conn, user: CurrentUser, ticket_id: TicketId, body: ResolveBody | None = None) -> ActionResult:
        return actions.resolve(conn, ticket_id, user, context(), note=body.note if body else None)

    @app.post("/tickets/{ticket_id}/reopen", response_model=ActionResult, responses=_TICKET_ERRORS, tags=["tickets"])
    def reopen(conn: Conn, user: CurrentUser, ticket_id: TicketId, body: ReopenBody) -> ActionResult:
        return actions.reopen(conn, ticket_id, user, context(), reason=body.reason)

    @app.post("/tickets/{ticket_id}/relabel", response_model=ActionResult, responses=_TICKET_ERRORS, tags=["tickets"])
    def relabel(conn: Conn, user: CurrentUser, ticket_id: TicketId, body: RelabelBody) -> ActionResult:
        """Correct category / product area (a training example for the classifier)."""
        return actions.relabel(
            conn,
            ticket_id,
            user,
            context(),
            category=body.category,
            product_area=body.product_area,
            reason=body.reason,
        )

    @app.post("/tickets/{ticket_id}/wait", response_model=ActionResult, responses=_TICKET_ERRORS, tags=["tickets"])
    def wait(conn: Conn, user: CurrentUser, ticket_id: TicketId, body: WaitBody | None = None) -> ActionResult:
        """Waiting on the customer: the SLA clocks pause until they write back."""
        return actions.wait_on_customer(conn, ticket_id, user, context(), note=body.note if body else None)

    @app.get("/users", response_model=list[UserOut], responses=_AUTH_ERRORS, tags=["meta"])
    def users(conn: Conn, user: CurrentUser) -> list[UserOut]:
        """Every user and their active token hints (admin)."""
        require(user.role, Permission.MANAGE_USERS)
        return [
            UserOut(
                name=summary.name,
                role=summary.role,
                created_at=summary.created_at,
                revoked_at=summary.revoked_at,
                active_tokens=summary.active_tokens,
                token_hints=list(summary.token_hints),
            )
            for summary in list_users(conn)
        ]

    @app.post(
        "/webhooks/linear",
        response_model=WebhookResult,
        responses={
            400: {"model": ErrorOut, "description": "signed, but not a JSON object with webhookTimestamp"},
            401: {"model": ErrorOut, "description": "bad signature, or a stale / replayed delivery"},
            503: {"model": ErrorOut, "description": "LINEAR_WEBHOOK_SECRET is not set"},
        },
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "parameters": [
                {"name": "linear-signature", "in": "header", "required": True, "schema": {"type": "string"}},
                {"name": "linear-delivery", "in": "header", "required": False, "schema": {"type": "string"}},
            ],
        },
        tags=["webhooks"],
    )
    async def linear_webhook(request: Request) -> Any:
        """Linear's webhook: verified by its HMAC signature, recorded once per delivery."""
        from backend.linear.webhooks import (
            DELIVERY_HEADER,
            SIGNATURE_HEADER,
            WebhookError,
            handle_webhook,
            verify_webhook,
        )

        if not linear_webhook_secret:
            return JSONResponse(
                {"detail": "Linear webhooks are not configured (LINEAR_WEBHOOK_SECRET is unset)"}, status_code=503
            )
        raw = await request.body()
        try:
            payload = verify_webhook(raw, request.headers.get(SIGNATURE_HEADER), linear_webhook_secret, now=clock())
        except WebhookError as error:
            return JSONResponse({"detail": str(error)}, status_code=error.http_status)

        def record() -> WebhookResult:
            with pool.connection() as conn:
                outcome = handle_webhook(conn, payload, request.headers.get(DELIVERY_HEADER), config=linear_config)
            return WebhookResult(
                delivery_id=outcome.delivery_id,
                status=outcome.status,
                ticket_id=outcome.ticket_id,
                event_type=outcome.event_type,
                reason=outcome.reason,
            )

        return await run_in_threadpool(record)

    return app


def app_from_env() -> FastAPI:
    """For `uvicorn backend.api.app:app_from_env --factory`: everything from the environment."""
    return create_app()


def serve(host: str = "127.0.0.1", port: int = 8000, *, database_url: str | None = None) -> None:
    """Run the API with uvicorn (what `tier0 api serve --host --port` calls). Blocks."""
    import uvicorn

    uvicorn.run(create_app(database_url), host=host, port=port, log_level="info")
