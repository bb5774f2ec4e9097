"""scripts/gotrace/summarize.py on a hand-written ``go tool trace -d=parsed``
excerpt (exact times and counts), and scripts/device_gotrace.sh end to end
with the real runtime."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gotrace_summarize",
                                               ROOT / "scripts" / "gotrace" / "summarize.py")
assert _spec is not None and _spec.loader is not None
summarize_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(summarize_mod)

# goroutines 10 and 11 allocate (they assist), 20 is a GC worker, 1 is main
# (one assist: left out as allocating); times in ns
TRACE = """\
M=1 P=0 G=1 RangeBegin Time=1000 Name="GC mark assist" Scope=Goroutine(1)
M=1 P=0 G=1 RangeEnd Time=1100 Name="GC mark assist" Scope=Goroutine(1) Attributes=[]
M=1 P=0 G=20 Label Time=1500 Label="GC (dedicated)"
M=1 P=0 G=-1 StateTransition Time=2000 GoID=10 Runnable->Running Reason=""
M=2 P=1 G=-1 StateTransition Time=2000 GoID=11 Runnable->Running Reason=""
M=3 P=2 G=-1 StateTransition Time=2000 GoID=20 Runnable->Running Reason=""
M=1 P=0 G=10 RangeBegin Time=3000 Name="GC concurrent mark phase" Scope=Global
M=1 P=0 G=10 RangeBegin Time=4000 Name="GC mark assist" Scope=Goroutine(10)
M=1 P=0 G=10 StateTransition Time=5000 GoID=10 Running->Waiting Reason="GC mark assist wait for work"
M=1 P=0 G=-1 StateTransition Time=5000 ProcID=0 Running->Idle Reason=""
M=3 P=2 G=20 StateTransition Time=8000 GoID=10 Waiting->Runnable Reason=""
M=1 P=0 G=10 StateTransition Time=9000 GoID=10 Runnable->Running Reason=""
M=1 P=0 G=10 RangeEnd Time=9500 Name="GC mark assist" Scope=Goroutine(10) Attributes=[]
M=2 P=1 G=11 RangeBegin Time=9600 Name="GC mark assist" Scope=Goroutine(11)
M=2 P=1 G=11 RangeEnd Time=9700 Name="GC mark assist" Scope=Goroutine(11) Attributes=[]
M=1 P=0 G=10 RangeEnd Time=13000 Name="GC concurrent mark phase" Scope=Global Attributes=[]
M=1 P=0 G=10 RangeBegin Time=13000 Name="stop-the-world (GC mark termination)" Scope=Goroutine(10)
M=1 P=0 G=10 StateTransition Time=13100 GoID=11 Running->Runnable Reason="preempted"
M=1 P=0 G=10 RangeEnd Time=20000 Name="stop-the-world (GC mark termination)" Scope=Goroutine(10) Attributes=[]
M=2 P=1 G=-1 StateTransition Time=27000 GoID=11 Runnable->Running Reason=""
"""


def test_summary_counts_the_mark_phase_and_the_restart(tmp_path: Path) -> None:
    p = tmp_path / "t.parsed.txt"
    p.write_text(TRACE)
    s = summarize_mod.summarize(p)
    assert (s["allocating_goroutines"], s["gc_worker_goroutines"]) == (2, 1)
    (m,) = s["mark_phases"]
    # the phase is 3000..13000: g10 runs 3000-5000 and 9000-13000, waits
    # 5000-8000, is runnable 8000-9000; g11 runs throughout; the worker runs
    # throughout
    assert m == {"ms": 0.01, "alloc_running_ms": (6000 + 10000) / 1e6,
                 "alloc_waiting_ms": 3000 / 1e6, "alloc_runnable_ms": 1000 / 1e6,
                 "gc_worker_running_ms": 10000 / 1e6,
                 "alloc_waiting_by_reason_ms": {"GC mark assist wait for work": 3000 / 1e6},
                 "assist_parks": 1, "p_idle": 1,
                 "runnable_us_per_park": 1.0}
    # g11 runs again 7 us after the world restarts at 20000; g10 never stopped
    (r,) = s["restarts"]
    assert r == {"stw": "GC mark termination", "delays_us": [7.0]}
    json.dumps(s)  # the summary is plain JSON


@pytest.mark.realgo
def test_device_gotrace_script_traces_and_summarizes(tmp_path: Path) -> None:
    """scripts/device_gotrace.sh, as a device session runs it: one archive with
    an untraced gctrace run and an execution trace per setting, and its
    provenance; ``go tool trace -d=parsed`` and summarize.py read the trace
    (a GC-on run at one P collects, so it has mark phases). Bad settings
    exit 2 and write nothing."""
    import os
    import subprocess
    import tarfile

    from gosim.realgo.toolchain import find_go, go_env

    if os.environ.get("GOSIM_SKIP_REALGO"):
        pytest.skip("GOSIM_SKIP_REALGO is set")
    go = find_go()
    probe_dir = tmp_path / "probe"
    subprocess.run([str(go.go), "build", "-o", str(probe_dir / "gotrace"), "."],
                   cwd=ROOT / "scripts" / "gotrace", env=go_env({"CGO_ENABLED": "0"}),
                   check=True, capture_output=True, timeout=300)
    script = ROOT / "scripts" / "device_gotrace.sh"
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "SIZES": "1024", "PROCS": "1", "DUR": "30ms",
           "TRACE_DUR": "30ms"}
    p = subprocess.run(["bash", str(script), str(probe_dir)], env=env, capture_output=True,
                       text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    with tarfile.open(out / "gotrace.tar.gz") as tar:
        names = sorted(n.lstrip("./") for n in tar.getnames() if n not in (".", "./"))
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+
            tar.extractall(tmp_path / "x", filter="data")
        else:
            tar.extractall(tmp_path / "x")
    stem = "s1024_p1_live0"
    assert names == sorted(["provenance.txt", f"{stem}.trace", f"{stem}.traced.err",
                            f"{stem}.traced.out", f"{stem}.untraced.err",
                            f"{stem}.untraced.out"])
    assert "cpus: " in (tmp_path / "x" / "provenance.txt").read_text()
    assert "gc 1 @" in (tmp_path / "x" / f"{stem}.untraced.err").read_text()
    parsed = tmp_path / "x" / f"{stem}.parsed.txt"
    with parsed.open("w") as fh:
        subprocess.run([str(go.go), "tool", "trace", "-d=parsed",
                        str(tmp_path / "x" / f"{stem}.trace")], stdout=fh,
                       env=go_env(), check=True, timeout=120)
    s = summarize_mod.summarize(parsed)
    assert s["mark_phases"] and all(m["ms"] > 0 for m in s["mark_phases"])
    # bad input: exit 2, one line, nothing written
    bad = tmp_path / "bad"
    for extra in ({"PROCS": str(os.cpu_count() + 1)}, {"LIVE_MIB": "x"}):
        p = subprocess.run(["bash", str(script), str(probe_dir)],
                           env={**env, "OUT": str(bad), **extra}, capture_output=True,
                           text=True, timeout=60, check=False)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert not bad.exists()
