"""Side by side: the real runtime against the model, metric by metric.

Each compared metric gets a *check*, decided from what is deterministic in
the real runtime for that run:

- ``exact``: a structural count the model must reproduce exactly;
- ``bound``: the real runtime itself varies from run to run, and the model
  must lie within a stated range of it (``real - model`` in
  ``[-below, +above]``);
- ``rel``: within a stated fraction of the real value
  (``|model - real| <= tolerance x real``): the collector's figures with the
  GC on, which the real runtime's pacing makes vary from run to run;
- ``approx``: reported only (timings; with the GC off, GC counts; with it on,
  everything but the collector's figures).

With the GC on (``gosim realgo --gc``) nothing structural is exact: the
collector frees, sweeps and reuses memory on its own schedule. The model has
a collector (docs/decisions.md, "The collector"), and three figures are
checked against the real runtime's (how they are read: gosim/realgo/measure.py):

- ``num_gc`` within 10%: cycles follow from the pacer's goal (GOGC over the
  heap marked live, with the 4 MiB minimum: mgcpacer.go) and how much the
  workload allocates, not from timing; but each cycle's trigger sits
  between the marked heap and the goal where the pacer's runway puts it,
  so a count of tens of cycles can differ by a few;
- ``heap_goal_bytes`` within 10%: the goal the last cycle set, GOGC/100 over
  the heap marked (the live heap plus what was allocated black while the
  cycle marked, which depends on how fast marking ran against the mutator);
- ``heap_sys_bytes`` within 20%: the heap grows to hold about the goal's
  worth of objects, plus spans freed by the sweeper but not yet reused and
  the partly used spans of the classes in use, which depend on when each
  span was swept; it grows in 4 MiB chunks (mpagealloc.go pallocChunkBytes).

Why bounds. The Go program empties the caches of the P it prepares on
(``goprog/prepare.go``), but other Ps may still hold what the forced GC's
sweep left them: up to 128 mspan structs each (runtime2.go
``p.mspancache.buf``) and a page cache of up to 64 pages (mpagecache.go).
A workload goroutine pinned to such a P (``goprog/workload.go``) uses them
before it refills, where the model (every cache empty at the start) refills:

- ``mspan_inuse_bytes``: each refill takes 64 structs of 160 B
  (mheap.go ``allocMSpanLocked``); 128 leftover structs save at most two
  refills, so real >= model - 2 x 64 x 160 B = model - 20,480 B per other P
  used, and real <= model;
- ``heap_sys_bytes``: 64 leftover pages per other P can save heap growths of
  4 MiB (``pallocChunkBytes``): real >= model - ceil(64 n / 512) x 4 MiB for
  n other Ps used, and real <= model.

Which goroutines share a P matters for every per-P structure (tiny blocks,
partially filled spans). The Go program reports the P each goroutine ran
on; when that grouping differs from the model's (goroutine ``k`` on P ``k
mod GOMAXPROCS``), or when the simulated run outlasted a time slice (the
simulator may then have preempted a goroutine and resumed it elsewhere or
after another; the real goroutines run pinned), only the P-independent counts stay exact (mallocs,
large objects, per-class counts of every class but the tiny allocator's
16 B blocks).

Relative error = (model - real) / real; ``None`` when the real value is 0 and
the model's is not (printed as "n/a").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

MiB = 1 << 20
#: runtime2.go p.mspancache.buf: mspan structs a P may hold
MSPAN_CACHE_SLOTS = 128
#: mheap.go allocMSpanLocked: structs per refill (len(buf) / 2)
MSPAN_REFILL = MSPAN_CACHE_SLOTS // 2
#: sizeof(mspan) on linux/amd64, Go 1.25 and 1.27 (docs/realgo.md)
MSPAN_BYTES = 160
#: mpagecache.go: pages in a P's page cache
PAGE_CACHE_PAGES = 64
#: mpagealloc.go pallocChunkPages: the heap grows by 512-page (4 MiB) chunks
CHUNK_PAGES = 512

#: metrics in display order, with the check they get when nothing else applies
COMPARED: tuple[tuple[str, bool], ...] = (
    ("mallocs", True),
    ("tiny_allocs", True),
    ("heap_alloc_bytes", True),
    ("heap_inuse_bytes", True),
    ("heap_sys_bytes", True),
    ("mspan_inuse_bytes", True),
    ("mcache_inuse_bytes", True),
    ("large_allocs", True),
    ("large_pages", True),
    ("num_gc", False),
    ("heap_goal_bytes", False),
    # the pacer, per cycle (medians: gosim/realgo/pacer.py)
    ("gc_trigger_goal_ratio", False),
    ("gc_mark_end_goal_ratio", False),
    ("gc_marking_bytes", False),
    ("gc_pacer_utilization", False),
    ("sim_ns_per_alloc", False),
)
#: metrics compared only with the GC on (the goal is meaningless without a collector)
GC_ONLY = ("heap_goal_bytes", "gc_trigger_goal_ratio", "gc_mark_end_goal_ratio",
           "gc_marking_bytes", "gc_pacer_utilization")
#: with the GC on: the collector's figures and their relative tolerances. Where
#: a cycle is triggered and where its mark phase ends, relative to its goal,
#: and the bytes allocated in between set how many cycles a workload runs; the
#: pacer's utilization (what its cons/mark uses) is shown, not checked
GC_TOLERANCES = {"num_gc": 0.10, "heap_goal_bytes": 0.10, "heap_sys_bytes": 0.20,
                 "gc_trigger_goal_ratio": 0.05, "gc_mark_end_goal_ratio": 0.05,
                 "gc_marking_bytes": 0.20}
#: exact whatever goroutines share a P (the tiny allocator's class aside)
P_INDEPENDENT = ("mallocs", "mcache_inuse_bytes", "large_allocs", "large_pages")
#: the tiny allocator's blocks are counted in this size class (16 B)
TINY_CLASS = 2


@dataclass(frozen=True)
class Check:
    kind: Literal["exact", "bound", "rel", "approx"]
    #: for ``bound``: model - below <= real <= model + above
    below: float = 0
    above: float = 0
    #: for ``rel``: |model - real| <= tolerance x |real|
    tolerance: float = 0

    def holds(self, real: float, model: float) -> bool:
        if self.kind == "exact":
            return real == model
        if self.kind == "rel":
            return abs(model - real) <= self.tolerance * abs(real)
        return model - self.below <= real <= model + self.above

    def label(self) -> str:
        if self.kind == "rel":
            return f"within {self.tolerance:.0%}"
        if self.kind != "bound":
            return self.kind
        if self.above == 0:
            return f"within -{self.below:,.0f}"
        return f"within -{self.below:,.0f}/+{self.above:,.0f}"


EXACT = Check("exact")
APPROX = Check("approx")


@dataclass
class Row:
    metric: str
    real: float | None
    model: float | None
    check: Check

    @property
    def exact(self) -> bool:
        return self.check.kind == "exact"

    @property
    def gated(self) -> bool:
        """Must the model agree (exactly or within its bound)?"""
        return self.check.kind != "approx"

    @property
    def rel_error(self) -> float | None:
        if self.real is None or self.model is None:
            return None
        if self.real == 0:
            return 0.0 if self.model == 0 else None
        return (self.model - self.real) / abs(self.real)

    @property
    def agrees(self) -> bool:
        """Real and model agree as the check demands (approx rows: equal)."""
        if self.real is None or self.model is None:
            return False
        if self.check.kind == "approx":
            return self.real == self.model
        return self.check.holds(self.real, self.model)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "real": self.real, "model": self.model,
                "rel_error": self.rel_error, "check": self.check.kind,
                "bound_below": self.check.below, "bound_above": self.check.above,
                "tolerance": self.check.tolerance,
                "exact": self.exact, "agrees": self.agrees}


@dataclass(frozen=True)
class Placement:
    """Where the real goroutines ran, against the model's placement."""

    gomaxprocs: int
    #: the P each goroutine ran on (pinned for its whole run)
    goroutine_ps: tuple[int, ...]
    #: the P whose caches the program emptied before the baseline (None: not prepared)
    harness_p: int | None
    #: the simulator may have preempted a goroutine (its run outlasted one time
    #: slice) and resumed it on another P or after another goroutine
    model_preempted: bool = False

    @property
    def same_grouping(self) -> bool:
        """Do the same goroutines share a P as in the model (k mod GOMAXPROCS)?"""
        real: dict[int, set[int]] = {}
        model: dict[int, set[int]] = {}
        for k, p in enumerate(self.goroutine_ps):
            real.setdefault(p, set()).add(k)
            model.setdefault(k % self.gomaxprocs, set()).add(k)
        return sorted(map(sorted, real.values())) == sorted(map(sorted, model.values()))

    @property
    def other_ps(self) -> int:
        """Ps the workload used besides the one the program emptied."""
        used = set(self.goroutine_ps)
        return len(used - {self.harness_p}) if self.harness_p is not None else len(used)


def checks_for(placement: Placement, *, gc: bool) -> dict[str, Check]:
    """The check of every scalar metric (and ``by_size`` rows) for one run;
    a metric without a check is not compared."""
    if gc:
        return ({k: APPROX for k, _ in COMPARED} | {"by_size": APPROX, "by_size_tiny": APPROX}
                | {k: Check("rel", tolerance=t) for k, t in GC_TOLERANCES.items()})
    out = {k: EXACT if exact else APPROX for k, exact in COMPARED if k not in GC_ONLY}
    out["by_size"] = out["by_size_tiny"] = EXACT
    if not placement.same_grouping or placement.model_preempted:
        for k, exact in COMPARED:
            if exact and k not in P_INDEPENDENT:
                out[k] = APPROX
        out["by_size_tiny"] = APPROX
        return out
    n = placement.other_ps
    if n:
        out["mspan_inuse_bytes"] = Check(
            "bound", below=n * 2 * MSPAN_REFILL * MSPAN_BYTES)
        out["heap_sys_bytes"] = Check(
            "bound", below=math.ceil(n * PAGE_CACHE_PAGES / CHUNK_PAGES) * CHUNK_PAGES * 8192)
    return out


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def compare(real: dict[str, Any], real_by_size: list[dict[str, Any]], model: dict[str, Any],
            model_by_size: list[dict[str, Any]], checks: dict[str, Check]) -> list[Row]:
    """Rows for the scalar metrics, then per-class allocation counts."""
    rows = [Row(k, _num(real.get(k)), _num(model.get(k)), checks[k])
            for k, _ in COMPARED if k in checks]
    mb = {r["size_class"]: r for r in model_by_size}
    for r in real_by_size:
        c = r["size_class"]
        m = mb.get(c, {})
        rv, mv = r.get("mallocs", 0), m.get("mallocs", 0)
        if rv or mv:
            label = f"by_size[{c}:{r['size_bytes']}B].mallocs" if c else "by_size[large].mallocs"
            check = checks["by_size_tiny" if c == TINY_CLASS else "by_size"]
            rows.append(Row(label, float(rv), float(mv), check))
    return rows


def fmt_value(x: float | None) -> str:
    if x is None:
        return "-"
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}"


def fmt_rel(r: Row) -> str:
    e = r.rel_error
    if e is None:
        return "n/a"
    if e == 0:
        return "0"
    return f"{e:+.2%}"
