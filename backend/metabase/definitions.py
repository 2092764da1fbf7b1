"""Dashboard definitions (metabase/*.yaml) as validated models, and the template language of their SQL.

`metabase/collection.yaml` names the collection and the Metabase database the cards query;
`metabase/dashboards/*.yaml` (file-name order) each define one dashboard: its filters (from the
standard set below) and its cards: native SQL over the marts, a display type, Metabase visualization
settings and a grid position (Metabase's grid is 24 columns wide).

Card SQL uses Metabase's native-query template syntax: `{{name}}` is a variable, and `[[ ... ]]` an
optional clause, dropped when a variable inside it has no value (Metabase docs, "SQL parameters").
Every variable a card uses must be one of its dashboard's filters, and must sit in an optional clause,
so every card also runs with no filter set. `render_sql` applies the same rules for Postgres (psycopg
parameters), for the static report and the tests.

Failures are ours: an invalid definition raises `DefinitionError` naming the file and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from backend.paths import REPO_ROOT

METABASE_DIR = REPO_ROOT / "metabase"
GRID_COLUMNS = 24

_SLUG = r"^[a-z0-9][a-z0-9-]*$"
_VARIABLE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_OPTIONAL = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)

TagType = Literal["date", "number", "text"]
Display = Literal["scalar", "line", "bar", "row", "area", "table"]


class DefinitionError(Exception):
    """Our failure: a dashboard definition is invalid."""


@dataclass(frozen=True)
class FilterSpec:
    """A dashboard filter and the card variable it sets (a simple variable, not a field filter: field
    filters need Metabase field ids, which exist only after Metabase scans the database)."""

    name: str  # the template-tag name in card SQL
    display_name: str
    tag_type: TagType  # Metabase template-tag type
    parameter_type: str  # Metabase dashboard parameter type
    section_id: str  # the filter widget's section in Metabase's UI

    def python_value(self, value: object) -> object:
        if value is None:
            return None
        if self.tag_type == "date":
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if self.tag_type == "number":
            return int(str(value))
        return str(value)


STANDARD_FILTERS: dict[str, FilterSpec] = {
    spec.name: spec
    for spec in (
        FilterSpec("date_from", "From", "date", "date/single", "date"),
        FilterSpec("date_to", "To", "date", "date/single", "date"),
        FilterSpec("account", "Account", "text", "string/=", "string"),
        FilterSpec("tier", "Tier", "number", "number/=", "number"),
        FilterSpec("route", "Route", "text", "string/=", "string"),
    )
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Position(_Strict):
    row: int = Field(ge=0)
    col: int = Field(ge=0, lt=GRID_COLUMNS)
    size_x: int = Field(ge=1, le=GRID_COLUMNS)
    size_y: int = Field(ge=1)

    @model_validator(mode="after")
    def _fits(self) -> Position:
        if self.col + self.size_x > GRID_COLUMNS:
            raise ValueError(f"col {self.col} + size_x {self.size_x} exceeds the {GRID_COLUMNS}-column grid")
        return self

    def cells(self) -> set[tuple[int, int]]:
        return {
            (row, col)
            for row in range(self.row, self.row + self.size_y)
            for col in range(self.col, self.col + self.size_x)
        }


class CardDefinition(_Strict):
    key: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    display: Display
    sql: str = Field(min_length=1)
    visualization_settings: dict[str, Any] = Field(default_factory=dict)
    position: Position

    @property
    def variables(self) -> list[str]:
        """Template variables the SQL uses, in order of first use."""
        return list(dict.fromkeys(_VARIABLE.findall(self.sql)))

    @model_validator(mode="after")
    def _variables_are_optional(self) -> CardDefinition:
        outside = _VARIABLE.findall(_OPTIONAL.sub("", self.sql))
        if outside:
            raise ValueError(f"variables outside an optional [[ ]] clause: {sorted(set(outside))}")
        unknown = sorted(set(self.variables) - set(STANDARD_FILTERS))
        if unknown:
            raise ValueError(f"unknown variables {unknown}; the filters are {sorted(STANDARD_FILTERS)}")
        return self


class DashboardDefinition(_Strict):
    key: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    filters: list[str]
    cards: list[CardDefinition] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> DashboardDefinition:
        unknown = sorted(set(self.filters) - set(STANDARD_FILTERS))
        if unknown:
            raise ValueError(f"unknown filters {unknown}; choose from {sorted(STANDARD_FILTERS)}")
        keys = [card.key for card in self.cards]
        if len(set(keys)) != len(keys):
            raise ValueError(f"card keys repeat: {sorted(key for key in keys if keys.count(key) > 1)}")
        taken: dict[tuple[int, int], str] = {}
        for card in self.cards:
            missing = sorted(set(card.variables) - set(self.filters))
            if missing:
                raise ValueError(f"card {card.key} uses {missing}, which this dashboard has no filter for")
            for cell in card.position.cells():
                if cell in taken:
                    raise ValueError(f"cards {taken[cell]} and {card.key} overlap at row/col {cell}")
                taken[cell] = card.key
        return self


class CollectionDefinition(_Strict):
    key: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    database_name: str = Field(min_length=1)


class Definitions(_Strict):
    collection: CollectionDefinition
    dashboards: list[DashboardDefinition] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_dashboards(self) -> Definitions:
        keys = [dashboard.key for dashboard in self.dashboards]
        if len(set(keys)) != len(keys):
            raise ValueError("dashboard keys repeat")
        return self

    def cards(self) -> list[tuple[DashboardDefinition, CardDefinition]]:
        return [(dashboard, card) for dashboard in self.dashboards for card in dashboard.cards]


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise DefinitionError(f"{path}: {error}") from error


def load_definitions(directory: Path = METABASE_DIR) -> Definitions:
    """The collection and every dashboard under `directory` (metabase/ by default)."""
    try:
        collection = CollectionDefinition.model_validate(_read_yaml(directory / "collection.yaml"))
    except ValidationError as error:
        raise DefinitionError(f"{directory / 'collection.yaml'}: {error}") from error
    dashboards: list[DashboardDefinition] = []
    for path in sorted((directory / "dashboards").glob("*.yaml")):
        try:
            dashboards.append(DashboardDefinition.model_validate(_read_yaml(path)))
        except ValidationError as error:
            raise DefinitionError(f"{path}: {error}") from error
    try:
        return Definitions(collection=collection, dashboards=dashboards)
    except ValidationError as error:
        raise DefinitionError(f"{directory}: {error}") from error


def render_sql(sql_text: str, values: dict[str, object] | None = None) -> tuple[str, dict[str, object]]:
    """Card SQL with Metabase's template rules applied, as psycopg SQL and its parameters.

    An optional clause stays (without its brackets) when every variable in it has a value, else it
    goes; each `{{name}}` becomes a psycopg named parameter, typed by its filter. A literal `%` is
    doubled for psycopg.
    """
    given = {name: value for name, value in (values or {}).items() if value is not None and value != ""}

    def keep_or_drop(match: re.Match[str]) -> str:
        inside = match.group(1)
        return inside if all(name in given for name in _VARIABLE.findall(inside)) else ""

    text = _OPTIONAL.sub(keep_or_drop, sql_text).replace("%", "%%")
    used = dict.fromkeys(_VARIABLE.findall(text))
    missing = sorted(name for name in used if name not in given)
    if missing:
        raise DefinitionError(f"required variables without a value: {missing}")
    params = {name: STANDARD_FILTERS[name].python_value(given[name]) for name in used}
    return _VARIABLE.sub(lambda match: f"%({match.group(1)})s", text), params
