"""benchmarks/events.py, the event census behind issue 12's remaining targets:
every event processed is traced to an origin, and the pure-Python build it
runs on processes exactly the events the compiled core does (so its census
holds for both)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("case", ["32KiB-4P-nogc", "1KiB-4P-gc-256MiB"])
def test_every_event_has_an_origin_and_the_builds_agree(case: str) -> None:
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "events.py"), "--case", case,
                        "--scale", "0.05", "--json"], capture_output=True, text=True, cwd=ROOT,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    (row,) = json.loads(p.stdout)
    # an untimed run processes every event it pushes, and each was attributed
    assert row["pushed"] == row["events"] > 0
    assert not [k for k in row["by_origin"] if k.startswith("sync:?")]
    assert row["ceiling_ratio"] == round(row["allocs"] / row["events"], 2)
    # the same scenario on the build the suite runs: the same events and syncs
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench

    from gosim.sim.engine import Simulation

    c = bench.CASES[case]
    sim = Simulation(bench.scenario(c, "batched", bench.scaled_allocs(c, 0.05)))
    r = sim.run()
    assert int(r.metrics["mallocs"]) == row["allocs"]
    assert (sim.env.events, sim.env.nstep) == (row["events"], row["syncs"])
