"""Loading an experiment: read, validate every value, expand the sweep into runs.

Everything is checked before anything runs (desmod-style dotted keys with
type-checked overrides, OMNeT++-style repetitions with common random
numbers): a mistake raises :class:`gosim.errors.ConfigError` naming the file,
the dotted key path and, where the YAML parser knows it, the line. Every value
the file writes is validated, including a base value that the sweep replaces.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from gosim.config.paths import check_key_path, set_key_path
from gosim.config.schema import NAME_RE, ExperimentFile, Outputs, Sweep
from gosim.config.translate import (
    ErrorContext,
    error_message,
    first_error,
    format_value,
    loc_to_key,
    setting_error,
    swept_key_for,
)
from gosim.config.yamlmap import read_yaml
from gosim.errors import ConfigError
from gosim.scenario import Scenario, cost_parameter_names


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
    #: the file it came from (None when parsed from text)
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


def scenario_hash(scenario: Scenario, profile_values: dict[str, Any] | None = None) -> str:
    """Stable hash of a fully resolved scenario (all defaults filled in), including
    the values of a named calibration profile, so editing a profile reruns its runs
    (and a missing profile is reported before anything runs). ``profile_values``:
    the profile's values when the caller has loaded them."""
    data = scenario.model_dump(mode="json")
    if scenario.costs_profile:
        if profile_values is None:
            from gosim.sim.profiles import load_profile

            profile_values = load_profile(scenario.costs_profile)
        data["costs_profile_values"] = profile_values
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


def setting_label(setting: dict[str, Any]) -> str:
    if not setting:
        return "base"
    return ", ".join(f"{short_key(k)}={format_value(v)}" for k, v in setting.items())


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
    data, lines = read_yaml(text, file)
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
    ctx = ErrorContext(file, lines)
    try:
        top = ExperimentFile.model_validate(data)
    except ValidationError as e:
        key, msg = first_error(e)
        raise ctx.error(msg, key or None) from None
    exp = Experiment(
        name=top.name or default_name, description=top.description,
        base_scenario=copy.deepcopy(top.scenario), sweep=top.sweep, outputs=top.outputs,
        path=file,
    )
    if not NAME_RE.match(exp.name):
        raise ctx.error("cannot derive a results directory name from the file name; "
                        "set 'name'", "name")
    exp.runs = _expand(exp, ctx)
    return exp


def expand(exp: Experiment) -> list[RunSpec]:
    """The experiment's runs (expanded and validated when it was loaded)."""
    return exp.runs


# ---------------------------------------------------------------- expansion

@dataclass(frozen=True)
class _Setting:
    """One setting: swept key -> value, and swept key -> the sweep entry (with its
    list index) that supplied the value."""

    values: dict[str, Any]
    entries: dict[str, str]


def _settings(sweep: Sweep, ctx: ErrorContext) -> tuple[list[_Setting], dict[str, str]]:
    """All settings in sweep order, and swept key -> its sweep entry."""
    axes: list[list[_Setting]] = []
    where: dict[str, str] = {}
    for key, values in sweep.grid.items():
        entry = f"sweep.grid.{key}"
        if not values:
            raise ctx.error("empty sweep list; give at least one value", entry)
        where[key] = entry
        axes.append([_Setting({key: v}, {key: f"{entry}.{i}"}) for i, v in enumerate(values)])
    zips = [("sweep.zip", sweep.zip)] if isinstance(sweep.zip, dict) else [
        (f"sweep.zip.{i}", g) for i, g in enumerate(sweep.zip)]
    for prefix, group in zips:
        if not group:
            continue
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
        axes.append([_Setting({k: group[k][i] for k in group},
                              {k: f"{prefix}.{k}.{i}" for k in group}) for i in range(n or 0)])
    for key, entry in where.items():
        check_key_path(key, ctx, entry)
    settings = []
    for combo in itertools.product(*axes):
        values: dict[str, Any] = {}
        entries: dict[str, str] = {}
        for part in combo:
            values.update(part.values)
            entries.update(part.entries)
        settings.append(_Setting(values, entries))
    return settings, where


def _check_base_values(base: dict[str, Any], where: dict[str, str], ctx: ErrorContext) -> None:
    """A value the base scenario writes at a swept key must be valid too, though
    every setting replaces it (settings validate everything else)."""
    if not where:
        return

    def error(message: str, key: str, skey: str) -> ConfigError:
        return ctx.error(f"{message}; the base value of a swept key (swept at {where[skey]}) "
                         "must be valid too", f"scenario.{key}")

    def swept_at(key: str) -> str | None:
        # an error above a swept key may be one that the swept values mend
        skey = swept_key_for(key, where)
        return skey if skey is not None and (key == skey or key.startswith(skey + ".")) else None

    try:
        Scenario.model_validate(base)
    except ValidationError as e:
        for err in e.errors():
            key = loc_to_key(tuple(err["loc"]))
            skey = swept_at(key)
            if skey is not None and err["type"] != "missing":
                raise error(error_message(err), key, skey) from None
    costs = base.get("costs")
    for name in costs if isinstance(costs, dict) else ():
        skey = swept_at(f"costs.{name}")
        if skey is not None and name not in cost_parameter_names():
            raise error(_unknown_cost(name), f"costs.{name}", skey)
    profile = base.get("costs_profile")
    if "costs_profile" in where and isinstance(profile, str):
        loaded = _load_profile(profile)
        if isinstance(loaded, str):
            raise error(loaded, "costs_profile", "costs_profile")


def _unknown_cost(name: str) -> str:
    return f"unknown cost parameter {name!r}; expected one of {list(cost_parameter_names())}"


def _load_profile(name: str) -> dict[str, Any] | str:
    """Calibration profile ``name``'s values, or why it cannot be used."""
    from gosim.sim.profiles import load_profile

    try:
        return load_profile(name)
    except ConfigError as e:
        return str(e)


def _expand(exp: Experiment, ctx: ErrorContext) -> list[RunSpec]:
    settings, where = _settings(exp.sweep, ctx)
    _check_base_values(exp.base_scenario, where, ctx)
    runs: list[RunSpec] = []
    profiles: dict[str, dict[str, Any] | str] = {}  # each named profile read once
    for sid, s in enumerate(settings):
        data = copy.deepcopy(exp.base_scenario)
        for key, value in s.values.items():
            try:
                set_key_path(data, key, copy.deepcopy(value))
            except (KeyError, IndexError, TypeError) as e:
                msg = e.args[0] if e.args else str(e)
                raise ctx.error(f"sweep key {key!r}: {msg}", where[key]) from None
        try:
            sc = Scenario.model_validate(data)
        except ValidationError as e:
            key, msg = first_error(e)
            raise setting_error(key, msg, s.values, s.entries, ctx) from None
        for name in sc.costs:
            if name not in cost_parameter_names():
                raise setting_error(f"costs.{name}", _unknown_cost(name), s.values, s.entries,
                                    ctx)
        values = None
        if sc.costs_profile:
            if sc.costs_profile not in profiles:
                profiles[sc.costs_profile] = _load_profile(sc.costs_profile)
            loaded = profiles[sc.costs_profile]
            if isinstance(loaded, str):
                raise setting_error("costs_profile", loaded, s.values, s.entries, ctx)
            values = loaded
        for rep, seed in enumerate(replication_seeds(sc.seed, exp.sweep.replications)):
            run_sc = sc.model_copy(update={"seed": seed})
            runs.append(RunSpec(run_id=len(runs), setting_id=sid, setting=dict(s.values),
                                replication=rep, seed=seed, scenario=run_sc,
                                config_hash=scenario_hash(run_sc, values)))
    return runs
