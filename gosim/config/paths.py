"""Dotted key paths into a scenario (``workload.groups.0.size``): checking a
sweep key against the schema, and setting a value in a scenario mapping."""

from __future__ import annotations

import types
import typing
from typing import Any, Union

from pydantic import BaseModel

from gosim.config.translate import ErrorContext
from gosim.scenario import Scenario, cost_parameter_names, design_options
from gosim.workload.spec import Shorthand


def unwrap(tp: Any) -> Any:
    """Strip Optional[...] / Annotated[...] to the one interesting type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def check_key_path(path: str, ctx: ErrorContext, where: str) -> None:
    """Check a dotted sweep key against the Scenario schema.

    ``where`` is the key path of the sweep entry, for the error message.
    """
    parts = path.split(".")
    if not path or any(p == "" for p in parts):
        raise ctx.error(f"malformed key path {path!r}", where)
    tp: Any = Scenario
    for i, part in enumerate(parts):
        done = ".".join(parts[:i])
        tp = unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part not in tp.model_fields:
                what = f"'{done}'" if done else "a scenario"
                raise ctx.error(
                    f"sweep key {path!r}: {what} has no key {part!r}; expected one of "
                    f"{sorted(tp.model_fields)}", where)
            tp = tp.model_fields[part].annotation
        elif origin is list:
            if not part.isdigit():
                raise ctx.error(f"sweep key {path!r}: '{done}' is a list; expected an index, "
                                f"got {part!r}", where)
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            if done == "costs":
                known = cost_parameter_names()
                if part not in known:
                    raise ctx.error(f"sweep key {path!r}: unknown cost parameter {part!r}; "
                                    f"expected one of {list(known)}", where)
            elif done == "design.overrides":
                names = design_options()
                if part not in names:
                    raise ctx.error(f"sweep key {path!r}: unknown design option {part!r}; "
                                    f"expected one of {sorted(names)}", where)
                if i + 1 < len(parts):
                    raise ctx.error(f"sweep key {path!r}: design option {part!r} is a scalar",
                                    where)
                return
            tp = typing.get_args(tp)[1]
        else:
            raise ctx.error(f"sweep key {path!r}: '{done}' is a scalar; it has no key {part!r}",
                            where)


def _schema_type_at(path: str) -> Any:
    tp: Any = Scenario
    for part in path.split("."):
        tp = unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = tp.model_fields[part].annotation
        elif origin is list:
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return Any
    return unwrap(tp)


def _expand_shorthand(path: str, value: Any) -> dict[str, Any] | None:
    """A short form (``design: go1.27``, ``size: 48``, ``lifetime: {time: 50}``) as the
    mapping it stands for (validated later, with the rest of the scenario); a full
    mapping as it is; None when ``value`` is neither."""
    try:
        tp = _schema_type_at(path)
    except KeyError:  # not a scenario key: nothing to expand
        return None
    if not (isinstance(tp, type) and issubclass(tp, Shorthand)):
        return None
    try:
        out = tp.expand_short(value)
    except ValueError:
        return None
    return out if isinstance(out, dict) else None


def _get_path(data: Any, parts: list[str]) -> Any:
    cur = data
    for p in parts:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    return cur


def set_key_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``data[path]`` for a dotted path, creating missing mappings.

    Raises ``KeyError``/``IndexError``/``TypeError`` with a readable message
    when the path cannot be followed in ``data``.
    """
    parts = path.split(".")
    cur: Any = data
    for i, part in enumerate(parts[:-1]):
        done = ".".join(parts[: i + 1])
        nxt_is_index = parts[i + 1].isdigit()
        if isinstance(cur, list):
            idx = int(part)
            if idx >= len(cur):
                raise IndexError(f"'{done}': index {idx} is out of range (the base scenario "
                                 f"has {len(cur)} item(s) there)")
            cur = cur[idx]
        elif isinstance(cur, dict):
            if part not in cur or cur[part] is None:
                if nxt_is_index:
                    raise KeyError(f"'{done}' is not written out in the base scenario; "
                                   f"write it there to sweep inside it")
                cur[part] = {}
            cur = cur[part]
        else:
            raise TypeError(f"cannot set {path!r}: the value above {part!r} is not a mapping")
        if isinstance(cur, list):
            continue
        expanded = _expand_shorthand(done, cur)
        if expanded is None and not isinstance(cur, dict):
            raise TypeError(f"cannot set {path!r}: '{done}' holds a plain value "
                            f"({cur!r}); write it as a mapping in the base scenario")
        if expanded is not None and expanded is not cur:  # a short form, written out
            parent = _get_path(data, parts[:i])
            if isinstance(parent, list):
                parent[int(part)] = expanded
            else:
                parent[part] = expanded
            cur = expanded
    last = parts[-1]
    if isinstance(cur, list):
        idx = int(last)
        if idx >= len(cur):
            raise IndexError(f"index {idx} is out of range (the base scenario has "
                             f"{len(cur)} item(s) there)")
        cur[idx] = value
    else:
        cur[last] = value
