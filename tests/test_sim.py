"""The SimPy layer: mode equivalence, determinism, theory cross-checks, lock-freedom."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gosim.analysis.theory import mva_machine_repairman
from gosim.errors import ConfigError
from gosim.runtime.design import get_design
from gosim.scenario import Scenario
from gosim.sim import simulate
from gosim.sim.costmodel import CostModel
from gosim.sim.costs import COST_PARAMETERS


def _scenario(**kw) -> Scenario:
    base = {
        "design": "go1.27", "gomaxprocs": 3, "time_slice_ns": 200_000,
        "workload": {"groups": [
            {"name": "mixed", "count": 3, "allocations": 8000,
             "size": {"dist": "choice", "values": [8, 12, 48, 1024, 40000],
                      "weights": [3, 2, 5, 2, 0.05]},
             "pointer_free_fraction": 0.6, "work_ns": {"dist": "exponential", "mean": 40}},
            {"name": "fixed", "count": 2, "allocations": 12000, "size": 48,
             "work_ns": {"dist": "lognormal", "mean": 30, "sigma": 0.5}},
        ]},
        "costs": {"pagealloc_ns": {"dist": "exponential", "mean": 400},
                  "malloc_fast_ns": {"dist": "uniform", "low": 5, "high": 20}},
    }
    base.update(kw)
    return Scenario.model_validate(base)


def _dump(r) -> str:
    return json.dumps(r.to_dict(), sort_keys=True, default=str)


def _modes_agree(**kw):
    """Run _scenario(**kw) batched and stepped; assert identical results; return one."""
    a = simulate(_scenario(mode="batched", **kw))
    b = simulate(_scenario(mode="step", **kw))
    assert _dump(a) == _dump(b)
    return a


@pytest.mark.parametrize("design", ["go1.12", "go1.14", "go1.27", "tcmalloc"])
@pytest.mark.parametrize("duration_ns", [None, 1_200_000])
def test_batched_equals_step_metric_for_metric(design, duration_ns):
    kw = {"design": design}
    if duration_ns:
        kw["duration_ns"] = duration_ns
    a = _modes_agree(**kw)
    assert a.metrics["allocs_completed"] > 1000


def test_batched_equals_step_fifo_and_fixed_sizes():
    kw = {"design": "go1.12", "gomaxprocs": 4, "lock_policy": "fifo",
          "workload": {"groups": [{"count": 8, "allocations": 20000, "size": 1024,
                                   "work_ns": {"dist": "exponential", "mean": 100}}]}}
    a = _modes_agree(**kw)
    assert a.metrics["lock_mcentral_contended"] > 0


def test_same_seed_same_result_other_seed_differs():
    a, b = simulate(_scenario(seed=7)), simulate(_scenario(seed=7))
    assert _dump(a) == _dump(b)
    c = simulate(_scenario(seed=8))
    assert _dump(a) != _dump(c)


def test_allocation_counts_are_exact():
    r = simulate(_scenario())
    assert r.metrics["mallocs"] == 3 * 8000 + 2 * 12000
    assert r.metrics["allocs_completed"] == 3 * 8000 + 2 * 12000


def test_go112_48_byte_allocations_take_no_lock_but_once_per_span():
    sc = Scenario.model_validate({
        "design": "go1.12", "gomaxprocs": 4, "gc": {"enabled": False},
        "workload": {"groups": [{"count": 4, "allocations": 170 * 200, "size": 48,
                                 "work_ns": 20}]}})
    m = simulate(sc).metrics
    total = 4 * 170 * 200
    # each refill (one per 170-object span) takes the mcentral lock; nothing else does
    assert m["locked_allocs"] == m["refills"] == 4 * 200
    assert m["lock_free_fraction"] >= 0.99
    assert m["lock_free_fraction"] == pytest.approx(1 - 1 / 170, abs=1e-12)
    assert m["mallocs"] == total


def _zero_costs() -> dict:
    return {name: 0 for name in COST_PARAMETERS}


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_single_lock_matches_mean_value_analysis(n):
    """global-lock design, exponential hold (the fast path) and think (work) times,
    every other cost zero: the closed machine-repairman network."""
    think, hold = 400.0, 100.0
    costs = _zero_costs()
    costs["malloc_fast_ns"] = {"dist": "exponential", "mean": hold}
    sc = Scenario.model_validate({
        "design": "global-lock", "gomaxprocs": n, "duration_ns": 60_000_000,
        "lock_policy": "fifo",
        "workload": {"groups": [{"count": n, "size": 48,
                                 "work_ns": {"dist": "exponential", "mean": think}}]},
        "costs": costs, "warmup": {"method": "fixed", "duration_ns": 1_000_000}, "seed": 3})
    r = simulate(sc)
    m = r.metrics
    theory = mva_machine_repairman(n, think, hold)
    assert m["allocs_per_sim_second"] / 1e9 == pytest.approx(theory.throughput_per_ns, rel=0.03)
    gl = next(row for row in r.locks if row["kind"] == "global")
    if n > 1:
        assert gl["wait_mean_ns"] == pytest.approx(theory.wait_ns, rel=0.03, abs=1.0)
    else:
        assert gl["wait_mean_ns"] == 0


def test_mva_reference_values():
    # N=1: no queueing; throughput 1/(Z+S)
    r = mva_machine_repairman(1, 400, 100)
    assert r.throughput_per_ns == pytest.approx(1 / 500)
    assert r.wait_ns == 0
    # saturation: throughput approaches 1/S
    assert mva_machine_repairman(64, 400, 100).throughput_per_ns == pytest.approx(1 / 100, rel=1e-6)


def _p_time(r) -> dict[str, int]:
    tot: dict[str, int] = {}
    for row in r.p_time:
        tot[row["category"]] = tot.get(row["category"], 0) + row["ns"]
    return tot


def test_p_time_matches_independent_counts():
    """Constant costs, 48 B objects on 3 Ps sharing go1.12's locks: P time on the
    fast path and in work is exactly allocations x cost; waiting on each lock kind
    is exactly what the lock rows counted as waits."""
    sc = _scenario(design="go1.12", costs={}, workload={"groups": [
        {"count": 6, "allocations": 3000, "size": 48, "pointer_free_fraction": 1.0,
         "work_ns": 20}]})
    r = simulate(sc)
    m, pt = r.metrics, _p_time(r)
    n = 6 * 3000
    assert m["allocs_completed"] == n
    assert pt["fast_path"] == n * COST_PARAMETERS["malloc_fast_ns"].default
    assert pt["work"] == n * 20
    waits = {row["kind"]: row["wait_total_ns"] for row in r.locks}
    assert waits["mcentral"] > 0
    for kind, ns in waits.items():
        assert pt.get(f"wait:{kind}", 0) == ns


@pytest.mark.parametrize("design,mutex,size", [("go1.14", "futex", 1024),
                                               ("global-lock", "spinbit", 48)])
def test_every_goroutine_progresses_under_a_saturated_lock(design, mutex, size):
    """16 Ps on one saturated lock (go1.14's 1 KiB mcentral, waiting is most of
    the P time): unlock wakes sleepers as lock_futex.go / lock_spinbit.go do, so
    every goroutine keeps allocating (before, sleepers starved: 3 of 16 goroutines
    completed no allocation). Each P always has its goroutine, so no P time is
    idle: waits still in progress at the end count as waiting."""
    sc = Scenario.model_validate({
        "design": {"preset": design, "overrides": {"mutex": mutex}}, "gomaxprocs": 16,
        "duration_ns": 1_000_000, "seed": 35112, "gc": {"enabled": False},
        "workload": {"groups": [{"count": 16, "size": size, "pointer_free_fraction": 1.0,
                                 "work_ns": {"dist": "exponential", "mean": 50}}]}})
    r = simulate(sc)
    m = r.metrics
    share = sum(v for k, v in m.items() if k.startswith("p_time_share_wait_"))
    assert share > 0.5
    assert m["goroutine_allocs_min"] > m["goroutine_allocs_max"] // 4 > 0
    assert 16 * m["goroutine_allocs_min"] <= m["allocs_completed"] <= 16 * m["goroutine_allocs_max"]
    assert m["p_time_share_idle"] == 0
    per_p: dict[int, int] = {}
    for row in r.p_time:
        if row["category"] != "idle":
            per_p[row["p"]] = per_p.get(row["p"], 0) + row["ns"]
    assert per_p == dict.fromkeys(range(16), 1_000_000)


def _const_cost_scenario(design: str, mode: str) -> Scenario:
    return Scenario.model_validate({
        "design": design, "gomaxprocs": 1, "mode": mode, "time_slice_ns": 100_000,
        "costs": {"zero_per_byte_ns": 1},  # every value a whole number of ns
        # the allocator's costs (the collector's mark work is not a cost parameter)
        "gc": {"enabled": False},
        "workload": {"groups": [
            {"count": 2, "allocations": 4000, "size": 48, "work_ns": 7},
            {"count": 1, "allocations": 3000,
             "size": {"dist": "choice", "values": [8, 16, 1024, 40_000]},
             "pointer_free_fraction": 0.5, "work_ns": 0}]}})


@pytest.mark.parametrize("design", ["go1.12", "go1.27", "tcmalloc"])
def test_cost_record_accounts_for_all_busy_time(design):
    """One P, constant costs: the time the P is busy other than work is exactly the
    sum over cost parameters of units charged x value, in step and batched mode,
    and both modes charge the same units."""
    records = []
    for mode in ("step", "batched"):
        sc = _const_cost_scenario(design, mode)
        values = CostModel(dict(get_design(design).costs), sc.costs).constants
        rec: dict[str, float] = {}
        r = simulate(sc, cost_record=rec)
        pt = _p_time(r)
        busy = sum(v for c, v in pt.items() if c not in ("idle", "work"))
        assert sum(u * values[name] for name, u in rec.items()) == busy
        assert rec["malloc_fast_ns"] + rec.get("tiny_fast_ns", 0) == r.metrics["mallocs"] - \
            r.metrics["large_allocs"]
        assert rec["sched_switch_ns"] > 0 and rec["sysalloc_ns"] > 0
        records.append(rec)
    assert records[0] == records[1]


def test_more_ps_more_throughput_until_locks_bind():
    def thr(design, n):
        sc = Scenario.model_validate({
            "design": design, "gomaxprocs": n, "duration_ns": 2_000_000,
            "workload": {"groups": [{"count": n, "size": 48, "work_ns": 20}]}})
        return simulate(sc).metrics["allocs_per_sim_second"]
    g27 = [thr("go1.27", n) for n in (1, 2, 4)]
    gl = [thr("global-lock", n) for n in (1, 2, 4)]
    assert g27[2] > 3.5 * g27[0]           # near-linear: no lock on the fast path
    assert gl[2] < 1.6 * gl[0]             # one lock around every malloc saturates


def test_bad_cost_name_is_a_config_error():
    with pytest.raises(ConfigError, match="no_such_cost"):
        simulate(_scenario(costs={"no_such_cost": 3}))


@pytest.mark.parametrize("design", ["go1.12", "go1.27"])
def test_batched_equals_step_one_p_across_time_slices(design):
    """One P: goroutine clocks run ahead of SimPy's; preemption must not lose time."""
    kw = {"design": design, "gomaxprocs": 1, "time_slice_ns": 1_000_000,
          "workload": {"groups": [
              {"count": 2, "allocations": 600, "size": 256 * 1024},
              {"count": 1, "allocations": 30000,
               "size": {"dist": "choice", "values": [8, 48, 40000], "weights": [5, 5, 0.1]}}]}}
    a = _modes_agree(**kw)
    assert a.metrics["large_pages"] >= 1200 * 32
    # the one P is never idle: its busy time is exactly the run's length (time lost
    # at a preemption would make busy time exceed it)
    busy = sum(r["ns"] for r in a.p_time if r["category"] != "idle")
    assert busy == a.metrics["sim_time_ns"]
    assert a.metrics["p_time_share_sched"] > 0  # slices did end


def test_fifo_hand_off_pays_the_wake_up_barging_does_not():
    """Saturated lock, no spinning: FIFO reserves the lock for a sleeping waiter
    for the whole wake-up latency (throughput 1/(hold + wake-up)); barging lets
    running Ms take it meanwhile."""
    def run(policy):
        costs = _zero_costs()
        costs.update(malloc_fast_ns=100, lock_wakeup_ns=4000, lock_spin_ns=0)
        sc = Scenario.model_validate({
            "design": "global-lock", "gomaxprocs": 8, "duration_ns": 20_000_000,
            "lock_policy": policy, "warmup": {"method": "fixed", "duration_ns": 1_000_000},
            "workload": {"groups": [{"count": 8, "size": 48, "work_ns": 100}]},
            "costs": costs})
        return simulate(sc)
    fifo, barging = run("fifo"), run("barging")
    thr_fifo = fifo.metrics["allocs_per_sim_second"] / 1e9
    assert thr_fifo == pytest.approx(1 / (100 + 4000), rel=0.02)
    assert barging.metrics["allocs_per_sim_second"] > 3 * fifo.metrics["allocs_per_sim_second"]
    gl = {r["kind"]: r for r in barging.locks}["global"]
    assert gl["max_waiters"] == 7 and gl["contended"] > 0


@pytest.mark.parametrize("design", ["go1.12", "go1.27", "tcmalloc"])
@pytest.mark.parametrize("duration_ns", [None, 2_345_678])
def test_batched_equals_step_with_constant_times(design, duration_ns):
    """Constant costs and work take the arithmetic batch path; it must agree too,
    across time slices, several Ps and the end of a timed run."""
    kw = {"design": design, "gomaxprocs": 3, "time_slice_ns": 150_000, "costs": {},
          "workload": {"groups": [
              {"count": 4, "allocations": 9000, "size": 48, "work_ns": 17},
              {"count": 2, "allocations": 3000, "size": 1024, "pointer_free_fraction": 0.0,
               "work_ns": 0}]}}
    if duration_ns:
        kw["duration_ns"] = duration_ns
    a = _modes_agree(**kw)
    assert a.metrics["allocs_completed"] > 10_000

_SIZE = st.one_of(
    st.integers(0, 40_000),
    st.fixed_dictionaries({"dist": st.just("choice"),
                           "values": st.lists(st.integers(0, 70_000), min_size=1, max_size=4)}),
    st.fixed_dictionaries({"dist": st.just("uniform"), "low": st.just(1),
                           "high": st.integers(1, 2048)}),
)
_WORK = st.one_of(st.integers(0, 300),
                  st.fixed_dictionaries({"dist": st.just("exponential"),
                                         "mean": st.integers(1, 300)}))
_GROUP = st.fixed_dictionaries({
    "count": st.integers(1, 3), "allocations": st.integers(0, 1500), "size": _SIZE,
    "pointer_free_fraction": st.sampled_from([0.0, 0.5, 1.0]), "work_ns": _WORK,
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(design=st.sampled_from(["go1.12", "go1.14", "go1.27", "tcmalloc", "global-lock"]),
       procs=st.integers(1, 4), groups=st.lists(_GROUP, min_size=1, max_size=3),
       duration=st.one_of(st.none(), st.integers(1_000, 400_000)),
       slice_ns=st.sampled_from([5_000, 50_000, 10_000_000]),
       policy=st.sampled_from(["barging", "fifo"]), seed=st.integers(0, 2**32))
def test_batched_equals_step_on_random_scenarios(design, procs, groups, duration, slice_ns,
                                                 policy, seed):
    if duration is not None:  # a timed run: goroutines allocate until it ends
        groups = [dict(g, allocations=None) for g in groups]
    spec = {"design": design, "gomaxprocs": procs, "workload": {"groups": groups},
            "time_slice_ns": slice_ns, "lock_policy": policy, "seed": seed}
    if duration is not None:
        spec["duration_ns"] = duration
    a = simulate(Scenario.model_validate(dict(spec, mode="batched")))
    b = simulate(Scenario.model_validate(dict(spec, mode="step")))
    assert _dump(a) == _dump(b)
    if duration is None:
        assert a.metrics["allocs_completed"] == sum(g["count"] * g["allocations"] for g in groups)


@pytest.mark.parametrize("design,size,noscan,count,faults", [
    # 16..512 B spans under Green Tea carry inline mark bits in their last bytes:
    # initSpan's write faults in one fresh OS page per span
    ("go1.27", 48, True, 168 * 50, 50),
    ("go1.27", 512, False, 15 * 40, 40),
    # 1024 B pointerful -> 1152 B class (7 per span) with malloc headers at
    # 0, 1152, ..., 6912: headers land on both 4 KiB pages of each span
    ("go1.27", 1024, False, 7 * 30, 60),
    # pointer-free objects > 512 B and large objects: the allocator writes nothing
    ("go1.27", 1024, True, 8 * 30, 0),
    ("go1.27", 100_000, False, 20, 0),
    # go1.25: pointer bits only in pointerful spans
    ("go1.25", 48, True, 170 * 20, 0),
    ("go1.25", 48, False, 168 * 20, 20),
    # go1.12: heap bits in a separate bitmap, no headers
    ("go1.12", 1024, False, 8 * 30, 0),
])
@pytest.mark.parametrize("mode", ["batched", "step"])
def test_allocator_page_faults_are_exact(design, size, noscan, count, faults, mode):
    sc = Scenario.model_validate({
        "design": design, "mode": mode,
        "workload": {"groups": [{"allocations": count, "size": size,
                                 "pointer_free_fraction": 1.0 if noscan else 0.0}]}})
    r = simulate(sc)
    m = r.metrics
    assert m["alloc_page_faults"] == faults
    # every fault, the span's and the GC bits arena's, is the kernel's time: at
    # 1 P nothing else faults at once, so each costs exactly page_fault_ns
    kernel = sum(row["ns"] for row in r.p_time if row["category"] == "pagefault")
    assert kernel == (faults + m["gcbits_page_faults"]) * COST_PARAMETERS["page_fault_ns"].default
    assert m["gcbits_page_faults"] >= 1  # the first arena is fresh memory


@pytest.mark.parametrize("mutex,max_spinning", [("futex", 7), ("spinbit", 2)])
def test_spinbit_mutex_lets_one_waiter_spin(mutex, max_spinning):
    """lock_spinbit.go (Go 1.24+): one M holds the spin bit, the rest sleep, and an
    M woken from the tail of the stack spins beside it; lock_futex.go: all spin."""
    costs = _zero_costs()
    costs.update(malloc_fast_ns=500, lock_spin_ns=2000, lock_wakeup_ns=3000)
    sc = Scenario.model_validate({
        "design": {"preset": "global-lock", "overrides": {"mutex": mutex}}, "gomaxprocs": 8,
        "duration_ns": 5_000_000,
        "workload": {"groups": [{"count": 8, "size": 48, "work_ns": 50}]}, "costs": costs})
    a = simulate(sc)
    gl = {r["kind"]: r for r in a.locks}["global"]
    assert gl["max_spinning"] == max_spinning
    assert gl["max_waiters"] == 7
    b = simulate(Scenario.model_validate(dict(sc.model_dump(), mode="step")))
    assert _dump(a) == _dump(b)


@pytest.mark.parametrize("lifetime,expected", [
    ("drop", 0),
    ("keep", 3 * 5000 * 48),
    ({"kind": "allocations", "value": 100}, 3 * 100 * 48),
    ({"kind": "allocations", "value": 10_000}, 3 * 5000 * 48),
])
def test_live_heap_at_end_follows_lifetimes(lifetime, expected):
    sc = Scenario.model_validate({
        "gomaxprocs": 2, "workload": {"groups": [
            {"count": 3, "allocations": 5000, "size": 48, "lifetime": lifetime}]}})
    assert simulate(sc).metrics["heap_live_bytes_end"] == expected


def test_live_heap_for_time_lifetimes_counts_recent_objects():
    # constant 12 ns per allocation + 88 ns work: one completion every 100 ns per goroutine
    costs = _zero_costs()
    costs["malloc_fast_ns"] = 12
    sc = Scenario.model_validate({
        "workload": {"groups": [{"count": 1, "allocations": 5000, "size": 48, "work_ns": 88,
                                 "lifetime": {"kind": "time", "value": 10_000}}]},
        "costs": costs})
    m = simulate(sc).metrics
    # completions at 12, 112, ..., the last at 499,912; the run ends after its work at
    # 500,000: objects completed after 490,000 are alive -> 100 of them
    assert m["sim_time_ns"] == 500_000
    assert m["heap_live_bytes_end"] == 100 * 48


def test_timeseries_counts_every_allocation_and_tracks_the_heap():
    sc = Scenario.model_validate({
        "gomaxprocs": 2, "duration_ns": 2_000_000, "timeseries_interval_ns": 100_000,
        "workload": {"groups": [{"count": 2, "size": 1024, "work_ns": 100,
                                 "lifetime": "keep"}]}})
    r = simulate(sc)
    ts = r.timeseries
    assert len(ts) == 20
    assert sum(row["allocs"] for row in ts) == r.metrics["allocs_completed"]
    inuse = [row["heap_inuse_bytes"] for row in ts]
    assert inuse == sorted(inuse) and inuse[-1] > inuse[0] > 0  # nothing is freed
    assert all(row["heap_sys_bytes"] >= row["heap_inuse_bytes"] for row in ts)
    assert inuse[-1] <= r.metrics["heap_inuse_bytes"]
    b = simulate(Scenario.model_validate(dict(sc.model_dump(), mode="step")))
    assert _dump(r) == _dump(b)


def test_span_set_utilisation_is_a_fraction_of_time():
    """A span set's utilisation is the fraction of the run with an operation in
    flight: at most 1 and at most the operations' summed durations / run time
    (they overlap under contention)."""
    sc = Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": 8, "duration_ns": 300_000,
        "workload": {"groups": [{"count": 8, "size": 1024, "work_ns": 20}]}})
    r = simulate(sc)
    end = r.metrics["sim_time_ns"]
    rows = [row for row in r.locks if row["kind"] == "spanset"]
    assert rows and any(row["contended"] for row in rows)
    for row in rows:
        summed = row["hold_mean_ns"] * row["acquisitions"]
        assert 0 < row["utilisation"] <= 1
        assert row["utilisation"] * end <= summed
    assert any(row["utilisation"] * end < row["hold_mean_ns"] * row["acquisitions"]
               for row in rows)  # overlapping operations count once


def test_fixed_warmup_ends_on_a_completion_bin_boundary() -> None:
    """A fixed warm-up drops whole completion bins: the completions counted after
    it and the time they are divided by start at the same instant (a warm-up
    inside the first bin used to count that bin's completions over a shorter
    span, inflating throughput)."""
    def run(warm: int) -> dict:
        return simulate(Scenario.model_validate({
            "design": "go1.27", "gomaxprocs": 1, "seed": 3,
            "warmup": {"method": "fixed", "duration_ns": warm},
            "workload": {"groups": [{"size": 48, "pointer_free_fraction": 1.0,
                                     "allocations": 2000, "work_ns": 50}]}})).metrics
    none, inside, edge = run(0), run(29_999), run(30_000)  # untimed: 10 us bins
    assert none["warmup_ns"] == 0 and none["allocs_after_warmup"] == 2000
    assert inside["warmup_ns"] == edge["warmup_ns"] == 30_000
    assert inside["allocs_after_warmup"] == edge["allocs_after_warmup"] < 2000
    assert inside["allocs_per_sim_second"] == edge["allocs_per_sim_second"]
    span = none["sim_time_ns"] - 30_000
    assert edge["allocs_per_sim_second"] == edge["allocs_after_warmup"] / span * 1e9
