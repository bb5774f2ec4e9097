"""Restarting the world (gosim/sim/gc.py ``start_the_world``, after proc.go
startTheWorldWithSema / procresize / resetspinning): the goroutines preempted
for a stop wait on the global run queue, their Ps go idle, and one M wake-up
(``m_wakeup_ns``) brings back one P at a time. The idle CPU this leaves grows
faster than the number of Ps, as the real 16-core runtime's
``/cpu/classes/idle`` does with the GC on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gosim.groundtruth.mapping import scenario_dict
from gosim.groundtruth.records import read_records
from gosim.scenario import Scenario
from gosim.sim import simulate
from gosim.sim.engine import Simulation

ROOT = Path(__file__).resolve().parent.parent
GROUND_TRUTH = ROOT / "experiments" / "groundtruth" / "go1.27-16core.jsonl"
PROFILE = "groundtruth-16core-go1.27"


def _scenario(procs: int, hop: int, size: int = 1024) -> Scenario:
    return Scenario.model_validate({
        "design": {"preset": "go1.27"}, "gomaxprocs": procs, "seed": 5,
        "duration_ns": 6_000_000, "costs": {"m_wakeup_ns": hop},
        "workload": {"groups": [{"count": procs, "size": size, "touch": True}]},
    })


@pytest.mark.pure_python
def test_stopped_goroutines_restart_one_wakeup_apart() -> None:
    """After every stop, the goroutines that stopped at a safepoint are given
    restart delays of 1, 2, ... wake-ups in the order they stopped; the
    goroutine that stopped the world runs on at once."""
    hop = 7_000
    sim = Simulation(_scenario(4, hop))
    gc = sim.gc
    assert gc is not None
    seen: list[tuple[list[int], list[int], int]] = []
    real_start = gc.start_the_world

    def spy(g: Any) -> None:
        order = [gg.gid for gg in gc.stop_order]
        real_start(g)
        seen.append((order, [gc.restart_delay.get(gid, 0) for gid in order], g.gid))

    gc.start_the_world = spy  # type: ignore[method-assign]
    sim.run()
    assert gc.num_gc >= 3 and len(seen) >= 2 * gc.num_gc - 1
    stopped_some = 0
    for order, delays, initiator in seen:
        assert initiator not in order
        assert len(set(order)) == len(order)
        assert delays == [hop * k for k in range(1, len(order) + 1)]
        stopped_some += bool(order)
    assert stopped_some >= gc.num_gc


def test_restart_delays_are_idle_time() -> None:
    """The delays leave the Ps idle: the idle time grows with the wake-up, and a
    zero wake-up restarts every P at once (no idle time from the stops)."""
    idle = {hop: simulate(_scenario(8, hop)).metrics["p_time_share_idle"]
            for hop in (0, 20_000, 40_000)}
    assert idle[0] < 0.01
    assert idle[0] < idle[20_000] < idle[40_000]


def _idle(size: int) -> dict[int, tuple[float, float]]:
    """GOMAXPROCS -> (real idle share, simulated idle share), GC on, no live heap."""
    recs = {r.tag: r for r in read_records(GROUND_TRUTH)}
    raw = {json.loads(x)["tag"]: json.loads(x) for x in GROUND_TRUTH.read_text().splitlines()}
    out = {}
    for p in (4, 8, 16):
        tag = f"go1.27_gc_{size}_noscan_p{p}_r1"
        m = raw[tag]["metrics"]
        real = m["/cpu/classes/idle:cpu-seconds"] / m["/cpu/classes/total:cpu-seconds"]
        assert recs[tag].idle_share == pytest.approx(real)
        sim = simulate(Scenario.model_validate(
            scenario_dict(recs[tag], costs_profile=PROFILE))).metrics["p_time_share_idle"]
        out[p] = (real, sim)
    return out


@pytest.mark.parametrize("size", [pytest.param(1024, marks=pytest.mark.xfail(
    strict=True, reason="since stop 30 fitted the stop-the-world costs (gc_stw_per_p_ns 4.5 us, "
    "note_wakeup_ns 5 us, gc_stw_ns 0) the 1 KiB case idles too much at 4 Ps: with stop 44's "
    "hand-off drawn per critical section 0.164 of its Ps' time at 4 Ps (real 0.010) and "
    "0.300 at 16 (real 0.364): 1.8 times, not 3 (stop 37's constant 3 us hand-off: 0.138 "
    "and 0.384; before stop 30 0.104 and 0.315)")),
    pytest.param(32768, marks=pytest.mark.xfail(
    strict=True, reason="since the 16-core profile's mark costs were fitted and its "
    "heap_lock_migrate_ns refitted (2026-11-27; again with the stop's wake-up in stop 30) the "
    "held-out 32 KiB case idles 0.201 of its Ps' time at 4 Ps (real 0.039) and 0.331 at 16 "
    "(real 0.455; stop 44's hand-off drawn per critical section; 0.204 and 0.410 under stop "
    "37's constant): 1.6 times, not 3; the "
    "model idles several times too much at 4 Ps at both sizes (docs/groundtruth.md, the idle "
    "table)"))])
def test_idle_share_grows_with_p_as_in_the_real_runtime(size: int) -> None:
    """1 KiB is in the profile's fit set for m_wakeup_ns, 32 KiB is held out.
    Both: idle at 16 Ps at least three times idle at 4 Ps, real and simulated,
    and the simulated 16 P share within 30% of the real one."""
    idle = _idle(size)
    for k in (0, 1):
        assert idle[4][k] < idle[8][k] < idle[16][k]
        assert idle[16][k] > 3 * idle[4][k]
    real16, sim16 = idle[16]
    assert sim16 == pytest.approx(real16, rel=0.3)
