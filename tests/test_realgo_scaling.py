"""The multi-P scaling probe (``gosim realgo-scaling``, goprog/scaling.go).

The probe runs the real Go runtime (built once per toolchain and source hash,
cached); a missing toolchain fails these tests as in test_realgo.py (set
GOSIM_SKIP_REALGO=1 to skip them on a machine without one). One session grid
(GOMAXPROCS 1 and 2, windows of 0.1 s) serves most tests; the bad-input tests
need no toolchain.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gosim.cli import main
from gosim.realgo import scaling
from gosim.realgo.probe import GoRunError, build_probe
from gosim.realgo.toolchain import GoToolchain, find_go

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO / "experiments" / "groundtruth" / "go1.27-16core.jsonl"
MiB = 1 << 20
realgo = pytest.mark.realgo


def shared_records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SHARED.read_text().splitlines()]


@pytest.fixture(scope="session")
def toolchain() -> GoToolchain:
    if os.environ.get("GOSIM_SKIP_REALGO"):
        pytest.skip("GOSIM_SKIP_REALGO is set")
    return find_go()


@pytest.fixture(scope="session")
def probe(toolchain: GoToolchain) -> Path:
    return build_probe(toolchain)


WINDOW = dict(warm_s=0.02, dur_s=0.1)
GRID = scaling.Grid(blocks=(
    # 0-1: GOGC=100, no live heap: a cycle every few ms
    scaling.Block(mode="gc", sizes=(48,), procs=(1, 2), **WINDOW),
    # 2: an 8 MiB ballast
    scaling.Block(mode="gc", sizes=(48,), procs=(1,), ballast_mib=8, **WINDOW),
    # 3-4: GC off, two goroutines per P, a fixed count each
    scaling.Block(mode="nogc", sizes=(1024,), procs=(1, 2), g_per_p=2, gogc=-1,
                  count_per_g=1000),
    # 5: a pointer-free mix, round-robin, with work between allocations
    scaling.Block(mode="nogc", sizes=(), mix=(16, 48, 1000), procs=(1,), g_per_p=2, gogc=-1,
                  count_per_g=300, work_iters=50),
    # 6-7: fresh 32 KiB objects, touched and not
    scaling.Block(mode="nogc", sizes=(32768,), procs=(1,), gogc=-1, count_per_g=512),
    scaling.Block(mode="nogc", sizes=(32768,), procs=(1,), gogc=-1, count_per_g=512,
                  touch=False),
    # 8: pointerful objects, GOGC=50
    scaling.Block(mode="gc", sizes=(64,), kind="scan", procs=(1,), gogc=50, **WINDOW),
))


@pytest.fixture(scope="session")
def records(probe: Path) -> list[dict[str, Any]]:
    return scaling.run_grid(GRID, probe)


@realgo
def test_grid_runs_every_record_in_order(records: list[dict[str, Any]],
                                         toolchain: GoToolchain) -> None:
    rel = "go" + toolchain.release
    assert [r["tag"] for r in records] == [
        f"{rel}_gc_48_noscan_p1_r1", f"{rel}_gc_48_noscan_p2_r1",
        f"{rel}_live8_48_noscan_p1_r1",
        f"{rel}_nogc_1024_noscan_p1_g2_r1", f"{rel}_nogc_1024_noscan_p2_g4_r1",
        f"{rel}_nogc_mix16-48-1000_noscan_p1_g2_w50_r1",
        f"{rel}_nogc_32768_noscan_p1_r1", f"{rel}_nogc_32768_noscan_p1_notouch_r1",
        f"{rel}_gc_gogc50_64_scan_p1_r1"]
    assert [(r["gomaxprocs"], r["g"]) for r in records] == [
        (1, 1), (2, 2), (1, 1), (1, 2), (2, 4), (1, 2), (1, 1), (1, 1), (1, 1)]
    assert all(r["go"] == toolchain.version for r in records)


@realgo
def test_records_carry_every_field_of_the_shared_file(records: list[dict[str, Any]]) -> None:
    shared = shared_records()
    keys = set().union(*(r.keys() for r in shared))
    metric_names = set().union(*(r["metrics"].keys() for r in shared))
    top_keys = {k for r in shared for t in r["contention"]["top"] for k in t}
    for r in records:
        assert keys <= r.keys(), keys - r.keys()
        assert r["metrics"].keys() == metric_names
        assert r["contention"].keys() == shared[0]["contention"].keys()
        for t in r["contention"]["top"]:
            assert t.keys() == top_keys
        assert {"work_iters", "work_ns_est"} <= r.keys()
        # the shared file's types for the fields a reader computes with
        for k in ("allocs", "bytes", "elapsed_ns", "g", "gomaxprocs", "gc_cycles", "minflt"):
            assert isinstance(r[k], int), k


@realgo
def test_gosim_groundtruth_reads_the_records(records: list[dict[str, Any]],
                                             tmp_path: Path) -> None:
    """The producer and the reader agree on the format: every record (a mix,
    scan objects, G above GOMAXPROCS) parses as `gosim groundtruth` reads it."""
    from gosim.groundtruth.records import read_records

    path = tmp_path / "gt.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    read = read_records(path)
    assert [(x.tag, x.size, x.kind, x.g, x.gomaxprocs) for x in read] == [
        (r["tag"], r["size"], r["kind"], r["g"], r["gomaxprocs"]) for r in records]
    assert read[5].mix == (16, 48, 1000)


@realgo
def test_counts_and_rates_are_consistent(records: list[dict[str, Any]]) -> None:
    for r in records:
        assert r["allocs"] > 0 and r["elapsed_ns"] > 0
        assert math.isclose(r["allocs_per_s"], r["allocs"] / (r["elapsed_ns"] / 1e9))
        assert math.isclose(r["allocs_per_s_per_p"], r["allocs_per_s"] / r["gomaxprocs"])
        assert math.isclose(r["ns_per_alloc_per_g"], r["elapsed_ns"] * r["g"] / r["allocs"])
        m = r["metrics"]
        assert r["gc_cycles"] == m["/gc/cycles/total:gc-cycles"]
        assert r["cpu_gc_s"] == m["/cpu/classes/gc/total:cpu-seconds"]
        assert r["cpu_total_s"] == m["/cpu/classes/total:cpu-seconds"]
        assert r["cpu_scavenge_s"] == m["/cpu/classes/scavenge/total:cpu-seconds"]
        assert r["mutex_wait_s"] == m["/sync/mutex/wait/total:seconds"]
        assert r["g_allocs_min"] <= r["g_allocs_max"]
        assert r["mprof_rate"] == 1 and r["batch"] == 64 and r["alloc"] == "new"
        if r["mode"] == "gc":
            # every goroutine publishes its count every 64 allocations; the
            # window is at least the time slept
            assert r["allocs"] % 64 == 0
            assert r["elapsed_ns"] >= r["dur_s"] * 1e9
            assert r["bytes"] == r["allocs"] * r["size"]
            assert r["g"] * r["g_allocs_max"] >= r["allocs"]
            assert r["count_per_g"] == 0


@realgo
def test_nogc_counts_are_exact(records: list[dict[str, Any]]) -> None:
    for r in records[3:8]:
        assert r["mode"] == "nogc" and r["gogc"] == -1
        assert r["gc_cycles"] == 0 and r["dur_s"] == 0 and r["warm_s"] == 0
        assert r["allocs"] == r["g"] * r["count_per_g"]
        assert r["g_allocs_min"] == r["g_allocs_max"] == r["count_per_g"]
    assert [r["allocs"] for r in records[3:5]] == [2 * 1000, 4 * 1000]
    assert [r["bytes"] for r in records[3:5]] == [2 * 1000 * 1024, 4 * 1000 * 1024]
    mix = records[5]
    # 300 per goroutine round-robin over three sizes: 100 of each
    assert mix["mix"] == [16, 48, 1000] and mix["size"] == 355  # the mean, 354.7, rounded
    assert mix["bytes"] == 2 * 100 * (16 + 48 + 1000)
    assert mix["work_iters"] == 50 and mix["work_ns_est"] > 0
    assert all(r["work_ns_est"] == 0 for i, r in enumerate(records) if i != 5)


@realgo
def test_gc_runs_collect_and_the_ballast_raises_the_goal(records: list[dict[str, Any]]) -> None:
    no_ballast, ballast, gogc50 = records[0], records[2], records[8]
    assert no_ballast["gc_cycles"] > 0 and gogc50["gc_cycles"] > 0
    # no live heap: the goal sits at the heap minimum, 4 MiB x GOGC/100
    # (mgcpacer.go), or a little above it when objects allocated while marking
    # survive their cycle
    assert 4 * MiB <= no_ballast["metrics"]["/gc/heap/goal:bytes"] < 8 * MiB
    assert gogc50["gogc"] == 50 and gogc50["kind"] == "scan"
    assert 2 * MiB <= gogc50["metrics"]["/gc/heap/goal:bytes"] < 4 * MiB
    # 8 MiB live: the goal is twice the marked heap, above 16 MiB
    assert ballast["ballast_mib"] == 8
    assert ballast["metrics"]["/gc/heap/goal:bytes"] > 16 * MiB
    assert ballast["metrics"]["/memory/classes/total:bytes"] > 8 * MiB


@realgo
def test_records_summarise_scheduler_latency_and_gc_pauses(
        records: list[dict[str, Any]]) -> None:
    """Each record carries the window's scheduling latencies and the GC's
    stop-the-world pauses (runtime/metrics histograms): none with the GC off;
    with it on, at least two per GC cycle (sweep termination and mark
    termination), less the cycles cut by the window's ends. There is no upper
    bound: mark termination stops the world again each time it finds work
    that write barriers left after the completion barrier (mgc.go gcMarkDone,
    golang/go#27993), and each attempt is a GC pause (proc.go isGC); a record
    with 23 cycles had 61 pauses. Every such stop records both its stopping
    and its total time (proc.go stopTheWorldWithSema, startTheWorldWithSema),
    but the two histograms are not compared: metrics.Read reads them one
    after the other without stopping the world, and on a loaded machine the
    reading goroutine can be descheduled while whole stops happen between the
    two (a CI run saw 4 more in one than in the other)."""
    for r in records:
        sched = r["sched"]
        assert set(sched) == {"latencies", "gc_pauses", "gc_stopping"}
        pauses, stopping = sched["gc_pauses"]["count"], sched["gc_stopping"]["count"]
        if r["mode"] == "nogc":
            assert pauses == 0 and stopping == 0
            continue
        cycles = r["gc_cycles"]
        assert cycles > 0 and pauses > 0 and stopping > 0
        if cycles >= 10:  # edge effects are a small part of the count
            for n in (pauses, stopping):
                assert n >= 1.5 * cycles
        p = sched["gc_pauses"]
        assert 0 < p["p50_s"] <= p["p90_s"] <= p["p99_s"] and p["mean_s"] > 0
    # two Ps, a cycle every few ms: goroutines wait runnable at every restart
    assert records[1]["sched"]["latencies"]["count"] > records[1]["gc_cycles"]


@realgo
def test_touch_faults_fresh_pages(records: list[dict[str, Any]]) -> None:
    touched, untouched = records[6], records[7]
    assert touched["touch"] is True and untouched["touch"] is False
    pages = touched["bytes"] // 4096  # 16 MiB of fresh memory
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    always = thp.is_file() and "[always]" in thp.read_text()
    # one fault per page touched (per 2 MiB huge page where THP is always on);
    # untouched fresh memory is known zero and never written
    assert touched["minflt"] >= (pages // 512 if always else pages)
    assert untouched["minflt"] < pages // 8


@realgo
def test_contention_is_attributed_to_the_releasing_function(
        records: list[dict[str, Any]]) -> None:
    with_records = [r for r in records if r["contention"]["records"] > 0]
    # two goroutines allocating 48 B objects with a cycle every few ms contend
    # on the scheduler and heap locks
    assert records[1]["contention"]["records"] > 0
    for r in with_records:
        c = r["contention"]
        top = c["top"]
        assert sum(t["share"] for t in top) == pytest.approx(1.0, abs=1e-9)
        assert sum(t["cycles"] for t in top) == c["cycles_total"]
        assert sum(t["count"] for t in top) == c["count_total"]
        assert c["cycles_per_s"] > 0
        assert c["seconds_est"] == pytest.approx(c["cycles_total"] / c["cycles_per_s"])
        assert [t["cycles"] for t in top] == sorted((t["cycles"] for t in top), reverse=True)
        assert len({t["fn"] for t in top}) == len(top)
        for t in top:
            bare = t["fn"].rsplit(".", 1)[-1].lower()
            assert not bare.startswith("unlock"), t  # the unlock itself is skipped
            assert t["fn"].startswith("runtime.") or t["fn"].startswith("sync.")
    for r in records:
        if r["contention"]["records"] == 0:
            assert r["contention"]["top"] == [] and r["contention"]["cycles_total"] == 0


@realgo
def test_probe_refuses_more_procs_than_cpus_unless_allowed(probe: Path) -> None:
    over = scaling.machine_cpus() + 1
    block = scaling.Block(mode="nogc", sizes=(1024,), procs=(over,), gogc=-1, count_per_g=64)
    with pytest.raises(GoRunError, match=f"GOMAXPROCS {over}: this machine has"):
        scaling.run_grid(scaling.Grid(blocks=(block,)), probe)
    [rec] = scaling.run_grid(scaling.Grid(blocks=(block,), allow_oversubscribe=True), probe)
    assert rec["gomaxprocs"] == over and rec["allocs"] == over * 64


# ---------------------------------------------------------------- the command


@realgo
def test_cli_writes_records_and_provenance(probe: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "gt.jsonl"
    argv = ["realgo-scaling", str(out), "--binary", str(probe), "--modes", "nogc",
            "--sizes", "1024,32768", "--procs", "1", "--count-per-g", "100", "--repeats", "2"]
    assert main(argv) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 4  # two sizes x one P x two repeats
    recs = [json.loads(line) for line in lines]
    assert [r["tag"].rsplit("_", 3)[1:] for r in recs] == [
        ["noscan", "p1", "r1"], ["noscan", "p1", "r2"]] * 2
    assert [r["size"] for r in recs] == [1024, 1024, 32768, 32768]
    prov = json.loads(scaling.provenance_path(out).read_text())
    assert prov["records"] == 4
    cmd = prov["command"]  # every option spelled out, defaults included
    assert cmd[:3] == ["gosim", "realgo-scaling", str(out)]
    for opt, value in (("--sizes", "1024,32768"), ("--procs", "1"), ("--gogc", "100"),
                       ("--count-per-g", "100"), ("--repeats", "2"), ("--modes", "nogc")):
        assert cmd[cmd.index(opt) + 1] == value
    assert "--touch" in cmd and "--build-only" not in cmd
    assert prov["machine"]["cpus"] == os.cpu_count() and "git" in prov
    assert prov["grid"]["blocks"][0]["sizes"] == [1024, 32768]
    assert prov["windows"] == [{"mode": "nogc", "ballast_mib": 0, "count_per_g": 100}]
    assert "4 records" in capsys.readouterr().out


@pytest.mark.parametrize("args,problem", [
    (["--sizes", "48,x"], "--sizes: expected a comma-separated list of integers"),
    (["--sizes", "0"], "--sizes: expected integers >= 1, got 0"),
    (["--modes", "gc,fast"], "--modes: expected a comma-separated list of gc / nogc"),
    (["--kind", "scan", "--sizes", "20"], "multiple of 8 bytes, at least 24; got 20"),
    (["--procs", "1,100000"], "GOMAXPROCS 100000 is more than this machine's"),
    (["--gogc", "0"], "--gogc: expected 1 or more"),
    (["--dur-s", "0"], "--dur-s: expected more than 0"),
    (["--repeats", "0"], "--repeats: expected 1 or more"),
    (["--count-per-g", "0"], "--count-per-g: expected 1 or more"),
    (["--ballast-mib", "-1"], "--ballast-mib: expected integers >= 0"),
    (["--mix", "16,48", "--kind", "scan"], "--mix: a mix is pointer-free"),
    (["--binary", "/nonexistent/probe"], "--binary /nonexistent/probe: not an executable"),
])
def test_cli_bad_input_is_one_line_exit_2_nothing_written(
        args: list[str], problem: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gt.jsonl"
    assert main(["realgo-scaling", str(out), "--procs", "1", *args]) == 2
    cap = capsys.readouterr()
    lines = cap.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gosim: error: "), cap.err
    assert problem in lines[0], lines[0]
    assert "Traceback" not in cap.err and cap.out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", ["no-out", "out-is-dir", "build-only-and-out"])
def test_cli_bad_targets(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = {"no-out": ["realgo-scaling"],
            "out-is-dir": ["realgo-scaling", str(tmp_path)],
            "build-only-and-out": ["realgo-scaling", str(tmp_path / "x.jsonl"),
                                   "--build-only", str(tmp_path / "b")]}[case]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("gosim: error: "), err
    assert list(tmp_path.iterdir()) == []


def test_default_grid_is_the_shared_files() -> None:
    """On 16 CPUs the default grid with the shared file's nogc sizes has the
    shared file's 48 settings and windows."""
    grid = scaling.make_grid(nogc_sizes=(1024, 32768), ncpu=16)
    shared = shared_records()
    assert grid.records == len(shared) == 48
    settings = {(b.mode, b.ballast_mib, s, p, b.warm_s, b.dur_s)
                for b in grid.blocks for s in b.sizes for p in b.procs}
    assert settings == {(r["mode"], r["ballast_mib"], r["size"], r["gomaxprocs"],
                         r["warm_s"], r["dur_s"]) for r in shared}
    # nogc: 128 MiB per goroutine, as the shared records' count_per_g
    assert {r["count_per_g"] * r["size"] for r in shared if r["mode"] == "nogc"} == {
        scaling.NOGC_BYTES_PER_G}
    # fewer CPUs: the shared GOMAXPROCS values this machine has
    assert scaling.make_grid(ncpu=6).blocks[0].procs == (1, 2, 4)


@realgo
def test_device_script_runs_a_tiny_grid(toolchain: GoToolchain, tmp_path: Path) -> None:
    """scripts/device_groundtruth.sh with a static probe, GOMAXPROCS 1 and tiny
    windows: all 8 settings, and a provenance file that is valid JSON."""
    probe_dir = tmp_path / "probe"
    scaling.build_static(toolchain, probe_dir)
    build = json.loads((probe_dir / "build.json").read_text())
    assert build["goos"] == "linux" and build["goarch"] == "amd64" and build["cgo"] is False
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PROCS": "1", "GC_WINDOW": "0.01 0.03",
           "LIVE_WINDOW": "0.01 0.03", "LIVE_MIB": "4"}
    p = subprocess.run(["bash", str(REPO / "scripts" / "device_groundtruth.sh"),
                        str(probe_dir)], env=env, capture_output=True, text=True,
                       timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    name = f"go{toolchain.release}-{scaling.machine_cpus()}core-gosim.jsonl"
    recs = [json.loads(x) for x in (out / name).read_text().splitlines()]
    rel = "go" + toolchain.release
    assert [r["tag"] for r in recs] == [
        f"{rel}_gc_48_noscan_p1_r1", f"{rel}_gc_1024_noscan_p1_r1",
        f"{rel}_gc_32768_noscan_p1_r1", f"{rel}_nogc_1024_noscan_p1_r1",
        f"{rel}_nogc_32768_noscan_p1_r1", f"{rel}_live4_48_noscan_p1_r1",
        f"{rel}_live4_1024_noscan_p1_r1", f"{rel}_live4_32768_noscan_p1_r1"]
    assert [r["count_per_g"] for r in recs if r["mode"] == "nogc"] == [131072, 4096]
    prov = json.loads((out / f"{name}.provenance.json").read_text())
    assert prov["records"] == 8 and prov["build"]["source_hash"] == build["source_hash"]
    assert [b["warm_s"] for b in prov["grid"]["blocks"]] == [0.01, 0, 0.01]
    assert prov["trace"] is None and prov["grid"]["child_godebug"] == ""
    assert sorted(x.name for x in out.iterdir()) == [name, f"{name}.provenance.json"]
    # GRID=FILE: another grid in the probe's format, each block with its own
    # repeats, the records named for the file
    grid = tmp_path / "tiny-grid.json"
    grid.write_text(json.dumps({"mode": "grid", "allow_oversubscribe": False, "child_godebug": "",
                                "blocks": [
        {"mode": "nogc", "sizes": [1024], "procs": [1], "kind": "noscan", "g_per_p": 1,
         "touch": False, "work_iters": 0, "gogc": -1, "ballast_mib": 0, "warm_s": 0,
         "dur_s": 0, "count_per_g": 2000, "repeats": 2},
        {"mode": "gc", "sizes": [48], "procs": [1], "kind": "noscan", "g_per_p": 1,
         "touch": True, "work_iters": 0, "gogc": 100, "ballast_mib": 0, "warm_s": 0.01,
         "dur_s": 0.02, "count_per_g": 0, "repeats": 1}]}))
    out2 = tmp_path / "out2"
    p = subprocess.run(["bash", str(REPO / "scripts" / "device_groundtruth.sh"), str(probe_dir)],
                       env={**os.environ, "OUT": str(out2), "GRID": str(grid)},
                       capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    gname = f"go{toolchain.release}-{scaling.machine_cpus()}core-gosim-tiny-grid.jsonl"
    recs = [json.loads(x) for x in (out2 / gname).read_text().splitlines()]
    assert [r["tag"] for r in recs] == [f"{rel}_nogc_1024_noscan_p1_notouch_r1",
                                        f"{rel}_nogc_1024_noscan_p1_notouch_r2",
                                        f"{rel}_gc_48_noscan_p1_r1"]
    assert recs[0]["allocs"] == 2000 and recs[0]["touch"] is False
    prov = json.loads((out2 / f"{gname}.provenance.json").read_text())
    assert prov["records"] == 3 and [b["repeats"] for b in prov["grid"]["blocks"]] == [2, 1]
    assert f"GRID={grid}" in prov["command"]
    # a missing grid file is refused with one line, nothing written
    p = subprocess.run(["bash", str(REPO / "scripts" / "device_groundtruth.sh"), str(probe_dir)],
                       env={**os.environ, "OUT": str(tmp_path / "out3"),
                            "GRID": str(tmp_path / "nope.json")},
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 2 and "no such file" in p.stderr and len(p.stderr.splitlines()) == 1
    assert not (tmp_path / "out3").exists()


@realgo
def test_device_script_keeps_the_trace_to_fold(toolchain: GoToolchain, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """TRACE=1: every record's process runs with the runtime's traces on, the
    probe's stderr is kept beside the records, and ``gosim realgo-scaling OUT
    --fold-trace TRACE`` gives each gc record its cycles' summary, pacer
    included, as --gctrace does; a trace of another run is refused."""
    probe_dir = tmp_path / "probe"
    scaling.build_static(toolchain, probe_dir)
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PROCS": "1", "GC_WINDOW": "0.01 0.05",
           "LIVE_WINDOW": "0.01 0.03", "LIVE_MIB": "4", "TRACE": "1"}
    p = subprocess.run(["bash", str(REPO / "scripts" / "device_groundtruth.sh"),
                        str(probe_dir)], env=env, capture_output=True, text=True,
                       timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    name = f"go{toolchain.release}-{scaling.machine_cpus()}core-gosim.jsonl"
    rec_path, trace = out / name, out / f"{name}.trace.txt"
    prov = json.loads((out / f"{name}.provenance.json").read_text())
    assert prov["trace"] == trace.name
    assert prov["grid"]["child_godebug"] == scaling.GCTRACE_GODEBUG
    before = [json.loads(x) for x in rec_path.read_text().splitlines()]
    assert {r["godebug"] for r in before} == {scaling.GCTRACE_GODEBUG}
    assert not any("gctrace" in r for r in before)
    assert main(["realgo-scaling", str(rec_path), "--fold-trace", str(trace)]) == 0
    after = [json.loads(x) for x in rec_path.read_text().splitlines()]
    assert [{k: v for k, v in a.items() if k != "gctrace"} for a in after] == before
    for a in after:
        if a["mode"] == "gc":
            assert a["gctrace"]["cycles"] == a["gc_cycles"]
            assert a["gctrace"]["pacer_cycles"] == a["gc_cycles"]
        else:
            assert "gctrace" not in a
    # the trace of a run with other records
    short = tmp_path / "short.txt"
    short.write_text("\n".join(trace.read_text().splitlines()[:3]) + "\n")
    assert main(["realgo-scaling", str(rec_path), "--fold-trace", str(short)]) == 2
    assert "not the trace of that run" in capsys.readouterr().err
    # and the records are as folded
    assert [json.loads(x) for x in rec_path.read_text().splitlines()] == after


@realgo
def test_gctrace_summarises_each_gc_record_s_cycles(probe: Path) -> None:
    """With --gctrace each record's process runs with GODEBUG=gctrace=1,scavtrace=1
    (the record says so) and a gc record carries its window's cycles: as many
    as the record counted, with the 4 MiB minimum goal and nothing marked live
    beyond what the mark phase allocated; a nogc record has none; the probe's
    own progress lines still reach the caller, the runtime's do not."""
    grid = scaling.Grid(blocks=(
        scaling.Block(mode="gc", sizes=(1024,), procs=(1,), **WINDOW),
        scaling.Block(mode="nogc", sizes=(1024,), procs=(1,), gogc=-1, count_per_g=1000)),
        child_godebug=scaling.GCTRACE_GODEBUG)
    seen: list[str] = []
    gc, nogc = scaling.run_grid(grid, probe, on_progress=seen.append)
    assert [line.startswith(scaling.PROGRESS_PREFIX) for line in seen] == [True, True]
    assert gc["godebug"] == nogc["godebug"] == "gctrace=1,scavtrace=1,gcpacertrace=1"
    t = gc["gctrace"]
    assert t["cycles"] == gc["gc_cycles"] >= 5
    assert t["goal_mb_max"] >= 4
    assert 0 < t["mark_ms_mean"] <= t["mark_ms_max"]
    assert t["marked_mb_mean"] <= t["heap_end_mb_mean"]
    # the pacer's end-of-cycle line, one per cycle of the window: each cycle
    # triggered past the 0.7 floor of the way to its goal, ended below 1.1 x it
    assert t["pacer_cycles"] == t["cycles"]
    assert 0.7 < t["trigger_goal_ratio_p50"] < t["mark_end_goal_ratio_p50"] < 1.1
    assert 0 < t["marking_mb_p50"] < t["goal_mb_max"]
    assert t["pacer_utilization_p50"] >= 0.25  # endCycle assumes the workers' 25%
    assert "gctrace" not in nogc


def test_split_traces_finds_a_progress_line_glued_to_a_child_fragment() -> None:
    """The child and the probe share stderr: a child stopped mid-line leaves a
    fragment in front of the next progress line (seen in a 16-core run). The
    record boundary is still found there, the fragment stays with the record
    before, and the last record's lines are those before its progress line."""
    p = scaling.PROGRESS_PREFIX
    lines = ["gc 1 @0.000s 1%: a", f"{p}1/3] x", "gc 1 @0.000s 1%: b",
             f"gc 1021 @0.711s 21%: 0.054+0.23{p}2/3] y", f"{p}3/3] z", "tail"]
    assert scaling.split_traces(lines) == [
        ["gc 1 @0.000s 1%: a"], ["gc 1 @0.000s 1%: b", "gc 1021 @0.711s 21%: 0.054+0.23"], []]


def test_the_shipped_traced_records_are_what_their_trace_folds_to(tmp_path: Path) -> None:
    """experiments/groundtruth/extra/go1.27-16core-traced.jsonl came back from a
    16-core machine with the probe's stderr (gzip): folding that trace into the
    records, stripped of their summaries, gives the shipped file byte for byte,
    and every gc record's cycles agree in count with what the probe counted."""
    extra = REPO / "experiments" / "groundtruth" / "extra"
    shipped = (extra / "go1.27-16core-traced.jsonl").read_text()
    recs = [json.loads(x) for x in shipped.splitlines()]
    out = tmp_path / "r.jsonl"
    out.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "gctrace"},
                                      separators=(",", ":")) + "\n" for r in recs))
    n = scaling.fold_trace_file(out, extra / "go1.27-16core-traced.jsonl.trace.txt.gz")
    assert n == sum(r["mode"] == "gc" for r in recs) == 72
    assert [json.loads(x) for x in out.read_text().splitlines()] == recs
    for r in recs:
        if r["mode"] == "gc":
            assert r["gctrace"]["cycles"] == r["gc_cycles"]


def test_device_disputed_script_records_each_step_and_fails_if_one_did(tmp_path: Path) -> None:
    """scripts/device_disputed.sh runs its four steps whatever the one before
    did (a device call brings back all it got), records each step's exit
    status in the archive's machine.txt, and exits 1 when any failed: here
    every step, for want of the prebuilt binaries."""
    import tarfile

    out = tmp_path / "out"
    p = subprocess.run(["bash", str(REPO / "scripts" / "device_disputed.sh"),
                        str(tmp_path / "no-probe")], env={**os.environ, "OUT": str(out)},
                       capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 1, p.stderr
    assert sorted(x.name for x in out.iterdir()) == ["s32.tar.gz"]
    with tarfile.open(out / "s32.tar.gz") as tar:
        machine = tar.extractfile("s32/machine.txt").read().decode()  # type: ignore[union-attr]
    steps = [ln for ln in machine.splitlines() if ln.startswith("step ")]
    assert [ln.split(":")[0] for ln in steps] == [
        "step wakeup", "step wakeup4", "step grid", "step disputed"]
    assert all(ln.split("exit ")[1] != "0" for ln in steps)
