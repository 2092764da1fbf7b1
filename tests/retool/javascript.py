"""Just enough reading of the app's JavaScript to check what it refers to.

Not a parser: the app's expressions are short and written in a plain style (no template literals,
no regex literals), which `free_names` relies on after removing comments and string literals.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from backend.retool.export import TEMPLATE, RetoolApp, expressions, template_strings

# Language words and the globals Retool provides inside {{ }} (formatDataAsArray, self).
JS_WORDS = frozenset(
    [
        "const",
        "let",
        "var",
        "function",
        "return",
        "if",
        "else",
        "new",
        "typeof",
        "instanceof",
        "in",
        "of",
        "null",
        "undefined",
        "true",
        "false",
        "this",
        "JSON",
        "Number",
        "String",
        "Object",
        "Array",
        "Math",
        "Date",
        "Set",
        "Map",
        "Boolean",
        "encodeURIComponent",
        "parseInt",
        "parseFloat",
        "formatDataAsArray",
        "self",
    ]
)
_COMMENT = re.compile(r"//[^\n]*")
_STRING = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
_NAME = r"[A-Za-z_$][\w$]*"


def strip(code: str) -> str:
    """The code without comments, with every string literal emptied."""
    return _STRING.sub("''", _COMMENT.sub("", code))


def local_names(code: str) -> set[str]:
    """Arrow-function parameters and declared names: not references to the app's components."""
    names = set(re.findall(rf"({_NAME})\s*=>", code))
    for group in re.findall(r"\(([^()]*)\)\s*=>", code):
        names.update(part.strip() for part in group.split(",") if part.strip())
    names.update(re.findall(rf"\b(?:const|let|var|function)\s+({_NAME})", code))
    return names


def free_names(code: str) -> set[str]:
    """Names the code reads from its surroundings (the app's components and queries)."""
    code = strip(code)
    object_keys = set(re.findall(rf"[{{,]\s*({_NAME})\s*:(?!:)", code))
    names = set(re.findall(rf"(?<![\w$.])({_NAME})", code))
    return names - object_keys - local_names(code) - JS_WORDS


def member_accesses(code: str) -> Iterator[tuple[str, str]]:
    """(name, property) for every `name.property` / `name?.property` not itself a member."""
    for match in re.finditer(rf"(?<![\w$.])({_NAME})\s*\??\.\s*({_NAME})", strip(code)):
        yield match.group(1), match.group(2)


def chains(code: str, root: str) -> Iterator[list[str]]:
    """The property names after `root` in each member chain starting there, e.g. for
    `ticketDetail.data?.customer.account?.plan`: ["data", "customer", "account", "plan"];
    `[0]` gives "0"; a call ends the chain before the method name."""
    pattern = re.compile(rf"(?<![\w$.]){re.escape(root)}((?:\s*\??\.\s*{_NAME}|\s*\??\.?\[\d+\])+)(\s*\()?")
    for match in pattern.finditer(strip(code)):
        parts = re.findall(rf"({_NAME})|\[(\d+)\]", match.group(1))
        names = [name or index for name, index in parts]
        if match.group(2):  # a method call: the last name is the method, not a property
            names = names[:-1]
        yield names


def code_of(app: RetoolApp) -> Iterator[tuple[str, str, str]]:
    """(plugin id, setting path, JavaScript) for every piece of code in the app: each `{{ }}` of
    every setting, and the whole body of each transformer."""
    for plugin in app.plugins.values():
        for path, text in template_strings(plugin.template):
            if plugin.type == "function" and path == "funcBody":
                yield plugin.id, path, TEMPLATE.sub(lambda match: f"({match.group(1)})", text)
                continue
            for expression in expressions(text):
                yield plugin.id, path, expression
