"""The standard plots of an experiment (matplotlib Agg + seaborn).

- ``scaling.png``: allocations per simulated second vs GOMAXPROCS, one line
  per design, 95% t confidence bands across replications, and each design's
  ideal linear scaling (dashed) extrapolated from its smallest-GOMAXPROCS
  value. Skipped (with a note) when the sweep has a single GOMAXPROCS.
- ``p_time.png``: share of all P time by category (fast path, slow path,
  waiting on each lock kind, holding locks, work, other), stacked bars.
- ``lock_heatmap.png``: share of P time spent waiting for each lock (rows:
  ``mheap``, ``global``, one row per span class's ``mcentral``) x GOMAXPROCS,
  one panel per design. Skipped when no run took a lock.
- ``latency_ecdf.png``: malloc latency ECDF from the pooled histogram, on a
  logit y axis so that p50, p99 and p99.9 (marked) are all readable; panels
  for the smallest, a middle and the largest GOMAXPROCS.

Swept keys other than the design and GOMAXPROCS (object size, say) become
separate panels ("facets").
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from gosim.analysis.tables import (  # noqa: E402
    aggregate,
    ecdf_curve,
    facet_keys,
    facet_label,
    histogram_quantile,
    latency_cdf,
    lock_table,
    ok_runs,
    p_time_shares,
)

PLOT_FILES = {"scaling": "scaling.png", "p_time": "p_time.png",
              "lock_heatmap": "lock_heatmap.png", "latency_ecdf": "latency_ecdf.png"}
_MAX_HEATMAP_ROWS = 16


def draw_plots(tables: dict[str, pd.DataFrame], meta: dict[str, Any], plots_dir: Path,
               which: list[str], keep_others: bool = False) -> tuple[list[Path], list[str]]:
    """Draw the plots named in ``which`` into ``plots_dir`` (replaced atomically).

    Returns the files written and notes on plots skipped. Other files in an
    old ``plots_dir`` are dropped (they would not match the new results)
    unless ``keep_others``; with nothing to draw, an old ``plots_dir`` is removed.
    """
    from gosim.atomic_write import atomic_dir

    notes: list[str] = []
    runs = tables.get("runs", pd.DataFrame())
    if not which:
        if plots_dir.exists():
            import shutil

            shutil.rmtree(plots_dir)
        return [], ["plots: not drawn (turned off)"]
    if runs.empty or ok_runs(runs).empty:
        return [], ["plots: skipped, no run succeeded"]
    written: list[str] = []
    sns.set_theme(style="whitegrid", context="notebook")
    with atomic_dir(plots_dir) as tmp:
        if keep_others and plots_dir.is_dir():
            import shutil

            for f in plots_dir.iterdir():
                if f.is_file() and f.name not in {PLOT_FILES[w] for w in which}:
                    shutil.copy2(f, tmp / f.name)
        for name in which:
            fn = _DRAW[name]
            try:
                fig_or_note = fn(tables, meta)
            except Exception as e:  # a broken plot must not lose the results
                notes.append(f"{name}: plot failed ({type(e).__name__}: {e})")
                continue
            if isinstance(fig_or_note, str):
                notes.append(f"{name}: {fig_or_note}")
                continue
            fig_or_note.savefig(tmp / PLOT_FILES[name], dpi=110, bbox_inches="tight")
            plt.close(fig_or_note)
            written.append(PLOT_FILES[name])
    plt.close("all")
    return [plots_dir / w for w in written], notes


# ---------------------------------------------------------------- helpers

def _designs(df: pd.DataFrame) -> list[str]:
    """Designs in sweep order (first appearance by setting_id)."""
    return list(dict.fromkeys(df.sort_values("setting_id")["design"]))


def _palette(designs: list[str]) -> dict[str, Any]:
    name = "tab10" if len(designs) <= 10 else "husl"
    return dict(zip(designs, sns.color_palette(name, n_colors=max(len(designs), 1)),
                    strict=False))


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
    return f"{meta.get('name', '')}: {what}"


# ---------------------------------------------------------------- (a) scaling

def plot_scaling(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Any:
    runs = tables["runs"]
    metric = "allocs_per_sim_second"
    if metric not in runs.columns:
        return f"skipped, runs have no {metric!r} metric"
    ps = sorted(ok_runs(runs)["gomaxprocs"].unique())
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
        for d in designs:
            s = g[g["design"] == d].sort_values("gomaxprocs")
            if s.empty:
                continue
            x = s["gomaxprocs"].to_numpy(float)
            y = s[f"{metric}_mean"].to_numpy(float) / 1e6
            lo = s[f"{metric}_lo"].to_numpy(float) / 1e6
            hi = s[f"{metric}_hi"].to_numpy(float) / 1e6
            ax.plot(x, y, marker="o", color=pal[d], label=d)
            ok = np.isfinite(lo) & np.isfinite(hi)
            if ok.any():
                ax.fill_between(x[ok], lo[ok], hi[ok], color=pal[d], alpha=0.2, linewidth=0)
            ax.plot(x, y[0] * x / x[0], linestyle="--", color=pal[d], alpha=0.6, linewidth=1)
        if log:
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
        ax.set_xticks(ps)
        ax.set_xticklabels([str(p) for p in ps])
        ax.minorticks_off() if log else None
        ax.set_xlabel("GOMAXPROCS")
        ax.set_ylabel("allocations per simulated second (M)")
        ax.set_title(label or "all")
    axes[0].plot([], [], linestyle="--", color="grey", label="ideal linear scaling")
    axes[0].legend(fontsize="small")
    band = "95% CI bands" if int(agg["n"].max()) > 1 else "one replication: no CI"
    fig.suptitle(_title(meta, f"allocation throughput vs GOMAXPROCS ({band}"
                              f"{', log-log' if log else ''})"))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- (b) P time

_GROUP_ORDER = ["fast path", "slow path"]


def _group_order(groups: list[str]) -> list[str]:
    waits = sorted(g for g in groups if g.startswith("wait: "))
    order = _GROUP_ORDER + waits + ["holding locks", "work", "other"]
    return [g for g in order if g in groups] + sorted(set(groups) - set(order))


def _group_colours(groups: list[str]) -> dict[str, Any]:
    waits = [g for g in groups if g.startswith("wait: ")]
    reds = sns.color_palette("Reds_r", n_colors=max(len(waits), 1) + 1)
    base = {"fast path": "#2ca02c", "slow path": "#1f77b4", "holding locks": "#9467bd",
            "work": "#8c8c8c", "other": "#d9d9d9"}
    out = {g: base.get(g) for g in groups}
    for i, g in enumerate(waits):
        out[g] = reds[i]
    return out


def plot_p_time(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Any:
    p_time = tables.get("p_time", pd.DataFrame())
    if p_time.empty:
        return "skipped, no P-time rows"
    shares = p_time_shares(p_time, meta)
    groups = _group_order(list(shares["group"].unique()))
    colours = _group_colours(groups)
    facets = _facets(shares, meta)
    designs = _designs(shares)
    n_bars = max(g["setting_id"].nunique() for _, g in facets)
    width = max(4.0, 0.32 * n_bars + 0.5 * len(designs) + 1.5)
    fig, axes = _grid(len(facets), ncols_max=2 if n_bars <= 16 else 1,
                      size=(width, 4.0), sharey=True)
    for ax, (label, g) in zip(axes, facets, strict=True):
        wide = g.pivot_table(index=["setting_id", "design", "gomaxprocs"], columns="group",
                             values="share", fill_value=0.0).reset_index()
        wide["_d"] = wide["design"].map({d: i for i, d in enumerate(designs)})
        wide = wide.sort_values(["_d", "gomaxprocs", "setting_id"]).reset_index(drop=True)
        # bars grouped by design, a gap between designs
        x = wide.index.to_numpy(float) + 0.8 * wide["_d"].to_numpy(float)
        bottom = np.zeros(len(wide))
        for grp in groups:
            if grp not in wide:
                continue
            v = wide[grp].to_numpy(float) * 100
            ax.bar(x, v, bottom=bottom, color=colours[grp], label=grp, width=0.85,
                   edgecolor="white", linewidth=0.3)
            bottom += v
        ax.set_xticks(x)
        ax.set_xticklabels([str(p) for p in wide["gomaxprocs"]], fontsize="x-small")
        for d, xs in pd.Series(x).groupby(wide["design"]):
            ax.text(float(xs.mean()), -0.13, d, transform=ax.get_xaxis_transform(),
                    ha="center", va="top", fontsize="small")
        ax.set_xlabel("GOMAXPROCS, by design", labelpad=24)
        ax.set_ylim(0, 100)
        ax.set_ylabel("share of P time (%)")
        ax.set_title(label or "all")
        ax.grid(axis="x", visible=False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
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
    lt["_facet"] = ""
    facets = _facets(lt, meta)
    for i, (label, g) in enumerate(facets):
        lt.loc[g.index, "_facet"] = label
        lt.loc[g.index, "_forder"] = i
        if label:
            lt.loc[g.index, "row"] = label + " · " + lt.loc[g.index, "row"]
    if "_forder" not in lt:
        lt["_forder"] = 0
    designs = _designs(lt)
    vmax = max(float(lt["wait_pct"].max()), 1e-9)
    n_cols = lt["gomaxprocs"].nunique()
    n_rows = min(lt.groupby("design")["row"].nunique().max(), _MAX_HEATMAP_ROWS)
    ncols = 2 if len(designs) == 4 else min(len(designs), 3)
    nrows = math.ceil(len(designs) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                             figsize=(ncols * (4.5 + 0.45 * n_cols),
                                      nrows * (2.0 + 0.35 * n_rows)))
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
        sns.heatmap(grid, ax=ax, annot=grid.size <= 120, fmt=".1f", cmap="rocket_r", vmin=0,
                    vmax=vmax, cbar=False, annot_kws={"fontsize": 7}, linewidths=0.5,
                    linecolor="white")
        mappable = ax.collections[0]
        ax.set_xlabel("GOMAXPROCS")
        ax.set_ylabel("")
        ax.set_title(d, fontsize="medium")
        ax.tick_params(axis="y", labelsize=7, rotation=0)
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


def _pick(values: list[int]) -> list[int]:
    """Smallest, a middle and the largest value."""
    v = sorted(set(values))
    if len(v) <= 3:
        return v
    return [v[0], v[len(v) // 2], v[-1]]


def plot_latency_ecdf(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Any:
    latency = tables.get("latency", pd.DataFrame())
    if latency.empty:
        return "skipped, no latency histograms"
    cdf = latency_cdf(latency)
    keys = latency.drop_duplicates("setting_id")
    designs = _designs(keys)
    pal = _palette(designs)
    ps = _pick([int(p) for p in keys["gomaxprocs"].unique()])
    facets = _facets(keys, meta)
    panels = [(label, p, g[g["gomaxprocs"] == p]) for label, g in facets for p in ps]
    panels = [x for x in panels if not x[2].empty]
    fig, axes = _grid(len(panels), ncols_max=len(ps), size=(4.8, 3.8))
    lo_all = max(float(cdf.loc[cdf["hi_ns"] > 0, "hi_ns"].min()) / 2, 0.5)
    for ax, (label, p, g) in zip(axes, panels, strict=True):
        for _, row in g.sort_values("setting_id").iterrows():
            c = cdf[cdf["setting_id"] == row["setting_id"]]
            if c.empty:
                continue
            x, y = ecdf_curve(c)
            x = np.maximum(x, lo_all)
            colour = pal[row["design"]]
            ax.plot(x, y, color=colour, label=row["design"], linewidth=1.4)
            for q, _name, marker in _QUANTILES:
                ax.plot([histogram_quantile(c, q)], [q], marker=marker, color=colour,
                        markersize=6, linestyle="none", markeredgecolor="black",
                        markeredgewidth=0.5)
        ax.set_xscale("log")
        ax.set_yscale("logit", nonpositive="clip")
        ax.set_ylim(0.01, 0.9999)
        ax.set_xlabel("malloc latency (ns)")
        ax.set_ylabel("ECDF (logit scale)")
        ax.set_title(f"P={p}" + (f", {label}" if label else ""), fontsize="small")
    handles, labels = axes[0].get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    for _q, name, marker in _QUANTILES:
        uniq[name] = plt.Line2D([], [], marker=marker, color="grey", linestyle="none",
                                markeredgecolor="black", markeredgewidth=0.5)
    fig.legend(list(uniq.values()), list(uniq.keys()), loc="center left",
               bbox_to_anchor=(1.0, 0.5), fontsize="small")
    fig.suptitle(_title(meta, "malloc latency ECDF (pooled replications)"))
    fig.tight_layout()
    return fig


_DRAW = {"scaling": plot_scaling, "p_time": plot_p_time, "lock_heatmap": plot_lock_heatmap,
         "latency_ecdf": plot_latency_ecdf}
