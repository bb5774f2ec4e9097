"""``summary.md``: a short human-readable account of an experiment's results.

Per setting: mean ± 95% t confidence half-width (across replications) of the
key metrics, and the busiest lock; per design: the speed-up from the
smallest to the largest GOMAXPROCS against linear scaling.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from gosim.analysis.tables import (
    KEY_METRICS,
    aggregate,
    busiest_locks,
    facet_keys,
    facet_label,
    lock_table,
    ok_runs,
)


def _num(x: float, sig: str = ".3g") -> str:
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:{sig}}"


def _fmt(mean: float, ci: float, scale: float = 1.0) -> str:
    """``mean ± half-width``; just the mean when there is no spread or no CI."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    m = mean / scale
    if ci is None or math.isnan(ci) or ci == 0:
        return _num(m)
    return f"{_num(m)} ± {_num(ci / scale, '.2g')}"


#: the metrics of the terminal table (summary.md has all of KEY_METRICS)
COMPACT_METRICS = ("allocs_per_sim_second", "malloc_latency_p99_ns")


def summary_table(tables: dict[str, pd.DataFrame], meta: dict[str, Any],
                  compact: bool = False) -> pd.DataFrame:
    """One row per setting with formatted key metrics (for summary.md and, with
    ``compact``, for the terminal)."""
    runs = tables["runs"]
    if runs.empty:
        return pd.DataFrame()
    metrics = [m for m, *_ in KEY_METRICS if m in runs.columns
               and (not compact or m in COMPACT_METRICS)]
    agg = aggregate(runs, meta, metrics)
    fkeys = [k for k in facet_keys(meta) if k in agg.columns]
    busiest = busiest_locks(lock_table(tables.get("locks", pd.DataFrame()), runs, meta))
    busiest = busiest.set_index("setting_id") if not busiest.empty else busiest
    rows = []
    for _, r in agg.iterrows():
        row: dict[str, Any] = {"design": r["design"],
                               "P" if compact else "GOMAXPROCS": int(r["gomaxprocs"])}
        if fkeys:
            row["setting"] = facet_label(r, fkeys)
        n_ok, n_bad = int(r["n"]), int(r["n_failed"])
        row["n"] = f"{n_ok} ({n_bad} failed)" if n_bad else n_ok
        for m, label, scale, unit in KEY_METRICS:
            if m in metrics:
                head = f"{label} ({unit})" if unit else label
                row[head] = _fmt(r[f"{m}_mean"], r[f"{m}_ci"], scale)
        if not busiest.empty and r["setting_id"] in busiest.index:
            b = busiest.loc[r["setting_id"]]
            ws = b["wait_share"]
            if compact:
                row["busiest lock (util, wait)"] = (
                    f"{b['lock']}: {b['utilisation']:.0%}"
                    + (f", {ws:.0%}" if not pd.isna(ws) else ""))
            else:
                row["busiest lock"] = (
                    f"{b['lock']} (util {b['utilisation']:.0%}"
                    + (f", wait {ws:.1%} of P time)" if not pd.isna(ws) else ")"))
        rows.append(row)
    df = pd.DataFrame(rows)
    if compact and (agg["n_failed"] == 0).all() and agg["n"].nunique() == 1:
        df = df.drop(columns="n")  # every setting has all its replications
    return df


def scaling_lines(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> list[str]:
    """"go1.12 (size=48): 8 Ps give 3.1x the throughput of 1 (39% of linear)"."""
    runs = ok_runs(tables["runs"])
    metric = "allocs_per_sim_second"
    if runs.empty or metric not in runs or runs["gomaxprocs"].nunique() < 2:
        return []
    agg = aggregate(runs, meta, [metric])
    fkeys = [k for k in facet_keys(meta) if k in agg.columns]
    out = []
    group_cols = ["design", *fkeys]
    for _, g in agg.groupby(group_cols, sort=False, dropna=False):
        g = g.sort_values("gomaxprocs")
        if len(g) < 2:
            continue
        lo, hi = g.iloc[0], g.iloc[-1]
        if not lo[f"{metric}_mean"] or math.isnan(lo[f"{metric}_mean"]):
            continue
        speedup = hi[f"{metric}_mean"] / lo[f"{metric}_mean"]
        ideal = hi["gomaxprocs"] / lo["gomaxprocs"]
        where = f" ({facet_label(lo, fkeys)})" if fkeys else ""
        out.append(f"{lo['design']}{where}: GOMAXPROCS {int(hi['gomaxprocs'])} gives "
                   f"{speedup:.2f}x the throughput of GOMAXPROCS {int(lo['gomaxprocs'])} "
                   f"({speedup / ideal:.0%} of linear scaling)")
    return out


def _markdown_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def render_summary(tables: dict[str, pd.DataFrame], meta: dict[str, Any],
                   notes: list[str]) -> str:
    reps = meta.get("replications", 1)
    lines = [f"# {meta.get('name', 'experiment')}", ""]
    if meta.get("description"):
        lines += [str(meta["description"]).strip(), ""]
    if "runs" in meta:
        lines += [f"{meta['runs']} runs ({meta['settings']} settings x {reps} replications): "
                  f"{meta['ran']} ran, {meta['cached']} reused from the run cache, "
                  f"{meta['failed']} failed. Wall time {meta['wall_time_s']:.1f} s.", ""]
    table = summary_table(tables, meta)
    if not table.empty:
        ci = "mean ± 95% t-CI half-width" if reps > 1 else "one replication, no CI"
        lines += [f"## Per setting ({ci})", "", _markdown_table(table), ""]
    scaling = scaling_lines(tables, meta)
    if scaling:
        lines += ["## Scaling", ""] + [f"- {s}" for s in scaling] + [""]
    runs = tables["runs"]
    if "error" in runs and runs["error"].notna().any():
        lines += ["## Failed runs", ""]
        for _, r in runs[runs["error"].notna()].iterrows():
            lines.append(f"- run {r['run_id']} ({r['design']}, P={r['gomaxprocs']}, "
                         f"replication {r['replication']}): {r['error']}")
        lines.append("")
    ok = ok_runs(runs)
    if "warmup_ns" in ok and (pd.to_numeric(ok["warmup_ns"], errors="coerce") > 0).any():
        w = pd.to_numeric(ok["warmup_ns"], errors="coerce")
        notes = [f"warm-up dropped from time-based metrics (scenario.warmup): "
                 f"{int(w.min()):,} to {int(w.max()):,} ns of simulated time per run "
                 f"(column warmup_ns)", *notes]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    ts = "`timeseries.parquet`, " if not tables.get("timeseries", pd.DataFrame()).empty else ""
    lines += ["Files: `runs.parquet` (one row per run), `locks.parquet`, `p_time.parquet`, "
              f"`latency.parquet`, `by_size.parquet`, {ts}`manifest.json`, `plots/`.", ""]
    return "\n".join(lines)


def write_summary(path: Path, tables: dict[str, pd.DataFrame], meta: dict[str, Any],
                  notes: list[str]) -> None:
    from gosim.atomic_write import write_text_atomic

    write_text_atomic(path, render_summary(tables, meta, notes))
