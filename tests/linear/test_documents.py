"""Every GraphQL document tier0 sends to Linear, and the variables it sends with them, fit Linear's
published schema (../shared/external/linear/schema.graphql), checked with graphql-core."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from graphql import GraphQLSchema, OperationDefinitionNode, parse, validate
from graphql.execution.values import get_variable_values

from backend.linear import documents
from backend.linear.client import IssueDraft
from backend.linear.issue_content import TicketContext, render_description, render_title
from backend.linear.outbox import linear_issue_id_for
from tests.linear.conftest import NOW


def request_problems(schema: GraphQLSchema, document: str, variables: dict[str, Any]) -> list[str]:
    """What a GraphQL server would refuse in this request: the document, then the variables."""
    parsed = parse(document)
    problems = [error.message for error in validate(schema, parsed)]
    if problems:
        return problems
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    coerced = get_variable_values(schema, operation.variable_definitions or [], variables)
    return [error.message for error in coerced] if isinstance(coerced, list) else []


@pytest.mark.parametrize("name", sorted(documents.ALL_DOCUMENTS))
def test_every_document_validates_against_linears_schema(linear_schema: GraphQLSchema, name: str) -> None:
    parsed = parse(documents.ALL_DOCUMENTS[name])
    assert validate(linear_schema, parsed) == []
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1 and operations[0].name is not None
    assert operations[0].name.value.startswith("Tier0")


def _draft() -> IssueDraft:
    context = TicketContext(
        ticket_id=7,
        public_id="0b6f3c1e-6a57-4c1e-9d0e-2b1f6f0a9b11",
        summary="Sync broken",
        request_text="x",
        category="integration_issue",
        product_area="integrations",
        integration="tekion",
        priority="P2",
        tier=2,
        route="support-eng-integrations",
        created_at=NOW,
        account_id="a",
        account_name="Lakeside Motors",
        plan="growth",
        mrr_usd=Decimal("4500"),
        renewal_date=date(2026, 6, 30),
        contact_name=None,
        subject=None,
        reply_text="Hello",
    )
    return IssueDraft(
        id=linear_issue_id_for(context.public_id),
        team_id="5a1f5b8e-2f7e-4d0f-8f43-0f5d3c3c9a01",
        title=render_title(context),
        description=render_description(context, base_url="https://ops.example"),
        priority=2,
        label_ids=("6b2f5b8e-2f7e-4d0f-8f43-0f5d3c3c9a02",),
    )


# The variables exactly as the client builds them (see also the fake, which checks every request
# of every other test the same way).
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("ISSUE_CREATE", {"input": _draft().as_input()}),
    ("ISSUE_BY_ID", {"id": linear_issue_id_for("0b6f3c1e-6a57-4c1e-9d0e-2b1f6f0a9b11")}),
    ("ATTACHMENTS_FOR_URL", {"url": "https://ops.example/tickets/7"}),
    (
        "ATTACHMENT_CREATE",
        {
            "input": {
                "issueId": "x",
                "url": "https://ops.example/tickets/7",
                "title": "tier0 ticket #7",
                "subtitle": "s",
            }
        },
    ),
    ("TEAMS", {"filter": {"key": {"eqIgnoreCase": "ENG"}}}),
    ("TEAMS", {"filter": {"id": {"eq": "5a1f5b8e-2f7e-4d0f-8f43-0f5d3c3c9a01"}}}),
    (
        "LABELS_BY_NAME",
        {
            "filter": {
                "and": [
                    {"or": [{"name": {"eqIgnoreCase": "Bug"}}, {"name": {"eqIgnoreCase": "Tekion"}}]},
                    {"team": {"or": [{"id": {"eq": "t"}}, {"null": True}]}},
                ]
            },
            "first": 100,
        },
    ),
    ("VIEWER", {}),
]


@pytest.mark.parametrize(("name", "variables"), REQUESTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(REQUESTS)])
def test_variables_we_send_fit_the_declared_input_types(
    linear_schema: GraphQLSchema, name: str, variables: dict[str, Any]
) -> None:
    assert request_problems(linear_schema, documents.ALL_DOCUMENTS[name], variables) == []


def test_every_document_has_a_request_case() -> None:
    assert {name for name, _ in REQUESTS} == set(documents.ALL_DOCUMENTS)


@pytest.mark.parametrize(
    ("name", "variables", "expected"),
    [
        # Linear's priority is an Int; a name is refused.
        ("ISSUE_CREATE", {"input": {**_draft().as_input(), "priority": "high"}}, "Int cannot represent"),
        # teamId is required by IssueCreateInput.
        ("ISSUE_CREATE", {"input": {"title": "t"}}, "teamId"),
        # an unknown field of the input type.
        ("ATTACHMENT_CREATE", {"input": {"issueId": "x", "url": "u", "title": "t", "link": "u"}}, "link"),
        ("TEAMS", {"filter": {"key": {"like": "ENG"}}}, "like"),
    ],
)
def test_the_check_refuses_wrong_variables(
    linear_schema: GraphQLSchema, name: str, variables: dict[str, Any], expected: str
) -> None:
    problems = request_problems(linear_schema, documents.ALL_DOCUMENTS[name], variables)
    assert problems and any(expected in problem for problem in problems)


def test_the_check_refuses_a_field_linear_does_not_have(linear_schema: GraphQLSchema) -> None:
    wrong = documents.ISSUE_BY_ID.replace("identifier", "humanKey", 1)
    assert request_problems(linear_schema, wrong, {"id": "x"})
