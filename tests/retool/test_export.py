"""The export itself: built from its source, shaped like Retool's own exports, and internally
consistent: every component, query and event handler it refers to exists and is used as what it is."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from backend.retool.export import TEMPLATE, RetoolApp, template_strings
from backend.retool.ops_app import APPROVAL_API, EXPORT_PATH, WAREHOUSE, build_export_text
from backend.retool.transit import Record, loads
from tests.retool.javascript import chains, code_of, free_names, member_accesses

# What each kind of component or query offers to expressions (Retool's documented properties).
PROPERTIES = {
    "RESTQuery": {"data", "isFetching", "error", "trigger"},
    "SqlQueryUnified": {"data", "isFetching", "error", "trigger"},
    "Function": {"value"},
    "SelectWidget2": {"value", "selectedLabel", "selectedItem"},
    "TextInputWidget2": {"value"},
    "TextAreaWidget": {"value"},
    "TableWidget": {"selectedRow", "data"},
}
WRITES = {
    "approveDraft",
    "approveEditedDraft",
    "rejectDraft",
    "reassignTicket",
    "escalateTicket",
    "resolveTicket",
    "reopenTicket",
    "sendHumanReply",
}


def _sample_exports(shared_dir: Path) -> list[dict[str, Any]]:
    folder = shared_dir / "external" / "retool"
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]


def test_the_committed_export_is_built_from_its_source() -> None:
    assert EXPORT_PATH.read_text(encoding="utf-8") == build_export_text(), (
        "retool/tier0-ops-queue.json is stale: run python -m backend.retool.ops_app"
    )


def test_the_export_has_the_layout_of_retools_own_exports(app: RetoolApp, shared_dir: Path) -> None:
    samples = _sample_exports(shared_dir)
    assert samples

    def records(state: Record, name: str) -> list[set[str]]:
        plugins = list(state.fields["plugins"].values())
        if name == "pluginTemplate":
            return [set(plugin.fields) for plugin in plugins]
        return [set(plugin.fields["position2"].fields) for plugin in plugins if plugin.fields["position2"]]

    for sample in samples:
        assert set(app.document) == set(sample)
        assert set(app.document["page"]) == set(sample["page"])
        state = loads(sample["page"]["data"]["appState"])
        assert set(app.state.fields) == set(state.fields)
        assert app.state.fields["version"] == state.fields["version"]
        for name in ("pluginTemplate", "position2"):
            theirs = {frozenset(keys) for keys in records(state, name)}
            if theirs:  # the database set-up app has no widgets, hence no positions
                assert {frozenset(keys) for keys in records(app.state, name)} == theirs, name


def test_query_and_widget_settings_are_complete(app: RetoolApp, shared_dir: Path) -> None:
    """Every setting Retool wrote for a query or widget of the same kind is present here too."""
    expected: dict[str, set[str]] = {}
    for sample in _sample_exports(shared_dir):
        states = [sample["page"]["data"]["appState"]]
        states += [module["data"]["appState"] for module in sample["modules"].values()]
        for state in states:
            for record in loads(state).fields["plugins"].values():
                keys = set(record.fields["template"])
                expected[record.fields["subtype"]] = expected.get(record.fields["subtype"], keys) & keys
    missing = {
        plugin.id: sorted(expected[plugin.subtype] - set(plugin.template))
        for plugin in app.plugins.values()
        if plugin.subtype in expected and expected[plugin.subtype] - set(plugin.template)
    }
    assert missing == {}
    kinds_from_samples = {plugin.subtype for plugin in app.plugins.values()} & set(expected)
    assert kinds_from_samples >= {"RESTQuery", "SqlQueryUnified", "SelectWidget2", "ButtonWidget2", "TextWidget2"}


def test_two_resources_reads_from_the_warehouse_and_calls_to_the_api(app: RetoolApp) -> None:
    by_resource: dict[str | None, set[str]] = {}
    names: dict[str | None, set[str]] = {}
    for plugin in app.plugins.values():
        if plugin.type == "datasource":
            by_resource.setdefault(plugin.resource, set()).add(plugin.subtype)
    for record in app.state.fields["plugins"].values():
        if record.fields["type"] == "datasource":
            names.setdefault(record.fields["resourceDisplayName"], set()).add(record.fields["resourceName"])
    assert by_resource == {WAREHOUSE.display_name: {"SqlQueryUnified"}, APPROVAL_API.display_name: {"RESTQuery"}}
    assert names == {WAREHOUSE.display_name: {WAREHOUSE.name}, APPROVAL_API.display_name: {APPROVAL_API.name}}
    writes = {plugin.id for plugin in app.rest_queries() if plugin.template["type"] != "GET"}
    assert writes == WRITES
    assert all(plugin.template["type"] in ("GET", "POST") for plugin in app.rest_queries())


def test_templates_are_well_formed(app: RetoolApp) -> None:
    problems = []
    for plugin in app.plugins.values():
        for path, text in template_strings(plugin.template):
            if "{{{" in text or "}}}" in text:
                problems.append(f"{plugin.id}.{path}: three braces make the template's end ambiguous")
            if text.count("{{") != text.count("}}") or len(TEMPLATE.findall(text)) != text.count("{{"):
                problems.append(f"{plugin.id}.{path}: unbalanced {{{{ }}}}")
            for expression in TEMPLATE.findall(text):
                if expression.count("{") != expression.count("}") or expression.count("(") != expression.count(")"):
                    problems.append(f"{plugin.id}.{path}: unbalanced brackets in {{{{{expression}}}}}")
    assert problems == []


def test_every_name_the_code_reads_is_a_component_or_query_of_the_app(app: RetoolApp) -> None:
    unknown = {
        f"{plugin_id}.{path}": sorted(names)
        for plugin_id, path, code in code_of(app)
        if (names := free_names(code) - set(app.plugins))
    }
    assert unknown == {}


def test_the_name_check_catches_a_typo() -> None:
    assert free_names("queueTabel.selectedRow.data?.ticket_id ?? null") == {"queueTabel"}
    assert free_names("(page ? page.items : []).map(item => item.ticket_id)") == {"page"}


def test_components_are_used_for_what_they_offer(app: RetoolApp) -> None:
    misuse = set()
    for plugin_id, path, code in code_of(app):
        for name, prop in member_accesses(code):
            target = app.plugins.get(name)
            if target is not None and prop not in PROPERTIES.get(target.subtype, set()):
                misuse.add(f"{plugin_id}.{path}: {name} ({target.subtype}) has no .{prop}")
    assert misuse == set()
    selected = {tuple(chain[:2]) for _pid, _path, code in code_of(app) for chain in chains(code, "queueTable")}
    assert selected == {("selectedRow", "data")}  # Retool's table: the selected row's values are .selectedRow.data


def test_event_handlers_trigger_queries_that_exist(app: RetoolApp) -> None:
    handlers = [(plugin, handler) for plugin in app.plugins.values() for handler in plugin.events]
    assert handlers
    for plugin, handler in handlers:
        target = app.plugins.get(handler["pluginId"])
        assert target is not None, f"{plugin.id}: {handler['event']} triggers a missing {handler['pluginId']!r}"
        assert (handler["type"], handler["method"]) == ("datasource", "trigger"), plugin.id
        assert target.type == "datasource", f"{plugin.id} triggers {target.id}, which is not a query"


def test_each_action_has_its_button_and_refreshes_the_queue_and_panel(app: RetoolApp) -> None:
    clicks: dict[str, list[str]] = {}
    for plugin in app.widgets():
        for handler in plugin.events:
            if handler["event"] == "click":
                clicks.setdefault(handler["pluginId"], []).append(plugin.id)
    for query_id in WRITES:
        assert len(clicks.get(query_id, [])) == 1, f"{query_id} should have exactly one button: {clicks.get(query_id)}"
        refreshed = {handler["pluginId"] for handler in app.plugins[query_id].events if handler["event"] == "success"}
        assert {"queueQuery", "ticketDetail", "ticketHistory"} <= refreshed, query_id


def test_widgets_sit_on_the_page_or_in_a_container_of_it(app: RetoolApp) -> None:
    for plugin in app.widgets():
        assert plugin.container is not None, f"{plugin.id} has no position"
        if plugin.container:
            parent = app.plugins.get(plugin.container)
            assert parent is not None and parent.subtype == "ContainerWidget2", plugin.id
    assert "$main" in app.plugins and app.plugins["$main"].type == "frame"


def test_the_panels_hide_until_a_ticket_is_loaded(app: RetoolApp) -> None:
    for panel in ("ticketPanel", "draftPanel", "actionsPanel"):
        assert app.plugins[panel].template["hidden"] == "{{ !ticketDetail.data }}"
    detail = app.plugins["ticketDetail"].template
    assert detail["queryDisabled"] == "{{ !queueTable.selectedRow.data }}"
    assert detail["runWhenModelUpdates"] is True


def test_tables_show_what_their_data_has(app: RetoolApp) -> None:
    queue_rows = app.plugins["queueRows"].template["funcBody"]
    returned = set(re.findall(r"^\s+([a-z_]+): ", queue_rows, re.MULTILINE))
    columns = set(app.plugins["queueTable"].template["columns"])
    assert columns <= returned, sorted(columns - returned)


def test_the_javascript_compiles() -> None:
    """Every expression and transformer body is valid JavaScript (needs node; skipped without it)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the JavaScript syntax check needs it")
    app = RetoolApp.load(EXPORT_PATH)
    pieces = []
    for plugin_id, path, code in code_of(app):
        wrapped = code if path == "funcBody" else f"return ({code});"
        pieces.append({"where": f"{plugin_id}.{path}", "code": wrapped})
    script = (
        "const pieces = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        "const bad = [];\n"
        "for (const piece of pieces) { try { new Function(piece.code); } catch (error) {"
        " bad.push(piece.where + ': ' + error.message); } }\n"
        "process.stdout.write(JSON.stringify(bad));\n"
    )
    result = subprocess.run(
        [node, "-e", script], input=json.dumps(pieces), capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == []
    assert len(pieces) > 50
