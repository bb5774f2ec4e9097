"""Design presets under simulation: exact counts and times computed by hand.

Every expectation here is derived from the runtime's algorithm (the Go source
file named) and the cost model's parameters, not read back from the model:
one P, one goroutine, step mode, constant costs, no work between
allocations, so every nanosecond of the run is a cost-model charge.
"""

from __future__ import annotations

from typing import Any

import pytest

from gosim.runtime.design import get_design
from gosim.scenario import Scenario
from gosim.sim import simulate
from gosim.sim.costs import COST_PARAMETERS

MiB = 1 << 20
#: pages per palloc chunk (mpagealloc.go pallocChunkPages): the go1.14+ growth step
CHUNK_PAGES = 512
#: pages per per-P page cache (mpagecache.go pageCachePages) and mspan structs per
#: mspan-cache refill (mheap.go allocMSpanLocked: half of the 128-slot buffer)
CACHE_PAGES = 64
MSPAN_REFILL = 64


def _run(design: str | dict[str, Any], size: int, allocations: int) -> Any:
    """One goroutine on one P allocating ``allocations`` pointer-free objects."""
    return simulate(Scenario.model_validate({
        "design": design, "gomaxprocs": 1, "mode": "step",
        # one slice for the whole run: no preemption, no scheduler cost
        "time_slice_ns": 10**15,
        "workload": {"groups": [{"count": 1, "allocations": allocations, "size": size,
                                 "pointer_free_fraction": 1.0, "work_ns": 0}]}}))


def _locks(r: Any) -> dict[str, dict[str, Any]]:
    return {row["lock"]: row for row in r.locks}


def _costs(design: str) -> dict[str, int]:
    """The cost model's constants for a design: defaults, then the design's own."""
    c = {name: p.default for name, p in COST_PARAMETERS.items()}
    c.update(dict(get_design(design).costs))
    return {name: int(v) for name, v in c.items() if float(v).is_integer()}


# -- the global-lock baseline is go1.12 plus one lock --------------------------------------
def test_global_lock_preset_is_go112_with_one_lock() -> None:
    g12, gl = get_design("go1.12").as_dict(), get_design("global-lock").as_dict()
    assert gl.pop("global_lock") is True and g12.pop("global_lock") is False
    gl.pop("name"), g12.pop("name")
    assert gl == g12  # same table, heap, growth and costs (pagealloc_ns included)


@pytest.mark.parametrize("size,spans", [(1024, 1000), (48, 20)])
def test_global_lock_costs_go112_plus_one_uncontended_lock_per_malloc(size: int,
                                                                       spans: int) -> None:
    """At 1 P nothing waits, so the baseline's time is go1.12's plus exactly
    lock_uncontended_ns per malloc (issue 10: baselines pay the same heap costs).

    go1.12 (mcache.go refill, mcentral.go cacheSpan/grow, mheap.go alloc_m of
    Go 1.12): a refill takes mcentral's lock, finds both lists empty, unlocks,
    allocates a span under mheap.lock (treap-era search, one span struct, span
    initialisation inside the lock), relocks mcentral to insert it. The first
    span also grows the heap by one 64 MiB arena (sysAlloc)."""
    objects = 8192 // size  # 1-page spans of the seed table: 8 x 1 KiB, 170 x 48 B
    n = spans * objects
    c = _costs("go1.12")
    per_span = (c["refill_ns"] + 3 * c["lock_uncontended_ns"] + c["mcentral_cachespan_ns"]
                + c["pagealloc_ns"] + c["pagealloc_per_page_ns"] * 1 + c["mspan_alloc_ns"]
                + c["span_init_ns"] + c["mcentral_insert_ns"])
    go112 = n * c["malloc_fast_ns"] + spans * per_span + c["grow_ns"] + c["sysalloc_ns"]
    baseline = go112 + n * c["lock_uncontended_ns"]

    r12, rgl = _run("go1.12", size, n), _run("global-lock", size, n)
    for r in (r12, rgl):
        assert r.metrics["allocs_completed"] == n
        assert r.metrics["refills"] == spans and r.metrics["spans_inuse"] == spans
        assert r.metrics["grow_calls"] == 1 and r.metrics["heap_sys_bytes"] == 64 * MiB
    assert r12.metrics["sim_time_ns"] == go112
    assert rgl.metrics["sim_time_ns"] == baseline
    assert (rgl.metrics["sim_time_ns"] - r12.metrics["sim_time_ns"]) // n == \
        c["lock_uncontended_ns"]
    # the same locks, plus the global lock once per malloc, never contended
    l12, lgl = _locks(r12), _locks(rgl)
    assert lgl.pop("global")["acquisitions"] == n
    assert {k: v["acquisitions"] for k, v in lgl.items()} == \
        {k: v["acquisitions"] for k, v in l12.items()}
    assert l12["mheap"]["acquisitions"] == spans
    assert all(row["contended"] == 0 for row in r12.locks + rgl.locks)
