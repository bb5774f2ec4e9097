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
from gosim.runtime.lockrank import lock_ranking
from gosim.runtime.malloc import Runtime
from gosim.runtime.mgcsweep import mark_bits_bytes
from gosim.runtime.sizeclasses import get_table
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
        # the allocator's levels alone: no collector (its sweeps free spans)
        "gc": {"enabled": False},
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
    # every span takes its allocation and mark bitmaps (8 bytes per 64 objects
    # each) from one fresh 64 KiB GC bits arena: the lock taken twice (dropped
    # for the sysAlloc, newArenaMayUnlock), and a page fault per 4 KiB of it
    # written (mheap.go newMarkBits / newAllocBits)
    bitmaps = spans * 2 * mark_bits_bytes(objects)
    gcbits = (2 * c["lock_uncontended_ns"] + c["gcbits_arena_ns"] + c["sysalloc_ns"]
              + -(-bitmaps // 4096) * c["page_fault_ns"])
    go112 = (n * c["malloc_fast_ns"] + spans * per_span + c["grow_ns"] + c["sysalloc_ns"]
             + gcbits)
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


# -- the per-P page cache takes mheap.lock off the span path --------------------------------
def _chunks(spans: int) -> list[int]:
    """1-page spans per 512-page palloc chunk, in growth order (first fit)."""
    return [min(CHUNK_PAGES, spans - i) for i in range(0, spans, CHUNK_PAGES)]


def _mheap_locks_with_page_cache(spans: int) -> tuple[int, int]:
    """(mheap.lock acquisitions, spans whose allocation took it) for ``spans``
    1-page spans on one P under go1.14+ (mheap.go allocSpan, mpagecache.go).

    In each 512-page chunk (s spans of it used):
    - span 1: the page cache is empty and refilling it (allocToCache, under
      the lock) finds no free page; allocSpan takes the lock again, grows the
      heap by one chunk and takes a span struct, refilling the P's empty mspan
      cache with 64 (same lock): 2 acquisitions;
    - span 2: one refill of the page cache with the 63 free pages of the
      chunk's first 64-page block; the struct comes from the mspan cache;
    - spans 3..64 use the page cache and the 62 remaining structs: no lock;
    - span 64j+1 (j >= 1): the page cache is empty (1 acquisition: the next
      block) and so is the mspan cache (1 acquisition: 64 structs);
      spans 64j+2 .. 64j+64 take no lock.
    """
    locks = spans_locking = 0
    for s in _chunks(spans):
        blocks = (s - 1) // CACHE_PAGES
        locks += 2 + (s >= 2) + 2 * blocks
        spans_locking += 1 + (s >= 2) + blocks
    return locks, spans_locking


@pytest.mark.parametrize("spans", [1, 2, 64, 65, 1100])
def test_page_cache_one_mheap_lock_per_64_spans(spans: int) -> None:
    """8 KiB objects: one object per 1-page span, so every allocation allocates
    a span. With the page cache, mheap.lock is taken about twice per 64 spans
    (a page-cache refill and a span-struct refill) plus once per growth; without
    it, once for every span."""
    locks, spans_locking = _mheap_locks_with_page_cache(spans)
    with_cache = _run("go1.14", 8192, spans)
    without = _run({"preset": "go1.14", "overrides": {"page_cache": False}}, 8192, spans)
    chunks = _chunks(spans)
    for r in (with_cache, without):
        m = r.metrics
        assert m["spans_inuse"] == spans and m["refills"] == spans
        assert m["grow_calls"] == len(chunks)
        assert m["heap_sys_bytes"] == len(chunks) * CHUNK_PAGES * 8192
        assert m["heap_inuse_bytes"] == spans * 8192
    m = with_cache.metrics
    assert _locks(with_cache)["mheap"]["acquisitions"] == locks
    assert m["page_cache_refills"] == sum((s >= 2) + (s - 1) // CACHE_PAGES for s in chunks)
    assert m["mspan_cache_refills"] == sum(1 + (s - 1) // MSPAN_REFILL for s in chunks)
    assert m["alloc_span_locked_calls"] == sum(1 + (s - 1) // CACHE_PAGES for s in chunks)
    assert m["page_cache_allocs"] == spans - len(chunks)
    # without the cache every span is allocated under the lock, growth and struct
    # refills included
    assert _locks(without)["mheap"]["acquisitions"] == spans
    assert without.metrics["alloc_span_locked_calls"] == spans
    assert without.metrics["page_cache_allocs"] == 0
    if spans == 1100:
        assert (locks, spans_locking) == (39, 21)  # chunks of 512, 512 and 76 spans


# -- go1.15: lock-free mcentral under simulation ---------------------------------------------
def test_go115_mcentral_takes_no_mutex_one_p() -> None:
    """1 KiB objects, 8 per 1-page span (mcentral.go / mspanset.go of Go 1.15):
    each refill pushes the full span (uncacheSpan) and pops or grows a new one
    (cacheSpan) as span-set atomics; only the heap's page path takes a mutex."""
    spans = 1100
    n = 8 * spans
    r = _run("go1.15", 1024, n)
    m = r.metrics
    assert m["allocs_completed"] == n
    assert m["refills"] == spans and m["spans_inuse"] == spans
    assert m["cache_span_calls"] == spans and m["mcentral_grow_calls"] == spans
    assert m["uncache_span_calls"] == spans - 1
    kinds = {row["kind"] for row in r.locks}
    # (and the kernel's fault path: the GC bits arena is fresh memory)
    assert kinds == {"gcbits", "mheap", "pagefault", "spanset"}
    # the spans' bitmaps (2 x 8 bytes each) fit one GC bits arena, fresh: the
    # lock taken twice (dropped for the sysAlloc)
    (gcbits,) = [row for row in r.locks if row["kind"] == "gcbits"]
    assert -(-spans * 2 * mark_bits_bytes(8) // (64 << 10)) == 1
    assert gcbits["acquisitions"] == 2
    (spanset,) = [row for row in r.locks if row["kind"] == "spanset"]
    assert spanset["acquisitions"] == 2 * spans - 1 and spanset["contended"] == 0
    assert spanset["size_class"] == 32  # the 1024-byte class of today's table
    locks, spans_locking = _mheap_locks_with_page_cache(spans)
    assert _locks(r)["mheap"]["acquisitions"] == locks
    # an allocation takes a mutex only when its span came through mheap.lock
    assert m["locked_allocs"] == spans_locking
    assert m["lock_free_fraction"] == pytest.approx(1 - spans_locking / n, abs=1e-12)
    assert not any(row["category"].endswith(":mcentral") for row in r.p_time)


def test_go115_mcentral_takes_no_mutex_four_ps() -> None:
    """Four Ps, each with its own mcache: every P refills from the same span
    set; no allocation ever waits on or holds an mcentral mutex."""
    per_g = 8 * 300
    r = simulate(Scenario.model_validate({
        "design": "go1.15", "gomaxprocs": 4, "mode": "step", "gc": {"enabled": False},
        "workload": {"groups": [{"count": 4, "allocations": per_g, "size": 1024,
                                 "pointer_free_fraction": 1.0, "work_ns": 5}]}}))
    m = r.metrics
    assert m["allocs_completed"] == 4 * per_g
    # each goroutine stays on its P and fills whole spans of its own
    assert m["refills"] == 4 * 300 and m["spans_inuse"] == 4 * 300
    assert {row["kind"] for row in r.locks} == {"gcbits", "mheap", "pagefault", "spanset"}
    (spanset,) = [row for row in r.locks if row["kind"] == "spanset"]
    assert spanset["acquisitions"] == 2 * 4 * 300 - 4
    assert not any(row["category"].endswith(":mcentral") for row in r.p_time)
    # the locked go1.14 mcentral, same workload: every refill takes its mutex twice
    # (cacheSpan, then the relock that inserts the grown span)
    r14 = simulate(Scenario.model_validate({
        "design": "go1.14", "gomaxprocs": 4, "mode": "step", "gc": {"enabled": False},
        "workload": {"groups": [{"count": 4, "allocations": per_g, "size": 1024,
                                 "pointer_free_fraction": 1.0, "work_ns": 5}]}}))
    (mc,) = [row for row in r14.locks if row["kind"] == "mcentral"]
    assert mc["acquisitions"] == 2 * 4 * 300


def test_go115_large_objects_join_the_full_span_set() -> None:
    """mcache.go allocLarge (Go 1.15+): a large object's span is pushed onto
    the class-0 mcentral's full swept set: one span-set atomic per object, no
    mcentral mutex; go1.14 keeps large spans off mcentral's locked lists."""
    n = 100
    r = _run("go1.15", 40_000, n)  # 5 pages each, pointer-free: span class 1
    assert r.metrics["large_allocs"] == n and r.metrics["large_pages"] == 5 * n
    # (and one fresh GC bits arena for the spans' bitmaps, 100 spans x 2 x 8
    # bytes: its lock taken twice, dropped for the sysAlloc; its first 4 KiB
    # page faults in: 100 x 16 bytes fit in it)
    assert [(row["kind"], row["span_class"], row["acquisitions"])
            for row in r.locks if row["kind"] != "mheap"] == [("gcbits", -1, 2),
                                                               ("pagefault", -1, 1),
                                                               ("spanset", 1, n)]
    r14 = _run("go1.14", 40_000, n)
    assert [row["kind"] for row in r14.locks] == ["gcbits", "mheap", "pagefault"]


# -- batched transfers from lock-free span sets (tcmalloc + mcentral: lockfree) -------------
TCMALLOC_LOCKFREE = {"preset": "tcmalloc", "overrides": {"mcentral": "lockfree"}}


def test_tcmalloc_lockfree_two_span_set_ops_per_batched_transfer() -> None:
    """48 B objects, 170 per 8 KiB span (today's table), batches of 32: a span
    gives 32, 32, 32, 32, 32, then its last 10 objects, so 340 allocations take
    12 transfers; each pops the span (or grows one) and pushes it back: two
    span-set operations, no mcentral mutex."""
    per_span, batch = 170, 32
    transfers_per_span = -(-per_span // batch)
    r = _run(TCMALLOC_LOCKFREE, 48, 2 * per_span)
    m = r.metrics
    assert m["allocs_completed"] == m["mallocs"] == 2 * per_span
    assert m["refills"] == m["cache_span_calls"] == 2 * transfers_per_span == 12
    assert m["mcentral_grow_calls"] == m["spans_inuse"] == 2
    assert m["uncache_span_calls"] == 0
    (spanset,) = [row for row in r.locks if row["kind"] == "spanset"]
    assert spanset["acquisitions"] == 2 * 12 and spanset["contended"] == 0
    assert {row["kind"] for row in r.locks} == {"spanset", "mheap"}
    # only the two grows lock (mheap.lock); the 10 other transfers take no mutex
    assert m["locked_allocs"] == 2
    # the locked central list, same workload: one lock per transfer, one more per grow
    locked = _run("tcmalloc", 48, 2 * per_span)
    (mc,) = [row for row in locked.locks if row["kind"] == "mcentral"]
    assert mc["acquisitions"] == 12 + 2
    assert locked.metrics["refills"] == 12


def test_tcmalloc_lockfree_hands_out_every_object_once() -> None:
    """Outside the simulation: four Ps draw batches of one class from the shared
    span sets; no address is handed out twice and the heap stays consistent,
    before and after the caches give their unused objects back."""
    rt = Runtime(get_design("tcmalloc").with_overrides({"mcentral": "lockfree"}), 4)
    addrs = [rt.malloc(48, p=i % 4) for i in range(1000)]
    assert len(set(addrs)) == 1000
    rt.check_invariants()
    for p in range(4):
        rt.release_all(p)
    rt.check_invariants()
    assert rt.stats.heap_alloc_bytes == 1000 * 48


@pytest.mark.parametrize("procs", [1, 3])
def test_tcmalloc_lockfree_step_and_batched_agree(procs: int) -> None:
    sc = {"design": TCMALLOC_LOCKFREE, "gomaxprocs": procs, "seed": 7,
          "workload": {"groups": [{"count": procs + 1, "allocations": 900,
                                   "size": {"dist": "choice", "values": [16, 48, 1024, 40000]},
                                   "work_ns": {"dist": "exponential", "mean": 30}}]}}
    step = simulate(Scenario.model_validate({**sc, "mode": "step"})).to_dict()
    batched = simulate(Scenario.model_validate({**sc, "mode": "batched"})).to_dict()
    assert step == batched
    assert step["metrics"]["allocs_completed"] == (procs + 1) * 900


# -- mcentral_lock: shared (one mcentral lock for every span class) --------------------------
def _two_classes(overrides: dict[str, Any], procs: int) -> Any:
    """go1.14, two goroutines: 16 objects of 1 KiB (8 per 1-page span) and 8
    of 2 KiB (4 per 1-page span), go1.12's table: two refills each."""
    return simulate(Scenario.model_validate({
        "design": {"preset": "go1.14", "overrides": overrides}, "gomaxprocs": procs,
        "mode": "step", "time_slice_ns": 10**15,
        "workload": {"groups": [
            {"name": "kib", "count": 1, "allocations": 16, "size": 1024,
             "pointer_free_fraction": 1.0, "work_ns": 0},
            {"name": "two_kib", "count": 1, "allocations": 8, "size": 2048,
             "pointer_free_fraction": 1.0, "work_ns": 0}]}}))


def test_shared_mcentral_lock_one_row_for_two_classes() -> None:
    """Each refill grows a span (go1.14 mcentral.go cacheSpan): lock, find the
    lists empty, unlock, grow, relock to insert: two acquisitions; the refill
    that replaces a full span leaves it on the 'empty' list without the lock.
    Two refills per class, two classes: 4 acquisitions on each class's lock,
    or all 8 on the one shared lock."""
    t = get_table(get_design("go1.14").sizeclasses)
    spc_1k = t.size_to_class(1024) << 1 | 1
    spc_2k = t.size_to_class(2048) << 1 | 1
    per_class = _two_classes({}, 1)
    rows = [(r["lock"], r["kind"], r["span_class"], r["acquisitions"], r["contended"])
            for r in per_class.locks if r["kind"] == "mcentral"]
    assert rows == [(f"mcentral[spc={spc_1k}]", "mcentral", spc_1k, 4, 0),
                    (f"mcentral[spc={spc_2k}]", "mcentral", spc_2k, 4, 0)]
    shared = _two_classes({"mcentral_lock": "shared"}, 1)
    rows = [(r["lock"], r["kind"], r["span_class"], r["size_class"], r["acquisitions"],
             r["contended"]) for r in shared.locks if r["kind"] == "mcentral"]
    assert rows == [("mcentral[shared]", "mcentral", -1, -1, 8, 0)]
    assert shared.metrics["lock_mcentral_acquisitions"] == 8
    # one P, nothing contends: the runs differ in nothing but the lock rows' names
    a, b = per_class.to_dict(), shared.to_dict()
    for d in (a, b):
        d.pop("locks")
        d.pop("flow")
        d["metrics"].pop("design")
        d["metrics"].pop("lock_mcentral_max_utilisation")
    assert a == b
    # the flow's edges into both mcentrals carry the one lock's totals
    edges = [(e["dst"], e["lock"], e["lock_acquisitions"]) for e in shared.flow
             if e["dst"].startswith("mcentral")]
    assert edges == [(f"mcentral[spc={spc_1k}]", "mcentral[shared]", 8),
                     (f"mcentral[spc={spc_2k}]", "mcentral[shared]", 8)]


def test_shared_mcentral_lock_contends_across_classes() -> None:
    """Two Ps refill different classes at t=0: per-class locks never contend;
    the shared lock makes one P wait. Acquisitions are the same either way."""
    per_class = _two_classes({}, 2)
    shared = _two_classes({"mcentral_lock": "shared"}, 2)
    pc = [r for r in per_class.locks if r["kind"] == "mcentral"]
    (sh,) = [r for r in shared.locks if r["kind"] == "mcentral"]
    assert sum(r["acquisitions"] for r in pc) == sh["acquisitions"] == 8
    assert all(r["contended"] == 0 for r in pc)
    assert sh["contended"] >= 1 and sh["wait_total_ns"] > 0
    assert shared.metrics["p_time_share_wait_mcentral"] > 0
    assert per_class.metrics.get("p_time_share_wait_mcentral", 0.0) == 0.0


def test_shared_mcentral_lock_ranks_as_mcentral_and_passes_the_check() -> None:
    for preset, name, kind in (("go1.14", "mcentral[shared]", "mcentral"),
                               ("go1.27", "mcentral[shared].spanset", "spanset"),
                               ("tcmalloc", "mcentral[shared]", "mcentral")):
        d = get_design(preset).with_overrides({"mcentral_lock": "shared"})
        g = lock_ranking(d)
        central = [n for n, a in g.nodes(data=True) if a["kind"] == kind]
        assert central == [name], preset
        if preset == "go1.14":
            assert g.nodes[name]["go_rank"] == "lockRankMcentral"
            assert g.has_edge(name, "mheap")
    sc = {"design": {"preset": "go1.27", "overrides": {"mcentral_lock": "shared"}},
          "gomaxprocs": 2, "check_lock_order": True,
          "workload": {"groups": [{"count": 2, "allocations": 300,
                                   "size": {"dist": "choice", "values": [48, 1024]}}]}}
    r = simulate(Scenario.model_validate(sc))
    (cell,) = [row for row in r.locks if row["kind"] == "spanset"]
    assert cell["lock"] == "mcentral[shared].spanset"


# -- requested_bytes: what the program asked for, before rounding ---------------------------
def _mix(mode: str, procs: int, duration_ns: int | None = None) -> Any:
    """go1.27: pointerful 1000 B (an 8-byte malloc header: 1008 -> the 1024 B
    class), pointer-free 5 B (tiny: three per 16-byte block), 40000 B (large:
    5 pages) and mallocgc(0), which counts nothing."""
    def grp(name: str, n: int, size: int, pf: float) -> dict[str, Any]:
        return {"name": name, "count": 1, "allocations": n, "size": size,
                "pointer_free_fraction": pf, "work_ns": {"dist": "exponential", "mean": 20}}
    return simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": procs, "mode": mode, "seed": 3,
        "duration_ns": duration_ns,
        "workload": {"groups": [grp("headers", 100, 1000, 0.0), grp("tiny", 50, 5, 1.0),
                                grp("large", 3, 40000, 1.0), grp("zero", 10, 0, 1.0)]}}))


@pytest.mark.parametrize("mode", ["step", "batched"])
def test_requested_bytes_hand_computed(mode: str) -> None:
    m = _mix(mode, 1).metrics
    assert m["mallocs"] == 100 + 50 + 3
    assert m["requested_bytes"] == 100 * 1000 + 50 * 5 + 3 * 40000 == 220_250
    tiny_blocks = -(-50 // 3)  # 5 B at offsets 0, 5, 10; the fourth needs a new block
    assert m["tiny_blocks"] == tiny_blocks == 17
    assert m["total_alloc_bytes"] == 100 * 1024 + tiny_blocks * 16 + 3 * 5 * 8192 == 225_552


@pytest.mark.parametrize("procs, duration_ns", [(1, None), (3, None), (3, 40_000)])
def test_requested_bytes_step_and_batched_agree(procs: int, duration_ns: int | None) -> None:
    """Every metric agrees, requested_bytes included, also when a timed run cuts
    the goroutines off mid-run; a random size mix goes through the generic
    batch path, a constant small size through the vectorised one."""
    step, batched = (_mix(mode, procs, duration_ns).to_dict() for mode in ("step", "batched"))
    assert step == batched
    assert 0 < step["metrics"]["requested_bytes"] <= step["metrics"]["total_alloc_bytes"]
    sc = {"design": "go1.15", "gomaxprocs": procs, "seed": 5, "duration_ns": duration_ns,
          "workload": {"groups": [
              {"count": procs, "allocations": 3000, "size": 100, "work_ns": 0},
              {"count": 2, "allocations": 2000,
               "size": {"dist": "lognormal", "mean": 200, "sigma": 1.0}}]}}
    step, batched = (simulate(Scenario.model_validate({**sc, "mode": mode})).to_dict()
                     for mode in ("step", "batched"))
    assert step == batched
    m = step["metrics"]
    assert m["requested_bytes"] < m["total_alloc_bytes"]
