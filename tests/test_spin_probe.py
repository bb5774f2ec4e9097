"""scripts/spin (a runtime lock waiter's spin window on this machine: lock2's
four procyield(30) and one osyield, the figure behind ``lock_spin_ns``), end
to end with a real build, alone and as scripts/device_wakeup.sh runs it. The
times depend on the CPU and its load, so only what is deterministic is
checked: the three measures in order, the repetition counts, the order of
the quantiles, bad input refused with exit status 2 and one line, and the
device script's files."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import build_go_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("probe")
    build_go_script("spin", d)
    build_go_script("wakeup", d)
    return d


def test_spin_prints_the_three_measures(probe_dir: Path) -> None:
    p = subprocess.run([str(probe_dir / "spin"), "-rounds", "50", "-batch", "4"],
                       capture_output=True, text=True, timeout=120, check=True)
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["what"] for r in rows] == ["procyield30", "osyield", "window"]
    # procyield and osyield are timed over -batch calls; the window one at a time
    assert [(r["n"], r["batch"]) for r in rows] == [(50, 4), (50, 4), (50, 1)]
    for r in rows:
        assert 0 < r["p50_ns"] <= r["p90_ns"] <= r["p99_ns"] <= r["max_ns"]
        assert 0 < r["mean_ns"] <= r["max_ns"]
        assert r["cpus"] >= 1


@pytest.mark.parametrize("args", [["-rounds", "0"], ["-batch", "-1"], ["-rounds", "x"],
                                  ["-loads", "2"], ["extra"]])
def test_spin_refuses_bad_arguments(probe_dir: Path, args: list[str]) -> None:
    p = subprocess.run([str(probe_dir / "spin"), *args], capture_output=True, text=True,
                       timeout=60, check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("spin: ") and len(p.stderr.strip().splitlines()) == 1


def test_device_wakeup_script_runs_the_spin_probe_built_beside_it(probe_dir: Path,
                                                                  tmp_path: Path) -> None:
    script = ROOT / "scripts" / "device_wakeup.sh"
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "LOADS": "0", "PAUSES": "0", "ROUNDS": "30"}
    p = subprocess.run(["bash", str(script), str(probe_dir)], env=env, capture_output=True,
                       text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in out.iterdir()) == ["provenance.txt", "spin.jsonl",
                                                     "wakeup.jsonl"]
    rows = [json.loads(line) for line in (out / "spin.jsonl").read_text().splitlines()]
    assert [(r["what"], r["n"]) for r in rows] == [("procyield30", 30), ("osyield", 30),
                                                   ("window", 30)]
    prov = (out / "provenance.txt").read_text()
    assert "wakeup sha256: " in prov and "spin sha256: " in prov
