"""The standard plots of a real multi-design, multi-size experiment, checked on
the matplotlib objects: legend entries and their colours, tick labels, panel
titles, label overlap; not only that a PNG was written."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import to_rgba

from gosim.analysis.plots import (
    P_TIME_COLOURS,
    PLOT_FILES,
    _gomaxprocs_axis,
    _number,
    _ring_sizes,
    _stacked_bars,
    draw_plots,
    p_time_colour,
    plot_latency_ecdf,
    plot_lock_heatmap,
    plot_p_time,
    plot_scaling,
    plot_timeseries,
    plots_to_draw,
)
from gosim.analysis.tables import (
    histogram_quantile,
    latency_cdf,
    p_time_label,
    p_time_shares,
)
from gosim.config import PLOT_NAMES, parse_experiment
from gosim.runner import run_experiment
from gosim.runner.core import experiment_meta

# three designs whose labels are long (overrides), three GOMAXPROCS spanning a
# factor of 8 (log axes), two object sizes (two facets), two replications,
# a time series
EXPERIMENT = """\
name: plotcheck
scenario:
  design: go1.27
  gomaxprocs: 1
  seed: 11
  timeseries_interval_ns: 20000
  workload:
    groups:
      - name: alloc
        count: 1
        size: 48
        work_ns: {dist: exponential, mean: 50}
        allocations: 600
sweep:
  zip:
    - design.preset:              [go1.27, go1.27, global-lock]
      design.overrides.page_cache: [true, false, true]
    - gomaxprocs:              [1, 2, 8]
      workload.groups.0.count: [1, 2, 8]
    - workload.groups.0.size:        [48, 1024]
      workload.groups.0.allocations: [600, 200]
  replications: 2
"""
DESIGNS = ["go1.27+page_cache=True", "go1.27+page_cache=False", "global-lock+page_cache=True"]
FACETS = ["size=48", "size=1024"]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pd.DataFrame],
                                                                   dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("plots")
    exp = parse_experiment(EXPERIMENT)
    outcome = run_experiment(exp, out_dir=out, jobs=1, progress=False)
    assert outcome.n_failed == 0
    return outcome.tables, experiment_meta(exp), outcome.results_dir


def _texts(fig: Any) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def _assert_tick_labels_apart(fig: Any, labels: list[Any]) -> None:
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels if t.get_text()]
    assert len(boxes) >= 2
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)


def _legend(fig: Any) -> Any:
    assert len(fig.legends) == 1
    return fig.legends[0]


def test_every_plot_is_written(experiment: tuple) -> None:
    _tables, _meta, results = experiment
    files = sorted(p.name for p in (results / "plots").iterdir())
    assert files == sorted(PLOT_FILES.values())
    for f in files:
        assert (results / "plots" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_p_time_every_category_has_its_fixed_colour(experiment: tuple) -> None:
    tables, meta, _ = experiment
    shares = p_time_shares(tables["p_time"], meta)
    present = set(shares.loc[shares["share"] > 0, "category"])
    # the designs exercise span sets (go1.27), the global lock and both runtime locks
    assert {"atomic", "wait:global", "hold:global", "wait:mheap", "hold:mheap",
            "fast_path", "work"} <= present
    fig = plot_p_time(tables, meta)
    legend = _legend(fig)
    entries = {t.get_text(): to_rgba(h.get_facecolor())
               for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)}
    assert entries == {p_time_label(c): to_rgba(P_TIME_COLOURS[c]) for c in present}
    # the bars drawn use the same colours: every bar of a category has its colour
    # (a category's bars are one collection of rectangles, plots._stacked_bars)
    for ax in fig.axes:
        for bars in ax.collections:
            colours = {to_rgba(c) for c in bars.get_facecolor()}
            assert colours == {entries[bars.get_label()]}
        assert {bars.get_label() for bars in ax.collections} <= set(entries)
    # no P time is lumped into an "other" category
    assert not any("other" in t.lower() for t in entries)
    plt.close(fig)


def test_stacked_bars_are_the_bars_of_ax_bar() -> None:
    x, v, bottom = np.array([0.0, 1.0, 2.8]), np.array([10.0, 0.0, 5.5]), np.array([1, 2, 3.0])
    fig, (ax_bar, ax_ours) = plt.subplots(2)
    want = ax_bar.bar(x, v, bottom=bottom, width=0.85, color="#123456", edgecolor="white",
                      linewidth=0.3, label="cat")
    got = _stacked_bars(ax_ours, x, v, bottom, width=0.85, color="#123456", label="cat")
    assert len(got.get_paths()) == len(want)
    for rect, path in zip(want, got.get_paths(), strict=True):
        assert np.allclose(path.get_extents().bounds, rect.get_bbox().bounds)
    assert to_rgba(got.get_facecolor()[0]) == to_rgba(want[0].get_facecolor())
    assert to_rgba(got.get_edgecolor()[0]) == to_rgba(want[0].get_edgecolor())
    assert got.get_linewidth()[0] == want[0].get_linewidth() and got.get_label() == "cat"
    plt.close(fig)


def test_p_time_colours_do_not_depend_on_the_experiment(experiment: tuple) -> None:
    tables, meta, _ = experiment
    only = {k: (v[v["design"] == "go1.27+page_cache=True"] if "design" in v else v)
            for k, v in tables.items()}
    fig = plot_p_time(only, meta)
    legend = _legend(fig)
    entries = {t.get_text(): to_rgba(h.get_facecolor())
               for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)}
    assert "wait: global malloc lock" not in entries
    assert entries[p_time_label("atomic")] == to_rgba(P_TIME_COLOURS["atomic"])
    assert entries[p_time_label("fast_path")] == to_rgba(P_TIME_COLOURS["fast_path"])
    plt.close(fig)
    # an unknown category gets a colour from its name alone
    assert p_time_colour("gc_assist") == p_time_colour("gc_assist")
    assert p_time_colour("gc_assist") not in P_TIME_COLOURS.values()


def test_p_time_design_labels_are_whole_and_do_not_overlap(experiment: tuple) -> None:
    tables, meta, _ = experiment
    fig = plot_p_time(tables, meta)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert [ax.get_title() for ax in fig.axes] == FACETS
    for ax in fig.axes:
        labels = [t for t in ax.texts if str(t.get_gid()).startswith("design-label:")]
        # one label per design, each naming exactly one design
        assert [t.get_text().replace("\n", "") for t in labels] == DESIGNS
        boxes = [t.get_window_extent(renderer) for t in labels]
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "8"] * 3
    plt.close(fig)


def test_lock_heatmap_labels_every_row_and_column(experiment: tuple) -> None:
    tables, meta, _ = experiment
    locks = tables["locks"]
    fig = plot_lock_heatmap(tables, meta)
    axes = [ax for ax in fig.axes if ax.get_title() in DESIGNS]
    assert [ax.get_title() for ax in axes] == DESIGNS
    for ax in axes:
        d = locks[locks["design"] == ax.get_title()]
        rows = [t.get_text() for t in ax.get_yticklabels()]
        n_rows = ax.collections[0].get_array().size // 3
        # every row of the panel labelled, one per lock per object size
        assert len(rows) == n_rows == d.groupby("workload.groups.0.size")["lock"].nunique().sum()
        assert all(r.startswith(("size=48 · ", "size=1024 · ")) for r in rows)
        assert len(set(rows)) == len(rows)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "8"]
    # the global-lock design waits on the lock called "global"
    gl = axes[2]
    assert "size=1024 · global" in [t.get_text() for t in gl.get_yticklabels()]
    assert "all" not in _texts(fig)
    plt.close(fig)


def test_scaling_log_axes_have_readable_ticks(experiment: tuple) -> None:
    tables, meta, _ = experiment
    fig = plot_scaling(tables, meta)
    assert [ax.get_title() for ax in fig.axes] == FACETS
    fig.canvas.draw()
    for ax in fig.axes:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "8"]
        lo, hi = ax.get_ylim()
        shown = [t for t in ax.get_yticklabels() if t.get_text() and lo <= t.get_position()[1]
                 <= hi]
        assert len(shown) >= 3
        for t in shown:  # plain numbers, no exponents
            text = t.get_text()
            value = float(text[:-1]) * 1000 if text.endswith("k") else float(text)
            assert value == pytest.approx(t.get_position()[1])
        _assert_tick_labels_apart(fig, shown)
    assert [t.get_text() for t in _legend(fig).get_texts()] == [*DESIGNS,
                                                               "ideal linear scaling"]
    plt.close(fig)


def test_single_panel_plots_have_no_panel_title(experiment: tuple) -> None:
    tables, meta, _ = experiment
    one = {k: (v[v["workload.groups.0.size"] == 48] if "workload.groups.0.size" in v else v)
           for k, v in tables.items()}
    for plot in (plot_scaling, plot_p_time):
        fig = plot(one, {**meta, "facet_keys": []})
        assert [ax.get_title() for ax in fig.axes] == [""]
        assert "all" not in _texts(fig)
        plt.close(fig)


def test_latency_ecdf_markers_one_per_design_and_visible(experiment: tuple) -> None:
    tables, meta, _ = experiment
    fig = plot_latency_ecdf(tables, meta)
    assert [ax.get_title() for ax in fig.axes] == [
        f"GOMAXPROCS={p}, {f}" for f in FACETS for p in (1, 2, 8)]
    cdf = latency_cdf(tables["latency"])
    keys = tables["latency"].drop_duplicates("setting_id")
    for ax in fig.axes:
        p = int(ax.get_title().split(",")[0].split("=")[1])
        size = int(ax.get_title().split("size=")[1])
        for q, name in ((0.5, "p50"), (0.99, "p99"), (0.999, "p99.9")):
            marks = {ln.get_gid().split(":", 1)[1]: ln for ln in ax.lines
                     if str(ln.get_gid()).startswith(f"{name}:")}
            assert sorted(marks) == sorted(DESIGNS)
            for d, ln in marks.items():
                sid = keys[(keys["design"] == d) & (keys["gomaxprocs"] == p)
                           & (keys["workload.groups.0.size"] == size)]["setting_id"].item()
                want = histogram_quantile(cdf[cdf["setting_id"] == sid], q)
                assert ln.get_xdata()[0] == pytest.approx(max(want, ax.get_xlim()[0]))
                assert ln.get_ydata()[0] == q
            # markers at the same point have different sizes (concentric rings)
            for a, b in itertools.combinations(marks.values(), 2):
                xa, xb = a.get_xdata()[0], b.get_xdata()[0]
                if abs(math.log(xa / xb)) < math.log(1.05):
                    assert a.get_markersize() != b.get_markersize()
        assert [t.get_text() for t in ax.get_yticklabels()] == [
            "1%", "10%", "50%", "90%", "99%", "99.9%", "99.99%"]
        _assert_tick_labels_apart(fig, ax.get_xticklabels())
    # p50 at GOMAXPROCS=1 is the fast path for both go1.27 designs: two
    # markers at one point, two ring sizes (the check above bites)
    p50 = [ln for ln in fig.axes[0].lines if str(ln.get_gid()).startswith("p50:")
           and "global" not in ln.get_gid()]
    assert len({ln.get_xdata()[0] for ln in p50}) == 1
    assert len({ln.get_markersize() for ln in p50}) == 2
    assert [t.get_text() for t in _legend(fig).get_texts()] == [*DESIGNS, "p50", "p99",
                                                               "p99.9"]
    plt.close(fig)


def test_theme_is_seaborns_whitegrid_notebook() -> None:
    """The plots' style is written out (importing seaborn is slow): it must stay
    seaborn's, and the design colours its tab10 palette."""
    import seaborn as sns

    from gosim.analysis.plots import _THEME, _palette

    seaborns = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook")}
    # all but the default colour map, seaborn's own (no plot uses a default)
    assert seaborns.pop("image.cmap") == "rocket"
    assert _THEME == seaborns
    designs = [f"d{i}" for i in range(10)]
    assert list(_palette(designs).values()) == list(sns.color_palette("tab10", 10))
    assert list(_palette(designs[:3]).values()) == list(sns.color_palette("tab10", 3))
    many = [f"d{i}" for i in range(12)]
    assert list(_palette(many).values()) == list(sns.color_palette("husl", 12))


def test_tick_numbers_are_short() -> None:
    assert [_number(v) for v in (0.5, 2, 10, 500, 1000, 2000, 10_000, 200_000, 1e6, 3e7)] == [
        "0.5", "2", "10", "500", "1k", "2k", "10k", "200k", "1M", "30M"]


def test_gomaxprocs_ticks_for_long_sweeps() -> None:
    for ps, log, want in (([1, 2, 4, 8, 16, 32, 64], True, ["1", "2", "4", "8", "16", "32",
                                                             "64"]),
                          (list(range(1, 65)), True, ["1", "2", "4", "8", "16", "32", "64"]),
                          ([1, 2, 3], False, ["1", "2", "3"])):
        fig, ax = plt.subplots()
        ax.plot(ps, ps)
        _gomaxprocs_axis(ax, ps, log)
        fig.canvas.draw()
        assert [t.get_text() for t in ax.get_xticklabels()] == want
        plt.close(fig)


def test_ring_sizes() -> None:
    base, step = 6.0, 3.5
    assert _ring_sizes([10.0, 10.0, 10.2, 500.0]) == [base + 2 * step, base + step, base, base]
    assert _ring_sizes([10.0, 20.0]) == [base, base]
    assert _ring_sizes([float("nan"), 10.0]) == [base, base]
    # chained: 100 and 109 are 9% apart, but each is within 5% of 104.9
    assert _ring_sizes([109.0, 100.0, 104.9]) == [base + 2 * step, base + step, base]


def test_timeseries_plot(experiment: tuple) -> None:
    tables, meta, _ = experiment
    ts = tables["timeseries"]
    assert not ts.empty
    fig = plot_timeseries(tables, meta)
    axes = fig.axes
    assert len(axes) == 2 * len(FACETS) * 3
    assert [ax.get_title() for ax in axes[:3]] == [f"GOMAXPROCS={p}, size=48"
                                                    for p in (1, 2, 8)]
    rate_axes = [ax for ax in axes if ax.get_ylabel().startswith("allocs per")]
    heap_axes = [ax for ax in axes if ax.get_ylabel() == "heap (MiB)"]
    assert len(rate_axes) == len(heap_axes) == 6
    # one throughput line per run; two heap lines (in use, sys) per run
    runs_per_panel = ts.groupby(["workload.groups.0.size", "gomaxprocs"])["run_id"].nunique()
    assert set(runs_per_panel) == {len(DESIGNS) * 2}
    for ax in rate_axes:
        assert len(ax.lines) == len(DESIGNS) * 2
    for ax in heap_axes:
        assert len(ax.lines) == len(DESIGNS) * 2 * 2
    labels = [t.get_text() for t in _legend(fig).get_texts()]
    assert labels == [*DESIGNS, "heap in use (heap_inuse_bytes)",
                      "heap from the OS (heap_sys_bytes)"]
    plt.close(fig)


def test_timeseries_drawn_only_when_written(experiment: tuple, tmp_path: Path) -> None:
    tables, meta, results = experiment
    # the runner drew it (outputs.plots: true, the time series written)
    assert (results / "plots" / "timeseries.png").is_file()
    no_series = {**tables, "timeseries": tables["timeseries"].iloc[0:0]}
    assert plots_to_draw(list(PLOT_NAMES), tables)[-1] == "timeseries"
    assert "timeseries" not in plots_to_draw(list(PLOT_NAMES), no_series)
    assert plots_to_draw(["scaling"], tables) == ["scaling"]
    every = [*PLOT_NAMES, "timeseries"]  # however the schema lists it
    assert plots_to_draw(every, tables)[-1] == "timeseries"
    assert "timeseries" not in plots_to_draw(every, no_series)
    # asked for by name without a time series: skipped with a note
    one = {k: (v[(v["design"] == DESIGNS[0]) & (v["workload.groups.0.size"] == 48)]
               if "design" in v else v) for k, v in no_series.items()}
    written, notes = draw_plots(one, meta, tmp_path / "plots", ["scaling", "timeseries"])
    assert [p.name for p in written] == ["scaling.png"]
    assert len(notes) == 1 and notes[0].startswith("timeseries: skipped, no time series")
