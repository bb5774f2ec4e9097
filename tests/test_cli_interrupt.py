"""Ctrl-C during ``gosim run``: a message at once, the runs in flight
abandoned, every completed run kept (tables readable, a rerun skips them),
exit status 130. Sends a real SIGINT to a real ``gosim`` process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import gosim.sim
from gosim.cli import main

GOSIM = Path(sys.executable).with_name("gosim")

#: three short runs and one that never finishes in a test's time (10^9 allocations)
CONFIG = """\
name: intr
scenario:
  seed: 5
  workload:
    groups:
      - count: 1
        size: 48
        allocations: 2000
sweep:
  grid:
    workload.groups.0.allocations: [1000, 2000, 3000, 1000000000]
outputs:
  plots: false
"""
ENDLESS = 1_000_000_000


def wait_for(pred, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_sigint_keeps_completed_runs_and_exits_130(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "intr.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "res"
    runs_dir = out / "intr" / ".runs"
    # two workers: the endless run starts first (longest first) on one, the
    # short ones run on the other; interrupt once they are cached
    proc = subprocess.Popen([str(GOSIM), "run", str(cfg), "--out", str(out), "--jobs", "2",
                             "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: proc.poll() is not None or (
            runs_dir.is_dir() and len(list(runs_dir.glob("*.json"))) >= 3),
            240, "the three short runs")
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)  # generous: a loaded CI machine
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert lines[0] == ("gosim: interrupted: stopping the runs in flight, "
                        "keeping the completed ones"), stderr
    done = 3
    assert lines[-1].startswith(f"gosim: interrupted: {done} of 4 runs completed "
                                f"(0 cached before, {done} this time)"), stderr
    assert lines[-1].endswith("run the same command again to run the other "
                              f"{4 - done}"), stderr
    d = out / "intr"
    assert len(list(runs_dir.glob("*.json"))) == done
    assert not list(d.glob(".tmp-*")) and not list(runs_dir.glob(".tmp-*"))
    runs = pd.read_parquet(d / "runs.parquet")
    assert len(runs) == done and runs["error"].isna().all()
    col = "workload.groups.0.allocations"
    assert sorted(runs[col]) == [1000, 2000, 3000]
    assert (runs["mallocs"] == runs[col]).all()
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["interrupted"] is True and manifest["counts"]["runs"] == done

    # the rerun runs only what did not complete (the endless run fails on purpose here)
    asked = []
    real = gosim.sim.simulate

    def record(scenario):
        asked.append(scenario.workload.groups[0].allocations)
        if asked[-1] == ENDLESS:
            raise RuntimeError("not run in a test")
        return real(scenario)

    monkeypatch.setattr(gosim.sim, "simulate", record)
    rc = main(["run", str(cfg), "--out", str(out), "--jobs", "1", "--no-plots"])
    cap = capsys.readouterr()
    assert rc == 1 and "1 of 4 runs failed" in cap.err
    assert asked == [ENDLESS]
    assert "4 runs: 1 ran, 3 skipped (cached), 1 failed" in cap.out
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["interrupted"] is False
