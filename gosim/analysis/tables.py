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


def wait_shares(run: pd.Series) -> dict[str, float]:
    """Lock kind -> share of P time waiting on it, for one row of runs.parquet
    (its ``p_time_share_wait_<kind>`` columns; NaN: no such lock in that run)."""
    pre = "p_time_share_wait_"
    return {k[len(pre):]: float(v) for k, v in run.items()
            if isinstance(k, str) and k.startswith(pre) and v == v}


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


#: lock kinds in the order P-time categories list them (gosim.runtime: Mutex and
#: AtomicCell kinds)
LOCK_KIND_ORDER = ("mheap", "mcentral", "global")
_LOCK_KIND_LABEL = {"mheap": "mheap.lock", "mcentral": "mcentral.lock",
                    "global": "global malloc lock", "gcbits": "gcBitsArenas.lock",
                    "sched": "sched.lock (stop-the-world)",
                    "assistqueue": "assistQueue.lock"}
_FIXED_LABELS = {"fast_path": "fast path (mcache)", "slow_path": "slow path (outside locks)",
                 "atomic": "atomics (span sets, heapLive)", "work": "work",
                 "sched": "scheduler", "idle": "idle",
                 "gc:pause": "GC: stop-the-world", "gc:dedicated": "GC: mark workers",
                 "gc:assist": "GC: mark assists", "gc:idle": "GC: idle marking",
                 "scavenge": "scavenger", "pagefault": "page faults (kernel)"}


def _kind_rank(kind: str) -> tuple[int, str]:
    return (LOCK_KIND_ORDER.index(kind) if kind in LOCK_KIND_ORDER else len(LOCK_KIND_ORDER),
            kind)


def p_time_category_order(categories: list[str] | set[str]) -> list[str]:
    """P-time categories (gosim.sim.metrics) in a fixed order: fast path, slow
    path, span-set ops, waits per lock kind, holds per lock kind, work,
    scheduler, idle, then any other category by name."""
    cats = set(categories)
    waits = sorted((c for c in cats if c.startswith("wait:")), key=lambda c: _kind_rank(c[5:]))
    holds = sorted((c for c in cats if c.startswith("hold:")), key=lambda c: _kind_rank(c[5:]))
    order = ["fast_path", "slow_path", "atomic", *waits, *holds, "work", "sched", "idle"]
    return [c for c in order if c in cats] + sorted(cats - set(order))


def p_time_label(category: str) -> str:
    """Legend label of a P-time category: ``wait:mheap`` -> ``wait: mheap.lock``."""
    if category in _FIXED_LABELS:
        return _FIXED_LABELS[category]
    for prefix in ("wait:", "hold:"):
        if category.startswith(prefix):
            kind = category[len(prefix):]
            return f"{prefix[:-1]}: {_LOCK_KIND_LABEL.get(kind, kind)}"
    return category


def p_time_shares(p_time: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """Per setting and P-time category: mean (over replications) share of all
    P time (the sum over Ps of each category / the sum over Ps of all)."""
    if p_time.empty:
        return pd.DataFrame(columns=["setting_id", "category", "share"])
    per_run = p_time.groupby(["run_id", "setting_id", "category"], as_index=False)["ns"].sum()
    per_run["share"] = per_run["ns"] / per_run.groupby("run_id")["ns"].transform("sum")
    # a category absent in one replication counts as zero there
    full = per_run.pivot_table(index=["setting_id", "run_id"], columns="category",
                               values="share", fill_value=0.0)
    mean = full.groupby(level="setting_id").mean()
    out = mean.reset_index().melt(id_vars="setting_id", var_name="category",
                                  value_name="share")
    keys = [k for k in setting_keys(meta) if k in p_time.columns]
    first = p_time.drop_duplicates("setting_id")[keys]
    return out.merge(first, on="setting_id", how="left")


_LOCK_TOTALS = ("acquisitions", "contended", "utilisation", "max_waiters", "wait_total_ns",
                "wait_share")
_LOCK_PER_ACQUISITION = ("wait_mean_ns", "wait_p99_ns", "hold_mean_ns")


def lock_table(locks: pd.DataFrame, runs: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """Per setting and lock: means over replications of the lock statistics and
    ``wait_share`` = wait time / all P time (sim_time_ns x GOMAXPROCS); 0 when
    nothing waited. A replication where the lock was never touched has no row:
    it counts as zero in the means of totals (acquisitions, utilisation, wait
    share...) and is left out of per-acquisition means (wait_mean_ns...)."""
    if locks.empty:
        return pd.DataFrame()
    df = locks.copy()
    wait = df["wait_total_ns"].astype(float)
    if "sim_time_ns" in runs.columns:
        r = runs.set_index("run_id")
        span = r["sim_time_ns"].astype(float) * r["gomaxprocs"].astype(float)
        share = wait / df["run_id"].map(span)
        df["wait_share"] = share.where(wait > 0, 0.0)
    else:
        df["wait_share"] = np.where(wait > 0, np.nan, 0.0)
    keys = [k for k in setting_keys(meta) if k in df.columns]
    by = ["setting_id", "lock"]
    # totals: a replication without the lock's row adds zero; per-acquisition
    # statistics: the mean over the replications that acquired it
    totals = [c for c in _LOCK_TOTALS if c in df.columns]
    per_acq = [c for c in _LOCK_PER_ACQUISITION if c in df.columns]
    sums = df.groupby(by, as_index=False)[totals].sum(numeric_only=True)
    agg = sums[by].merge(df.groupby(by, as_index=False)[per_acq].mean(numeric_only=True),
                         on=by) if per_acq else sums[by].copy()
    present = df.groupby(by)["run_id"].nunique().to_numpy(float)
    n_reps = ok_runs(runs).groupby("setting_id")["run_id"].nunique() if not runs.empty \
        else pd.Series(dtype=float)
    n = sums["setting_id"].map(n_reps).to_numpy(float)
    n = np.where(np.isnan(n) | (n < present), present, n)
    for c in totals:
        agg[c] = sums[c].to_numpy(float) / n
    firsts = df.drop_duplicates(by)[by + [c for c in ("kind", "span_class", "size_class")
                                          if c in df.columns]]
    agg = agg.merge(firsts, on=by)
    first = df.drop_duplicates("setting_id")[keys]
    return agg.merge(first, on="setting_id", how="left")


def busiest_locks(lock_tab: pd.DataFrame) -> pd.DataFrame:
    """Per setting, the lock whose waits take the largest share of P time
    (ties, e.g. nothing waited, broken by utilisation)."""
    cols = ["setting_id", "lock", "kind", "utilisation", "wait_share"]
    if lock_tab.empty or "wait_share" not in lock_tab:
        return pd.DataFrame(columns=cols)
    df = lock_tab.assign(_u=lock_tab.get("utilisation", 0.0)).sort_values(
        ["setting_id", "wait_share", "_u", "lock"], ascending=[True, False, False, True],
        na_position="last")
    out = df.drop_duplicates("setting_id")
    return out[[c for c in cols if c in out.columns]].reset_index(drop=True)


def latency_cdf(latency: pd.DataFrame, setting_ids: list[int] | None = None) -> pd.DataFrame:
    """Pooled (over replications) malloc latency ECDF per setting: columns
    ``setting_id``, ``lo_ns``, ``hi_ns``, ``count``, ``cdf`` (share at or below hi_ns)."""
    if latency.empty:
        return pd.DataFrame(columns=["setting_id", "lo_ns", "hi_ns", "count", "cdf"])
    # the four columns pooled only, before any row is selected (the table has
    # 14 columns, 1.3M rows on configs/scaling.yaml)
    df = latency[["setting_id", "lo_ns", "hi_ns", "count"]]
    if setting_ids is not None:
        df = df[df["setting_id"].isin(setting_ids)]
    pooled = df.groupby(["setting_id", "lo_ns", "hi_ns"], as_index=False)["count"].sum()
    pooled = pooled.sort_values(["setting_id", "hi_ns", "lo_ns"])
    tot = pooled.groupby("setting_id")["count"].transform("sum")
    pooled["cdf"] = pooled.groupby("setting_id")["count"].cumsum() / tot
    return pooled.reset_index(drop=True)


def ecdf_curve(cdf: pd.DataFrame, points_per_bin: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """One setting's ECDF as a polyline: a vertical step at an exact-value bin
    (``lo_ns == hi_ns``), values spread uniformly within a wider bin (drawn
    densely so that the curve stays true on log x / logit y axes). The wide
    bins' points are one ``np.geomspace`` over all of them (element for element
    the arithmetic of one call per bin)."""
    lo = np.maximum(cdf["lo_ns"].to_numpy(float), 0.5)
    hi = cdf["hi_ns"].to_numpy(float)
    c = cdf["cdf"].to_numpy(float)
    n = len(c)
    if n == 0:
        return np.array([]), np.array([])
    prev = np.concatenate(([0.0], c[:-1]))
    wide = hi > lo
    per_bin = np.where(wide, points_per_bin, 2)
    ends = np.cumsum(per_bin)
    x = np.empty(int(ends[-1]))
    y = np.empty_like(x)
    starts = ends - per_bin
    if wide.any():
        lw, hw = lo[wide], hi[wide]
        xw = np.geomspace(lw, hw, points_per_bin, axis=1)
        fw = (xw - lw[:, None]) / (xw[:, -1] - lw)[:, None]
        yw = prev[wide][:, None] + fw * (c[wide] - prev[wide])[:, None]
        idx = (starts[wide][:, None] + np.arange(points_per_bin)).ravel()
        x[idx] = xw.ravel()
        y[idx] = yw.ravel()
    if not wide.all():
        e = ~wide
        s0 = starts[e]
        x[s0] = lo[e]
        x[s0 + 1] = lo[e]
        y[s0] = prev[e]  # prev + 0 * (c - prev)
        y[s0 + 1] = prev[e] + (c[e] - prev[e])
    return x, y


def histogram_quantile(cdf: pd.DataFrame, q: float) -> float:
    """The q-quantile of one setting's binned latency, assuming values spread
    uniformly within a bin (linear interpolation of the ECDF)."""
    c = cdf["cdf"].to_numpy(float)
    reached = c >= q - 1e-12
    if not reached.any():
        return float("nan")
    i = int(reached.argmax())  # the first bin whose ECDF reaches q
    lo, hi = float(cdf["lo_ns"].iat[i]), float(cdf["hi_ns"].iat[i])
    prev = float(c[i - 1]) if i else 0.0
    if c[i] <= prev:
        return lo
    return lo + (hi - lo) * (q - prev) / (float(c[i]) - prev)
