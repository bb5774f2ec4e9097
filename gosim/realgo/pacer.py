"""The pacer, cycle by cycle: the real runtime's ``GODEBUG=gcpacertrace=1``
against the model's ``gc_cycles``.

At the end of every cycle the runtime prints (mgcpacer.go endCycle)::

    pacer: 32% CPU (25 exp.) for 57008+2848+175178 B work (235034 B exp.)
        in 3183976 B -> 4060520 B (∆goal -133784, cons/mark 1.44)

the utilization its cons/mark estimate uses (25% for the background workers,
assumed met, plus the assists' share of the mark phase), the scan work done
(heap + stacks + globals) and expected, heapLive when the cycle was triggered
and at mark termination, how far that was from the cycle's goal, and the
cons/mark it measured. :func:`parse` reads those lines, :func:`summarize`
turns a run's cycles into medians, and :func:`model_summary` computes the same
from the model's ``gc_cycles`` rows (gosim/sim/result.py), so that
``gosim realgo --gc`` compares where each cycle starts and ends relative to
its goal, which fixes how many cycles a workload runs, and not only the count.

The first cycle of a run is left out on both sides: it is triggered by the
initial trigger from a heap that no cycle has marked yet (the real program's
baseline leaves it almost empty; the model's starts empty). The harness's
forced collection before the baseline prints no such line.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from typing import Any, Final

#: mgcpacer.go gcBackgroundUtilization: what endCycle assumes the workers met
from gosim.runtime.mgcpacer import GC_BACKGROUND_UTILIZATION

#: what the probe's process runs with to print the lines :func:`parse` reads
PACER_GODEBUG: Final = "gcpacertrace=1"

_PACER = re.compile(
    r"^pacer: (\d+)% CPU \((\d+) exp\.\) for (\d+)\+(\d+)\+(\d+) B work \((\d+) B exp\.\) "
    r"in (\d+) B -> (\d+) B \(∆goal (-?\d+), cons/mark ([-+\d.e]+|NaN|[+-]?Inf)\)")

#: the medians compared, in display order (gosim/realgo/compare.py)
PACER_METRICS: Final = ("gc_trigger_goal_ratio", "gc_mark_end_goal_ratio",
                        "gc_marking_bytes", "gc_pacer_utilization")


def parse(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The endCycle lines among ``lines`` (others are skipped), in order: heapLive
    at the trigger and at mark termination, the cycle's goal, the utilization
    (a fraction; the runtime prints a whole percentage), the scan work done and
    expected, and cons/mark."""
    out: list[dict[str, Any]] = []
    for line in lines:
        m = _PACER.match(line)
        if not m:
            continue
        util, _exp, heap_w, stack_w, glob_w, expected, trig, end, dgoal, cons = m.groups()
        out.append({"utilization": int(util) / 100, "heap_work": int(heap_w),
                    "stack_work": int(stack_w), "globals_work": int(glob_w),
                    "expected_work": int(expected), "triggered": int(trig),
                    "heap_live_end": int(end), "goal": int(end) - int(dgoal),
                    "cons_mark": float(cons)})
    return out


def built_cons_mark(lines: Iterable[str]) -> float | None:
    """The cons/mark a program's pacer holds when it first forces a collection
    (``runtime.GC()``, a ``gc N ... (forced)`` line) after cycles of its own:
    what the cycles that built its heap left. endCycle prints consMark, the
    largest of the cycle's own value and the last four, and a forced cycle
    during which the heap did not grow changes nothing (endCycle returns when
    heapLive <= triggered), so the last value printed before that line is the
    history the program starts from. None without a pacer line before a
    forced cycle (a process that forced one only at its start)."""
    last: float | None = None
    for line in lines:
        m = _PACER.match(line)
        if m:
            last = float(m[10])
        elif line.startswith("gc ") and "(forced" in line and last is not None:
            return last
    return None


def heap_scan_work(lines: Iterable[str]) -> float | None:
    """The pointerful heap a program's collector scans per cycle when its
    workload keeps nothing pointerful: the median of endCycle's heapScanWork
    (the first of its ``A+B+C B work``) over the second half of the cycles
    (the first ones still see the start-up's objects). With pointer-free
    garbage that is the runtime's and the program's own objects, the p
    structs and goroutine descriptors among them: what a model counts as the
    runtime heap (``runtime_heap_bytes`` + ``runtime_heap_per_p_bytes`` x
    GOMAXPROCS). None without a pacer line."""
    work = [c["heap_work"] for c in parse(lines)]
    if not work:
        return None
    return float(statistics.median(work[len(work) // 2:]))


def _medians(trig: list[float], end: list[float], goal: list[float],
             util: list[float]) -> dict[str, float]:
    return {
        "gc_trigger_goal_ratio": statistics.median(t / g for t, g in zip(trig, goal, strict=True)),
        "gc_mark_end_goal_ratio": statistics.median(e / g for e, g in zip(end, goal, strict=True)),
        "gc_marking_bytes": statistics.median(e - t for e, t in zip(end, trig, strict=True)),
        "gc_pacer_utilization": statistics.median(util),
    }


def cycle_medians(cycles: list[dict[str, Any]]) -> dict[str, float] | None:
    """Medians over parsed cycles (:func:`parse`, those with a goal): the
    :data:`PACER_METRICS` and ``cons_mark``. None without such a cycle."""
    cycles = [c for c in cycles if c["goal"] > 0]
    if not cycles:
        return None
    out = _medians([c["triggered"] for c in cycles], [c["heap_live_end"] for c in cycles],
                   [c["goal"] for c in cycles], [c["utilization"] for c in cycles])
    out["cons_mark"] = statistics.median(c["cons_mark"] for c in cycles)
    return out


def summarize(runs: list[list[dict[str, Any]]]) -> dict[str, float] | None:
    """Medians over the cycles of every run (each run's first left out): heapLive
    at the trigger and at mark termination over the goal, the bytes allocated
    while marking, the pacer's utilization. None without a cycle to count."""
    m = cycle_medians([c for run in runs for c in run[1:]])
    return None if m is None else {k: m[k] for k in PACER_METRICS}


#: how :func:`over_runs` summarises each figure's per-run medians, where not by
#: the lower median (a value one run measured, which a minority of runs slowed
#: by other load cannot move): where the mark phase ends over its goal, by the
#: smallest. Other load only pushes that up: the fractional mark worker's share
#: is wall time (mgc.go pollFractionalWorkerExit), so time its thread spends
#: descheduled counts as marking done and the mutator allocates on past the
#: goal. Quiet, every run of tests/test_realgo_gc.py's workloads ends at
#: 0.997-1.000 of the goal; with the test suite beside it on two cores, 4 of 7
#: runs at 48 B with 64 MiB live ended at 1.05-1.10 (stop 31), which a median
#: follows.
RUN_STAT: Final[dict[str, Any]] = {"gc_mark_end_goal_ratio": min}


def over_runs(runs: list[list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The :data:`PACER_METRICS` over several runs of one workload: each run's
    medians (:func:`summarize` of that run alone), then over the runs the
    lower median, or :data:`RUN_STAT`'s statistic; ``<metric>_runs`` lists
    each run's (None for a run without a cycle to count). None when no run has
    one (then :func:`summarize` of them all is None too)."""
    pooled = summarize(runs)
    if pooled is None:
        return None
    per_run = [summarize([r]) or {} for r in runs]
    out: dict[str, Any] = {}
    for key in pooled:
        vals = [r[key] for r in per_run if r.get(key) is not None]
        out[key] = RUN_STAT.get(key, statistics.median_low)(vals) if vals else pooled[key]
        out[f"{key}_runs"] = [r.get(key) for r in per_run]
    return out


def model_summary(gc_cycles: list[dict[str, Any]], gomaxprocs: int, *,
                  skip_first: bool = True) -> dict[str, float] | None:
    """The same medians from the model's cycles (its first left out unless
    ``skip_first`` is False: cycles already chosen, e.g. a window's). The
    utilization is what endCycle computes, 25% plus the assists' share of the
    mark phase: what the model's pacer uses since stop 37, reckoned here from
    the rows without the pacer's 0.99 cap, so a figure above 1 shows where the
    model's assists take more than Go's formula can hold (docs/decisions.md,
    "The pacer's utilization")."""
    rows = [r for r in gc_cycles[1 if skip_first else 0:] if r.get("heap_goal_bytes")]
    if not rows:
        return None
    util = []
    for r in rows:
        wall = r["mark_end_ns"] - r["mark_start_ns"]
        share = r["assist_ns"] / (wall * gomaxprocs) if wall > 0 else 0.0
        util.append(GC_BACKGROUND_UTILIZATION + share)
    return _medians([r["heap_live_at_trigger_bytes"] for r in rows],
                    [r["heap_live_at_mark_end_bytes"] for r in rows],
                    [r["heap_goal_bytes"] for r in rows], util)


__all__ = ["PACER_GODEBUG", "PACER_METRICS", "RUN_STAT", "cycle_medians", "model_summary",
           "over_runs", "parse", "summarize"]
