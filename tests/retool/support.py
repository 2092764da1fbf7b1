"""Turning the export's queries into what Retool would send, without Retool.

Retool evaluates every `{{ js }}` in a query before sending it. Without a JavaScript engine, each
expression the app's queries contain has typed sample values here (`SAMPLES`, keyed by the
expression's exact text): a value the expression can evaluate to in the app. Where the values come
from a dropdown's fixed options, the samples are read from that dropdown in the export, so every
option it offers is sent to the real API or database. An expression without samples fails the
tests: a new query parameter must come with the values it can take.

- SQL: Retool sends a prepared statement: each `{{ }}` becomes a bind parameter, and its Postgres
  connector (node-postgres) sends every parameter as text of unknown type for the server to infer
  (numbers as their digits, arrays as array literals, null as NULL). `sql_variants` does the same
  with psycopg (a Python str is bound with the unknown type, OID 0).
- REST: the URL and the raw JSON body are strings with templates interpolated as text;
  `text_variants` substitutes the samples (JSON-encoded inside a body, as the app's
  `JSON.stringify` / `Number` produce them).

Each `*_variants` gives the baseline (every expression at its first sample) and one variant per
further sample of each expression, the others at baseline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.retool.export import TEMPLATE, RetoolApp


@dataclass(frozen=True)
class Seeded:
    """A value that names a row of the test's database (a ticket id, a draft id)."""

    key: str


@dataclass
class Context:
    app: RetoolApp
    seeded: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Seeded):
            return self.seeded[value.key]
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value


Sampler = Callable[[Context], list[Any]]
_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")


def dropdown_options(app: RetoolApp, widget_id: str) -> list[str]:
    """The fixed options of a dropdown whose `values` is a JS array of string literals."""
    values = app.plugins[widget_id].template["values"]
    match = re.fullmatch(r"\{\{\s*\[(.*)\]\s*\}\}", values, re.DOTALL)
    assert match, f"{widget_id}: values is not a literal list: {values!r}"
    return _STRING.findall(match.group(1))


def _fixed(*values: Any) -> Sampler:
    return lambda _context: list(values)


def _query_fragment(widget_id: str, parameter: str, *, default: str | None = None) -> Sampler:
    """`'&param=' + widget.value` for each option of the dropdown, and '' when cleared."""

    def sample(context: Context) -> list[Any]:
        options = dropdown_options(context.app, widget_id)
        if default is None:
            return ["", *(f"&{parameter}={option}" for option in options)]
        chosen = [default, *options]
        return ["".join(f"&{parameter}={value}" for value in option.split(",")) for option in chosen]

    return sample


TICKET = Seeded("ticket_id")
DRAFT = Seeded("draft_id")
ACCOUNT = Seeded("account_id")

SAMPLES: dict[str, Sampler] = {
    # queue filters (URL fragments of GET /tickets)
    "tierFilter.value ? '&tier=' + tierFilter.value : ''": _query_fragment("tierFilter", "tier"),
    "routeFilter.value ? '&route=' + encodeURIComponent(routeFilter.value) : ''": _fixed(
        "", "&route=ops", "&route=support-eng-integrations"
    ),
    "(statusFilter.value || 'open,pending_customer').split(',').map(status => '&status=' + status).join('')": (
        _query_fragment("statusFilter", "status", default="open,pending_customer")
    ),
    "slaFilter.value ? '&sla_state=' + slaFilter.value : ''": _query_fragment("slaFilter", "sla_state"),
    "flaggedFilter.value ? '&flagged=' + flaggedFilter.value : ''": _query_fragment("flaggedFilter", "flagged"),
    # the selected queue row (GET /tickets/{id} and the marts)
    "queueTable.selectedRow.data?.ticket_id": _fixed(TICKET),
    "queueTable.selectedRow.data?.ticket_id ?? null": _fixed(TICKET, None),
    "queueTable.selectedRow.data?.account_id ?? null": _fixed(ACCOUNT, None),
    "queueQuery.data ? queueQuery.data.items.map(item => item.ticket_id) : []": _fixed(
        [TICKET, Seeded("other_ticket_id")], []
    ),
    # the ticket and draft of the panel's GET /tickets/{id} response
    "ticketDetail.data?.ticket.ticket_id": _fixed(TICKET),
    "pendingDraft.value?.draft_id": _fixed(DRAFT),
    # request bodies: what JSON.stringify / Number give for what the inputs can hold
    "JSON.stringify(draftEditor.value)": _fixed('Hi Maria,\n\nGo to Reports > Export, then "CSV".\n\nBest,\nPam'),
    "JSON.stringify(rejectReasonInput.value.trim())": _fixed("cites the wrong article"),
    "JSON.stringify(reassignRouteSelect.value)": _fixed("support-eng-integrations"),
    "JSON.stringify(actionReasonInput.value.trim() || null)": _fixed(None, "customer confirmed it works"),
    "JSON.stringify(actionReasonInput.value.trim())": _fixed("needs an engineer: sync fails daily"),
    "JSON.stringify(assigneeInput.value.trim() || null)": _fixed(None, "dana"),
    "Number(escalateTierSelect.value)": _fixed(2, 1, 3),
    "JSON.stringify(escalateRouteSelect.value || null)": _fixed(None, "support-eng-integrations"),
}


def samples_for(expression: str, context: Context) -> list[Any]:
    if expression not in SAMPLES:
        raise KeyError(f"no sample values for the expression {{{{ {expression} }}}}: add them to SAMPLES")
    values = [context.resolve(value) for value in SAMPLES[expression](context)]
    assert values, expression
    return values


def _variants(expressions: list[str], context: Context) -> Iterator[dict[str, Any]]:
    choices = {expression: samples_for(expression, context) for expression in dict.fromkeys(expressions)}
    baseline = {expression: values[0] for expression, values in choices.items()}
    yield baseline
    for expression, values in choices.items():
        for value in values[1:]:
            yield {**baseline, expression: value}


def node_postgres_text(value: Any) -> str | None:
    """A JS value as node-postgres sends it: text, or None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        items = []
        for item in value:
            text = node_postgres_text(item)
            items.append("NULL" if text is None else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
        return "{" + ",".join(items) + "}"
    return str(value)


def sql_variants(sql: str, context: Context) -> Iterator[tuple[str, list[str | None]]]:
    """(psycopg query, parameters) for each variant of the query's `{{ }}` values."""
    found = [match.strip() for match in TEMPLATE.findall(sql)]
    query = TEMPLATE.sub("%s", sql.replace("%", "%%"))
    for chosen in _variants(found, context):
        yield query, [node_postgres_text(chosen[expression]) for expression in found]


def render(template: str, chosen: Mapping[str, Any], encode: Callable[[Any], str]) -> str:
    return TEMPLATE.sub(lambda match: encode(chosen[match.group(1).strip()]), template)


def text_variants(template: str, context: Context, encode: Callable[[Any], str]) -> Iterator[str]:
    found = [match.strip() for match in TEMPLATE.findall(template)]
    for chosen in _variants(found, context):
        yield render(template, chosen, encode)


def as_url_text(value: Any) -> str:
    return "" if value is None else str(value)


def as_json_text(value: Any) -> str:
    return json.dumps(value)


@dataclass(frozen=True)
class Request:
    query_id: str
    method: str
    url: str
    body: Any  # parsed JSON, or None without a body
    raw_body: str = ""  # the text Retool sends


def requests_of(app: RetoolApp, query_id: str, context: Context) -> list[Request]:
    """Every variant of a REST query as (method, URL, parsed body): URL and body vary together,
    since a body's expressions and the URL's are distinct."""
    template = app.plugins[query_id].template
    url, body = template["query"], template["body"]
    found = [match.strip() for match in TEMPLATE.findall(url + "\n" + body)]
    requests = []
    for chosen in _variants(found, context):
        rendered = render(body, chosen, as_json_text) if body else ""
        requests.append(
            Request(
                query_id,
                template["type"],
                render(url, chosen, as_url_text),
                json.loads(rendered) if rendered.strip() else None,
                rendered,
            )
        )
    return requests
