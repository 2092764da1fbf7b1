"""Transit-JSON, the encoding of a Retool export's `appState`, read and written without a dependency.

A Retool export (File > Export app) is plain JSON whose `page.data.appState` is a *string* holding
the app in transit-JSON ("compact" mode, https://github.com/cognitect/transit-format), as written by
transit-js with transit-immutable-js handlers for Immutable.js values. What that means here:

- a map is `["^ ", k1, v1, k2, v2, ...]`;
- a tagged value is `[tag, rep]`, the tag a string `~#name`. Retool uses `~#iR` (an Immutable
  Record: rep `{"n": record name, "v": {fields}}`), `~#iOM` (OrderedMap: rep `[k1, v1, ...]`),
  `~#iL` (List: rep `[...]`), and occasionally `~#iM` (Map, as OrderedMap);
- strings starting with `~`, `^` or a backquote are escaped with a leading `~`; `~m<ms>` is an
  instant (milliseconds since the epoch), `~_` null, `~?t`/`~?f` booleans, `~i` a big integer;
- caching: a map key longer than 3 characters, and every tag, is written in full the first time
  and as `^<code>` afterwards, the code being the cache index in base 44 starting at "0" (chr 48),
  one digit below 44 and two from there; the cache starts over when it holds 44 * 44 entries.
  Reader and writer must make the same decisions in the same order, so both live in this module.

`loads` and `dumps` are exact inverses on Retool's own exports: re-encoding a decoded sample gives
the byte-identical string (tests/retool/test_transit.py checks both samples in ../shared).

Failures are the input's: a malformed string raises `TransitError` (ValueError); nothing is guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ImmutableList",
    "ImmutableMap",
    "Instant",
    "OrderedMap",
    "Record",
    "Tagged",
    "TransitError",
    "dumps",
    "loads",
]

_BASE = 44
_FIRST = 48  # chr(48) == "0": the first cache digit
_CACHE_LIMIT = _BASE * _BASE
_MAP_MARKER = "^ "


class TransitError(ValueError):
    """The text is not transit-JSON this module understands."""


class OrderedMap(dict[Any, Any]):
    """An Immutable.js OrderedMap (`~#iOM`): a dict, written as a flat key/value list."""


class ImmutableMap(dict[Any, Any]):
    """An Immutable.js Map (`~#iM`)."""


class ImmutableList(list[Any]):
    """An Immutable.js List (`~#iL`); a plain Python list stays a plain JSON array."""


@dataclass
class Record:
    """An Immutable.js Record (`~#iR`): Retool's appTemplate, pluginTemplate, position2, ..."""

    name: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Instant:
    """`~m<milliseconds>`: Retool's createdAt / updatedAt."""

    millis: int


@dataclass
class Tagged:
    """Any other tagged value or scalar extension, kept as read so it is written back unchanged."""

    tag: str
    rep: Any


def _code(index: int) -> str:
    if index < _BASE:
        return "^" + chr(index + _FIRST)
    return "^" + chr(index // _BASE + _FIRST) + chr(index % _BASE + _FIRST)


def _index(code: str) -> int:
    digits = [ord(char) - _FIRST for char in code[1:]]
    if not 1 <= len(digits) <= 2 or any(not 0 <= digit < _BASE for digit in digits):
        raise TransitError(f"bad cache code {code!r}")
    return digits[0] if len(digits) == 1 else digits[0] * _BASE + digits[1]


def _is_cache_code(text: str) -> bool:
    return text.startswith("^") and text != _MAP_MARKER and 2 <= len(text) <= 3


def _cacheable(text: str, as_key: bool) -> bool:
    return len(text) > 3 and (as_key or text.startswith(("~#", "~$", "~:")))


class _Reader:
    def __init__(self) -> None:
        self._cache: list[str] = []

    def _remember(self, text: str, as_key: bool) -> None:
        if _cacheable(text, as_key):
            if len(self._cache) == _CACHE_LIMIT:
                self._cache.clear()
            self._cache.append(text)

    def _raw(self, text: str, as_key: bool) -> str:
        """The string as written in full: a cache code resolved, anything else remembered."""
        if text.startswith("^"):  # a written "^..." string is escaped as "~^...": this is a code
            if not _is_cache_code(text):
                raise TransitError(f"{text!r} is neither a cache code nor an escaped string")
            index = _index(text)
            if index >= len(self._cache):
                raise TransitError(f"cache code {text!r} before its string")
            return self._cache[index]
        self._remember(text, as_key)
        return text

    def read(self, node: Any, as_key: bool = False) -> Any:
        if isinstance(node, str):
            return _scalar(self._raw(node, as_key))
        if isinstance(node, list):
            if node and node[0] == _MAP_MARKER:
                return self._map(node[1:])
            if len(node) == 2 and isinstance(node[0], str) and (node[0].startswith("~#") or _is_cache_code(node[0])):
                tag = self._raw(node[0], as_key=False)
                if tag.startswith("~#"):
                    return _tagged(tag[2:], self.read(node[1]))
                return [_scalar(tag), self.read(node[1])]
            return [self.read(item) for item in node]
        if node is None or isinstance(node, bool | int | float):
            return node
        raise TransitError(f"unexpected JSON value {node!r}")

    def _map(self, items: list[Any]) -> dict[Any, Any]:
        if len(items) % 2:
            raise TransitError("a map with an odd number of items")
        result: dict[Any, Any] = {}
        for position in range(0, len(items), 2):
            key = self.read(items[position], as_key=True)
            result[key] = self.read(items[position + 1])
        return result


def _scalar(text: str) -> Any:
    if not text.startswith("~") or len(text) < 2:
        return text
    marker, rest = text[1], text[2:]
    if marker in "~^`":
        return text[1:]
    if marker == "m":
        return Instant(int(rest))
    if marker == "_":
        return None
    if marker == "?":
        return rest == "t"
    if marker == "i":
        return int(rest)
    return Tagged("~" + marker, rest)


def _tagged(tag: str, rep: Any) -> Any:
    if tag == "iR":
        if not isinstance(rep, dict) or set(rep) != {"n", "v"}:
            raise TransitError(f"a record must be {{n, v}}, got {rep!r}")
        return Record(rep["n"], rep["v"])
    if tag in ("iOM", "iM"):
        if not isinstance(rep, list) or len(rep) % 2:
            raise TransitError(f"~#{tag} needs a flat key/value list")
        pairs = ((rep[position], rep[position + 1]) for position in range(0, len(rep), 2))
        return OrderedMap(pairs) if tag == "iOM" else ImmutableMap(pairs)
    if tag == "iL":
        if not isinstance(rep, list):
            raise TransitError("~#iL needs a list")
        return ImmutableList(rep)
    return Tagged("~#" + tag, rep)


class _Writer:
    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def _text(self, text: str, as_key: bool) -> str:
        if not _cacheable(text, as_key):
            return text
        if text in self._cache:
            return _code(self._cache[text])
        if len(self._cache) == _CACHE_LIMIT:
            self._cache.clear()
        self._cache[text] = len(self._cache)
        return text

    def write(self, value: Any, as_key: bool = False) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            escaped = "~" + value if value.startswith(("~", "^", "`")) else value
            return self._text(escaped, as_key)
        if isinstance(value, Instant):
            return self._text(f"~m{value.millis}", as_key)
        if isinstance(value, Record):
            tag = self._text("~#iR", False)
            return [tag, [_MAP_MARKER, "n", self.write(value.name), "v", self._map(value.fields)]]
        if isinstance(value, OrderedMap | ImmutableMap):
            tag = self._text("~#iOM" if isinstance(value, OrderedMap) else "~#iM", False)
            flat: list[Any] = []
            for key, item in value.items():
                flat.append(self.write(key))
                flat.append(self.write(item))
            return [tag, flat]
        if isinstance(value, ImmutableList):
            tag = self._text("~#iL", False)
            return [tag, [self.write(item) for item in value]]
        if isinstance(value, Tagged):
            if value.tag.startswith("~#"):
                return [self._text(value.tag, False), self.write(value.rep)]
            return self._text(f"{value.tag}{value.rep}", as_key)
        if isinstance(value, dict):
            return self._map(value)
        if isinstance(value, list | tuple):
            return [self.write(item) for item in value]
        raise TypeError(f"cannot write {type(value).__name__} as transit")

    def _map(self, mapping: dict[Any, Any]) -> list[Any]:
        flat: list[Any] = [_MAP_MARKER]
        for key, item in mapping.items():
            flat.append(self.write(key, as_key=True))
            flat.append(self.write(item))
        return flat


def loads(text: str) -> Any:
    """Decode a transit-JSON string (an export's appState) into Python values (see the classes)."""
    try:
        node = json.loads(text)
    except json.JSONDecodeError as error:
        raise TransitError(f"not JSON: {error}") from error
    return _Reader().read(node)


def dumps(value: Any) -> str:
    """Encode Python values as compact transit-JSON, the way Retool's exporter writes them."""
    return json.dumps(_Writer().write(value), ensure_ascii=False, separators=(",", ":"))
