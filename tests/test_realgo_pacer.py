"""The pacer's per-cycle trace (gosim/realgo/pacer.py): parsing the real
runtime's ``gcpacertrace`` lines and the model's cycles into the medians
``gosim realgo --gc`` compares (the real-runtime side is checked in
tests/test_realgo_gc.py)."""

from __future__ import annotations

import math

import pytest

from gosim.realgo.pacer import model_summary, over_runs, parse, summarize
from gosim.scenario import Scenario
from gosim.sim import simulate

#: lines Go 1.27.3 printed here (GOMAXPROCS=1, 48 B garbage, GODEBUG=gctrace=1,gcpacertrace=1)
LINES = """\
gc 3 @0.021s 1%: 0.006+1.5+0.002 ms clock, 0.006+0.17/0/0+0.002 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 1 P
pacer: assist ratio=0.23263138307559525 (scan 0 MB in 3->4 MB) workers=0+0.25
pacer: 32% CPU (25 exp.) for 57008+2848+175178 B work (235034 B exp.) in 3183976 B -> 4060520 B (∆goal -133784, cons/mark 1.442545215331564)
pacer: sweep done at heap size 2MB; allocated 1MB during sweep; swept 519 pages at 0.00041989306076151936 pages/byte
pacer: 64% CPU (25 exp.) for 56928+2704+175178 B work (234810 B exp.) in 3174344 B -> 4042696 B (∆goal -151608, cons/mark 3.8339542786013063)
pacer: 56% CPU (25 exp.) for 56928+2704+175178 B work (234810 B exp.) in 3239880 B -> 4059080 B (∆goal -135224, cons/mark 6.666956509122867)
""".splitlines()


def test_parse_reads_each_end_of_cycle_line() -> None:
    cycles = parse(LINES)
    assert len(cycles) == 3  # not the gc line, the assist ratio or the sweep report
    c = cycles[0]
    assert c == {"utilization": 0.32, "heap_work": 57008, "stack_work": 2848,
                 "globals_work": 175178, "expected_work": 235034, "triggered": 3183976,
                 "heap_live_end": 4060520, "goal": 4060520 + 133784,
                 "cons_mark": 1.442545215331564}
    # the goal was the 4 MiB minimum in every cycle
    assert {c["goal"] for c in cycles} == {4 << 20}


def test_parse_accepts_nan_cons_mark() -> None:
    line = ("pacer: 25% CPU (25 exp.) for 0+0+0 B work (0 B exp.) in 10 B -> 20 B "
            "(∆goal -5, cons/mark NaN)")
    (c,) = parse([line])
    assert math.isnan(c["cons_mark"]) and c["goal"] == 25


def test_summarize_leaves_out_each_run_s_first_cycle() -> None:
    cycles = parse(LINES)
    s = summarize([cycles, cycles[:2]])
    assert s is not None
    # kept: cycles 2 and 3 of the first run, cycle 2 of the second
    assert s["gc_trigger_goal_ratio"] == pytest.approx(3174344 / (4 << 20))
    assert s["gc_marking_bytes"] == 4042696 - 3174344
    assert s["gc_pacer_utilization"] == 0.64  # of 0.64, 0.56, 0.64
    assert summarize([cycles[:1]]) is None


def _cycle(trig: int, end: int, util: float = 0.3) -> dict[str, object]:
    return {"utilization": util, "heap_work": 0, "stack_work": 0, "globals_work": 0,
            "expected_work": 0, "triggered": trig, "heap_live_end": end, "goal": 1000,
            "cons_mark": 1.0}


def test_over_runs_takes_the_lower_median_and_the_smallest_mark_end() -> None:
    """Three runs (each's first cycle left out): two quiet ones whose mark phases
    end at 0.99 and 1.00 of the goal, one slowed by other load that ends at
    1.08. The trigger and the bytes allocated while marking are the lower
    median of the runs' medians; the mark end the smallest, which the loaded
    run cannot move even when it is most of them."""
    quiet_a = [_cycle(0, 0), _cycle(800, 990), _cycle(800, 990)]
    quiet_b = [_cycle(0, 0), _cycle(780, 1000)]
    loaded = [_cycle(0, 0), _cycle(760, 1080, util=0.5)]
    out = over_runs([quiet_a, loaded, quiet_b])
    assert out is not None
    assert out["gc_mark_end_goal_ratio_runs"] == [0.99, 1.08, 1.0]
    assert out["gc_mark_end_goal_ratio"] == 0.99
    assert out["gc_trigger_goal_ratio_runs"] == [0.8, 0.76, 0.78]
    assert out["gc_trigger_goal_ratio"] == 0.78  # the lower median of 0.76, 0.78, 0.8
    assert out["gc_marking_bytes"] == 220  # of 190, 320, 220
    assert out["gc_pacer_utilization"] == 0.3  # of 0.3, 0.5, 0.3
    # two loaded runs of three: the mark end still follows the quiet one
    assert over_runs([loaded, quiet_b, loaded])["gc_mark_end_goal_ratio"] == 1.0
    # a run without a cycle after its first counts as None, and is left out
    assert over_runs([quiet_b, [_cycle(0, 0)]])["gc_trigger_goal_ratio_runs"] == [0.78, None]
    assert over_runs([[_cycle(0, 0)]]) is None


def test_model_cycles_start_before_and_end_near_their_goal() -> None:
    """The model's medians at one P with 1 KiB garbage: the trigger below the
    mark phase's end, both below 1.1 x the goal (assists hold the heap to it),
    and the bytes between them what the two ratios say; the utilization
    endCycle would compute is at least the workers' assumed 25%."""
    res = simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": 1, "seed": 5,
        "workload": {"groups": [{"count": 1, "size": 1024, "allocations": 60_000}]}}))
    cycles = list(res.gc_cycles)
    assert len(cycles) >= 10
    s = model_summary(cycles, 1)
    assert s is not None
    assert 0.7 < s["gc_trigger_goal_ratio"] < s["gc_mark_end_goal_ratio"] < 1.1
    assert s["gc_marking_bytes"] == pytest.approx(
        (s["gc_mark_end_goal_ratio"] - s["gc_trigger_goal_ratio"]) * (4 << 20), rel=0.05)
    assert 0.25 < s["gc_pacer_utilization"] < 1.0
    assert model_summary(cycles[:1], 1) is None
