"""Where the real Go runtime's CPU goes per allocation, by GOMAXPROCS: the
gosim probe under Linux ``perf``.

    .venv/bin/python benchmarks/profile_real.py [--size N] [--procs 1,2]
        [--mode gc|nogc] [--ballast-mib N] [--dur S] [--top K]

Builds the probe of ``gosim realgo-scaling`` (gosim/realgo/goprog), runs one
record of its grid (GOMAXPROCS goroutines allocating garbage of one size,
as the ground-truth records do) for each GOMAXPROCS under
``perf record -g``, and prints, per allocation, the CPU time spent inside a
fixed list of runtime and kernel functions (inclusive: with what they
call; the rows overlap) and the kernel's share of all samples. The CPU per
sample is the record's own rusage CPU over the samples, so the rows of
different GOMAXPROCS compare as ns of CPU per allocation.

It answers what the records alone cannot: which part of the runtime grows
when a second P is added (docs/groundtruth.md, "How long the world is
stopped"). Needs ``perf`` with permission to record (perf_event_paranoid
<= 2) and a Go toolchain (``gosim realgo`` finds one); a developer's tool,
not part of the suite. Run it on a quiet machine: other load lands in the
profile as scheduling delay.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: inclusive rows shown, in order: the allocation path, locks and spinning,
#: the collector's work and handshakes, the scheduler, the scavenger, the kernel
FUNCTIONS = (
    "runtime.mallocgc", "runtime.(*mcache).refill", "runtime.(*mcentral).cacheSpan",
    "runtime.deductSweepCredit", "runtime.(*mheap).alloc", "runtime.memclrNoHeapPointers",
    "runtime.lock2", "runtime.procyieldAsm.abi0", "runtime.osyield.abi0",
    "runtime.gcAssistAlloc", "runtime.gcBgMarkWorker", "runtime.gcDrain", "runtime.markroot",
    "runtime.gcStart", "runtime.gcMarkDone", "runtime.gcMarkTermination",
    "runtime.stopTheWorldWithSema", "runtime.startTheWorldWithSema",
    "runtime.forEachPInternal", "runtime.preemptone", "runtime.goschedImpl",
    "runtime.schedule", "runtime.findRunnable", "runtime.stopm", "runtime.bgsweep",
    "runtime.bgscavenge", "asm_exc_page_fault", "entry_SYSCALL_64_after_hwframe",
    "smp_call_function_many_cond",
)

_CHILDREN = re.compile(r"\s*([\d.]+)%\s+([\d.]+)%\s+\S+\s+\[(.)\]\s+(.*)$")


def inclusive_shares(report: str) -> tuple[dict[str, float], float]:
    """From ``perf report --children --sort dso,sym -g none``: (symbol ->
    inclusive share of all samples, the kernel's self share)."""
    shares: dict[str, float] = {}
    kernel = 0.0
    for line in report.splitlines():
        m = _CHILDREN.match(line)
        if not m:
            continue
        children, self_, where, sym = float(m[1]), float(m[2]), m[3], m[4].strip()
        shares[sym] = max(shares.get(sym, 0.0), children)
        if where == "k":
            kernel += self_
    return shares, kernel / 100


def profile_one(binary: Path, spec: dict, tmp: Path) -> tuple[dict, dict[str, float], float]:
    (tmp / "spec.json").write_text(json.dumps(spec))
    data = tmp / "perf.data"
    out = subprocess.run(["perf", "record", "-q", "-g", "-F", "2000", "-o", str(data),
                          str(binary), str(tmp / "spec.json")],
                         capture_output=True, text=True, check=True, cwd=tmp)
    record = json.loads(out.stdout.splitlines()[0])
    report = subprocess.run(["perf", "report", "-i", str(data), "--children", "--sort",
                             "dso,sym", "--stdio", "-g", "none"],
                            capture_output=True, text=True, check=True).stdout
    shares, kernel = inclusive_shares(report)
    return record, shares, kernel


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--procs", default="1,2")
    ap.add_argument("--mode", choices=["gc", "nogc"], default="gc")
    ap.add_argument("--ballast-mib", type=int, default=0)
    ap.add_argument("--dur", type=float, default=3.0, help="measured seconds per run")
    args = ap.parse_args(argv)
    if shutil.which("perf") is None:
        print("perf is not installed (linux-tools)", file=sys.stderr)
        return 2
    try:
        procs = [int(p) for p in args.procs.split(",")]
    except ValueError:
        print(f"--procs: {args.procs!r} is not a list of integers", file=sys.stderr)
        return 2
    from gosim.realgo.scaling import build_static
    from gosim.realgo.toolchain import find_go

    cols = []
    with tempfile.TemporaryDirectory(prefix="gosim-perf-") as t:
        tmp = Path(t)
        binary = build_static(find_go("1.27"), tmp / "probe")
        for p in procs:
            spec = {"mode": "grid", "allow_oversubscribe": False, "child_godebug": "",
                    "blocks": [{"mode": args.mode, "sizes": [args.size], "procs": [p],
                                "kind": "noscan", "mix": [], "g_per_p": 1, "gogc": 100,
                                "ballast_mib": args.ballast_mib, "touch": True, "warm_s": 0.2,
                                "dur_s": args.dur, "count_per_g": 0, "work_iters": 0,
                                "repeats": 1}]}
            record, shares, kernel = profile_one(binary, spec, tmp)
            allocs = record["allocs_per_s"] * record["dur_s"]
            ns = record["cpu_total_s"] / allocs * 1e9  # CPU per allocation
            cols.append((p, record, shares, kernel, ns))
    print(f"{args.mode}, {args.size} B, {args.ballast_mib} MiB live: CPU per allocation "
          "(ns) inside each function, inclusive")
    print(f"{'':46}" + "".join(f"{'P=' + str(p):>10}" for p, *_ in cols))
    for fn in FUNCTIONS:
        print(f"{fn:46}" + "".join(f"{sh.get(fn, 0.0) / 100 * ns:10.1f}"
                                   for _, _, sh, _, ns in cols))
    print(f"{'all CPU':46}" + "".join(f"{ns:10.1f}" for *_, ns in cols))
    print(f"{'kernel share of the samples':46}" + "".join(f"{k:10.2f}" for *_, k, _ in cols))
    print(f"{'allocations per second (M)':46}"
          + "".join(f"{r['allocs_per_s'] / 1e6:10.2f}" for _, r, *_ in cols))
    print(f"{'GC cycles':46}" + "".join(f"{r.get('gc_cycles') or 0:10d}" for _, r, *_ in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
