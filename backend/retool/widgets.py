"""Templates of the Retool components (widgets) the OPS app uses, with the settings Retool writes.

Text, button, select, text input, text area and container take the key sets of the same widgets in
Retool's own exports (../shared/external/retool, Retool 2.84.7), so what an import sees is what
Retool itself saved. The table (`TableWidget`, Retool's table of that release, "Table (legacy)"
in later ones) does not occur in those samples: its settings here are the documented ones the app
needs (data, columns and their header names, the first row selected by default); Retool fills
every setting left out with its default when it loads the app.

Every property may be a `{{ js }}` template; `hidden` and `disabled` take one that evaluates to a
boolean (how the app hides empty panels and disables buttons whose input is missing).
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.retool.transit import ImmutableList, OrderedMap


def text(value: str, *, hidden: str | bool = False, style: dict[str, str] | None = None) -> OrderedMap:
    """Markdown text; templates inside are interpolated as strings."""
    return OrderedMap(
        [
            ("heightType", "auto"),
            ("horizontalAlign", "left"),
            ("hidden", hidden),
            ("imageWidth", "fit"),
            ("showInEditor", False),
            ("verticalAlign", "top"),
            ("tooltipText", ""),
            ("value", value),
            ("style", OrderedMap(style or {})),
            ("disableMarkdown", False),
            ("overflowType", "scroll"),
            ("maintainSpaceWhenHidden", False),
        ]
    )


def button(
    label: str,
    events: Sequence[OrderedMap],
    *,
    disabled: str | bool = False,
    hidden: str | bool = False,
    loading: str | bool = False,
    background: str | None = None,
    tooltip: str = "",
) -> OrderedMap:
    return OrderedMap(
        [
            ("horizontalAlign", "stretch"),
            ("clickable", False),
            ("iconAfter", ""),
            ("submitTargetId", None),
            ("hidden", hidden),
            ("text", label),
            ("showInEditor", False),
            ("tooltipText", tooltip),
            ("style", OrderedMap([("background", background)] if background else [])),
            ("styleVariant", "solid"),
            ("submit", False),
            ("iconBefore", ""),
            ("events", ImmutableList(events)),
            ("loading", loading),
            ("loaderPosition", "auto"),
            ("disabled", disabled),
            ("maintainSpaceWhenHidden", False),
        ]
    )


def select(
    label: str,
    *,
    values: str,
    labels: str,
    placeholder: str,
    default: str | None = None,
    allow_custom_value: bool = False,
    disabled: str | bool = False,
    required: bool = False,
) -> OrderedMap:
    """A dropdown whose options come from `values` / `labels` templates (Retool's dynamic mode);
    cleared, its value is null."""
    return OrderedMap(
        [
            ("_disabledByIndex", ImmutableList()),
            ("showSelectionIndicator", True),
            ("_values", ImmutableList()),
            ("values", values),
            ("readOnly", False),
            ("iconAfter", ""),
            ("inputValue", ""),
            ("_data", ImmutableList()),
            ("hidden", False),
            ("customValidation", ""),
            ("data", ImmutableList()),
            ("searchMode", "fuzzy"),
            ("hideValidationMessage", False),
            ("textBefore", ""),
            ("selectedItem", None),
            ("validationMessage", ""),
            ("textAfter", ""),
            ("showInEditor", False),
            ("showClear", True),
            ("tooltipText", ""),
            ("labelAlign", "left"),
            ("formDataKey", "{{ self.id }}"),
            ("value", default),
            ("hiddenByIndex", ImmutableList()),
            ("labelCaption", ""),
            ("hideLabel", False),
            ("labelWidth", "33"),
            ("deprecatedLabels", ImmutableList()),
            ("_hiddenByIndex", ImmutableList()),
            ("placeholder", placeholder),
            ("_captionByIndex", ImmutableList()),
            ("label", label),
            ("_hasMigratedNestedItems", False),
            ("captionByIndex", ImmutableList()),
            ("_validate", False),
            ("itemMode", "dynamic"),
            ("labelWidthUnit", "%"),
            ("allowCustomValue", allow_custom_value),
            ("invalid", False),
            ("selectedIndex", None),
            ("_tooltipByIndex", ImmutableList()),
            ("tooltipByIndex", ImmutableList()),
            ("iconBefore", ""),
            ("optionMode", "dynamic"),
            ("selectedLabel", ""),
            ("events", ImmutableList()),
            ("_ids", ImmutableList()),
            ("emptyMessage", "No options"),
            ("overlayMaxHeight", None),
            ("loading", False),
            ("disabled", disabled),
            ("labelPosition", "top"),
            ("_labels", ImmutableList()),
            ("labelWrap", False),
            ("disabledValues", ImmutableList()),
            ("disabledByIndex", ImmutableList()),
            ("maintainSpaceWhenHidden", False),
            ("required", required),
            ("labels", labels),
        ]
    )


def _input_common(
    label: str, value: str, placeholder: str, disabled: str | bool, read_only: bool = False
) -> list[tuple[str, object]]:
    return [
        ("spellCheck", True),
        ("readOnly", read_only),
        ("showCharacterCount", False),
        ("autoComplete", False),
        ("maxLength", None),
        ("hidden", False),
        ("customValidation", ""),
        ("hideValidationMessage", False),
        ("validationMessage", ""),
        ("showInEditor", False),
        ("tooltipText", ""),
        ("labelAlign", "left"),
        ("formDataKey", "{{ self.id }}"),
        ("value", value),
        ("labelCaption", ""),
        ("hideLabel", False),
        ("labelWidth", "33"),
        ("autoFill", ""),
        ("placeholder", placeholder),
        ("label", label),
        ("_validate", False),
        ("labelWidthUnit", "%"),
        ("invalid", False),
        ("minLength", None),
        ("events", ImmutableList()),
        ("autoCapitalize", "sentences"),
        ("disabled", disabled),
        ("labelPosition", "top"),
        ("labelWrap", False),
        ("maintainSpaceWhenHidden", False),
        ("required", False),
    ]


def text_input(label: str, *, placeholder: str, value: str = "", disabled: str | bool = False) -> OrderedMap:
    settings = OrderedMap(_input_common(label, value, placeholder, disabled))
    settings.update(
        [
            ("iconAfter", ""),
            ("patternType", ""),
            ("textBefore", ""),
            ("textAfter", ""),
            ("showClear", True),
            ("pattern", ""),
            ("iconBefore", ""),
            ("inputTooltip", ""),
        ]
    )
    return settings


def text_area(
    label: str,
    *,
    placeholder: str,
    value: str = "",
    disabled: str | bool = False,
    read_only: bool = False,
    min_lines: int = 8,
) -> OrderedMap:
    """Multi-line plain text; read-only, it shows text that must not be rendered as markdown
    (the customer's email)."""
    settings = OrderedMap(_input_common(label, value, placeholder, disabled, read_only))
    settings.update([("autoResize", True), ("minLines", str(min_lines)), ("maxLines", None)])
    return settings


def container(*, hidden: str | bool = False, title: str = "") -> OrderedMap:
    """A panel other widgets sit in (their position names it as `container`); height follows them."""
    return OrderedMap(
        [
            ("_disabledByIndex", ImmutableList([""])),
            ("selectedView", "View 1"),
            ("heightType", "auto"),
            ("currentViewKey", None),
            ("iconByIndex", ImmutableList()),
            ("clickable", False),
            ("_viewLabels", ImmutableList()),
            ("_iconByIndex", ImmutableList([""])),
            ("viewLabels", ImmutableList()),
            ("hidden", hidden),
            ("showHeader", bool(title)),
            ("hoistFetching", True),
            ("views", ImmutableList()),
            ("showInEditor", False),
            ("tooltipText", title),
            ("style", OrderedMap([("borderRadius", "6px")])),
            ("hiddenByIndex", ImmutableList()),
            ("_hiddenByIndex", ImmutableList([""])),
            ("currentViewIndex", None),
            ("_hasMigratedNestedItems", True),
            ("transition", "fade"),
            ("itemMode", "static"),
            ("_tooltipByIndex", ImmutableList([""])),
            ("tooltipByIndex", ImmutableList()),
            ("showFooter", False),
            ("_viewKeys", ImmutableList(["View 1"])),
            ("events", ImmutableList()),
            ("_ids", ImmutableList([""])),
            ("viewKeys", ImmutableList()),
            ("iconPositionByIndex", ImmutableList()),
            ("_iconPositionByIndex", ImmutableList([""])),
            ("loading", False),
            ("overflowType", "scroll"),
            ("_labels", ImmutableList([""])),
            ("disabledByIndex", ImmutableList()),
            ("maintainSpaceWhenHidden", False),
            ("labels", ImmutableList()),
        ]
    )


def table(
    data: str, columns: Sequence[tuple[str, str]], *, empty_message: str, select_first: bool = True
) -> OrderedMap:
    """A table of `data` (rows, or a SQL result's columns) showing `columns` as (key, header)."""
    keys = [key for key, _header in columns]
    return OrderedMap(
        [
            ("data", data),
            ("columns", ImmutableList(keys)),
            ("columnHeaderNames", OrderedMap(columns)),
            ("columnVisibility", OrderedMap((key, True) for key in keys)),
            ("columnWidths", ImmutableList()),
            ("columnMappers", OrderedMap()),
            ("columnFormats", OrderedMap()),
            ("columnEditable", OrderedMap()),
            ("defaultSelectedRow", "first" if select_first else "none"),
            ("showFilterButton", True),
            ("showDownloadButton", True),
            ("showRefreshButton", False),
            ("emptyMessage", empty_message),
            ("doubleClickToEdit", False),
            ("events", ImmutableList()),
            ("hidden", False),
            ("maintainSpaceWhenHidden", False),
        ]
    )


def function(body: str) -> OrderedMap:
    """A transformer: `body` is JavaScript returning a value, `{{ }}` inside reads the app's
    state; other widgets read the result as `<id>.value`."""
    return OrderedMap([("funcBody", body), ("value", "")])


def frame() -> OrderedMap:
    return OrderedMap([("type", "main"), ("sticky", False), ("style", OrderedMap([("canvas", "#f5f7fa")]))])
