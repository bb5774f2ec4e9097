"""scripts/stw (how long the real runtime takes to stop the world on this
machine: runtime/metrics /sched/pauses/stopping/gc:seconds), end to end with
a real build. The latencies depend on the machine and its load, so only what
is deterministic is checked: one line per setting, in order, the histogram
summaries ordered, at one P no other P to stop (sub-microsecond), and bad
input refused with exit status 2, one line and nothing on stdout."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import build_go_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stw_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_script("stw", tmp_path_factory.mktemp("stw"))


def test_stw_prints_a_line_per_setting(stw_binary: Path) -> None:
    p = subprocess.run([str(stw_binary), "-procs", "1", "-sizes", "1024,32768", "-dur", "200ms"],
                       capture_output=True, text=True, timeout=120, check=True)
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [(r["gomaxprocs"], r["size"]) for r in rows] == [(1, 1024), (1, 32768)]
    for r in rows:
        assert r["go"].startswith("go1.") and r["num_gc"] > 0 and r["allocs_per_s"] > 0
        for h in (r["stopping"], r["total"]):
            # every cycle stops the world twice (sweep and mark termination); a
            # cycle under way when the window opens or closes counts one stop
            assert abs(h["n"] - 2 * r["num_gc"]) <= 2
            assert 0 <= h["p50_us"] <= h["p90_us"] and h["mean_us"] >= 0
        # one P: the stopping goroutine's own P is the only one to stop
        assert r["stopping"]["p90_us"] < 5
        assert r["stopping"]["mean_us"] <= r["total"]["mean_us"]


@pytest.mark.parametrize("args", [["-procs", str((os.cpu_count() or 1) + 1)],
                                  ["-sizes", "0"], ["-procs", "x"], ["-dur", "0s"],
                                  ["extra"]])
def test_stw_refuses_bad_arguments(stw_binary: Path, args: list[str]) -> None:
    p = subprocess.run([str(stw_binary), *args], capture_output=True, text=True, timeout=60,
                       check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("stw: ") and len(p.stderr.strip().splitlines()) == 1
