"""The OPS queue app for Retool, defined here and written to retool/tier0-ops-queue.json.

    python -m backend.retool.ops_app           # (re)write the export
    python -m backend.retool.ops_app --check   # exit 1 when the committed export is stale

What the app does (retool/README.md has the screens and the set-up):

- Queue: the approval API's GET /tickets (resource "tier0 approval API"), filtered by tier, route,
  status, SLA state and review flag, in the API's order (breached, warning, ok, paused, met; then
  the nearest due time). The SLA state is the API's: it runs the clocks in business hours with
  pauses, which no mart has, so the queue does not recompute it in SQL. The warehouse adds each
  row's plan, MRR and history counts (fct_tickets, resource "tier0 warehouse").
- Ticket panel for the selected row: GET /tickets/{id} (ticket, SLA clocks, the email, account with
  plan, MRR and renewal date, linked incidents, drafts with their text: drafts' text, incidents and
  renewal dates are in no mart) and, from the marts, the ticket's routing facts and SLA outcomes,
  the account's other open and recent tickets (fct_tickets) and the event history
  (fct_ticket_events). An account-health line is a hidden placeholder until the API returns one.
- Actions, every one a POST of the approval API with the ticket id and draft id of the panel's
  GET /tickets/{id} response (so a stale selection can never act on another ticket's draft):
  approve as drafted, approve with edits, reject with a reason, send a reply written by hand (no
  draft waiting, tier 1 and up), reassign, escalate, resolve, reopen. Each refreshes the queue
  and the panel when it succeeds; failures show Retool's toaster with the API's message (`detail`).

SQL lives in retool/queries/*.sql (one query per file, reading marts only); Retool sends each as
a prepared statement, every `{{ }}` a bind parameter.

Failures: building is pure; a missing query file is ours (FileNotFoundError).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from backend.paths import REPO_ROOT
from backend.retool import widgets
from backend.retool.export import (
    Position,
    Resource,
    app_state,
    event,
    export_document,
    export_text,
    plugin,
    rest_query_template,
    sql_query_template,
)
from backend.retool.transit import OrderedMap, Record

RETOOL_DIR = REPO_ROOT / "retool"
QUERIES_DIR = RETOOL_DIR / "queries"
EXPORT_PATH = RETOOL_DIR / "tier0-ops-queue.json"
APP_NAME = "tier0 OPS queue"

WAREHOUSE = Resource("tier0 warehouse")
APPROVAL_API = Resource("tier0 approval API")

QUEUE_LIMIT = 200  # the API's maximum page: the 200 tickets most at risk

# The ticket and draft every action acts on: both from the panel's GET /tickets/{id} response.
TICKET_ID = "{{ ticketDetail.data?.ticket.ticket_id }}"
DRAFT_ID = "{{ pendingDraft.value?.draft_id }}"
SELECTED = "queueTable.selectedRow.data"
NO_SELECTION = f"{{{{ !{SELECTED} }}}}"
NO_DETAIL = "{{ !ticketDetail.data }}"
# After a write: the queue, the panel and the marts it shows are read again.
REFRESH_AFTER_WRITE = ("queueQuery", "ticketDetail", "ticketFacts", "accountTickets", "ticketHistory")

TIERS = ("0", "1", "2", "3")
TIER_NAMES = ("Tier 0 · AI", "Tier 1 · OPS", "Tier 2 · Support engineering", "Tier 3 · Product engineering")
STATUS_CHOICES = (
    ("open,pending_customer", "Open or waiting on the customer"),
    ("open", "Open"),
    ("pending_customer", "Waiting on the customer"),
    ("resolved", "Resolved"),
    ("closed", "Closed"),
    ("open,pending_customer,resolved,closed", "Any status"),
)
SLA_CHOICES = (
    ("breached", "Breached"),
    ("warning", "Warning"),
    ("ok", "OK"),
    ("paused", "Paused (waiting on the customer)"),
    ("met", "Met"),
)


def _js_list(values: tuple[str, ...]) -> str:
    return "{{ [" + ", ".join(f"'{value}'" for value in values) + "] }}"


def _sql(name: str) -> str:
    return (QUERIES_DIR / f"{name}.sql").read_text(encoding="utf-8").rstrip("\n")


def _refresh_events() -> list[OrderedMap]:
    return [event("success", plugin_id) for plugin_id in REFRESH_AFTER_WRITE]


def _json_body(fields: list[tuple[str, str]]) -> str:
    """A JSON object whose values are JavaScript: each `{{ }}` ends its own line, so no `}}}`."""
    lines = [f'  "{name}": {{{{ {expression} }}}}' for name, expression in fields]
    return "{\n" + ",\n".join(lines) + "\n}"


def queries() -> list[Record]:
    queue_path = (
        f"tickets?limit={QUEUE_LIMIT}"
        "{{ tierFilter.value ? '&tier=' + tierFilter.value : '' }}"
        "{{ routeFilter.value ? '&route=' + encodeURIComponent(routeFilter.value) : '' }}"
        "{{ (statusFilter.value || 'open,pending_customer').split(',').map(status => '&status=' + status).join('') }}"
        "{{ slaFilter.value ? '&sla_state=' + slaFilter.value : '' }}"
        "{{ flaggedFilter.value ? '&flagged=' + flaggedFilter.value : '' }}"
    )
    queue = rest_query_template("GET", queue_path, run_when_inputs_change=True)
    queue["runWhenPageLoads"] = True
    detail = rest_query_template(
        "GET", f"tickets/{{{{ {SELECTED}?.ticket_id }}}}", run_when_inputs_change=True, disabled=NO_SELECTION
    )
    reads = [
        plugin("queueQuery", "datasource", "RESTQuery", queue, resource=APPROVAL_API, folder="queue"),
        plugin(
            "queueFacts",
            "datasource",
            "SqlQueryUnified",
            sql_query_template(_sql("queue_facts")),
            resource=WAREHOUSE,
            folder="queue",
        ),
        plugin(
            "routeOptions",
            "datasource",
            "SqlQueryUnified",
            sql_query_template(_sql("route_options"), run_when_inputs_change=False, run_on_page_load=True),
            resource=WAREHOUSE,
            folder="queue",
        ),
        plugin("ticketDetail", "datasource", "RESTQuery", detail, resource=APPROVAL_API, folder="ticket"),
    ]
    for plugin_id, name in (
        ("ticketFacts", "ticket_facts"),
        ("accountTickets", "account_tickets"),
        ("ticketHistory", "ticket_history"),
    ):
        reads.append(
            plugin(
                plugin_id,
                "datasource",
                "SqlQueryUnified",
                sql_query_template(_sql(name), disabled=NO_SELECTION),
                resource=WAREHOUSE,
                folder="ticket",
            )
        )

    reason = "actionReasonInput.value.trim()"
    optional_reason = f"JSON.stringify({reason} || null)"
    optional_assignee = "JSON.stringify(assigneeInput.value.trim() || null)"
    draft_path = f"tickets/{TICKET_ID}/drafts/{DRAFT_ID}"
    writes: list[tuple[str, str, str, str | None]] = [
        ("approveDraft", f"{draft_path}/approve", "", None),
        (
            "approveEditedDraft",
            f"{draft_path}/approve",
            _json_body([("body", "JSON.stringify(draftEditor.value)")]),
            None,
        ),
        (
            "rejectDraft",
            f"{draft_path}/reject",
            _json_body([("reason", "JSON.stringify(rejectReasonInput.value.trim())")]),
            None,
        ),
        (
            "reassignTicket",
            f"tickets/{TICKET_ID}/reassign",
            _json_body(
                [
                    ("route", "JSON.stringify(reassignRouteSelect.value)"),
                    ("reason", optional_reason),
                    ("assignee", optional_assignee),
                ]
            ),
            None,
        ),
        (
            "escalateTicket",
            f"tickets/{TICKET_ID}/escalate",
            _json_body(
                [
                    ("to_tier", "Number(escalateTierSelect.value)"),
                    ("to_route", "JSON.stringify(escalateRouteSelect.value || null)"),
                    ("reason", f"JSON.stringify({reason})"),
                    ("assignee", optional_assignee),
                ]
            ),
            f"Escalate ticket {TICKET_ID} to tier {{{{ escalateTierSelect.value }}}}?",
        ),
        (
            "resolveTicket",
            f"tickets/{TICKET_ID}/resolve",
            _json_body([("note", optional_reason)]),
            f"Resolve ticket {TICKET_ID}?",
        ),
        ("reopenTicket", f"tickets/{TICKET_ID}/reopen", _json_body([("reason", f"JSON.stringify({reason})")]), None),
        (
            "sendHumanReply",
            f"tickets/{TICKET_ID}/reply",
            _json_body([("body", "JSON.stringify(draftEditor.value)")]),
            f"Send this reply to the customer of ticket {TICKET_ID}?",
        ),
    ]
    actions = [
        plugin(
            plugin_id,
            "datasource",
            "RESTQuery",
            rest_query_template("POST", path, body=body, events=_refresh_events(), confirmation=confirmation),
            resource=APPROVAL_API,
            folder="actions",
        )
        for plugin_id, path, body, confirmation in writes
    ]
    return reads + actions


QUEUE_ROWS = """// The API's queue page (already in SLA-risk order) with the warehouse's facts for each ticket.
const page = {{ queueQuery.data }};
const facts = {{ formatDataAsArray(queueFacts.data || {}) }};
const factsById = {};
facts.forEach(fact => { factsById[String(fact.ticket_id)] = fact; });
return (page ? page.items : []).map(item => {
  const fact = factsById[String(item.ticket_id)] || {};
  // The next due instant among the clocks still running (met ones are done).
  const dues = [item.sla.first_response, item.sla.resolution]
    .filter(clock => clock.state !== 'met' && clock.due_at)
    .map(clock => clock.due_at)
    .sort();
  return {
    sla_state: item.sla.state,
    next_due_at: dues.length ? dues[0] : null,
    ticket_id: item.ticket_id,
    summary: item.summary,
    account_name: item.account_name,
    plan: fact.plan,
    mrr_usd: fact.mrr_usd,
    tier: item.tier,
    route: item.route,
    priority: item.priority,
    status: item.status,
    is_flagged_for_review: item.is_flagged_for_review,
    has_pending_draft: item.has_pending_draft,
    assignee: item.assignee,
    escalation_count: fact.escalation_count,
    reopen_count: fact.reopen_count,
    created_at: item.created_at,
    account_id: item.account_id,
  };
});"""

PENDING_DRAFT = """// The draft waiting for a decision (the API keeps at most one per ticket), or null.
const detail = {{ ticketDetail.data }};
return (detail ? detail.drafts : []).find(draft => draft.status === 'pending') || null;"""

QUEUE_COLUMNS = [
    ("sla_state", "SLA"),
    ("next_due_at", "Next due"),
    ("ticket_id", "Ticket"),
    ("summary", "Summary"),
    ("account_name", "Account"),
    ("plan", "Plan"),
    ("mrr_usd", "MRR (USD)"),
    ("tier", "Tier"),
    ("route", "Route"),
    ("priority", "Priority"),
    ("status", "Status"),
    ("is_flagged_for_review", "Flagged"),
    ("has_pending_draft", "Draft waiting"),
    ("assignee", "Assignee"),
    ("escalation_count", "Escalations"),
    ("reopen_count", "Reopens"),
    ("created_at", "Created"),
]
ACCOUNT_TICKET_COLUMNS = [
    ("ticket_id", "Ticket"),
    ("created_at", "Created"),
    ("summary", "Summary"),
    ("status", "Status"),
    ("current_tier", "Tier"),
    ("priority", "Priority"),
    ("resolution_sla", "Resolution SLA"),
    ("escalation_count", "Escalations"),
]
HISTORY_COLUMNS = [
    ("occurred_at", "When"),
    ("event_type", "Event"),
    ("actor", "By"),
    ("from_tier", "From tier"),
    ("to_tier", "To tier"),
    ("from_route", "From route"),
    ("to_route", "To route"),
    ("reason", "Reason"),
]

_T = "ticketDetail.data?.ticket"
_SLA = "ticketDetail.data?.sla"
_ACCOUNT = "ticketDetail.data?.customer.account"
_FACT = "ticketFacts.data"

TICKET_SUMMARY = (
    f"#### Ticket {{{{ {_T}.ticket_id }}}}: {{{{ {_T}.summary }}}}\n"
    f"**{{{{ {_T}.status }}}}** · tier {{{{ {_T}.tier }}}} · {{{{ {_T}.route }}}} · {{{{ {_T}.priority }}}}"
    f" · {{{{ {_T}.category }}}} / {{{{ {_T}.product_area }}}}"
    f"{{{{ {_T}.is_flagged_for_review ? ' · **flagged for review**' : '' }}}}"
    f"{{{{ {_T}.assignee ? ' · assigned to ' + {_T}.assignee : '' }}}}\n\n"
    f"SLA **{{{{ {_SLA}.state }}}}** · first response {{{{ {_SLA}.first_response.state }}}}"
    f" (due {{{{ {_SLA}.first_response.due_at || 'n/a' }}}})"
    f" · resolution {{{{ {_SLA}.resolution.state }}}} (due {{{{ {_SLA}.resolution.due_at || 'n/a' }}}})"
)
TICKET_FACTS = (
    f"From the warehouse: first routed to tier {{{{ {_FACT}.first_tier?.[0] }}}} ({{{{ {_FACT}.first_route?.[0] }}}})"
    f" · escalated {{{{ {_FACT}.escalation_count?.[0] }}}}× · mis-routed {{{{ {_FACT}.misroute_count?.[0] }}}}×"
    f" · reopened {{{{ {_FACT}.reopen_count?.[0] }}}}× · SLA outcome: first response"
    f" {{{{ {_FACT}.first_response_sla?.[0] }}}}, resolution {{{{ {_FACT}.resolution_sla?.[0] }}}}"
    f" · {{{{ {_FACT}.draft_count?.[0] }}}} draft(s), {{{{ {_FACT}.llm_call_count?.[0] }}}} LLM call(s),"
    f" USD {{{{ {_FACT}.llm_cost_usd?.[0] }}}}"
)
CUSTOMER = (
    "##### Customer\n"
    f"**{{{{ {_ACCOUNT}?.name || 'No account matched the sender' }}}}**"
    f" · plan {{{{ {_ACCOUNT}?.plan || '—' }}}}"
    f" · MRR {{{{ {_ACCOUNT}?.mrr_usd != null ? 'USD ' + {_ACCOUNT}.mrr_usd : '—' }}}}"
    f" · renewal {{{{ {_ACCOUNT}?.renewal_date || '—' }}}}\n\n"
    f"Onboarding {{{{ {_ACCOUNT}?.onboarding_status || '—' }}}} · integration {{{{ {_ACCOUNT}?.integration || '—' }}}}"
    " · contact {{ ticketDetail.data?.customer.contact_email || '—' }}"
    " · {{ ticketDetail.data?.customer.open_tickets.length }} other open ticket(s)"
)
HEALTH = (
    "**Account health** (placeholder: tier0 has no health score yet; this line stays hidden until the"
    f" API returns one): {{{{ {_ACCOUNT}?.health }}}}"
)
INCIDENTS = (
    "##### Linked incident\n"
    "{{ (ticketDetail.data?.incidents || []).map(incident => '**' + incident.title + '** (' + incident.product_area"
    " + (incident.integration ? ', ' + incident.integration : '') + '), since ' + incident.started_at"
    " + (incident.ended_at ? ', ended ' + incident.ended_at : ', ongoing') + ': ' + incident.customer_message)"
    ".join('\\n\\n') }}"
)
DRAFT_INFO = (
    "##### Draft reply\n"
    "{{ pendingDraft.value ? 'Written by ' + pendingDraft.value.generator"
    " + (pendingDraft.value.model ? ' (' + pendingDraft.value.model + ')' : '')"
    " + ' at ' + pendingDraft.value.created_at + ' · ' + pendingDraft.value.citations.length + ' citation(s)'"
    " + (pendingDraft.value.incident_id ? ' · from incident ' + pendingDraft.value.incident_id : '')"
    " : (ticketDetail.data?.ticket.tier === 0 ? 'No draft is waiting for a decision on this ticket.'"
    " : 'No draft is waiting: write your reply below and send it (it stops the first-response clock).') }}"
)
# A person may write a reply by hand when no draft waits, on an open ticket at tier 1 or higher.
CAN_REPLY_BY_HAND = (
    "!pendingDraft.value && !!ticketDetail.data && ticketDetail.data.ticket.tier > 0"
    " && !['resolved', 'closed'].includes(ticketDetail.data.ticket.status)"
)
ACTIONS_INFO = (
    "##### Ticket actions\n"
    "Each action is a call to the approval API as the user whose token the resource holds;"
    " the queue and this panel refresh when it succeeds."
)
ROUTES = "formatDataAsArray(routeOptions.data || {})"
CLOSED = "['resolved', 'closed'].includes(ticketDetail.data.ticket.status)"
ESCALATION_ROUTES = f"{ROUTES}.filter(row => String(row.tier) === escalateTierSelect.value).map(row => row.route)"
HIGHER_TIERS = "['1', '2', '3'].filter(tier => Number(tier) > Number(ticketDetail.data?.ticket.tier ?? 3))"


def _filters() -> list[Record]:
    def at(col: int) -> Position:
        return Position(row=1.2, col=col, height=1.2, width=2)

    return [
        plugin(
            "tierFilter",
            "widget",
            "SelectWidget2",
            widgets.select("Tier", values=_js_list(TIERS), labels=_js_list(TIER_NAMES), placeholder="Any tier"),
            position=at(0),
        ),
        plugin(
            "routeFilter",
            "widget",
            "SelectWidget2",
            widgets.select(
                "Route",
                values=f"{{{{ [...new Set({ROUTES}.map(row => row.route))] }}}}",
                labels=f"{{{{ [...new Set({ROUTES}.map(row => row.route))] }}}}",
                placeholder="Any route",
                allow_custom_value=True,
            ),
            position=at(2),
        ),
        plugin(
            "statusFilter",
            "widget",
            "SelectWidget2",
            widgets.select(
                "Status",
                values=_js_list(tuple(value for value, _label in STATUS_CHOICES)),
                labels=_js_list(tuple(label for _value, label in STATUS_CHOICES)),
                placeholder="Open or waiting on the customer",
                default=STATUS_CHOICES[0][0],
            ),
            position=at(4),
        ),
        plugin(
            "slaFilter",
            "widget",
            "SelectWidget2",
            widgets.select(
                "SLA state",
                values=_js_list(tuple(value for value, _label in SLA_CHOICES)),
                labels=_js_list(tuple(label for _value, label in SLA_CHOICES)),
                placeholder="Any SLA state",
            ),
            position=at(6),
        ),
        plugin(
            "flaggedFilter",
            "widget",
            "SelectWidget2",
            widgets.select(
                "Flagged for review",
                values="{{ ['true', 'false'] }}",
                labels="{{ ['Flagged for review', 'Not flagged'] }}",
                placeholder="Flagged or not",
            ),
            position=at(8),
        ),
        plugin(
            "refreshButton",
            "widget",
            "ButtonWidget2",
            widgets.button(
                "Refresh",
                [event("click", "queueQuery"), event("click", "routeOptions")],
                loading="{{ queueQuery.isFetching }}",
            ),
            position=Position(row=1.6, col=10, height=0.8, width=2),
        ),
    ]


def _ticket_panel() -> list[Record]:
    def inside(row: float, height: float, col: int = 0, width: int = 12) -> Position:
        return Position(row=row, col=col, height=height, width=width, container="ticketPanel")

    return [
        plugin(
            "ticketPanel",
            "widget",
            "ContainerWidget2",
            widgets.container(hidden=NO_DETAIL),
            position=Position(row=2.4, col=7, height=13.6, width=5),
        ),
        plugin("ticketSummaryText", "widget", "TextWidget2", widgets.text(TICKET_SUMMARY), position=inside(0, 1.8)),
        plugin(
            "ticketFactsText",
            "widget",
            "TextWidget2",
            widgets.text(TICKET_FACTS, hidden=f"{{{{ !({_FACT}?.ticket_id || []).length }}}}"),
            position=inside(1.8, 1),
        ),
        plugin("customerText", "widget", "TextWidget2", widgets.text(CUSTOMER), position=inside(2.8, 1.6)),
        plugin(
            "accountHealthText",
            "widget",
            "TextWidget2",
            widgets.text(HEALTH, hidden=f"{{{{ {_ACCOUNT}?.health == null }}}}"),
            position=inside(4.4, 0.6),
        ),
        plugin(
            "incidentText",
            "widget",
            "TextWidget2",
            widgets.text(INCIDENTS, hidden="{{ !(ticketDetail.data?.incidents || []).length }}"),
            position=inside(5, 1.2),
        ),
        plugin(
            "emailBody",
            "widget",
            "TextAreaWidget",
            widgets.text_area(
                "{{ 'Email: ' + (ticketDetail.data?.email.subject || '(no subject)') + ' — from '"
                " + (ticketDetail.data?.email.from_address || 'unknown sender') }}",
                placeholder="",
                value="{{ ticketDetail.data?.email.request_text || '' }}",
                read_only=True,
                min_lines=5,
            ),
            position=inside(6.2, 3),
        ),
        plugin(
            "accountTicketsTitle",
            "widget",
            "TextWidget2",
            widgets.text("##### The account's other open and recent tickets"),
            position=inside(9.2, 0.6),
        ),
        plugin(
            "accountTicketsTable",
            "widget",
            "TableWidget",
            widgets.table(
                "{{ accountTickets.data }}",
                ACCOUNT_TICKET_COLUMNS,
                empty_message="No other tickets on this account",
                select_first=False,
            ),
            position=inside(9.8, 3.8),
        ),
    ]


def _draft_panel() -> list[Record]:
    def inside(row: float, height: float, col: int = 0, width: int = 12) -> Position:
        return Position(row=row, col=col, height=height, width=width, container="draftPanel")

    return [
        plugin(
            "draftPanel",
            "widget",
            "ContainerWidget2",
            widgets.container(hidden=NO_DETAIL),
            position=Position(row=16, col=0, height=8, width=7),
        ),
        plugin("draftInfoText", "widget", "TextWidget2", widgets.text(DRAFT_INFO), position=inside(0, 1)),
        plugin(
            "draftEditor",
            "widget",
            "TextAreaWidget",
            widgets.text_area(
                "Reply to the customer (edit it, then Approve with my edits)",
                placeholder="No draft waiting (tier 1 and up: write your reply here)",
                value="{{ pendingDraft.value ? pendingDraft.value.body : '' }}",
                disabled=f"{{{{ !pendingDraft.value && !({CAN_REPLY_BY_HAND}) }}}}",
                min_lines=10,
            ),
            position=inside(1, 3.8),
        ),
        plugin(
            "approveButton",
            "widget",
            "ButtonWidget2",
            widgets.button(
                "Approve as drafted",
                [event("click", "approveDraft")],
                disabled="{{ !pendingDraft.value || ticketDetail.isFetching }}",
                loading="{{ approveDraft.isFetching }}",
                tooltip="Queues the draft for sending exactly as written",
                background="#2f855a",
            ),
            position=inside(5, 0.8, col=0, width=6),
        ),
        plugin(
            "approveEditedButton",
            "widget",
            "ButtonWidget2",
            widgets.button(
                "Approve with my edits",
                [event("click", "approveEditedDraft")],
                disabled=(
                    "{{ !pendingDraft.value || ticketDetail.isFetching || !draftEditor.value.trim()"
                    " || draftEditor.value === pendingDraft.value.body }}"
                ),
                loading="{{ approveEditedDraft.isFetching }}",
                tooltip="Queues the text above for sending (recorded as an edited approval)",
                background="#2b6cb0",
            ),
            position=inside(5, 0.8, col=6, width=6),
        ),
        plugin(
            "rejectReasonInput",
            "widget",
            "TextInputWidget2",
            widgets.text_input(
                "Reason for rejecting",
                placeholder="e.g. cites the wrong article",
                disabled="{{ !pendingDraft.value }}",
            ),
            position=inside(6, 1.2, col=0, width=8),
        ),
        plugin(
            "rejectButton",
            "widget",
            "ButtonWidget2",
            widgets.button(
                "Reject draft",
                [event("click", "rejectDraft")],
                disabled="{{ !pendingDraft.value || ticketDetail.isFetching || !rejectReasonInput.value.trim() }}",
                loading="{{ rejectDraft.isFetching }}",
                background="#c53030",
            ),
            position=inside(6.4, 0.8, col=8, width=4),
        ),
        plugin(
            "sendReplyButton",
            "widget",
            "ButtonWidget2",
            widgets.button(
                "Send my reply",
                [event("click", "sendHumanReply")],
                disabled=f"{{{{ !({CAN_REPLY_BY_HAND}) || ticketDetail.isFetching || !draftEditor.value.trim() }}}}",
                loading="{{ sendHumanReply.isFetching }}",
                tooltip="No draft waiting (tier 1 and up): sends the text above as your reply, threaded",
                background="#2b6cb0",
            ),
            position=inside(7.4, 0.8, col=0, width=6),
        ),
    ]


def _actions_panel() -> list[Record]:
    def inside(row: float, height: float, col: int = 0, width: int = 12) -> Position:
        return Position(row=row, col=col, height=height, width=width, container="actionsPanel")

    busy = "ticketDetail.isFetching"
    return [
        plugin(
            "actionsPanel",
            "widget",
            "ContainerWidget2",
            widgets.container(hidden=NO_DETAIL),
            position=Position(row=16, col=7, height=8, width=5),
        ),
        plugin("actionsInfoText", "widget", "TextWidget2", widgets.text(ACTIONS_INFO), position=inside(0, 1)),
        plugin(
            "actionReasonInput",
            "widget",
            "TextInputWidget2",
            widgets.text_input(
                "Reason / note (needed to escalate and to reopen)",
                placeholder="Why: recorded on the ticket's history",
            ),
            position=inside(1, 1.2, col=0, width=8),
        ),
        plugin(
            "assigneeInput",
            "widget",
            "TextInputWidget2",
            widgets.text_input("Assignee (optional)", placeholder="a person's name"),
            position=inside(1, 1.2, col=8, width=4),
        ),
        plugin(
            "reassignRouteSelect",
            "widget",
            "SelectWidget2",
            widgets.select(
                "Reassign to route (same tier)",
                values=(
                    f"{{{{ {ROUTES}.filter(row => String(row.tier) === String(ticketDetail.data?.ticket.tier)"
                    " && row.route !== ticketDetail.data?.ticket.route).map(row => row.route) }}"
                ),
                labels=(
                    f"{{{{ {ROUTES}.filter(row => String(row.tier) === String(ticketDetail.data?.ticket.tier)"
                    " && row.route !== ticketDetail.data?.ticket.route).map(row => row.route) }}"
                ),
                placeholder="Another queue at this tier",
                allow_custom_value=True,
            ),
            position=inside(2.4, 1.2, col=0, width=8),
        ),
        plugin(
            "reassignButton",
            "widget",
            "ButtonWidget2",
            widgets.button(
                "Reassign",
                [event("click", "reassignTicket")],
                disabled=f"{{{{ !ticketDetail.data || {busy} || !reassignRouteSelect.value }}}}",
                loading="{{ reassignTicket.isFetching }}",
                tooltip="Counted as a mis-route of the first routing",
            ),
            position=inside(2.8, 0.8, col=8, width=4),
        ),
        plugin(
            "escalateTierSelect",
            "widget",
            "SelectWidget2",
            widgets.select(
                "Escalate to tier",
                values=f"{{{{ {HIGHER_TIERS} }}}}",
                labels=f"{{{{ {HIGHER_TIERS}.map(tier => 'Tier ' + tier) }}}}",
                placeholder="A higher tier (skipping one needs the lead role)",
            ),
            position=inside(3.8, 1.2, col=0, width=4),
        ),
        plugin(
            "escalateRouteSelect",
            "widget",
            "SelectWidget2",
            widgets.select(
                "Route (optional)",
                values=f"{{{{ {ESCALATION_ROUTES} }}}}",
                labels=f"{{{{ {ESCALATION_ROUTES} }}}}",
                placeholder="The policy's route for the tier",
                allow_custom_value=True,
            ),
            position=inside(3.8, 1.2, col=4, width=4),
        ),
        plugin(
            "escalateButton",
            "widget",
            "ButtonWidget2",
            widgets.button(
                "Escalate",
                [event("click", "escalateTicket")],
                disabled=(
                    f"{{{{ !ticketDetail.data || {busy} || !escalateTierSelect.value"
                    " || !actionReasonInput.value.trim() }}"
                ),
                loading="{{ escalateTicket.isFetching }}",
                background="#c05621",
            ),
            position=inside(4.2, 0.8, col=8, width=4),
        ),
        plugin(
            "resolveButton",
            "widget",
            "ButtonWidget2",
            widgets.button(
                "Resolve",
                [event("click", "resolveTicket")],
                disabled=f"{{{{ !ticketDetail.data || {busy} || {CLOSED} }}}}",
                loading="{{ resolveTicket.isFetching }}",
                tooltip="The reason / note above, if any, is kept with the resolution",
                background="#2f855a",
            ),
            position=inside(5.4, 0.8, col=0, width=6),
        ),
        plugin(
            "reopenButton",
            "widget",
            "ButtonWidget2",
            widgets.button(
                "Reopen",
                [event("click", "reopenTicket")],
                disabled=f"{{{{ !ticketDetail.data || {busy} || !{CLOSED} || !actionReasonInput.value.trim() }}}}",
                loading="{{ reopenTicket.isFetching }}",
            ),
            position=inside(5.4, 0.8, col=6, width=6),
        ),
    ]


def components() -> list[Record]:
    queue_count = (
        "{{ queueQuery.data ? 'Showing ' + queueQuery.data.items.length + ' of ' + queueQuery.data.total"
        f" + ' tickets' + (queueQuery.data.total > queueQuery.data.items.length ? ' (the {QUEUE_LIMIT} most at risk:"
        " narrow the filters to see the others)' : '') : 'Loading the queue…' }}"
    )
    return [
        plugin("$main", "frame", "Frame", widgets.frame(), style=OrderedMap()),
        plugin(
            "titleText",
            "widget",
            "TextWidget2",
            widgets.text(
                "### tier0 · OPS queue\nMost at risk first: breached, then warning, then the nearest due time."
                " Select a ticket for its customer, draft and history."
            ),
            position=Position(row=0, col=0, height=1.2, width=12),
        ),
        *_filters(),
        plugin(
            "queueCountText",
            "widget",
            "TextWidget2",
            widgets.text(queue_count),
            position=Position(row=2.4, col=0, height=0.6, width=7),
        ),
        plugin(
            "queueTable",
            "widget",
            "TableWidget",
            widgets.table("{{ queueRows.value }}", QUEUE_COLUMNS, empty_message="Nothing in the queue matches"),
            position=Position(row=3, col=0, height=13, width=7),
        ),
        *_ticket_panel(),
        *_draft_panel(),
        *_actions_panel(),
        plugin(
            "historyTable",
            "widget",
            "TableWidget",
            widgets.table(
                "{{ ticketHistory.data }}", HISTORY_COLUMNS, empty_message="No ticket selected", select_first=False
            ),
            position=Position(row=24, col=0, height=6, width=12),
        ),
    ]


def transformers() -> list[Record]:
    return [
        plugin("queueRows", "function", "Function", widgets.function(QUEUE_ROWS)),
        plugin("pendingDraft", "function", "Function", widgets.function(PENDING_DRAFT)),
    ]


def build_state() -> Record:
    return app_state(
        [*queries(), *transformers(), *components()],
        folders=["queue", "ticket", "actions"],
        title=APP_NAME,
    )


def build_export_text() -> str:
    return export_text(export_document(APP_NAME, build_state()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the Retool OPS queue export (retool/tier0-ops-queue.json).")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed export differs")
    parser.add_argument("--output", type=Path, default=EXPORT_PATH)
    args = parser.parse_args(argv)
    text = build_export_text()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run python -m backend.retool.ops_app", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
