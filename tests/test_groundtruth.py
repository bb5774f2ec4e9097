"""``gosim groundtruth``: reading real-runtime records, mapping them to
scenarios, the agreement checks, the fit, and the command end to end."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gosim.cli import main
from gosim.errors import ConfigError
from gosim.groundtruth.fit import coordinate_search
from gosim.groundtruth.mapping import MIB, record_scenario, scenario_dict, sim_window
from gosim.groundtruth.records import (
    Record,
    parse_record,
    read_records,
    runtime_function,
    top_site,
)
from gosim.groundtruth.scoring import (
    COLUMNS,
    SimPoint,
    comparison_table,
    peak_within,
    rms_log_error,
    score,
    sim_point,
)
from gosim.scenario import Scenario
from gosim.sim import simulate

ROOT = Path(__file__).resolve().parents[1]
TRUTH = ROOT / "experiments" / "groundtruth" / "go1.27-16core.jsonl"
LINES = TRUTH.read_text().splitlines()
RECORDS = read_records(TRUTH)
PRESETS = "go1.12, go1.14, go1.15, go1.25, go1.27"


def raw(line: int) -> dict[str, Any]:
    """The record on ``line`` (1-based) of the 16-core file, decoded."""
    return json.loads(LINES[line - 1])


def write_jsonl(path: Path, objs: list[Any]) -> Path:
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs))
    return path


# ---------------------------------------------------------------- reading

def test_the_16_core_file_reads_whole() -> None:
    assert len(RECORDS) == 48
    assert {r.preset for r in RECORDS} == {"go1.27"}
    assert [r.line for r in RECORDS] == list(range(1, 49))
    assert sum(r.mode == "nogc" for r in RECORDS) == 12
    assert sum(r.ballast_mib == 256 for r in RECORDS) == 18
    assert {r.gomaxprocs for r in RECORDS} == {1, 2, 4, 8, 12, 16}
    assert all(r.g == r.gomaxprocs and r.touch and r.kind == "noscan" for r in RECORDS)
    nogc = [r for r in RECORDS if r.mode == "nogc"]
    assert all(r.gogc is None and r.gc_cycles_per_s == 0.0 for r in nogc)
    assert RECORDS[0].gc_cycles_per_s == pytest.approx(398 / 0.6)


def _bad(tmp_path: Path, lines: list[Any], capsys: pytest.CaptureFixture[str]) -> str:
    f = write_jsonl(tmp_path / "truth.jsonl", lines)
    out = tmp_path / "out"
    assert main(["groundtruth", str(f), "--out", str(out), "--jobs", "1"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "Traceback" not in cap.err and cap.err.count("\n") == 1
    assert not out.exists()  # nothing written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["truth.jsonl"]
    return cap.err.rstrip("\n")


def test_bad_json_line_names_file_and_line(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    err = _bad(tmp_path, [raw(1), '{"go": "go1.27.3", gomaxprocs: 2}'], capsys)
    f = tmp_path / "truth.jsonl"
    assert err == (f"gosim: error: {f}:2: not valid JSON: Expecting property name enclosed "
                   "in double quotes (column 20)")


def test_missing_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = raw(3)
    del rec["gomaxprocs"]
    err = _bad(tmp_path, [raw(1), raw(2), rec], capsys)
    assert err == f"gosim: error: {tmp_path / 'truth.jsonl'}:3: key 'gomaxprocs': missing " \
                  "required key"


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("gomaxprocs", "4", 'expected an integer, got "4"'),
    ("gomaxprocs", 0, "expected an integer >= 1, got 0"),
    ("g", 2.0, "expected an integer, got 2.0"),
    ("touch", 1, "expected true or false, got 1"),
    ("kind", "pointerful", 'expected one of noscan, scan, got "pointerful"'),
    ("mode", "off", 'expected one of gc, nogc, got "off"'),
    ("allocs_per_s", 0, "expected a number > 0, got 0"),
    ("allocs_per_s", True, "expected a number, got true"),
    ("gogc", -1, "expected an integer >= 1, got -1"),
    ("ballast_mib", -256, "expected an integer >= 0, got -256"),
    ("mix", [48, "1024"], 'expected a non-empty list of sizes (integers >= 1), got '
                          '[48, "1024"]'),
    ("contention", [], "expected an object with a 'top' list, got []"),
])
def test_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: Any,
                    expected: str) -> None:
    rec = {**raw(2), key: value}
    err = _bad(tmp_path, [rec], capsys)
    assert err == f"gosim: error: {tmp_path / 'truth.jsonl'}:1: key '{key}': {expected}"


def test_bad_contention_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = raw(3)
    rec["contention"]["top"][1]["share"] = "0.03"
    err = _bad(tmp_path, [rec], capsys)
    assert err == (f"gosim: error: {tmp_path / 'truth.jsonl'}:1: key 'contention.top[1].share':"
                   ' expected a number, got "0.03"')


def test_unknown_go_release_names_the_presets(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    err = _bad(tmp_path, [raw(1), {**raw(2), "go": "go1.26.1"}], capsys)
    assert err == (f"gosim: error: {tmp_path / 'truth.jsonl'}:2: key 'go': expected a Go "
                   f"release that a design preset models ({PRESETS}; e.g. \"go1.27.3\" -> "
                   'go1.27), got "go1.26.1"')


def test_releases_map_to_presets() -> None:
    for go, preset in (("go1.27.3", "go1.27"), ("go1.25.5", "go1.25"), ("go1.25", "go1.25"),
                       ("go1.27rc1", "go1.27"), ("go1.14.15", "go1.14")):
        assert parse_record({**raw(1), "go": go}, file="f", line=1).preset == preset
    for go in ("go1.26.0", "1.27.3", "go1.27.x", "tcmalloc"):
        with pytest.raises(ConfigError, match="key 'go'"):
            parse_record({**raw(1), "go": go}, file="f", line=1)


def test_empty_file_and_extra_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"truth.jsonl: no records"):
        read_records(write_jsonl(tmp_path / "truth.jsonl", ["", "  "]))
    # unknown keys are fine (records carry many); blank lines are skipped, not renumbered
    f = write_jsonl(tmp_path / "x.jsonl", [{**raw(1), "new_field": [1, 2]}, "", raw(2)])
    assert [r.line for r in read_records(f)] == [1, 3]


# ---------------------------------------------------------------- lock names

def test_runtime_function_names_of_the_file() -> None:
    names = {e["fn"] for i in range(1, 49) for e in raw(i)["contention"]["top"]}
    assert {runtime_function(n) for n in names} == {
        "(*mheap).allocSpan", "(*mheap).freeSpan", "(*spanSet).push", "newMarkBits",
        "forEachPInternal", "gcstopm", "stopm", "stopTheWorldWithSema", "findRunnable",
        "(*pageAlloc).scavengeOne", "parkunlock_c", "runSafePointFn", "wakep", "goschedImpl",
        "gcFlushBgCredit", "mcommoninit", "_LostContendedRuntimeLock", "gcParkAssist",
        "(*mheap).reclaimChunk", "(*mheap).reclaim", "sysmon", "incidlelocked",
        "startTheWorldWithSema", "mProf_Malloc", "gcResetMarkState"}
    assert runtime_function("runtime.(*mheap).freeSpan.func1") == "(*mheap).freeSpan"
    assert runtime_function("runtime.gcStart.func2.1") == "gcStart"
    assert runtime_function("(*mheap).allocSpan") == "(*mheap).allocSpan"


def test_top_lock_of_the_files_records() -> None:
    by_line = {r.line: r for r in RECORDS}
    assert by_line[1].top_lock == "" and by_line[1].top_share == 0.0  # 1 P: no contention
    assert by_line[2].top_lock == "forEachPInternal"
    assert by_line[2].top_share == pytest.approx(0.4734676311977444)
    assert by_line[3].top_lock == "(*mheap).freeSpan"
    assert by_line[23].top_lock == "newMarkBits"  # nogc 1 KiB 12 P
    assert by_line[32].top_lock == "newMarkBits"  # 256 MiB 48 B 2 P
    assert by_line[43].top_lock == "wakep"  # 256 MiB 32 KiB 1 P
    tops = [r.top_lock for r in RECORDS if r.gomaxprocs >= 4]
    assert tops.count("(*mheap).freeSpan") == 23
    assert tops.count("(*mheap).allocSpan") == 7  # nogc 4 + 2, gc 32 KiB at 16 P
    assert tops.count("newMarkBits") == 2  # nogc 1 KiB at 12 and 16 P
    assert len(tops) == 32


def test_top_site_skips_lost_contention_and_merges_closures() -> None:
    assert top_site([("runtime._LostContendedRuntimeLock", 0.6), ("runtime.wakep", 0.1),
                     ("runtime.(*mheap).freeSpan.func1", 0.2),
                     ("runtime.(*mheap).allocSpan", 0.25)]) == ("(*mheap).allocSpan", 0.25)
    name, w = top_site([("runtime.(*mheap).freeSpan.func1", 0.2),
                        ("runtime.(*mheap).freeSpan", 0.1), ("runtime.(*mheap).allocSpan", 0.25)])
    assert name == "(*mheap).freeSpan" and w == pytest.approx(0.3)
    assert top_site([]) == ("", 0.0)
    assert top_site([("runtime._LostContendedRuntimeLock", 1.0)]) == ("", 0.0)
    assert top_site([("b", 1.0), ("a", 1.0)]) == ("a", 1.0)  # ties: by name


def test_sim_point_reads_lock_sites() -> None:
    out = {"ok": True, "wall_s": 1.5, "result": {
        "metrics": {"allocs_per_sim_second": 2.5e6, "num_gc": 30, "sim_time_ns": 10_000_000},
        "lock_sites": [
            {"lock": "mheap", "fn": "(*mheap).allocSpan", "waits": 3, "wait_ns": 300},
            {"lock": "mheap", "fn": "(*mheap).freeSpan", "waits": 5, "wait_ns": 500},
            {"lock": "gcBitsArenas", "fn": "newMarkBits", "waits": 4, "wait_ns": 400},
            {"lock": "mheap", "fn": "runtime.(*mheap).freeSpan.func1", "waits": 1,
             "wait_ns": 200}]}}
    p = sim_point(out)
    assert (p.ok, p.allocs_per_s, p.top_lock) == (True, 2.5e6, "(*mheap).freeSpan")
    assert p.top_share == pytest.approx(700 / 1400)
    assert p.gc_cycles_per_s == pytest.approx(3000.0)
    assert p.wall_s == 1.5
    none = sim_point({"ok": True, "result": {"metrics": {"allocs_per_sim_second": 1.0}}})
    assert (none.top_lock, none.top_share, none.gc_cycles_per_s) == ("", 0.0, None)
    failed = sim_point({"ok": False, "error": "ValueError: boom", "result": None})
    assert not failed.ok and math.isnan(failed.allocs_per_s) and failed.error == "ValueError: boom"


# ---------------------------------------------------------------- record -> scenario

def test_gc_record_without_ballast() -> None:
    r = RECORDS[0]  # gc, 48 B, 1 P, 42.5 M/s
    sc = record_scenario(r)
    assert sc.design.preset == "go1.27" and sc.gomaxprocs == 1
    (g,) = sc.workload.groups
    assert (g.count, g.size.dist, g.size.value, g.pointer_free_fraction) == (1, "const", 48, 1.0)
    assert (g.work_ns.value, g.lifetime.kind, g.touch, g.allocations) == (0, "drop", True, None)
    assert (sc.gc.enabled, sc.gc.gogc, sc.gc.memory_limit_bytes) == (True, 100, None)
    assert sc.workload.live_heap.bytes == 0
    # one GC cycle per 4 MiB (the heap minimum) at the real 42.5 M x 48 B per second:
    # 2.05 ms; warm-up 2 cycles (over the 3 ms floor), window 8 cycles
    cycle_ns = 4 * 1024 * 1024 / (42538380.07373036 * 48) * 1e9
    assert cycle_ns == pytest.approx(2_054_176, abs=1)
    assert sim_window(r) == (round(2 * cycle_ns), round(8 * cycle_ns)) == (4108353, 16433411)
    assert sc.warmup.method == "fixed" and sc.warmup.duration_ns == 4108353
    assert sc.duration_ns == 4108353 + 16433411
    assert sc.seed == 1 and sc.costs_profile is None and sc.costs == {}


def test_few_cycle_record_is_simulated_over_its_own_window() -> None:
    r = RECORDS[30]  # gc, 256 MiB live, 48 B, 1 P, 19.8 M/s: 3 cycles in its 1 s window
    assert (r.line, r.ballast_mib, r.gc_cycles, r.warm_s, r.dur_s) == (31, 256, 3, 0.2, 1.0)
    sc = record_scenario(r)
    lh = sc.workload.live_heap
    assert (lh.bytes, lh.object_size, lh.pointer_free) == (256 * MIB, 1024, False)
    # fewer than 16 cycles measured: the real run's own warm-up and window
    assert sim_window(r) == (200_000_000, 1_000_000_000)
    assert sim_window(r, 0.01) == (2_000_000, 10_000_000)
    assert (sc.warmup.duration_ns, sc.duration_ns) == (200_000_000, 1_200_000_000)
    # without its warm-up (or with many cycles) the window is counted in cycles at
    # the real rate: a cycle per 256 MiB allocated (goal = 2 x marked), 282 ms; 8
    # cycles capped at 300 ms, the warm-up (2 cycles) at half the window
    assert 256 * MIB / (19833351.861592524 * 48) * 1e9 == pytest.approx(281_969_753)
    assert sim_window(dataclasses.replace(r, warm_s=None)) == (150_000_000, 300_000_000)
    assert sim_window(dataclasses.replace(r, gc_cycles=16)) == (150_000_000, 300_000_000)
    assert sim_window(dataclasses.replace(r, gc_cycles=15)) == (200_000_000, 1_000_000_000)


def test_nogc_record() -> None:
    r = RECORDS[18]  # nogc, 1 KiB, 1 P, 2.17 M/s
    assert (r.line, r.mode, r.size) == (19, "nogc", 1024)
    sc = record_scenario(r)
    assert not sc.gc.enabled
    assert "gogc" not in scenario_dict(r)["gc"]
    rate = 2171145.938916676 * 1024  # bytes per second
    assert sim_window(r) == (round(8 * MIB / rate * 1e9), round(256 * MIB / rate * 1e9))
    assert sim_window(r) == (3773123, 120739926)


def test_small_window_is_raised_to_the_minimum() -> None:
    r = RECORDS[12]  # gc, 32 KiB, 1 P: a cycle every 0.43 ms
    cycle_ns = 4 * MIB / (296310.6721178679 * 32768) * 1e9
    assert cycle_ns == pytest.approx(431_979, abs=1)
    # 8 cycles (3.5 ms) raised to the 8 ms minimum; 2 cycles of warm-up raised to 3 ms
    assert sim_window(r) == (3_000_000, 8_000_000)
    r = RECORDS[29]  # nogc, 32 KiB, 16 P: 256 MiB at 15.2 GB/s is 17.7 ms, within bounds
    rate = 464238.4 * 32768
    assert r.allocs_per_s == pytest.approx(464238.4, abs=0.1)
    assert 256 * MIB / rate * 1e9 == pytest.approx(17.65e6, rel=1e-3)
    assert sim_window(r) == (round(8 * MIB / r.allocs_per_s / 32768 * 1e9),
                             round(256 * MIB / r.allocs_per_s / 32768 * 1e9))


def test_mix_scan_work_and_gogc_are_simulated() -> None:
    mix = parse_record({**raw(8), "mix": [16, 48, 1024], "size": 362, "work_ns_est": 42.5,
                        "g": 12, "gogc": 50}, file="f", line=1)
    (g,) = record_scenario(mix, costs_profile="local-2core-go1.27",
                           costs={"malloc_fast_ns": 9.0}).workload.groups
    assert (g.size.dist, g.size.values, g.pointer_free_fraction) == (
        "choice", [16.0, 48.0, 1024.0], 1.0)
    assert (g.count, g.work_ns.value) == (12, 42.5)
    sc = record_scenario(mix, costs_profile="local-2core-go1.27", costs={"malloc_fast_ns": 9.0})
    assert (sc.gomaxprocs, sc.gc.gogc, sc.costs_profile) == (2, 50, "local-2core-go1.27")
    assert sc.costs["malloc_fast_ns"].value == 9.0
    scan = parse_record({**raw(8), "kind": "scan"}, file="f", line=1)
    assert record_scenario(scan).workload.groups[0].pointer_free_fraction == 0.0


# ---------------------------------------------------------------- scoring

GRID = (1, 2, 4, 8, 12, 16)


def rec(p: int, real: float, lock: str = "", size: int = 48, line: int = 0) -> Record:
    top = [{"fn": f"runtime.{lock}.func1", "share": 0.8}] if lock else []
    return parse_record({**raw(1), "gomaxprocs": p, "g": p, "allocs_per_s": real, "size": size,
                         "contention": {"top": top}}, file="f", line=line or p)


def pt(sim: float, lock: str = "") -> SimPoint:
    return SimPoint(True, sim, lock, 0.9 if lock else 0.0, None)


# the real curve peaks at 4 P; the top lock from 4 P on is freeSpan
REAL = {1: 40e6, 2: 47e6, 4: 73e6, 8: 55e6, 12: 50e6, 16: 47e6}
LOCK = {1: "", 2: "forEachPInternal", 4: "(*mheap).freeSpan", 8: "(*mheap).freeSpan",
        12: "(*mheap).freeSpan", 16: "(*mheap).freeSpan"}


def table(sim: dict[int, float], locks: dict[int, str] | None = None,
          failed: tuple[int, ...] = ()) -> pd.DataFrame:
    locks = {**LOCK, **(locks or {})}
    records = [rec(p, REAL[p], LOCK[p]) for p in GRID]
    points = [SimPoint(False, math.nan, "", 0.0, None, "boom") if p in failed
              else pt(sim[p], locks[p]) for p in GRID]
    return comparison_table(records, points, [(1, 2)] * len(GRID))


def test_comparison_table_columns() -> None:
    t = table({p: REAL[p] * 1.1 for p in GRID})
    assert list(t.columns) == list(COLUMNS)
    assert {"go", "mode", "ballast_mib", "size", "kind", "gomaxprocs", "real_allocs_per_s",
            "sim_allocs_per_s", "real_top_lock", "sim_top_lock", "g", "ratio", "split",
            "real_top_share", "sim_top_share", "real_gc_cycles_per_s",
            "sim_gc_cycles_per_s"} <= set(t.columns)
    assert list(t["split"]) == ["fit"] + ["holdout"] * 5
    assert t["ratio"].tolist() == pytest.approx([1.1] * 6)
    assert t["real_top_lock"].tolist() == [LOCK[p] for p in GRID]


def test_all_checks_pass() -> None:
    sim = {1: 50e6, 2: 60e6, 4: 90e6, 8: 70e6, 12: 60e6, 16: 55e6}  # peak at 4 P
    (v,) = score(table(sim))
    assert (v.real_peak_p, v.sim_peak_p, v.peak_ok) == (4, 4, True)
    assert [(e.gomaxprocs, e.ok) for e in v.ends] == [(1, True), (16, True)]
    assert [e.ratio for e in v.ends] == pytest.approx([1.25, 55 / 47])
    assert [t.gomaxprocs for t in v.top_lock] == [4, 8, 12, 16]
    assert v.ok
    assert v.label == "go1.27.3 gc GOGC=100 ballast 0 MiB 48 B noscan"


@pytest.mark.parametrize(("peak", "ok"), [(1, False), (2, True), (4, True), (8, True),
                                          (12, False), (16, False)])
def test_peak_within_one_step_of_the_grid(peak: int, ok: bool) -> None:
    sim = {p: REAL[p] for p in GRID}
    sim[peak] = 80e6  # the simulated peak, above every other point
    (v,) = score(table(sim))
    assert v.sim_peak_p == peak and v.peak_ok is ok and v.ends_ok is (peak not in (1, 16))
    assert peak_within(GRID, 4, peak) is ok


def test_steps_count_on_the_grid_not_in_ps() -> None:
    assert not peak_within([1, 2, 4, 8, 12, 16], 8, 16)  # 8 -> 12 -> 16 is two steps
    assert peak_within([1, 2, 4, 8, 12, 16], 12, 16)
    assert not peak_within([1, 2, 4, 8, 12, 16], 4, 12)
    assert peak_within([1, 2, 4, 8, 16], 8, 16)  # one step on a grid without 12


@pytest.mark.parametrize(("p", "factor", "ok"), [
    (1, 1.34, True), (1, 1.36, False), (1, 0.66, True), (1, 0.64, False),
    (16, 1.34, True), (16, 1.36, False), (16, 0.64, False), (8, 3.0, True)])
def test_end_points_within_35_percent(p: int, factor: float, ok: bool) -> None:
    sim = {q: REAL[q] for q in GRID}
    sim[p] = REAL[p] * factor
    if p == 8 and factor == 3.0:
        sim[4] = REAL[8] * 3.1  # keep the peak near the real one: only the ends are checked
    (v,) = score(table(sim))
    assert v.ends_ok is ok
    assert v.ok is ok


def test_top_lock_from_4_ps_on() -> None:
    sim = {p: REAL[p] for p in GRID}
    (v,) = score(table(sim, {2: "(*mheap).allocSpan"}))  # below 4 P: not checked
    assert v.top_lock_ok and v.ok
    (v,) = score(table(sim, {8: "(*mheap).allocSpan"}))
    assert not v.top_lock_ok and not v.ok
    assert [(t.gomaxprocs, t.sim, t.ok) for t in v.top_lock if not t.ok] == [
        (8, "(*mheap).allocSpan", False)]
    (v,) = score(table(sim, {16: ""}))  # no contention simulated where there was some
    assert not v.top_lock_ok


def test_a_failed_run_fails_its_case() -> None:
    (v,) = score(table({p: REAL[p] for p in GRID}, failed=(8,)))
    assert v.sim_peak_p is None and not v.peak_ok and not v.ok
    assert not [t for t in v.top_lock if t.gomaxprocs == 8][0].ok


def test_cases_split_by_workload() -> None:
    records = [rec(p, 1e6 * p, size=s, line=i) for i, (s, p) in
               enumerate([(48, 1), (48, 16), (1024, 1), (1024, 16)], start=1)]
    t = comparison_table(records, [pt(1e6 * r.gomaxprocs) for r in records], [(1, 2)] * 4)
    vs = score(t)
    assert [v.label for v in vs] == ["go1.27.3 gc GOGC=100 ballast 0 MiB 48 B noscan",
                                     "go1.27.3 gc GOGC=100 ballast 0 MiB 1024 B noscan"]
    assert all(v.gomaxprocs == [1, 16] and v.ok for v in vs)


def test_rms_log_error_by_split() -> None:
    sim = {1: REAL[1] * math.e, 2: REAL[2], 4: REAL[4] / math.e, 8: REAL[8],
           12: REAL[12] * math.e ** 2, 16: REAL[16]}
    t = table(sim)
    assert rms_log_error(t, "fit") == pytest.approx(1.0)
    assert rms_log_error(t, "holdout") == pytest.approx(math.sqrt((1 + 4) / 5))
    assert rms_log_error(t) == pytest.approx(math.sqrt((1 + 1 + 4) / 6))
    assert rms_log_error(table(sim, failed=(1,)), "fit") is None  # failed runs: no error
    assert rms_log_error(table({**sim, 4: 0.0}), "holdout") == math.inf  # no allocation
    assert rms_log_error(table({**sim, 4: 0.0}), "fit") == pytest.approx(1.0)


# ---------------------------------------------------------------- the fit

def test_coordinate_search_finds_the_minimum_on_a_log_scale() -> None:
    target = {"a": 300.0, "b": 0.05}

    def f(x: dict[str, float]) -> float:
        return sum(math.log(x[k] / target[k]) ** 2 for k in x)

    res = coordinate_search(f, {"a": 100.0, "b": 1.0}, max_evals=400)
    assert res.start_error == pytest.approx(math.log(3) ** 2 + math.log(20) ** 2)
    assert res.best["a"] == pytest.approx(300, rel=0.02)
    assert res.best["b"] == pytest.approx(0.05, rel=0.02)
    assert res.evaluations == len(res.history) < 400
    assert res.best_error == min(e for _, e in res.history)
    # the cap holds exactly, and the first evaluation is the start
    capped = coordinate_search(f, {"a": 100.0, "b": 1.0}, max_evals=7)
    assert capped.evaluations == 7 and capped.history[0] == ({"a": 100.0, "b": 1.0},
                                                            capped.start_error)
    # a flat objective never moves; each point is evaluated once
    flat = coordinate_search(lambda x: 1.0, {"a": 2.0}, max_evals=50)
    assert flat.best == {"a": 2.0}
    xs = [x["a"] for x, _ in flat.history]
    assert len(xs) == len(set(xs)) == flat.evaluations
    assert xs[:5] == pytest.approx([2.0, 4.0, 1.0, 2 * 2 ** 0.5, 2 / 2 ** 0.5])


def test_coordinate_search_does_not_evaluate_a_point_twice() -> None:
    calls: list[tuple[float, float]] = []

    def f(x: dict[str, float]) -> float:
        calls.append((x["a"], x["b"]))
        return abs(math.log(x["a"] / 4)) + abs(math.log(x["b"] / 0.5))

    res = coordinate_search(f, {"a": 1.0, "b": 1.0}, max_evals=100)
    assert len(calls) == len(set(calls)) == res.evaluations
    # pass 1: a x2 kept, b x2 worse, b /2 kept; pass 2: a x2 kept (the optimum), b x2 and
    # b /2 worse; pass 3: a x2 worse, then a /2, b x2, b /2 are points already evaluated:
    # no move, and the step becomes sqrt(2)
    assert calls[:9] == [(1, 1), (2, 1), (2, 2), (2, 0.5), (4, 0.5), (4, 1), (4, 0.25),
                         (8, 0.5), (pytest.approx(4 * 2 ** 0.5), 0.5)]
    assert res.best == {"a": 4.0, "b": 0.5} and res.best_error == 0.0


# ---------------------------------------------------------------- the command

#: three cheap records: GC off, 32 KiB, 1/2/4 Ps
CHEAP = [25, 26, 27]


def test_command_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write_jsonl(tmp_path / "cheap.jsonl", [LINES[i - 1] for i in CHEAP])
    out = tmp_path / "out"
    rc = main(["groundtruth", str(f), "--out", str(out), "--window-scale", "0.02",
               "--jobs", "1"])
    cap = capsys.readouterr()
    agreement = json.loads((out / "agreement.json").read_text())
    assert rc == (0 if agreement["pass"] else 1)
    t = pd.read_csv(out / "comparison.csv", keep_default_na=False)
    assert list(t.columns) == list(COLUMNS)
    assert t["line"].tolist() == [1, 2, 3] and t["gomaxprocs"].tolist() == [1, 2, 4]
    assert t["real_allocs_per_s"].tolist() == [raw(i)["allocs_per_s"] for i in CHEAP]
    assert t["real_top_lock"].tolist() == ["", "(*mheap).allocSpan", "(*mheap).allocSpan"]
    assert t["sim_ok"].tolist() == [True] * 3
    assert (t["sim_allocs_per_s"] > 0).all()
    assert t["split"].tolist() == ["fit", "holdout", "holdout"]
    assert t["real_gc_cycles_per_s"].tolist() == [0.0] * 3
    assert [p.name for p in (out / "plots").iterdir()] == [
        "go1.27.3_nogc_ballast_0_MiB_32768_B_noscan.png"]
    (case,) = agreement["cases"]
    assert case["gomaxprocs"] == [1, 2, 4] and case["real_peak_p"] == 4
    assert agreement["error"]["n_fit"] == 1 and agreement["error"]["n_holdout"] == 2
    printed = " ".join(cap.out.split())
    assert f"{agreement['cases_ok']} of 1 cases agree" in printed
    assert "RMS ln(sim/real) throughput: fit set (1 records)" in printed
    assert "split: fit: the GOMAXPROCS=1 records; hold-out: the rest" in printed
    # the same again without plots: the same table (deterministic), the old plots removed
    assert main(["groundtruth", str(f), "--out", str(out), "--window-scale", "0.02",
                 "--jobs", "1", "--no-plots", "--format", "json"]) == rc
    assert json.loads(capsys.readouterr().out) == agreement
    again = pd.read_csv(out / "comparison.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(again.drop(columns="sim_wall_s"),
                                  t.drop(columns="sim_wall_s"))
    assert sorted(p.name for p in out.iterdir()) == ["agreement.json", "comparison.csv"]


def test_fit_writes_a_loadable_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from gosim.sim.profiles import load_profile, read_profile

    f = write_jsonl(tmp_path / "cheap.jsonl", [LINES[i - 1] for i in CHEAP[:2]])
    prof = tmp_path / "profiles" / "gt-test.yaml"
    rc = main(["groundtruth", str(f), "--out", str(tmp_path / "out"), "--window-scale",
               "0.02", "--jobs", "1", "--fit", "large_alloc_ns", "--profile-out", str(prof),
               "--max-evals", "3", "--no-plots",
               "--set", "page_fault_ns={dist: exponential, mean: 900}"])
    assert rc in (0, 1)
    doc = read_profile(str(prof))
    assert doc["fitted"] == ["large_alloc_ns"] and doc["evaluations"] == 3
    # a --set distribution is written into the profile as given
    assert doc["parameters"]["page_fault_ns"] == {"dist": "exponential", "mean": 900}
    assert doc["fit_records"] == ["go1.27_nogc_32768_noscan_p1_r1"]
    assert doc["holdout_records"] == 1 and doc["source"] == str(f)
    assert doc["fit_rms_log_error"] <= doc["fit_rms_log_error_start"]
    assert set(load_profile(str(prof))) == {"large_alloc_ns", "page_fault_ns"}
    agreement = json.loads((tmp_path / "out" / "agreement.json").read_text())
    assert agreement["fit"]["parameters"] == doc["parameters"]
    assert agreement["error"]["fit"] == pytest.approx(doc["fit_rms_log_error"], abs=1e-4)
    assert "fitted (3 evaluations): large_alloc_ns=" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(("extra", "message"), [
    (["--fit", "malloc_fast_ns"], "--fit and --profile-out go together"),
    (["--fit", "bogus_ns", "--profile-out", "p.yaml"], "key '--fit': unknown cost parameter "
                                                       "'bogus_ns'; expected one of"),
    (["--window-scale", "0"], "--window-scale: expected a number > 0, got 0"),
    (["--max-evals", "0"], "--max-evals: expected 1 or more, got 0"),
    (["--profile", "no-such-profile"], "unknown calibration profile 'no-such-profile'"),
])
def test_bad_options_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   extra: list[str], message: str) -> None:
    f = write_jsonl(tmp_path / "cheap.jsonl", [LINES[CHEAP[0] - 1]])
    out = tmp_path / "out"
    assert main(["groundtruth", str(f), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gosim: error: ") and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cheap.jsonl"]


def test_grid_points_are_every_combination_in_the_order_given() -> None:
    from gosim.groundtruth.fit import MAX_GRID_POINTS, parse_cost_grid

    pts = parse_cost_grid(["lock_spin_ns=1000,8000", "heap_lock_migrate_ns=0, 2500,5e3"], {})
    assert pts == [{"lock_spin_ns": a, "heap_lock_migrate_ns": b}
                   for a in (1000.0, 8000.0) for b in (0.0, 2500.0, 5000.0)]
    # A+B: one axis, both parameters at each value
    assert parse_cost_grid(["lock_wakeup_ns+m_wakeup_ns=4000,50000", "gc_stw_ns=0,1"], {}) == [
        {"lock_wakeup_ns": w, "m_wakeup_ns": w, "gc_stw_ns": g}
        for w in (4000.0, 50000.0) for g in (0.0, 1.0)]
    for items, sets, message in [  # each names --grid as the key at fault
        (["lock_spin_ns"], {}, "expected NAME=V1,V2,..."),
        (["lock_spin_ns=1,,2"], {}, "expected NAME=V1,V2,..."),
        (["bogus_ns=1"], {}, "unknown cost parameter 'bogus_ns'"),
        (["lock_spin_ns=-1"], {}, "lock_spin_ns: expected a number >= 0, got '-1'"),
        (["lock_spin_ns=1,1"], {}, "lock_spin_ns: a value is listed twice"),
        (["lock_spin_ns=1", "lock_spin_ns=2"], {}, "lock_spin_ns is gridded twice"),
        (["lock_spin_ns=1,2"], {"lock_spin_ns": 3.0}, "lock_spin_ns is both --set and --grid"),
        (["gc_stw_ns+lock_spin_ns=1,2"], {"lock_spin_ns": 3.0},
         "lock_spin_ns is both --set and --grid"),
        (["lock_spin_ns+lock_spin_ns=1"], {}, "lock_spin_ns is gridded twice"),
        (["gc_stw_ns=1", "lock_spin_ns+gc_stw_ns=2"], {}, "gc_stw_ns is gridded twice"),
        (["gc_stw_ns+bogus_ns=1"], {}, "unknown cost parameter 'bogus_ns'"),
        (["gc_stw_ns+=1"], {}, "expected NAME=V1,V2,..."),
        ([f"lock_spin_ns={','.join(map(str, range(MAX_GRID_POINTS)))}", "gc_stw_ns=1,2"], {},
         f"{2 * MAX_GRID_POINTS} points; at most {MAX_GRID_POINTS}"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)) as e:
            parse_cost_grid(items, sets)
        assert e.value.key == "--grid"


def test_share_error_is_the_rms_log_ratio_of_the_multi_p_shares() -> None:
    from gosim.groundtruth.scoring import share_error

    t = pd.DataFrame({
        "gomaxprocs": [1, 2, 4, 8, 16],
        "split": ["fit", "fit", "fit", "holdout", "holdout"],
        "sim_ok": [True, True, True, True, False],
        # one P is left out, so is a row without the real share and a failed run;
        # the lock sleep is scored against the runtime's wait metric, not the
        # mutex profile's estimate
        "real_mutex_wait_share": [0.5, 0.0, 0.19, None, 0.3],
        "real_lock_sleep_share": [0.5, 0.3, 0.01, 0.2, 0.3],
        "sim_lock_sleep_share": [0.0, 0.01, 0.09, 0.2, 0.3],
        "real_pause_share": [0.1, 0.03, 0.05, 0.07, None],
        "sim_pause_share": [0.2, 0.03, 0.04, 0.06, 0.1],
    })
    assert share_error(t, "lock_sleep", "fit") == pytest.approx(
        math.sqrt((math.log(0.02 / 0.01) ** 2 + math.log(0.10 / 0.20) ** 2) / 2))
    assert share_error(t, "lock_sleep", "holdout") is None
    assert share_error(t, "lock_sleep") == share_error(t, "lock_sleep", "fit")
    assert share_error(t, "pause", "fit") == pytest.approx(
        math.sqrt((0.0 + math.log(0.05 / 0.06) ** 2) / 2))
    assert share_error(t, "pause", "holdout") == pytest.approx(abs(math.log(0.07 / 0.08)))


def test_grid_runs_each_point_as_a_set_run_would(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Each point of --grid is the run --set gives at its values, scored alike;
    the point chosen is the one with the smallest fit-set error."""
    f = write_jsonl(tmp_path / "cheap.jsonl", [LINES[i - 1] for i in CHEAP])
    common = ["--window-scale", "0.02", "--jobs", "1", "--no-plots"]
    out = tmp_path / "grid"
    assert main(["groundtruth", str(f), "--out", str(out), *common,
                 "--grid", "large_alloc_ns=100,2000", "--grid", "sysalloc_ns=0,20000"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    grid = pd.read_csv(out / "grid.csv")
    assert grid[["large_alloc_ns", "sysalloc_ns"]].values.tolist() == [
        [100, 0], [100, 20000], [2000, 0], [2000, 20000]]
    assert grid["cases"].tolist() == [1] * 4 and (grid["n_fit"] == 1).all()
    assert grid["best_by_fit"].tolist() == [i == grid["rms_fit"].idxmin() for i in range(4)]
    assert sorted(p.name for p in out.iterdir()) == ["grid", "grid.csv", "grid.json"]
    for i, (a, b) in enumerate([(100, 0), (100, 20000), (2000, 0), (2000, 20000)]):
        one = tmp_path / f"set{i}"
        rc = main(["groundtruth", str(f), "--out", str(one), *common,
                   "--set", f"large_alloc_ns={a}", "--set", f"sysalloc_ns={b}"])
        capsys.readouterr()
        single = json.loads((one / "agreement.json").read_text())
        assert rc == (0 if single["pass"] else 1)
        assert grid.loc[i, "cases_ok"] == single["cases_ok"]
        assert grid.loc[i, "rms_fit"] == pytest.approx(single["error"]["fit"], rel=1e-12)
        assert grid.loc[i, "rms_holdout"] == pytest.approx(single["error"]["holdout"],
                                                           rel=1e-12)
        mine = pd.read_csv(out / "grid" / f"{i:03d}" / "comparison.csv")
        theirs = pd.read_csv(one / "comparison.csv")
        assert mine["sim_allocs_per_s"].tolist() == theirs["sim_allocs_per_s"].tolist()
    # a dearer large allocation is slower, whatever the other parameter
    assert (grid["rms_fit"][2:].to_numpy() != grid["rms_fit"][:2].to_numpy()).all()
    assert "4 points (chosen by the fit set's error)" in printed
    doc = json.loads((out / "grid.json").read_text())
    assert doc["best"] == int(grid["rms_fit"].idxmin()) and len(doc["points"]) == 4


@pytest.mark.parametrize(("extra", "message"), [
    (["--grid", "large_alloc_ns=1,2", "--fit", "malloc_fast_ns", "--profile-out", "p.yaml"],
     "--grid and --fit do not go together"),
    (["--grid", "large_alloc_ns=1,2", "--set", "large_alloc_ns=3"],
     "large_alloc_ns is both --set and --grid"),
    (["--grid", "nope=1"], "unknown cost parameter 'nope'"),
])
def test_bad_grid_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 extra: list[str], message: str) -> None:
    f = write_jsonl(tmp_path / "cheap.jsonl", [LINES[CHEAP[0] - 1]])
    assert main(["groundtruth", str(f), "--out", str(tmp_path / "out"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gosim: error: ") and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cheap.jsonl"]


def test_out_under_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write_jsonl(tmp_path / "cheap.jsonl", [LINES[CHEAP[0] - 1]])
    blocker = tmp_path / "a-file"
    blocker.write_text("x\n")
    assert main(["groundtruth", str(f), "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{blocker} is not a directory" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "cheap.jsonl"]


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(["groundtruth", str(missing), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"gosim: error: {missing}: cannot read: No such file or "
                                       "directory\n")
    assert not (tmp_path / "out").exists()


def test_a_record_the_model_cannot_express(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    err = _bad(tmp_path, [raw(1), {**raw(2), "gomaxprocs": 2048, "g": 2048}], capsys)
    assert err == (f"gosim: error: {tmp_path / 'truth.jsonl'}:2: the model cannot simulate "
                   "this record: scenario key 'gomaxprocs': Input should be less than or "
                   "equal to 1024")


def test_case_labels_name_what_varies() -> None:
    mix = parse_record({**raw(8), "mix": [16, 48, 1024], "size": 362, "work_ns_est": 42.5,
                        "gogc": 50, "touch": False}, file="f", line=1)
    nogc = RECORDS[18]
    crowd = parse_record({**raw(8), "g": 4 * raw(8)["gomaxprocs"]}, file="f", line=2)
    t = comparison_table([mix, nogc, crowd], [pt(1e6)] * 3, [(1, 2)] * 3)
    assert [v.label for v in score(t)] == [
        "go1.27.3 gc GOGC=50 ballast 0 MiB mix 16,48,1024 B noscan work 42.5 ns untouched",
        "go1.27.3 nogc ballast 0 MiB 1024 B noscan",
        "go1.27.3 gc GOGC=100 ballast 0 MiB 1024 B noscan 4 G per P"]


def test_case_plot_panels() -> None:
    from gosim.groundtruth.plots import NO_LOCK, plot_case

    sim = {1: 50e6, 2: 60e6, 4: 90e6, 8: 70e6, 12: 60e6, 16: 55e6}
    t = table(sim, {8: "(*mheap).allocSpan"})
    (v,) = score(t)
    fig = plot_case(t, v)
    top, locks = fig.axes
    real_line, sim_line = top.get_lines()[:2]
    assert list(real_line.get_ydata()) == [REAL[p] for p in GRID]
    assert list(sim_line.get_ydata()) == [sim[p] for p in GRID]
    assert [x.get_text() for x in locks.get_yticklabels()] == sorted(
        [NO_LOCK, "forEachPInternal", "(*mheap).freeSpan", "(*mheap).allocSpan"])
    assert "top lock (FAIL)" in fig._suptitle.get_text()
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_profile_fitted_on_this_file_gives_the_split(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write_jsonl(tmp_path / "go1.27-16core.jsonl", [LINES[i - 1] for i in CHEAP])
    prof = tmp_path / "p.yaml"
    prof.write_text(json.dumps({
        "name": "p", "parameters": {"page_fault_ns": 2500},
        "machine": {"source": "experiments/groundtruth/go1.27-16core.jsonl"},
        "split": "fit: the 2 P record", "fit_records": [raw(CHEAP[1])["tag"]]}))
    rc = main(["groundtruth", str(f), "--out", str(tmp_path / "out"), "--window-scale", "0.02",
               "--jobs", "1", "--no-plots", "--format", "json", "--profile", str(prof)])
    agreement = json.loads(capsys.readouterr().out)
    assert rc == (0 if agreement["pass"] else 1)
    assert agreement["error"]["split"] == "the profile's: fit: the 2 P record"
    assert (agreement["error"]["n_fit"], agreement["error"]["n_holdout"]) == (1, 2)
    t = pd.read_csv(tmp_path / "out" / "comparison.csv")
    assert t["split"].tolist() == ["holdout", "fit", "holdout"]
    # a profile fitted on another file: nothing here was fitted on, all held out
    g = write_jsonl(tmp_path / "other.jsonl", [LINES[i - 1] for i in CHEAP])
    main(["groundtruth", str(g), "--out", str(tmp_path / "out2"), "--window-scale", "0.02",
          "--jobs", "1", "--no-plots", "--format", "json", "--profile", str(prof)])
    err = json.loads(capsys.readouterr().out)["error"]
    assert err["split"].startswith("none: the profile was fitted on another file (")
    assert (err["n_fit"], err["n_holdout"], err["fit"]) == (0, 3, None)
    assert pd.read_csv(tmp_path / "out2" / "comparison.csv")["split"].tolist() == [
        "holdout", "holdout", "holdout"]


# ---------------------------------------------------------------- --only and --set

def test_only_selects_records_by_their_fields() -> None:
    from gosim.groundtruth.records import parse_record_filter, select_records

    nogc_32k = parse_record_filter("mode=nogc,size=32768")
    got = select_records(RECORDS, [nogc_32k])
    assert [r.gomaxprocs for r in got] == [1, 2, 4, 8, 12, 16]
    assert {(r.mode, r.size) for r in got} == {("nogc", 32768)}
    # repeated filters: either; the preset name selects its releases
    both = select_records(RECORDS, [nogc_32k, parse_record_filter("go=go1.27, gomaxprocs=16,"
                                                                  "ballast_mib=256")])
    assert len(both) == 6 + 3 and [r.line for r in both] == sorted(r.line for r in both)
    assert select_records(RECORDS, [parse_record_filter("touch=false")]) == []
    assert select_records(RECORDS, []) == RECORDS


@pytest.mark.parametrize(("text", "message"), [
    ("size", "expected KEY=VALUE[,KEY=VALUE...], got 'size'"),
    ("colour=red", "unknown key 'colour'; expected one of go, mode"),
    ("size=1k", "size: expected a whole number (bytes), got '1k'"),
    ("gomaxprocs=²", "gomaxprocs: expected a whole number (Ps), got '²'"),
    ("mode=off", "mode: expected gc or nogc, got 'off'"),
    ("size=48,size=1024", "size is given twice"),
])
def test_bad_only_filters(text: str, message: str) -> None:
    from gosim.errors import ConfigError
    from gosim.groundtruth.records import parse_record_filter

    with pytest.raises(ConfigError, match=re.escape(message)) as e:
        parse_record_filter(text)
    assert e.value.key == "--only"


@pytest.mark.parametrize(("items", "message"), [
    (["page_fault_ns"], "expected NAME=VALUE"),
    (["bogus_ns=1"], "unknown cost parameter 'bogus_ns'; expected one of"),
    (["page_fault_ns=fast"], "page_fault_ns: expected a number >= 0, got 'fast'"),
    (["page_fault_ns=-1"], "page_fault_ns: expected a number >= 0, got '-1'"),
    (["page_fault_ns=nan"], "page_fault_ns: expected a number >= 0, got 'nan'"),
    (["page_fault_ns=1", "page_fault_ns=2"], "page_fault_ns is set twice"),
    (["page_fault_ns={dist: exponential"], "page_fault_ns: expected a number >= 0 or a "
     "distribution mapping"),
    (["page_fault_ns={dist: zipf, mean: 5}"], "page_fault_ns: not a distribution (dist:"),
    (["bogus_ns={dist: exponential, mean: 5}"], "unknown cost parameter 'bogus_ns'"),
])
def test_bad_cost_overrides(items: list[str], message: str) -> None:
    from gosim.errors import ConfigError
    from gosim.groundtruth.fit import parse_cost_overrides

    with pytest.raises(ConfigError, match=re.escape(message)) as e:
        parse_cost_overrides(items)
    assert e.value.key == "--set"


def test_set_runs_as_a_profile_with_that_value_would(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--set page_fault_ns=900 on the GC-off 32 KiB records: the same simulation as a
    profile holding that value, and another one than without it (32 KiB GC off is
    nearly all page faults)."""
    f = write_jsonl(tmp_path / "cheap.jsonl", LINES)
    common = ["--window-scale", "0.02", "--jobs", "1", "--no-plots", "--format", "json",
              "--only", "mode=nogc,size=32768,gomaxprocs=1", "--only",
              "mode=nogc,size=32768,gomaxprocs=2"]
    main(["groundtruth", str(f), "--out", str(tmp_path / "set"), *common,
          "--set", "page_fault_ns=900"])
    agreement = json.loads(capsys.readouterr().out)
    assert agreement["set"] == {"page_fault_ns": 900.0} and agreement["records"] == 2
    assert agreement["only"] == ["mode=nogc,size=32768,gomaxprocs=1",
                                 "mode=nogc,size=32768,gomaxprocs=2"]
    prof = tmp_path / "p.yaml"
    prof.write_text(json.dumps({"name": "p", "parameters": {"page_fault_ns": 900}}))
    main(["groundtruth", str(f), "--out", str(tmp_path / "prof"), *common, "--profile",
          str(prof)])
    main(["groundtruth", str(f), "--out", str(tmp_path / "plain"), *common])
    capsys.readouterr()
    cols = ["line", "gomaxprocs", "sim_allocs_per_s", "sim_top_lock"]
    t_set, t_prof, t_plain = (pd.read_csv(tmp_path / d / "comparison.csv",
                                          keep_default_na=False)[cols]
                              for d in ("set", "prof", "plain"))
    assert t_set["line"].tolist() == CHEAP[:2]
    pd.testing.assert_frame_equal(t_set, t_prof)
    assert (t_set["sim_allocs_per_s"] > 1.2 * t_plain["sim_allocs_per_s"]).all()
    # the same value as a (constant) distribution runs the same simulation, and the
    # what-if line names it as given
    main(["groundtruth", str(f), "--out", str(tmp_path / "dist"), *common,
          "--set", "page_fault_ns={dist: const, value: 900}"])
    agreement = json.loads(capsys.readouterr().out)
    assert agreement["set"] == {"page_fault_ns": {"dist": "const", "value": 900}}
    t_dist = pd.read_csv(tmp_path / "dist" / "comparison.csv", keep_default_na=False)[cols]
    pd.testing.assert_frame_equal(t_dist, t_set)


def test_set_takes_a_distribution_but_fit_does_not(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """--set NAME={dist: ...}: drawn per use, so an exponential with the mean of a
    constant gives another run; --fit of a parameter set to a distribution is
    refused (the search is over numbers), naming --fit, exit 2, nothing written."""
    from gosim.groundtruth.fit import format_cost, parse_cost_overrides

    got = parse_cost_overrides(["page_fault_ns={dist: exponential, mean: 900}",
                                "sysalloc_ns=5"])
    assert got == {"page_fault_ns": {"dist": "exponential", "mean": 900}, "sysalloc_ns": 5.0}
    assert format_cost(got["page_fault_ns"]) == "{dist: exponential, mean: 900}"
    assert format_cost(got["sysalloc_ns"]) == "5"
    f = write_jsonl(tmp_path / "cheap.jsonl", LINES)
    # the table's what-if line names the distribution as given
    assert main(["groundtruth", str(f), "--out", str(tmp_path / "table"), "--window-scale",
                 "0.02", "--jobs", "1", "--no-plots", "--only",
                 "mode=nogc,size=32768,gomaxprocs=1", "--set",
                 "page_fault_ns={dist: exponential, mean: 900}"]) in (0, 1)
    out = " ".join(capsys.readouterr().out.split())  # (rich wraps the line)
    assert "--set page_fault_ns={dist: exponential, mean: 900}" in out
    shutil.rmtree(tmp_path / "table")
    assert main(["groundtruth", str(f), "--out", str(tmp_path / "fit"), "--fit",
                 "sysalloc_ns", "--profile-out", str(tmp_path / "p.yaml"),
                 "--set", "sysalloc_ns={dist: exponential, mean: 5}"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "key '--fit': 'sysalloc_ns' is a distribution in the profile or --set" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cheap.jsonl"]


def test_only_that_matches_nothing_writes_nothing(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    f = write_jsonl(tmp_path / "cheap.jsonl", [LINES[i - 1] for i in CHEAP])
    assert main(["groundtruth", str(f), "--out", str(tmp_path / "out"), "--only",
                 "mode=gc"]) == 2
    err = capsys.readouterr().err
    assert "no record matches --only mode=gc" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cheap.jsonl"]


def test_mark_share_of_a_record_and_of_a_run() -> None:
    """real: the three mark CPU classes over the total; simulated: the P-time
    shares of assists and mark workers; none with the GC off."""
    from gosim.groundtruth.records import MARK_KEYS, TOTAL_KEY, parse_record

    obj = raw(1)  # GC on, 48 B, 1 P: a record with runtime/metrics
    m = obj["metrics"]
    want = sum(m[k] for k in MARK_KEYS) / m[TOTAL_KEY]
    r = parse_record(obj, file="f", line=1)
    assert r.mode == "gc" and r.gc_mark_share == pytest.approx(want) and 0 < want < 1
    no_metrics = {k: v for k, v in obj.items() if k != "metrics"}
    assert parse_record(no_metrics, file="f", line=1).gc_mark_share is None
    outcome = {"ok": True, "result": {"metrics": {
        "allocs_per_sim_second": 1e6, "sim_time_ns": 10**9, "num_gc": 3,
        "p_time_share_gc_assist": 0.05, "p_time_share_gc_dedicated": 0.2,
        "p_time_share_gc_pause": 0.01}, "lock_sites": []}}
    assert sim_point(outcome).gc_mark_share == pytest.approx(0.25)
    del outcome["result"]["metrics"]["num_gc"]  # the collector off
    assert sim_point(outcome).gc_mark_share is None


def test_assist_queue_share_of_a_record_and_of_a_run() -> None:
    """real: the contention shares released at the assist queue's sites
    (closures and the runtime. prefix folded); simulated: the assistQueue
    lock's part of the lock-site wait; none with the GC off."""
    from gosim.groundtruth.records import parse_record

    obj = raw(1)
    obj["contention"] = {"top": [
        {"fn": "runtime.(*mheap).freeSpan.func1", "share": 0.5},
        {"fn": "runtime.parkunlock_c", "share": 0.2},
        {"fn": "runtime.gcParkAssist", "share": 0.15},
        {"fn": "runtime.gcFlushBgCredit", "share": 0.05},
        {"fn": "runtime.newMarkBits", "share": 0.1}]}
    assert parse_record(obj, file="f", line=1).assist_queue_share == pytest.approx(0.4)
    obj["contention"] = {"top": []}
    assert parse_record(obj, file="f", line=1).assist_queue_share == 0.0
    sites = [{"lock": "mheap", "kind": "mheap", "fn": "(*mheap).freeSpan", "wait_ns": 600},
             {"lock": "assistQueue", "kind": "assistqueue", "fn": "gcParkAssist", "wait_ns": 300},
             {"lock": "assistQueue", "kind": "assistqueue", "fn": "gcFlushBgCredit",
              "wait_ns": 100}]
    outcome = {"ok": True, "result": {"metrics": {
        "allocs_per_sim_second": 1e6, "sim_time_ns": 10**9, "num_gc": 3}, "lock_sites": sites}}
    assert sim_point(outcome).assist_queue_share == pytest.approx(0.4)
    del outcome["result"]["metrics"]["num_gc"]
    assert sim_point(outcome).assist_queue_share is None


def test_lock_sleep_share_of_a_record_and_of_a_run() -> None:
    """real: the mutex profile's total delay over GOMAXPROCS x the window;
    simulated: the lock sites' wait (waits that slept; the lost-record site
    left out, as for the shares) over GOMAXPROCS x the simulated time."""
    from gosim.groundtruth.records import parse_record

    obj = raw(1)
    obj.update(gomaxprocs=4, elapsed_ns=500_000_000)
    obj["contention"] = {"seconds_est": 0.3, "top": []}
    assert parse_record(obj, file="f", line=1).lock_sleep_share == pytest.approx(0.15)
    del obj["contention"]["seconds_est"]
    assert parse_record(obj, file="f", line=1).lock_sleep_share is None
    obj["contention"]["seconds_est"] = -1.0
    with pytest.raises(ConfigError, match="contention.seconds_est"):
        parse_record(obj, file="f", line=1)
    del obj["contention"]["seconds_est"]
    # the runtime's own timing of the waits: /sync/mutex/wait/total over the same
    obj["mutex_wait_s"] = 0.6
    assert parse_record(obj, file="f", line=1).mutex_wait_share == pytest.approx(0.3)
    obj["mutex_wait_s"] = -0.1
    with pytest.raises(ConfigError, match="mutex_wait_s"):
        parse_record(obj, file="f", line=1)
    del obj["mutex_wait_s"]
    assert parse_record(obj, file="f", line=1).mutex_wait_share is None
    sites = [{"lock": "mheap", "kind": "mheap", "fn": "(*mheap).freeSpan", "wait_ns": 600},
             {"lock": "gcBitsArenas", "kind": "gcbits", "fn": "newMarkBits", "wait_ns": 200},
             {"lock": "mheap", "kind": "mheap", "fn": "runtime._LostContendedRuntimeLock",
              "wait_ns": 10_000}]
    outcome = {"ok": True, "result": {"metrics": {
        "allocs_per_sim_second": 1e6, "sim_time_ns": 1000, "gomaxprocs": 2},
        "lock_sites": sites}}
    assert sim_point(outcome).lock_sleep_share == pytest.approx(800 / 2000)
    del outcome["result"]["metrics"]["gomaxprocs"]
    assert sim_point(outcome).lock_sleep_share is None


def test_the_mutex_profile_and_the_wait_metric_part_with_the_queue() -> None:
    """The shared file's two real measures of lock sleep (records.py
    _mutex_wait_share): the profile's estimate, built at unlocks, leaves out
    a woken M's way back to the lock, the wait metric does not; with the GC on
    and no live heap the profile is a fraction of the metric at 4 Ps, where
    queues are short and wake-ups are most of a wait, and above it at 16."""
    from gosim.groundtruth.records import read_records

    recs = {(r.size, r.gomaxprocs): r for r in read_records(ROOT / "experiments" /
                                                            "groundtruth" / "go1.27-16core.jsonl")
            if r.mode == "gc" and r.ballast_mib == 0}
    for size in (48, 1024):
        four, sixteen = recs[(size, 4)], recs[(size, 16)]
        assert four.lock_sleep_share is not None and four.mutex_wait_share is not None
        assert four.lock_sleep_share < 0.3 * four.mutex_wait_share
        assert sixteen.lock_sleep_share is not None and sixteen.mutex_wait_share is not None
        assert sixteen.lock_sleep_share > 1.4 * sixteen.mutex_wait_share


def test_real_lock_sleep_fits_in_the_off_cpu_time_of_gc_off_records() -> None:
    """Two independent measurements of the same runs: with the GC off no P
    idles and no goroutine parks, so time an M sleeps on a runtime lock (the
    mutex profile) is off-CPU time (GOMAXPROCS x the window less user and
    system CPU from rusage). In every GC-off record of the shared file the
    profile's sleep share is at most the off-CPU share, and at 1 KiB and 16 Ps
    it is most of it (the lock-bound case)."""
    seen = 0
    for r in RECORDS:
        if r.mode != "nogc":
            continue
        obj = raw(r.line)
        off = 1 - (obj["rusage_user_s"] + obj["rusage_sys_s"]) / (
            r.gomaxprocs * obj["elapsed_ns"] * 1e-9)
        assert r.lock_sleep_share is not None
        assert 0 <= r.lock_sleep_share <= max(off, 0.0) + 0.005, r.tag
        if r.size == 1024 and r.gomaxprocs == 16:
            assert r.lock_sleep_share > 0.8 * off
        seen += 1
    assert seen == 12


def test_faults_and_scavenger_share_of_a_record_and_of_a_run() -> None:
    """real: getrusage minflt over the window's allocations, and the scavenger's
    CPU class over the total; simulated: the page faults that started after the
    warm-up over the allocations completed after it, and the scavenger's P-time
    share."""
    from gosim.groundtruth.records import parse_record

    obj = raw(1)
    obj.update(minflt=500, allocs=2_000_000)
    obj["metrics"]["/cpu/classes/scavenge/total:cpu-seconds"] = 0.25
    obj["metrics"]["/cpu/classes/total:cpu-seconds"] = 5.0
    r = parse_record(obj, file="f", line=1)
    assert r.faults_per_alloc == pytest.approx(500 / 2e6)
    assert r.scavenge_share == pytest.approx(0.05)
    del obj["minflt"]
    del obj["metrics"]["/cpu/classes/scavenge/total:cpu-seconds"]
    r = parse_record(obj, file="f", line=1)
    assert r.faults_per_alloc is None and r.scavenge_share is None
    obj["minflt"] = -3
    with pytest.raises(ConfigError, match="minflt"):
        parse_record(obj, file="f", line=1)
    outcome = {"ok": True, "result": {"metrics": {
        "allocs_per_sim_second": 1e6, "sim_time_ns": 1000, "allocs_after_warmup": 4000,
        "os_page_faults_after_warmup": 30, "p_time_share_scavenge": 0.02}, "lock_sites": []}}
    s = sim_point(outcome)
    assert s.faults_per_alloc == pytest.approx(30 / 4000)
    assert s.scavenge_share == pytest.approx(0.02)


@pytest.mark.parametrize("size", [1024, 32768])
def test_gc_off_faults_per_allocation_real_model_and_theory(size: int) -> None:
    """With the GC off every object is fresh memory: each 4 KiB page the program
    writes faults once, so an allocation of `size` bytes costs size / 4096
    faults (plus the runtime's own metadata pages). Three independent counts
    agree within 5% of that: the kernel's (every GC-off record of the shared
    file at this size, its minflt over its allocations) and the model's
    (faults that started after a run's warm-up, over the allocations after
    it)."""
    theory = size / 4096
    real = [r.faults_per_alloc for r in RECORDS if r.mode == "nogc" and r.size == size]
    assert len(real) == 6
    for f in real:
        assert f is not None and theory <= f <= 1.05 * theory
    res = simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": 2, "seed": 3, "gc": {"enabled": False},
        "duration_ns": 4_000_000, "warmup": {"method": "fixed", "duration_ns": 1_000_000},
        "workload": {"groups": [{"count": 2, "size": size, "pointer_free_fraction": 1.0,
                                 "touch": True}]}}))
    m = res.metrics
    assert m["allocs_after_warmup"] > 200
    model = m["os_page_faults_after_warmup"] / m["allocs_after_warmup"]
    # (allocations that straddle the warm-up's end move a few faults across it)
    assert 0.95 * theory <= model <= 1.05 * theory
    assert m["os_page_faults"] > m["os_page_faults_after_warmup"]


def test_kernel_time_per_fault_of_a_record_and_of_a_run() -> None:
    """real: getrusage system CPU over minflt; simulated: the mean duration of
    the model's faults, contention included (``os_page_fault_mean_ns``)."""
    from gosim.groundtruth.records import parse_record

    obj = raw(1)
    obj.update(minflt=4000, rusage_sys_s=0.01)
    assert parse_record(obj, file="f", line=1).sys_ns_per_fault == pytest.approx(2500)
    obj.update(minflt=0)
    assert parse_record(obj, file="f", line=1).sys_ns_per_fault is None
    outcome = {"ok": True, "result": {"metrics": {
        "allocs_per_sim_second": 1e6, "sim_time_ns": 1000, "os_page_fault_mean_ns": 1750.0},
        "lock_sites": []}}
    assert sim_point(outcome).fault_ns == pytest.approx(1750)
    res = simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": 1, "seed": 3, "gc": {"enabled": False},
        "duration_ns": 2_000_000, "costs": {"page_fault_ns": 1234},
        "workload": {"groups": [{"count": 1, "size": 32768, "touch": True}]}}))
    # one P: no fault overlaps another, so every one costs exactly page_fault_ns
    assert res.metrics["os_page_faults"] > 100
    assert res.metrics["os_page_fault_mean_ns"] == 1234


def _gc_off_fault_run(size: int, procs: int, costs: dict[str, float] | None = None
                      ) -> tuple[float, float, float]:
    """(model fault ns / real system CPU per fault, sim / real throughput, model
    fault ns) for the shared file's GC-off record, 16-core profile."""
    (r,) = [r for r in RECORDS if r.mode == "nogc" and r.size == size and r.gomaxprocs == procs]
    m = simulate(record_scenario(r, costs_profile=PROFILE_16, costs=costs)).metrics
    assert r.sys_ns_per_fault is not None
    ns = m["os_page_fault_mean_ns"]
    return ns / r.sys_ns_per_fault, m["allocs_per_sim_second"] / r.allocs_per_s, ns


def test_kernel_time_per_fault_levels_off_as_the_real_one() -> None:
    """The real kernel's time per fault (system CPU per minor fault, GC off, so
    nearly all of it faults) rises from one P to eight and then levels off:
    1 KiB 1.59, 3.63, 3.80 us at 1, 8, 16 Ps. The model's fault costs
    page_fault_ns x (1 + factor x the other faults in flight), and in the
    16-core profile at most `page_fault_contention_max` (6) of those count,
    fitted on this (fit-set) system CPU: within 15% of it at 8 and 16 Ps, and
    flat from 8 to 16 like it. Without the limit the model's fault keeps
    growing with the faults in flight (nearly every P at 16 Ps), 1.8x from 8
    to 16 Ps and twice the real one at 16 Ps, which held the held-out 32 KiB
    GC-off curve at half the real rate at 16 Ps; with the limit that record is
    within the 35% the checks allow."""
    r8, _, ns8 = _gc_off_fault_run(1024, 8)
    r16, _, ns16 = _gc_off_fault_run(1024, 16)
    assert 0.85 < r8 < 1.15 and 0.85 < r16 < 1.15
    assert ns16 / ns8 < 1.1
    nolimit = {"page_fault_contention_max": 0}
    u8, _, un8 = _gc_off_fault_run(1024, 8, nolimit)
    u16, _, un16 = _gc_off_fault_run(1024, 16, nolimit)
    assert un16 / un8 > 1.5 and u16 > 1.5
    _, thr, _ = _gc_off_fault_run(32768, 16)
    _, thr_nolimit, _ = _gc_off_fault_run(32768, 16, nolimit)
    assert 0.65 < thr < 1.35
    assert thr_nolimit < 0.65


def test_gc_on_one_p_reuses_its_heap_without_faults_after_the_warm_up() -> None:
    """With the GC on and one P the heap is reused cycle after cycle: the real
    1 KiB record faults about once per 3,000 allocations in its window (the
    shared file: 337 faults per million), and the model's count after the
    warm-up is of that order too, while over the whole run it counts the
    first touch of every page of the heap it grew (4 MiB goal: over a
    thousand 4 KiB pages)."""
    (real,) = [r for r in RECORDS if r.mode == "gc" and r.ballast_mib == 0 and r.size == 1024
               and r.gomaxprocs == 1]
    assert real.faults_per_alloc is not None and real.faults_per_alloc < 1e-3
    res = simulate(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": 1, "seed": 3, "duration_ns": 30_000_000,
        "warmup": {"method": "fixed", "duration_ns": 10_000_000},
        "workload": {"groups": [{"count": 1, "size": 1024, "pointer_free_fraction": 1.0,
                                 "touch": True}]}}))
    m = res.metrics
    assert m["num_gc_after_warmup"] >= 10
    assert m["os_page_faults"] >= 1000
    assert m["os_page_faults_after_warmup"] / m["allocs_after_warmup"] < 1e-3


DEV = TRUTH.parent / "go1.27-2core-dev.jsonl"
PROFILE_16 = "groundtruth-16core-go1.27"


def _dev_record(ballast: int, size: int, procs: int) -> Any:
    (r,) = [r for r in read_records(DEV) if r.mode == "gc" and r.ballast_mib == ballast
            and r.size == size and r.gomaxprocs == procs]
    return r


@pytest.mark.parametrize(("ballast", "size", "procs", "rel"), [
    (256, 32768, 1, 0.15), (256, 32768, 2, 0.15), (0, 1024, 2, 0.25), (0, 32768, 2, 0.25)])
def test_mark_phase_matches_the_real_runtime_s_trace(ballast: int, size: int, procs: int,
                                                     rel: float) -> None:
    """The concurrent mark phase's mean wall time per cycle, the model (the
    16-core profile) against the real runtime's gctrace on the development VM
    (a file no profile was fitted on): within 15% with the 256 MiB live heap
    (about 50-65 ms of marking) and within 25% without a live heap at two Ps
    (about 0.2-0.3 ms, where fractional workers and assists share a few
    hundred microseconds of mark work with the mutators). Before the profile's
    mark costs were fitted to the real mark CPU per cycle the model marked in
    a third of that time there. At one P without a live heap the fitted
    costs overshoot this machine (the xfail below)."""
    from gosim.runner.execute import execute_run

    r = _dev_record(ballast, size, procs)
    assert r.mark_ms_mean is not None
    out = execute_run(scenario_dict(r, costs_profile=PROFILE_16))
    s = sim_point(out)
    assert s.mark_ms_mean is not None
    assert s.mark_ms_mean == pytest.approx(r.mark_ms_mean, rel=rel)


def test_pacer_medians_of_a_traced_record_are_compared() -> None:
    """A record traced with gcpacertrace (``realgo-scaling --gctrace`` since
    stop 27) carries the pacer's medians; comparison.csv puts them beside the
    model's over the same window (the development VM's 1 KiB record at one P,
    its trace summary extended with the figures this machine's runtime prints
    for that workload: each cycle triggered at 0.78 of its goal, ended at it).
    Records traced without it, as every shipped file's, compare nothing."""
    from gosim.runner.execute import execute_run

    r = _dev_record(0, 1024, 1)
    assert (r.trigger_goal_ratio, r.mark_end_goal_ratio, r.pacer_utilization) == (
        None, None, None)
    (obj,) = [json.loads(x) for x in DEV.read_text().splitlines()
              if json.loads(x).get("tag") == r.tag]
    obj["gctrace"].update(trigger_goal_ratio_p50=0.78, mark_end_goal_ratio_p50=0.999,
                          pacer_utilization_p50=0.77)
    traced = parse_record(obj, file="f", line=1)
    assert (traced.trigger_goal_ratio, traced.pacer_utilization) == (0.78, 0.77)
    s = sim_point(execute_run(scenario_dict(traced, costs_profile=PROFILE_16)))
    row = comparison_table([traced], [s], [(0, 1)]).iloc[0]
    assert (row.real_trigger_goal_ratio, row.real_mark_end_goal_ratio) == (0.78, 0.999)
    # the model's cycles: triggered past the 0.7 floor, ended near the goal
    assert 0.7 < row.sim_trigger_goal_ratio < row.sim_mark_end_goal_ratio < 1.1
    assert row.sim_pacer_utilization >= 0.25
    bad = {**obj, "gctrace": {**obj["gctrace"], "trigger_goal_ratio_p50": "x"}}
    with pytest.raises(ConfigError, match="gctrace.trigger_goal_ratio_p50"):
        parse_record(bad, file="f", line=1)


PACER_DEV = TRUTH.parent / "extra" / "go1.27-2core-dev-pacer.jsonl"


def _pacer_point(ballast: int, size: int, procs: int) -> tuple[Record, SimPoint]:
    from gosim.runner.execute import execute_run

    (r,) = [r for r in read_records(PACER_DEV) if r.mode == "gc" and r.ballast_mib == ballast
            and r.size == size and r.gomaxprocs == procs]
    return r, sim_point(execute_run(scenario_dict(r, costs_profile=PROFILE_16)))


@pytest.mark.parametrize(("size", "procs"), [(48, 1), (32768, 2)])
def test_pacer_with_the_live_heap_matches_the_real_runtime_s(size: int, procs: int) -> None:
    """The real runtime's pacer trace on the development VM (gcpacertrace, a
    file no profile was fitted on), with the 256 MiB live heap: the model's
    cycles are triggered and end, over their goal, where the real ones do
    (medians over the window's cycles, within 2%)."""
    r, s = _pacer_point(256, size, procs)
    assert r.trigger_goal_ratio is not None and r.mark_end_goal_ratio is not None
    assert s.trigger_goal_ratio == pytest.approx(r.trigger_goal_ratio, rel=0.02)
    assert s.mark_end_goal_ratio == pytest.approx(r.mark_end_goal_ratio, rel=0.02)


@pytest.mark.xfail(strict=True, reason="without a live heap at two Ps the real runtime's 48 B "
                   "cycles are triggered at 0.94 of the goal (median; 0.77 at one P), the "
                   "model's at 0.77, its floor (0.87 before stop 37): the real pacer's "
                   "utilization there is 0.28 (assists take 3% of the mark phase), the model's "
                   "0.39 (endCycle's reckoning, which its pacer uses since stop 37): its assists "
                   "do three quarters of the mark (the fractional worker, run where the world "
                   "restarts a P since stop 39, the rest), so its goroutines allocate nearly the "
                   "whole runway while marking and each cycle's consMark keeps the runway long "
                   "(experiments/groundtruth/extra/README.md; docs/decisions.md, 'Workers take "
                   "Ps in place')")
def test_pacer_at_two_ps_without_a_live_heap() -> None:
    r, s = _pacer_point(0, 48, 2)
    assert r.trigger_goal_ratio is not None
    assert s.trigger_goal_ratio == pytest.approx(r.trigger_goal_ratio, rel=0.05)


@pytest.mark.xfail(strict=True, reason="without a live heap at one P the development VM's "
                   "mark phase lasts 0.12 ms (gctrace, 1 KiB), the model's 0.17 ms: the "
                   "profile's mark costs are a line in GOMAXPROCS fitted to the 16-core "
                   "machine's mark CPU per cycle, which overshoots its one-P records by "
                   "14-23% and this machine's (about 60 us per cycle at one P) by more "
                   "(docs/decisions.md, 'Mark work')")
def test_mark_phase_at_one_p_without_a_live_heap() -> None:
    from gosim.runner.execute import execute_run

    r = _dev_record(0, 1024, 1)
    assert r.mark_ms_mean is not None
    s = sim_point(execute_run(scenario_dict(r, costs_profile=PROFILE_16)))
    assert s.mark_ms_mean == pytest.approx(r.mark_ms_mean, rel=0.25)


TRACED16 = TRUTH.parent / "extra" / "go1.27-16core-traced.jsonl"


def _traced(ballast: int, size: int, procs: int,
            costs: dict[str, float] | None = None) -> tuple[list[Record], SimPoint]:
    """The repeats of one GC-on setting of the traced 16-core file, and the
    model's run of it (the repeats share their settings), with ``costs``
    over the 16-core profile."""
    from gosim.runner.execute import execute_run

    rs = [r for r in read_records(TRACED16) if r.mode == "gc" and r.ballast_mib == ballast
          and r.size == size and r.gomaxprocs == procs]
    assert len(rs) == 2
    sc = scenario_dict(rs[0], costs_profile=PROFILE_16, costs=costs)
    return rs, sim_point(execute_run(sc))


def _mean(rs: list[Record], field: str) -> float:
    values = [getattr(r, field) for r in rs]
    assert None not in values
    return sum(values) / len(values)


@pytest.mark.parametrize(("size", "procs"), [
    (1024, 2),
    pytest.param(32768, 4, marks=pytest.mark.xfail(strict=True, reason=(
        "at 4 Ps the real pacer's utilization is 0.275-0.29 (assists take 2.5-4% of the Ps' "
        "time while one worker follows the list; 0.40-0.41 at 1 KiB), so each cycle's "
        "consMark grows (0.083-0.089 after the build, 0.19-0.27 by the window) and the "
        "trigger reaches its 45/64 floor (0.852); the model's assists find no work then "
        "(utilization 0.25), and Go's formula keeps its trigger where the builder's history "
        "put it (0.89): docs/decisions.md, 'The pacer's utilization'"))),
    (32768, 8)])
def test_pacer_with_the_live_heap_on_sixteen_cores(size: int, procs: int) -> None:
    """The real runtime's pacer on a second 16-core machine (gcpacertrace, two
    repeats, a file no profile was fitted on), 256 MiB live heap: the model's
    cycles are triggered and end, over their goal, where the real ones do
    (within 2% of the repeats' mean; the real repeats agree to 0.5%). At
    8 Ps the trigger is past the floor in both; the model put it at 0.965
    (real 0.917) before its consMark took the largest of five cycles, as
    mgcpacer.go's endCycle does, rather than four."""
    rs, s = _traced(256, size, procs)
    assert s.trigger_goal_ratio == pytest.approx(_mean(rs, "trigger_goal_ratio"), rel=0.02)
    assert s.mark_end_goal_ratio == pytest.approx(_mean(rs, "mark_end_goal_ratio"), rel=0.02)


def test_pacer_trigger_at_eight_ps_without_a_live_heap() -> None:
    """Without a live heap the real 1 KiB cycles at 8 Ps are triggered at
    0.83 of the goal; the model's trigger comes within 5% of it since stop
    38, when endCycle started reading heapLive as the refills left it, before
    the flushed mcaches' unused bytes (which the model used to subtract, so a
    cycle's bytes allocated while marking looked like none and the trigger
    sat at its 61/64 ceiling, 0.97). The trigger follows the goroutines'
    allocation while marking, which the mheap.lock hand-off moves: under
    stop 44's lognormal hand-off it held at sigma 1.25 and fell out at 1.5
    (0.78) and 1 (0.89)."""
    rs, s = _traced(0, 1024, 8)
    assert s.trigger_goal_ratio == pytest.approx(_mean(rs, "trigger_goal_ratio"), rel=0.05)


@pytest.mark.xfail(strict=True, reason="without a live heap at 12-16 Ps the real 1 KiB cycles "
                   "are triggered at 0.85-0.86 of the goal; the model's trigger sits at its "
                   "ceiling (0.98): its goroutines allocate little while marking (most of the "
                   "phase goes to goroutines restarting one M wake-up apart after sweep "
                   "termination), so its cons/mark and runway are near zero "
                   "(docs/decisions.md, 'endCycle reads heapLive before the flush')")
def test_pacer_trigger_at_sixteen_ps_without_a_live_heap() -> None:
    rs, s = _traced(0, 1024, 16)
    assert s.trigger_goal_ratio == pytest.approx(_mean(rs, "trigger_goal_ratio"), rel=0.05)


@pytest.mark.xfail(strict=True, reason="with the 256 MiB live heap at 16 Ps the real 48 B mark "
                   "phase lasts 123-127 ms (57 at 4 Ps), the model's 46 ms: an execution trace "
                   "shows the 15 allocating goroutines parking on the assist queue hundreds of "
                   "times a millisecond while one worker follows the list, its credit flushes "
                   "readying them (the assist queue is half the real lock contention there, "
                   "the model's 17%); the 16-core profile leaves the readies' cost and delay "
                   "(assist_ready_ns, assist_resume_ns; with them as measured the model's phase "
                   "is 59 ms) at 0 (docs/decisions.md, 'Readying parked assists')")
def test_mark_phase_with_the_live_heap_at_sixteen_ps() -> None:
    rs, s = _traced(256, 48, 16)
    assert s.mark_ms_mean == pytest.approx(_mean(rs, "mark_ms_mean"), rel=0.25)


def _gc_on_pause_run(size: int, procs: int, costs: dict[str, float] | None = None
                     ) -> tuple[float, float, dict[str, Any]]:
    """(real pause share, simulated pause share, model metrics) of the shared
    file's GC-on record without a live heap, 16-core profile."""
    (r,) = [r for r in RECORDS if r.mode == "gc" and r.ballast_mib == 0 and r.size == size
            and r.gomaxprocs == procs]
    m = simulate(record_scenario(r, costs_profile=PROFILE_16, costs=costs)).metrics
    assert r.pause_share is not None
    return r.pause_share, m["p_time_share_gc_pause"], m


def test_pause_share_of_a_record_and_of_a_run() -> None:
    """The real pause share is /cpu/classes/gc/pause over /cpu/classes/total;
    the simulated one and the stop's mean stopping time reach comparison.csv."""
    obj = json.loads(TRUTH.read_text().splitlines()[0])
    met = obj["metrics"]
    rec = parse_record(obj, file="f", line=1)
    assert rec.pause_share == pytest.approx(met["/cpu/classes/gc/pause:cpu-seconds"]
                                            / met["/cpu/classes/total:cpu-seconds"])
    outcome = {"ok": True, "result": {"metrics": {
        "allocs_per_sim_second": 1e6, "sim_time_ns": 1000, "num_gc": 3,
        "p_time_share_gc_pause": 0.25, "gc_stw_stopping_mean_ns": 41_500.0},
        "lock_sites": []}}
    s = sim_point(outcome)
    assert (s.pause_share, s.stopping_us) == (0.25, 41.5)


def test_stopping_the_world_waits_for_the_stopping_m_to_wake() -> None:
    """proc.go stopTheWorldWithSema: the M stopping the world sleeps on
    sched.stopnote until the last running P stops and wakes it. With one P
    there is nobody to wait for: the stop takes no time whatever the wake-up
    costs. With two Ps every stop waits for the other P and then for the
    wake-up, so its mean stopping time is the wake-up plus the other P's way
    to its safepoint (a few microseconds)."""
    def stopping(procs: int, wake: int) -> tuple[float, int]:
        m = simulate(Scenario.model_validate({
            "design": "go1.27", "gomaxprocs": procs, "seed": 5, "duration_ns": 20_000_000,
            "costs": {"note_wakeup_ns": wake},
            "workload": {"groups": [{"count": procs, "size": 1024,
                                     "pointer_free_fraction": 1.0}]}})).metrics
        return m["gc_stw_stopping_mean_ns"], m["num_gc"]

    assert stopping(1, 0) == (0.0, stopping(1, 0)[1])
    one, n1 = stopping(1, 40_000)
    assert one == 0.0 and n1 > 10
    base, n2 = stopping(2, 0)
    assert n2 > 10 and 0 < base < 10_000
    woken, _ = stopping(2, 40_000)
    assert 40_000 <= woken < 40_000 + 10_000


#: the records of the pause-share tests: GC on, no live heap (size, GOMAXPROCS)
PAUSE_POINTS = ((1024, 2), (1024, 16), (32768, 4), (32768, 16))
_STW_DEFAULTS = {"note_wakeup_ns": 0, "gc_stw_per_p_ns": 1500, "gc_stw_ns": 5000}


@pytest.mark.parametrize("size,procs", PAUSE_POINTS)
def test_pause_share_follows_the_real_one_with_the_fitted_stop_costs(size: int,
                                                                     procs: int) -> None:
    """The runtime's pause share (/cpu/classes/gc/pause: each stop's wall time
    x GOMAXPROCS) of the GC-on records without a live heap: 1 KiB 0.048 and
    0.097 at 2 and 16 Ps (fit set), 32 KiB 0.101 and 0.152 at 4 and 16 Ps
    (held out). With the default stop-the-world costs (gc_stw_ns 5 us,
    gc_stw_per_p_ns 1.5 us, no wake-up of the stopping M) the model's share is
    well under the real one at each (0.25-0.64 of it): its stops do not grow
    with the P count as the real ones do (3.4 us per stop at one P, 18 at two,
    60 at sixteen at 1 KiB). With the profile's (0, 4.5 us per P, a 5 us
    wake-up; fitted on the fit records' wall time per stop) each is within
    a factor 2 of the real one. The held-out 32 KiB record at 4 Ps only just:
    0.57 of the real share (0.49 from stop 33 until stop 34 put the memory
    map's write lock in the profile, 0.56 before stop 33's heap line), as the
    model runs about half the real GC cycles per second there, a gap of its
    pacer at 32 KiB, not of its stops."""
    real, sim, m = _gc_on_pause_run(size, procs)
    assert m["gc_stw_stopping_mean_ns"] > 5_000
    real0, sim0, _ = _gc_on_pause_run(size, procs, _STW_DEFAULTS)
    assert sim0 / real0 < 0.65, (size, procs, real0, sim0)
    assert 0.5 < sim / real < 1.7, (size, procs, real, sim)


def test_fitted_stop_costs_halve_the_pause_share_error() -> None:
    """Over the four pause-share records, the mean |ln(sim/real)| with the
    profile's stop-the-world costs is under half of what it is with the
    defaults."""
    fitted, default = [], []
    for size, procs in PAUSE_POINTS:
        real, sim, _ = _gc_on_pause_run(size, procs)
        real0, sim0, _ = _gc_on_pause_run(size, procs, _STW_DEFAULTS)
        fitted.append(abs(math.log(sim / real)))
        default.append(abs(math.log(sim0 / real0)))
    assert sum(fitted) < 0.5 * sum(default)


DISPUTED = TRUTH.parent / "extra" / "go1.27-16core-disputed.jsonl"


@pytest.mark.parametrize(("name", "repeats", "tie"), [
    ("go1.27-16core-disputed.jsonl", 4, 0.06),
    # stop 35's device run (another 16-core machine of the kind, 2026-11-28)
    ("go1.27-16core-holdout.jsonl", 4, 0.08),
])
def test_real_top_lock_of_gc_on_32k_is_settled_at_12_ps_and_a_tie_at_16(
        name: str, repeats: int, tie: float) -> None:
    """The settings the shared file leaves in doubt, repeated on a 16-core
    machine (stop 32's and stop 35's device runs): with the GC on at 32 KiB,
    every repeat at 12 Ps blames `(*mheap).freeSpan` first, by about 3
    points or more; at 16 Ps the two sites are within 6-8 points in every
    repeat and the first one changes between repeats, so that comparison
    says nothing about the model either way."""
    recs = [r for r in read_records(DISPUTED.parent / name)
            if r.mode == "gc" and r.size == 32768 and r.gomaxprocs >= 12]
    top2: dict[int, list[tuple[float, float]]] = {}
    for r in recs:
        fs = sum(share for fn, share in r.contention if "(*mheap).freeSpan" in fn)
        al = sum(share for fn, share in r.contention if "(*mheap).allocSpan" in fn)
        top2.setdefault(r.gomaxprocs, []).append((fs, al))
    assert sorted(top2) == [12, 16] and all(len(v) == repeats for v in top2.values())
    assert all(fs - al > 0.025 for fs, al in top2[12])
    assert all(abs(fs - al) <= tie for fs, al in top2[16])
    assert {fs > al for fs, al in top2[16]} == {True, False}


def test_real_top_lock_of_gc_off_1k_at_8_ps_is_newmarkbits_but_for_the_shared_file() -> None:
    """GC off, 1 KiB objects, pages touched, 8 Ps: the shared file's record
    blames `(*mheap).allocSpan` first by under 5 points; the other nine real
    records of that setting in the 16-core files, and the model (16-core
    profile), blame `newMarkBits` (the GC bits arenas' lock). One of the
    shared file's two cases that disagree since stop 37 fails on this
    point alone (README, docs/groundtruth.md)."""
    from gosim.runner.execute import execute_run

    def shares(r: Record) -> tuple[float, float]:
        al = sum(v for fn, v in r.contention if "(*mheap).allocSpan" in fn)
        nb = sum(v for fn, v in r.contention if "newMarkBits" in fn or "newArena" in fn)
        return al, nb

    others = [TRUTH.parent / "go1.27-16core-gosim.jsonl"] + [
        TRUTH.parent / "extra" / f"go1.27-16core-{n}.jsonl"
        for n in ("disputed", "repeat2", "repeat3", "traced")]

    def pick(path: Path) -> list[Record]:
        return [r for r in read_records(path) if r.mode == "nogc" and r.size == 1024
                and r.gomaxprocs == 8 and r.touch]

    (shared,) = pick(TRUTH)
    al, nb = shares(shared)
    assert shared.top_lock == "(*mheap).allocSpan" and 0 < al - nb < 0.05
    rest = [r for f in others for r in pick(f)]
    assert len(rest) == 9
    assert all(r.top_lock == "newMarkBits" for r in rest)
    assert all(nb > al for al, nb in map(shares, rest))
    assert sim_point(execute_run(scenario_dict(shared, costs_profile=PROFILE_16))
                     ).top_lock == "newMarkBits"


def _untouched_1k(procs: int) -> tuple[float, float]:
    """(real mean over the repeats, simulated) allocations per second of the
    GC-off 1 KiB records with no page written, at ``procs`` Ps."""
    from gosim.runner.execute import execute_run

    recs = [r for r in read_records(DISPUTED) if r.mode == "nogc" and not r.touch
            and r.size == 1024 and r.gomaxprocs == procs]
    s = sim_point(execute_run(scenario_dict(recs[0], costs_profile=PROFILE_16)))
    return sum(r.allocs_per_s for r in recs) / len(recs), s.allocs_per_s


@pytest.mark.parametrize("procs", [
    pytest.param(1, marks=pytest.mark.xfail(strict=True, reason=(
        "at one P the real runtime does 11.3-11.5 M allocations/s, the model with the 16-core "
        "profile 19.3 M (1.7x; 23.8 M, 2.1x, before stop 34's memory-map write of 40 us per "
        "4 MiB growth): its fault costs, fitted on the touched records, carry what its "
        "fresh-span path lacks. span_init_ns 490 would close it, but slows reused spans too, "
        "which the GC-on one-P records contradict"))),
    # the real runtime stops scaling at about 16 M allocations/s from 8 Ps on (15.1 M/s at
    # 8); without the heap's shared line (heap_line_ns 0) the model did 3.5x that
    8, 16,
])
def test_untouched_gc_off_1k_matches_the_real_runtime(procs: int) -> None:
    """GC off at 1 KiB with no page written by the program (no faults on the
    objects: the allocator's fresh-span path alone), the 16-core profile
    within 35% of the real runtime's mean over three repeats on a 16-core
    machine (docs/groundtruth.md, 'A third 16-core machine')."""
    real, sim = _untouched_1k(procs)
    assert sim == pytest.approx(real, rel=0.35)


#: the ground-truth probe's roots in Go's scan-work unit (its pacer trace:
#: 169,162 bytes of globals; the runtime's own heap, realgo.pacer.heap_scan_work)
PROBE_ROOT_UNITS = {"gc_globals_bytes": 169162, "gc_root_scan_bytes": 50791,
                    "gc_root_scan_per_p_bytes": 22725}


@pytest.mark.parametrize("procs", [2, 4])
def test_root_jobs_in_scan_work_units_give_the_real_1_kib_trigger(procs: int) -> None:
    """With the probe's roots given in Go's scan-work unit (bytes), the
    data/BSS globals become markroot jobs the first marker takes whole,
    worth their length in scan work but scanned in next to no time
    (scanblock skips pointer-free stretches), an assist does at least
    gcOverAssistWork and a fractional worker at least drainCheckThreshold
    of the cycle's work (mgcmark.go). The assist that takes the globals is
    then credited most of the runway, so the goroutines allocate while
    marking, and at 2 and 4 Ps without a live heap the 1 KiB cycles settle
    where the real ones do, near the trigger's floor (0.77 and 0.79 of the
    goal in the traced 16-core file, within 5%), from a first paced cycle
    at 0.95 in both. Not in the profile: the 48 B cycles go low with them
    where the real ones stay high (the xfail below; docs/decisions.md,
    'The roots in scan work units')."""
    rs, s = _traced(0, 1024, procs, PROBE_ROOT_UNITS)
    assert s.trigger_goal_ratio == pytest.approx(_mean(rs, "trigger_goal_ratio"), rel=0.05)


@pytest.mark.xfail(strict=True, reason="with the roots in scan work units the 48 B cycles "
                   "settle at 0.90 of the goal at 2 Ps and 0.80 at 4 (traced 16-core file), "
                   "the real ones at 0.94 and 0.89: the real goroutines allocate 65 KB while "
                   "a high-trigger cycle marks, the model's 210-770 KB (docs/decisions.md, "
                   "'The roots in scan work units')")
@pytest.mark.parametrize("procs", [2, 4])
def test_root_jobs_in_scan_work_units_keep_the_real_48_b_trigger(procs: int) -> None:
    rs, s = _traced(0, 48, procs, PROBE_ROOT_UNITS)
    assert s.trigger_goal_ratio == pytest.approx(_mean(rs, "trigger_goal_ratio"), rel=0.03)
