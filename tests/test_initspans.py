"""The heap's start-up layout (gosim/runtime/initspans.py) against the real runtime.

The real figures are the uprobe counts ``scripts/measure.py pagecache`` stored
in benchmarks/measured.json and the start-up it recorded in
gosim/runtime/init_spans_go1.27.yaml (docs/groundtruth.md, "The page cache").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gosim.runtime.context import NoSimCtx, run_sync
from gosim.runtime.initspans import load, paddings, replay, sequence_for
from gosim.scenario import Scenario
from gosim.sim.engine import Simulation

ROOT = Path(__file__).resolve().parent.parent
#: allocations of the model's runs here (the measure script's are 16,000: the
#: shares settle within a few hundred spans)
ALLOCS = 4000


def _real(mode: str, size: int, procs: int) -> list[float]:
    """The real runs' share of span allocations that took allocSpan's locked path."""
    sec = json.loads((ROOT / "benchmarks" / "measured.json").read_text())["pagecache"]
    runs = [r for r in sec["runs"]
            if (r["mode"], r["size"], r["gomaxprocs"]) == (mode, size, procs)]
    assert runs, (mode, size, procs)
    return [r["pages_alloc_locked"] / r["alloc_span"] for r in runs]


def _scenario(mode: str, size: int, procs: int, init_spans: int) -> dict[str, Any]:
    return {"design": "go1.27", "gomaxprocs": procs, "seed": 1, "gc": {"enabled": mode == "gc"},
            "costs": {"runtime_init_spans": init_spans},
            "workload": {"groups": [{"count": procs, "size": size, "pointer_free_fraction": 1.0,
                                     "touch": True, "lifetime": "drop",
                                     "allocations": ALLOCS // procs}]}}


def _locked(mode: str, size: int, procs: int, init_spans: int) -> float:
    """The model's share of the workload's span allocations that took the
    locked path (the replayed start-up's own spans left out: the real runs,
    15-100 times longer, dilute theirs)."""
    scenario = Scenario.model_validate(_scenario(mode, size, procs, init_spans))
    sim = Simulation(scenario)  # the start-up is replayed here, before time 0
    calls0 = sim.rt.mheap.stats.alloc_span_calls
    locked0 = sim.rt.mheap.stats.alloc_span_locked_calls
    m = sim.run().metrics
    return (m["alloc_span_locked_calls"] - locked0) / (m["alloc_span_calls"] - calls0)


def _placed(procs: int, padding: int, gc: bool) -> tuple[int, int]:
    """The replay of the start-up recorded at ``procs`` (GC on or off) on a
    model heap whose base is padded by ``padding`` pages (0: none): (spans
    placed on the very page the real one had, relative to the lowest span;
    spans)."""
    ops = load(gc=gc)[procs]
    costs = {"random_heap_base": 1, "heap_base_padding_pages": padding} if padding else {}
    sim = Simulation(Scenario.model_validate(
        {**_scenario("gc" if gc else "nogc", 32768, procs, 0), "costs": costs}))
    spans = replay(sim.rt, procs, gc=gc)
    allocs = [o for o in ops if o["op"] == "alloc"]
    assert len(spans) == len(allocs)
    base = min(s.start_page for s in spans)
    if padding:
        # the lowest span starts right after the padding, as in the process
        # recorded (scripts/measure.py checks the same of the real addresses)
        assert base == sim.rt.mheap.padding_start + padding
    return sum(s.start_page - base == o["page"] for o, s in zip(allocs, spans, strict=True)), \
        len(allocs)


@pytest.mark.parametrize("gc", [True, False], ids=["gc", "nogc"])
@pytest.mark.parametrize("procs", sorted(load()))
def test_start_up_lands_on_the_pages_the_real_one_used(procs: int, gc: bool) -> None:
    """On a heap padded as the recorded process's was (go1.27's randomized
    heap base, mheap.go grow: its page count read by a uprobe), the model's
    page caches, page allocator and heap growth put every recorded span where
    the runtime put it, at every GOMAXPROCS, the Ps' page caches included.
    The padding decides it: on an unpadded heap the 64-page blocks the caches
    take are aligned differently and, from 2 Ps on, the layouts part within a
    few dozen spans (docs/groundtruth.md, "The page cache", has both counts)."""
    padding = paddings(gc=gc)[procs]
    assert 0 < padding < 512
    same, n = _placed(procs, padding, gc)
    assert same >= 0.95 * n, (same, n)


def test_each_real_gc_off_run_s_padding_decides_whether_its_page_cache_sticks() -> None:
    """32 KiB objects (4-page spans), GC off, one P: the page cache the
    workload starts with holds the tail of a 64-page block after the
    start-up's spans; when that tail is not a multiple of 4 pages the cache
    keeps a remainder no 4-page span fits and is never refilled (it is not
    empty), so every later span takes mheap.lock (mheap.go allocSpan). Where
    the tail ends depends on the process's random heap-base padding, so the
    same real setting gives 3% in one run and 95% in the next. The model, fed
    each real run's padding (read by a uprobe), its GC-off start-up replayed,
    says which runs stick."""
    sec = json.loads((ROOT / "benchmarks" / "measured.json").read_text())["pagecache"]
    runs = [r for r in sec["runs"] if (r["mode"], r["size"], r["gomaxprocs"]) ==
            ("nogc", 32768, 1) and r.get("padding")]
    assert runs
    for r in runs:
        real = r["pages_alloc_locked"] / r["alloc_span"]
        sc = _scenario("nogc", 32768, 1, 1)
        sc["costs"] |= {"heap_base_padding_pages": r["padding"]}
        sim = Simulation(Scenario.model_validate(sc))
        calls0 = sim.rt.mheap.stats.alloc_span_calls
        locked0 = sim.rt.mheap.stats.alloc_span_locked_calls
        m = sim.run().metrics
        model = (m["alloc_span_locked_calls"] - locked0) / (m["alloc_span_calls"] - calls0)
        assert (model > 0.5) == (real > 0.5), (r["padding"], real, model)


@pytest.mark.parametrize("procs", [1, 2])
def test_start_up_holes_send_32_kib_spans_to_the_heap_lock_as_in_the_real_runtime(
        procs: int) -> None:
    """32 KiB objects, GC on: the real runtime takes mheap.lock for nearly every
    span (its page caches hold start-up holes too short for 4 pages); the
    model does with the start-up replayed, and not without it."""
    real = _real("gc", 32768, procs)
    assert min(real) > 0.9, real
    assert _locked("gc", 32768, procs, 1) > 0.9
    assert _locked("gc", 32768, procs, 0) < 0.05


@pytest.mark.parametrize("mode", ["gc", "nogc"])
def test_one_page_spans_stay_in_the_page_cache(mode: str) -> None:
    """1 KiB objects (1-page spans): any free page serves them, holes included,
    so the real runtime rarely takes the lock for their pages; nor does the
    model with the start-up replayed. (GC off, the real share is the
    start-up's own spans, a larger part of a short run's few hundred.)"""
    real = _real(mode, 1024, 1)
    assert max(real) < (0.02 if mode == "gc" else 0.15), real
    assert _locked(mode, 1024, 1, 1) < 0.03


@pytest.mark.parametrize("gc", [True, False], ids=["gc", "nogc"])
def test_replay_frees_what_its_start_up_freed(gc: bool) -> None:
    """The replay frees exactly the spans its recording freed (GC on: the
    start-up garbage of the probe's runtime.GC() before the workload); the
    GOGC=off start-up runs no cycle, so its recording frees nothing and every
    replayed span stays in use."""
    _, ops = sequence_for(2, gc=gc)
    recorded = sum(o["op"] == "free" for o in ops)
    assert (recorded > 0) == gc
    sim = Simulation(Scenario.model_validate(_scenario("gc" if gc else "nogc", 32768, 2, 0)))
    h = sim.rt.mheap
    before = h.pages_inuse
    spans = replay(sim.rt, 2, gc=gc)
    freed = [s for s in spans if s.start_page not in h.spans or h.spans[s.start_page] is not s]
    assert len(freed) == recorded
    assert h.pages_inuse - before == sum(s.npages for s in spans if s not in freed)


def test_sequence_for_takes_the_largest_measured_p_not_above() -> None:
    measured = sorted(load())
    assert sequence_for(measured[0])[0] == measured[0]
    assert sequence_for(measured[-1] + 40)[0] == measured[-1]
    between = [p for p in range(measured[0], measured[-1]) if p not in measured]
    for p in between:
        assert sequence_for(p)[0] == max(q for q in measured if q <= p)


@pytest.mark.parametrize("mode,size,procs", [("gc", 32768, 4), ("gc", 1024, 2),
                                             ("nogc", 32768, 2)])
def test_heap_stays_consistent_with_the_start_up_replayed(mode: str, size: int,
                                                          procs: int) -> None:
    """Every page in exactly one state (in a span, free, or in a P's page
    cache), counted page by page, after a run whose heap started with the
    runtime's spans (Runtime.check_invariants)."""
    sim = Simulation(Scenario.model_validate(_scenario(mode, size, procs, 1)))
    sim.run()
    sim.rt.check_invariants()
    # the start-up spans are still there, at the heap's bottom
    assert sim.rt.mheap.pages_inuse > 0


def test_a_span_without_a_p_takes_the_locked_path_and_leaves_the_p_alone() -> None:
    """mheap.go allocSpan with pp == nil (the start-up before procresize): no
    page cache, no mspan cache, mheap.lock for the pages; the same request
    on a P is served from that P's page cache."""
    sim = Simulation(Scenario.model_validate(_scenario("gc", 1024, 1, 0)))
    h, pp = sim.rt.mheap, sim.rt.ps[0]
    calls, locked = h.stats.alloc_span_calls, h.stats.alloc_span_locked_calls
    refills = h.stats.mspan_cache_refills
    cache_before = (pp.pcache.base_page, pp.pcache.cache, pp.mspancache_len)
    spans = [run_sync(h.alloc(NoSimCtx(0), pp, 2, 0, use_pcache=False)) for _ in range(3)]
    assert h.stats.alloc_span_calls - calls == 3
    assert h.stats.alloc_span_locked_calls - locked == 3
    assert (pp.pcache.base_page, pp.pcache.cache, pp.mspancache_len) == cache_before
    assert h.stats.mspan_cache_refills == refills
    # first fit: the three spans sit side by side
    assert [s.start_page - spans[0].start_page for s in spans] == [0, 2, 4]
    locked = h.stats.alloc_span_locked_calls
    on_p = [run_sync(h.alloc(NoSimCtx(0), pp, 2, 0)) for _ in range(3)]
    # the pages of all three from the page cache; the lock once, for the
    # first one's mspan struct (tryAllocMSpan finds the P's cache empty and
    # allocMSpanLocked refills it)
    assert h.stats.alloc_span_locked_calls - locked == 1
    assert h.stats.mspan_cache_refills == refills + 1
    assert not pp.pcache.empty()
    assert all(s.start_page >= spans[-1].start_page + 2 for s in on_p)
