"""The GC bits arena's free index as a cache line that moves between cores
(``gcbits_line_ns``, gosim.sim.locks.SimLine; mheap.go newMarkBits /
newAllocBits bump it for every span set up). Off by default: the default-cost
results do not have it.

Counts are derived from the allocator, not read back from the line: with the
GC off every refill sets up one fresh span (mcentral.go grow -> mheap.go
initSpan), so the line is written once per refill.
"""

from __future__ import annotations

from typing import Any

import pytest

from gosim.scenario import Scenario
from gosim.sim import simulate

LINE = "gcBitsArenas.free"


def _run(procs: int, allocations: int, line_ns: int | None) -> Any:
    costs = {} if line_ns is None else {"gcbits_line_ns": line_ns}
    return simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": procs, "mode": "step", "time_slice_ns": 10**15,
        "gc": {"enabled": False}, "costs": costs,
        "workload": {"groups": [{"count": procs, "allocations": allocations, "size": 1024,
                                 "pointer_free_fraction": 1.0, "work_ns": 0}]}}))


def _rows(r: Any) -> dict[str, dict[str, Any]]:
    return {row["lock"]: row for row in r.locks}


def test_off_by_default_and_free_on_one_p() -> None:
    """Off (the default, or 0): no line among the lock rows. On one P the line
    never leaves the core: the run takes exactly as long as without it, and
    the line is written once per refill, never waited for."""
    n = 8 * 1000  # 1000 spans of 8 KiB objects
    base, zero, one = _run(1, n, None), _run(1, n, 0), _run(1, n, 400)
    assert LINE not in _rows(base) and LINE not in _rows(zero)
    assert one.metrics["sim_time_ns"] == base.metrics["sim_time_ns"]
    assert one.metrics["allocs_completed"] == base.metrics["allocs_completed"] == n
    row = _rows(one)[LINE]
    assert row["kind"] == "line"
    assert row["acquisitions"] == one.metrics["refills"] == 1000
    assert row["contended"] == 0 and row["wait_total_ns"] == 0 and row["utilisation"] == 0


@pytest.mark.parametrize("line_ns", [200, 600])
def test_on_several_ps_each_move_costs_the_line_and_moves_never_overlap(line_ns: int) -> None:
    """Four Ps: the line is written once per refill; every write after
    another P's holds it exactly ``line_ns`` (hold time a multiple of it, at
    least one move), the moves are serialized (their total time fits in the
    run), and the run is slower than without the line."""
    n = 8 * 500
    off, on = _run(4, n, None), _run(4, n, line_ns)
    assert on.metrics["allocs_completed"] == off.metrics["allocs_completed"] == 4 * n
    row = _rows(on)[LINE]
    assert row["acquisitions"] == on.metrics["refills"]
    held = row["hold_mean_ns"] * row["acquisitions"]
    moves = round(held / line_ns)
    assert moves >= 1 and held == pytest.approx(moves * line_ns)
    assert moves * line_ns <= on.metrics["sim_time_ns"]
    assert row["utilisation"] * on.metrics["sim_time_ns"] == pytest.approx(moves * line_ns)
    assert on.metrics["sim_time_ns"] > off.metrics["sim_time_ns"]


@pytest.mark.parametrize("duration_ns", [None, 300_000])
def test_batched_runs_give_the_step_results_with_the_line_on(duration_ns: int | None) -> None:
    """The batched engine's fast paths reach the line as step mode does: with
    the collector on (sweeps bump the line too) and three Ps, every result of
    a batched run equals the step run's, also when a timed run cuts it."""
    def run(mode: str) -> Any:
        return simulate(Scenario.model_validate({
            "design": "go1.27", "gomaxprocs": 3, "mode": mode, "seed": 11,
            "duration_ns": duration_ns, "costs": {"gcbits_line_ns": 300},
            "workload": {"groups": [
                {"count": 3, "allocations": 4000, "size": 48, "work_ns": 0},
                {"count": 2, "allocations": 1500, "size": 1024,
                 "work_ns": {"dist": "exponential", "mean": 40}}]}})).to_dict()
    step, batched = run("step"), run("batched")
    assert step == batched
    assert any(r["lock"] == LINE and r["contended"] > 0 for r in step["locks"])
