"""Analysis: t confidence intervals, MSER-5, per-setting tables and plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gosim.analysis.plots import draw_plots
from gosim.analysis.stats import t_confidence_interval
from gosim.analysis.summary import format_mean_ci, render_summary, scaling_lines, summary_table
from gosim.analysis.tables import (
    aggregate,
    busiest_locks,
    histogram_quantile,
    latency_cdf,
    lock_table,
    p_time_category_order,
    p_time_label,
    p_time_shares,
)
from gosim.sim.warmup import (
    batch_means,
    mser5_truncation,
    mser_statistic,
    truncated_mean,
)

# ------------------------------------------------------------ confidence intervals


def test_t_interval_hand_computed() -> None:
    # x = 1, 2, 3, 4: mean 2.5, s^2 = (2.25+0.25+0.25+2.25)/3 = 5/3,
    # t_{0.975, 3} = 3.182446305 (tables), half width = t * s / sqrt(4)
    ci = t_confidence_interval([1, 2, 3, 4])
    assert ci.mean == 2.5 and ci.n == 4
    assert ci.std == pytest.approx(math.sqrt(5 / 3))
    assert ci.half_width == pytest.approx(3.182446305 * math.sqrt(5 / 3) / 2, rel=1e-9)
    assert ci.low == pytest.approx(2.5 - 2.054, abs=1e-3)
    assert ci.high == pytest.approx(2.5 + 2.054, abs=1e-3)
    # 90%: t_{0.95, 3} = 2.353363435
    ci90 = t_confidence_interval([1, 2, 3, 4], confidence=0.90)
    assert ci90.half_width == pytest.approx(2.353363435 * math.sqrt(5 / 3) / 2, rel=1e-9)
    # two replications of 10 and 14: t_{0.975, 1} = 12.70620474, s = 2*sqrt(2)
    ci2 = t_confidence_interval([10.0, 14.0])
    assert ci2.half_width == pytest.approx(12.70620474 * 2 * math.sqrt(2) / math.sqrt(2))


def test_t_interval_is_scipy_stats_t_exactly() -> None:
    """The t quantile comes from scipy.special.stdtrit (scipy.stats is slow to
    import): the same float as scipy.stats.t.ppf, so the same intervals."""
    from scipy import stats

    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0] * 30)
    for n in (2, 3, 4, 5, 10, 30, 300):
        for confidence in (0.5, 0.9, 0.95, 0.99, 0.999):
            t = float(stats.t.ppf(0.5 + confidence / 2, df=n - 1))
            ci = t_confidence_interval(x[:n], confidence)
            assert ci.half_width == t * float(x[:n].std(ddof=1)) / math.sqrt(n)


def test_t_interval_degenerate() -> None:
    one = t_confidence_interval([5.0])
    assert one.mean == 5.0 and math.isnan(one.half_width) and one.n == 1
    none = t_confidence_interval([])
    assert none.n == 0 and math.isnan(none.mean)
    same = t_confidence_interval([3.0, 3.0, 3.0])
    assert same.half_width == 0.0
    assert t_confidence_interval([1.0, float("nan"), 3.0]).n == 2
    with pytest.raises(ValueError):
        t_confidence_interval([1, 2], confidence=1.5)


def test_t_interval_coverage() -> None:
    # ~95% of intervals from normal samples of 5 cover the true mean
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(2000):
        ci = t_confidence_interval(rng.normal(10, 2, 5))
        covered += ci.low <= 10 <= ci.high
    assert 0.93 < covered / 2000 < 0.97


# ------------------------------------------------------------ MSER-5


def test_mser_statistic_matches_brute_force() -> None:
    y = np.random.default_rng(2).normal(size=40)
    stat = mser_statistic(y)
    for d in (0, 5, 17, 39):
        tail = y[d:]
        assert stat[d] == pytest.approx(((tail - tail.mean()) ** 2).sum() / len(tail) ** 2)


def test_mser5_finds_a_known_transient() -> None:
    # a warm-up that decays linearly from 60 to 10 over 200 observations, then
    # stationary noise around 10
    rng = np.random.default_rng(3)
    warm = np.linspace(60, 10, 200)
    x = np.r_[warm, np.full(1800, 10.0)] + rng.normal(0, 1, 2000)
    d = mser5_truncation(x)
    assert d % 5 == 0
    assert 150 <= d <= 260
    assert truncated_mean(x) == pytest.approx(10, abs=0.2)
    assert x.mean() > 12  # what the truncation removes


def test_mser5_stationary_and_short_series() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(5, 1, 1000)
    assert mser5_truncation(x) <= 250  # searches only the first half
    assert mser5_truncation([1.0, 2.0, 3.0]) == 0
    assert mser5_truncation(np.full(100, 2.0)) == 0
    assert list(batch_means(np.arange(12), 5)) == [2.0, 7.0]


# ------------------------------------------------------------ tables

META = {"name": "t", "setting_columns": ["design.preset", "gomaxprocs", "size"],
        "swept_keys": ["design.preset", "gomaxprocs", "size"], "replications": 2}


def synthetic_tables(ps: tuple[int, ...] = (1, 2, 4)) -> dict[str, pd.DataFrame]:
    """Two designs x GOMAXPROCS x two sizes, two replications; exact numbers."""
    runs, locks, p_time, latency = [], [], [], []
    rid = sid = 0
    for design in ("go1.12", "go1.27"):
        for p in ps:
            for size in (48, 1024):
                for rep in range(2):
                    eff = p if design == "go1.27" else p / (1 + 0.5 * (p - 1))
                    rate = 1e7 * eff * (1 + (0.1 if rep else -0.1))
                    keys = {"run_id": rid, "setting_id": sid, "replication": rep, "seed": rep,
                            "config_hash": f"h{rid}", "design": design, "gomaxprocs": p,
                            "design.preset": design, "size": size}
                    runs.append({**keys, "error": None, "allocs_per_sim_second": rate,
                                 "sim_time_ns": 1000, "malloc_latency_p99_ns": 100.0 * p,
                                 "lock_free_fraction": 0.99})
                    locks.append({**keys, "lock": "mheap", "kind": "mheap", "span_class": -1,
                                  "size_class": -1, "wait_total_ns": 100 * p,
                                  "utilisation": 0.1 * p, "wait_mean_ns": 5.0})
                    locks.append({**keys, "lock": "mcentral[spc=9]", "kind": "mcentral",
                                  "span_class": 9, "size_class": 4, "wait_total_ns": 50 * p,
                                  "utilisation": 0.05, "wait_mean_ns": 2.0})
                    for pp in range(p):
                        for cat, ns in (("fast_path", 600), ("slow_path", 100),
                                        ("wait:mheap", 100), ("hold:mheap", 50), ("work", 100),
                                        ("idle", 50)):
                            p_time.append({**keys, "p": pp, "category": cat, "ns": ns})
                    for lo, hi, n in ((0, 10, 50), (10, 100, 40), (100, 1000, 9),
                                      (1000, 10000, 1)):
                        latency.append({**keys, "lo_ns": lo, "hi_ns": hi, "count": n})
                    rid += 1
                sid += 1
    return {"runs": pd.DataFrame(runs), "locks": pd.DataFrame(locks),
            "p_time": pd.DataFrame(p_time), "latency": pd.DataFrame(latency),
            "by_size": pd.DataFrame(), "timeseries": pd.DataFrame()}


def test_aggregate_means_and_cis() -> None:
    t = synthetic_tables()
    agg = aggregate(t["runs"], META, ["allocs_per_sim_second"])
    assert len(agg) == 12 and set(agg["n"]) == {2}
    row = agg[(agg["design"] == "go1.27") & (agg["gomaxprocs"] == 4) & (agg["size"] == 48)]
    # replications 0.9 and 1.1 x 4e7: mean 4e7, s = 0.4e7 * sqrt(2)... half width t*s/sqrt(2)
    assert row["allocs_per_sim_second_mean"].item() == pytest.approx(4e7)
    s = np.std([3.6e7, 4.4e7], ddof=1)
    assert row["allocs_per_sim_second_ci"].item() == pytest.approx(12.70620474 * s / math.sqrt(2))
    # a failed run is left out and counted
    runs = t["runs"].copy()
    runs.loc[0, "error"] = "RuntimeError: boom"
    agg2 = aggregate(runs, META, ["allocs_per_sim_second"])
    assert agg2.loc[0, "n"] == 1 and agg2.loc[0, "n_failed"] == 1
    assert math.isnan(agg2.loc[0, "allocs_per_sim_second_ci"])


def test_p_time_shares_sum_to_one() -> None:
    t = synthetic_tables()
    shares = p_time_shares(t["p_time"], META)
    sums = shares.groupby("setting_id")["share"].sum()
    assert np.allclose(sums, 1.0)
    s0 = shares[shares["setting_id"] == 0].set_index("category")["share"]
    # every category keeps its own share: 600/1000, 100/1000, ... (none lumped as "other")
    assert s0.to_dict() == pytest.approx({"fast_path": 0.6, "slow_path": 0.1, "wait:mheap": 0.1,
                                          "hold:mheap": 0.05, "work": 0.1, "idle": 0.05})


def test_p_time_categories_order_and_labels() -> None:
    cats = {"idle", "work", "hold:global", "atomic", "wait:mcentral", "sched", "fast_path",
            "wait:mheap", "hold:mheap", "slow_path", "wait:zz", "gc_assist"}
    assert p_time_category_order(cats) == [
        "fast_path", "slow_path", "atomic", "wait:mheap", "wait:mcentral", "wait:zz",
        "hold:mheap", "hold:global", "work", "sched", "idle", "gc_assist"]
    assert p_time_label("atomic") == "atomics (span sets, heapLive)"
    assert p_time_label("wait:mheap") == "wait: mheap.lock"
    assert p_time_label("hold:global") == "hold: global malloc lock"
    assert p_time_label("wait:zz") == "wait: zz"


def test_lock_table_wait_share() -> None:
    t = synthetic_tables()
    lt = lock_table(t["locks"], t["runs"], META)
    row = lt[(lt["setting_id"] == 0) & (lt["lock"] == "mheap")]
    # P=1: 100 ns waiting out of 1000 ns x 1 P
    assert row["wait_share"].item() == pytest.approx(0.1)
    # a lock that nobody waited for has share 0, not NaN, even without sim_time_ns
    locks = t["locks"].assign(wait_total_ns=0)
    for runs in (t["runs"], t["runs"].drop(columns="sim_time_ns")):
        assert (lock_table(locks, runs, META)["wait_share"] == 0).all()


def test_lock_table_counts_a_missing_replication_as_idle() -> None:
    t = synthetic_tables()
    # setting 0 (go1.12, P=1, 48 B) has runs 0 and 1; drop run 1's mcentral row
    locks = t["locks"][~((t["locks"]["run_id"] == 1) & (t["locks"]["lock"] == "mcentral[spc=9]"))]
    lt = lock_table(locks, t["runs"], META).set_index(["setting_id", "lock"])
    row = lt.loc[(0, "mcentral[spc=9]")]
    assert row["wait_total_ns"] == pytest.approx((50 + 0) / 2)
    assert row["utilisation"] == pytest.approx((0.05 + 0) / 2)
    assert row["wait_mean_ns"] == pytest.approx(2.0)  # per acquisition: run 0 only


def test_busiest_lock_ranks_by_wait_share_not_utilisation() -> None:
    t = synthetic_tables()
    locks = t["locks"].copy()
    # mcentral: busier (utilisation 0.9) but nobody waits; mheap: 100 x P ns waiting
    locks.loc[locks["lock"] == "mcentral[spc=9]", ["utilisation", "wait_total_ns"]] = (0.9, 0)
    b = busiest_locks(lock_table(locks, t["runs"], META)).set_index("setting_id")
    assert set(b["lock"]) == {"mheap"}
    assert b.loc[0, "wait_share"] == pytest.approx(0.1)
    # nothing waited anywhere: the tie is broken by utilisation
    b0 = busiest_locks(lock_table(locks.assign(wait_total_ns=0), t["runs"], META))
    assert set(b0["lock"]) == {"mcentral[spc=9]"} and (b0["wait_share"] == 0).all()
    md = render_summary({**t, "locks": locks.assign(wait_total_ns=0)}, {**META}, [])
    assert "nan" not in md.lower()
    assert "mcentral[spc=9] (wait 0.0% of P time, util 90%)" in md


def test_latency_cdf_and_quantiles() -> None:
    t = synthetic_tables()
    cdf = latency_cdf(t["latency"], [0])
    assert list(cdf["cdf"]) == pytest.approx([0.5, 0.9, 0.99, 1.0])
    assert histogram_quantile(cdf, 0.5) == pytest.approx(10)
    assert histogram_quantile(cdf, 0.7) == pytest.approx(55)  # halfway through 10..100
    assert histogram_quantile(cdf, 0.99) == pytest.approx(1000)
    assert histogram_quantile(cdf, 0.999) == pytest.approx(1000 + 9000 * 0.9)


def test_summary_and_scaling_lines() -> None:
    t = synthetic_tables()
    meta = {**META, "runs": 24, "settings": 12, "ran": 24, "cached": 0, "failed": 0,
            "wall_time_s": 1.0}
    lines = scaling_lines(t, meta)
    assert any(ln.startswith("go1.27 (size=48): GOMAXPROCS 4 gives 4.00x") and "100%" in ln
               for ln in lines)
    assert any(ln.startswith("go1.12 (size=48): GOMAXPROCS 4 gives 1.60x") for ln in lines)
    md = render_summary(t, meta, ["a note"])
    assert "| design | GOMAXPROCS | setting |" in md
    assert "24 runs (12 settings x 2 replications)" in md
    # P=4: 400 ns of 4 x 1000 ns waiting on mheap; utilisation 0.1 x 4
    assert "mheap (wait 10.0% of P time, util 40%)" in md and "a note" in md
    one = render_summary(t, {**meta, "runs": 1, "settings": 1, "replications": 1}, [])
    assert "1 run (1 setting x 1 replication)" in one
    compact = summary_table(t, META, compact=True)
    assert list(compact.columns) == ["design", "P", "setting", "allocs/sim-s (M)",
                                     "p99 ns", "busiest lock (wait, util)"]
    assert compact.loc[0, "busiest lock (wait, util)"] == "mheap: 10.0%, 10%"
    # go1.27 P=4 48 B: replications 36 and 44 M/s -> 40 ± 12.706 x 5.657 / sqrt(2) = 50.8
    row = compact[(compact["design"] == "go1.27") & (compact["P"] == 4)].iloc[0]
    assert row["allocs/sim-s (M)"] == "40 ± 51"


@pytest.mark.parametrize(("mean", "ci", "text"), [
    (0.998, 3.4e-16, "0.998"),        # a half-width far below the mean's precision
    (0.998, 0.0004, "0.998"),
    (102618.0, 20.0, "102,600"),      # four significant digits at most
    (2.37021, 0.0001, "2.370"),
    (0.99996, 1e-6, "1.0000"),        # not "1": the zeros are rounding, not exact
    (0.998, 0.004, "0.9980 ± 0.0040"),
    (13.9, 0.29, "13.90 ± 0.29"),
    (7.0, 2.3, "7.0 ± 2.3"),
    (818.0, 229.0, "820 ± 230"),
    (12630.0, 39383.0, "13,000 ± 39,000"),
    (2954.0, float("nan"), "2,954"),  # one replication: the mean alone
    (0.0703, float("nan"), "0.0703"),
    (12.0, 0.0, "12"),
    (float("nan"), float("nan"), "—"),
])
def test_format_mean_ci_rounds_to_the_precision(mean: float, ci: float, text: str) -> None:
    assert format_mean_ci(mean, ci) == text


def test_format_mean_ci_scales() -> None:
    assert format_mean_ci(4.0e7, 1.0e6, scale=1e6) == "40.0 ± 1.0"


# ------------------------------------------------------------ plots


def test_plots_are_drawn(tmp_path: Path) -> None:
    out = tmp_path / "plots"
    written, notes = draw_plots(synthetic_tables(), META, out,
                                ["scaling", "p_time", "lock_heatmap", "latency_ecdf"])
    assert notes == []
    assert sorted(p.name for p in written) == ["latency_ecdf.png", "lock_heatmap.png",
                                               "p_time.png", "scaling.png"]
    for p in written:
        assert p.stat().st_size > 10_000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".tmp-*"))


def test_plots_skip_without_the_needed_dimension(tmp_path: Path) -> None:
    t = synthetic_tables(ps=(2,))
    t["locks"] = pd.DataFrame()
    written, notes = draw_plots(t, META, tmp_path / "plots", ["scaling", "lock_heatmap",
                                                              "p_time"])
    assert [p.name for p in written] == ["p_time.png"]
    assert any(n.startswith("scaling: skipped, only one GOMAXPROCS") for n in notes)
    assert any(n.startswith("lock_heatmap: skipped") for n in notes)
    # turning plots off removes stale ones
    written, notes = draw_plots(t, META, tmp_path / "plots", [])
    assert written == [] and not (tmp_path / "plots").exists()
