"""Building and reading Retool app exports (the JSON that Retool's "Import app" takes).

An export is `{"uuid", "page": {"data": {"appState": <transit string>}, ...}, "modules": {}}`. The
appState decodes (backend/retool/transit.py) to an `appTemplate` record whose `plugins` ordered map
holds everything in the app, each a `pluginTemplate` record:

    id, type, subtype    what it is: ("datasource", "SqlQueryUnified" | "RESTQuery" | ...),
                         ("widget", "TableWidget" | "ButtonWidget2" | ...), ("function", "Function"),
                         ("frame", "Frame") for the page canvas `$main`
    resourceName,        queries only: the resource's id in the exporting organisation and the name
    resourceDisplayName  shown (and matched) on import
    template             the settings, an ordered map; `{{ js }}` anywhere is evaluated by Retool.
                         Event handlers are `template.events`: a list of ordered maps
                         {event, type, method, pluginId, params, waitType, waitMs}
    position2            widgets only: a `position2` record {container, rowGroup, subcontainer,
                         row, col, height, width, tabNum} on the 12-column grid; `container` names
                         the parent widget ("" for the page)
    container, folder,   the query's folder in the editor; `screen` (a page of a multi-page app)
    screen               stays null in a single-page app such as the samples

The key sets and default values of the query templates below are those of Retool's own exports
(the samples in ../shared/external/retool, Retool 2.84.7); `version` is written as the same
release, so Retool migrates the app forward on import exactly as it does those samples.

`RetoolApp` reads an export back (for tests and tooling): plugins by id, SQL and REST queries, the
`{{ }}` expressions of each, event handlers.

Failures: a malformed export is the caller's (ExportError); building is deterministic and pure.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.retool.transit import ImmutableList, Instant, OrderedMap, Record, dumps, loads

RETOOL_VERSION = "2.84.7"
# Stable ids: the same source always builds byte-identical JSON.
_NAMESPACE = uuid.UUID("6c1b1b8e-3f1e-5d55-9a57-3d3f2b7f0b2a")
_BUILT_AT = datetime(2026, 3, 1, tzinfo=UTC)
_BUILT_AT_MS = Instant(int(_BUILT_AT.timestamp() * 1000))

TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class ExportError(ValueError):
    """Not a Retool app export this module understands."""


@dataclass(frozen=True)
class Resource:
    """A Retool resource as a query names it. `name` is an id in the exporting organisation; on
    import Retool matches queries to the target organisation's resources by `display_name`."""

    display_name: str

    @property
    def name(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"resource:{self.display_name}"))


@dataclass(frozen=True)
class Position:
    row: float
    col: int
    height: float
    width: int
    container: str = ""
    row_group: str = "body"

    def record(self) -> Record:
        return Record(
            "position2",
            {
                "container": self.container,
                "rowGroup": self.row_group,
                "subcontainer": "",
                "row": self.row,
                "col": self.col,
                "height": self.height,
                "width": self.width,
                "tabNum": 0,
            },
        )


def event(event_name: str, plugin_id: str, *, kind: str = "datasource", method: str = "trigger") -> OrderedMap:
    """An event handler: on `event_name`, run `method` of `plugin_id` (a query: trigger)."""
    return OrderedMap(
        [
            ("event", event_name),
            ("type", kind),
            ("method", method),
            ("pluginId", plugin_id),
            ("params", OrderedMap()),
            ("waitType", "debounce"),
            ("waitMs", "0"),
        ]
    )


def _query_common(query: str, events: list[OrderedMap], *, run_when_inputs_change: bool, disabled: str) -> list[Any]:
    """The settings every query template has, in the order Retool writes them."""
    return [
        ("queryRefreshTime", ""),
        ("lastReceivedFromResourceAt", None),
        ("queryDisabledMessage", ""),
        ("successMessage", ""),
        ("queryDisabled", disabled),
        ("playgroundQuerySaveId", "latest"),
        ("resourceNameOverride", ""),
        ("runWhenModelUpdates", run_when_inputs_change),
        ("showFailureToaster", True),
        ("query", query),
        ("playgroundQueryUuid", ""),
        ("playgroundQueryId", None),
        ("privateParams", ImmutableList()),
        ("runWhenPageLoadsDelay", ""),
        ("data", None),
        ("importedQueryInputs", OrderedMap()),
        ("isImported", False),
        ("showSuccessToaster", True),
        ("cacheKeyTtl", ""),
        ("metadata", None),
        ("changesetObject", ""),
        (
            "errorTransformer",
            "// The variable 'data' allows you to reference the request's data in the transformer. \n"
            "// example: return data.find(element => element.isError)\nreturn data.error",
        ),
        ("confirmationMessage", None),
        ("isFetching", False),
        ("changeset", ""),
        ("rawData", None),
        ("queryTriggerDelay", "0"),
        ("watchedParams", ImmutableList()),
        ("enableErrorTransformer", False),
        ("showLatestVersionUpdatedWarning", False),
        ("timestamp", 0),
        ("importedQueryDefaults", OrderedMap()),
        ("enableTransformer", False),
        ("showUpdateSetValueDynamicallyToggle", True),
        ("runWhenPageLoads", False),
        (
            "transformer",
            "// type your code here\n// example: return formatDataAsArray(data).filter(row => row.quantity > 20)\n"
            "return data",
        ),
        ("events", ImmutableList(events)),
        ("queryTimeout", "10000"),
        ("requireConfirmation", False),
        ("queryFailureConditions", ""),
        ("changesetIsObject", False),
        ("enableCaching", False),
        ("allowedGroups", ImmutableList()),
        ("queryThrottleTime", "750"),
        ("updateSetValueDynamically", False),
        ("notificationDuration", ""),
    ]


def sql_query_template(
    sql: str,
    *,
    events: list[OrderedMap] | None = None,
    run_when_inputs_change: bool = True,
    run_on_page_load: bool = False,
    disabled: str = "",
) -> OrderedMap:
    """A SQL query in SQL mode. Retool sends it as a prepared statement: every `{{ }}` becomes a
    bind parameter (so values are never spliced into the text)."""
    settings = OrderedMap(
        _query_common(sql, events or [], run_when_inputs_change=run_when_inputs_change, disabled=disabled)
    )
    settings.update(
        [
            ("records", ""),
            ("databasePasswordOverride", ""),
            ("recordId", ""),
            ("dataArray", ImmutableList()),
            ("filterBy", ""),
            ("databaseHostOverride", ""),
            ("editorMode", "sql"),
            ("actionType", ""),
            ("shouldUseLegacySql", False),
            ("databaseNameOverride", ""),
            ("enableBulkUpdates", False),
            ("bulkUpdatePrimaryKey", ""),
            ("tableName", ""),
            ("databaseUsernameOverride", ""),
            ("shouldEnableBatchQuerying", False),
            ("doNotThrowOnNoOp", False),
        ]
    )
    settings["runWhenPageLoads"] = run_on_page_load
    return settings


def rest_query_template(
    method: str,
    path: str,
    *,
    body: str = "",
    events: list[OrderedMap] | None = None,
    run_when_inputs_change: bool = False,
    disabled: str = "",
    confirmation: str | None = None,
) -> OrderedMap:
    """A REST query against a REST API resource: `path` is appended to the resource's base URL.
    A body is sent raw with Content-Type: application/json (the resource may set it too)."""
    settings = OrderedMap(
        _query_common(path, events or [], run_when_inputs_change=run_when_inputs_change, disabled=disabled)
    )
    headers = [{"key": "Content-Type", "value": "application/json"}] if body else []
    settings.update(
        [
            ("paginationLimit", ""),
            ("body", body),
            ("paginationPaginationField", ""),
            ("headers", json.dumps(headers, separators=(",", ":"))),
            ("paginationEnabled", False),
            ("cookies", ""),
            ("paginationDataField", ""),
            ("type", method),
            ("bodyType", "raw" if body else "json"),
        ]
    )
    if confirmation is not None:
        settings["requireConfirmation"] = True
        settings["confirmationMessage"] = confirmation
    return settings


def plugin(
    plugin_id: str,
    kind: str,
    subtype: str,
    template: OrderedMap,
    *,
    resource: Resource | None = None,
    position: Position | None = None,
    folder: str = "",
    style: Any = None,
) -> Record:
    return Record(
        "pluginTemplate",
        {
            "id": plugin_id,
            "type": kind,
            "subtype": subtype,
            "resourceName": resource.name if resource else None,
            "resourceDisplayName": resource.display_name if resource else None,
            "template": template,
            "style": style,
            "position2": position.record() if position else None,
            "mobilePosition2": None,
            "mobileAppPosition": None,
            "tabIndex": None,
            "createdAt": _BUILT_AT_MS,
            "updatedAt": _BUILT_AT_MS,
            "container": "",
            "folder": folder,
            "screen": None,
        },
    )


def app_state(plugins: list[Record], *, folders: list[str], title: str, preloaded_js: str | None = None) -> Record:
    """The appTemplate record of a single-page app, with Retool 2.84.7's app-level settings."""
    ids = [item.fields["id"] for item in plugins]
    duplicates = sorted({plugin_id for plugin_id in ids if ids.count(plugin_id) > 1})
    if duplicates:
        raise ValueError(f"plugin ids must be unique: {duplicates}")
    return Record(
        "appTemplate",
        {
            "isFetching": False,
            "plugins": OrderedMap((item.fields["id"], item) for item in plugins),
            "createdAt": None,
            "version": RETOOL_VERSION,
            "appThemeId": None,
            "preloadedAppJavaScript": preloaded_js,
            "preloadedAppJSLinks": [],
            "appStyles": "",
            "testEntities": [],
            "tests": [],
            "responsiveLayoutDisabled": False,
            "loadingIndicatorsDisabled": False,
            "urlFragmentDefinitions": ImmutableList(),
            "pageLoadValueOverrides": ImmutableList(),
            "isGlobalWidget": False,
            "isMobileApp": False,
            "multiScreenMobileApp": False,
            "instrumentationEnabled": False,
            "customDocumentTitleEnabled": True,
            "customDocumentTitle": title,
            "customShortcuts": [],
            "folders": ImmutableList(folders),
            "markdownLinkBehavior": "never",
            "inAppRetoolPillAppearance": "NO_OVERRIDE",
            "rootScreen": None,
        },
    )


def export_document(app_name: str, state: Record) -> dict[str, Any]:
    """The file Retool imports: the app state as a transit string inside the page save."""
    stamp = _BUILT_AT.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "uuid": str(uuid.uuid5(_NAMESPACE, f"app:{app_name}")),
        "page": {
            "id": 1,
            "data": {"appState": dumps(state)},
            "changesRecord": [],
            "gitSha": None,
            "checksum": None,
            "createdAt": stamp,
            "updatedAt": stamp,
            "pageId": 1,
            "userId": 1,
            "branchId": None,
        },
        "modules": {},
    }


def export_text(document: Mapping[str, Any]) -> str:
    """Serialised like Retool's own exports: compact JSON, UTF-8 as is."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plugin:
    id: str
    type: str
    subtype: str
    template: Mapping[str, Any]
    resource: str | None
    container: str | None

    @property
    def is_sql(self) -> bool:
        return self.type == "datasource" and self.subtype == "SqlQueryUnified"

    @property
    def is_rest(self) -> bool:
        return self.type == "datasource" and self.subtype == "RESTQuery"

    @property
    def events(self) -> list[Mapping[str, Any]]:
        found = self.template.get("events") or []
        return list(found) if isinstance(found, list) else []


def template_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a template with its path (`body`, `events[0].params.url`, ...)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from template_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from template_strings(item, f"{path}[{index}]")


def expressions(text: str) -> list[str]:
    """The JavaScript of each `{{ }}` in `text`, stripped."""
    return [match.strip() for match in TEMPLATE.findall(text)]


class RetoolApp:
    """An exported app, decoded: `plugins` by id in the export's order."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        try:
            state = loads(document["page"]["data"]["appState"])
        except (KeyError, TypeError) as error:
            raise ExportError(f"not a Retool export (page.data.appState missing): {error}") from error
        if not isinstance(state, Record) or state.name != "appTemplate":
            raise ExportError("appState is not an appTemplate record")
        self.document = document
        self.state = state
        self.plugins: dict[str, Plugin] = {}
        for plugin_id, record in state.fields["plugins"].items():
            if not isinstance(record, Record) or record.name != "pluginTemplate":
                raise ExportError(f"plugin {plugin_id!r} is not a pluginTemplate record")
            fields = record.fields
            position = fields.get("position2")
            self.plugins[plugin_id] = Plugin(
                id=fields["id"],
                type=fields["type"],
                subtype=fields["subtype"],
                template=fields["template"] or {},
                resource=fields.get("resourceDisplayName"),
                container=position.fields["container"] if isinstance(position, Record) else None,
            )

    @classmethod
    def load(cls, path: Path) -> RetoolApp:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def sql_queries(self) -> list[Plugin]:
        return [item for item in self.plugins.values() if item.is_sql]

    def rest_queries(self) -> list[Plugin]:
        return [item for item in self.plugins.values() if item.is_rest]

    def widgets(self) -> list[Plugin]:
        return [item for item in self.plugins.values() if item.type == "widget"]
