"""Where a config error points, and pydantic's errors in the config's words.

Every error names the file, the dotted key path and, where the file spells the
key out, its line; an error caused by a swept value points at that value in the
sweep (``sweep.grid.<key>.<index>``), not at the base scenario.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gosim.errors import ConfigError


class ErrorContext:
    """Where errors point: the file and its key-path -> line map."""

    def __init__(self, file: str | None, lines: dict[str, int] | None = None) -> None:
        self.file = file
        self.lines = lines or {}

    def line_of(self, key: str) -> int | None:
        # the deepest prefix of the key that the file spells out
        parts = key.split(".")
        while parts:
            k = ".".join(parts)
            if k in self.lines:
                return self.lines[k]
            parts.pop()
        return None

    def error(self, message: str, key: str | None) -> ConfigError:
        return ConfigError(message, file=self.file, key=key,
                           line=self.line_of(key) if key else None)


def loc_to_key(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a dotted key path."""
    # pydantic adds the union member / validator name for some errors; keep
    # only real keys and list indices
    out = []
    for p in loc:
        if isinstance(p, int):
            out.append(str(p))
        elif isinstance(p, str) and not (p.startswith("function-") or "[" in p or p == "bool"):
            out.append(p)
    return ".".join(out)


def error_message(err: ErrorDetails) -> str:
    """One pydantic error as the words of a config error (with the bad value)."""
    kind = err.get("type")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    ctx = err.get("ctx") or {}
    msg = str(ctx["error"]) if kind == "value_error" and "error" in ctx else err.get(
        "msg", "invalid value")
    inp = err.get("input")
    if not isinstance(inp, dict | list) and repr(inp) not in msg:
        msg = f"{msg} (got {inp!r})"
    return msg


def first_error(e: ValidationError) -> tuple[str, str]:
    """The most specific error of ``e``: (dotted key, message)."""
    errors = e.errors()
    # a union (e.g. ``plots: bool | list``) reports one error per member; the
    # deepest one is the most specific
    first = loc_to_key(tuple(errors[0].get("loc", ())))
    same = [x for x in errors if loc_to_key(tuple(x.get("loc", ()))).startswith(first)]
    err = max(same, key=lambda x: len(loc_to_key(tuple(x.get("loc", ()))))) if same else errors[0]
    return loc_to_key(tuple(err.get("loc", ()))), error_message(err)


def swept_key_for(key: str, swept: list[str] | dict[str, Any]) -> str | None:
    """The swept key whose value ``key`` (a scenario key path) lies in, if any."""
    for skey in swept:
        if key == skey or key.startswith(skey + ".") or skey.startswith(key + "."):
            return skey
    return None


def format_value(v: Any) -> str:
    """A swept value as labels and messages show it (mappings and lists as JSON)."""
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, separators=(",", ":"), default=str)
    return str(v)


def setting_error(key: str, message: str, setting: dict[str, Any],
                  entries: dict[str, str], ctx: ErrorContext) -> ConfigError:
    """An error at scenario ``key`` of an expanded setting: it points at the sweep
    value that caused it when ``key`` lies in a swept key, else at the base scenario.

    ``entries`` maps swept key -> the sweep entry (with the list index) that
    supplied this setting's value.
    """
    skey = swept_key_for(key, setting) if key else None
    if skey is None:
        return ctx.error(message, f"scenario.{key}" if key else "scenario")
    inner = key[len(skey) + 1:] if key.startswith(skey + ".") else ""
    detail = message + (f" at '{inner}'" if inner else "")
    return ctx.error(f"value {format_value(setting[skey])}: {detail}", entries[skey])
