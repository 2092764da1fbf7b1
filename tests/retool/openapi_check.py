"""Checking a request against the approval API's OpenAPI document: the route (method and path
template), its path and query parameters (names, types, enums, bounds) and its JSON body, each
validated with jsonschema against the document's own schemas."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jsonschema import Draft202012Validator

from tests.retool.support import Request


def _schema_errors(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    root = {**schema, "components": document["components"]}
    return [error.message for error in Draft202012Validator(root).iter_errors(instance)]


def find_route(document: dict[str, Any], method: str, url: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(path template, operation, path values) of the route serving `method url`; KeyError if none."""
    path = "/" + urlsplit(url).path.lstrip("/")
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        match = re.match(pattern, path)
        if match and method.lower() in item:
            return template, item[method.lower()], match.groupdict()
    raise KeyError(f"no route for {method} {path}")


def _concrete(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null alternative of an `anyOf [X, null]` (how FastAPI writes optional values)."""
    options = [option for option in schema.get("anyOf", [schema]) if option.get("type") != "null"]
    return options[0] if options else schema


def _typed(schema: dict[str, Any], texts: list[str]) -> Any:
    """URL text as the type the parameter's schema names (what FastAPI parses it into); text that
    does not parse stays text, so the schema check reports it."""
    concrete = _concrete(schema)
    kind = concrete.get("type")
    if kind == "array":
        return [_typed(concrete.get("items", {}), [text]) for text in texts]
    text = texts[-1]
    if kind == "integer":
        return int(text) if re.fullmatch(r"-?\d+", text) else text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def request_errors(document: dict[str, Any], request: Request) -> list[str]:
    """Everything about `request` the approval API's document does not allow ([] when it matches)."""
    try:
        template, operation, path_values = find_route(document, request.method, request.url)
    except KeyError as error:
        return [str(error)]
    where = f"{request.query_id}: {request.method} {template}"
    errors: list[str] = []
    parameters = {(parameter["in"], parameter["name"]): parameter for parameter in operation.get("parameters", [])}
    for name, text in path_values.items():
        schema = parameters[("path", name)]["schema"]
        errors += [
            f"{where}: path {name}={text!r}: {message}"
            for message in _schema_errors(document, schema, _typed(schema, [text]))
        ]
    query: dict[str, list[str]] = {}
    for name, text in parse_qsl(urlsplit(request.url).query, keep_blank_values=True):
        query.setdefault(name, []).append(text)
    for name, texts in query.items():
        parameter = parameters.get(("query", name))
        if parameter is None:
            errors.append(f"{where}: unknown query parameter {name!r}")
            continue
        schema = parameter["schema"]
        if _concrete(schema).get("type") != "array" and len(texts) > 1:
            errors.append(f"{where}: {name} given {len(texts)} times")
        value = _typed(schema, texts)
        errors += [f"{where}: {name}={texts}: {message}" for message in _schema_errors(document, schema, value)]
    for (place, name), parameter in parameters.items():
        if place == "query" and parameter.get("required") and name not in query:
            errors.append(f"{where}: missing required query parameter {name!r}")
    body = operation.get("requestBody")
    if request.body is None:
        if body and body.get("required"):
            errors.append(f"{where}: the route requires a body")
    elif body is None:
        errors.append(f"{where}: the route takes no body")
    else:
        schema = body["content"]["application/json"]["schema"]
        errors += [f"{where}: body: {message}" for message in _schema_errors(document, schema, request.body)]
    return errors


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its `$ref` followed and an optional (`anyOf [X, null]`) unwrapped."""
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in schema:
            schema = _concrete(schema)
            if "anyOf" in schema:
                return schema
        else:
            return schema


def walk(document: dict[str, Any], schema: dict[str, Any], names: list[str]) -> str | None:
    """Follow property names (and `length` / indexes of arrays and strings) through a response
    schema; the first name the schema does not have, or None when all exist."""
    for name in names:
        schema = resolve(document, schema)
        kind = schema.get("type")
        if kind in ("array", "string") and name == "length":
            return None
        if kind == "array" and name.isdigit():
            schema = schema.get("items", {})
            continue
        properties = schema.get("properties", {})
        if name not in properties:
            return name
        schema = properties[name]
    return None


def response_schema(document: dict[str, Any], method: str, template: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][template][method.lower()]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    return schema
