"""A fingerprint of the default-cost results, for changes that must not move them.

    .venv/bin/python scripts/fingerprint.py            # print one hash per scenario
    .venv/bin/python scripts/fingerprint.py --save F   # ... and write them to F
    .venv/bin/python scripts/fingerprint.py --check F  # exit 1 if any differs from F

Sixteen scenarios over the presets, 1-16 Ps, batched and step mode, the
collector on and off, a live heap and the three lifetimes; each result
(metrics and tables, minus the two figures measured in wall-clock time) is
hashed. Save a baseline before a change that adds a mechanism off by default
or speeds up a path, and check against it after: the tests compare modes and
builds with each other, this compares a revision with an earlier one. A
developer's tool, not part of the suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

#: metrics that depend on wall-clock measurement, not on the simulation
_UNSTABLE = ("os_page_fault_mean_ns", "gc_stw_stopping_mean_ns")


def _scenario(design: str, procs: int, size: int, allocs: int, *, gc: bool = True,
              mode: str = "batched", live: int = 0, work: bool = True, count: int | None = None,
              lifetime: str = "drop") -> dict[str, Any]:
    g: dict[str, Any] = {"count": count or procs, "size": size, "allocations": allocs,
                         "lifetime": lifetime}
    if work:
        g["work_ns"] = {"dist": "exponential", "mean": 50}
    d: dict[str, Any] = {"design": design, "gomaxprocs": procs, "mode": mode, "seed": 7,
                         "gc": {"enabled": gc}, "workload": {"groups": [g]}}
    if live:
        d["workload"]["live_heap"] = {"bytes": live}
    return d


SCENARIOS = [
    _scenario("go1.27", 1, 48, 20000), _scenario("go1.27", 4, 48, 5000),
    _scenario("go1.27", 4, 1024, 3000), _scenario("go1.27", 4, 32768, 300),
    _scenario("global-lock", 8, 48, 1000), _scenario("global-lock", 16, 1024, 300),
    _scenario("go1.12", 8, 1024, 500), _scenario("go1.14", 16, 1024, 300),
    _scenario("tcmalloc", 4, 48, 3000), _scenario("go1.27", 4, 1024, 2000, mode="step"),
    _scenario("global-lock", 4, 48, 1000, mode="step"),
    _scenario("go1.27", 4, 1024, 20000, live=8 << 20), _scenario("go1.15", 8, 65536, 100),
    _scenario("go1.27", 2, 48, 5000, gc=False), _scenario("go1.27", 4, 1024, 2000, count=9),
    _scenario("go1.27", 4, 512, 3000, lifetime="keep"),
]


def fingerprints() -> list[str]:
    from gosim.runner.execute import execute_run

    out = []
    for i, sc in enumerate(SCENARIOS):
        r = execute_run(sc)
        if not r["ok"]:
            raise SystemExit(f"scenario {i} ({sc['design']}) failed: {r['error']}")
        res = r["result"]
        for k in _UNSTABLE:
            res["metrics"].pop(k, None)
        h = hashlib.sha1(json.dumps(res, sort_keys=True, default=str).encode()).hexdigest()[:16]
        out.append(f"{i} {sc['design']} {h}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--save", type=Path, help="write the hashes to this file")
    g.add_argument("--check", type=Path, help="compare with the hashes in this file")
    args = ap.parse_args(argv)
    lines = fingerprints()
    print("\n".join(lines))
    if args.save:
        args.save.write_text("\n".join(lines) + "\n")
    if args.check:
        want = args.check.read_text().split("\n")
        differ = [a for a, b in zip(lines, want, strict=False) if a != b]
        if differ or len(want) < len(lines):
            print(f"{len(differ)} of {len(lines)} differ from {args.check}", file=sys.stderr)
            return 1
        print(f"all {len(lines)} as in {args.check}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
