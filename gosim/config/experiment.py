"""Experiment configs: YAML schema, up-front validation and sweep expansion.

An experiment file holds a base :class:`~gosim.scenario.Scenario`, a sweep
and output options::

    name: quickstart
    scenario:            # the base scenario (gosim.scenario.Scenario)
      design: go1.27
      workload:
        groups: [{count: 4, size: 48, allocations: 20000}]
    sweep:
      grid:              # cartesian product over dotted key paths
        design.preset: [go1.12, go1.27]
        gomaxprocs: [1, 2, 4]
      zip:               # lists of equal length varied in lockstep
        workload.groups.0.size: [48, 1024]
        workload.groups.0.allocations: [20000, 5000]
      replications: 3    # seeds spawned from SeedSequence(scenario.seed)
    outputs:
      plots: true        # or false, or a list of plot names
      timeseries: true

Everything is checked before anything runs (desmod-style dotted keys with
type-checked overrides, OMNeT++-style repetitions with common random
numbers): a mistake raises :class:`gosim.errors.ConfigError` naming the file,
the dotted key path and, where the YAML parser knows it, the line.

Seeds: replication ``r`` of every setting uses the same seed, child ``r`` of
``numpy.random.SeedSequence(scenario.seed)`` (common random numbers across
settings, independent streams across replications). A child's seed does not
depend on how many replications are asked for, so raising ``replications``
keeps the runs already done.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from gosim.errors import ConfigError, GosimError
from gosim.scenario import DesignSpec, Scenario

PlotName = Literal["scaling", "p_time", "lock_heatmap", "latency_ecdf"]
#: every plot gosim draws, in drawing order
PLOT_NAMES: tuple[str, ...] = typing.get_args(PlotName)

_Strict = ConfigDict(extra="forbid", frozen=True)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Sweep(BaseModel):
    """Which scenario keys vary, and how many replications each setting gets."""

    model_config = _Strict
    #: dotted key path -> values; the cartesian product of all lists
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    #: dotted key path -> values; lists of equal length varied in lockstep.
    #: A list of such mappings gives several independent lockstep groups.
    zip: dict[str, list[Any]] | list[dict[str, list[Any]]] = Field(default_factory=dict)
    replications: int = Field(default=1, ge=1)

    def zip_groups(self) -> list[dict[str, list[Any]]]:
        if isinstance(self.zip, dict):
            return [self.zip] if self.zip else []
        return [g for g in self.zip if g]


class Outputs(BaseModel):
    model_config = _Strict
    #: true = every plot, false = none, or a list of plot names
    plots: bool | list[PlotName] = True
    #: write timeseries.parquet when runs sample time series
    #: (``scenario.timeseries_interval_ns`` > 0)
    timeseries: bool = True

    def plot_names(self) -> list[str]:
        if self.plots is True:
            return list(PLOT_NAMES)
        if self.plots is False:
            return []
        return [p for p in PLOT_NAMES if p in self.plots]


class ExperimentFile(BaseModel):
    """The top level of an experiment YAML file."""

    model_config = _Strict
    name: str | None = None
    description: str = ""
    #: the base scenario; validated per expanded setting (a sweep may fill in
    #: what the base leaves out)
    scenario: dict[str, Any] = Field(default_factory=dict)
    sweep: Sweep = Field(default_factory=Sweep)
    outputs: Outputs = Field(default_factory=Outputs)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not _NAME_RE.match(v):
            raise ValueError("must be letters, digits, '.', '_' or '-' (it names the results directory)")
        return v


@dataclass(frozen=True)
class RunSpec:
    """One run of an experiment: a setting of the swept keys and a replication."""

    #: position in the expansion (settings in sweep order, replications inner)
    run_id: int
    setting_id: int
    #: swept dotted key -> value for this setting
    setting: dict[str, Any]
    replication: int
    seed: int
    scenario: Scenario
    #: hash of the fully resolved scenario (seed included): the run-cache key
    config_hash: str

    def label(self) -> str:
        return setting_label(self.setting)


@dataclass
class Experiment:
    """A loaded, validated experiment."""

    name: str
    description: str
    base_scenario: dict[str, Any]
    sweep: Sweep
    outputs: Outputs
    #: the file it came from (None when built in code)
    path: str | None = None
    runs: list[RunSpec] = field(default_factory=list)

    @property
    def swept_keys(self) -> list[str]:
        keys = list(self.sweep.grid)
        for g in self.sweep.zip_groups():
            keys.extend(g)
        return keys

    def as_dict(self) -> dict[str, Any]:
        """The experiment as written (after validation), JSON-friendly."""
        return {
            "name": self.name, "description": self.description,
            "scenario": self.base_scenario,
            "sweep": self.sweep.model_dump(mode="json"),
            "outputs": self.outputs.model_dump(mode="json"),
        }

    @property
    def config_hash(self) -> str:
        """Hash of the whole expanded experiment (every run's config hash)."""
        h = hashlib.sha256()
        h.update(canonical_json({"name": self.name, "outputs": self.as_dict()["outputs"]}).encode())
        for r in self.runs:
            h.update(r.config_hash.encode())
        return h.hexdigest()[:16]


# ---------------------------------------------------------------- helpers

def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def scenario_hash(scenario: Scenario) -> str:
    """Stable hash of a fully resolved scenario (all defaults filled in), including
    the values of a named calibration profile, so editing a profile reruns its runs
    (and a missing profile is reported before anything runs)."""
    data = scenario.model_dump(mode="json")
    if scenario.costs_profile:
        from gosim.sim.profiles import load_profile

        data["costs_profile_values"] = load_profile(scenario.costs_profile)
    payload = canonical_json(data)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def replication_seeds(base_seed: int, replications: int) -> list[int]:
    """Seeds of replications 0..n-1: children of ``SeedSequence(base_seed)``.

    Child ``r`` is the same whatever ``replications`` is; 63 bits so that the
    seed fits a signed 64-bit Parquet column.
    """
    children = np.random.SeedSequence(base_seed).spawn(replications)
    return [int(c.generate_state(1, np.uint64)[0]) & ((1 << 63) - 1) for c in children]


def short_key(key: str) -> str:
    """``workload.groups.0.size`` -> ``size``: the last non-index component."""
    parts = [p for p in key.split(".") if not p.isdigit()]
    return parts[-1] if parts else key


def format_value(v: Any) -> str:
    if isinstance(v, dict | list):
        return canonical_json(v)
    return str(v)


def setting_label(setting: dict[str, Any]) -> str:
    if not setting:
        return "base"
    return ", ".join(f"{short_key(k)}={format_value(v)}" for k, v in setting.items())


# ---------------------------------------------------------------- YAML + line map

def _line_map(text: str) -> dict[str, int]:
    """Dotted key path -> 1-based line of its key (or list item) in ``text``.

    Built from ``yaml.compose`` node marks. Duplicate keys (which PyYAML would
    silently collapse) are rejected here.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                key = str(k.value)
                path = f"{prefix}.{key}" if prefix else key
                if key in seen:
                    raise _DuplicateKey(path, k.start_mark.line + 1)
                seen.add(key)
                lines[path] = k.start_mark.line + 1
                walk(v, path)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                path = f"{prefix}.{i}" if prefix else str(i)
                lines[path] = v.start_mark.line + 1
                walk(v, path)

    if root is not None:
        walk(root, "")
    return lines


class _DuplicateKey(Exception):
    def __init__(self, path: str, line: int) -> None:
        self.path, self.line = path, line


class _Ctx:
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


def _loc_to_key(loc: tuple[Any, ...]) -> str:
    # pydantic adds the union member / validator name for some errors; keep
    # only real keys and list indices
    out = []
    for p in loc:
        if isinstance(p, int):
            out.append(str(p))
        elif isinstance(p, str) and not (p.startswith("function-") or "[" in p or p == "bool"):
            out.append(p)
    return ".".join(out)


def _first_error(e: ValidationError) -> tuple[str, str]:
    errors = e.errors()
    # a union (e.g. ``plots: bool | list``) reports one error per member; the
    # deepest one is the most specific
    first = _loc_to_key(tuple(errors[0].get("loc", ())))
    same = [x for x in errors
            if _loc_to_key(tuple(x.get("loc", ()))).startswith(first)]
    err = max(same, key=lambda x: len(_loc_to_key(tuple(x.get("loc", ()))))) if same else errors[0]
    key = _loc_to_key(tuple(err.get("loc", ())))
    msg = err.get("msg", "invalid value")
    if err.get("type") == "extra_forbidden":
        msg = "unknown key"
    elif err.get("type") == "missing":
        msg = "required key is missing"
    else:
        inp = err.get("input")
        if not isinstance(inp, dict | list):
            msg = f"{msg} (got {inp!r})"
    return key, msg


# ---------------------------------------------------------------- dotted keys

def _unwrap(tp: Any) -> Any:
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


def _known_cost_parameters() -> set[str] | None:
    try:
        from gosim.sim import costs  # noqa: PLC0415
    except ImportError:
        return None
    params = getattr(costs, "COST_PARAMETERS", None)
    return set(params) if params else None


def _design_fields() -> dict[str, Any]:
    from dataclasses import fields as dc_fields  # noqa: PLC0415

    from gosim.runtime import design  # noqa: PLC0415

    hints = typing.get_type_hints(design.Design)
    return {f.name: hints[f.name] for f in dc_fields(design.Design)
            if f.name not in ("name", "costs")}


def check_key_path(path: str, ctx: _Ctx, where: str) -> None:
    """Check a dotted sweep key against the Scenario schema.

    ``where`` is the key path of the sweep entry, for the error message.
    """
    parts = path.split(".")
    if not path or any(p == "" for p in parts):
        raise ctx.error(f"malformed key path {path!r}", where)
    tp: Any = Scenario
    for i, part in enumerate(parts):
        done = ".".join(parts[:i])
        tp = _unwrap(tp)
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
                known = _known_cost_parameters()
                if known is not None and part not in known:
                    raise ctx.error(f"sweep key {path!r}: unknown cost parameter {part!r}; "
                                    f"expected one of {sorted(known)}", where)
            elif done == "design.overrides":
                names = _design_fields()
                if part not in names:
                    raise ctx.error(f"sweep key {path!r}: unknown design option {part!r}; "
                                    f"expected one of {sorted(names)}", where)
                if i + 1 < len(parts):
                    raise ctx.error(f"sweep key {path!r}: design option {part!r} is a scalar",
                                    where)
                return
            tp = typing.get_args(tp)[1]
        elif tp is Any:
            return
        else:
            raise ctx.error(f"sweep key {path!r}: '{done}' is a scalar; it has no key {part!r}",
                            where)


def _schema_type_at(path: str) -> Any:
    tp: Any = Scenario
    for part in path.split("."):
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = tp.model_fields[part].annotation
        elif origin is list:
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return Any
    return _unwrap(tp)


def _expand_shorthand(path: str, value: Any) -> dict[str, Any] | None:
    """A shorthand (``design: go1.27``, ``size: 48``) as the mapping it stands for."""
    try:
        tp = _schema_type_at(path)
    except KeyError:
        return None
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return None
    if tp is DesignSpec and isinstance(value, str):  # Scenario's own shorthand
        return {"preset": value}
    try:
        return tp.model_validate(value).model_dump(mode="json", exclude_unset=True)
    except ValidationError:
        return None


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
        if not isinstance(cur, dict | list):
            expanded = _expand_shorthand(done, cur)
            if expanded is None:
                raise TypeError(f"cannot set {path!r}: '{done}' holds a plain value "
                                f"({cur!r}); write it as a mapping in the base scenario")
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


# ---------------------------------------------------------------- loading

def load_experiment(path: str | Path) -> Experiment:
    """Read, validate and expand an experiment file (raises ConfigError)."""
    p = Path(path)
    file = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, expected a YAML file", file=file) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the file: {e}", file=file) from None
    return parse_experiment(text, file=file, default_name=p.stem)


def parse_experiment(text: str, *, file: str | None = None,
                     default_name: str = "experiment") -> Experiment:
    """Validate and expand experiment YAML text (raises ConfigError)."""
    try:
        data = yaml.safe_load(text)
        lines = _line_map(text)
    except _DuplicateKey as e:
        raise ConfigError("duplicate key", file=file, key=e.path, line=e.line) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"malformed YAML: {problem}", file=file,
                          line=mark.line + 1 if mark else None) from None
    if data is None:
        raise ConfigError("the file is empty; expected a mapping with a 'scenario'", file=file)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {type(data).__name__}",
                          file=file, line=1)
    return build_experiment(data, file=file, lines=lines, default_name=default_name)


def build_experiment(data: dict[str, Any], *, file: str | None = None,
                     lines: dict[str, int] | None = None,
                     default_name: str = "experiment") -> Experiment:
    """Validate a parsed experiment mapping and expand its sweep."""
    ctx = _Ctx(file, lines)
    try:
        top = ExperimentFile.model_validate(data)
    except ValidationError as e:
        key, msg = _first_error(e)
        raise ctx.error(msg, key or None) from None
    exp = Experiment(
        name=top.name or default_name, description=top.description,
        base_scenario=copy.deepcopy(top.scenario), sweep=top.sweep, outputs=top.outputs,
        path=file,
    )
    if not _NAME_RE.match(exp.name):
        raise ctx.error("cannot derive a results directory name from the file name; "
                        "set 'name'", "name")
    exp.runs = _expand(exp, ctx)
    return exp


def expand(exp: Experiment) -> list[RunSpec]:
    """The experiment's runs (already expanded and validated by loading)."""
    if not exp.runs:
        exp.runs = _expand(exp, _Ctx(exp.path))
    return exp.runs


def _settings(sweep: Sweep, ctx: _Ctx) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """All settings (swept key -> value) and swept key -> its sweep entry path."""
    axes: list[list[dict[str, Any]]] = []
    where: dict[str, str] = {}
    for key, values in sweep.grid.items():
        entry = f"sweep.grid.{key}"
        if not values:
            raise ctx.error("empty sweep list; give at least one value", entry)
        where[key] = entry
        axes.append([{key: v} for v in values])
    groups = sweep.zip_groups()
    for gi, group in enumerate(groups):
        prefix = "sweep.zip" if isinstance(sweep.zip, dict) else f"sweep.zip.{gi}"
        n = None
        for key, values in group.items():
            entry = f"{prefix}.{key}"
            if not values:
                raise ctx.error("empty sweep list; give at least one value", entry)
            if key in where:
                raise ctx.error(f"{key!r} is swept twice (also at {where[key]})", entry)
            if n is not None and len(values) != n:
                raise ctx.error(f"zip lists must have equal lengths: {len(values)} values "
                                f"here, {n} in the first list of this group", entry)
            n = len(values)
            where[key] = entry
        keys = list(group)
        axes.append([{k: group[k][i] for k in keys} for i in range(n or 0)])
    for key, entry in where.items():
        check_key_path(key, ctx, entry)
    settings = []
    for combo in itertools.product(*axes):
        s: dict[str, Any] = {}
        for part in combo:
            s.update(part)
        settings.append(s)
    return settings, where


def _value_entry(key: str, value: Any, sweep: Sweep, where: dict[str, str]) -> str:
    """The sweep entry (with list index) that supplied ``value`` for ``key``."""
    entry = where[key]
    values = sweep.grid.get(key)
    if values is None:
        for g in sweep.zip_groups():
            if key in g:
                values = g[key]
    for i, v in enumerate(values or []):
        if v == value:
            return f"{entry}.{i}"
    return entry


def _validate_design(sc: Scenario, ctx: _Ctx, key_prefix: str) -> None:
    """Preset names, design override names and types, cost parameter names."""
    from gosim.runtime.design import PRESETS  # noqa: PLC0415

    if sc.design.preset not in PRESETS:
        raise ctx.error(f"unknown design preset {sc.design.preset!r}; expected one of "
                        f"{sorted(PRESETS)}", f"{key_prefix}design.preset")
    names = _design_fields()
    for k, v in sc.design.overrides.items():
        if k not in names:
            raise ctx.error(f"unknown design option {k!r}; expected one of {sorted(names)}",
                            f"{key_prefix}design.overrides.{k}")
        try:
            TypeAdapter(names[k]).validate_python(v, strict=True)
        except ValidationError as e:
            raise ctx.error(f"design option {k!r}: {e.errors()[0]['msg']} (got {v!r})",
                            f"{key_prefix}design.overrides.{k}") from None
    known = _known_cost_parameters()
    if known is not None:
        for k in sc.costs:
            if k not in known:
                raise ctx.error(f"unknown cost parameter {k!r}; expected one of "
                                f"{sorted(known)}", f"{key_prefix}costs.{k}")
    if sc.costs_profile:
        from gosim.sim.profiles import load_profile  # noqa: PLC0415

        try:
            load_profile(sc.costs_profile)
        except ConfigError as e:
            raise ctx.error(e.detail, f"{key_prefix}costs_profile") from None


def _expand(exp: Experiment, ctx: _Ctx) -> list[RunSpec]:
    settings, where = _settings(exp.sweep, ctx)
    runs: list[RunSpec] = []
    for sid, setting in enumerate(settings):
        data = copy.deepcopy(exp.base_scenario)
        for key, value in setting.items():
            try:
                set_key_path(data, key, copy.deepcopy(value))
            except (KeyError, IndexError, TypeError) as e:
                msg = e.args[0] if e.args else str(e)
                raise ctx.error(f"sweep key {key!r}: {msg}", where[key]) from None
        try:
            sc = Scenario.model_validate(data)
        except ValidationError as e:
            raise _scenario_error(e, setting, exp.sweep, where, ctx) from None
        try:
            _validate_design(sc, ctx, "scenario.")
        except ConfigError as err:
            raise _attribute(err, setting, exp.sweep, where, ctx) from None
        for rep, seed in enumerate(replication_seeds(sc.seed, exp.sweep.replications)):
            run_sc = sc.model_copy(update={"seed": seed})
            runs.append(RunSpec(run_id=len(runs), setting_id=sid, setting=dict(setting),
                                replication=rep, seed=seed, scenario=run_sc,
                                config_hash=scenario_hash(run_sc)))
    return runs


def _swept_key_for(key: str, setting: dict[str, Any]) -> str | None:
    """The swept key whose value ``key`` (a scenario key path) lies in, if any."""
    for skey in setting:
        if key == skey or key.startswith(skey + ".") or skey.startswith(key + "."):
            return skey
    return None


def _scenario_error(e: ValidationError, setting: dict[str, Any], sweep: Sweep,
                    where: dict[str, str], ctx: _Ctx) -> GosimError:
    key, msg = _first_error(e)
    skey = _swept_key_for(key, setting) if key else None
    if skey is not None:
        value = setting[skey]
        entry = _value_entry(skey, value, sweep, where)
        inner = key[len(skey) + 1:] if key.startswith(skey + ".") else ""
        detail = msg + (f" at '{inner}'" if inner else "")
        return ConfigError(f"value {format_value(value)}: {detail}", file=ctx.file,
                           key=entry, line=ctx.line_of(entry))
    return ctx.error(msg, f"scenario.{key}" if key else "scenario")


def _attribute(err: ConfigError, setting: dict[str, Any], sweep: Sweep,
               where: dict[str, str], ctx: _Ctx) -> ConfigError:
    """Point a scenario-level error at the sweep entry that caused it, if any."""
    key = (err.key or "").removeprefix("scenario.")
    skey = _swept_key_for(key, setting)
    if skey is None:
        return err
    entry = _value_entry(skey, setting[skey], sweep, where)
    return ConfigError(f"value {format_value(setting[skey])}: {err.detail}", file=ctx.file,
                       key=entry, line=ctx.line_of(entry))
