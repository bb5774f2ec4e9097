"""Simulated allocations per wall-clock second: batched vs step mode, side by side.

Target (issue 3): on a 48-byte workload, batched >= 20x step and >= 3 M
simulated allocations per wall-clock second in one process.

    .venv/bin/python benchmarks/bench_batching.py [--allocs N] [--json PATH]

``--json PATH`` writes the figures for README (scripts/measure.py bench stores
them with their provenance in benchmarks/measured.json; make figures renders
them).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

from gosim.scenario import Scenario
from gosim.sim import simulate

#: (design, GOMAXPROCS, object size in bytes, work between allocations)
CASES: list[tuple[str, int, int, int | dict[str, Any]]] = [
    ("go1.27", 1, 48, 0), ("go1.27", 4, 48, 0),
    ("go1.27", 4, 48, {"dist": "exponential", "mean": 50}),
    ("go1.12", 4, 48, 0), ("go1.27", 4, 1024, 0),
]


def scenario(mode: str, design: str, procs: int, allocs: int, size: int,
             work: int | dict[str, Any]) -> Scenario:
    return Scenario.model_validate({
        "design": design, "gomaxprocs": procs, "mode": mode,
        "workload": {"groups": [{"count": procs, "allocations": allocs // procs,
                                 "size": size, "work_ns": work}]}})


def measure(sc: Scenario) -> tuple[float, dict[str, Any]]:
    t = time.perf_counter()
    r = simulate(sc)
    return time.perf_counter() - t, r.metrics


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--allocs", type=int, default=2_000_000)
    ap.add_argument("--step-allocs", type=int, default=200_000)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    measure(scenario("batched", "go1.27", 1, 1000, 48, 0))  # imports, caches
    print(f"{'case':44} {'batched alloc/s':>16} {'step alloc/s':>14} {'speed-up':>9}")
    rows = []
    for design, procs, size, work in CASES:
        wb, mb = measure(scenario("batched", design, procs, args.allocs, size, work))
        ws, ms = measure(scenario("step", design, procs, args.step_allocs, size, work))
        rb, rs = mb["mallocs"] / wb, ms["mallocs"] / ws
        label = f"{design} P={procs} {size} B work={'exp50' if work else 0}"
        print(f"{label:44} {rb:16,.0f} {rs:14,.0f} {rb / rs:8.1f}x")
        rows.append({"design": design, "gomaxprocs": procs, "size": size,
                     "work_ns": work, "batched_allocs_per_s": round(rb),
                     "step_allocs_per_s": round(rs)})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps({
            "allocs": args.allocs, "step_allocs": args.step_allocs, "cases": rows,
            "peak_rss_mib": round(peak)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
