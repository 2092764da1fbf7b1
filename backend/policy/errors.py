"""One way to say what is wrong in a policy file: the dotted key, the problem and the value given.
Every section's loader (the policy itself, SLAs, Linear, notifications, auto-send, KB) uses it."""

from __future__ import annotations

from pydantic import ValidationError

_SHOWN_VALUE_LIMIT = 200


def describe_validation_error(error: ValidationError, *, section: str | None = None) -> str:
    lines = []
    for item in error.errors():
        parts = (section, *item["loc"]) if section else item["loc"]
        location = ".".join(str(part) for part in parts) or "(top level)"
        shown = repr(item.get("input"))
        if len(shown) > _SHOWN_VALUE_LIMIT:
            shown = shown[: _SHOWN_VALUE_LIMIT - 3] + "..."
        lines.append(f"{location}: {item['msg']} (got {shown})")
    return "\n".join(lines)
