"""Where the compiled core spends its time: one bench case under ``perf``.

    .venv/bin/python benchmarks/profile_core.py CASE [--allocs N] [--procs P] [--top K]
        [--detail FUNCTION ...]

Runs ``benchmarks/bench.py``'s scenario CASE (batched mode) with Linux
``perf record --call-graph dwarf`` and charges every sample taken inside
``simulate()`` to the innermost gosim function on its stack, compiled
(mypyc's ``CPyDef_...``) or interpreted (``_PyEval_EvalFrameDefault``: SimPy's
event loop and the other modules that are not compiled), together with the
C-API helpers it called. ``cProfile`` cannot see inside the compiled core, and
perf's own report spreads a compiled function's cost over dozens of CPython
helpers; this view names the gosim function to fix and, with ``--detail``,
the helpers behind it (generic attribute lookups, dict probes, boxing).

Needs ``perf`` (linux-tools) with permission to record (perf_event_paranoid
<= 2); it is a developer's tool, not part of the test suite.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNNER = """
import sys
sys.path.insert(0, {here!r})
import bench
from gosim.sim.engine import simulate
c = dict(bench.CASES[{case!r}])
if {procs}:
    c["procs"] = {procs}
simulate(bench.scenario(c, "batched", {allocs}))
"""

#: samples per second perf takes
FREQUENCY = 1500


def attribute(script: str) -> tuple[int, collections.Counter, collections.Counter]:
    """From ``perf script -F ip,sym`` output: (samples in simulate(), samples
    per innermost gosim function, samples per (function, leaf symbol))."""
    own: collections.Counter = collections.Counter()
    pair: collections.Counter = collections.Counter()
    total = 0
    for sample in script.split("\n\n"):
        frames = [ln.split()[1] for ln in sample.strip().splitlines() if len(ln.split()) >= 2]
        if not frames or not any("simulate" in f for f in frames):
            continue
        total += 1
        fn = next((f for f in frames if f.startswith(("CPyDef_", "CPyPy_"))
                   or f == "_PyEval_EvalFrameDefault"), "?")
        fn = fn.replace("CPyDef_", "").replace("_gen_____mypyc_generator_helper__", "[gen]")
        own[fn] += 1
        pair[fn, frames[0]] += 1
    return total, own, pair


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case")
    ap.add_argument("--allocs", type=int, default=0,
                    help="allocations to simulate (default: the bench's count)")
    ap.add_argument("--procs", type=int, default=0,
                    help="GOMAXPROCS (and goroutines) instead of the case's, e.g. 1 to see "
                    "what a case's Ps add")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--detail", nargs="*", default=[],
                    help="functions (as printed) to break down by the helpers they call")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import bench

    if args.case not in bench.CASES:
        print(f"unknown case {args.case!r}; expected one of {sorted(bench.CASES)}",
              file=sys.stderr)
        return 2
    if shutil.which("perf") is None:
        print("perf is not installed (linux-tools)", file=sys.stderr)
        return 2
    allocs = args.allocs or bench.CASES[args.case]["allocs"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        code = RUNNER.format(here=str(HERE), case=args.case, allocs=allocs, procs=args.procs)
        subprocess.run(["perf", "record", "-q", "--call-graph", "dwarf,32768",
                        "-F", str(FREQUENCY),
                        "-o", str(data), sys.executable, "-c", code], check=True,
                       env={**os.environ, "PYTHONWARNINGS": "ignore"})
        script = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip,sym"],
                                capture_output=True, text=True, check=True).stdout
        total, own, pair = attribute(script)
    if not total:
        print("no samples inside simulate(): is the core compiled and perf allowed to unwind?",
              file=sys.stderr)
        return 1
    # a sample stands for 1 / FREQUENCY s of one CPU: ns per simulated allocation
    ns = 1e9 / FREQUENCY / allocs
    procs = f" at {args.procs} P" if args.procs else ""
    print(f"{args.case}{procs}, {allocs} allocations: {total} samples in simulate(), "
          f"about {total * ns:.0f} ns per allocation")
    for fn, n in own.most_common(args.top):
        print(f"{100 * n / total:6.1f}%  {n * ns:7.1f} ns/alloc  {fn}")
    for target in args.detail:
        print(f"\n{target} ({100 * own[target] / total:.1f}%), by what it called:")
        for (fn, leaf), n in pair.most_common():
            if fn == target and n > 1:
                print(f"   {100 * n / own[target]:5.1f}%  {leaf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
