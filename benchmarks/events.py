"""Where a bench case's SimPy events come from, and the speed they allow.

    .venv/bin/python benchmarks/events.py [--case NAME ...] [--scale F] [--json]

Runs ``benchmarks/bench.py``'s cases (batched mode, ``--scale`` x their
allocation count, default 0.1) on the pure-Python build, where every event
pushed on the queue can be traced to the code that made it, and prints per
simulated allocation:

- ``events``: SimPy events processed, and ``syncs``: clock catch-ups,
  events and shortcuts together (``EventPos.nstep``); of the shortcuts,
  ``inline``: syncs that found events due first and processed them in
  place of waiting on a timeout (``gosim.sim.clock.run_before``);
- the events by origin: a goroutine's ``sync`` before a lock-free atomic
  (span sets, heapLive, page faults), before the GC bits arena's bump
  (``newMarkBits``), before a lock, before an unlock, at a safepoint or a
  time-slice end (``g_body``), elsewhere in the runtime (``sync:<function>``);
  a lock handed to a waiter (``grant``); a sleeping M woken (``wake``); the
  scheduler's own (switches, idle Ps, starts);
- ``ceiling``: 1 / events per allocation, the ratio to the raw SimPy event
  rate (``bench.py``'s ``ratio``) the case would reach if everything but
  its events cost nothing; the case's target is out of reach of work on
  the model's code alone when it is below the target.

Event counts do not depend on the build (the compiled core processes the
same events: tests/test_native.py), so the pure-Python build answers for
both. It is a developer's tool, not part of the suite; tests/test_bench_events.py
checks that the origins add up to the events processed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench.py, the cases counted here

#: the function that called ``GCtx.sync`` -> the origin it is counted under
_SYNC_CALLERS = {"atomic": "sync:atomic", "take": "sync:gcbits", "lock": "sync:lock",
                 "unlock": "sync:unlock", "g_body": "sync:safepoint/slice"}


def _origin(frame: Any) -> str:
    """What made the event whose ``_push`` ran in ``frame``'s callee."""
    f = frame
    names = []
    while f is not None and len(names) < 4:
        names.append(f.f_code.co_name)
        f = f.f_back
    if names[0] == "__init__" and len(names) > 1:  # PTimeout(...): who made it
        names = names[1:]
    head = names[0]
    if head == "sync":
        caller = names[1] if len(names) > 1 else "?"
        return _SYNC_CALLERS.get(caller, f"sync:{caller}")
    if head == "succeed":
        caller = names[1] if len(names) > 1 else "?"
        return "grant" if caller == "_grant" or caller == "_fifo_woken" else f"succeed:{caller}"
    if head == "_wake":
        return "wake"
    if head in ("p_proc", "start", "resume", "wake_idle"):
        return "scheduler"
    return head


def count_events(case: dict[str, Any], allocs: int) -> dict[str, Any]:
    """Simulate ``case`` (a bench case) with ``allocs`` allocations, batched, and
    count its events by origin (pure-Python build only: the compiled core's
    frames cannot be seen)."""
    import gosim
    from gosim.sim import clock
    from gosim.sim.engine import Simulation

    if gosim.NATIVE:
        raise RuntimeError("count_events needs the pure-Python build (GOSIM_PURE_PYTHON=1)")
    import bench

    origins: collections.Counter[str] = collections.Counter()
    push = clock.PEvent._push

    def traced(self: Any, delay: int, key: int) -> None:
        origins[_origin(sys._getframe(1))] += 1
        push(self, delay, key)

    clock.PEvent._push = traced  # type: ignore[method-assign]
    try:
        sim = Simulation(bench.scenario(case, "batched", allocs))
        schedule = sim.env.schedule

        def scheduled(event: Any, priority: int = 1, delay: Any = 0) -> None:
            origins["simpy"] += 1
            schedule(event, priority, delay)

        sim.env.schedule = scheduled  # type: ignore[method-assign]
        r = sim.run()
    finally:
        clock.PEvent._push = push  # type: ignore[method-assign]
    n = int(r.metrics["mallocs"])
    events = sim.env.events
    return {"allocs": n, "events": events, "syncs": sim.env.nstep, "inline": sim.env.pos.inline,
            "pushed": sum(origins.values()), "origins": dict(origins.most_common())}


def row(name: str, scale: float) -> dict[str, Any]:
    import bench

    c = bench.CASES[name]
    allocs = bench.scaled_allocs(c, scale)
    got = count_events(c, allocs)
    n = got["allocs"]
    per = {k: round(v / n, 4) for k, v in got["origins"].items()}
    epa = got["events"] / n
    target = c["target"] if c["metric"] == "ratio" else None
    return {"case": name, "allocs": n, "events": got["events"], "pushed": got["pushed"],
            "syncs": got["syncs"], "events_per_alloc": round(epa, 4),
            "syncs_per_alloc": round(got["syncs"] / n, 4),
            "inline_per_alloc": round(got["inline"] / n, 4), "by_origin": per,
            "ceiling_ratio": round(1 / epa, 2) if epa else None, "target_ratio": target}


def main() -> int:
    import bench

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", choices=sorted(bench.CASES),
                    help="only this case (repeatable; default: every speed case)")
    ap.add_argument("--scale", type=float, default=0.1,
                    help="multiply each case's allocation count (default 0.1)")
    ap.add_argument("--json", action="store_true", help="print only a JSON list")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(row(args.child, args.scale)))
        return 0
    names = args.case or [k for k, c in bench.CASES.items() if c["metric"] == "ratio"]
    rows = []
    env = {**os.environ, "GOSIM_PURE_PYTHON": "1"}
    for name in names:
        p = subprocess.run([sys.executable, __file__, "--child", name, "--scale", str(args.scale)],
                           capture_output=True, text=True, env=env)
        if p.returncode:
            sys.stderr.write(p.stderr)
            raise SystemExit(f"case {name} failed (exit {p.returncode})")
        rows.append(json.loads(p.stdout))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        tgt = r["target_ratio"]
        print(f"{r['case']}: {r['allocs']:,} allocations, {r['events_per_alloc']:.3f} events and "
              f"{r['syncs_per_alloc']:.3f} syncs ({r['inline_per_alloc']:.3f} running the events "
              f"due first) per allocation; ceiling {r['ceiling_ratio']}x "
              f"the raw SimPy rate (target {tgt}x)")
        for k, v in r["by_origin"].items():
            if v >= 0.0005:
                print(f"    {v:8.4f}  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
