"""``gosim compare A B``: matched settings, old/new mean ± CI, change and "~",
the plot, and bad input (exit 2, one line, nothing written)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from gosim.analysis.compare import compare, delta_text, load_results, plot_compare
from gosim.cli import main
from gosim.config import parse_experiment
from gosim.runner import run_experiment

#: 1 KiB objects (a refill every 8 allocations); 2 designs x 2 Ps x 3 replications.
#: The sizes are drawn, so replications differ and the CIs are not zero.
BASE = """\
name: {name}
scenario:
  seed: 3
  {extra}
  workload:
    groups:
      - count: 2
        size: {{dist: uniform, low: 512, high: 1536}}
        allocations: 1500
sweep:
  grid:
    design.preset: [go1.12, go1.27]
    gomaxprocs: [1, 2]
    {more}
  replications: 3
outputs:
  plots: false
"""


def experiment(tmp: Path, name: str, extra: str = "", more: str = "") -> Path:
    exp = parse_experiment(BASE.format(name=name, extra=extra, more=more))
    o = run_experiment(exp, out_dir=tmp, jobs=1, progress=False)
    assert o.n_failed == 0
    return tmp / name


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("cmp")
    # B: an uncontended lock costs 10x more, which only the locked designs feel
    return (experiment(tmp, "old"),
            experiment(tmp, "new", extra="costs: {lock_uncontended_ns: 200}"))


def test_table_matches_an_independent_aggregation(pair: tuple[Path, Path]) -> None:
    a, b = (load_results(p) for p in pair)
    t = compare(a, b)
    assert len(t) == 4 * 5  # 4 settings x 5 key metrics
    assert list(t.drop_duplicates(["design", "gomaxprocs"])[["design", "gomaxprocs"]]
                .itertuples(index=False, name=None)) == [
        ("go1.12", 1), ("go1.12", 2), ("go1.27", 1), ("go1.27", 2)]
    from scipy import stats

    for _, r in t.iterrows():
        for side, res in (("a", a), ("b", b)):
            x = res.runs[(res.runs["design"] == r["design"])
                         & (res.runs["gomaxprocs"] == r["gomaxprocs"])][r["metric"]]
            assert len(x) == 3 and r[f"n_{side}"] == 3
            assert r[f"mean_{side}"] == pytest.approx(x.mean(), rel=1e-12)
            half = stats.t.ppf(0.975, 2) * x.std(ddof=1) / math.sqrt(3)
            assert r[f"ci_{side}"] == pytest.approx(half, rel=1e-9, abs=1e-12)
        assert r["delta_percent"] == pytest.approx(
            (r["mean_b"] - r["mean_a"]) / r["mean_a"] * 100)
        lo_a, hi_a = r["mean_a"] - r["ci_a"], r["mean_a"] + r["ci_a"]
        lo_b, hi_b = r["mean_b"] - r["ci_b"], r["mean_b"] + r["ci_b"]
        assert r["ci_overlap"] == (lo_a <= hi_b and lo_b <= hi_a)
        assert (delta_text(r) == "~") == r["ci_overlap"]
    # the dearer lock slows go1.12 (a lock per refill) and leaves the structure alone
    thr = t[(t["metric"] == "allocs_per_sim_second") & (t["design"] == "go1.12")]
    assert (thr["delta_percent"] < -1).all() and not thr["ci_overlap"].any()
    heap = t[t["metric"] == "heap_inuse_bytes"]
    assert (heap["mean_a"] == heap["mean_b"]).all()


def test_delta_text() -> None:
    assert delta_text({"ci_overlap": True, "delta_percent": 3.0}) == "~"
    assert delta_text({"ci_overlap": False, "delta_percent": -12.345}) == "-12.3%"
    assert delta_text({"ci_overlap": None, "delta_percent": 5.0}) == "+5.0% (no CI)"
    assert delta_text({"ci_overlap": False, "delta_percent": float("nan")}) == "—"


def test_plot_has_both_experiments_per_design(pair: tuple[Path, Path]) -> None:
    a, b = (load_results(p) for p in pair)
    fig = plot_compare(compare(a, b), a, b)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["go1.12 (A: old)", "go1.12 (B: new)", "go1.27 (A: old)",
                      "go1.27 (B: new)"]
    assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "--", "-", "--"]
    assert len(ax.collections) == 4  # a CI band per line
    assert ax.get_xlabel() == "GOMAXPROCS"
    assert [int(x) for x in ax.get_xticks()] == [1, 2]


def test_cli_prints_tables_and_writes_csv_and_plot(pair: tuple[Path, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", str(pair[0]), str(pair[1]), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "allocs/sim-s (M)" in text and "go1.12 P=2" in text
    assert "4 matching settings; ~: the 95% confidence intervals overlap" in text
    csv = pd.read_csv(out / "compare.csv")
    assert len(csv) == 20 and set(csv["metric"]) >= {"allocs_per_sim_second"}
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_exit_2_nothing_written(pair: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", str(pair[0]), str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"gosim: error: {tmp_path}: not a gosim results directory (no runs.parquet)\n"
    # only go1.15 settings: none match
    other = tmp_path / "exps"
    exp = parse_experiment(BASE.format(name="g115", extra="", more="").replace(
        "[go1.12, go1.27]", "[go1.15]").replace("replications: 3", "replications: 1"))
    run_experiment(exp, out_dir=other, jobs=1, progress=False)
    assert main(["compare", str(pair[0]), str(other / "g115"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no matching settings" in err
    # a key swept by one side only cannot be matched
    wide = parse_experiment(BASE.format(name="wide", extra="", more="workload.groups.0.count: "
                                        "[1, 2]").replace("replications: 3", "replications: 1"))
    run_experiment(wide, out_dir=other, jobs=1, progress=False)
    assert main(["compare", str(pair[0]), str(other / "wide"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sweeps 'workload.groups.0.count'" in err
    assert not out.exists()
