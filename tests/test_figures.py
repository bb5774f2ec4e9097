"""README's (and docs') figures are what scripts/figures.py computes (``make figures``).

The quickstart block is checked against a real run of configs/quickstart.yaml
(96 runs, deterministic by seed): the same run ``make figures`` renders from,
not a smaller stand-in. Measured under pytest on the 2-core development
machine: 30 s of CPU time on one core (101 s of wall time with the load
average at 13). The other blocks are checked against the committed files they
are rendered from (the calibration profile, benchmarks/measured.json).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gosim.groundtruth.records import read_records
from scripts import figures
from scripts.figures import FiguresError


@pytest.fixture(scope="module")
def doc_blocks() -> dict[str, dict[str, str]]:
    """Every document make figures rewrites -> its marked blocks."""
    return {str(d.relative_to(figures.ROOT)): figures.read_blocks(d.read_text(), d.name)
            for d in figures.documents()}


def test_readme_marks_every_generated_block(doc_blocks: dict[str, dict[str, str]]) -> None:
    assert set(doc_blocks["README.md"]) == {"quickstart", "calibration", "benchmarks", "times",
                                           "validate", "groundtruth"}


@pytest.mark.slow
def test_quickstart_figures_are_the_quickstart_simulation(
        tmp_path, doc_blocks: dict[str, dict[str, str]]) -> None:
    runs, manifest = figures.run_quickstart(tmp_path, jobs=1)
    assert len(runs) == manifest["counts"]["runs"] == 96
    rendered = figures.render_quickstart(runs, manifest)
    for doc, blocks in doc_blocks.items():
        if "quickstart" in blocks:
            assert blocks["quickstart"] == rendered, \
                f"{doc}: the quickstart figures are stale: run make figures"


def test_committed_figures_are_rendered_from_their_files(
        doc_blocks: dict[str, dict[str, str]]) -> None:
    rendered = figures.static_blocks()  # quickstart: the slow test; validate: test_validate
    for doc, blocks in doc_blocks.items():
        assert set(blocks) <= {"quickstart", "validate", *rendered}, doc
        for name in set(blocks) & set(rendered):
            assert blocks[name] == rendered[name], \
                f"{doc}: block {name!r} is stale: run make figures"


def test_measured_figures_carry_provenance() -> None:
    measured = figures.load_measured()
    assert set(measured) == {"bench", "make", "groundtruth", "events", "realgo_gc", "fault_fit",
                             "wakeup", "stw", "spin", "perf_realgo", "mmap_sleeps",
                             "mmaplock", "gcbits", "pagecache", "handoff_fit"}
    for section in measured.values():
        p = section["provenance"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", p["date"])
        assert re.fullmatch(r"[0-9a-f]{12}(\+uncommitted)?", p["git_revision"])
        assert p["command"].startswith("python scripts/measure.py ")
        assert p["machine"] and p["cpus"] >= 1
    for step in ("make_run", "make_test_cold", "make_test_warm"):
        assert measured["make"][step]["seconds"] > 0
    # the hand-off scan holds the 16-core profile's own point (its lock costs
    # as the profile sets them), so docs/decisions.md marks the point chosen
    prof = figures.load_yaml(figures.PROFILE_16CORE)["parameters"]
    rows = measured["handoff_fit"]["rows"]
    assert sum(all(prof.get(k) == v for k, v in r["costs"].items()) for r in rows) == 1
    # gosim groundtruth on every shipped file, and on the 16-core files of
    # extra/ with the shared grid or its disputed settings (docs/groundtruth.md),
    # with what each run agreed on
    runs = measured["groundtruth"]["runs"]
    assert {r["file"] for r in runs} == {p.name for p in (figures.ROOT / "experiments" /
                                                          "groundtruth").glob("*.jsonl")} | {
        "extra/go1.27-16core-traced.jsonl", "extra/go1.27-16core-repeat2.jsonl",
        "extra/go1.27-16core-disputed.jsonl", "extra/go1.27-16core-repeat3.jsonl",
        "extra/go1.27-16core-holdout.jsonl", "extra/go1.27-16core-gogc.jsonl"}
    for r in runs:
        assert r["command"].startswith("gosim groundtruth experiments/groundtruth/")
        a = r["agreement"]
        # every record of the file was simulated, every case checked
        lines = (figures.ROOT / "experiments" / "groundtruth" / r["file"]).read_text()
        assert a["records"] == len(lines.splitlines()) and r["wall_s"] > 0
        # a case: a mode, GOGC, live heap, size (or mix), pointers, page
        # writing and goroutines per P, over GOMAXPROCS
        recs = [json.loads(x) for x in lines.splitlines()]
        assert len(a["cases"]) == len({(x["mode"], x.get("gogc"), x["ballast_mib"], x["size"],
                                        x["kind"], x["touch"], x["g"] / x["gomaxprocs"])
                                       for x in recs})
        assert a["cases_ok"] == sum(c["ok"] for c in a["cases"])
        assert r["exit_status"] == (0 if a["pass"] else 1)


def test_fault_fit_covers_the_profile_and_picks_its_smallest_fit_error() -> None:
    """The measured page-fault grid holds the 16-core profile's own pair, every
    GC-off record of the shared file on both sides of the split, and the pair
    with the smallest fit-set error is the profile's: the profile was chosen by
    the fit set, not by the held-out 32 KiB records."""
    sec = figures.load_measured()["fault_fit"]
    prof = figures.load_yaml(figures.ROOT / "profiles" / f"{sec['profile']}.yaml")["parameters"]
    chosen = (prof["page_fault_contention_factor"], prof["page_fault_contention_max"])
    rows = {(r["factor"], r["limit"]): r for r in sec["rows"]}
    assert chosen in rows and (chosen[0], 0) in rows
    for r in sec["rows"]:
        assert sorted((x["size"], x["gomaxprocs"]) for x in r["records"]) == sorted(
            (s, p) for s in (1024, 32768) for p in (1, 2, 4, 8, 12, 16))
    best = min(sec["rows"], key=lambda r: r["fit_rms"])
    assert (best["factor"], best["limit"]) == chosen
    # the limit's point: the held-out size's error falls with it
    assert rows[chosen]["holdout_rms"] < rows[(chosen[0], 0)]["holdout_rms"]


def test_mmap_sleeps_cover_the_profile_and_pick_it_by_the_sleep_not_the_throughput() -> None:
    """scripts/measure.py mmap-sleeps: every GC-off record with pages touched
    from 8 Ps on of the three 16-core files, at every simulated write
    length, the profile's among them. The profile's `mmap_write_ns` is the
    one whose median simulated sleep is nearest the real records' median
    off-CPU time per sleep; the model's sleeps per growth, which nothing
    fits, are within 3 of the real ones at every record (about GOMAXPROCS - 1
    in both)."""
    import statistics

    from scripts.measure import MMAP_SLEEP_FILES, MMAP_SLEEP_WRITES

    sec = figures.load_measured()["mmap_sleeps"]
    prof = figures.load_yaml(figures.ROOT / "profiles" / f"{sec['profile']}.yaml")["parameters"]
    assert prof["mmap_write_ns"] in MMAP_SLEEP_WRITES
    assert sorted({r["mmap_write_ns"] for r in sec["rows"]}) == sorted(MMAP_SLEEP_WRITES)
    expected = sorted(
        (name, r.line) for name in MMAP_SLEEP_FILES
        for r in read_records(figures.ROOT / "experiments" / "groundtruth" / name)
        if r.mode == "nogc" and r.touch and r.gomaxprocs >= sec["min_procs"])
    assert len(expected) == 27
    for w in MMAP_SLEEP_WRITES:
        rows = [r for r in sec["rows"] if r["mmap_write_ns"] == w]
        assert sorted((r["file"], r["line"]) for r in rows) == expected
        for r in rows:
            assert abs(r["sim_sleeps_per_grow"] - r["real_sleeps_per_grow"]) < 3, r
    real = statistics.median(r["real_off_cpu_per_sleep_ns"] for r in sec["rows"]
                             if r["mmap_write_ns"] == MMAP_SLEEP_WRITES[0])
    sim = {w: statistics.median(r["sim_sleep_ns"] for r in sec["rows"] if r["mmap_write_ns"] == w)
           for w in MMAP_SLEEP_WRITES}
    assert min(sim, key=lambda w: abs(sim[w] - real)) == prof["mmap_write_ns"]
    text = figures.render_mmap_sleeps(figures.load_measured())
    assert f"median of {real / 1e3:.0f} us" in text


MMAPLOCK_MODES = [(False, True, False), (True, True, False), (False, False, False),
                  (False, False, True)]


def test_mmaplock_section_is_every_repeat_of_every_mode() -> None:
    """scripts/measure.py mmaplock: MMAPLOCK_REPEATS runs of scripts/mmaplock,
    each with its MMAPLOCK_GROWS steps, each faulter count in the growing
    mapping and then its three controls; every page of each setting faulted
    once (the reservation is one chunk more than the growths); the rendered
    medians are those of the rows."""
    import statistics

    from scripts.measure import MMAPLOCK_FAULTERS, MMAPLOCK_GROWS, MMAPLOCK_REPEATS

    measured = figures.load_measured()
    rows = measured["mmaplock"]["rows"]
    counts = [int(x) for x in MMAPLOCK_FAULTERS.split(",")]
    assert [(r["repeat"], r["faulters"], r["separate"], r["grow"], r["new_maps"])
            for r in rows] == [(i, n, *m) for i in range(MMAPLOCK_REPEATS) for n in counts
                               for m in MMAPLOCK_MODES]
    for r in rows:
        assert r["grows"] == MMAPLOCK_GROWS
        assert r["faults"] == (MMAPLOCK_GROWS + 1) * r["chunk_bytes"] // 4096
    text = figures.render_mmaplock(measured)
    same = [r for r in rows if not r["separate"] and r["grow"]]
    p50 = statistics.median(r["mmap_p50_ns"] for r in same) / 1e3
    assert f"| {counts[0]} | the growing mapping | {p50:.1f} |" in text


def test_the_16_core_mmaplock_block_is_its_files() -> None:
    """The device's scripts/mmaplock (experiments/groundtruth/extra/
    go1.27-16core-mmaplock/): 3 repeats of 1, 3, 7, 11 and 15 faulters in
    each of the four modes; the rendered table has a row per faulter count
    and mode, the switches per step the median of the repeats; with 15
    faulters a growth puts far more threads to sleep than no growth or a new
    mapping does (the measured fact the model's SimFaultsNew follows)."""
    import statistics

    rows = figures._jsonl(figures.MMAPLOCK_16CORE / "mmaplock.jsonl")
    assert len(rows) == 3 * 5 * 4
    text = figures.render_mmaplock_16core()
    assert text.count("\n| ") == 1 + 5 * 4  # the header and a row per setting and mode

    def nv(mode: tuple[bool, bool, bool]) -> float:
        return statistics.median(r["nvcsw_per_grow"] for r in rows if r["faulters"] == 15 and (
            r["separate"], r["grow"], r["new_maps"]) == mode)
    grow, other, none, new = (nv(m) for m in MMAPLOCK_MODES)
    assert f"| {grow:.2f} |" in text
    assert min(grow, other) > 3 * max(none, new)


def test_gcbits_section_counts_the_records_it_reads() -> None:
    """scripts/measure.py gcbits: a row per (size, GOMAXPROCS) of the GC-off
    records with pages touched from 4 Ps on, the record counts those of the
    files; contentions per arena from the real profile grow with P."""
    from gosim.groundtruth.records import read_records
    from scripts.measure import GCBITS_FILES, GCBITS_MIN_PROCS

    sec = figures.load_measured()["gcbits"]
    want: dict[tuple[int, int], int] = {}
    for name in GCBITS_FILES:
        for r in read_records(figures.ROOT / "experiments" / "groundtruth" / name):
            if r.mode == "nogc" and r.touch and not r.mix and r.gomaxprocs >= GCBITS_MIN_PROCS:
                want[(r.size, r.gomaxprocs)] = want.get((r.size, r.gomaxprocs), 0) + 1
    assert {(r["size"], r["procs"]): r["records"] for r in sec["rows"]} == want
    for size in {k[0] for k in want}:
        per = [r["real_per_arena"] for r in sec["rows"] if r["size"] == size]
        assert per == sorted(per)
    assert "| 1 KiB | 16 |" in figures.render_gcbits(figures.load_measured())


def test_replace_blocks_rewrites_only_what_is_between_markers() -> None:
    text = ("intro 1\n<!-- figures:a -->\nold a\n<!-- /figures:a -->\nmiddle\n"
            "<!-- figures:b-2 -->\nold b\n<!-- /figures:b-2 -->\nend\n")
    rendered = {"a": "new a\nline 2\n", "b-2": "new b\n", "unused": "x"}
    new = figures.replace_blocks(text, rendered)
    assert new == ("intro 1\n<!-- figures:a -->\nnew a\nline 2\n<!-- /figures:a -->\nmiddle\n"
                   "<!-- figures:b-2 -->\nnew b\n<!-- /figures:b-2 -->\nend\n")
    assert figures.read_blocks(new) == {"a": "new a\nline 2\n", "b-2": "new b\n"}
    assert figures.replace_blocks(new, rendered) == new
    with pytest.raises(FiguresError, match=r"doc.md: no renderer for block \['b-2'\]"):
        figures.replace_blocks(text, {"a": "x"}, "doc.md")
    with pytest.raises(FiguresError, match="twice"):
        figures.read_blocks(text + text)


def test_number_formats() -> None:
    assert [figures.sig3(x) for x in (12.66, 120.6, 2.4, 0.3449, 1234.5, 0)] == \
        ["12.7", "121", "2.40", "0.345", "1,234", "0"]
    assert [figures.pct(x) for x in (0, 0.004, 0.005, 0.5449, 1)] == \
        ["0%", "<1%", "<1%", "54%", "100%"]
    assert [figures.size_label(n) for n in (48, 1024, 262144, 1536)] == \
        ["48 B", "1 KiB", "256 KiB", "1536 B"]


def _runs(go127_ns: float, go127_faults: int, cycles: int = 2) -> tuple[pd.DataFrame, dict]:
    """A two-design, two-P quickstart-shaped table (one replication)."""
    rows = []
    for preset, ns, faults in (("go1.14", 64.0, 0), ("go1.27", go127_ns, go127_faults)):
        for p in (1, 8):
            rows.append({
                "design.preset": preset, "workload.groups.0.size": 48, "gomaxprocs": p,
                "error": None, "allocs_per_sim_second": 1e9 / ns * p * (0.5 if p > 1 else 1),
                "sim_ns_per_alloc": ns, "alloc_page_faults": faults, "alloc_span_calls": 120,
                "mallocs": 20000 * p, "p_time_share_wait_mheap": 0.25 if p > 1 else None,
                "p_time_share_atomic": 0.125 if preset == "go1.27" else 0.0,
                "num_gc": cycles if p > 1 else 0, "spans_freed_by_sweep": 30 * cycles,
                "goroutines": p})
    manifest = {"counts": {"runs": 4}, "replications": 1,
                "experiment": {"scenario": {"costs_profile": "local-2core-go1.27"}}}
    return pd.DataFrame(rows), manifest


def test_quickstart_table_and_explanation_from_the_numbers() -> None:
    text = figures.render_quickstart(*_runs(80.0, 120))
    assert "4 runs, `go1.14` / `go1.27` at GOMAXPROCS 1, 8" in text
    assert "calibration profile `local-2core-go1.27`" in text
    # 8 Ps at half the ideal rate: 50% of linear scaling; 1e9/64 ns = 15.6 M/s
    assert "the collector on (GOGC=100, no live heap)" in text
    assert "| `go1.14` | 48 B | 15.6 | 62.5 | 50% | `mheap.lock`: 25% | - | 2.0 |" in text
    assert "| `go1.27` | 48 B | 12.5 | 50.0 | 50% | `mheap.lock`: 25% | 12% | 2.0 |" in text
    # 8 Ps x 20,000 x 48 B; 2 cycles; 60 spans freed
    assert ("at 8 Ps per run: 48 B: 8 MB allocated, 2.0 cycles, 60 emptied spans handed "
            "back to the heap by the sweeper") in text
    assert "(80.0 vs 64.0 ns of simulated time per allocation at 1 P)" in text
    assert "(120 faults, 120 spans in 20,000 allocations)" in text


@pytest.mark.parametrize(("ns", "faults", "premise"), [
    (60.0, 120, "go1.27 is slower than go1.14"),
    (80.0, 240, "one page fault per fresh span"),
    (80.0, 0, "one page fault per fresh span"),
])
def test_quickstart_explanation_refuses_a_false_premise(ns: float, faults: int,
                                                        premise: str) -> None:
    with pytest.raises(FiguresError, match=premise):
        figures.render_quickstart(*_runs(ns, faults))


def test_quickstart_collector_paragraph_refuses_runs_without_a_cycle() -> None:
    with pytest.raises(FiguresError, match="collector paragraph no longer holds"):
        figures.render_quickstart(*_runs(80.0, 120, cycles=0))


def _profile(**extra) -> dict:
    fit = [{"size": 8}, {"size": 16}, {"size": 262144}]
    return {"go_version": "go1.27.3", "gomaxprocs": 1, "fit": fit,
            "fit_rms_rel_error": 0.0519, "default_rms_rel_error": 0.225, **extra}


def test_calibration_line_states_fit_and_holdout_errors() -> None:
    assert figures.render_calibration(_profile(), figures.PROFILE) == (
        "- Calibrated against real go1.27.3 timings at GOMAXPROCS=1 (3 cases: size x "
        "pointer-ness, 8 B to 256 KiB): RMS relative error 5.2% on the fitted cases, with the "
        "profile `profiles/local-2core-go1.27.yaml`; 22.5% with the default costs.\n")
    line = figures.render_calibration(
        _profile(holdout=[{"size": 32}, {"size": 1024}], holdout_rms_rel_error=0.0871),
        figures.PROFILE)
    assert "(3 cases fitted, 2 held out: " in line
    assert "5.2% on the fitted cases, 8.7% on the held-out cases" in line
    with pytest.raises(FiguresError, match="holdout_rms_rel_error"):
        figures.render_calibration(_profile(holdout=[{"size": 32}]), figures.PROFILE)
    with pytest.raises(FiguresError, match="fit_rms_rel_error"):
        figures.render_calibration({"fit": []}, figures.PROFILE)


def test_times_state_a_failed_measurement() -> None:
    measured = figures.load_measured()
    measured["make"]["make_test_cold"].update(
        seconds=519, exit_status=2, pytest="1 failed, 278 passed, 1 warning")
    measured["make"]["make_test_warm"].update(seconds=300, exit_status=0, pytest="279 passed")
    text = figures.render_times(measured)
    assert "| 519 s (1 failed, 278 passed, 1 warning), **exit status 2** |" in text
    assert "| `make test` again | 300 s (279 passed) |" in text


def test_measure_reads_pytests_closing_tally(tmp_path) -> None:
    from scripts.measure import pytest_tally

    log = tmp_path / "make-test.log"
    log.write_text("..F..  [ 51%]\nFAILED tests/test_x.py::test_y - assert 125 == 126\n"
                   "==== 1 failed, 278 passed, 1 warning in 504.58s (0:08:24) ====\n"
                   "make: *** [Makefile:29: test] Error 1\n")
    assert pytest_tally(log) == "1 failed, 278 passed, 1 warning"
    log.write_text("279 passed in 283.93s (0:04:43)\n")
    assert pytest_tally(log) == "279 passed"
    log.write_text("make: *** No rule to make target 'test'.\n")
    assert pytest_tally(log) is None
    # make run's log ends with gosim's own summary, which is not a pytest tally
    log.write_text("96 runs: 96 ran, 0 skipped (cached), 0 failed; 17.0 s. Results in "
                   "results/quickstart\n")
    assert pytest_tally(log) is None


def _gcoff_record(size: int, p: int, ns_per_alloc: float, faults: float) -> dict[str, Any]:
    allocs = 1_000_000
    rate = p / (ns_per_alloc * 1e-9)
    return {"mode": "nogc", "size": size, "gomaxprocs": p, "allocs": allocs,
            "allocs_per_s": rate, "minflt": round(faults * allocs),
            "rusage_user_s": 0.1 * ns_per_alloc * allocs * 1e-9,
            "rusage_sys_s": 0.8 * ns_per_alloc * allocs * 1e-9}


def test_gcoff_split_recovers_known_costs_per_fault_and_per_span(tmp_path) -> None:
    """Records built from a known extra cost per fault (1.5 us) and per span (6 us)
    at 4 Ps: the rendered split gives them back (1 KiB: 8 objects per span,
    32 KiB: one)."""
    f_ns, c_ns = 1500.0, 6000.0
    recs = []
    for size, faults, spans, base in ((1024, 0.25, 1 / 8, 460.0), (32768, 8.0, 1.0, 13_900.0)):
        recs.append(_gcoff_record(size, 1, base, faults))
        recs.append(_gcoff_record(size, 4, base + faults * f_ns + spans * c_ns, faults))
    path = tmp_path / "gt.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    text = figures.render_gcoff_costs(path)
    row = next(line for line in text.splitlines() if line.startswith("| 4 |"))
    assert row.endswith("| 1.50 us | 6.00 us |"), row
    assert "0.250 faults and 0.125 span" in text


def test_gcoff_split_needs_one_p_records(tmp_path) -> None:
    path = tmp_path / "gt.jsonl"
    path.write_text(json.dumps(_gcoff_record(1024, 4, 800.0, 0.25)) + "\n")
    with pytest.raises(FiguresError, match="GOMAXPROCS=1"):
        figures.render_gcoff_costs(path)
    with pytest.raises(FiguresError, match="missing"):
        figures.render_gcoff_costs(tmp_path / "none.jsonl")


def test_gcoff_block_is_in_the_groundtruth_doc(doc_blocks: dict[str, dict[str, str]]) -> None:
    assert "gcoff-costs" in doc_blocks["docs/groundtruth.md"]


def _gcon_record(size: int, p: int, ns_per_alloc: float, cpu: float, sleep: float,
                 idle: float, pause: float) -> dict[str, object]:
    """A GC-on record without a live heap whose P-time per allocation is
    ns_per_alloc, split into the given fractions."""
    allocs = 1_000_000
    t = ns_per_alloc * allocs * 1e-9  # P-seconds in all
    return {"mode": "gc", "ballast_mib": 0, "size": size, "gomaxprocs": p, "allocs": allocs,
            "allocs_per_s": p / (ns_per_alloc * 1e-9), "rusage_user_s": 0.9 * cpu * t,
            "rusage_sys_s": 0.1 * cpu * t, "contention": {"seconds_est": sleep * t},
            "metrics": {"/cpu/classes/idle:cpu-seconds": idle * t,
                        "/cpu/classes/gc/pause:cpu-seconds": pause * t}}


def test_gcon_cpu_table_splits_each_allocation(tmp_path) -> None:
    """Per allocation: P-time, then CPU / lock sleep / idle / pause as built,
    and CPU over the one-P record's; GC-off and live-heap records left out."""
    recs = [_gcon_record(48, 1, 20.0, 1.0, 0, 0, 0),
            _gcon_record(48, 4, 100.0, 0.6, 0.2, 0.1, 0.1),
            {**_gcon_record(48, 4, 7.0, 1, 0, 0, 0), "mode": "nogc"},
            {**_gcon_record(48, 4, 7.0, 1, 0, 0, 0), "ballast_mib": 256}]
    path = tmp_path / "gt.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    rows = [line for line in figures.render_gcon_cpu(path).splitlines()
            if line.startswith("| 1 |") or line.startswith("| 4 |")]
    assert rows == ["| 1 | 20 (20 / 0 / 0 / 0) | 1.00 |", "| 4 | 100 (60 / 20 / 10 / 10) | 3.00 |"]
    path.write_text(json.dumps(recs[1]) + "\n")
    with pytest.raises(FiguresError, match="GOMAXPROCS=1"):
        figures.render_gcon_cpu(path)


def test_stw_section_holds_the_real_and_the_model_s_stops() -> None:
    """scripts/measure.py stw: one row per GOMAXPROCS x size as scripts/stw
    printed it, each with the model's stops at note_wakeup_ns 0 and 35 us. At
    one P no other P has to stop, in the runtime as in the model; at two the
    model's stop takes the wake-up (plus the other P's way to its safepoint)."""
    from scripts.measure import STW_PROCS, STW_SIM_WAKEUPS, STW_SIZES

    sec = figures.load_measured()["stw"]
    rows = sec["rows"]
    assert [(r["gomaxprocs"], r["size"]) for r in rows] == [
        (p, s) for p in STW_PROCS for s in STW_SIZES]
    for r in rows:
        assert r["stopping"]["n"] > 0 and r["stopping"]["mean_us"] <= r["total"]["mean_us"]
        assert [m["note_wakeup_ns"] for m in r["model"]] == list(STW_SIM_WAKEUPS)
        zero, woken = r["model"]
        if r["gomaxprocs"] == 1:
            assert r["stopping"]["p90_us"] < 5
            assert zero["stopping_mean_us"] == woken["stopping_mean_us"] == 0
        else:
            assert zero["stopping_mean_us"] < 10
            assert 35 <= woken["stopping_mean_us"] < 45
    assert "figures:stw" in (figures.ROOT / "docs" / "decisions.md").read_text()


def test_spin_section_holds_the_three_measures_as_scripts_spin_printed_them() -> None:
    """scripts/measure.py spin: procyield(30), osyield and the whole window, each
    over SPIN_ROUNDS repetitions, rendered beside the default ``lock_spin_ns``."""
    from gosim.sim.costs import COST_PARAMETERS
    from scripts.measure import SPIN_ROUNDS

    sec = figures.load_measured()["spin"]
    assert [(r["what"], r["n"]) for r in sec["rows"]] == [
        ("procyield30", SPIN_ROUNDS), ("osyield", SPIN_ROUNDS), ("window", SPIN_ROUNDS)]
    assert sec["provenance"]["command"] == "python scripts/measure.py spin"
    text = figures.render_spin(figures.load_measured())
    assert f"{COST_PARAMETERS['lock_spin_ns'].default:g} ns (`lock_spin_ns`)" in text
    assert "figures:spin" in (figures.ROOT / "docs" / "decisions.md").read_text()


def test_perf_realgo_section_is_every_run_and_the_model_beside_it() -> None:
    """scripts/measure.py perf-realgo: PERF_REPEATS runs at each of 1 and 2 Ps,
    each with its record and perf samples, and the model at every
    PERF_MODEL_LINES value. What they show: the real runtime does not gain
    from a second P (under 1.3x the one-P rate, where the model without the
    heap's line gains over 1.4x); the model at 2 Ps slows as the line costs
    more, and the line costs nothing at 1 P. The rendered table's cells are
    the medians of the runs, computed here from the samples."""
    import statistics

    from scripts.measure import PERF_HZ, PERF_MODEL_LINES, PERF_REPEATS

    measured = figures.load_measured()
    sec = measured["perf_realgo"]
    assert sec["hz"] == PERF_HZ
    assert sorted((r["gomaxprocs"], r["repeat"]) for r in sec["runs"]) == [
        (p, i) for p in (1, 2) for i in range(PERF_REPEATS)]
    for r in sec["runs"]:
        assert r["samples"] >= sum(r["symbols"].values()) > 0
        assert r["allocs"] == r["gomaxprocs"] * sec["count_per_g"]
    rate = {p: statistics.median(r["allocs_per_s"] for r in sec["runs"] if r["gomaxprocs"] == p)
            for p in (1, 2)}
    model = {(m["gomaxprocs"], m["heap_line_ns"]): m["allocs_per_s"] for m in sec["model"]}
    assert sorted(model) == sorted((p, x) for x in PERF_MODEL_LINES for p in (1, 2))
    assert rate[2] < 1.3 * rate[1]
    assert model[2, 0] > 1.4 * model[1, 0]
    assert len({model[1, x] for x in PERF_MODEL_LINES}) == 1
    at2 = [model[2, x] for x in sorted(PERF_MODEL_LINES)]
    assert all(a > b for a, b in zip(at2, at2[1:], strict=False))
    text = figures.render_perf_realgo(measured)
    assert f"| 1 | {rate[1] / 1e6:.1f} | " in text and f"| 2 | {rate[2] / 1e6:.1f} | " in text

    def ns(p: int, name: str) -> float:
        return statistics.median(r["symbols"].get(name, 0) / PERF_HZ * 1e9 / r["allocs"]
                                 for r in sec["runs"] if r["gomaxprocs"] == p)

    name = "runtime.(*mheap).allocSpan"
    assert f"| `{name}` | {ns(1, name):.1f} | {ns(2, name):.1f} |" in text
    assert "figures:perf-realgo" in (figures.ROOT / "docs" / "decisions.md").read_text()


def test_lockcosts_16core_section_is_the_committed_device_measurements(tmp_path: Path) -> None:
    """The 16-core lock hand-off costs (experiments/groundtruth/extra/
    go1.27-16core-lockcosts/, one device run) rendered against the 16-core
    profile's figures: every (load, sleep) setting of both runs has its cell,
    the spin window's p50 is the file's, and a profile without a figure shows
    the default."""
    from gosim.sim.costs import COST_PARAMETERS

    folder = figures.LOCKCOSTS_16CORE
    one = [json.loads(x) for x in (folder / "wakeup.jsonl").read_text().splitlines()]
    four = [json.loads(x) for x in (folder / "wakeup-4pairs.jsonl").read_text().splitlines()]
    assert {r["pairs"] for r in one} == {1} and {r["pairs"] for r in four} == {4}
    text = figures.render_lockcosts_16core()
    lines = text.splitlines()
    names = {0: "0", 20000: "20 us", 200000: "200 us", 2000000: "2 ms"}
    rows = {ln.split(" | ")[0][2:]: ln for ln in lines
            if ln.startswith("| ") and ln.split(" | ")[0][2:] in names.values()}
    assert len(rows) == 4
    for r in one + four:
        slept = names[r["pause_ns"]]
        assert f"{r['p50_ns'] / 1000:.1f} ({r['mean_ns'] / 1000:.1f})" in rows[slept]
    spin = {r["what"]: r for r in map(json.loads, (folder / "spin.jsonl").read_text().splitlines())}
    assert f"| the window as lock2 runs it | 2,000 | {spin['window']['p50_ns']:,.0f} |" in text
    # the profile's figures, its default where it sets none
    prof = tmp_path / "p.yaml"
    prof.write_text("name: x\nparameters:\n  m_wakeup_ns: 50000\n")
    other = figures.render_lockcosts_16core(profile=prof)
    assert f"`lock_spin_ns` of {COST_PARAMETERS['lock_spin_ns'].default:,.0f}" in other
    assert "`m_wakeup_ns` of 50 us" in other
    assert "figures:lockcosts-16core" in (figures.ROOT / "docs" / "decisions.md").read_text()


def test_regime_rows_keep_settings_that_differ_beyond_the_size(tmp_path: Path) -> None:
    """scripts/measure.py averages the repeats of one setting only: two GOGC
    values, a pointerful kind, a mix and goroutines per P at the same size and
    GOMAXPROCS stay separate rows, and the rendered tables label each."""
    from scripts.measure import regime_rows, share_rows

    cols = ["mode", "ballast_mib", "size", "mix", "kind", "gogc", "g", "gomaxprocs", "touch",
            "split", "real_idle_share", "sim_idle_share"]
    rows = [
        ("gc", 0, 1024, "", "noscan", 400, 4, 4, True, "holdout", 0.10, 0.20),
        ("gc", 0, 1024, "", "noscan", 400, 4, 4, True, "holdout", 0.30, 0.20),  # a repeat
        ("gc", 0, 1024, "", "noscan", 800, 4, 4, True, "holdout", 0.50, 0.60),
        ("gc", 0, 1024, "", "scan", 100, 4, 4, True, "holdout", 0.70, 0.80),
        ("gc", 0, 1024, "", "noscan", 100, 16, 4, True, "holdout", 0.05, 0.06),
        ("gc", 0, 1091, "16,4096", "noscan", 100, 4, 4, True, "holdout", 0.01, 0.02),
    ]
    csv_path = tmp_path / "comparison.csv"
    pd.DataFrame(rows, columns=cols).to_csv(csv_path, index=False)
    got = regime_rows(csv_path, "idle_share")
    assert [(r.get("gogc"), r.get("kind"), r.get("g_per_p"), r.get("mix"), r["real"])
            for r in got] == [(400, None, None, None, 0.2), (800, None, None, None, 0.5),
                              (None, "scan", None, None, 0.7), (None, None, 4, None, 0.05),
                              (None, None, None, "16,4096", 0.01)]
    table = "\n".join(figures._regime_share_table(got, "Idle", "{:.2f}"))
    for label in ("gc, 0 MiB live, 1 KiB, GOGC=400 |", "gc, 0 MiB live, 1 KiB, GOGC=800 |",
                  "gc, 0 MiB live, 1 KiB, pointerful |", "gc, 0 MiB live, 1 KiB, 4 G per P |",
                  "gc, 0 MiB live, mix 16,4096 B |"):
        assert f"| {label}" in table, table
    shares = share_rows(csv_path, "idle_share", live_heap=False)
    assert len(shares) == 5
    assert "| 1 KiB, GOGC=800 | 0.50 / 0.60 |" in "\n".join(
        figures._share_table(shares, "Idle", "{:.2f}"))
