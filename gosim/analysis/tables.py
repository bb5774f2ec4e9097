"""Tidy per-setting tables from the per-run tables.

A *setting* is one combination of swept values (``setting_id``); its rows
are its replications. Means come with t-based confidence intervals across
replications (gosim.analysis.stats). Failed runs have NaN metrics and are
left out of every mean (and counted in ``n_failed``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gosim.analysis.stats import t_confidence_interval

#: (metric, short label, unit scale, unit) shown in summaries
KEY_METRICS: tuple[tuple[str, str, float, str], ...] = (
    ("allocs_per_sim_second", "allocs/sim-s", 1e6, "M"),
    ("malloc_latency_p50_ns", "p50 ns", 1.0, ""),
    ("malloc_latency_p99_ns", "p99 ns", 1.0, ""),
    ("lock_free_fraction", "lock-free", 1.0, ""),
    ("heap_inuse_bytes", "heap inuse", 2.0**20, "MiB"),
)

_DESIGN_PREFIXES = ("design",)


def is_design_key(key: str) -> bool:
    return key == "design" or key.startswith("design.")


def facet_keys(meta: dict[str, Any]) -> list[str]:
    """Swept keys other than the design, GOMAXPROCS and the seed: plot facets.

    The runner records them in the manifest (``facet_keys``, which also leaves
    out keys zipped with GOMAXPROCS or the design); this is the fallback."""
    if "facet_keys" in meta:
        return list(meta["facet_keys"])
    return [k for k in meta.get("setting_columns", [])
            if not is_design_key(k) and k not in ("gomaxprocs", "seed")]


def setting_keys(meta: dict[str, Any]) -> list[str]:
    """Columns that identify (and describe) a setting."""
    return ["setting_id", "design", "gomaxprocs", *[
        k for k in meta.get("setting_columns", []) if k not in ("design", "gomaxprocs")]]


def facet_label(row: pd.Series | dict[str, Any], keys: list[str]) -> str:
    from gosim.config import short_key

    if not keys:
        return ""
    return ", ".join(f"{short_key(k)}={row[k]}" for k in keys)


def setting_label(row: pd.Series | dict[str, Any], meta: dict[str, Any]) -> str:
    parts = [str(row["design"]), f"P={row['gomaxprocs']}"]
    f = facet_label(row, facet_keys(meta))
    return " ".join(parts) + (f" {f}" if f else "")


def ok_runs(runs: pd.DataFrame) -> pd.DataFrame:
    if "error" not in runs.columns:
        return runs
    return runs[runs["error"].isna()]


def aggregate(runs: pd.DataFrame, meta: dict[str, Any], metrics: list[str] | None = None,
              confidence: float = 0.95) -> pd.DataFrame:
    """One row per setting: ``n``, ``n_failed`` and, per metric, ``<m>_mean``,
    ``<m>_ci`` (half width), ``<m>_lo``, ``<m>_hi``."""
    if metrics is None:
        metrics = [m for m, *_ in KEY_METRICS if m in runs.columns]
    keys = [k for k in setting_keys(meta) if k in runs.columns]
    rows = []
    for _, g in runs.groupby("setting_id", sort=True, dropna=False):
        first = g.iloc[0]
        row: dict[str, Any] = {k: first[k] for k in keys}
        ok = ok_runs(g)
        row["n"] = len(ok)
        row["n_failed"] = len(g) - len(ok)
        for m in metrics:
            vals = pd.to_numeric(ok[m], errors="coerce") if m in ok else pd.Series(dtype=float)
            ci = t_confidence_interval(vals.to_numpy(dtype=float), confidence)
            row[f"{m}_mean"] = ci.mean
            row[f"{m}_ci"] = ci.half_width
            row[f"{m}_lo"] = ci.low
            row[f"{m}_hi"] = ci.high
        rows.append(row)
    return pd.DataFrame(rows)


def p_time_group(category: str) -> str:
    """Plot group of a P-time category."""
    if category == "fast_path":
        return "fast path"
    if category == "slow_path":
        return "slow path"
    if category.startswith("wait:"):
        return f"wait: {category[5:]}"
    if category.startswith("hold:"):
        return "holding locks"
    if category == "work":
        return "work"
    return "other"


def p_time_shares(p_time: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """Per setting and group: mean (over replications) share of all P time."""
    if p_time.empty:
        return pd.DataFrame(columns=["setting_id", "group", "share"])
    df = p_time.copy()
    df["group"] = df["category"].map(p_time_group)
    per_run = df.groupby(["run_id", "setting_id", "group"], as_index=False)["ns"].sum()
    per_run["share"] = per_run["ns"] / per_run.groupby("run_id")["ns"].transform("sum")
    # a group absent in one replication counts as zero there
    full = per_run.pivot_table(index=["setting_id", "run_id"], columns="group", values="share",
                               fill_value=0.0)
    mean = full.groupby(level="setting_id").mean()
    out = mean.reset_index().melt(id_vars="setting_id", var_name="group", value_name="share")
    keys = [k for k in setting_keys(meta) if k in p_time.columns]
    first = p_time.drop_duplicates("setting_id")[keys]
    return out.merge(first, on="setting_id", how="left")


def lock_table(locks: pd.DataFrame, runs: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """Per setting and lock: means over replications of the lock statistics and
    ``wait_share`` = wait time / all P time (sim_time_ns x GOMAXPROCS)."""
    if locks.empty:
        return pd.DataFrame()
    df = locks.copy()
    if "sim_time_ns" in runs.columns:
        span = runs.set_index("run_id")["sim_time_ns"].astype(float) * runs.set_index(
            "run_id")["gomaxprocs"].astype(float)
        df["wait_share"] = df["wait_total_ns"].astype(float) / df["run_id"].map(span)
    else:
        df["wait_share"] = np.nan
    stats = [c for c in ("acquisitions", "contended", "wait_mean_ns", "wait_p99_ns",
                         "hold_mean_ns", "utilisation", "max_waiters", "wait_total_ns",
                         "wait_share") if c in df.columns]
    keys = [k for k in setting_keys(meta) if k in df.columns]
    by = ["setting_id", "lock"]
    agg = df.groupby(by, as_index=False)[stats].mean(numeric_only=True)
    firsts = df.drop_duplicates(by)[by + [c for c in ("kind", "span_class", "size_class")
                                          if c in df.columns]]
    agg = agg.merge(firsts, on=by)
    first = df.drop_duplicates("setting_id")[keys]
    return agg.merge(first, on="setting_id", how="left")


def busiest_locks(lock_tab: pd.DataFrame) -> pd.DataFrame:
    """Per setting, the lock with the highest mean utilisation."""
    if lock_tab.empty or "utilisation" not in lock_tab:
        return pd.DataFrame(columns=["setting_id", "lock", "utilisation", "wait_share"])
    idx = lock_tab.groupby("setting_id")["utilisation"].idxmax().dropna()
    return lock_tab.loc[idx, ["setting_id", "lock", "utilisation", "wait_share"]].reset_index(
        drop=True)


def latency_cdf(latency: pd.DataFrame, setting_ids: list[int] | None = None) -> pd.DataFrame:
    """Pooled (over replications) malloc latency ECDF per setting: columns
    ``setting_id``, ``lo_ns``, ``hi_ns``, ``count``, ``cdf`` (share at or below hi_ns)."""
    if latency.empty:
        return pd.DataFrame(columns=["setting_id", "lo_ns", "hi_ns", "count", "cdf"])
    df = latency if setting_ids is None else latency[latency["setting_id"].isin(setting_ids)]
    pooled = df.groupby(["setting_id", "lo_ns", "hi_ns"], as_index=False)["count"].sum()
    pooled = pooled.sort_values(["setting_id", "hi_ns", "lo_ns"])
    tot = pooled.groupby("setting_id")["count"].transform("sum")
    pooled["cdf"] = pooled.groupby("setting_id")["count"].cumsum() / tot
    return pooled.reset_index(drop=True)


def ecdf_curve(cdf: pd.DataFrame, points_per_bin: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """One setting's ECDF as a polyline: a vertical step at an exact-value bin
    (``lo_ns == hi_ns``), values spread uniformly within a wider bin (drawn
    densely so that the curve stays true on log x / logit y axes)."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    prev = 0.0
    for lo, hi, c in zip(cdf["lo_ns"].to_numpy(float), cdf["hi_ns"].to_numpy(float),
                         cdf["cdf"].to_numpy(float), strict=True):
        lo_edge = max(lo, 0.5)
        if hi <= lo_edge:  # an exact value: a vertical step
            x = np.array([lo_edge, lo_edge])
            frac = np.array([0.0, 1.0])
        else:
            x = np.geomspace(lo_edge, hi, points_per_bin)
            frac = (x - lo_edge) / (x[-1] - lo_edge)
        xs.append(x)
        ys.append(prev + frac * (c - prev))
        prev = c
    if not xs:
        return np.array([]), np.array([])
    return np.concatenate(xs), np.concatenate(ys)


def histogram_quantile(cdf: pd.DataFrame, q: float) -> float:
    """The q-quantile of one setting's binned latency, assuming values spread
    uniformly within a bin (linear interpolation of the ECDF)."""
    prev = 0.0
    for lo, hi, c in zip(cdf["lo_ns"].to_numpy(float), cdf["hi_ns"].to_numpy(float),
                         cdf["cdf"].to_numpy(float), strict=True):
        if c >= q - 1e-12:
            if c <= prev:
                return float(lo)
            return float(lo + (hi - lo) * (q - prev) / (c - prev))
        prev = c
    return float("nan")
