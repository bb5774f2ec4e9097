"""``gosim compare A B``: two results directories side by side, as benchstat
compares two sets of Go benchmark runs (golang.org/x/perf/cmd/benchstat).

Settings are matched on the design label, GOMAXPROCS and the swept keys both
experiments share (a key only one of them sweeps must have a single value
there, else settings cannot be matched). For each matched setting and key
metric: the mean ± 95% t-CI half-width of A ("old") and of B ("new"), the
change of the mean in percent, and ``~`` instead of the change when the two
confidence intervals overlap (benchstat prints ``~`` when it finds no
significant difference). With one replication there is no CI, so the change
is shown and marked as untested.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from gosim.analysis.tables import KEY_METRICS, aggregate, is_design_key
from gosim.errors import GosimError

#: the metric of the comparison plot
PLOT_METRIC = "allocs_per_sim_second"
PLOT_FILE = "compare.png"
TABLE_FILE = "compare.csv"


class CompareError(GosimError):
    """Two results directories that cannot be compared."""


@dataclass
class Results:
    """A results directory's runs table and the manifest facts compare needs."""

    path: Path
    name: str
    runs: pd.DataFrame
    meta: dict[str, Any]


def load_results(d: Path) -> Results:
    """Read ``d/runs.parquet`` and ``d/manifest.json`` (optional)."""
    if not (d / "runs.parquet").is_file():
        raise CompareError(f"{d}: not a gosim results directory (no runs.parquet)")
    meta: dict[str, Any] = {"name": d.name, "setting_columns": [], "replications": 1}
    mpath = d / "manifest.json"
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text())
        except ValueError as e:
            raise CompareError(f"{mpath}: unreadable manifest: {e}") from None
        meta.update({k: manifest[k] for k in ("name", "description", "swept_keys",
                                              "setting_columns", "facet_keys",
                                              "replications") if k in manifest})
    try:
        runs = pd.read_parquet(d / "runs.parquet")
    except (OSError, ValueError) as e:
        raise CompareError(f"{d / 'runs.parquet'}: unreadable table: {e}") from None
    for col in ("setting_id", "design", "gomaxprocs"):
        if col not in runs.columns:
            raise CompareError(f"{d / 'runs.parquet'}: no column {col!r}")
    return Results(d, str(meta["name"]), runs, meta)


def match_keys(a: Results, b: Results) -> list[str]:
    """Columns that identify a setting in both: design, GOMAXPROCS and the shared
    swept keys (design.* keys are in the design label already)."""
    def swept(r: Results) -> set[str]:
        return {k for k in r.meta.get("setting_columns", [])
                if k in r.runs.columns and not is_design_key(k) and k != "gomaxprocs"}

    sa, sb = swept(a), swept(b)
    for only, r, other in ((sa - sb, a, b), (sb - sa, b, a)):
        for k in sorted(only):
            if r.runs[k].nunique(dropna=False) > 1:
                raise CompareError(f"{r.path} sweeps {k!r} and {other.path} does not: "
                                   "settings cannot be matched")
    return ["design", "gomaxprocs", *sorted(sa & sb)]


def compare(a: Results, b: Results) -> pd.DataFrame:
    """One row per matched setting and metric (see the module docstring)."""
    keys = match_keys(a, b)
    metrics = [m for m, *_ in KEY_METRICS if m in a.runs.columns and m in b.runs.columns]
    if not metrics:
        raise CompareError("no key metric in both results")
    ga = aggregate(a.runs, a.meta, metrics)
    gb = aggregate(b.runs, b.meta, metrics)
    for g in (ga, gb):
        for k in keys:
            g[k] = g[k].astype(str) if k not in ("gomaxprocs",) else g[k].astype(int)
    merged = ga.merge(gb, on=keys, suffixes=("_a", "_b"))
    if merged.empty:
        raise CompareError(
            f"no matching settings: {a.path} and {b.path} share no (design, GOMAXPROCS"
            + "".join(f", {k}" for k in keys[2:]) + ") values")
    rows = []
    for _, r in merged.sort_values(keys, key=_natural).iterrows():
        for m in metrics:
            ma, ca = float(r[f"{m}_mean_a"]), float(r[f"{m}_ci_a"])
            mb, cb = float(r[f"{m}_mean_b"]), float(r[f"{m}_ci_b"])
            delta = (mb - ma) / ma * 100 if ma and math.isfinite(ma) else math.nan
            tested = math.isfinite(ca) and math.isfinite(cb)
            overlap = tested and (ma - ca) <= (mb + cb) and (mb - cb) <= (ma + ca)
            rows.append({**{k: r[k] for k in keys}, "metric": m,
                         "n_a": int(r["n_a"]), "mean_a": ma, "ci_a": ca,
                         "n_b": int(r["n_b"]), "mean_b": mb, "ci_b": cb,
                         "delta_percent": delta, "ci_overlap": overlap if tested else None})
    return pd.DataFrame(rows)


def _natural(col: pd.Series) -> pd.Series:
    return col if col.name == "gomaxprocs" else col.astype(str)


def delta_text(row: pd.Series | dict[str, Any]) -> str:
    """``~`` when the CIs overlap, else the change; ``(no CI)`` without replications."""
    if row["ci_overlap"] is True:
        return "~"
    d = row["delta_percent"]
    if not math.isfinite(d):
        return "—"
    text = f"{d:+.1f}%" if abs(d) < 1000 else f"{d:+.0f}%"
    return text if row["ci_overlap"] is False else f"{text} (no CI)"


def plot_compare(table: pd.DataFrame, a: Results, b: Results) -> Any:
    """Throughput vs GOMAXPROCS, A solid and B dashed, one colour per design,
    95% CI bands; a panel per combination of the other shared swept keys."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = table[table["metric"] == PLOT_METRIC]
    others = [c for c in t.columns if c not in (
        "design", "gomaxprocs", "metric", "n_a", "mean_a", "ci_a", "n_b", "mean_b", "ci_b",
        "delta_percent", "ci_overlap")]
    panels = list(t.groupby(others, sort=True)) if others else [((), t)]
    n = len(panels)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.9 * nrows), squeeze=False)
    designs = sorted(t["design"].unique())
    colours = {d: plt.get_cmap("tab10")(i % 10) for i, d in enumerate(designs)}
    for ax, (key, df) in zip(axes.flat, panels, strict=False):
        for d in designs:
            g = df[df["design"] == d].sort_values("gomaxprocs")
            if g.empty:
                continue
            x = g["gomaxprocs"].to_numpy()
            for side, style, face, who in (("a", "-", None, a.name),
                                           ("b", "--", "white", b.name)):
                y = g[f"mean_{side}"].to_numpy() / 1e6
                ci = g[f"ci_{side}"].fillna(0).to_numpy() / 1e6
                ax.plot(x, y, style, marker="o", color=colours[d], markerfacecolor=face,
                        label=f"{d} ({side.upper()}: {who})")
                ax.fill_between(x, y - ci, y + ci, color=colours[d], alpha=0.15, linewidth=0)
        if others:
            key = key if isinstance(key, tuple) else (key,)
            ax.set_title(", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(others, key,
                                                                              strict=True)))
        ax.set_xlabel("GOMAXPROCS")
        ax.set_ylabel("allocations per simulated second (M)")
        ax.set_xticks(sorted(df["gomaxprocs"].unique()))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(4, len(labels)),
               bbox_to_anchor=(0.5, 1.0 + 0.06 * math.ceil(len(labels) / 4) / nrows),
               fontsize=8, frameon=False)
    fig.suptitle(f"A = {a.path} (solid) vs B = {b.path} (dashed), mean ± 95% CI",
                 y=1.0 + 0.06 * (1 + math.ceil(len(labels) / 4)) / nrows, fontsize=10)
    fig.tight_layout()
    return fig
