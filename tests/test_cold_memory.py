"""Memory out of cache and the write barrier (gosim/sim/alloc.py,
gosim/runtime/mheap.py ``MHeap.cold_bytes``): what they charge, when, and that
the batched paths charge exactly what the step path does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gosim.scenario import Scenario
from gosim.sim import simulate

MIB = 1 << 20
COLD = {"cold_alloc_ns": 20, "cold_per_byte_ns": 0.05, "cold_span_ns": 200}


def _sc(size: int, *, procs: int = 1, live_mib: int = 16, gc: bool = True,
        costs: dict[str, Any] | None = None, mode: str = "batched",
        duration_ns: int = 6_000_000) -> Scenario:
    return Scenario.model_validate({
        "design": {"preset": "go1.27"},
        "gomaxprocs": procs,
        "mode": mode,
        "workload": {
            "live_heap": {"bytes": live_mib * MIB, "object_size": 1024, "pointer_free": False},
            "groups": [{"name": "g", "count": procs, "size": size, "pointer_free_fraction": 1.0,
                        "lifetime": "drop", "touch": True}],
        },
        "gc": {"enabled": gc},
        "duration_ns": duration_ns,
        "seed": 3,
        "costs": costs or {},
    })


def _run(sc: Scenario) -> tuple[dict[str, Any], dict[str, float]]:
    rec: dict[str, float] = {}
    return simulate(sc, cost_record=rec).to_dict(), rec


def _dump(d: dict[str, Any]) -> str:
    return json.dumps(d, sort_keys=True, default=str)


@pytest.mark.parametrize("size", [48, 1024, 32768])
def test_cold_and_barrier_step_equals_batched(size: int) -> None:
    """Coldness is decided per span when it is cached, the barrier by the phase a
    batch cannot cross: the batched paths charge what the step path does."""
    costs = {**COLD, "gc_write_barrier_ns": 7, "llc_bytes": 4 * MIB}
    batched, rb = _run(_sc(size, procs=2, costs=costs))
    step, rs = _run(_sc(size, procs=2, costs=costs, mode="step"))
    assert rb == rs
    assert rb.get("cold_alloc_ns", 0) > 0 and rb.get("gc_write_barrier_ns", 0) > 0
    for d in (batched, step):
        d.pop("scenario", None)
        d.get("run", {}).pop("mode", None)
    assert _dump(batched["metrics"]) == _dump(step["metrics"])


def test_heap_within_the_cache_is_never_cold() -> None:
    """A heap that fits the last-level cache pays nothing, byte for byte the run
    without the cold costs; one bigger than it pays for every reused object."""
    plain, r0 = _run(_sc(1024))
    roomy, r1 = _run(_sc(1024, costs={**COLD, "llc_bytes": 1 << 40}))
    assert _dump(plain) != "" and r1 == r0 and "cold_alloc_ns" not in r1
    plain.pop("scenario", None)
    roomy.pop("scenario", None)
    assert _dump(plain) == _dump(roomy)
    cold, r2 = _run(_sc(1024, costs={**COLD, "llc_bytes": 4 * MIB}))
    assert r2["cold_alloc_ns"] > 0 and r2["cold_span_ns"] > 0
    # each cold object pays the per-byte cost for its 1 KiB
    assert r2["cold_per_byte_ns"] == pytest.approx(1024 * r2["cold_alloc_ns"])
    assert cold["metrics"]["allocs_per_sim_second"] < plain["metrics"]["allocs_per_sim_second"]


def test_fresh_memory_is_not_cold() -> None:
    """GC off: every object is in fresh memory (the kernel zeroed its page on the
    fault, so it is in cache): no cold charge however small the cache."""
    _, rec = _run(_sc(1024, gc=False, live_mib=0, costs={**COLD, "llc_bytes": 1}))
    assert "cold_alloc_ns" not in rec and "cold_span_ns" not in rec
    assert rec["malloc_fast_ns"] > 1000


def test_write_barrier_only_while_marking() -> None:
    """The barrier is charged on allocations made while the collector marks: none
    with the GC off, some but not all with it on, and exactly the cost per charge."""
    _, off = _run(_sc(48, gc=False, live_mib=0, costs={"gc_write_barrier_ns": 9}))
    assert "gc_write_barrier_ns" not in off
    d0, r0 = _run(_sc(48, costs={"gc_write_barrier_ns": 0}))
    assert "gc_write_barrier_ns" not in r0
    d9, r9 = _run(_sc(48, costs={"gc_write_barrier_ns": 9}))
    n = r9["gc_write_barrier_ns"]
    assert d9["metrics"]["num_gc"] >= 1
    assert 0 < n < r9["malloc_fast_ns"]
    # the ballast's first cycle marks 16 MiB: the barrier slows the allocating run
    assert d9["metrics"]["allocs_per_sim_second"] < d0["metrics"]["allocs_per_sim_second"]


def test_the_ground_truth_shows_the_allocating_code_slower_with_a_big_heap() -> None:
    """The fact the cold-memory costs stand for (docs/decisions.md): in the
    shared 16-core records at one P, the user CPU per allocation (runtime/metrics
    /cpu/classes/user over the allocations) is at least 1.8 times higher with
    the 256 MiB live heap than with none, at every size, while the collector
    takes under a third of the CPU: the allocating code itself slowed down."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments/groundtruth/go1.27-16core.jsonl"
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    one = {(r["ballast_mib"], r["size"]): r for r in recs
           if r["gomaxprocs"] == 1 and r["mode"] == "gc"}

    def user_ns(r: dict[str, Any]) -> float:
        return r["metrics"]["/cpu/classes/user:cpu-seconds"] / r["allocs"] * 1e9

    for size in (48, 1024, 32768):
        small, big = one[0, size], one[256, size]
        assert user_ns(big) >= 1.8 * user_ns(small)
        assert big["cpu_gc_s"] < big["cpu_total_s"] / 3
    # 48 B: 22 ns and 46 ns, as docs/decisions.md reads them
    assert round(user_ns(one[0, 48])) == 22 and round(user_ns(one[256, 48])) == 46


# -- memory another P wrote last (MHeap.remote, remote_per_byte_ns) -------------------------

REMOTE = {"remote_per_byte_ns": 0.3}


@pytest.mark.parametrize("size", [48, 1024, 32768])
def test_remote_step_equals_batched(size: int) -> None:
    """Whether a span's memory was written last on another P is decided when it
    is cached (or, for a large object, allocated): both modes charge alike."""
    batched, rb = _run(_sc(size, procs=3, live_mib=0, costs=REMOTE))
    step, rs = _run(_sc(size, procs=3, live_mib=0, costs=REMOTE, mode="step"))
    assert rb == rs
    assert rb.get("remote_per_byte_ns", 0) > 0
    assert _dump(batched["metrics"]) == _dump(step["metrics"])


def test_remote_needs_reuse_by_another_p() -> None:
    """One P writes all its memory itself, and with the GC off every span is fresh
    memory (zeroed by the kernel on the faulting core): nothing is remote. With
    two Ps and the GC on, reused spans change hands and pay per byte."""
    _, one = _run(_sc(1024, procs=1, live_mib=0, costs=REMOTE))
    assert "remote_per_byte_ns" not in one and one["zero_per_byte_ns"] > 0
    _, off = _run(_sc(1024, procs=2, live_mib=0, gc=False, costs=REMOTE))
    assert "remote_per_byte_ns" not in off
    d0, _ = _run(_sc(1024, procs=2, live_mib=0))
    d1, two = _run(_sc(1024, procs=2, live_mib=0, costs=REMOTE))
    # a multiple of the object size: whole objects are charged
    assert two["remote_per_byte_ns"] > 0 and two["remote_per_byte_ns"] % 1024 == 0
    assert two["remote_per_byte_ns"] < two["zero_per_byte_ns"]
    assert d1["metrics"]["allocs_per_sim_second"] < d0["metrics"]["allocs_per_sim_second"]


def test_out_of_cache_memory_is_cold_not_remote() -> None:
    """A heap bigger than the last-level cache is read from DRAM whoever wrote it:
    the cold costs apply and the remote one does not (12 ms: two cycles, so
    that spans are reused)."""
    _, rec = _run(_sc(1024, procs=2, costs={**COLD, **REMOTE, "llc_bytes": 4 * MIB},
                      duration_ns=12_000_000))
    assert rec.get("cold_per_byte_ns", 0) > 0
    _, warm = _run(_sc(1024, procs=2, costs=REMOTE, duration_ns=12_000_000))
    assert warm.get("remote_per_byte_ns", 0) > rec.get("remote_per_byte_ns", 0)


def test_the_ground_truth_shows_allocation_slower_per_p_with_more_ps() -> None:
    """The fact the remote cost stands for: in the shared 16-core records with
    the GC on and no live heap, the user CPU per allocation outside lock waits
    (/cpu/classes/user less /sync/mutex/wait/total, over the allocations) is at
    least 1.8 times higher at 4 Ps than at 1 P, at every size."""
    busy = _real_busy_ns()
    for size in (48, 1024, 32768):
        assert busy[size, 4] >= 1.8 * busy[size, 1]


def _real_busy_ns() -> dict[tuple[int, int], float]:
    """(size, GOMAXPROCS) -> the shared file's user CPU per allocation outside
    lock waits, ns, of its GC-on records without a live heap."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments/groundtruth/go1.27-16core.jsonl"
    out = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r["mode"] == "gc" and not r.get("ballast_mib"):
            m = r["metrics"]
            user = m["/cpu/classes/user:cpu-seconds"] - m["/sync/mutex/wait/total:seconds"]
            out[r["size"], r["gomaxprocs"]] = user / r["allocs"] * 1e9
    return out


# -- remote_per_p_growth: the remote cost dearer with more Ps (an experiment) -----------------

def _metrics(sc: Scenario) -> str:
    return _dump(simulate(sc).to_dict()["metrics"])


def test_remote_growth_is_the_remote_cost_scaled_by_the_ps_beyond_two() -> None:
    """At 4 Ps a growth of 0.25 charges what remote_per_byte_ns x (1 + 0.25 x 2)
    charges without it, to the last metric; at 2 Ps it changes nothing."""
    grown = _metrics(_sc(1024, procs=4, live_mib=0,
                         costs={"remote_per_byte_ns": 0.3, "remote_per_p_growth": 0.25}))
    scaled = _metrics(_sc(1024, procs=4, live_mib=0, costs={"remote_per_byte_ns": 0.45}))
    plain = _metrics(_sc(1024, procs=4, live_mib=0, costs=REMOTE))
    assert grown == scaled != plain
    assert (_metrics(_sc(1024, procs=2, live_mib=0,
                         costs={**REMOTE, "remote_per_p_growth": 0.25}))
            == _metrics(_sc(1024, procs=2, live_mib=0, costs=REMOTE)))


def test_remote_growth_step_equals_batched() -> None:
    costs = {**REMOTE, "remote_per_p_growth": 0.3}
    batched, rb = _run(_sc(1024, procs=3, live_mib=0, costs=costs))
    step, rs = _run(_sc(1024, procs=3, live_mib=0, costs=costs, mode="step"))
    assert rb == rs and rb["remote_per_byte_ns"] > 0
    assert _dump(batched["metrics"]) == _dump(step["metrics"])


def test_remote_growth_needs_a_constant_remote_cost() -> None:
    from gosim.errors import ConfigError

    sc = _sc(1024, procs=3, live_mib=0, costs={
        "remote_per_byte_ns": {"dist": "exponential", "mean": 0.3}, "remote_per_p_growth": 0.2})
    with pytest.raises(ConfigError, match="remote_per_p_growth needs a constant") as e:
        simulate(sc)
    assert e.value.key == "costs.remote_per_p_growth"


def test_the_ground_truth_shows_the_per_p_slowdown_growing_beyond_four_ps() -> None:
    """The fact remote_per_p_growth stands for: in the shared 16-core records with
    the GC on and no live heap, the user CPU per allocation outside lock waits
    keeps growing from 4 to 16 Ps at every size (by at least 1.5 times), where
    a remote cost fixed per byte could grow it only by the share of reused
    memory another P wrote last, (P - 1) / P: 0.75 to 0.94, 1.25 times."""
    busy = _real_busy_ns()
    for size in (48, 1024, 32768):
        assert busy[size, 16] >= 1.5 * busy[size, 4]
