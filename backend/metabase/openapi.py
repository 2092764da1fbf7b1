"""Check request bodies against Metabase's own OpenAPI 3.1 description.

`OpenApiSpec.load(path)` reads the description (Metabase publishes it; a copy for tests lives in
../shared/external/metabase/openapi.json). `validate_request(method, path, body)` finds the operation
(a concrete path such as /api/dashboard/7 matches the template /api/dashboard/{id}; collection paths
keep their trailing slash, as the description spells them) and validates the JSON body against the
operation's request-body schema with jsonschema (Draft 2020-12, which OpenAPI 3.1 schemas are), every
`$ref` resolved inside the same document. `validate_component` checks a value against one named
component schema (e.g. the native query's template tags against
`metabase.legacy-mbql.schema.TemplateTagMap`, which the card schema only calls "a map").

Metabase generates the description from its Malli schemas, where `[:or a b]` means "a or b" (the
first that matches) but is exported as `oneOf`, even where the branches overlap: a template tag's id is
`oneOf: [uuid string, non-blank string]`, which no string can satisfy exactly once (a UUID is also a
non-blank string). Read literally, every valid request would fail, so the schemas are validated with
each `oneOf` read as `anyOf`, which is what the server means.

Returns the list of problems (empty when valid); an unknown operation is a problem, not an exception.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_BASE_URI = "urn:metabase:openapi"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]


def _malli_or_as_any_of(node: Any) -> Any:
    """The schema with every `oneOf` renamed `anyOf` (see the module docstring)."""
    if isinstance(node, dict):
        return {("anyOf" if key == "oneOf" else key): _malli_or_as_any_of(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_malli_or_as_any_of(item) for item in node]
    return node


def _deepest(error: ValidationError) -> ValidationError:
    """For an anyOf failure, the complaint of the branch that got furthest into the value says more than
    "not valid under any of the given schemas"."""
    if not error.context:
        return error
    return max((_deepest(branch) for branch in error.context), key=lambda branch: len(branch.absolute_path))


class OpenApiSpec:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(_malli_or_as_any_of(document), default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_BASE_URI, resource)
        self._validators: dict[str, Draft202012Validator] = {}

    @classmethod
    def load(cls, path: Path) -> OpenApiSpec:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    @cached_property
    def _templates(self) -> list[tuple[re.Pattern[str], str]]:
        patterns = []
        for template in self.document.get("paths", {}):
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            patterns.append((re.compile(regex), template))
        # Literal segments beat parameters: /api/card/public before /api/card/{id}.
        patterns.sort(key=lambda item: (item[1].count("{"), -len(item[1])))
        return patterns

    def find(self, method: str, path: str) -> Operation | None:
        """The operation for `path` (a template or a concrete path; the query string is ignored)."""
        path = path.split("?", 1)[0]
        paths = self.document.get("paths", {})
        candidates = [path] if path in paths else [template for regex, template in self._templates if regex.match(path)]
        for template in candidates:
            operation = paths[template].get(method.lower())
            if operation is not None:
                return Operation(method.upper(), template, operation)
        return None

    def _validator(self, pointer: str) -> Draft202012Validator:
        if pointer not in self._validators:
            schema = {"$ref": f"{_BASE_URI}#{pointer}"}
            self._validators[pointer] = Draft202012Validator(schema, registry=self._registry)
        return self._validators[pointer]

    def _errors(self, pointer: str, value: Any) -> list[str]:
        problems = []
        for error in sorted(self._validator(pointer).iter_errors(value), key=lambda error: list(error.path)):
            cause = _deepest(error)
            where = "/".join(str(part) for part in cause.absolute_path) or "(body)"
            problems.append(f"{where}: {cause.message[:300]}")
        return problems

    def validate_request(self, method: str, path: str, body: Any) -> list[str]:
        operation = self.find(method, path)
        if operation is None:
            return [f"{method.upper()} {path}: no such operation in Metabase's OpenAPI description"]
        content = (operation.spec.get("requestBody") or {}).get("content", {})
        if "application/json" not in content:
            return [] if body is None else [f"{operation.method} {operation.template} takes no JSON body"]
        if body is None:
            return [f"{operation.method} {operation.template} needs a JSON body"]
        escaped = operation.template.replace("~", "~0").replace("/", "~1")
        pointer = f"/paths/{escaped}/{method.lower()}/requestBody/content/application~1json/schema"
        return [f"{operation.method} {operation.template} {problem}" for problem in self._errors(pointer, body)]

    def validate_component(self, name: str, value: Any) -> list[str]:
        if name not in self.document.get("components", {}).get("schemas", {}):
            return [f"no component schema {name}"]
        return [f"{name} {problem}" for problem in self._errors(f"/components/schemas/{name}", value)]
