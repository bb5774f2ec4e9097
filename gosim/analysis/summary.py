"""``summary.md``: a short human-readable account of an experiment's results.

Per setting: mean ± 95% t confidence half-width (across replications) of the
key metrics, rounded to the precision the half-width allows, and the busiest
lock (the largest share of P time spent waiting on it); per design: the
speed-up from the smallest to the largest GOMAXPROCS against linear scaling.
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


def _num(x: float) -> str:
    """Three significant digits without exponent; whole numbers from 100 up."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    out = f"{x:.3g}"
    return _fixed(x, 2 - math.floor(math.log10(abs(x)))) if "e" in out else out


def format_mean_ci(mean: float | None, ci: float | None, scale: float = 1.0) -> str:
    """``mean ± half-width``, both rounded to the precision the half-width
    allows (its second significant digit): ``13.90 ± 0.29``, ``820 ± 230``.
    The mean alone when there is no CI (as measured: three significant digits,
    whole numbers from 100 up) or when the half-width is below the mean's
    fourth significant digit (to four significant digits, exact trailing zeros
    dropped: ``0.998 ± 3.4e-16`` -> ``0.998``, ``0.99996 ± 1e-6`` -> ``1.0000``,
    ``102,618 ± 20`` -> ``102,600``)."""
    if mean is None or not math.isfinite(mean):
        return "—"
    m = mean / scale
    if ci is None or not math.isfinite(ci) or ci == 0 or m == 0:
        return _num(m)
    c = abs(ci) / scale
    decimals = 1 - math.floor(math.log10(c))  # the half-width's 2nd significant digit
    fourth = 3 - math.floor(math.log10(abs(m)))  # the mean's 4th significant digit
    if decimals > fourth:
        out = _fixed(m, fourth)
        exact = math.isclose(m, round(m, fourth), rel_tol=1e-9)
        # trailing zeros go only where they are exact: 0.998000 -> 0.998, but
        # 0.99996 -> 1.0000 (not 1)
        return out.rstrip("0").rstrip(".") if exact and "." in out else out
    return f"{_fixed(m, decimals)} ± {_fixed(c, decimals)}"


def _fixed(x: float, decimals: int) -> str:
    """``x`` rounded to ``decimals`` places (negative: to tens, hundreds...)."""
    if decimals > 0:
        return f"{round(x, decimals):,.{decimals}f}"
    return f"{round(x, decimals):,.0f}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


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
    has_locks = not busiest.empty
    busiest = busiest.set_index("setting_id")
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
                row[head] = format_mean_ci(r[f"{m}_mean"], r[f"{m}_ci"], scale)
        if has_locks:
            head = "busiest lock (wait, util)" if compact else "busiest lock"
            row[head] = _busiest_text(busiest, r["setting_id"], compact)
        rows.append(row)
    df = pd.DataFrame(rows)
    if compact and (agg["n_failed"] == 0).all() and agg["n"].nunique() == 1:
        df = df.drop(columns="n")  # every setting has all its replications
    return df


def _share(x: float) -> str:
    """A share of time as a percentage: one decimal, and no NaN."""
    return f"{0.0 if pd.isna(x) else x:.1%}"


def _busiest_text(busiest: pd.DataFrame, setting_id: int, compact: bool) -> str:
    """The lock whose waits take the largest share of P time, with that share
    and the lock's utilisation (share of run time it was held or, for a span
    set, busy)."""
    if setting_id not in busiest.index:
        return "none taken"
    b = busiest.loc[setting_id]
    util = b["utilisation"] if "utilisation" in b else float("nan")
    u = "—" if pd.isna(util) else f"{util:.0%}"
    if compact:
        return f"{b['lock']}: {_share(b['wait_share'])}, {u}"
    return f"{b['lock']} (wait {_share(b['wait_share'])} of P time, util {u})"


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
        lines += [f"{_plural(meta['runs'], 'run')} ({_plural(meta['settings'], 'setting')} x "
                  f"{_plural(reps, 'replication')}): "
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
