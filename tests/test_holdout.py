"""The model against the real runtime where nothing was fitted: the held-out
grid (experiments/groundtruth/extra/go1.27-16core-holdout.jsonl, measured on
a 16-core machine on 2026-11-28 by scripts/device_groundtruth.sh with
GRID=experiments/groundtruth/grids/holdout.json).

No profile saw these dimensions: object sizes 256 B and 4 KiB (the 16-core
profile was fitted on 48 B, 1 KiB and 32 KiB), a round-robin mix of five
sizes, pointerful objects, four goroutines per P, GOGC=400. The 16-core
profile runs every record as `gosim groundtruth` does. One P is left out:
this machine runs one thread slower than the one the profile was fitted on
(its own run of the shared grid, `go1.27-16core-repeat3.jsonl`, puts the
model at 1.2-1.6 times the real rate at one P, as the hold-out's one-P
records do), and the checks here are about how allocation scales. The whole
file's comparison is rendered in docs/groundtruth.md (`scripts/measure.py
groundtruth`).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from gosim.groundtruth.mapping import scenario_dict
from gosim.groundtruth.records import Record, read_records
from gosim.groundtruth.scoring import SimPoint, sim_point

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = ROOT / "experiments" / "groundtruth" / "extra" / "go1.27-16core-holdout.jsonl"
PROFILE = "groundtruth-16core-go1.27"


def _key(r: Record) -> tuple[Any, ...]:
    return (r.mode, r.size, tuple(r.mix or ()), r.kind, r.gogc, r.g // r.gomaxprocs)


#: (mode, size, mix, kind, GOGC, goroutines per P) -> the GOMAXPROCS simulated
CASES: dict[tuple[Any, ...], tuple[int, ...]] = {
    ("gc", 256, (), "noscan", 100, 1): (2, 4, 8, 16),
    ("gc", 4096, (), "noscan", 100, 1): (2, 4, 8, 16),
    ("gc", 1091, (16, 64, 256, 1024, 4096), "noscan", 100, 1): (2, 4, 8, 16),
    ("gc", 1024, (), "scan", 100, 1): (2, 4, 8, 16),
    ("gc", 48, (), "noscan", 100, 4): (2, 4, 8, 16),
    ("gc", 1024, (), "noscan", 400, 1): (4, 8, 12, 16),
    ("nogc", 4096, (), "noscan", None, 1): (4, 8, 12, 16),
}


@pytest.fixture(scope="module")
def points() -> dict[tuple[Any, ...], dict[int, tuple[float, SimPoint, list[Record]]]]:
    """Per case and GOMAXPROCS: the real rate (mean over the repeats), the
    model's point (the first repeat's workload: repeats differ only in the
    real run) and the real records."""
    from gosim.runner.execute import execute_run

    recs: dict[tuple[Any, ...], dict[int, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in read_records(HOLDOUT):
        recs[_key(r)][r.gomaxprocs].append(r)
    out: dict[tuple[Any, ...], dict[int, tuple[float, SimPoint, list[Record]]]] = {}
    for case, procs in CASES.items():
        assert case in recs, case
        out[case] = {}
        for p in procs:
            rs = recs[case][p]
            pt = sim_point(execute_run(scenario_dict(rs[0], costs_profile=PROFILE)))
            assert pt.ok, pt.error
            out[case][p] = (sum(r.allocs_per_s for r in rs) / len(rs), pt, rs)
    return out


def test_the_file_is_the_grid_it_names() -> None:
    """86 records: each of the grid's blocks, its sizes x GOMAXPROCS x repeats."""
    count: dict[tuple[Any, ...], int] = defaultdict(int)
    for r in read_records(HOLDOUT):
        count[_key(r)] += 1
    assert sum(count.values()) == 86
    assert count[("gc", 256, (), "noscan", 100, 1)] == 12
    assert count[("nogc", 4096, (), "noscan", None, 1)] == 12
    assert count[("gc", 1091, (16, 64, 256, 1024, 4096), "noscan", 100, 1)] == 12
    assert count[("gc", 48, (), "noscan", 100, 4)] == 6
    assert count[("gc", 32768, (), "noscan", 100, 1)] == 8


#: cases the model misses, with the figures measured when the mark was set
#: (none since stop 44: the 256 B GC-on case, 1.39-1.49 times the real rate at
#: 8-16 Ps under stop 37's constant 3 us mheap.lock hand-off, comes within 35%
#: at every GOMAXPROCS with the hand-off drawn per critical section, a
#: lognormal of mean 250 + 250 x (GOMAXPROCS - 1) ns)
THROUGHPUT_MISSES: dict[tuple[Any, ...], str] = {}


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=THROUGHPUT_MISSES[c]))
    if c in THROUGHPUT_MISSES else c for c in CASES if c[4] != 400])
def test_held_out_throughput_within_35_percent_from_two_ps(points: Any,
                                                           case: tuple[Any, ...]) -> None:
    """Sizes, a mix, pointerful objects, more goroutines than Ps and GC off
    at 4 KiB: at every GOMAXPROCS simulated (from 2 Ps with the GC on, from
    4 with it off) the model within 35% of the real mean over the repeats."""
    for p, (real, pt, _) in points[case].items():
        assert pt.allocs_per_s == pytest.approx(real, rel=0.35), (case, p, pt.allocs_per_s / real)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "gc"])
def test_held_out_gc_on_top_lock_is_the_sweepers_free_span(points: Any,
                                                           case: tuple[Any, ...]) -> None:
    """With the GC on, from 4 Ps on, every real record and the model blame
    `mheap_.lock` released in `(*mheap).freeSpan` first, whatever the size,
    the mix, the objects' pointers, the goroutines per P or GOGC."""
    for p, (_, pt, rs) in points[case].items():
        if p < 4:
            continue
        assert {r.top_lock for r in rs} == {"(*mheap).freeSpan"}, (case, p)
        assert pt.top_lock == "(*mheap).freeSpan", (case, p)


def test_held_out_gogc_400_within_35_percent(points: Any) -> None:
    """GOGC=400 (a heap goal four times the minimum's), held out of every
    fit: within 35% of the real rate at every GOMAXPROCS since stop 38
    (0.69 at 2 Ps, 1.02-1.20 elsewhere), when endCycle started reading
    heapLive before the mark-termination flush. Before, the model ran 1.29
    and 1.60 times the real rate at 12 and 16 Ps. The real runs still take
    4-16 times the model's page faults per allocation and spend 1.5-2% of
    their CPU in the scavenger, the model's almost none (comparison.csv:
    real_/sim_faults_per_alloc, real_/sim_scavenge_share)."""
    for p, (real, pt, _) in points[("gc", 1024, (), "noscan", 400, 1)].items():
        assert pt.allocs_per_s == pytest.approx(real, rel=0.35), p


def test_held_out_gc_off_top_lock_at_8_ps(points: Any) -> None:
    """GC off at 4 KiB, 8 Ps: both real records blame newMarkBits (the GC
    bits arenas' lock) first, 57% of the contention, and so does the model
    since stop 37's refit of `heap_lock_migrate_ns` (3750 -> 3000 ns: a
    cheaper mheap.lock hand-off); before, it named (*mheap).allocSpan by a
    few points."""
    _, pt, rs = points[("nogc", 4096, (), "noscan", None, 1)][8]
    assert {r.top_lock for r in rs} == {"newMarkBits"}
    assert pt.top_lock == "newMarkBits"


@pytest.mark.parametrize("procs", [12, 16])
def test_held_out_gc_off_top_lock_from_12_ps(points: Any, procs: int) -> None:
    """GC off at 4 KiB, 12 and 16 Ps: the real records and the model blame
    newMarkBits first, the model's sites ranked by the runtime profile's
    own estimate (lock_spinbit.go), as the real ones are."""
    _, pt, rs = points[("nogc", 4096, (), "noscan", None, 1)][procs]
    assert {r.top_lock for r in rs} == {"newMarkBits"} and pt.top_lock == "newMarkBits"
