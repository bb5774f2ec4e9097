"""Shared words as cache lines that move between cores (gosim.sim.locks.SimLine),
both off by default (the default-cost results do not have them):

- ``gcbits_line_ns``: the GC bits arena's free index (mheap.go newMarkBits /
  newAllocBits bump it for every span set up or swept);
- ``heap_line_ns``: the heap's words every span allocation writes outside the
  heap lock (mheap.go allocSpan: allocNeedsZero's CAS on the arena's
  zeroedBase, initSpan's pageInUse bits, pagesInUse, the memstats counters).

Counts are derived from the allocator, not read back from the line: with the
GC off every refill sets up one fresh span (mcentral.go grow -> mheap.go
allocSpan -> initSpan), so each line is written once per refill; with the GC
on the heap line is written only when a span comes from the heap (mcentral's
grow or a large object), not for a span the sweeper hands back to mcentral.
"""

from __future__ import annotations

from typing import Any

import pytest

from gosim.scenario import Scenario
from gosim.sim import simulate

#: (the line's row in locks.parquet, its cost parameter)
LINES = [("gcBitsArenas.free", "gcbits_line_ns"), ("mheap.arena", "heap_line_ns")]
IDS = [cost for _, cost in LINES]


def _run(procs: int, allocations: int, costs: dict[str, int]) -> Any:
    return simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": procs, "mode": "step", "time_slice_ns": 10**15,
        "gc": {"enabled": False}, "costs": costs,
        "workload": {"groups": [{"count": procs, "allocations": allocations, "size": 1024,
                                 "pointer_free_fraction": 1.0, "work_ns": 0}]}}))


def _rows(r: Any) -> dict[str, dict[str, Any]]:
    return {row["lock"]: row for row in r.locks}


@pytest.mark.parametrize("line,cost", LINES, ids=IDS)
def test_off_by_default_and_free_on_one_p(line: str, cost: str) -> None:
    """Off (the default, or 0): no line among the lock rows. On one P the line
    never leaves the core: the run takes exactly as long as without it, and
    the line is written once per refill, never waited for."""
    n = 8 * 1000  # 1000 spans of 8 KiB objects
    base, zero, one = _run(1, n, {}), _run(1, n, {cost: 0}), _run(1, n, {cost: 400})
    assert line not in _rows(base) and line not in _rows(zero)
    assert one.metrics["sim_time_ns"] == base.metrics["sim_time_ns"]
    assert one.metrics["allocs_completed"] == base.metrics["allocs_completed"] == n
    row = _rows(one)[line]
    assert row["kind"] == "line"
    assert row["acquisitions"] == one.metrics["refills"] == 1000
    assert row["contended"] == 0 and row["wait_total_ns"] == 0 and row["utilisation"] == 0


@pytest.mark.parametrize("line_ns", [200, 600])
@pytest.mark.parametrize("line,cost", LINES, ids=IDS)
def test_on_several_ps_each_move_costs_the_line_and_moves_never_overlap(
        line: str, cost: str, line_ns: int) -> None:
    """Four Ps: the line is written once per refill; every write after
    another P's holds it exactly ``line_ns`` (hold time a multiple of it, at
    least one move), the moves are serialized (their total time fits in the
    run), and the run is slower than without the line."""
    n = 8 * 500
    off, on = _run(4, n, {}), _run(4, n, {cost: line_ns})
    assert on.metrics["allocs_completed"] == off.metrics["allocs_completed"] == 4 * n
    row = _rows(on)[line]
    assert row["acquisitions"] == on.metrics["refills"]
    held = row["hold_mean_ns"] * row["acquisitions"]
    moves = round(held / line_ns)
    assert moves >= 1 and held == pytest.approx(moves * line_ns)
    assert moves * line_ns <= on.metrics["sim_time_ns"]
    assert row["utilisation"] * on.metrics["sim_time_ns"] == pytest.approx(moves * line_ns)
    assert on.metrics["sim_time_ns"] > off.metrics["sim_time_ns"]


def _gc_run(mode: str, duration_ns: int | None, costs: dict[str, int]) -> dict[str, Any]:
    return simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": 3, "mode": mode, "seed": 11,
        "duration_ns": duration_ns, "costs": costs,
        "workload": {"groups": [
            {"count": 3, "allocations": 4000, "size": 48, "work_ns": 0},
            {"count": 2, "allocations": 1500, "size": 1024,
             "work_ns": {"dist": "exponential", "mean": 40}},
            {"count": 1, "allocations": 40, "size": 40000, "work_ns": 0}]}})).to_dict()


@pytest.mark.parametrize("duration_ns", [None, 300_000])
def test_batched_runs_give_the_step_results_with_the_lines_on(duration_ns: int | None) -> None:
    """The batched engine's fast paths reach the lines as step mode does: with
    the collector on (sweeps bump the GC bits line too), both lines on and
    three Ps, every result of a batched run equals the step run's, also when
    a timed run cuts it."""
    costs = {"gcbits_line_ns": 300, "heap_line_ns": 200}
    step, batched = _gc_run("step", duration_ns, costs), _gc_run("batched", duration_ns, costs)
    assert step == batched
    for line, _ in LINES:
        assert any(r["lock"] == line and r["contended"] > 0 for r in step["locks"])


def test_heap_line_is_written_only_for_spans_from_the_heap() -> None:
    """With the collector on, spans the sweeper returns to mcentral are reused
    without the heap: the heap line is written once per span mcentral grows
    from the heap plus once per large object (mcache.go allocLarge), fewer
    times than there are refills, while the GC bits line is bumped for every
    span set up or swept, more often than the heap line."""
    r = _gc_run("batched", None, {"gcbits_line_ns": 300, "heap_line_ns": 200})
    m, rows = r["metrics"], {row["lock"]: row for row in r["locks"]}
    assert m["num_gc"] > 0 and m["spans_swept"] > 0
    heap = rows["mheap.arena"]["acquisitions"]
    assert heap == m["mcentral_grow_calls"] + m["large_allocs"]
    assert heap < m["refills"] + m["large_allocs"]
    assert rows["gcBitsArenas.free"]["acquisitions"] > heap
