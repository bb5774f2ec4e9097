"""scripts/gotrace/summarize.py on a hand-written ``go tool trace -d=parsed``
excerpt: exact times and counts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

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
                 "gc_worker_running_ms": 10000 / 1e6, "assist_parks": 1, "p_idle": 1,
                 "runnable_us_per_park": 1.0}
    # g11 runs again 7 us after the world restarts at 20000; g10 never stopped
    (r,) = s["restarts"]
    assert r == {"stw": "GC mark termination", "delays_us": [7.0]}
    json.dumps(s)  # the summary is plain JSON
