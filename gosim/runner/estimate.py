"""What a rerun would do: which runs are cached, and a rough time for the rest.

Method (``gosim run --dry-run`` prints it): a run's *work* is its simulated
allocation count (goroutines x allocations) when every workload group has an
``allocations`` count, else its simulated time x GOMAXPROCS (a timed run). The
wall-clock seconds per unit of work, the *rate*, come from

1. the runs already in this experiment's run cache made by the current model
   (each entry stores its scenario and wall time); otherwise
2. a measurement in this process: pending runs shrunk to about
   ``PROBE_ALLOCATIONS`` allocations (or 1/100 of their simulated time), and
   to twice that, are simulated and timed, the dearest first, then always the
   run least like those probed, until each distinct kind of run is probed or
   ``PROBE_BUDGET_S`` is spent. The difference of the two timings over the
   difference of their work is the rate; what the smaller one took beyond its
   work at that rate is the run's fixed cost (setting up goroutines and their
   random streams, the end-of-run statistics), which a probe this small would
   otherwise multiply by the shrink factor (configs/scaling.yaml's estimate was
   three times its real time before the fixed cost was separated). An
   untimed run first loads what every simulation uses (modules, size-class
   tables), which the first probe in a process would otherwise carry.

Each pending run takes the rate (and fixed cost) of the most similar sample:
the same kind of work, then the same design preset, then the nearest object
size and GOMAXPROCS by factors of two, a factor in size counting three times
one in GOMAXPROCS (per allocation, 64 KiB costs tens of times 1 KiB in
every design, while 64 Ps cost a few times one P, except where a lock
saturates); the per-allocation cost differs a hundredfold between a 48 B
allocation at one P and a contended 64-P global lock.

The estimate is the sum of fixed cost + work x rate over the pending runs,
divided over the jobs (never less than the longest single run). It ignores
worker start-up and writing tables; per-allocation cost varies with object
size and contention, so it is rough.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gosim.config import Experiment, RunSpec
from gosim.runner.cache import RunCache, model_fingerprint
from gosim.scenario import Scenario

#: allocations a shrunken probe run makes
PROBE_ALLOCATIONS = 5_000
#: wall seconds spent probing at most (the last probe may overrun it)
PROBE_BUDGET_S = 3.0
#: a timed probe run simulates this fraction of the run's time
PROBE_TIME_FRACTION = 0.01
#: how much farther apart two runs are for a factor of 2 in object size than
#: for one in GOMAXPROCS (``_distance``)
SIZE_WEIGHT = 3.0
#: allocations of the untimed run that loads what every simulation uses first
#: (modules, size-class tables), so that the first probe does not pay for it
WARMUP_ALLOCATIONS = 200


def work(sc: Scenario) -> tuple[str, float]:
    """(kind, amount): ``("allocs", N)`` or ``("P-ns", duration x GOMAXPROCS)``."""
    if all(g.allocations is not None for g in sc.workload.groups):
        return "allocs", float(sum(g.count * (g.allocations or 0) for g in sc.workload.groups))
    return "P-ns", float(sc.duration_ns or 0) * sc.gomaxprocs


@dataclass
class Plan:
    """A sweep's runs split into cached and pending, with a time estimate."""

    n_runs: int
    n_cached: int
    #: distinct scenarios still to run (a scenario repeated in a sweep runs once)
    pending: list[RunSpec]
    #: estimated wall seconds for the pending runs with ``jobs`` workers
    estimate_s: float
    #: where the rates came from, one line
    method: str


def plan(exp: Experiment, results_dir: Path, jobs: int,
         probe_budget_s: float = PROBE_BUDGET_S) -> Plan:
    """Split ``exp``'s runs by the run cache in ``results_dir`` and estimate the rest."""
    cache = RunCache(results_dir, model_fingerprint())
    specs = exp.runs
    cached: set[str] = set()
    pending: dict[str, RunSpec] = {}
    for s in specs:
        if s.config_hash in cached or s.config_hash in pending:
            continue
        if cache.get(s.config_hash) is not None:
            cached.add(s.config_hash)
        else:
            pending[s.config_hash] = s
    n_cached = sum(1 for s in specs if s.config_hash in cached)
    todo = list(pending.values())
    if not todo:
        return Plan(len(specs), n_cached, [], 0.0, "nothing to run")
    samples = _cached_samples(cache)
    method = f"rates of the nearest of {len(samples)} cached runs of the current model"
    if not samples and probe_budget_s > 0:
        samples = _measured_samples(todo, probe_budget_s)
        method = (f"rates of the nearest of {len(samples)} pending runs, shrunk to about "
                  f"{PROBE_ALLOCATIONS:,} allocations (or 1/100 of their time) and timed now")
    if not samples:
        return Plan(len(specs), n_cached, todo, float("nan"), "no rate available")
    per_run = []
    for s in todo:
        _, rate, fixed = _nearest(samples, features(s.scenario))
        per_run.append(fixed + rate * work(s.scenario)[1])
    estimate = max(sum(per_run) / max(1, jobs), max(per_run))
    return Plan(len(specs), n_cached, todo, estimate, method)


#: a run's features for matching it with measured runs: (work kind, design
#: preset, log2 GOMAXPROCS, log2 typical object size)
Features = tuple[str, str, float, float]
#: (features, wall seconds per unit of work, fixed wall seconds per run)
Sample = tuple[Features, float, float]


def features(sc: Scenario) -> Features:
    sizes = []
    for g in sc.workload.groups:
        d = g.size
        v = d.value if d.value is not None else d.mean if d.mean is not None else (
            (d.low + d.high) / 2 if d.low is not None and d.high is not None else None)
        sizes.append(float(v) if v else 1024.0)
    size = max(1.0, sum(sizes) / len(sizes))
    return work(sc)[0], sc.design.preset, math.log2(sc.gomaxprocs), math.log2(size)


def _distance(a: Features, b: Features) -> float:
    """Another kind of work is farthest, then another design; a factor of 2 in
    object size counts three times one in GOMAXPROCS: the cost of an
    allocation grows tens of times from 48 B to 64 KiB (span refills, then a
    span each), and a few times from 1 to 64 Ps (configs/scaling.yaml's run
    times)."""
    return (100.0 * (a[0] != b[0]) + 10.0 * (a[1] != b[1]) + abs(a[2] - b[2])
            + SIZE_WEIGHT * abs(a[3] - b[3]))


def _nearest(samples: list[Sample], f: Features) -> Sample:
    return min(samples, key=lambda s: _distance(s[0], f))


def _cached_samples(cache: RunCache) -> list[Sample]:
    samples: list[Sample] = []
    for f in sorted(cache.dir.glob("*.json")) if cache.dir.is_dir() else []:
        try:
            entry: dict[str, Any] = json.loads(f.read_text())
            if entry.get("model_fingerprint") != cache.fingerprint:
                continue
            sc = Scenario.model_validate(entry["scenario"])
            wall = float(entry["wall_s"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a foreign or damaged file: not a sample
        amount = work(sc)[1]
        if amount > 0 and wall > 0:
            samples.append((features(sc), wall / amount, 0.0))
    return samples


def _shrunk(sc: Scenario, scale: float = 1) -> Scenario:
    """``sc`` shrunk to about ``scale`` x PROBE_ALLOCATIONS allocations (or
    ``scale``/100 of its simulated time), never beyond the run itself."""
    d = sc.model_dump(mode="json")
    kind, amount = work(sc)
    if kind == "allocs":
        f = min(1.0, scale * PROBE_ALLOCATIONS / amount) if amount else 1.0
        for g in d["workload"]["groups"]:
            g["allocations"] = max(1, int(g["allocations"] * f))
    else:
        d["duration_ns"] = int(max(10_000 * scale,
                                   sc.duration_ns * min(1.0, scale * PROBE_TIME_FRACTION)))
        warm = d.get("warmup") or {}
        if warm.get("duration_ns"):
            warm["duration_ns"] = min(warm["duration_ns"], d["duration_ns"] // 2)
    return Scenario.model_validate(d)


def _warmup(sc: Scenario) -> Scenario:
    """``sc`` shrunk to about ``WARMUP_ALLOCATIONS`` allocations (a timed run
    to the same fraction of a probe's time) without its live heap: a run that
    loads what simulations use."""
    small = _shrunk(sc, WARMUP_ALLOCATIONS / PROBE_ALLOCATIONS)
    d = small.model_dump(mode="json")
    d["workload"].pop("live_heap", None)
    return Scenario.model_validate(d)


def _measured_samples(todo: list[RunSpec], budget_s: float) -> list[Sample]:
    """Probe shrunken copies of pending runs, farthest from those probed first,
    until every distinct kind of run is probed or ``budget_s`` is spent."""
    from gosim.sim import simulate

    distinct = list({features(s.scenario): s for s in todo}.items())
    distinct.sort(key=lambda fs: -work(fs[1].scenario)[1])  # the dearest first
    samples: list[Sample] = []
    spent = 0.0
    try:  # untimed: what the first simulation in a process loads
        simulate(_warmup(distinct[0][1].scenario))
    except Exception:  # the probe of that run reports nothing either
        pass
    while distinct and spent < budget_s:
        if samples:
            distinct.sort(key=lambda fs: -min(_distance(fs[0], x[0]) for x in samples))
        f, spec = distinct.pop(0)
        t0 = time.perf_counter()
        try:
            timed = []
            for scale in (1, 2):
                small = _shrunk(spec.scenario, scale)
                t = time.perf_counter()
                simulate(small)
                timed.append((work(small)[1], time.perf_counter() - t))
        except Exception:  # a run that fails fails again for real; no sample
            continue
        finally:
            spent += time.perf_counter() - t0
        (a1, w1), (a2, w2) = timed
        if a2 > a1 and w2 > w1:
            rate = (w2 - w1) / (a2 - a1)
            samples.append((f, rate, max(0.0, w1 - rate * a1)))
        elif a2 > 0:  # the run is no bigger than a probe, or the timings are noise
            samples.append((f, w2 / a2, 0.0))
    return samples
