"""Summarize an execution trace of scripts/gotrace (``go tool trace -d=parsed``).

    go tool trace -d=parsed t.out > t.parsed.txt
    python scripts/gotrace/summarize.py t.parsed.txt [more.parsed.txt ...] > summary.json

For each trace, as JSON:

- ``mark_phases``: each "GC concurrent mark phase" range: its length, the
  goroutine-time of the allocating goroutines (those that ran a "GC mark
  assist" range, main left out) by state (running, waiting, runnable) within it
  and their waiting time by the reason they blocked, the GC
  workers' running time, how many times the allocating goroutines parked for
  an assist ("GC mark assist wait for work"), how many times a P went idle,
  and the allocating goroutines' runnable time per park;
- ``restarts``: for each stop-the-world range ("GC sweep termination", "GC
  mark termination"), the delays from the world's restart to each allocating
  goroutine's first run after it, sorted, in microseconds.

Everything is taken from the trace's own timestamps (ns). The tracer slows the
program, so lengths under it are not the untraced program's; the shapes (who
waits, how often, how long after a restart a goroutine runs) are what it is for.
"""

from __future__ import annotations

import bisect
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

EVENT = re.compile(r"^M=(-?\d+) P=(-?\d+) G=(-?\d+) (\w+) Time=(\d+)(.*)$")
GOID = re.compile(r"GoID=(\d+)")
TRANS = re.compile(r"(\w+)->(\w+) Reason=\"([^\"]*)\"")
NAME = re.compile(r'Name="([^"]*)"')
SCOPE_G = re.compile(r"Scope=Goroutine\((\d+)\)")
LABEL = re.compile(r'Label="([^"]*)"')


def summarize(path: Path) -> dict[str, Any]:
    events = []
    assists: Counter[str] = Counter()
    workers: set[str] = set()
    with path.open() as fh:
        for line in fh:
            m = EVENT.match(line)
            if not m:
                continue
            _, _, g, kind, t, rest = m.groups()
            events.append((int(t), g, kind, rest))
            if kind == "RangeBegin" and "GC mark assist" in rest:
                s = SCOPE_G.search(rest)
                if s:
                    assists[s.group(1)] += 1
            elif kind == "Label":
                lab = LABEL.search(rest)
                if lab and lab.group(1).startswith("GC"):
                    workers.add(g)
    events.sort(key=lambda e: e[0])
    # the allocating goroutines: those that assisted, but main (goroutine 1,
    # which allocates a little while it samples the heap)
    assisting = set(assists) - {"1"}
    marks: list[dict[str, Any]] = []
    stw: list[tuple[int, str]] = []
    runs: list[tuple[int, str]] = []
    state: dict[str, tuple[str, int]] = {}
    why_waiting: dict[str, str] = {}  # goroutine -> the reason it is waiting
    cur: dict[str, Any] | None = None
    for t, _g, kind, rest in events:
        if kind in ("RangeBegin", "RangeEnd"):
            name = (NAME.search(rest) or [None, ""])[1]
            if name == "GC concurrent mark phase":
                if kind == "RangeBegin":
                    cur = {"start": t, "time": Counter(), "n": Counter(), "why": Counter()}
                elif cur is not None:
                    for gid, (st, since) in state.items():  # close the open intervals
                        _acc(cur, gid, st, max(since, cur["start"]), t, assisting, workers,
                             why_waiting.get(gid, ""))
                    marks.append(_mark_row(cur, t))
                    cur = None
            elif kind == "RangeEnd" and name.startswith("stop-the-world (GC"):
                stw.append((t, name[len("stop-the-world ("):-1]))
        elif kind == "StateTransition":
            gm = GOID.search(rest)
            tr = TRANS.search(rest)
            if tr is None:
                continue
            a, b, why = tr.groups()
            if gm is None:  # a P's transition
                if cur is not None and b == "Idle":
                    cur["n"]["p_idle"] += 1
                continue
            gid = gm.group(1)
            if gid in state and cur is not None:
                st, since = state[gid]
                _acc(cur, gid, st, max(since, cur["start"]), t, assisting, workers,
                     why_waiting.get(gid, ""))
            state[gid] = (b, t)
            if b == "Waiting":
                why_waiting[gid] = why
            if b == "Running" and gid in assisting:
                runs.append((t, gid))
            if cur is not None and gid in assisting and why == "GC mark assist wait for work":
                cur["n"]["assist_parks"] += 1
    times = [r[0] for r in runs]
    restarts = []
    for t_end, name in stw:
        first: dict[str, int] = {}
        for t, gid in runs[bisect.bisect_left(times, t_end):]:
            first.setdefault(gid, t - t_end)
            if len(first) == len(assisting):
                break
        restarts.append({"stw": name, "delays_us": sorted(round(d / 1000, 1)
                                                           for d in first.values())})
    return {"trace": path.name, "allocating_goroutines": len(assisting),
            "gc_worker_goroutines": len(workers), "mark_phases": marks, "restarts": restarts}


def _acc(cur: dict[str, Any], gid: str, st: str, lo: int, hi: int, assisting: set[str],
         workers: set[str], why: str) -> None:
    """Charge goroutine ``gid``'s time in state ``st`` from ``lo`` to ``hi`` to
    the mark phase ``cur`` (a waiting one's also to the reason it blocked)."""
    if hi <= lo:
        return
    if gid in assisting:
        cur["time"][f"alloc_{st.lower()}"] += hi - lo
        if st == "Waiting":
            cur["why"][why] += hi - lo
    elif gid in workers and st == "Running":
        cur["time"]["gc_worker_running"] += hi - lo


def _mark_row(cur: dict[str, Any], end: int) -> dict[str, Any]:
    row: dict[str, Any] = {"ms": round((end - cur["start"]) / 1e6, 3)}
    for k in ("alloc_running", "alloc_waiting", "alloc_runnable", "gc_worker_running"):
        row[f"{k}_ms"] = round(cur["time"][k] / 1e6, 3)
    # the waiting time by the reason the goroutine gave when it blocked ("sync":
    # a semaphore, e.g. gcStart's work.startSema; "GC mark assist wait for
    # work": the assist queue), largest first
    row["alloc_waiting_by_reason_ms"] = {
        why: round(ns / 1e6, 3) for why, ns in sorted(cur["why"].items(), key=lambda x: -x[1])
        if ns > 0}
    row["assist_parks"] = cur["n"]["assist_parks"]
    row["p_idle"] = cur["n"]["p_idle"]
    # how long a parked assist, once readied, waits to run (its runnable time
    # over its parks; goroutines also turn runnable for other reasons, so an
    # upper bound where parks are few)
    row["runnable_us_per_park"] = (round(cur["time"]["alloc_runnable"] / 1e3
                                         / cur["n"]["assist_parks"], 2)
                                   if cur["n"]["assist_parks"] else None)
    return row


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    json.dump([summarize(Path(a)) for a in argv], sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
