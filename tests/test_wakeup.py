"""scripts/wakeup (this machine's futex wake-to-run latency) and
scripts/device_wakeup.sh, end to end with a real build. The latencies
themselves depend on the machine and its load, so only what is deterministic
is checked: one line per setting, the sample count, the order of the
quantiles, and bad input refused with exit status 2 and nothing written."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import build_go_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wakeup_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("probe")
    build_go_script("wakeup", d)
    return d


def test_wakeup_prints_a_line_per_setting(wakeup_dir: Path) -> None:
    p = subprocess.run([str(wakeup_dir / "wakeup"), "-rounds", "40", "-pauses", "0,20us"],
                       capture_output=True, text=True, timeout=120, check=True)
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [(r["load"], r["pause_ns"]) for r in rows] == [(0, 0), (0, 20_000)]
    for r in rows:
        assert r["n"] == 40 and r["pairs"] == 1
        assert 0 <= r["p50_ns"] <= r["p90_ns"] <= r["p99_ns"] <= r["max_ns"]
        assert 0 < r["mean_ns"] <= r["max_ns"]


@pytest.mark.parametrize("args", [["-loads", str((os.cpu_count() or 1) + 1)],
                                  ["-pauses", "soon"], ["-rounds", "0"], ["extra"]])
def test_wakeup_refuses_bad_arguments(wakeup_dir: Path, args: list[str]) -> None:
    p = subprocess.run([str(wakeup_dir / "wakeup"), *args], capture_output=True, text=True,
                       timeout=60, check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("wakeup: ") and len(p.stderr.strip().splitlines()) == 1


def test_device_wakeup_script(wakeup_dir: Path, tmp_path: Path) -> None:
    """As a device session runs it: the JSON lines and a provenance; bad
    settings exit 2 with one line and write nothing."""
    script = ROOT / "scripts" / "device_wakeup.sh"
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "LOADS": "0", "PAUSES": "0", "ROUNDS": "30"}
    p = subprocess.run(["bash", str(script), str(wakeup_dir)], env=env, capture_output=True,
                       text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in out.iterdir()) == ["provenance.txt", "wakeup.jsonl"]
    (row,) = [json.loads(line) for line in (out / "wakeup.jsonl").read_text().splitlines()]
    assert (row["load"], row["pause_ns"], row["n"]) == (0, 0, 30)
    prov = (out / "provenance.txt").read_text()
    assert "cpus: " in prov and "wakeup sha256: " in prov
    bad = tmp_path / "bad"
    for extra in ({"LOADS": str(os.cpu_count() or 1)}, {"LOADS": "x"}, {"ROUNDS": "-1"}):
        p = subprocess.run(["bash", str(script), str(wakeup_dir)],
                           env={**env, "OUT": str(bad), **extra}, capture_output=True,
                           text=True, timeout=60, check=False)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not bad.exists()
