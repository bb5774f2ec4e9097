"""The standard plots of an experiment (matplotlib Agg + seaborn).

- ``scaling.png``: allocations per simulated second vs GOMAXPROCS, one line
  per design, 95% t confidence bands across replications, and each design's
  ideal linear scaling (dashed) extrapolated from its smallest-GOMAXPROCS
  value. Skipped (with a note) when the sweep has a single GOMAXPROCS.
- ``p_time.png``: share of all P time by category, stacked bars: every
  category the simulator reports (gosim.sim.metrics: fast path, slow path,
  lock-free span-set operations, waiting on and holding each lock kind,
  work, scheduler, idle) has its own legend entry and a fixed colour
  (:data:`P_TIME_COLOURS`), the same in every experiment.
- ``lock_heatmap.png``: share of P time spent waiting for each lock (rows:
  ``mheap``, ``global``, one row per span class's ``mcentral`` lock or span
  set) x GOMAXPROCS, one panel per design. Skipped when no run took a lock.
- ``latency_ecdf.png``: malloc latency ECDF from the pooled histogram, on a
  logit y axis so that p50, p99 and p99.9 (marked) are all readable; panels
  for the smallest, a middle and the largest GOMAXPROCS. Markers of several
  designs at the same point are drawn as concentric rings.
- ``flow.png``: the allocation flow (gosim.analysis.flow) of one run per
  design (and facet), the one with the most Ps: goroutine groups -> P caches
  -> mcentral per span class -> mheap -> OS, edge width by bytes, colour by
  the share of P time waiting on the target's lock; idle span classes
  collapsed into a count, the busiest classes kept and the rest merged.
- ``timeseries.png``: allocation throughput and heap in use / heap obtained
  from the OS (``heap_inuse_bytes``, ``heap_sys_bytes``) over simulated time,
  one line per replication, when the experiment wrote ``timeseries.parquet``.

Swept keys other than the design and GOMAXPROCS (object size, say) become
separate panels ("facets"); a plot with one panel has no panel title.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch

from gosim.analysis.flow import plot_flow

# the plot files and the drawing of a set of them (see that module)
from gosim.analysis.plotjobs import (  # noqa: F401  (re-exported)
    PLOT_FILES,
    PLOT_ORDER,
    PLOT_TABLES,
    draw_plots,
    plots_to_draw,
    start_plots,
)
from gosim.analysis.tables import (
    aggregate,
    ecdf_curve,
    facet_keys,
    facet_label,
    histogram_quantile,
    latency_cdf,
    lock_table,
    ok_runs,
    p_time_category_order,
    p_time_label,
    p_time_shares,
)

_MAX_HEATMAP_ROWS = 16

#: Fixed colour of each P-time category (gosim.sim.metrics names), so that a
#: category looks the same in every experiment: waits are reds, holds
#: purples, the lock-free span-set operations orange.
P_TIME_COLOURS: dict[str, str] = {
    "fast_path": "#2ca02c",
    "slow_path": "#1f77b4",
    "atomic": "#ff7f0e",
    "wait:mheap": "#d62728",
    "wait:mcentral": "#fb9a99",
    "wait:global": "#67000d",
    "hold:mheap": "#6a3d9a",
    "hold:mcentral": "#b39ddb",
    "hold:global": "#e7298a",
    "wait:gcbits": "#fdae6b",
    "hold:gcbits": "#9e9ac8",
    "wait:sched": "#cb181d",
    "hold:sched": "#54278f",
    "wait:assistqueue": "#ef3b2c",
    "hold:assistqueue": "#807dba",
    # the collector (runtime/metrics /cpu/classes/gc/*, /cpu/classes/scavenge/*): blues
    "gc:pause": "#08306b",
    "gc:dedicated": "#2171b5",
    "gc:assist": "#6baed6",
    "gc:idle": "#c6dbef",
    "scavenge": "#17becf",
    "pagefault": "#bcbd22",
    "work": "#8c8c8c",
    "sched": "#8c564b",
    "idle": "#e5e5e5",
}
_EXTRA_COLOURS = ("#17becf", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39",
                  "#7b4173", "#3182bd", "#e6550d", "#31a354")


def p_time_colour(category: str) -> str:
    """The fixed colour of a P-time category; a category not in
    :data:`P_TIME_COLOURS` gets one chosen by a hash of its name (stable
    across experiments and Python processes)."""
    if category in P_TIME_COLOURS:
        return P_TIME_COLOURS[category]
    return _EXTRA_COLOURS[zlib.crc32(category.encode()) % len(_EXTRA_COLOURS)]


def draw_plot(name: str, tables: dict[str, pd.DataFrame], meta: dict[str, Any],
              path: Path) -> str | None:
    """Draw plot ``name`` into ``path``: None, or the note saying why not (a
    broken plot must not lose the results). A top-level function, so that an
    output pool's workers can run it (gosim/runner/outpool.py)."""
    try:
        fig_or_note = _DRAW[name](tables, meta)
    except Exception as e:
        return f"plot failed ({type(e).__name__}: {e})"
    if isinstance(fig_or_note, str):
        return fig_or_note
    save_tight(fig_or_note, path)
    plt.close(fig_or_note)
    return None


#: the PNGs' resolution
DPI = 110


def save_tight(fig: Any, path: Path, dpi: float = DPI) -> None:
    """``fig.savefig(path, dpi=dpi, bbox_inches="tight")``, the same PNG pixel
    for pixel (checked on every plot of configs/scaling.yaml) with fewer layout
    passes. savefig with a "tight" box first draws the whole figure without
    rendering it to measure its extent, and a figure with a layout engine
    (``constrained``) lays itself out again at every draw; each pass recomputes
    every tick and tick label, the bulk of the time of these plots. Here the
    engine, if any, runs once and is then dropped, the tight box is measured
    once at the output resolution, and savefig, given that box, only renders."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    fig.set_dpi(dpi)  # measure text as it will be rendered
    engine = fig.get_layout_engine()
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
        engine.execute(fig)
    fig.set_layout_engine(None)  # (a placeholder left by tight_layout would also draw)
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    fig.savefig(path, dpi=dpi,
                bbox_inches=box.padded(matplotlib.rcParams["savefig.pad_inches"]))


# ---------------------------------------------------------------- helpers

#: ``{**sns.axes_style("whitegrid"), **sns.plotting_context("notebook")}``
#: (seaborn 0.13), written out: importing seaborn takes 0.5 s (it imports
#: scipy.stats), in each process that draws, and only the lock heatmap needs
#: it (its colour map); tests/test_plots.py checks this against seaborn's.
#: All but the default colour map (``image.cmap: rocket``), which exists only
#: once seaborn is imported; every plot names the colour map it uses.
_THEME: dict[str, Any] = {
    # axes_style("whitegrid")
    "figure.facecolor": "white", "axes.labelcolor": ".15", "xtick.direction": "out",
    "ytick.direction": "out", "xtick.color": ".15", "ytick.color": ".15",
    "axes.axisbelow": True, "grid.linestyle": "-", "text.color": ".15",
    "font.family": ["sans-serif"],
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans",
                        "sans-serif"],
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True,
    "xtick.top": False, "ytick.right": False, "axes.grid": True,
    "axes.facecolor": "white", "axes.edgecolor": ".8", "grid.color": ".8",
    "axes.spines.left": True, "axes.spines.bottom": True, "axes.spines.right": True,
    "axes.spines.top": True, "xtick.bottom": False, "ytick.left": False,
    # plotting_context("notebook")
    "axes.linewidth": 1.25, "grid.linewidth": 1, "lines.linewidth": 1.5,
    "lines.markersize": 6, "patch.linewidth": 1, "xtick.major.width": 1.25,
    "ytick.major.width": 1.25, "xtick.minor.width": 1, "ytick.minor.width": 1,
    "xtick.major.size": 6, "ytick.major.size": 6, "xtick.minor.size": 4,
    "ytick.minor.size": 4, "font.size": 12, "axes.labelsize": 12, "axes.titlesize": 12,
    "xtick.labelsize": 11, "ytick.labelsize": 11, "legend.fontsize": 11,
    "legend.title_fontsize": 12,
}


def _themed(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Draw under seaborn's whitegrid/notebook style (:data:`_THEME`) without
    changing the caller's matplotlib settings (the same look however a plot
    is called)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with plt.rc_context(_THEME):
            return fn(*args, **kwargs)
    return wrapper


def _designs(df: pd.DataFrame) -> list[str]:
    """Designs in sweep order (first appearance by setting_id)."""
    return list(dict.fromkeys(df.sort_values("setting_id")["design"]))


def _palette(designs: list[str]) -> dict[str, Any]:
    """A colour per design: seaborn's "tab10" palette (matplotlib's tab10
    colours, taken from matplotlib: see :data:`_THEME`), its "husl" for more
    than ten designs."""
    if len(designs) <= 10:
        return dict(zip(designs, matplotlib.colormaps["tab10"].colors, strict=False))
    import seaborn as sns

    return dict(zip(designs, sns.color_palette("husl", n_colors=len(designs)), strict=True))


def _facets(df: pd.DataFrame, meta: dict[str, Any]) -> list[tuple[str, pd.DataFrame]]:
    keys = [k for k in facet_keys(meta) if k in df.columns]
    if not keys:
        return [("", df)]
    out = []
    for _, g in df.sort_values("setting_id").groupby(keys, sort=False, dropna=False):
        out.append((facet_label(g.iloc[0], keys), g))
    return out


def _grid(n: int, ncols_max: int = 3, size: tuple[float, float] = (5.0, 3.8),
          sharey: bool = False) -> tuple[Any, list[Any]]:
    ncols = min(n, ncols_max)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False, sharey=sharey)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _title(meta: dict[str, Any], what: str) -> str:
    name = meta.get("name")
    return f"{name}: {what}" if name else what


def _number(v: float, _pos: Any = None) -> str:
    """A short tick label without exponents: 0.5, 2, 10, 500, 1k, 20k, 1M."""
    if v <= 0 or not math.isfinite(v):
        return ""
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _gomaxprocs_axis(ax: Any, ps: list[int], log: bool) -> None:
    """GOMAXPROCS on x with plain labels: a tick at every value swept (log2
    spacing when the sweep spans a factor of 8 or more); with more than nine
    values, ticks at the powers of two (log) or whole numbers (linear) only."""
    if log:
        ax.set_xscale("log", base=2)
    ticks = [float(p) for p in ps]
    if len(ps) > 9:
        if log:
            ticks = [2.0 ** k for k in range(math.ceil(math.log2(min(ps))),
                                             math.floor(math.log2(max(ps))) + 1)]
        else:
            ticks = list(ticker.MaxNLocator(nbins=9, integer=True).tick_values(min(ps),
                                                                               max(ps)))
            ticks = [t for t in ticks if min(ps) <= t <= max(ps)]
    ax.xaxis.set_major_locator(ticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(ticker.FixedFormatter([f"{t:g}" for t in ticks]))
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.set_xlabel("GOMAXPROCS")


def _minor_ticks_show(axis: Any) -> bool:
    """Whether minor ticks would show on ``axis`` under the current rcParams:
    a tick mark on either side, or minor grid lines. Under the seaborn
    whitegrid style of these plots (:func:`_themed`) neither is drawn."""
    rc = matplotlib.rcParams
    sides = ("bottom", "top") if axis.axis_name == "x" else ("left", "right")
    marks = any(rc[f"{axis.axis_name}tick.{s}"] and rc[f"{axis.axis_name}tick.minor.{s}"]
                for s in sides)
    return marks or (rc["axes.grid"] and rc["axes.grid.which"] in ("minor", "both"))


def _readable_log_axis(axis: Any, lo: float, hi: float) -> None:
    """Log ticks with plain-number labels: 1-2-5 per decade over at most three
    decades, every decade beyond that; unlabelled minor ticks in between where
    the style shows them (not under :func:`_themed`'s: there the minor ticks
    would be invisible, and each tick is laid out at every draw)."""
    decades = math.log10(hi / lo) if lo > 0 and hi > lo else 0.0
    subs = (1.0, 2.0, 5.0) if decades <= 3 else (1.0,)
    axis.set_major_locator(ticker.LogLocator(base=10, subs=subs, numticks=12))
    axis.set_major_formatter(ticker.FuncFormatter(_number))
    if _minor_ticks_show(axis):
        axis.set_minor_locator(ticker.LogLocator(base=10, subs=np.arange(2, 10), numticks=12))
    else:
        axis.set_minor_locator(ticker.NullLocator())
    axis.set_minor_formatter(ticker.NullFormatter())


def _wrap_design(label: str) -> str:
    """``go1.27+page_cache=True`` -> two lines, split before each override."""
    return label.replace("+", "\n+").replace(",", ",\n")


# ---------------------------------------------------------------- (a) scaling

@_themed
def plot_scaling(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Any:
    runs = tables["runs"]
    metric = "allocs_per_sim_second"
    if metric not in runs.columns:
        return f"skipped, runs have no {metric!r} metric"
    ps = sorted(int(p) for p in ok_runs(runs)["gomaxprocs"].unique())
    if len(ps) < 2:
        return (f"skipped, only one GOMAXPROCS value ({ps[0] if ps else '-'}); "
                "sweep 'gomaxprocs' to see scaling")
    agg = aggregate(ok_runs(runs), meta, [metric])
    agg = agg[agg["n"] > 0]
    designs = _designs(agg)
    pal = _palette(designs)
    facets = _facets(agg, meta)
    fig, axes = _grid(len(facets))
    log = max(ps) / min(ps) >= 8
    for ax, (label, g) in zip(axes, facets, strict=True):
        ys: list[np.ndarray] = []
        for d in designs:
            s = g[g["design"] == d].sort_values("gomaxprocs")
            if s.empty:
                continue
            x = s["gomaxprocs"].to_numpy(float)
            y = s[f"{metric}_mean"].to_numpy(float) / 1e6
            lo = s[f"{metric}_lo"].to_numpy(float) / 1e6
            hi = s[f"{metric}_hi"].to_numpy(float) / 1e6
            ideal = y[0] * x / x[0]
            ax.plot(x, y, marker="o", color=pal[d], label=d)
            ok = np.isfinite(lo) & np.isfinite(hi)
            if ok.any():
                ax.fill_between(x[ok], lo[ok], hi[ok], color=pal[d], alpha=0.2, linewidth=0)
            ax.plot(x, ideal, linestyle="--", color=pal[d], alpha=0.6, linewidth=1)
            ys += [y, ideal]
        _gomaxprocs_axis(ax, ps, log)
        if log:
            ax.set_yscale("log")
            v = np.concatenate(ys)
            v = v[np.isfinite(v) & (v > 0)]
            if v.size:
                # the CI bands may reach 0: keep the axis on the means
                ax.set_ylim(v.min() / 1.3, v.max() * 1.3)
                _readable_log_axis(ax.yaxis, v.min() / 1.3, v.max() * 1.3)
        else:
            ax.set_ylim(bottom=0)
        ax.set_ylabel("allocations per simulated second (M)")
        if label:
            ax.set_title(label)
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], linestyle="--", color="grey"))
    labels.append("ideal linear scaling")
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5),
               fontsize="small")
    band = "95% CI bands" if int(agg["n"].max()) > 1 else "one replication: no CI"
    fig.suptitle(_title(meta, f"allocation throughput vs GOMAXPROCS ({band}"
                              f"{', log-log' if log else ''})"))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- (b) P time

def _stacked_bars(ax: Any, x: np.ndarray, height: np.ndarray, bottom: np.ndarray,
                  width: float, color: str, label: str) -> PolyCollection:
    """``ax.bar(x, height, bottom=bottom, width=width, color=color, label=label,
    edgecolor="white", linewidth=0.3)`` drawn as one collection of rectangles:
    the same bars, but ax.bar adds a patch per bar and updates the data limits
    for each (a third of the time of p_time.png, ~2,900 bars, on
    configs/scaling.yaml). The caller sets both axis limits."""
    x0, x1, y0, y1 = x - width / 2, x + width / 2, bottom, bottom + height
    corners = np.stack([np.column_stack(c) for c in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))],
                       axis=1)
    bars = PolyCollection(list(corners), facecolors=color, edgecolors="white", linewidths=0.3,
                          label=label)
    ax.add_collection(bars, autolim=False)
    return bars


@_themed
def plot_p_time(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Any:
    p_time = tables.get("p_time", pd.DataFrame())
    if p_time.empty:
        return "skipped, no P-time rows"
    shares = p_time_shares(p_time, meta)
    present = shares.groupby("category")["share"].max()
    categories = p_time_category_order([c for c, v in present.items() if v > 0])
    facets = _facets(shares, meta)
    designs = _designs(shares)
    n_bars = max(g["setting_id"].nunique() for _, g in facets)
    bars_per_design = max(g.groupby("design")["setting_id"].nunique().min() for _, g in facets)
    # a design's label (wrapped at each override) must fit under its bars
    label_in = max(len(line) for d in designs for line in _wrap_design(d).split("\n")) * 0.075
    label_lines = max(_wrap_design(d).count("\n") + 1 for d in designs)
    bar_in = max(0.3, (label_in + 0.15) / max(bars_per_design, 1))
    gap = 0.8
    width = max(4.0, bar_in * (n_bars + gap * len(designs)) + 1.2)
    ncols = 2 if width <= 9 else 1
    fig, axes = _grid(len(facets), ncols_max=ncols, size=(width, 4.4), sharey=True)
    for ax, (label, g) in zip(axes, facets, strict=True):
        wide = g.pivot_table(index=["setting_id", "design", "gomaxprocs"], columns="category",
                             values="share", fill_value=0.0).reset_index()
        wide["_d"] = wide["design"].map({d: i for i, d in enumerate(designs)})
        wide = wide.sort_values(["_d", "gomaxprocs", "setting_id"]).reset_index(drop=True)
        # bars grouped by design, a gap between designs
        x = wide.index.to_numpy(float) + gap * wide["_d"].to_numpy(float)
        bottom = np.zeros(len(wide))
        for cat in categories:
            if cat not in wide:
                continue
            v = wide[cat].to_numpy(float) * 100
            _stacked_bars(ax, x, v, bottom, width=0.85, color=p_time_colour(cat),
                          label=p_time_label(cat))
            bottom += v
        ax.set_xticks(x)
        ax.set_xticklabels([str(p) for p in wide["gomaxprocs"]], fontsize="x-small")
        ax.set_xlim(float(x.min()) - 0.6, float(x.max()) + 0.6)
        for d in designs:
            xs = x[(wide["design"] == d).to_numpy()]
            if not xs.size:
                continue
            ax.text(float(xs.mean()), -0.1, _wrap_design(d),
                    transform=ax.get_xaxis_transform(), ha="center", va="top",
                    fontsize="small", gid=f"design-label:{d}")
        ax.set_xlabel("GOMAXPROCS, by design", labelpad=8 + 13 * label_lines)
        ax.set_ylim(0, 100)
        ax.set_ylabel("share of P time (%)")
        if label:
            ax.set_title(label)
        ax.grid(axis="x", visible=False)
    # one legend entry per category, top of the stack first
    handles = [Patch(facecolor=p_time_colour(c), edgecolor="white", label=p_time_label(c))
               for c in reversed(categories)]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5),
               fontsize="small", title="P time")
    fig.suptitle(_title(meta, "where the Ps' time goes (mean over replications)"))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- (c) lock heatmap

def _lock_sort_key(row: pd.Series) -> tuple[int, int, str]:
    spc = row.get("span_class", -1)
    spc = -1 if spc is None or (isinstance(spc, float) and math.isnan(spc)) else int(spc)
    return (0 if spc < 0 else 1, spc, str(row["lock"]))


def _lock_label(row: pd.Series) -> str:
    spc = row.get("span_class", -1)
    if spc is None or (isinstance(spc, float) and math.isnan(spc)) or int(spc) < 0:
        return str(row["lock"])
    sc = row.get("size_class")
    kind = row.get("kind", "")
    noscan = " noscan" if int(spc) % 2 == 1 else ""
    sc_part = f" class {int(sc)}" if sc is not None and not pd.isna(sc) else ""
    return f"{kind} spc {int(spc)}{sc_part}{noscan}"


def _heatmap(ax: Any, grid: pd.DataFrame, vmax: float) -> Any:
    """Cells coloured by value (0..vmax) and annotated with it (one decimal),
    a labelled tick for every row and every column."""
    import seaborn  # noqa: F401  (registers its colour maps: "rocket_r")

    values = grid.to_numpy(float)
    mesh = ax.pcolormesh(np.ma.masked_invalid(values), cmap="rocket_r", vmin=0, vmax=vmax,
                         edgecolors="white", linewidth=0.5)
    if values.size <= 120:
        for (i, j), v in np.ndenumerate(values):
            if math.isfinite(v):
                dark = v > 0.6 * vmax
                # clipped to the axes, which hold every cell: the layout (each
                # pass of the constrained layout, the tight box) then skips the
                # ~500 labels of configs/scaling.yaml instead of measuring each
                ax.text(j + 0.5, i + 0.5, f"{v:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black", clip_on=True)
    ax.set_xticks(np.arange(values.shape[1]) + 0.5, [str(c) for c in grid.columns])
    ax.set_yticks(np.arange(values.shape[0]) + 0.5, [str(r) for r in grid.index], fontsize=7)
    ax.set_xlim(0, values.shape[1])
    ax.set_ylim(values.shape[0], 0)  # first row at the top
    ax.grid(False)
    ax.tick_params(length=0)
    return mesh


@_themed
def plot_lock_heatmap(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Any:
    locks = tables.get("locks", pd.DataFrame())
    if locks.empty:
        return "skipped, no run took a lock"
    lt = lock_table(locks, tables["runs"], meta)
    if lt.empty or lt["wait_share"].isna().all():
        return "skipped, no lock wait data"
    lt = lt.copy()
    lt["wait_pct"] = lt["wait_share"] * 100
    lt["row"] = lt.apply(_lock_label, axis=1)
    lt["_order"] = lt.apply(_lock_sort_key, axis=1)
    lt["_forder"] = 0
    for i, (label, g) in enumerate(_facets(lt, meta)):
        lt.loc[g.index, "_forder"] = i
        if label:
            lt.loc[g.index, "row"] = label + " · " + lt.loc[g.index, "row"]
    designs = _designs(lt)
    vmax = max(float(lt["wait_pct"].max()), 1e-9)
    n_cols = lt["gomaxprocs"].nunique()
    n_rows = min(lt.groupby("design")["row"].nunique().max(), _MAX_HEATMAP_ROWS)
    label_in = 0.065 * max(len(r) for r in lt["row"])
    ncols = 2 if len(designs) == 4 else min(len(designs), 3)
    nrows = math.ceil(len(designs) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(ncols * (label_in + 1.5 + 0.55 * n_cols) + 1.2,
                                      max(3.4, nrows * (1.6 + 0.34 * n_rows))))
    flat = list(axes.flat)
    for ax in flat[len(designs):]:
        ax.set_visible(False)
    truncated = False
    mappable = None
    for ax, d in zip(flat, designs, strict=False):
        g = lt[lt["design"] == d]
        order = g.drop_duplicates("row").sort_values(["_forder", "_order"])
        rows = order["row"].tolist()
        if len(rows) > _MAX_HEATMAP_ROWS:
            top = set(g.groupby("row")["wait_pct"].max().nlargest(_MAX_HEATMAP_ROWS).index)
            rows = [r for r in rows if r in top]
            truncated = True
        grid = g.pivot_table(index="row", columns="gomaxprocs", values="wait_pct",
                             aggfunc="mean").reindex(rows)
        # every row and column labelled, however short the panel
        mesh = _heatmap(ax, grid, vmax)
        mappable = mesh
        ax.set_xlabel("GOMAXPROCS")
        ax.set_ylabel("")
        ax.set_title(d, fontsize="medium")
    fig.set_layout_engine("constrained")
    if mappable is not None:
        fig.colorbar(mappable, ax=flat[:len(designs)], shrink=0.8,
                     label="% of P time waiting for the lock")
    what = "share of P time spent waiting for each lock"
    if truncated:
        what += f" (top {_MAX_HEATMAP_ROWS} locks per design)"
    fig.suptitle(_title(meta, what))
    return fig


# ---------------------------------------------------------------- (d) latency ECDF

_QUANTILES = ((0.5, "p50", "o"), (0.99, "p99", "s"), (0.999, "p99.9", "^"))
_ECDF_TICKS = (0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999)
_MARKER_SIZE = 6.0
_RING_STEP = 3.5


def _pick(values: list[int]) -> list[int]:
    """Smallest, a middle and the largest value."""
    v = sorted(set(values))
    if len(v) <= 3:
        return v
    return [v[0], v[len(v) // 2], v[-1]]


def _ring_sizes(xs: list[float]) -> list[float]:
    """Marker sizes for quantile markers at ``xs`` (one per design, same y).
    Markers less than 5% apart (in x) are chained into one cluster, whose
    markers get distinct sizes, the first design's largest, so that they show
    as concentric rings; a marker alone keeps the base size."""
    finite = sorted((x, i) for i, x in enumerate(xs) if math.isfinite(x) and x > 0)
    clusters: list[list[int]] = []
    prev = math.nan
    for x, i in finite:
        if clusters and x / prev < 1.05:
            clusters[-1].append(i)
        else:
            clusters.append([i])
        prev = x
    sizes = [_MARKER_SIZE] * len(xs)
    for c in clusters:
        for rank, i in enumerate(sorted(c)):
            sizes[i] = _MARKER_SIZE + _RING_STEP * (len(c) - 1 - rank)
    return sizes


@_themed
def plot_latency_ecdf(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Any:
    latency = tables.get("latency", pd.DataFrame())
    if latency.empty:
        return "skipped, no latency histograms"
    keys = latency.drop_duplicates("setting_id")
    designs = _designs(keys)
    pal = _palette(designs)
    ps = _pick([int(p) for p in keys["gomaxprocs"].unique()])
    # the ECDFs of the settings drawn only (pooling 1.3M rows of
    # configs/scaling.yaml was half the plot's time); the x range spans every
    # setting's bins, as pooling keeps every bin
    cdf = latency_cdf(latency, keys.loc[keys["gomaxprocs"].isin(ps), "setting_id"].tolist())
    facets = _facets(keys, meta)
    panels = [(label, p, g[g["gomaxprocs"] == p]) for label, g in facets for p in ps]
    panels = [x for x in panels if not x[2].empty]
    fig, axes = _grid(len(panels), ncols_max=len(ps), size=(4.8, 3.8))
    lo_all = max(float(latency.loc[latency["hi_ns"] > 0, "hi_ns"].min()) / 2, 0.5)
    hi_all = float(latency["hi_ns"].max()) * 1.5
    by_setting = {sid: d for sid, d in cdf.groupby("setting_id", sort=False)}
    for ax, (label, p, g) in zip(axes, panels, strict=True):
        rows = [r for _, r in g.sort_values("setting_id").iterrows()
                if r["setting_id"] in by_setting]
        curves = {r["setting_id"]: by_setting[r["setting_id"]] for r in rows}
        for r in rows:
            x, y = ecdf_curve(curves[r["setting_id"]])
            ax.plot(np.maximum(x, lo_all), y, color=pal[r["design"]], label=r["design"],
                    linewidth=1.4)
        for q, name, marker in _QUANTILES:
            xs = [max(histogram_quantile(curves[r["setting_id"]], q), lo_all) for r in rows]
            for r, xq, size in zip(rows, xs, _ring_sizes(xs), strict=True):
                ax.plot([xq], [q], marker=marker, markersize=size, linestyle="none",
                        color=pal[r["design"]], markeredgecolor="black", markeredgewidth=0.5,
                        zorder=3 + 10 / size, gid=f"{name}:{r['design']}")
        ax.set_xscale("log")
        ax.set_xlim(lo_all, hi_all)
        _readable_log_axis(ax.xaxis, lo_all, hi_all)
        ax.set_yscale("logit", nonpositive="clip")
        ax.set_ylim(0.005, 0.99995)
        ax.yaxis.set_major_locator(ticker.FixedLocator(list(_ECDF_TICKS)))
        ax.yaxis.set_major_formatter(ticker.FixedFormatter([f"{t * 100:g}%"
                                                            for t in _ECDF_TICKS]))
        ax.yaxis.set_minor_locator(ticker.NullLocator())
        ax.set_xlabel("malloc latency (ns)")
        ax.set_ylabel("allocations at or below (logit)")
        ax.set_title(f"GOMAXPROCS={p}" + (f", {label}" if label else ""), fontsize="small")
    uniq: dict[str, Any] = {d: plt.Line2D([], [], color=pal[d], linewidth=1.4)
                            for d in designs}
    for _q, name, marker in _QUANTILES:
        uniq[name] = plt.Line2D([], [], marker=marker, color="grey", linestyle="none",
                                markeredgecolor="black", markeredgewidth=0.5)
    fig.legend(list(uniq.values()), list(uniq.keys()), loc="center left",
               bbox_to_anchor=(1.0, 0.5), fontsize="small")
    fig.suptitle(_title(meta, "malloc latency ECDF (pooled replications; "
                              "markers at one point drawn as rings)"))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- (e) time series

def _heap_axis(ax: Any, values: list[pd.Series]) -> None:
    """Linear from 0, or log when heap in use is tiny next to heap_sys (a
    64 MiB arena holding a few pages) so that both stay readable."""
    v = pd.concat(values).to_numpy(float) if values else np.zeros(0)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size and v.max() / v.min() > 20:
        ax.set_yscale("log")
        ax.set_ylim(v.min() / 1.5, v.max() * 1.5)
        _readable_log_axis(ax.yaxis, v.min() / 1.5, v.max() * 1.5)
    else:
        ax.set_ylim(bottom=0)


def _warmup_ns(runs: pd.DataFrame, setting_ids: pd.Series) -> float:
    """The longest warm-up (``warmup_ns``) of the runs of these settings."""
    if "warmup_ns" not in runs:
        return 0.0
    w = pd.to_numeric(runs.loc[runs["setting_id"].isin(setting_ids), "warmup_ns"],
                      errors="coerce")
    return float(w.max()) if w.notna().any() else 0.0


@_themed
def plot_timeseries(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Any:
    ts = tables.get("timeseries", pd.DataFrame())
    if ts.empty:
        return ("skipped, no time series (set scenario.timeseries_interval_ns and "
                "outputs.timeseries)")
    keys = ts.drop_duplicates("setting_id")
    designs = _designs(keys)
    pal = _palette(designs)
    ps = _pick([int(p) for p in keys["gomaxprocs"].unique()])
    facets = _facets(keys, meta)
    t_max = float(ts["t_end_ns"].max())
    unit, scale = ("ms", 1e6) if t_max >= 2e6 else ("µs", 1e3)
    fig, axes = plt.subplots(2 * len(facets), len(ps), squeeze=False, sharex="col",
                             figsize=(4.8 * len(ps), 2.8 * 2 * len(facets)))
    for fi, (label, g) in enumerate(facets):
        for pi, p in enumerate(ps):
            ax_rate, ax_heap = axes[2 * fi][pi], axes[2 * fi + 1][pi]
            sids = g.loc[g["gomaxprocs"] == p, "setting_id"]
            heap_mib: list[pd.Series] = []
            for sid in sids:
                s = ts[ts["setting_id"] == sid]
                d = str(s["design"].iloc[0])
                for _, r in s.groupby("run_id", sort=True):
                    r = r.sort_values("t_ns")
                    mid = (r["t_ns"].to_numpy(float) + r["t_end_ns"].to_numpy(float)) / 2
                    ax_rate.plot(mid / scale, r["allocs_per_sim_second"] / 1e6, color=pal[d],
                                 linewidth=1, alpha=0.8)
                    # heap counters are as of each interval's end
                    end = r["t_end_ns"].to_numpy(float) / scale
                    ax_heap.plot(end, r["heap_inuse_bytes"] / 2**20, color=pal[d],
                                 linewidth=1, alpha=0.8)
                    ax_heap.plot(end, r["heap_sys_bytes"] / 2**20, color=pal[d],
                                 linewidth=1, alpha=0.8, linestyle="--")
                    heap_mib += [r["heap_inuse_bytes"] / 2**20, r["heap_sys_bytes"] / 2**20]
            warm = _warmup_ns(tables["runs"], sids)
            if warm > 0:
                for ax in (ax_rate, ax_heap):
                    ax.axvspan(0, warm / scale, color="#dddddd", alpha=0.6, linewidth=0,
                               zorder=0)
            where = f"GOMAXPROCS={p}" + (f", {label}" if label else "")
            ax_rate.set_title(where, fontsize="small")
            ax_rate.set_ylabel("allocs per sim-s (M)")
            ax_rate.set_ylim(bottom=0)
            ax_heap.set_ylabel("heap (MiB)")
            _heap_axis(ax_heap, heap_mib)
            ax_heap.set_xlabel(f"simulated time ({unit})")
    handles: list[Any] = [plt.Line2D([], [], color=pal[d]) for d in designs]
    labels = list(designs)
    handles += [plt.Line2D([], [], color="grey"), plt.Line2D([], [], color="grey",
                                                             linestyle="--")]
    labels += ["heap in use (heap_inuse_bytes)", "heap from the OS (heap_sys_bytes)"]
    if any(_warmup_ns(tables["runs"], g["setting_id"]) > 0 for _, g in facets):
        handles.append(Patch(facecolor="#dddddd", alpha=0.6))
        labels.append("warm-up (longest of the runs; dropped from throughput)")
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5),
               fontsize="small")
    fig.suptitle(_title(meta, "throughput and heap over simulated time "
                              "(one line per replication)"))
    fig.tight_layout()
    return fig


_DRAW = {"scaling": plot_scaling, "p_time": plot_p_time, "lock_heatmap": plot_lock_heatmap,
         "latency_ecdf": plot_latency_ecdf, "flow": plot_flow, "timeseries": plot_timeseries}
