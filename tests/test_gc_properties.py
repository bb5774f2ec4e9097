"""Property tests of the collector model through GC cycles (issue 8).

Every run here goes through :mod:`gosim.runtime.gccheck`, which keeps its
own record of what each goroutine allocated (span, slot, goroutine, clock)
and checks, at every sweep, at every mark start and mark termination (the
world stopped) and at the end: no live object freed, no slot handed out
twice or freed twice, every heap page in exactly one state, heap_sys and
heap_alloc against independently counted pages and slots, and mcentral's
span sets (the module's docstring lists them, (a) to (g)).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gosim.runtime.arena import PAGE_SIZE
from gosim.runtime.gccheck import GCCheck, GCInvariantError, run_checked
from gosim.runtime.mgcpacer import DEFAULT_HEAP_MINIMUM
from gosim.scenario import Scenario
from gosim.sim.engine import Simulation

# the checker wraps the core's methods on their classes: compiled classes cannot
# be wrapped, so with the compiled build these run in a pure-Python child
pytestmark = pytest.mark.pure_python

DESIGNS = ("go1.27", "go1.25", "go1.14", "go1.12")
#: tiny, the smallest non-tiny, small, a malloc header (pointerful, > 512 B), 32 KiB
#: (small before malloc headers, large with one when pointerful), large
SIZES = (8, 16, 48, 1024, 5000, 32768, 40000)
#: the allocating goroutine that produces the garbage every scenario collects
DRIVER_SIZES = (48, 1024, 5000, 40000)
#: a group drawing its sizes (mallocgc(0), tiny, small, header, large): the generic
#: batch path
MIXED_SIZES = {"dist": "choice", "values": [0, 8, 48, 1024, 5000, 40000],
               "weights": [1, 4, 4, 2, 1, 1]}


def scenario(d: dict[str, Any]) -> Scenario:
    return Scenario.model_validate(d)


def heap_minimum(gogc: int) -> int:
    """mgcpacer.go heapMinimum: 4 MiB scaled by GOGC."""
    return DEFAULT_HEAP_MINIMUM * gogc // 100


# -- random scenarios -----------------------------------------------------------------------
lifetimes = st.one_of(
    st.just("drop"), st.just("keep"),
    st.builds(lambda n: {"allocations": n}, st.sampled_from((1, 3, 64))),
    st.builds(lambda t: {"time": t}, st.sampled_from((20_000, 100_000))),
)


@st.composite
def gc_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario sized for several cycles: a driver group of garbage (``drop``)
    allocates 2.5 heap goals' worth, beside up to two groups of any size and
    lifetime with small budgets (so that the heap stays small and each example
    runs in well under a second)."""
    gogc = draw(st.integers(25, 200))
    procs = draw(st.integers(1, 4))
    live = draw(st.sampled_from((0, 0, 256 << 10, 1 << 20)))
    goal = max(heap_minimum(gogc), live + live * gogc // 100)
    dsize = draw(st.sampled_from(DRIVER_SIZES))
    dcount = draw(st.integers(1, 2))
    groups: list[dict[str, Any]] = [{
        "name": "driver", "count": dcount, "size": dsize,
        "allocations": -(-goal * 5 // 2 // dcount // dsize),
        # a fraction draws pointer-ness per object: one allocation at a time, so
        # only where objects are few
        "pointer_free_fraction": draw(st.sampled_from((0.0, 0.5, 1.0) if dsize >= 1024
                                                      else (0.0, 1.0))),
    }]
    if dsize >= 1024 and draw(st.booleans()):
        groups[0]["work_ns"] = {"dist": "exponential", "mean": 100}
    for i in range(draw(st.integers(0, 2))):
        size: Any = draw(st.sampled_from(SIZES + (MIXED_SIZES,)))
        lt = draw(lifetimes)
        budget = draw(st.sampled_from((64 << 10, 256 << 10)))
        mean = 1024 if isinstance(size, dict) else size
        groups.append({
            "name": f"g{i}", "count": draw(st.integers(1, 2)), "size": size,
            "allocations": max(1, min(budget // mean, 4000)), "lifetime": lt,
            "pointer_free_fraction": draw(st.sampled_from((0.0, 0.5, 1.0))),
            "work_ns": draw(st.sampled_from((0, 50))),
        })
    limit = draw(st.sampled_from((None, None, None, 6 << 20, 16 << 20)))
    return {
        "design": draw(st.sampled_from(DESIGNS)), "gomaxprocs": procs,
        # the reference path (every allocation its own event) where it stays fast
        "mode": "step" if dsize >= 5000 and draw(st.booleans()) else "batched",
        "gc": {"gogc": gogc, "memory_limit_bytes": limit}, "seed": draw(st.integers(0, 3)),
        "workload": {"live_heap": {"bytes": live, "object_size": 1024,
                                   "pointer_free": draw(st.booleans())},
                     "groups": groups},
    }


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(gc_scenarios())
def test_gc_invariants_through_cycles(d: dict[str, Any]) -> None:
    sim, result, chk = run_checked(scenario(d), global_every=61)
    m = result.metrics
    assert sim.gc is not None
    # the driver's garbage is 2.5 heap goals: at least two complete cycles
    assert m["num_gc"] >= 2
    assert chk.terminations == m["num_gc"]
    # a run may end while a cycle marks: started, not terminated
    assert len(chk.cycles) - m["num_gc"] in (0, 1)
    assert chk.stw_checks == len(chk.cycles) + m["num_gc"] + 1
    # every malloc and every free, as the record counted them
    assert m["mallocs"] == chk.objects
    assert m["frees"] == chk.freed_slots
    assert m["heap_objects"] == chk.slots - chk.freed_slots
    assert m["heap_alloc_bytes"] == chk.allocated_bytes() >= 0
    gogc, limit = d["gc"]["gogc"], d["gc"]["memory_limit_bytes"]
    for cyc in chk.cycles[:chk.terminations]:
        assert cyc.model_marked_bytes >= cyc.expected_marked_bytes
        if cyc.exact:
            assert cyc.model_marked_bytes == cyc.expected_marked_bytes
        # the pacer (mgcpacer.go): a cycle starts once heapLive reaches the
        # trigger; the next goal is GOGC% over the marked heap, at least the
        # scaled 4 MiB minimum (without a memory limit), and the trigger below it
        assert cyc.heap_live_at_start >= cyc.trigger_before
        marked = cyc.model_marked_bytes
        if limit is None:
            assert cyc.goal_after == max(marked + marked * gogc // 100, heap_minimum(gogc))
        assert marked <= cyc.trigger_after <= cyc.goal_after


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(gc_scenarios())
def test_heap_invariants_with_the_collector_off(d: dict[str, Any]) -> None:
    """GOGC=off: nothing is swept or freed, every object keeps its slot, and the
    pages and span sets stay consistent as the heap grows."""
    d["gc"] = {"enabled": False}
    sim, result, chk = run_checked(scenario(d), global_every=1)
    m = result.metrics
    assert sim.gc is None and m["num_gc"] == 0 and chk.sweeps == 0 and m["frees"] == 0
    assert m["mallocs"] == chk.objects
    assert m["heap_alloc_bytes"] == m["total_alloc_bytes"] == chk.allocated_bytes()
    assert m["heap_objects"] == chk.slots


# -- a model bug the properties found ------------------------------------------------------------
TINY_RING_REPRO = {
    "design": "go1.27", "gomaxprocs": 1, "gc": {"gogc": 25}, "time_slice_ns": 2000,
    "workload": {"groups": [
        {"count": 1, "size": 1024, "allocations": 2000, "lifetime": "drop"},
        {"count": 1, "size": 8, "allocations": 2000, "lifetime": {"allocations": 3}}]},
}
TINY_KEEP_REPRO = {
    "design": "go1.27", "gomaxprocs": 1, "gc": {"gogc": 25}, "time_slice_ns": 2000,
    "workload": {"groups": [
        {"count": 1, "size": 1024, "allocations": 2000, "lifetime": "drop"},
        {"count": 1, "size": 8, "allocations": 2000, "lifetime": "keep"},
        {"count": 1, "size": 8, "allocations": 2000, "lifetime": {"allocations": 1}}]},
}


def test_tiny_block_shared_by_ring_entries_stays_marked() -> None:
    """A 16-byte tiny block holds several objects of one goroutine's
    `allocations: 3` ring: it stays marked until the last of them falls out
    (found by this file's checker: a ring entry's fall-out used to unmark the
    block while its neighbours were still reachable)."""
    run_checked(scenario(TINY_RING_REPRO))


def test_kept_tiny_object_survives_a_ring_neighbour() -> None:
    """Across goroutines on one P: a `keep` object and an `allocations: 1`
    object share a tiny block; the ring entry's fall-out leaves it marked."""
    run_checked(scenario(TINY_KEEP_REPRO))


# -- deterministic cycles -----------------------------------------------------------------------------
def drop_scenario(gogc: int = 100, allocations: int = 200_000, **gc: Any) -> Scenario:
    return scenario({
        "design": "go1.27", "gomaxprocs": 1, "gc": {"gogc": gogc, **gc},
        "workload": {"groups": [{"size": 48, "allocations": allocations,
                                 "lifetime": "drop"}]}})


def test_drop_workload_heap_sys_plateaus() -> None:
    """Garbage at 48 B, 1 P, GOGC=100: the heap goal stays the 4 MiB minimum
    (nothing survives), so the heap stops growing while mallocs go on past ten
    heap goals' worth of bytes."""
    goal = heap_minimum(100)
    n = 10 * goal // 48 + 20_000
    sim, result, chk = run_checked(drop_scenario(allocations=n))
    m = result.metrics
    assert m["total_alloc_bytes"] == n * 48 > 10 * goal
    assert m["heap_goal_bytes"] == goal
    assert m["num_gc"] >= 9
    # (the cycles that terminated: the run may end during one)
    sys_per_cycle = [c.heap_sys_bytes for c in chk.cycles if c.goal_after]
    assert len(sys_per_cycle) >= 9
    assert max(sys_per_cycle + [m["heap_sys_bytes"]]) < 3 * goal
    # no growth after the second cycle: the sweeper's freed spans are reused
    assert sys_per_cycle[1] == sys_per_cycle[-1] == m["heap_sys_bytes"]
    # what is left allocated is at most the garbage since the last cycle
    assert m["heap_alloc_bytes"] < 2 * goal


def test_keep_workload_marks_exactly_what_it_kept() -> None:
    """A ballast of 1 MiB (1024 pointer-free 1 KiB objects) and one goroutine that
    keeps every 48 B object: each cycle marks the ballast plus every object
    allocated before its mark termination, byte for byte."""
    ballast = 1024 * 1024
    s = scenario({
        "design": "go1.27", "gomaxprocs": 1, "gc": {"gogc": 50},
        "workload": {"live_heap": {"bytes": ballast, "object_size": 1024, "pointer_free": True},
                     "groups": [{"size": 48, "allocations": 150_000, "lifetime": "keep"}]}})
    sim, result, chk = run_checked(s)
    assert result.metrics["num_gc"] >= 2
    assert result.metrics["frees"] == 0
    for cyc in chk.cycles:
        assert cyc.exact
        kept = ballast + (cyc.mallocs - 1024) * 48
        assert cyc.model_marked_bytes == cyc.expected_marked_bytes == kept
    assert chk.kept_bytes() == ballast + 150_000 * 48 == result.metrics["heap_alloc_bytes"]


def test_allocations_lifetime_marks_the_last_n_and_the_black() -> None:
    """One goroutine keeps only its last 100 pointer-free 1 KiB objects: a cycle
    marks those 100 (the snapshot at mark start) plus every object allocated
    while it marked (allocated black), and nothing else."""
    n = 100
    s = scenario({
        "design": "go1.27", "gomaxprocs": 1, "gc": {"gogc": 25},
        "workload": {"groups": [{"size": 1024, "allocations": 20_000,
                                 "lifetime": {"allocations": n}}]}})
    sim, result, chk = run_checked(s)
    assert result.metrics["num_gc"] >= 5
    for cyc in chk.cycles[:result.metrics["num_gc"]]:
        assert cyc.mallocs_at_start >= n
        black = cyc.mallocs - cyc.mallocs_at_start
        assert cyc.model_marked_bytes == (n + black) * 1024 == cyc.expected_marked_bytes


def test_gogc_sets_how_often_the_heap_is_collected() -> None:
    """The same garbage under GOGC=50 (goal 2 MiB) and 200 (goal 8 MiB): four
    times the goal, about a quarter of the cycles."""
    n = 400_000
    runs = {}
    for gogc in (50, 200):
        sim, result, _ = run_checked(drop_scenario(gogc, n))
        runs[gogc] = result.metrics
        assert result.metrics["heap_goal_bytes"] == heap_minimum(gogc)
    assert runs[50]["num_gc"] >= 3 * runs[200]["num_gc"] >= 3
    assert runs[50]["heap_sys_bytes"] < runs[200]["heap_sys_bytes"]


def test_gc_off_never_collects_and_the_heap_grows_with_the_bytes() -> None:
    grown = []
    for n in (50_000, 150_000):
        sim, result, chk = run_checked(scenario({
            "design": "go1.27", "gomaxprocs": 1, "gc": {"enabled": False},
            "workload": {"groups": [{"size": 48, "allocations": n, "lifetime": "drop"}]}}))
        m = result.metrics
        assert sim.gc is None and m["num_gc"] == 0 and not chk.cycles and chk.sweeps == 0
        assert m["frees"] == 0 and m["heap_alloc_bytes"] == m["total_alloc_bytes"] == n * 48
        # every object keeps its slot: the spans' pages cover the bytes, and the
        # heap grows in 4 MiB chunks (palloc chunks) to hold them
        assert m["total_alloc_bytes"] <= m["heap_inuse_bytes"] <= m["heap_sys_bytes"]
        assert m["heap_sys_bytes"] % (512 * PAGE_SIZE) == 0
        assert m["heap_sys_bytes"] - m["heap_inuse_bytes"] < 512 * PAGE_SIZE
        grown.append(m["heap_sys_bytes"])
    assert grown[1] > grown[0]


# -- the checker has teeth ------------------------------------------------------------------------------
def test_checker_catches_an_unmarked_kept_object(monkeypatch: pytest.MonkeyPatch) -> None:
    """A marking that forgets ``keep`` objects frees them: caught at mark termination."""
    import gosim.sim.gc as simgc

    real = simgc.mark_spans

    def forgetful(rt: Any, t: int) -> tuple[int, int]:
        for s in rt.mheap.spans.values():
            s.keep_bits = 0
        return real(rt, t)

    monkeypatch.setattr(simgc, "mark_spans", forgetful)
    s = scenario({"gomaxprocs": 2, "gc": {"gogc": 25}, "workload": {"groups": [
        {"size": 1024, "allocations": 3000, "lifetime": "drop"},
        {"size": 48, "allocations": 3000, "lifetime": "keep"}]}})
    with pytest.raises(GCInvariantError, match="leaves live slots"):
        run_checked(s)


def test_checker_catches_pages_in_no_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A heap growth that maps pages but never gives them to the page allocator."""
    from gosim.runtime.mheap import MHeap

    real = MHeap._add_sys

    def leaky(h: MHeap, base: int, nbytes: int) -> None:
        real(h, base, nbytes)
        h.free.remove((base >> 13) + 1, 1)

    monkeypatch.setattr(MHeap, "_add_sys", leaky)
    with pytest.raises(GCInvariantError, match="in no state"):
        run_checked(drop_scenario(allocations=100_000))


def test_checker_catches_a_double_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep that forgets one freed slot in its bitmap but counts it free: the
    record sees the bits disagree (a later refill would hand it out twice)."""
    from gosim.runtime.mgcsweep import Sweeper

    real = Sweeper.sweep

    def sloppy(sw: Sweeper, ctx: Any, s: Any, preserve: bool) -> Any:
        live = s.live_bits
        r = yield from real(sw, ctx, s, preserve)
        if not r and live is not None and s.alloc_count and s.alloc_count < s.nelems:
            s.alloc_bits &= s.alloc_bits - 1  # drop the lowest allocated slot
            s.alloc_count -= 1
        return r

    monkeypatch.setattr(Sweeper, "sweep", sloppy)
    s = scenario({"gc": {"gogc": 25}, "workload": {"groups": [
        {"size": 1024, "allocations": 4000, "lifetime": {"allocations": 64}}]}})
    with pytest.raises(GCInvariantError, match="disagree with the record"):
        run_checked(s)


def test_checker_restores_the_classes() -> None:
    from gosim.runtime.mcache import MCache
    from gosim.runtime.mgcsweep import Sweeper

    take, sweep = MCache.take, Sweeper.sweep
    chk = GCCheck()
    with pytest.raises(GCInvariantError), chk.installed():
        assert MCache.take is not take and Sweeper.sweep is not sweep
        chk._fail("stop")
    assert MCache.take is take and Sweeper.sweep is sweep
    # a run without the checker is unaffected by one that had it
    a = Simulation(drop_scenario(allocations=20_000)).run().metrics
    b = run_checked(drop_scenario(allocations=20_000))[1].metrics
    assert {k: a[k] for k in ("mallocs", "frees", "num_gc", "heap_sys_bytes", "sim_time_ns")} \
        == {k: b[k] for k in ("mallocs", "frees", "num_gc", "heap_sys_bytes", "sim_time_ns")}


@pytest.mark.parametrize("procs", [1, 4])
def test_idle_page_caches_flushed_at_a_cycles_end_keep_every_page_in_one_state(
        procs: int) -> None:
    """gc_flush_idle_page_caches (mgc.go gcMarkTermination: forEachP flushes
    the page cache of every idle P): the Ps the restart has not reached yet
    give their cached pages back, and the checker still finds every heap page
    in exactly one state (in a span, free, or in one P's cache) through the
    cycles after. At one P the terminating goroutine's own P is the only one:
    nothing is flushed."""
    d = {"design": "go1.27", "gomaxprocs": procs, "seed": 3, "gc": {"enabled": True},
         "costs": {"gc_flush_idle_page_caches": 1},
         "workload": {"groups": [{"count": procs, "size": 1024, "lifetime": "drop",
                                  "pointer_free_fraction": 1.0,
                                  "allocations": 12_000 // procs}]}}
    sim, result, chk = run_checked(scenario(d), global_every=61)
    n = result.metrics["num_gc"]
    assert sim.gc is not None and n >= 2 and chk.terminations == n
    flushes = sim.gc.pcache_flushes
    if procs == 1:
        assert flushes == 0
    else:
        # at most every other P at every cycle's end; some at least
        assert 0 < flushes <= (procs - 1) * n
