"""Running a workload on the real Go runtime and reading its numbers.

The program reports ``runtime.MemStats`` and every ``runtime/metrics``
sample at a *baseline* (after the program's own set-up) and after the
workload; :func:`real_metrics` turns the pair into metrics named as the
simulator names them. Counters are deltas (what the workload did), except
``mcache_inuse_bytes`` (one mcache per P, a level, not a flow) and, with the
GC on, ``heap_sys_bytes`` and ``heap_goal_bytes`` (levels at the end).

With the GC on the program neither drains nor fills anything; it builds the
scenario's live heap (goprog/liveheap.go), runs one forced cycle
(``runtime.GC()``, which marks the live heap and sets the goal to twice it)
and takes the baseline. The model builds its live heap before time 0 and its
first cycle, at once, marks it. So, with the GC on:

- ``num_gc``: MemStats.NumGC from the baseline to the end, plus the forced
  cycle when there is a live heap (the model's first cycle); without one the
  forced cycle only frees the program's start-up garbage, which the model does
  not have, and the model's first cycle comes when the workload reaches the
  4 MiB minimum goal;
- ``heap_goal_bytes``: MemStats.NextGC at the end (``/gc/heap/goal:bytes``),
  the goal the last cycle set;
- ``heap_sys_bytes``: the heap memory the runtime holds at the end
  (HeapSys - HeapReleased: pages in use or free but not returned to the OS)
  less the start-up heap's objects (HeapInuse just before the live heap was
  built). The model's heap starts empty and maps 4 MiB chunks as it needs
  them, every page of them counted in heap_sys until the scavenger releases
  it. The real program starts with a heap of one or two chunks whose free
  pages depend on the random heap base (Go 1.26+, mheap.go
  randomizeHeapBase), and counts the pages it never touched as released
  (fresh pages are mapped scavenged: mpagealloc.go grow). HeapSys's growth
  during the run is therefore 0 or 4 MiB at random for a small heap
  (measured: a 32 KiB workload with a 4 MiB goal grew it by 0 in 1 of 4
  runs), while the memory held is stable (3.6-3.8 MiB in each of 8 runs).

Before the baseline (GC off) the program brings the runtime to the model's
starting state (``prepare`` in goprog/prepare.go): a forced GC, then for each span
class the workload uses, allocations until a fresh span is cached and that
span is full (no partially used span is left to absorb workload objects);
one-page spans until this P's mspan-struct cache is empty; and every usable
free page allocated, so the workload's first new span needs a heap growth,
as in a model that starts from an empty heap.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gosim.realgo.pacer import PACER_GODEBUG
from gosim.realgo.pacer import over_runs as pacer_over_runs
from gosim.realgo.pacer import parse as pacer_parse
from gosim.realgo.probe import run_probe
from gosim.realgo.toolchain import GoToolchain, find_go
from gosim.realgo.workload import GoWorkload, to_spec
from gosim.runtime.sizeclasses import get_table

PAGE = 8192
#: with the GC on: the collector's figures, taken as the median over runs
GC_FIGURES = ("num_gc", "heap_goal_bytes", "heap_sys_bytes")


@dataclass
class RealRun:
    """One measured run of a workload on the real runtime."""

    go_version: str
    gomaxprocs: int
    metrics: dict[str, Any]
    #: one row per size class (0 = large objects): size_class, size_bytes, mallocs
    by_size: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"go_version": self.go_version, "gomaxprocs": self.gomaxprocs,
                "metrics": self.metrics, "by_size": self.by_size, "raw": self.raw}


def _hist(m: dict[str, Any], name: str) -> list[int]:
    h = m.get(name)
    return list(h["counts"]) if h else []


def allocs_by_class(metrics_before: dict[str, Any], metrics_after: dict[str, Any]) -> list[int]:
    """Per size class allocations from ``/gc/heap/allocs-by-size:bytes``.

    Bucket ``i`` holds class ``i+1`` (its upper bound is the class size + 1);
    the last bucket holds large objects; returned index 0 = large objects.
    Tiny blocks count in class 2 (16 B), tiny objects packed into them do not.
    """
    b = _hist(metrics_before, "/gc/heap/allocs-by-size:bytes")
    a = _hist(metrics_after, "/gc/heap/allocs-by-size:bytes")
    d = [y - x for x, y in zip(b, a, strict=True)]
    return [d[-1], *d[:-1]]


def real_metrics(out: dict[str, Any], preset_sizeclasses: str = "go1.27") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metrics (simulator names) and per-class rows from one probe output."""
    b, a = out["baseline"], out["after"]
    bm, am = b["memstats"], a["memstats"]
    bx, ax = b["metrics"], a["metrics"]

    def d(k: str) -> int:
        return int(am[k]) - int(bm[k])

    def dm(k: str) -> int:
        return int(ax[k]) - int(bx[k])

    per_class = allocs_by_class(bx, ax)
    table = get_table(preset_sizeclasses)
    small_bytes = sum(per_class[c] * table.class_to_size(c) for c in range(1, len(per_class)))
    large_bytes = dm("/gc/heap/allocs:bytes") - small_bytes
    gc_on = out.get("gogc", "off") != "off"
    gs = out.get("goroutines", [])
    nallocs = sum(int(g["n"]) for g in gs)
    busy = sum(int(g["end_ns"]) - int(g["start_ns"]) for g in gs)
    elapsed = (max(int(g["end_ns"]) for g in gs) - min(int(g["start_ns"]) for g in gs)) if gs else 0
    m: dict[str, Any] = {
        "mallocs": d("Mallocs"),
        "frees": d("Frees"),
        "tiny_allocs": dm("/gc/heap/tiny/allocs:objects"),
        "heap_alloc_bytes": d("HeapAlloc"),
        "total_alloc_bytes": d("TotalAlloc"),
        "heap_inuse_bytes": d("HeapInuse"),
        "heap_sys_bytes": (int(am["HeapSys"]) - int(am["HeapReleased"])
                           - int(out["start_heap_inuse"]) if gc_on else d("HeapSys")),
        "heap_idle_bytes": d("HeapIdle"),
        "heap_released_bytes": d("HeapReleased"),
        "heap_objects": d("HeapObjects"),
        "mspan_inuse_bytes": d("MSpanInuse"),
        "mcache_inuse_bytes": int(am["MCacheInuse"]),
        "stack_inuse_bytes": d("StackInuse"),
        "large_allocs": per_class[0],
        "large_pages": large_bytes // PAGE,
        "num_gc": d("NumGC") + (1 if gc_on and int(out.get("live_objects", 0)) else 0),
        "heap_goal_bytes": int(am["NextGC"]),
        "gc_pause_total_ns": d("PauseTotalNs"),
        "heap_sys_after_bytes": int(am["HeapSys"]),
        "allocations": nallocs,
        "wall_ns": int(out.get("wall_ns", 0)),
        # mean time a goroutine spends per allocation (loop time / allocations)
        "ns_per_alloc": busy / nallocs if nallocs else 0.0,
        # as the simulator defines it: elapsed time x GOMAXPROCS / allocations
        "sim_ns_per_alloc": (elapsed * int(out.get("gomaxprocs", 1)) / nallocs
                             if nallocs else 0.0),
        "harness_mallocs": int(out.get("harness_mallocs", 0)),
        "live_objects": int(out.get("live_objects", 0)),
    }
    # the P each goroutine ran on (pinned), and the P whose caches prepare drained
    m["goroutine_ps"] = [int(g["p"]) for g in gs]
    prep = out.get("prepare") or {}
    if "p" in prep:
        m["harness_p"] = int(prep["p"])
    for k in ("unusable_idle_bytes", "fill_residual_bytes", "fill_growths", "mspancache_refill"):
        if k in prep:
            m[f"prepare_{k}"] = prep[k]
    rows = [{"size_class": c, "size_bytes": table.class_to_size(c) if c else 0,
             "mallocs": per_class[c]} for c in range(len(per_class))]
    return m, rows


def run_workload(w: GoWorkload, *, tc: GoToolchain | None = None, repeat: int = 1,
                 workdir: Path | None = None) -> RealRun:
    """Run ``w`` on the real runtime ``repeat`` times.

    Structural metrics come from the first run (they are identical across
    runs; the tests check that); ``ns_per_alloc`` is the median over runs and
    ``ns_per_alloc_runs`` lists them all. With the GC on, so are the
    collector's figures (:data:`GC_FIGURES`; the lower median, a value one run
    measured): the pacer measures time, and a process descheduled by other
    jobs while it marks allocates more black and sets a higher goal (3 of 8
    runs at 48 B with 64 MiB live on a 2-core machine with two other busy
    processes: 247-255 MB against 205-212 MB), which also spaces the later
    cycles further apart. Not the fastest run: fewer cycles make a run
    faster, so the fastest is biased towards fewer.
    """
    tc = tc or find_go()
    own = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="gosim-realgo-")) if own else workdir
    assert wd is not None
    spec = to_spec(w, wd)
    # with the GC on, every run prints the pacer's line per cycle (pacer.py)
    godebug = PACER_GODEBUG if w.gc else ""
    outs = [run_probe(spec, tc=tc, gomaxprocs=w.gomaxprocs, gc=w.gogc,
                      memory_limit=w.memory_limit, workdir=wd, godebug=godebug)
            for _ in range(max(1, repeat))]
    preset = "go1.27"  # both measured releases share today's size-class table
    m, rows = real_metrics(outs[0], preset)
    per_run = [real_metrics(o, preset)[0] for o in outs]
    for key in ("ns_per_alloc", "sim_ns_per_alloc"):
        runs = [r[key] for r in per_run]
        m[key] = statistics.median(runs)
        m[f"{key}_runs"] = runs
    if w.gc:
        for key in GC_FIGURES:
            runs = [r[key] for r in per_run]
            m[key] = statistics.median_low(runs)
            m[f"{key}_runs"] = runs
        # the pacer's medians of each run's cycles, and over the runs the lower
        # median of those (the mark end: the smallest; pacer.RUN_STAT): a run
        # slowed by other load (its mark phases overshoot the goal) cannot move
        # it, as it could move a median over every run's cycles pooled (stop 30:
        # 3 of 7 loaded 32 KiB live-heap runs took that to 1.07 of the goal,
        # 1.00 quiet)
        pacer = pacer_over_runs([pacer_parse(o.get("stderr_lines", [])) for o in outs])
        if pacer is not None:
            m.update(pacer)
    if own:
        import shutil

        shutil.rmtree(wd, ignore_errors=True)
    return RealRun(go_version=outs[0]["go_version"], gomaxprocs=int(outs[0]["gomaxprocs"]),
                   metrics=m, by_size=rows, raw=outs[0])


def measure_nelems(cases: list[tuple[int, bool]], *, tc: GoToolchain | None = None,
                   spans: int = 3) -> list[dict[str, Any]]:
    """Objects per span and span bytes, counted in the real runtime.

    For each (request size, pointerful) the program allocates one object at
    a time and reads the heap's in-use bytes (runtime/metrics, which does not
    flush the mcache) after each: the in-use bytes step when a new span is
    taken from the heap, so the count between two steps is the span's object
    count and the step is its size. Returns rows with ``nelems`` (from steps
    1->2, checked against 2->3) and ``span_bytes``.
    """
    spec = {"mode": "nelems", "spans": spans,
            "cases": [{"size": s, "pointerful": p, "spans": spans} for s, p in cases]}
    out = run_probe(spec, tc=tc)
    rows = []
    for c in out["cases"]:
        at, by = c["step_at"], c["step_bytes"]
        gaps = [y - x for x, y in zip(at, at[1:], strict=False)]
        rows.append({
            "size": c["size"], "pointerful": c["pointerful"],
            "nelems": gaps[0] if gaps else None,
            "consistent": len(set(gaps)) == 1 and len(gaps) == spans - 1,
            "span_bytes": by[-1] if by else None,
            "gaps": gaps,
        })
    return rows
