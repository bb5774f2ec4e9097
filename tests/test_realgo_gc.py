"""The model's collector against the real Go runtime, GC on, GOMAXPROCS=1 (issue 8).

Garbage workloads (every object dropped) at 48 B, 1 KiB and 32 KiB, with no
live heap and with 64 MiB live (pointerful 1 KiB nodes, built before the
baseline by the Go program: goprog/liveheap.go), run on the real runtime
(GOGC=100) and on the simulator with its collector (``simulate_scenario``,
as ``gosim realgo --gc`` runs them). Checked, with the tolerances
``gosim realgo --gc`` states (gosim/realgo/compare.py, docs/realgo.md):
``num_gc`` and the heap goal within 10% of the real runtime's, heap_sys
within 20%, and, cycle by cycle (the runtime's ``gcpacertrace``), where the
pacer triggers a cycle and where its mark phase ends relative to the goal,
and the bytes allocated in between; and heap_sys plateaus while mallocs
keep rising (the same workload with twice the allocations).

The collector's figures vary from run to run in the real runtime when other
jobs share the machine (its pacer measures time), so each real figure is the
median of several runs (``run_workload(repeat=...)``); the model's are
deterministic. With the two cores moderately busy (load average 2-3), five
runs of each live-heap case gave the same cycle count, goals within 3% and
heap_sys within 6% of each other; with two more busy processes, 3 of 8 runs
at 48 B set a goal ~20% higher (and at 1 KiB some ran 4 cycles, not 5): a
machine that loaded can fail these tests. Where the model misses a tolerance the case is a strict
xfail carrying the measured figures.

Skipped with GOSIM_SKIP_REALGO=1 or without a Go toolchain, as
tests/test_realgo.py is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gosim.errors import ToolchainMissingError
from gosim.realgo import probe as probe_mod
from gosim.realgo.compare import GC_TOLERANCES, Check, Placement, Row, checks_for, compare
from gosim.realgo.measure import RealRun, real_metrics, run_workload
from gosim.realgo.model import replay, simulate_scenario
from gosim.realgo.toolchain import GoToolchain, find_go
from gosim.realgo.workload import UnsupportedWorkloadError, build, to_spec
from gosim.scenario import Scenario

MiB = 1 << 20
LIVE = 64 * MiB
#: a pointerful 1 KiB node is a 1152 B object (1024 + the 8-byte malloc header)
LIVE_NODE_BYTES = 1152


@pytest.fixture(scope="module")
def go127() -> GoToolchain:
    if os.environ.get("GOSIM_SKIP_REALGO"):
        pytest.skip("GOSIM_SKIP_REALGO is set")
    try:
        tc = find_go("1.27")
    except ToolchainMissingError as e:
        pytest.skip(f"no Go toolchain: {e}")
    probe_mod.build_probe(tc)
    return tc


def scenario(size: int, allocations: int, live: int = 0, *, pointer_free: bool = False,
             object_size: int = 1024, grown: bool = True, **kw: Any) -> Scenario:
    return Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": 1, **kw,
        "workload": {"live_heap": {"bytes": live, "pointer_free": pointer_free,
                                   "object_size": object_size, "grown": grown},
                     "groups": [{"size": size, "allocations": allocations,
                                 "lifetime": "drop"}]}})


@dataclass(frozen=True)
class Case:
    size: int
    live: int
    #: allocations: tens of cycles with no live heap (4 MiB goal); with 64 MiB
    #: live, 406 MiB of garbage (over 3 x 128 MiB): the first cycle marks the live
    #: heap (goal ~151 MiB), later ones start every ~94 MiB allocated (goal ~204
    #: MiB), and 406 MiB lies midway between the 5th and 6th starts (the model's:
    #: 5 cycles from 344 to 437 MiB, 6 from 469), where a count of 5 does not
    #: hinge on where exactly a cycle starts
    allocations: int
    #: real runs, whose median is compared
    repeat: int

    @property
    def id(self) -> str:
        return f"{self.size}B-{'live64M' if self.live else 'nolive'}"


CASES = [
    # five runs without a live heap: with the other test worker busy beside it,
    # a run's heap_sys at 48 B sometimes came out 20% under the quiet machine's
    # (3.4 MB in 2 of 3 runs once, against 4.0-4.4 MB in 9 of 9 quiet runs;
    # stop 30), which took the median of three past the 20% tolerance
    Case(48, 0, 2_000_000, 5),
    Case(1024, 0, 100_000, 5),
    Case(32768, 0, 12_000, 5),
    Case(48, LIVE, 406 * MiB // 48, 7),
    Case(1024, LIVE, 406 * MiB // 1024, 7),
    Case(32768, LIVE, 406 * MiB // 32768, 7),
]
BY_ID = {c.id: c for c in CASES}

#: (case, metric) where the model misses the tolerance, with the figures measured
#: (real: median of the runs; model: deterministic) when the test was written.
#: Until stop 36 the 48 B case without a live heap missed num_gc (26 cycles vs
#: 31), the trigger (0.88 of the goal vs 0.78) and the bytes allocated while
#: marking (-49%): the pacer reckoned its utilization from the mark work done,
#: not as endCycle does (docs/decisions.md, "The pacer's utilization")
MISSES: dict[tuple[str, str], str] = {}
#: cases whose model heap_sys does not plateau within 20% (48 B without a live
#: heap did until assists did gcOverAssistWork: 8 MiB at 4 M allocations)
PLATEAU_MISSES: dict[str, str] = {}

_runs: dict[tuple[str, int], tuple[RealRun, dict[str, Any]]] = {}


def measured(case: Case, tc: GoToolchain, mult: int = 1) -> tuple[RealRun, dict[str, Any]]:
    """(real, model) for ``case`` with ``mult`` x its allocations, run once per module."""
    key = (case.id, mult)
    if key not in _runs:
        w = build(scenario(case.size, case.allocations * mult, case.live), gc=True)
        real = run_workload(w, tc=tc, repeat=case.repeat)
        model, _ = simulate_scenario(w, "go1.27", gc=True)
        _runs[key] = (real, model)
    return _runs[key]


def _params() -> list[Any]:
    out = []
    for c in CASES:
        for metric in GC_TOLERANCES:
            reason = MISSES.get((c.id, metric))
            marks = [pytest.mark.realgo] + (
                [pytest.mark.xfail(strict=True, reason=reason)] if reason else [])
            out.append(pytest.param(c.id, metric, marks=marks, id=f"{c.id}-{metric}"))
    return out


@pytest.mark.parametrize("case_id,metric", _params())
def test_collector_figures_within_tolerance(go127, case_id: str, metric: str) -> None:
    """num_gc and the heap goal within 10% of the real runtime's, heap_sys within 20%,
    checked through the row ``gosim realgo --gc`` prints."""
    case = BY_ID[case_id]
    real, model = measured(case, go127)
    m = real.metrics
    assert m["harness_mallocs"] == 0
    assert m["mallocs"] == case.allocations  # the workload's, nothing else
    assert m["live_objects"] == -(-case.live // 1024)
    checks = checks_for(Placement(gomaxprocs=1, goroutine_ps=tuple(m["goroutine_ps"]),
                                  harness_p=None), gc=True)
    row = {r.metric: r for r in compare(m, real.by_size, model, [], checks)}[metric]
    assert row.check == Check("rel", tolerance=GC_TOLERANCES[metric])
    assert row.agrees, (f"{case_id} {metric}: real {row.real:,.0f} (runs "
                        f"{m[metric + '_runs']}) model {row.model:,.0f} ({row.rel_error:+.1%})")


#: the plateau at every size without a live heap, and with one at 32 KiB (twice the
#: 48 B and 1 KiB live-heap workloads would take the model 16 s more; their 1x runs
#: already allocate twice their heap_sys)
PLATEAU_CASES = ["48B-nolive", "1024B-nolive", "32768B-nolive", "32768B-live64M"]


def _plateau_params() -> list[Any]:
    return [pytest.param(c, id=c, marks=[pytest.mark.realgo] + (
        [pytest.mark.xfail(strict=True, reason=PLATEAU_MISSES[c])]
        if c in PLATEAU_MISSES else [])) for c in PLATEAU_CASES]


@pytest.mark.parametrize("case_id", _plateau_params())
def test_heap_sys_plateaus_while_mallocs_rise(go127, case_id: str) -> None:
    """Twice the allocations: mallocs double, real and model heap_sys stay within
    20% of the 1x figure (the collector reuses the memory it frees)."""
    case = BY_ID[case_id]
    real1, model1 = measured(case, go127)
    real2, model2 = measured(case, go127, 2)
    n = case.allocations
    assert (real1.metrics["mallocs"], real2.metrics["mallocs"]) == (n, 2 * n)
    # the model counts the live heap's objects among its mallocs
    live_objects = -(-case.live // 1024)
    assert (model1["mallocs"] - live_objects, model2["mallocs"] - live_objects) == (n, 2 * n)
    assert model2["num_gc"] > model1["num_gc"] and real2.metrics["num_gc"] > real1.metrics["num_gc"]
    r1, r2 = real1.metrics["heap_sys_bytes"], real2.metrics["heap_sys_bytes"]
    assert abs(r2 - r1) <= 0.2 * r1, f"real heap_sys {r1:,} -> {r2:,}"
    m1, m2 = model1["heap_sys_bytes"], model2["heap_sys_bytes"]
    assert abs(m2 - m1) <= 0.2 * m1, f"model heap_sys {m1:,} -> {m2:,}"


@pytest.mark.realgo
@pytest.mark.parametrize("pointer_free,grown", [(False, True), (True, False)],
                         ids=["pointerful-grown", "pointer-free"])
def test_live_heap_is_built_and_marked(go127, pointer_free: bool, grown: bool) -> None:
    """The Go program's live heap: ceil(bytes / object_size) objects, all of them
    live at the baseline (the forced cycle marked them: /gc/heap/live:bytes,
    counted independently of the program's own count), the goal twice that;
    grown (the model's default), the heap maps the goal's bytes."""
    live = 8 * MiB + 100  # not a multiple of the object size: one more object
    sc = scenario(1024, 1_000, live, pointer_free=pointer_free, grown=grown)
    real = run_workload(build(sc, gc=True), tc=go127)
    ms = real.raw["baseline"]["memstats"]
    if grown:
        # mapped (HeapSys + stacks) up to live x (1 + GOGC/100). Not "less
        # HeapReleased": the program touches every page it grows, but the
        # background scavenger may return some of them to the OS before the
        # baseline, more of them the longer the wall clock runs (it failed so on
        # a loaded machine: 12.9 MB touched of 20.5 MB mapped); it never unmaps
        assert ms["HeapSys"] + ms["StackInuse"] >= 2 * live
    n = 8 * 1024 + 1
    assert real.metrics["live_objects"] == n
    base = real.raw["baseline"]["metrics"]
    # pointerful 1 KiB nodes are 1152 B objects; pointer-free ones 1024 B, held by
    # one 8 n-byte pointer slice (a large object: whole pages)
    objects = n * (1024 if pointer_free else LIVE_NODE_BYTES)
    holder = -(-8 * n // 8192) * 8192 if pointer_free else 0
    startup = 1 * MiB  # the runtime's and the harness's own live objects, at most
    assert objects + holder <= base["/gc/heap/live:bytes"] <= objects + holder + startup
    assert base["/gc/heap/goal:bytes"] >= 2 * (objects + holder)
    # one forced cycle marked it: the model's first cycle, counted in num_gc
    assert real.metrics["num_gc"] >= 1


@pytest.mark.realgo
@pytest.mark.parametrize("gc", [False, True], ids=["gc-off", "gc-on"])
def test_touch_is_written_and_harmless(go127, gc: bool, tmp_path: Path) -> None:
    """A group's touch reaches the Go program (goprog/alloc.go touch: a zero byte
    per 4 KiB page, so pointer slots stay nil): kept pointerful and pointer-free,
    small and large objects survive the collector's scans, and with the GC off
    the structure is the model's exactly (touching changes no count)."""
    sc = Scenario.model_validate({"design": "go1.27", "gomaxprocs": 1, "workload": {
        "live_heap": {"bytes": 0},
        "groups": [{"size": {"dist": "choice", "values": [8, 24, 1024, 40_000]},
                    "pointer_free_fraction": 0.5, "allocations": 20_000, "touch": True,
                    "lifetime": {"kind": "allocations", "value": 200}}]}})
    w = build(sc, gc=gc)
    assert to_spec(w, tmp_path / "spec")["goroutines"][0]["touch"] is True
    real = run_workload(w, tc=go127)
    m = real.metrics
    assert m["mallocs"] - m["tiny_allocs"] > 0 and m["large_allocs"] > 0
    # writes counted by the program against the draws: ceil(n / 4 KiB) + 1 per
    # object, none for the tiny allocator's (pointer-free, under 16 B)
    g = w.goroutines[0]
    touched = ~(g.noscan & (g.sizes < 16))
    expected = int((-(-g.sizes[touched] // 4096) + 1).sum())
    assert real.raw["goroutines"][0]["touch_writes"] == expected
    if gc:
        assert m["num_gc"] >= 1
        return
    model, rows = replay(w, "go1.27")
    for k in ("mallocs", "tiny_allocs", "heap_inuse_bytes", "heap_sys_bytes", "large_pages"):
        assert m[k] == model[k], k


@pytest.mark.realgo
def test_gogc_and_memory_limit_reach_the_runtime(go127) -> None:
    """The scenario's GOGC and GOMEMLIMIT are the real runtime's (runtime/metrics
    /gc/gogc:percent and /gc/gomemlimit:bytes), as the model runs with them."""
    sc = scenario(1024, 20_000, gc={"gogc": 50, "memory_limit_bytes": 512 * MiB})
    real = run_workload(build(sc, gc=True), tc=go127)
    after = real.raw["after"]["metrics"]
    assert (after["/gc/gogc:percent"], after["/gc/gomemlimit:bytes"]) == (50, 512 * MiB)
    assert real.raw["gogc"] == "50"


# ---------------------------------------------------------------- no Go needed

def test_gc_checks_and_labels() -> None:
    """With --gc: num_gc and the goal within 10%, heap_sys within 20%, the
    pacer's trigger and mark-end over the goal within 5% and the bytes marked
    through within 20%, the rest approx; without it the goal and the pacer
    are not compared and every GC-off check stays."""
    p = Placement(gomaxprocs=1, goroutine_ps=(0,), harness_p=0)
    on = checks_for(p, gc=True)
    assert {k: c for k, c in on.items() if c.kind != "approx"} == {
        "num_gc": Check("rel", tolerance=0.10), "heap_goal_bytes": Check("rel", tolerance=0.10),
        "heap_sys_bytes": Check("rel", tolerance=0.20),
        "gc_trigger_goal_ratio": Check("rel", tolerance=0.05),
        "gc_mark_end_goal_ratio": Check("rel", tolerance=0.05),
        "gc_marking_bytes": Check("rel", tolerance=0.20)}
    assert on["num_gc"].label() == "within 10%" and on["heap_sys_bytes"].label() == "within 20%"
    off = checks_for(p, gc=False)
    assert "heap_goal_bytes" not in off and off["heap_sys_bytes"] == Check("exact")
    assert not {"gc_trigger_goal_ratio", "gc_mark_end_goal_ratio", "gc_marking_bytes",
                "gc_pacer_utilization"} & set(off)
    assert off["num_gc"].kind == "approx"
    real = {"num_gc": 20, "heap_goal_bytes": 100, "heap_sys_bytes": 100, "mallocs": 5}
    model = {"num_gc": 22, "heap_goal_bytes": 111, "heap_sys_bytes": 80, "mallocs": 5}
    rows = {r.metric: r for r in compare(real, [], model, [], on)}
    assert rows["num_gc"].agrees and rows["num_gc"].gated  # +10%: on the edge
    assert not rows["heap_goal_bytes"].agrees  # +11%
    assert rows["heap_sys_bytes"].agrees  # -20%
    assert rows["heap_sys_bytes"].to_dict()["tolerance"] == 0.20
    assert not Row("heap_sys_bytes", 100, 79, on["heap_sys_bytes"]).agrees
    assert not Row("num_gc", 0, 1, on["num_gc"]).agrees
    assert "heap_goal_bytes" not in {r.metric for r in compare(real, [], model, [], off)}


def _probe_output(*, gogc: str, live_objects: int) -> dict[str, Any]:
    hist = {"buckets": [0, 1, 2], "counts": [0, 0]}

    def snap(heap_sys: int, released: int, num_gc: int, next_gc: int, mallocs: int) -> dict:
        ms = {k: 0 for k in ("Frees", "HeapAlloc", "TotalAlloc", "HeapInuse", "HeapIdle",
                             "HeapObjects", "MSpanInuse", "MCacheInuse", "StackInuse",
                             "PauseTotalNs")}
        ms |= {"HeapSys": heap_sys, "HeapReleased": released, "NumGC": num_gc,
               "NextGC": next_gc, "Mallocs": mallocs}
        return {"memstats": ms, "metrics": {"/gc/heap/allocs-by-size:bytes": hist,
                                            "/gc/heap/allocs:bytes": 0,
                                            "/gc/heap/tiny/allocs:objects": 0}}
    return {"baseline": snap(80 * MiB, 3 * MiB, 5, 150 * MiB, 100),
            "after": snap(220 * MiB, 10 * MiB, 9, 200 * MiB, 1100),
            "goroutines": [{"n": 1000, "p": -1, "start_ns": 0, "end_ns": 10}],
            "gogc": gogc, "gomaxprocs": 1, "live_objects": live_objects,
            "start_heap_inuse": MiB // 2}


def test_real_metrics_with_the_gc_on() -> None:
    """GC on: the forced cycle that marked the live heap counts (it is the model's
    first); heap_sys is the memory held at the end less the start-up objects;
    the goal is NextGC at the end. GC off: deltas, as before."""
    on, _ = real_metrics(_probe_output(gogc="100", live_objects=65_536))
    assert on["num_gc"] == 4 + 1
    assert on["heap_sys_bytes"] == 220 * MiB - 10 * MiB - MiB // 2
    assert on["heap_goal_bytes"] == 200 * MiB and on["mallocs"] == 1000
    nolive, _ = real_metrics(_probe_output(gogc="100", live_objects=0))
    assert nolive["num_gc"] == 4
    off, _ = real_metrics(_probe_output(gogc="off", live_objects=0))
    assert off["heap_sys_bytes"] == 140 * MiB and off["num_gc"] == 4


def test_live_heap_spec_and_refusals(tmp_path: Path) -> None:
    w = build(scenario(48, 10, LIVE, gc={"gogc": 50, "memory_limit_bytes": 1 << 30}), gc=True)
    spec = to_spec(w, tmp_path)
    # grown (the default): the model's goal for it, live x (1 + GOGC/100)
    assert spec["live_heap"] == {"bytes": LIVE, "object_size": 1024, "pointerful": True,
                                 "grow_to_bytes": LIVE * 3 // 2}
    assert spec["prepare"] == {"gc": True} and not spec["pin"]
    assert (w.gogc, w.memory_limit) == (50, 1 << 30)
    assert "live_heap" not in to_spec(build(scenario(48, 10), gc=True), tmp_path)
    with pytest.raises(UnsupportedWorkloadError, match=r"workload\.live_heap\.bytes.*--gc"):
        build(scenario(48, 10, LIVE))
    small = scenario(48, 10, LIVE, pointer_free=True, object_size=512)
    with pytest.raises(UnsupportedWorkloadError, match=r"object_size.*1024.*got 512"):
        build(small, gc=True)
    # the Go program's pointerful live heap is one linked list
    unlinked = Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": 1,
        "workload": {"live_heap": {"bytes": LIVE, "linked": False},
                     "groups": [{"size": 48, "allocations": 10, "lifetime": "drop"}]}})
    with pytest.raises(UnsupportedWorkloadError, match=r"live_heap\.linked.*expected true"):
        build(unlinked, gc=True)
    # pointer-free 1 KiB objects are fine
    assert to_spec(build(scenario(48, 10, LIVE, pointer_free=True, grown=False), gc=True),
                   tmp_path)["live_heap"] == {"bytes": LIVE, "object_size": 1024,
                                              "pointerful": False}


def test_cli_live_heap_without_gc_exit_2(tmp_path: Path, capsys) -> None:
    from gosim.cli import main

    cfg = tmp_path / "live.yaml"
    cfg.write_text("scenario:\n  workload:\n    live_heap: {bytes: 1048576}\n"
                   "    groups: [{allocations: 10, lifetime: drop}]\n")
    assert main(["realgo", str(cfg), "--out", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    assert "workload.live_heap.bytes" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "res").exists()


@pytest.mark.realgo
def test_pacer_trace_has_a_line_per_cycle(go127) -> None:
    """The pacer's trace the comparison reads: an end-of-cycle line for every
    cycle of the window (``num_gc``; the harness's forced collection before the
    baseline prints none), each at the 4 MiB minimum goal without a live heap.
    The window's edges are timing: a cycle that ends just after the window's
    last read also prints one (33 lines for 32 cycles seen once on a loaded
    machine), and the window's last cycle, counted, may not have printed its
    line when the process's stderr is read (31 for 32 seen once in CI). So
    within one line of the count either way, never more."""
    from gosim.realgo.pacer import parse

    real, _ = measured(BY_ID["1024B-nolive"], go127)
    cycles = parse(real.raw["stderr_lines"])
    n = real.metrics["num_gc_runs"][0]
    assert n - 1 <= len(cycles) <= n + 1
    assert {c["goal"] for c in cycles} == {4 << 20}


def figures(tc: GoToolchain) -> list[dict[str, Any]]:
    """Every case's figures, real and model, as ``scripts/measure.py realgo-gc``
    stores them (rendered into docs/realgo.md by ``make figures``)."""
    keys = ["num_gc", "heap_goal_bytes", "heap_sys_bytes", "gc_trigger_goal_ratio",
            "gc_mark_end_goal_ratio", "gc_marking_bytes", "gc_pacer_utilization"]
    out = []
    for c in CASES:
        real, model = measured(c, tc)
        m = real.metrics
        out.append({"case": c.id, "size": c.size, "live_bytes": c.live,
                    "allocations": c.allocations, "repeat": c.repeat,
                    "go_version": real.go_version,
                    "real": {k: m.get(k) for k in keys},
                    "real_runs": {k: m.get(f"{k}_runs") for k in keys},
                    "model": {k: model.get(k) for k in keys},
                    "strict_xfail": sorted(k for (cid, k) in MISSES if cid == c.id)})
    return out


def print_table(tc: GoToolchain) -> None:
    """The figures of every case, as docs/realgo.md shows them (a markdown table)."""
    print("| case | allocations | num_gc real / model | heap goal real / model (MiB) "
          "| heap_sys real / model (MiB) | trigger / goal real / model "
          "| bytes allocated while marking real / model (MiB) |")
    print("|---|---|---|---|---|---|---|")
    def cell(r: int, mo: int, unit: int = 1) -> str:
        fmt = (lambda x: f"{x / unit:.1f}") if unit > 1 else str
        return f"{fmt(r)} / {fmt(mo)} ({(mo - r) / r:+.1%})"

    for c in CASES:
        real, model = measured(c, tc)
        m = real.metrics
        print(f"| {c.id} | {c.allocations:,} | {cell(m['num_gc'], model['num_gc'])} | "
              f"{cell(m['heap_goal_bytes'], model['heap_goal_bytes'], MiB)} | "
              f"{cell(m['heap_sys_bytes'], model['heap_sys_bytes'], MiB)} | "
              f"{m['gc_trigger_goal_ratio']:.2f} / {model['gc_trigger_goal_ratio']:.2f} | "
              f"{cell(m['gc_marking_bytes'], model['gc_marking_bytes'], MiB)} |", flush=True)


if __name__ == "__main__":  # .venv/bin/python tests/test_realgo_gc.py [--json]
    import json
    import sys

    if "--json" in sys.argv[1:]:
        print(json.dumps(figures(find_go("1.27")), indent=1))
    else:
        print_table(find_go("1.27"))

