"""Write the dashboards as one static HTML page: `render_report(conn, definitions, out_path)`.

Every card of every dashboard (metabase/ definitions) runs its SQL against Postgres with no filter set
(or the filter values given), and is drawn as inline SVG (charts), an HTML table or a big number, in
one self-contained file: no CDN, no font, nothing fetched, so the funnel can be read without Metabase,
offline, or attached to an email. A small inline script measures every chart once the browser has laid
it out and writes how many marks it drew (`data-rendered-marks`), which the headless-browser test reads.

The rollups must be fresh: call backend.marts.refresh.refresh_marts first (`write_report` does).
Failures are ours: a card whose SQL fails raises (its name in the message); a card with no rows is
drawn as "no data" and listed in the summary.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from backend.metabase.definitions import CardDefinition, DashboardDefinition, Definitions, render_sql
from backend.report import charts


class ReportError(Exception):
    """Our failure: a card's SQL failed against the database."""


@dataclass(frozen=True)
class ReportSummary:
    path: Path
    dashboards: int
    cards: int
    charts: int
    tables: int
    scalars: int
    empty_cards: list[str] = field(default_factory=list)
    bytes_written: int = 0


_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2530}
header{background:#1d2530;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c5ccd6}nav a{color:#9cc3ff;margin-right:14px}
section.dashboard{padding:8px 28px 24px}section.dashboard>h2{margin:18px 0 4px}
.grid{display:grid;grid-template-columns:repeat(24,1fr);gap:12px}
.card{background:#fff;border:1px solid #dfe3e8;border-radius:8px;padding:12px 14px;overflow:auto;min-width:0}
.card h3{margin:0 0 2px;font-size:15px}.card p.description{margin:0 0 8px;color:#5b6675;font-size:12px}
.scalar{font-size:34px;font-weight:600;color:#2f6db5;padding:6px 0}
svg.chart{max-width:100%;height:auto;display:block}svg .grid{stroke:#e4e7eb}svg .tick{font-size:11px;fill:#5b6675}
.legend{font-size:12px;color:#3b4654;margin-top:4px}.legend .key{margin-right:12px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table.data{border-collapse:collapse;font-size:12px;width:100%}
table.data th{text-align:left;border-bottom:2px solid #dfe3e8}
table.data td,table.data th{padding:3px 8px}table.data tr:nth-child(even) td{background:#f7f8fa}td.num{text-align:right}
.empty{color:#8a94a3;font-style:italic;padding:18px 0}.note{color:#8a94a3;font-size:12px}
"""

# Runs in the browser after layout: counts the marks each chart actually drew (non-empty bounding box).
_CHECK_SCRIPT = """
(function () {
  var charts = document.querySelectorAll('svg.chart');
  charts.forEach(function (svg) {
    var drawn = 0;
    svg.querySelectorAll('.mark').forEach(function (mark) {
      var box = mark.getBBox();
      if (box.width > 0 && box.height > 0) { drawn += 1; }
    });
    svg.setAttribute('data-rendered-marks', String(drawn));
  });
  document.body.setAttribute('data-charts-checked', String(charts.length));
})();
"""


def _run(conn: psycopg.Connection, card_id: str, card: CardDefinition, values: dict[str, object]) -> charts.Result:
    query, params = render_sql(card.sql, {name: values.get(name) for name in card.variables})
    try:
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute(query, params)  # SQL from the repository's definitions, values as parameters
            columns = [column.name for column in cursor.description or []]
            rows = [tuple(row) for row in cursor.fetchall()]
    except psycopg.Error as error:
        raise ReportError(f"card {card_id} failed: {error}") from error
    return charts.Result(columns, rows)


def _draw(card_id: str, card: CardDefinition, result: charts.Result) -> tuple[str, str]:
    """(kind, html) for one card: kind is chart, table, scalar or empty."""
    settings = card.visualization_settings
    if card.display == "scalar":
        return "scalar", charts.scalar(result, settings)
    if not result.rows:
        return "empty", '<div class="empty">No data for these filters.</div>'
    if card.display == "table":
        return "table", charts.table(result, settings)
    if card.display == "row":
        return "chart", charts.row_chart(card_id, result, settings)
    if card.display == "bar":
        return "chart", charts.bar_chart(card_id, result, settings)
    return "chart", charts.line_chart(card_id, result, settings, area=card.display == "area")


def _card_html(card: CardDefinition, body: str) -> str:
    position = card.position
    return (
        f'<div class="card" id="{html.escape(card.key)}" '
        f'style="grid-column:{position.col + 1} / span {position.size_x};'
        f'grid-row:{position.row + 1} / span {position.size_y}">'
        f'<h3>{html.escape(card.name)}</h3><p class="description">{html.escape(card.description)}</p>{body}</div>'
    )


def _data_as_of(conn: psycopg.Connection) -> str:
    try:
        with conn.transaction():
            row = conn.execute("select data_as_of from mart_refresh_status").fetchone()
    except psycopg.Error:
        return "unknown"
    return charts.format_value(row[0]) if row else "never refreshed"


def render_report(
    conn: psycopg.Connection,
    definitions: Definitions,
    out_path: Path,
    *,
    values: dict[str, object] | None = None,
    generated_at: datetime | None = None,
) -> ReportSummary:
    """Run every card and write the page to `out_path`; `values` sets filters (date_from, account, ...)."""
    values = {name: value for name, value in (values or {}).items() if value not in (None, "")}
    generated_at = generated_at or datetime.now(UTC)
    counts = {"chart": 0, "table": 0, "scalar": 0, "empty": 0}
    empty: list[str] = []
    sections: list[str] = []
    dashboard: DashboardDefinition
    for dashboard in definitions.dashboards:
        cells = []
        for card in dashboard.cards:
            card_id = f"{dashboard.key}/{card.key}"
            kind, body = _draw(card_id, card, _run(conn, card_id, card, values))
            counts[kind] += 1
            if kind == "empty":
                empty.append(card_id)
            cells.append(_card_html(card, body))
        sections.append(
            f'<section class="dashboard" id="{html.escape(dashboard.key)}"><h2>{html.escape(dashboard.name)}</h2>'
            f'<p class="note">{html.escape(dashboard.description)}</p>'
            f'<div class="grid">{"".join(cells)}</div></section>'
        )
    applied = ", ".join(f"{name} = {charts.format_value(value)}" for name, value in sorted(values.items())) or "none"
    nav = "".join(f'<a href="#{html.escape(d.key)}">{html.escape(d.name)}</a>' for d in definitions.dashboards)
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(definitions.collection.name)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{html.escape(definitions.collection.name)}</h1>"
        f"<p>Generated {charts.format_value(generated_at)} · data as of {html.escape(_data_as_of(conn))} · "
        f"filters: {html.escape(applied)}</p><nav>{nav}</nav></header>"
        f"{''.join(sections)}<script>{_CHECK_SCRIPT}</script></body></html>\n"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return ReportSummary(
        path=out_path,
        dashboards=len(definitions.dashboards),
        cards=sum(counts.values()),
        charts=counts["chart"],
        tables=counts["table"],
        scalars=counts["scalar"],
        empty_cards=empty,
        bytes_written=len(page.encode()),
    )


def write_report(out_path: Path, *, refresh: bool = True, values: dict[str, object] | None = None) -> ReportSummary:
    """`tier0 report --out FILE.html`: refresh the marts (incrementally), then render every dashboard."""
    from backend.db.server import connect
    from backend.marts.refresh import refresh_marts
    from backend.metabase.definitions import load_definitions

    with connect(autocommit=True) as conn:
        if refresh:
            refresh_marts(conn)
        return render_report(conn, load_definitions(), out_path, values=values)
