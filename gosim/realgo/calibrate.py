"""``gosim calibrate``: fit the cost model to nanoseconds per allocation measured
on the real runtime.

1. Measure (``bench`` mode of the Go program, one process, GOMAXPROCS=1 by
   default): for each size and pointer-ness, a warm-up loop, then ``reps``
   timed loops of ``n`` allocations, objects dropped; the fastest loop's ns
   per allocation (the least disturbed by other work on the machine). With
   the GC off (default) the heap only grows, as in the model, which has no
   collector: every span is fresh memory.
2. Model the same benchmark: the simulator (1 P, no contention) runs the
   benchmark's workload with ``cost_record`` attached
   (``gosim.sim.simulate``), which returns every cost parameter's total units
   charged (calls, bytes or pages), for N and 2N allocations; the difference /
   N is the steady-state units per allocation of each parameter, so the
   model's ns per allocation is linear in the parameters: ``A @ theta``.
3. Split the points (:func:`split_sizes`): the sorted sizes at positions 1,
   4, 7, ... (every third from the second, never the smallest or the
   largest) are held out, both pointer kinds; the rest are fitted.
4. Fit ``theta`` on the fit set by non-negative least squares on relative
   errors (rows scaled by 1 / measured ns), with a weak ridge pulling each
   parameter towards its default (so that parameters the benchmarks cannot
   tell apart, e.g. the per-span costs, keep their default proportions).
   Parameters that no fitted benchmark exercises keep their defaults and are
   listed as ``defaulted``.
5. Write a profile (``gosim.sim.profiles``) with the points of each set
   (``fit``, ``holdout``), the error of each and the RMS relative error on
   each set with the fitted parameters, and with the defaults (on each set
   and on all points).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gosim.errors import GosimError
from gosim.realgo.probe import run_probe
from gosim.realgo.toolchain import GoToolchain, find_go

MiB = 1 << 20
DEFAULT_SIZES = (8, 16, 32, 48, 128, 512, 1024, 4096, 8192, 32768, 65536, 262144)
#: parameters a single-P, uncontended benchmark cannot inform (lock hand-offs,
#: designs other than today's): never fitted
NOT_FITTED = ("lock_spin_ns", "lock_wakeup_ns", "spanset_contention_factor",
              "sched_switch_ns")


@dataclass(frozen=True)
class Case:
    size: int
    pointerful: bool
    n: int
    warmup: int
    reps: int

def cases_for(sizes: tuple[int, ...] | list[int] = DEFAULT_SIZES, *,
              pointer_kinds: tuple[bool, ...] = (False, True),
              bytes_per_rep: int = 16 * MiB, reps: int = 5) -> list[Case]:
    out = []
    for s in sizes:
        if s <= 0:
            raise GosimError(f"--sizes: sizes must be positive, got {s}")
        n = int(min(100_000, max(500, bytes_per_rep // s)))
        for p in pointer_kinds:
            out.append(Case(size=int(s), pointerful=p, n=n, warmup=n, reps=reps))
    return out


# ------------------------------------------------------------------ measuring

def measure(cases: list[Case], *, tc: GoToolchain | None = None, gomaxprocs: int = 1,
            gc: bool = False) -> list[dict[str, Any]]:
    """Real ns per allocation for each case (fastest of ``reps`` loops; one Go process)."""
    spec = {"mode": "bench", "cases": [
        {"size": c.size, "pointerful": c.pointerful, "n": c.n, "warmup": c.warmup,
         "reps": c.reps} for c in cases]}
    out = run_probe(spec, tc=tc, gomaxprocs=gomaxprocs, gc=gc, timeout=1800)
    rows = []
    for c, r in zip(cases, out["cases"], strict=True):
        rows.append({"size": c.size, "pointerful": c.pointerful, "n": c.n,
                     # the least disturbed loop: the machine may be shared
                     "measured_ns": min(r["ns_per_alloc"]),
                     "reps_ns": r["ns_per_alloc"], "num_gc": r["num_gc"]})
    return rows


# ------------------------------------------------------------------ the model's units

def _units(preset: str, size: int, pointerful: bool, n: int, gomaxprocs: int,
           gc: bool) -> dict[str, float]:
    """Cost parameter -> total units the simulator charges for ``n`` allocations
    (``gosim.sim.simulate(..., cost_record=...)``: every cost, constants included),
    with the collector on or off as the real measurement ran."""
    from gosim.scenario import Scenario
    from gosim.sim import simulate

    sc = Scenario.model_validate({
        "design": preset, "gomaxprocs": gomaxprocs, "gc": {"enabled": gc},
        "workload": {"groups": [{"size": size, "pointer_free_fraction": 0 if pointerful else 1,
                                 "allocations": n, "lifetime": "drop"}]}})
    record: dict[str, float] = {}
    simulate(sc, cost_record=record)
    return record


def model_n(size: int) -> int:
    """Allocations per model run: enough to cover several heap growths."""
    return int(min(20_000, max(1_000, math.ceil(128 * MiB / size))))


def design_matrix(cases: list[Case], preset: str, gomaxprocs: int = 1, gc: bool = False
                  ) -> tuple[np.ndarray, list[str]]:
    """Steady-state units per allocation of every cost parameter, per case (the
    collector on or off as the measurement ran; its mark work is not a cost
    parameter, so a profile is fitted with it off, as the shipped one is)."""
    from gosim.sim.costs import COST_PARAMETERS

    names = sorted(COST_PARAMETERS)
    A = np.zeros((len(cases), len(names)))
    for i, c in enumerate(cases):
        n = model_n(c.size)
        u1 = _units(preset, c.size, c.pointerful, n, gomaxprocs, gc)
        u2 = _units(preset, c.size, c.pointerful, 2 * n, gomaxprocs, gc)
        for j, name in enumerate(names):
            A[i, j] = (u2.get(name, 0.0) - u1.get(name, 0.0)) / n
    return A, names


# ------------------------------------------------------------------ fitting

def fit(A: np.ndarray, y: np.ndarray, names: list[str], defaults: dict[str, float], *,
        ridge: float = 1e-3) -> tuple[dict[str, float], list[str]]:
    """Non-negative, relative-error least squares with a ridge towards defaults.

    Parameters left at their defaults still count: their share of each
    point (``A[:, fixed] @ defaults``) is taken off before fitting the rest.
    Returns (fitted parameters, parameters left at their defaults)."""
    from scipy.optimize import lsq_linear

    used = [j for j, n in enumerate(names)
            if n not in NOT_FITTED and np.any(np.abs(A[:, j]) > 1e-12)]
    defaulted = [n for j, n in enumerate(names) if j not in used]
    if not used:
        return {}, defaulted
    fixed = [j for j in range(len(names)) if j not in used]
    w = 1.0 / np.maximum(y, 1e-9)
    # scale columns by the defaults so the ridge is relative and well conditioned
    d = np.array([max(defaults[names[j]], 1e-6) for j in used])
    Aw = (A[:, used] * d) * w[:, None]
    yw = (y - A[:, fixed] @ np.array([defaults[names[j]] for j in fixed])) * w
    k = len(used)
    Aaug = np.vstack([Aw, math.sqrt(ridge) * np.eye(k)])
    yaug = np.concatenate([yw, math.sqrt(ridge) * np.ones(k)])
    res = lsq_linear(Aaug, yaug, bounds=(0, np.inf), method="bvls")
    theta = res.x * d
    return {names[j]: float(theta[i]) for i, j in enumerate(used)}, defaulted


def split_sizes(sizes: list[int] | tuple[int, ...]) -> tuple[list[int], list[int]]:
    """(fit sizes, hold-out sizes): of the sorted distinct sizes, those at
    positions 1, 4, 7, ... are held out, except the largest, so the hold-out
    points lie between fitted ones."""
    ordered = sorted(set(sizes))
    hold = [s for i, s in enumerate(ordered) if i % 3 == 1 and i < len(ordered) - 1]
    return [s for s in ordered if s not in hold], hold


def parameter_values(preset: str, params: dict[str, Any]) -> dict[str, Any]:
    """Every cost parameter's value: defaults < design preset < ``params`` (a
    number, or a distribution mapping where ``params`` gives one)."""
    from gosim.runtime.design import get_design
    from gosim.sim.costs import COST_PARAMETERS

    values = {n: float(p.default) for n, p in COST_PARAMETERS.items()}
    values.update({k: float(v) for k, v in get_design(preset).costs})
    values.update(params)
    return values


def rms(x: np.ndarray | list[float]) -> float | None:
    a = np.asarray(x, dtype=float)
    return float(np.sqrt(np.mean(a ** 2))) if a.size else None


@dataclass
class Calibration:
    profile: dict[str, Any]
    rows: list[dict[str, Any]]


def fit_profile(*, name: str, measured: list[dict[str, Any]], preset: str, go_version: str,
                measured_on: str, machine: dict[str, Any], gomaxprocs: int = 1,
                gc: bool = False) -> Calibration:
    """Fit the model to measured points (rows with ``size``, ``pointerful``,
    ``measured_ns``, ``num_gc``) on the fit set; evaluate both sets."""
    sizes = sorted({int(r["size"]) for r in measured})
    _, hold_sizes = split_sizes(sizes)
    cases = [Case(int(r["size"]), bool(r["pointerful"]), model_n(int(r["size"])), 0, 1)
             for r in measured]
    y = np.array([float(r["measured_ns"]) for r in measured])
    A, names = design_matrix(cases, preset, gomaxprocs, gc)
    in_fit = np.array([c.size not in hold_sizes for c in cases])
    defaults = parameter_values(preset, {})
    params, defaulted = fit(A[in_fit], y[in_fit], names, defaults)
    before = A @ np.array([defaults[n] for n in names])
    after = A @ np.array([parameter_values(preset, params)[n] for n in names])
    rows = []
    for c, r, b, a, f in zip(cases, measured, before, after, in_fit, strict=True):
        m = float(r["measured_ns"])
        rows.append({
            "size": c.size, "pointerful": c.pointerful, "set": "fit" if f else "holdout",
            "measured_ns": round(m, 3),
            "model_ns": round(float(a), 3),
            "rel_error": round(float((a - m) / m), 4),
            "default_model_ns": round(float(b), 3),
            "default_rel_error": round(float((b - m) / m), 4),
            "num_gc": r["num_gc"],
        })

    def set_rms(key: str, which: str | None = None) -> float | None:
        e = rms([r[key] for r in rows if which is None or r["set"] == which])
        return None if e is None else round(e, 4)

    def stored(which: str) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "set"} for r in rows if r["set"] == which]

    profile = {
        "name": name,
        "go_version": go_version,
        "design": preset,
        "measured": measured_on,
        "machine": machine,
        "gomaxprocs": gomaxprocs,
        "gc": gc,
        "method": ("fastest-loop ns/allocation over timed loops of dropped objects; model units "
                   "per allocation from the simulator's cost record (N vs 2N allocations); "
                   "non-negative least squares on relative error over the fit set with a 1e-3 "
                   "ridge towards the defaults"),
        "split": ("hold-out: the sorted sizes at positions 1, 4, 7, ... except the largest, "
                  "both pointer kinds; fit: the rest"),
        "holdout_sizes": hold_sizes,
        "parameters": {k: round(v, 4) for k, v in sorted(params.items())},
        "defaulted": defaulted,
        "fit": stored("fit"),
        "holdout": stored("holdout"),
        "fit_rms_rel_error": set_rms("rel_error", "fit"),
        "holdout_rms_rel_error": set_rms("rel_error", "holdout"),
        "default_rms_rel_error": set_rms("default_rel_error"),
        "default_fit_rms_rel_error": set_rms("default_rel_error", "fit"),
        "default_holdout_rms_rel_error": set_rms("default_rel_error", "holdout"),
    }
    return Calibration(profile=profile, rows=rows)


def calibrate(*, name: str, sizes: list[int] | tuple[int, ...] = DEFAULT_SIZES,
              go_version: str | None = None, gomaxprocs: int = 1, gc: bool = False,
              reps: int = 5, date: str | None = None, bytes_per_rep: int = 16 * MiB,
              tc: GoToolchain | None = None) -> Calibration:
    """Measure on the real runtime, fit, and return a profile document plus rows."""
    from gosim.realgo.run import machine_info, preset_for

    if gomaxprocs < 1:
        raise GosimError(f"--gomaxprocs: expected 1 or more, got {gomaxprocs}")
    tc = tc or find_go(go_version)
    cases = cases_for(sorted(set(sizes)), bytes_per_rep=bytes_per_rep, reps=reps)
    measured = measure(cases, tc=tc, gomaxprocs=gomaxprocs, gc=gc)
    return fit_profile(name=name, measured=measured, preset=preset_for(tc),
                       go_version=tc.version, measured_on=date or _dt.date.today().isoformat(),
                       machine=machine_info(), gomaxprocs=gomaxprocs, gc=gc)


def refit(doc: dict[str, Any], *, name: str | None = None) -> Calibration:
    """Fit again to the measurements stored in a profile document (no Go run):
    for a model that changed since the profile was measured."""
    return fit_profile(
        name=name or str(doc["name"]), preset=str(doc["design"]),
        measured=sorted([*doc["fit"], *(doc.get("holdout") or [])],
                        key=lambda r: (r["size"], r["pointerful"])),
        go_version=str(doc["go_version"]), measured_on=str(doc["measured"]),
        machine=dict(doc.get("machine") or {}), gomaxprocs=int(doc.get("gomaxprocs", 1)),
        gc=bool(doc.get("gc", False)))
