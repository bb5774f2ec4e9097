"""Fit cost parameters on the fit records; write a calibration profile.

The objective is the RMS of ln(sim / real) throughput over the fit records
(:func:`gosim.groundtruth.scoring.split_of`). Each evaluation simulates every
fit record, so the optimiser must be cheap and must not be thrown by a
piecewise-constant objective (a cost moves a lock hand-off across a spin
window, say): a coordinate search on a log scale
(:func:`coordinate_search`) with a hard cap on evaluations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gosim.errors import ConfigError

#: first multiplicative step of the coordinate search, and the smallest
START_STEP = 2.0
MIN_STEP = 1.02


@dataclass
class FitResult:
    start: dict[str, float]
    best: dict[str, float]
    start_error: float
    best_error: float
    evaluations: int
    #: (parameters, error) per evaluation, in order
    history: list[tuple[dict[str, float], float]] = field(default_factory=list)


def coordinate_search(objective: Callable[[dict[str, float]], float], start: dict[str, float],
                      max_evals: int, step: float = START_STEP,
                      min_step: float = MIN_STEP) -> FitResult:
    """Minimise ``objective`` over positive parameters on a log scale.

    Parameters are tried in the order given: each is multiplied by ``step``,
    then divided by it, and a move is kept when it lowers the error (ties keep
    the current point, so the search is deterministic). A pass that moves
    nothing takes the square root of ``step``; the search ends when ``step``
    falls below ``min_step`` or after ``max_evals`` evaluations (the start
    counts as one; a point already evaluated is not evaluated again)."""
    if max_evals < 1:
        raise ValueError("max_evals must be >= 1")
    history: list[tuple[dict[str, float], float]] = []
    seen: dict[tuple[float, ...], float] = {}

    def f(x: dict[str, float]) -> float:
        # a point met again (x2 then /2 on another pass) is not simulated again
        key = tuple(float(f"{x[k]:.12g}") for k in start)
        if key not in seen:
            e = objective(dict(x))
            history.append((dict(x), e))
            seen[key] = e if math.isfinite(e) else math.inf
        return seen[key]

    x = dict(start)
    best = f(x)
    start_error = best
    while step >= min_step and len(history) < max_evals:
        moved = False
        for name in start:
            for factor in (step, 1 / step):
                if len(history) >= max_evals:
                    break
                trial = {**x, name: x[name] * factor}
                e = f(trial)
                if e < best:
                    x, best, moved = trial, e, True
                    break
        if not moved:
            step = math.sqrt(step)
    return FitResult(dict(start), x, start_error, best, len(history), history)


def parse_fit_parameters(text: str) -> list[str]:
    """``--fit a,b``: cost parameter names (known, no repeats)."""
    from gosim.sim.costs import COST_PARAMETERS

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"expected comma-separated cost parameters (gosim costs), got "
                          f"{text!r}", key="--fit")
    unknown = [n for n in names if n not in COST_PARAMETERS]
    if unknown:
        raise ConfigError(f"unknown cost parameter {unknown[0]!r}; expected one of "
                          f"{', '.join(sorted(COST_PARAMETERS))}", key="--fit")
    if len(set(names)) != len(names):
        raise ConfigError(f"a parameter is named twice in {text!r}", key="--fit")
    return names


def parse_cost_overrides(items: list[str]) -> dict[str, Any]:
    """``--set NAME=VALUE`` (repeatable): a cost parameter (gosim costs) and the
    number every record runs it with, over the profile; or, as a scenario's
    ``costs`` may give it, a distribution written as a YAML mapping
    (``NAME={dist: exponential, mean: 500}``), drawn per use
    (:func:`_cost_distribution`)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"expected NAME=VALUE (a cost parameter and a number), got "
                              f"{item!r}", key="--set")
        value: Any = (_cost_distribution(name, text) if text.strip().startswith("{")
                      else _cost_value(name, text, "--set"))
        if name in out:
            raise ConfigError(f"{name} is set twice", key="--set")
        out[name] = value
    return out


def _check_cost_name(name: str, key: str) -> None:
    """A cost parameter named on the command line (option ``key``) must exist."""
    from gosim.sim.costs import COST_PARAMETERS

    if name not in COST_PARAMETERS:
        raise ConfigError(f"unknown cost parameter {name!r}; expected one of "
                          f"{', '.join(sorted(COST_PARAMETERS))}", key=key)


def _cost_value(name: str, text: str, key: str) -> float:
    """A cost parameter's value given on the command line (option ``key``)."""
    _check_cost_name(name, key)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ConfigError(f"{name}: expected a number >= 0, got {text.strip()!r}", key=key)
    return value


def _cost_distribution(name: str, text: str) -> dict[str, Any]:
    """``--set NAME={dist: ..., ...}``: a distribution for a cost parameter, checked
    as a scenario's ``costs`` entry is (gosim.workload.spec.Dist; a value is
    then drawn per use from each goroutine's own stream, gosim/sim/goroutine.py);
    returned as the mapping given, which a scenario's ``costs`` takes as it stands."""
    import yaml

    from gosim.workload.spec import dist_error

    _check_cost_name(name, "--set")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    if not isinstance(doc, dict):
        raise ConfigError(f"{name}: expected a number >= 0 or a distribution mapping such as "
                          f"{{dist: exponential, mean: 500}}, got {text.strip()!r}", key="--set")
    bad = dist_error(doc)
    if bad is not None:
        where, msg = bad
        raise ConfigError(f"{name}: not a distribution ({where}: {msg}), got "
                          f"{text.strip()!r}", key="--set")
    return dict(doc)


def format_cost(value: Any) -> str:
    """A cost value as ``--set`` takes it: a number (``%g``) or a distribution's
    mapping in YAML flow style."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v:g}" if isinstance(v, int | float) else f"{k}: {v}"
                               for k, v in value.items()) + "}"
    return f"{value:g}"


#: ``--grid`` points at most (each simulates every selected record)
MAX_GRID_POINTS = 64


def parse_cost_grid(items: list[str], overrides: dict[str, Any]) -> list[dict[str, float]]:
    """``--grid NAME=V1,V2,...`` (repeatable): every combination of the listed
    values, in the order given (the first parameter varies slowest), each a
    ``{name: value}`` over the profile and ``--set``. ``A+B=V1,V2`` ties
    parameters to one value (e.g. two costs that price the same thing). A
    parameter may not be both set and gridded, gridded twice, or repeat a value."""
    axes: list[tuple[list[str], list[float]]] = []
    for item in items:
        lhs, sep, text = item.partition("=")
        names = [n.strip() for n in lhs.split("+")]
        values = [v.strip() for v in text.split(",")] if sep else []
        if not all(names) or not values or not all(values):
            raise ConfigError(f"expected NAME=V1,V2,... or NAME+NAME=V1,V2,... (cost parameters "
                              f"and numbers), got {item!r}", key="--grid")
        parsed = [_cost_value(names[0], v, "--grid") for v in values]
        for name in names:
            _cost_value(name, values[0], "--grid")  # an unknown name is bad input
            if name in overrides:
                raise ConfigError(f"{name} is both --set and --grid", key="--grid")
            if names.count(name) > 1 or any(name in ns for ns, _ in axes):
                raise ConfigError(f"{name} is gridded twice", key="--grid")
        if len(set(parsed)) != len(parsed):
            raise ConfigError(f"{lhs.strip()}: a value is listed twice", key="--grid")
        axes.append((names, parsed))
    points: list[dict[str, float]] = [{}]
    for names, values in axes:
        points = [{**p, **dict.fromkeys(names, v)} for p in points for v in values]
    if len(points) > MAX_GRID_POINTS:
        raise ConfigError(f"{len(points)} points; at most {MAX_GRID_POINTS} (each simulates "
                          "every record)", key="--grid")
    return points


def start_values(names: list[str], presets: list[str],
                 base_profile: dict[str, Any]) -> dict[str, float]:
    """Each parameter's value in the model as the records run it: defaults <
    design preset < the base profile. A parameter the presets set differently
    cannot be fitted as one value; a zero cannot be searched on a log scale."""
    from gosim.realgo.calibrate import parameter_values

    out: dict[str, float] = {}
    for n in names:
        if isinstance(base_profile.get(n), dict):
            raise ConfigError(f"{n!r} is a distribution in the profile or --set; --fit "
                              "searches a number (set it to one with --set to fit it)",
                              key="--fit")
        values = {parameter_values(p, base_profile)[n] for p in presets}
        if len(values) > 1:
            raise ConfigError(f"{n!r} differs between the design presets of the records "
                              f"({', '.join(presets)}); fit one preset's records at a time",
                              key="--fit")
        (v,) = values
        if v <= 0:
            raise ConfigError(f"{n!r} starts at {v:g}; a log-scale search needs a value > 0 "
                              "(set one with --profile)", key="--fit")
        out[n] = v
    return out


def profile_document(*, name: str, source: str, records_fit: list[str], n_holdout: int,
                     go_versions: list[str], presets: list[str], base_profile_name: str | None,
                     base_parameters: dict[str, Any], fit: FitResult,
                     errors: dict[str, Any], fitted_on: str,
                     window_scale: float = 1.0) -> dict[str, Any]:
    """What ``costs_profile`` loads (``parameters``), with its provenance."""
    params = {**base_parameters, **{k: round(v, 4) for k, v in fit.best.items()}}
    return {
        "name": name,
        "go_version": go_versions[0] if len(go_versions) == 1 else go_versions,
        "design": presets[0] if len(presets) == 1 else presets,
        "fitted_on": fitted_on,
        "method": ("gosim groundtruth --fit: coordinate search on a log scale (steps x2, "
                   "then square roots) minimising the RMS of ln(sim / real) allocations per "
                   "second over the fit records"),
        "source": source,
        "split": errors["split"],
        "fit_records": records_fit,
        "holdout_records": n_holdout,
        "window_scale": window_scale,
        "base_profile": base_profile_name,
        "parameters": dict(sorted(params.items())),
        "fitted": sorted(fit.best),
        "start": {k: round(v, 4) for k, v in fit.start.items()},
        "evaluations": fit.evaluations,
        "fit_rms_log_error_start": _round(fit.start_error),
        "fit_rms_log_error": _round(errors["fit"]),
        "holdout_rms_log_error": _round(errors["holdout"]),
    }


def _round(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)
