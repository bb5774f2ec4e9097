"""The model against the real runtime at GOGC 200, 400 and 800
(experiments/groundtruth/extra/go1.27-16core-gogc.jsonl: 1 KiB pointer-free
garbage, GOMAXPROCS 1-16, measured on a 16-core machine on 2026-11-28 by
scripts/device_groundtruth.sh with GRID=experiments/groundtruth/grids/gogc.json
and the runtime's gctrace/gcpacertrace folded into each record).

No profile saw GOGC other than 100. The pacer's arithmetic is the same at any
GOGC (mgcpacer.go: the goal is the marked heap grown by GOGC percent, at least
4 MiB x GOGC/100), and where the heap minimum binds the model runs as many
cycles as the real runtime. At one P with GOGC 400 and 800 it does not: the
real heap drifts above its minimum goal, because a single P's mark phase
lasts until the heap nears the goal (the assists pace the mark work over the
runway; the fractional worker hardly runs, since a goroutine allocating in a
loop reaches no scheduling point), and every byte allocated meanwhile is
marked live (allocate-black). Once that is more than 1 / (1 + GOGC/100) of the
goal, the marked heap alone sets the next goal above the minimum, and the
heap climbs. The model's trigger and mark end sit where the real ones do, to
a few hundredths of the goal, but its marked heap stays on the near side of
that edge (docs/decisions.md, "endCycle's utilization, third try").
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from gosim.groundtruth.mapping import scenario_dict
from gosim.groundtruth.records import Record, read_records
from gosim.groundtruth.scoring import SimPoint, sim_point

ROOT = Path(__file__).resolve().parents[1]
GOGC_FILE = ROOT / "experiments" / "groundtruth" / "extra" / "go1.27-16core-gogc.jsonl"
PROFILE = "groundtruth-16core-go1.27"

#: (GOGC, GOMAXPROCS) simulated
SIMULATED = [(g, p) for g in (200, 400, 800) for p in (1, 4, 8, 16)]


@pytest.fixture(scope="module")
def records() -> dict[tuple[int, int], list[Record]]:
    out: dict[tuple[int, int], list[Record]] = defaultdict(list)
    for r in read_records(GOGC_FILE):
        assert r.gogc is not None
        out[(r.gogc, r.gomaxprocs)].append(r)
    return out


@pytest.fixture(scope="module")
def gctrace() -> dict[str, dict[str, Any]]:
    """Each record's gctrace summary (the runtime's own per-cycle figures), by tag."""
    rows = [json.loads(line) for line in GOGC_FILE.read_text().splitlines()]
    return {row["tag"]: row["gctrace"] for row in rows}


@pytest.fixture(scope="module")
def model(records: dict[tuple[int, int], list[Record]]) -> dict[tuple[int, int], SimPoint]:
    """Per (GOGC, GOMAXPROCS): the model's point for the first repeat's
    workload (repeats differ only in the real run)."""
    from gosim.runner.execute import execute_run

    out = {}
    for key in SIMULATED:
        pt = sim_point(execute_run(scenario_dict(records[key][0], costs_profile=PROFILE)))
        assert pt.ok, pt.error
        out[key] = pt
    return out


def test_the_file_is_the_grid_it_names(records: dict[tuple[int, int], list[Record]]) -> None:
    """20 records of 1 KiB pointer-free garbage with the GC on: GOGC 200 and
    800 once at GOMAXPROCS 1, 2, 4, 8 and 16, GOGC 400 twice; every one with
    the runtime's pacer trace folded in."""
    assert sum(len(v) for v in records.values()) == 20
    for (gogc, procs), rs in records.items():
        assert procs in (1, 2, 4, 8, 16)
        assert len(rs) == (2 if gogc == 400 else 1)
        for r in rs:
            assert (r.mode, r.size, r.kind, r.ballast_mib) == ("gc", 1024, "noscan", 0)
            assert r.trigger_goal_ratio is not None and r.mark_end_goal_ratio is not None


@pytest.mark.parametrize("gogc", [200, 400, 800])
def test_one_p_pacer_places_trigger_and_mark_end_as_the_runtime_does(
        records: Any, model: Any, gogc: int) -> None:
    """At one P the model's median trigger and mark end, over the goal, are
    within 0.04 of the runtime's own (gcpacertrace) at every GOGC."""
    pt = model[(gogc, 1)]
    for r in records[(gogc, 1)]:
        assert pt.trigger_goal_ratio == pytest.approx(r.trigger_goal_ratio, abs=0.04)
        assert pt.mark_end_goal_ratio == pytest.approx(r.mark_end_goal_ratio, abs=0.04)


def test_one_p_cycles_where_the_heap_minimum_binds(records: Any, gctrace: Any,
                                                   model: Any) -> None:
    """GOGC=200 at one P: the real heap stays at its 8 MiB minimum goal (the
    trace's largest goal is 8 MB) and the model runs its cycles within 35% of
    the real count per second."""
    (r,) = records[(200, 1)]
    pt = model[(200, 1)]
    assert gctrace[r.tag]["goal_mb_max"] == 8
    assert pt.gc_cycles_per_s == pytest.approx(r.gc_cycles_per_s, rel=0.35)


@pytest.mark.xfail(strict=True, reason=(
    "GOGC 400 and 800 at one P: since stop 37 the pacer reckons endCycle's utilization as Go "
    "does and the model's heap climbs above its minimum goal as the real one does (largest "
    "goals 34.7 and 132.6 MB, real 38-44 and 153), but it still runs 344 cycles per second at "
    "GOGC 400 (real 275 and 233: 1.25 and 1.48 times) and 69 at GOGC 800 (real 48: 1.42 "
    "times), from 650 and 361 before (docs/decisions.md: endCycle's utilization, third try)"))
@pytest.mark.parametrize("gogc", [400, 800])
def test_one_p_cycles_where_the_heap_climbs_above_its_minimum(records: Any, model: Any,
                                                              gogc: int) -> None:
    pt = model[(gogc, 1)]
    for r in records[(gogc, 1)]:
        assert pt.gc_cycles_per_s == pytest.approx(r.gc_cycles_per_s, rel=0.35)


@pytest.mark.parametrize("gogc,procs", [k for k in SIMULATED if k[1] >= 4 and k != (800, 4)])
def test_gc_on_top_lock_is_the_sweepers_free_span(records: Any, model: Any, gogc: int,
                                                  procs: int) -> None:
    """From 4 Ps on, at every GOGC, the real records and the model blame
    `mheap_.lock` released in `(*mheap).freeSpan` first (GOGC=800 at 4 Ps,
    where the heap is large enough that the real runtime's contention is
    slight, is left out: its one record and the model differ)."""
    pt = model[(gogc, procs)]
    assert {r.top_lock for r in records[(gogc, procs)]} == {"(*mheap).freeSpan"}
    assert pt.top_lock == "(*mheap).freeSpan"
