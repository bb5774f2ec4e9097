"""Simulation speed, as ratios to a raw SimPy event loop timed in the same process.

Issue 12's targets, one case each (``make bench``):

- 48 B, go1.27, 1 P and 4 P, GC off: >= 10x the raw SimPy event rate
- 1 KiB, go1.27, 4 P, GC off: >= 1x; 32 KiB: >= 0.5x
- GC on, 256 MiB live heap, GOGC=100, 4 P, 48 B and 1 KiB garbage: >= 1x
- memory: <= 32 bytes of simulator memory per live object with 10 M live objects

Each case runs in a fresh child process, so its peak resident memory is its
own. In the child: the raw SimPy rate (a process yielding ``env.timeout(1)``
in a loop, best of three), then the simulation in ``batched`` mode (the
default), then a shorter run of the same scenario in ``step`` mode. The rates
are simulated allocations per wall-clock second (``mallocs`` / wall time of
``simulate``, setup included), each from the fastest of ``--repeat`` runs
(default 3; one run's time varies by 10-20% on a shared VM, as the raw loop's
does), the peak memory from the first.

    .venv/bin/python benchmarks/bench.py [--case NAME ...] [--scale F] [--repeat N] [--json] [--pure]

The simulation core runs compiled (setup.py's mypyc build) unless ``--pure``
(or it was not compiled: each row says which build ran, ``native`` and ``build``).

``--json`` prints to stdout only a JSON list with one object per case, keys
``case, sim_allocs_per_s, raw_simpy_events_per_s, ratio, step_allocs_per_s,
peak_rss_bytes, live_objects`` (and ``target``, ``wall_s``, ``allocs``);
``scripts/measure.py bench`` stores it with its provenance for README.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

#: name -> (scenario as a dict without its allocation count, total allocations in
#: batched mode, total in step mode (0: no step run), target ratio, what is measured)
CASES: dict[str, dict[str, Any]] = {}


def _case(name: str, *, procs: int, size: int, allocs: int, step_allocs: int,
          target: float, gc: bool = False, live_mib: int = 0, lifetime: str = "drop",
          metric: str = "ratio") -> None:
    CASES[name] = {"procs": procs, "size": size, "allocs": allocs, "step_allocs": step_allocs,
                   "target": target, "gc": gc, "live_mib": live_mib, "lifetime": lifetime,
                   "metric": metric}


_case("48B-1P-nogc", procs=1, size=48, allocs=4_000_000, step_allocs=200_000, target=10)
_case("48B-4P-nogc", procs=4, size=48, allocs=4_000_000, step_allocs=200_000, target=10)
_case("1KiB-4P-nogc", procs=4, size=1024, allocs=400_000, step_allocs=100_000, target=1)
_case("32KiB-4P-nogc", procs=4, size=32768, allocs=40_000, step_allocs=20_000, target=0.5)
# GC on: long enough to collect again after the cycle the live heap's build
# starts at the first allocation (the goal is then about 600 MB, so a cycle
# comes every 300-500 MB allocated): 48 B batched 3 cycles in all, step 2;
# 1 KiB batched 6, step 2. (Until stop 39 these ran 4,000,000 / 200,000 and
# 800,000 / 100,000 allocations: only the 1 KiB batched run collected after
# the build's cycle, the rest timed allocation alone.)
_case("48B-4P-gc-256MiB", procs=4, size=48, allocs=20_000_000, step_allocs=7_000_000,
      target=1, gc=True, live_mib=256)
_case("1KiB-4P-gc-256MiB", procs=4, size=1024, allocs=2_000_000, step_allocs=600_000,
      target=1, gc=True, live_mib=256)
# 10 M live 48 B objects (kept to the end), GC on: simulator memory per live object
_case("memory-10M-live", procs=1, size=48, allocs=10_000_000, step_allocs=0,
      target=32, gc=True, lifetime="keep", metric="bytes_per_live_object")


def scaled_allocs(c: dict[str, Any], scale: float, key: str = "allocs") -> int:
    """Case ``c``'s allocation count (``key``: ``allocs`` or ``step_allocs``) times
    ``scale``, at least 1,000 per goroutine."""
    return max(int(c[key] * scale), 1000 * c["procs"])


def scenario(c: dict[str, Any], mode: str, allocs: int) -> Any:
    from gosim.scenario import Scenario

    procs = c["procs"]
    d: dict[str, Any] = {
        "design": "go1.27", "gomaxprocs": procs, "mode": mode, "seed": 1,
        "gc": {"enabled": c["gc"]},
        "workload": {"groups": [{"count": procs, "allocations": allocs // procs,
                                 "size": c["size"], "lifetime": c["lifetime"]}]}}
    if c["live_mib"]:
        d["workload"]["live_heap"] = {"bytes": c["live_mib"] << 20}
    return Scenario.model_validate(d)


def raw_simpy_rate(n: int = 300_000) -> float:
    """Events per second of a bare SimPy loop of timeouts (best of three)."""
    import simpy

    best = 0.0
    for _ in range(3):
        env = simpy.Environment()

        def proc(env: simpy.Environment) -> Any:
            for _ in range(n):
                yield env.timeout(1)

        env.process(proc(env))
        t = time.perf_counter()
        env.run()
        best = max(best, n / (time.perf_counter() - t))
    return best


def rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_child(name: str, scale: float, repeat: int = 3) -> dict[str, Any]:
    c = CASES[name]
    import gosim
    from gosim.sim import simulate

    simulate(scenario(c, "batched", 1000 * c["procs"]))  # imports and caches
    raw = raw_simpy_rate()
    base_rss = rss_bytes()
    allocs = scaled_allocs(c, scale)
    walls = []
    for i in range(max(repeat, 1)):
        t = time.perf_counter()
        r = simulate(scenario(c, "batched", allocs))
        walls.append(time.perf_counter() - t)
        if i == 0:
            peak = rss_bytes()
    wall = min(walls)
    m = r.metrics
    rate = m["mallocs"] / wall
    live = int(m["mallocs"] - m["frees"]) if c["lifetime"] == "keep" else 0
    step_rate = None
    step_gc = None
    if c["step_allocs"]:
        sa = scaled_allocs(c, scale, "step_allocs")
        best = float("inf")
        for _ in range(max(repeat, 1)):
            t = time.perf_counter()
            rs = simulate(scenario(c, "step", sa))
            best = min(best, time.perf_counter() - t)
        step_rate = rs.metrics["mallocs"] / best
        step_gc = int(rs.metrics.get("num_gc", 0))
    out: dict[str, Any] = {
        "case": name, "sim_allocs_per_s": round(rate),
        "raw_simpy_events_per_s": round(raw), "ratio": round(rate / raw, 3),
        "step_allocs_per_s": round(step_rate) if step_rate is not None else None,
        "peak_rss_bytes": peak, "live_objects": live, "allocs": int(m["mallocs"]),
        "wall_s": round(wall, 2), "repeat": max(repeat, 1), "num_gc": int(m.get("num_gc", 0)), "step_num_gc": step_gc,
        "native": gosim.NATIVE, "build": gosim.BUILD}
    if c["metric"] == "bytes_per_live_object":
        out["bytes_per_live_object"] = round((peak - base_rss) / max(live, 1), 2)
        out["target"] = {"bytes_per_live_object_max": c["target"]}
        out["met"] = out["bytes_per_live_object"] <= c["target"]
    else:
        out["target"] = {"ratio_min": c["target"]}
        out["met"] = out["ratio"] >= c["target"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", action="append", choices=sorted(CASES),
                    help="run only this case (repeatable)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every case's allocation count (quick checks: 0.1)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each simulation, the fastest timed (default 3)")
    ap.add_argument("--json", action="store_true",
                    help="print only a JSON list of the cases to stdout")
    ap.add_argument("--pure", action="store_true",
                    help="run the pure-Python build (GOSIM_PURE_PYTHON=1), not the compiled one")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.scale, args.repeat)))
        return
    rows = []
    names = args.case or list(CASES)
    if not args.json:
        print(f"{'case':20} {'sim alloc/s':>12} {'raw ev/s':>10} {'ratio':>7} "
              f"{'target':>8} {'step alloc/s':>12} {'peak RSS':>9} {'live objs':>10}")
    for name in names:
        env = dict(os.environ, GOSIM_PURE_PYTHON="1") if args.pure else None
        p = subprocess.run([sys.executable, __file__, "--child", name, "--scale",
                            str(args.scale), "--repeat", str(args.repeat)],
                           capture_output=True, text=True, env=env)
        if p.returncode:
            sys.stderr.write(p.stderr)
            raise SystemExit(f"case {name} failed (exit {p.returncode})")
        row = json.loads(p.stdout.strip().splitlines()[-1])
        rows.append(row)
        if not args.json:
            tgt = row["target"]
            t = (f">={tgt['ratio_min']}x" if "ratio_min" in tgt
                 else f"<={tgt['bytes_per_live_object_max']}B")
            extra = (f"  {row['bytes_per_live_object']} B/live object"
                     if "bytes_per_live_object" in row else "")
            step = f"{row['step_allocs_per_s']:,}" if row["step_allocs_per_s"] else "-"
            print(f"{name:20} {row['sim_allocs_per_s']:12,} {row['raw_simpy_events_per_s']:10,} "
                  f"{row['ratio']:7.2f} {t:>8} {step:>12} "
                  f"{row['peak_rss_bytes'] / 2**20:8.0f}M {row['live_objects']:10,}"
                  f"{extra}{'' if row['met'] else '  (target missed)'}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
