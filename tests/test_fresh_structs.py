"""mspan structs fresh from fixalloc (``mspan_fresh_ns``; mheap.go initSpan,
mfixalloc.go alloc). Off by default: the default-cost results do not have it.

fixalloc hands out a struct from its free list when it has one and carves a
new one from a chunk otherwise; a P's mspancache is refilled with 64 at a
time and hands them out from the top of its stack. Only a struct never used
before pays the cost. Counts are derived from the allocator, not from the
cost: with the GC off no span is ever freed, so every span the heap hands out
has a new struct; with the collector freeing spans to the heap, their structs
come back and later spans reuse them.
"""

from __future__ import annotations

from typing import Any

import pytest

from gosim.scenario import Scenario
from gosim.sim import simulate


def _scenario(procs: int, *, gc: bool, mode: str = "step", costs: dict[str, float] | None = None,
              allocations: int = 8 * 800, seed: int = 3) -> Scenario:
    return Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": procs, "mode": mode, "seed": seed,
        "time_slice_ns": 10**15, "gc": {"enabled": gc}, "costs": costs or {},
        "workload": {"groups": [{"count": procs, "allocations": allocations, "size": 1024,
                                 "pointer_free_fraction": 1.0, "work_ns": 0}]}})


def _fresh(sc: Scenario) -> tuple[float, dict[str, Any]]:
    """(fresh structs initialised, the run's metrics)."""
    rec: dict[str, float] = {}
    m = simulate(sc, cost_record=rec).metrics
    return rec.get("mspan_fresh_ns", 0.0), m


def test_with_the_gc_off_every_span_from_the_heap_has_a_new_struct() -> None:
    """One P, the GC off: no span is freed, so each of the heap's spans (one per
    refill) pays the cost once, and the run takes exactly that much longer
    than without it; off (the default) nothing is charged."""
    n_fresh0, off = _fresh(_scenario(1, gc=False))
    n_fresh, on = _fresh(_scenario(1, gc=False, costs={"mspan_fresh_ns": 300}))
    assert n_fresh0 == 0
    assert on["frees"] == 0 and on["alloc_span_calls"] == on["refills"] == 800
    assert n_fresh == on["alloc_span_calls"]
    assert on["sim_time_ns"] - off["sim_time_ns"] == 300 * on["alloc_span_calls"]


def test_with_the_collector_freed_structs_are_reused() -> None:
    """The collector returns swept-empty spans to the heap (freeSpan): their
    structs go back to the P's mspancache or fixalloc's free list and later
    spans reuse them: fewer structs are fresh than the heap hands out spans,
    at least as many as it hands out beyond the spans freed (a freed struct
    is reused once), and no more than the mspancache refills carved (64
    each)."""
    n_fresh, m = _fresh(_scenario(2, gc=True, mode="batched", allocations=8 * 20_000,
                                  costs={"mspan_fresh_ns": 300}))
    assert m["num_gc"] > 2 and m["free_span_calls"] > 0
    assert m["alloc_span_calls"] - m["free_span_calls"] <= n_fresh < m["alloc_span_calls"]
    assert n_fresh <= 64 * m["mspan_cache_refills"]


@pytest.mark.parametrize("gc", [False, True])
def test_batched_runs_give_the_step_results_with_fresh_structs(gc: bool) -> None:
    """Three Ps, the cost on: a batched run's results equal the step run's."""
    costs = {"mspan_fresh_ns": 250}
    step = simulate(_scenario(3, gc=gc, costs=costs, allocations=8 * 600)).to_dict()
    batched = simulate(_scenario(3, gc=gc, mode="batched", costs=costs,
                                 allocations=8 * 600)).to_dict()
    assert step == batched
