"""The runtime's per-cycle trace summary (gosim/realgo/gctrace.py) and what the
comparison takes from it (``gctrace`` in a record; ``real_mark_ms_mean``)."""

from __future__ import annotations

import pytest

from gosim.errors import ConfigError
from gosim.groundtruth.records import parse_record
from gosim.groundtruth.scoring import sim_point
from gosim.realgo.gctrace import parse, summarize

# lines as Go 1.27 prints them (GODEBUG=gctrace=1,scavtrace=1), with noise between
LINES = [
    "scav 0 KiB work (bg), 0 KiB work (eager), 7208 KiB now, 86% util",
    "gc 1 @0.001s 11%: 0.10+0.16+0.001 ms clock, 0.20+0/0.18/0.11+0.003 ms cpu, "
    "0->0->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)",
    "some other line",
    "scav 320 KiB work (bg), 0 KiB work (eager), 6728 KiB now, 49% util",
    "gc 2 @0.010s 3%: 0.65+0.14+0.006 ms clock, 1.3+0.13/0.14/0+0.012 ms cpu, "
    "3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P",
    "scav 64 KiB work (bg), 0 KiB work (eager), 6696 KiB now, 48% util",
    "gc 3 @0.203s 10%: 0.090+20+0.076 ms clock, 0.18+0.017/0.14/0+0.15 ms cpu, "
    "11->86->76 MB, 13 MB goal, 0 MB stacks, 0 MB globals, 2 P",
]


def test_parse_reads_gc_and_scav_lines() -> None:
    gcs, scavs = parse(LINES)
    assert [c["n"] for c in gcs] == [1, 2, 3]
    assert gcs[2] == {"n": 3, "at_s": 0.203, "stw_sweep_ms": 0.09, "mark_ms": 20.0,
                      "stw_mark_ms": 0.076, "heap_start_mb": 11, "heap_end_mb": 86,
                      "marked_mb": 76, "goal_mb": 13}
    assert [s["bg_kib"] for s in scavs] == [0, 320, 64]
    assert scavs[-1]["now_kib"] == 6696


def test_summary_covers_the_last_window_cycles() -> None:
    s = summarize(LINES, 2)
    assert s is not None
    assert s["cycles"] == 2
    assert s["mark_ms_mean"] == pytest.approx((0.14 + 20) / 2)
    assert s["mark_ms_max"] == 20.0
    assert s["heap_end_mb_max"] == 86 and s["marked_mb_max"] == 76 and s["goal_mb_max"] == 13
    assert s["marked_mb_mean"] == pytest.approx(38.0)
    assert s["scav_bg_kib_per_cycle"] == pytest.approx((320 + 64) / 2)
    assert s["released_kib_end"] == 6696
    whole = summarize(LINES, None)
    assert whole is not None and whole["cycles"] == 3
    assert summarize(LINES, 10)["cycles"] == 3  # type: ignore[index]
    assert summarize(["nothing here"], 5) is None


def _record(**extra: object) -> dict[str, object]:
    obj: dict[str, object] = {
        "go": "go1.27.3", "gomaxprocs": 2, "g": 2, "size": 1024, "kind": "noscan",
        "mode": "gc", "gogc": 100, "ballast_mib": 0, "touch": True,
        "allocs_per_s": 3e6, "gc_cycles": 100, "dur_s": 0.6, "warm_s": 0.1,
        "contention": {"top": []}}
    obj.update(extra)
    return obj


def test_a_record_carries_its_mean_mark_phase() -> None:
    assert parse_record(_record(), file="f", line=1).mark_ms_mean is None
    r = parse_record(_record(gctrace={"mark_ms_mean": 0.33, "cycles": 100}), file="f", line=1)
    assert r.mark_ms_mean == pytest.approx(0.33)
    for bad in ({"cycles": 3}, [1, 2], {"mark_ms_mean": "slow"}):
        with pytest.raises(ConfigError, match="gctrace"):
            parse_record(_record(gctrace=bad), file="f", line=1)


def test_the_model_s_mean_mark_phase_counts_cycles_after_the_warm_up() -> None:
    cycles = [{"mark_start_ns": 100, "mark_end_ns": 400},      # before the warm-up's end
              {"mark_start_ns": 1_000, "mark_end_ns": 1_500_000},
              {"mark_start_ns": 2_000_000, "mark_end_ns": 2_500_000}]
    outcome = {"ok": True, "result": {"metrics": {
        "allocs_per_sim_second": 1e6, "sim_time_ns": 3_000_000, "warmup_ns": 1000},
        "lock_sites": [], "gc_cycles": cycles}}
    assert sim_point(outcome).mark_ms_mean == pytest.approx((1.499 + 0.5) / 2)
    outcome["result"]["gc_cycles"] = cycles[:1]  # type: ignore[index]
    assert sim_point(outcome).mark_ms_mean is None
