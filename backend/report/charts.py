"""Inline SVG charts and HTML tables for the static report, drawn from query results alone.

Each chart is an `<svg class="chart">` whose data marks (bars, points) carry class "mark", so a check
can count what was drawn. Layout follows Metabase's visualization settings where they say something
(`graph.dimensions`, `graph.metrics`, `stackable.stack_type`, percent/currency `column_settings`):
with two dimensions the second splits the series, with one each metric is a series. Nothing is
fetched: no fonts, scripts or styles from elsewhere.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

PALETTE = ("#2f6db5", "#e8833a", "#3a9e5f", "#c94c4c", "#8a63b8", "#8c6d46", "#d16ba5", "#6b7b8c", "#b5a12f", "#2fa3b5")
WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 60, 30, 14, 40


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def column(self, name: str) -> int:
        return self.columns.index(name)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def number_style(settings: dict[str, Any], column: str) -> dict[str, Any]:
    style = settings.get("column_settings", {}).get(json.dumps(["name", column], separators=(",", ":")), {})
    return style if isinstance(style, dict) else {}


def format_value(value: Any, style: dict[str, Any] | None = None) -> str:
    style = style or {}
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC") if value.tzinfo else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    number = _number(value)
    if number is None:
        return str(value)
    kind = style.get("number_style")
    decimals = style.get("decimals")
    if kind == "percent":
        return f"{number * 100:.{1 if decimals is None else decimals}f}%"
    if kind == "currency":
        return f"${number:,.{2 if decimals is None else decimals}f}"
    if float(number).is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.{4 if decimals is None else decimals}f}".rstrip("0").rstrip(".")


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]


def series_of(result: Result, settings: dict[str, Any]) -> tuple[list[str], list[Series], str]:
    """X labels, the series and the metric name that sets the number format."""
    dimensions = [name for name in settings.get("graph.dimensions", []) if name in result.columns]
    metrics = [name for name in settings.get("graph.metrics", []) if name in result.columns]
    if not dimensions:
        dimensions = result.columns[:1]
    if not metrics:
        metrics = [name for name in result.columns if name not in dimensions][:1]
    x_index = result.column(dimensions[0])
    labels: list[str] = []
    for row in result.rows:
        label = format_value(row[x_index])
        if label not in labels:
            labels.append(label)
    position = {label: index for index, label in enumerate(labels)}
    if len(dimensions) > 1:
        split_index, metric_index = result.column(dimensions[1]), result.column(metrics[0])
        by_name: dict[str, list[float | None]] = {}
        for row in result.rows:
            split = by_name.setdefault(format_value(row[split_index]), [None] * len(labels))
            split[position[format_value(row[x_index])]] = _number(row[metric_index])
        # Series in name order, so "tier 0" has the same colour on every chart.
        return labels, [Series(name, split) for name, split in sorted(by_name.items())], metrics[0]
    series = []
    for metric in metrics:
        index = result.column(metric)
        values: list[float | None] = [None] * len(labels)
        for row in result.rows:
            values[position[format_value(row[x_index])]] = _number(row[index])
        series.append(Series(metric, values))
    return labels, series, metrics[0]


def _svg_open(card_id: str, kind: str, points: int, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart" data-card="{html.escape(card_id)}" data-kind="{kind}" data-points="{points}" '
        f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        'role="img">'
    )


def _legend(series: Sequence[Series]) -> str:
    if len(series) < 2:
        return ""
    items = "".join(
        f'<span class="key"><i style="background:{PALETTE[index % len(PALETTE)]}"></i>{html.escape(item.name)}</span>'
        for index, item in enumerate(series)
    )
    return f'<div class="legend">{items}</div>'


def _axes(ticks: list[float], labels: list[str], scale_y: Any, style: dict[str, Any]) -> str:
    parts = []
    for tick in ticks:
        y = scale_y(tick)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{format_value(tick, style)}</text>'
        )
    plot_width = WIDTH - LEFT - RIGHT
    step = max(1, math.ceil(len(labels) / 8))
    for index, label in enumerate(labels):
        if index % step:
            continue
        x = LEFT + plot_width * (index + 0.5) / len(labels)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" class="tick">'
            f"{html.escape(label)}</text>"
        )
    return "".join(parts)


def line_chart(card_id: str, result: Result, settings: dict[str, Any], *, area: bool = False) -> str:
    labels, series, metric = series_of(result, settings)
    style = number_style(settings, metric)
    values = [value for item in series for value in item.values if value is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    ticks = _nice_ticks(low, high)
    plot_height, plot_width = HEIGHT - TOP - BOTTOM, WIDTH - LEFT - RIGHT

    def scale_y(value: float) -> float:
        return TOP + plot_height * (1 - (value - ticks[0]) / (ticks[-1] - ticks[0]))

    def scale_x(index: int) -> float:
        return LEFT + plot_width * (index + 0.5) / len(labels)

    parts = [_svg_open(card_id, "area" if area else "line", len(values)), _axes(ticks, labels, scale_y, style)]
    for number, item in enumerate(series):
        color = PALETTE[number % len(PALETTE)]
        points = [(scale_x(index), scale_y(value)) for index, value in enumerate(item.values) if value is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for (x, y), value in zip(points, [v for v in item.values if v is not None], strict=True):
            parts.append(
                f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                f"<title>{html.escape(item.name)}: {format_value(value, style)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts) + _legend(series)


def bar_chart(card_id: str, result: Result, settings: dict[str, Any]) -> str:
    labels, series, metric = series_of(result, settings)
    style = number_style(settings, metric)
    stacked = settings.get("stackable.stack_type") == "stacked"
    if stacked:
        totals = [sum(item.values[index] or 0 for item in series) for index in range(len(labels))]
        high = max([0.0, *totals])
    else:
        high = max([0.0, *(value for item in series for value in item.values if value is not None)])
    low = min([0.0, *(value for item in series for value in item.values if value is not None)])
    ticks = _nice_ticks(low, high)
    plot_height, plot_width = HEIGHT - TOP - BOTTOM, WIDTH - LEFT - RIGHT

    def scale_y(value: float) -> float:
        return TOP + plot_height * (1 - (value - ticks[0]) / (ticks[-1] - ticks[0]))

    band = plot_width / max(1, len(labels))
    parts = [
        _svg_open(card_id, "bar", sum(v is not None for s in series for v in s.values)),
        _axes(ticks, labels, scale_y, style),
    ]
    for index in range(len(labels)):
        base = 0.0
        for number, item in enumerate(series):
            value = item.values[index]
            if value is None:
                continue
            color = PALETTE[number % len(PALETTE)]
            if stacked:
                top, bottom = scale_y(base + value), scale_y(base)
                x, width = LEFT + band * index + band * 0.12, band * 0.76
                base += value
            else:
                width = band * 0.8 / len(series)
                x = LEFT + band * index + band * 0.1 + width * number
                top, bottom = scale_y(max(value, 0)), scale_y(min(value, 0))
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{min(top, bottom):.1f}" width="{max(width, 1):.1f}" '
                f'height="{max(abs(bottom - top), 0.5):.1f}" fill="{color}"><title>{html.escape(labels[index])} '
                f"{html.escape(item.name)}: {format_value(value, style)}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts) + _legend(series)


def row_chart(card_id: str, result: Result, settings: dict[str, Any]) -> str:
    labels, series, metric = series_of(result, settings)
    style = number_style(settings, metric)
    values = series[0].values if series else []
    high = max([0.0, *(value for value in values if value is not None)]) or 1.0
    row_height = 22
    height = TOP + row_height * len(labels) + 10
    label_width = 150
    plot_width = WIDTH - label_width - 70
    parts = [_svg_open(card_id, "row", sum(value is not None for value in values), height)]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = TOP + row_height * index
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" class="tick">{html.escape(label)}</text>'
        )
        if value is None:
            continue
        width = max(plot_width * value / high, 1)
        parts.append(
            f'<rect class="mark" x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{row_height - 6}" '
            f'fill="{PALETTE[0]}"><title>{html.escape(label)}: {format_value(value, style)}</title></rect>'
        )
        parts.append(
            f'<text x="{label_width + width + 4:.1f}" y="{y + 15}" class="tick">{format_value(value, style)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def scalar(result: Result, settings: dict[str, Any]) -> str:
    value = result.rows[0][0] if result.rows else None
    style = number_style(settings, result.columns[0]) if result.columns else {}
    return f'<div class="scalar">{html.escape(format_value(value, style))}</div>'


def table(result: Result, settings: dict[str, Any], *, limit: int = 25) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in result.columns)
    body = []
    for row in result.rows[:limit]:
        cells = "".join(
            f'<td class="{"num" if _number(value) is not None else ""}">'
            f"{html.escape(format_value(value, number_style(settings, name)))}</td>"
            for name, value in zip(result.columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    more = f'<p class="note">{len(result.rows) - limit} more rows not shown.</p>' if len(result.rows) > limit else ""
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{more}'
