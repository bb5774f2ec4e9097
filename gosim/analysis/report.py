"""``report.md``: what an experiment ran and what it found, from its tables.

Findings, each computed from the tables (``runs``, ``locks``, ``p_time``):

- the bottleneck lock per setting: the lock whose waits take the largest
  share of all P time (``lock_table`` / ``busiest_locks``: wait time over
  simulated time x GOMAXPROCS, mean over replications);
- the share of P time waiting per setting: on every lock of ``locks``, the
  mutexes' waits (the ``wait:<kind>`` time of ``p_time``) and the lock-free
  span sets' contention (the extra cost of an operation, its ``wait``);
- the knee of each scaling curve (a design and the other swept keys, over
  GOMAXPROCS): the first GOMAXPROCS whose mean throughput falls below
  :data:`KNEE_EFFICIENCY` of linear scaling from the smallest GOMAXPROCS.

Then the plots (relative links to those drawn), the allocation flow graph
(``plots/flow.png``) when it exists, and the summary table of summary.md.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from gosim.analysis.summary import summary_table
from gosim.analysis.tables import (
    aggregate,
    busiest_locks,
    facet_keys,
    facet_label,
    lock_table,
    ok_runs,
)

#: the knee: the first GOMAXPROCS below this fraction of linear scaling
KNEE_EFFICIENCY = 0.8
THROUGHPUT = "allocs_per_sim_second"

#: plot file -> what it shows (gosim/analysis/plots.py draws them)
PLOT_CAPTIONS = {
    "scaling.png": "Allocations per simulated second against GOMAXPROCS, with linear scaling",
    "p_time.png": "Where P time goes: fast path, slow path, waiting on and holding each lock",
    "lock_heatmap.png": "Lock wait by lock and GOMAXPROCS",
    "latency_ecdf.png": "Malloc latency ECDF with p50 / p99 / p99.9",
    "timeseries.png": "Throughput and heap over simulated time",
}
FLOW_PLOT = "flow.png"


def efficiency(gomaxprocs: list[int], throughput: list[float]) -> list[float]:
    """Throughput at each GOMAXPROCS over linear scaling from the first (smallest)."""
    p0, x0 = gomaxprocs[0], throughput[0]
    return [x / (x0 * p / p0) if x0 else math.nan
            for p, x in zip(gomaxprocs, throughput, strict=True)]


def knee(gomaxprocs: list[int], throughput: list[float],
         fraction: float = KNEE_EFFICIENCY) -> int | None:
    """The first GOMAXPROCS (in increasing order) whose throughput falls below
    ``fraction`` of linear scaling from the smallest; None if none does."""
    order = sorted(range(len(gomaxprocs)), key=lambda i: gomaxprocs[i])
    ps = [gomaxprocs[i] for i in order]
    eff = efficiency(ps, [throughput[i] for i in order])
    return next((p for p, e in zip(ps, eff, strict=True) if e < fraction), None)


def p_time_wait_shares(p_time: pd.DataFrame) -> pd.DataFrame:
    """Per run and lock kind: share of all P time (every P's ns) spent in the
    category ``wait:<kind>`` of ``p_time.parquet``."""
    total = p_time.groupby("run_id")["ns"].sum()
    waits = p_time[p_time["category"].str.startswith("wait:")]
    w = waits.groupby(["run_id", "category"])["ns"].sum().reset_index()
    w["share"] = w["ns"] / w["run_id"].map(total)
    w["lock"] = w["category"].str.slice(len("wait:"))
    return w[["run_id", "lock", "share"]]


def knees(tables: dict[str, pd.DataFrame], fraction: float) -> list[dict[str, object]]:
    """Per design (over every other swept key): the :func:`knee` of its mean
    throughput (over replications), and the lock kind with the largest share
    of P time waiting there (``p_time.parquet``, mean over replications); with
    no knee, the most waited-on lock at the largest P. (``gosim validate``'s
    claim of where each design stops scaling.)"""
    runs = ok_runs(tables["runs"])
    shares = p_time_wait_shares(tables["p_time"]).merge(
        runs[["run_id", "design", "gomaxprocs"]], on="run_id")
    n_reps = runs.groupby(["design", "gomaxprocs"])["run_id"].count()
    mean = runs.groupby(["design", "gomaxprocs"], sort=False).mean(numeric_only=True)
    mean = mean.reset_index()
    out: list[dict[str, object]] = []
    for design, g in mean.groupby("design", sort=False):
        g = g.sort_values("gomaxprocs")
        ps = [int(p) for p in g["gomaxprocs"]]
        xs = [float(x) for x in g[THROUGHPUT]]
        k = knee(ps, xs, fraction)
        at = k if k is not None else ps[-1]
        s = shares[(shares["design"] == design) & (shares["gomaxprocs"] == at)]
        per_lock = s.groupby("lock")["share"].sum() / n_reps[(design, at)]
        lock = str(per_lock.idxmax()) if len(per_lock) else ""
        out.append({"design": design, "knee": k, "efficiency_at_max": efficiency(ps, xs)[-1],
                    "max_p": ps[-1], "lock": lock,
                    "share": float(per_lock.max()) if len(per_lock) else 0.0})
    return out


def scaling_knees(tables: dict[str, pd.DataFrame], meta: dict[str, Any],
                  fraction: float = KNEE_EFFICIENCY) -> pd.DataFrame:
    """One row per scaling curve (design x facet, at least two GOMAXPROCS):
    ``design``, ``facet``, ``max_p``, ``efficiency_at_max``, ``knee`` (None:
    no knee up to ``max_p``), ``setting_id`` (of the knee, else of ``max_p``)."""
    cols = ["design", "facet", "max_p", "efficiency_at_max", "knee", "setting_id"]
    runs = ok_runs(tables["runs"])
    if runs.empty or THROUGHPUT not in runs or runs["gomaxprocs"].nunique() < 2:
        return pd.DataFrame(columns=cols)
    agg = aggregate(runs, meta, [THROUGHPUT])
    fkeys = [k for k in facet_keys(meta) if k in agg.columns]
    rows = []
    for _, g in agg.groupby(["design", *fkeys], sort=False, dropna=False):
        g = g.sort_values("gomaxprocs")
        if g["gomaxprocs"].nunique() < 2:
            continue
        ps = [int(p) for p in g["gomaxprocs"]]
        xs = [float(x) for x in g[f"{THROUGHPUT}_mean"]]
        k = knee(ps, xs, fraction)
        at = g[g["gomaxprocs"] == (k if k is not None else ps[-1])].iloc[0]
        rows.append({"design": g.iloc[0]["design"], "facet": facet_label(g.iloc[0], fkeys),
                     "max_p": ps[-1], "efficiency_at_max": efficiency(ps, xs)[-1],
                     "knee": k, "setting_id": int(at["setting_id"])})
    return pd.DataFrame(rows, columns=cols)


def setting_findings(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> pd.DataFrame:
    """One row per setting: ``setting_id``, ``design``, ``gomaxprocs``,
    ``facet``, ``wait_share`` (P time waiting on any lock, span-set
    contention included),
    ``lock`` (the bottleneck; "" when no lock was taken; with no waits at all,
    the most utilised lock), ``lock_wait_share`` (P time waiting on it),
    ``lock_utilisation``."""
    runs = ok_runs(tables["runs"])
    cols = ["setting_id", "design", "gomaxprocs", "facet", "wait_share", "lock",
            "lock_wait_share", "lock_utilisation"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    fkeys = [k for k in facet_keys(meta) if k in runs.columns]
    lt = lock_table(tables.get("locks", pd.DataFrame()), runs, meta)
    wait_by_setting = lt.groupby("setting_id")["wait_share"].sum() if not lt.empty \
        else pd.Series(dtype=float)
    busiest = busiest_locks(lt)
    busiest = busiest.set_index("setting_id")
    rows = []
    for _, r in runs.drop_duplicates("setting_id").sort_values("setting_id").iterrows():
        sid = int(r["setting_id"])
        b = busiest.loc[sid] if sid in busiest.index else None
        rows.append({"setting_id": sid, "design": r["design"],
                     "gomaxprocs": int(r["gomaxprocs"]), "facet": facet_label(r, fkeys),
                     "wait_share": float(wait_by_setting.get(sid, 0.0)),
                     "lock": str(b["lock"]) if b is not None else "",
                     "lock_wait_share": float(b["wait_share"]) if b is not None else 0.0,
                     "lock_utilisation": float(b["utilisation"]) if b is not None else 0.0})
    return pd.DataFrame(rows, columns=cols)


def _pct(x: float) -> str:
    if x != x:
        return "n/a"
    if 0 < x < 0.001:
        return "<0.1%"
    return f"{x:.1%}"


def _lock_text(r: pd.Series) -> str:
    """The bottleneck lock of a setting's findings, or why there is none."""
    if not r["lock"]:
        return "no lock taken"
    if not r["lock_wait_share"] > 0:
        return "none (no waits)"
    return f"`{r['lock']}`"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
            + ["| " + " | ".join(r) + " |" for r in rows])


def _values(runs: pd.DataFrame, key: str) -> str:
    if key not in runs.columns:
        return "?"
    seen = list(dict.fromkeys(str(v) for v in runs.sort_values("run_id")[key].tolist()))
    return ", ".join(seen)


def _what_was_run(tables: dict[str, pd.DataFrame], meta: dict[str, Any],
                  sweep: dict[str, Any] | None) -> list[str]:
    runs = tables["runs"]
    reps = int(meta.get("replications", 1))
    n_runs = len(runs)
    n_settings = runs["setting_id"].nunique() if n_runs else 0
    out = ["## What was run", ""]
    if meta.get("description"):
        out += [str(meta["description"]).strip(), ""]
    designs = list(dict.fromkeys(runs.sort_values("run_id")["design"].tolist())) if n_runs \
        else []
    out.append(f"- designs: {', '.join(f'`{d}`' for d in designs) or 'none'}")
    zipped: list[list[str]] = [list(z) for z in (sweep or {}).get("zip", []) or []]
    in_zip = {k for z in zipped for k in z}
    for key in meta.get("swept_keys", []):
        if key in in_zip or key in ("design", "design.preset"):  # listed as designs
            continue
        out.append(f"- `{key}`: {_values(runs, key)}")
    for z in zipped:
        parts = "; ".join(f"`{k}`: {_values(runs, k)}" for k in z)
        out.append(f"- in lockstep: {parts}")
    failed = int(runs["error"].notna().sum()) if "error" in runs.columns else 0
    out.append(f"- {n_runs} runs = {n_settings} settings x {reps} replication"
               f"{'s' if reps != 1 else ''}" + (f"; {failed} failed" if failed else ""))
    return out + [""]


def render_report(tables: dict[str, pd.DataFrame], meta: dict[str, Any], results_dir: Path,
                  sweep: dict[str, Any] | None = None) -> str:
    """The report's markdown; plots linked relative to ``results_dir``."""
    name = meta.get("name", results_dir.name)
    lines = [f"# {name}: report", ""]
    lines += _what_was_run(tables, meta, sweep)
    lines += ["## Findings", ""]
    sf = setting_findings(tables, meta)
    knees = scaling_knees(tables, meta)
    if sf.empty:
        lines += ["No run succeeded: nothing to report.", ""]
    else:
        if not knees.empty:
            lines += [f"### Where scaling bends (knee: the first GOMAXPROCS below "
                      f"{KNEE_EFFICIENCY:.0%} of linear scaling from the smallest)", ""]
            by_sid = sf.set_index("setting_id")
            rows = []
            for _, k in knees.iterrows():
                b = by_sid.loc[int(k["setting_id"])]
                knee_text = (str(int(k["knee"])) if k["knee"] is not None
                             and not pd.isna(k["knee"]) else f"none up to {k['max_p']}")
                rows.append([f"`{k['design']}`", k["facet"] or "-", knee_text,
                             _pct(k["efficiency_at_max"]), _lock_text(b),
                             _pct(b["lock_wait_share"])])
            lines += _table(["design", "setting", "knee (GOMAXPROCS)",
                             "efficiency at the largest GOMAXPROCS",
                             "bottleneck lock at the knee (no knee: at the largest GOMAXPROCS)",
                             "P time waiting on it"], rows)
            lines.append("")
        lines += ["### Bottleneck lock per setting", "",
                  "The lock whose waits take the largest share of all P time (simulated "
                  "time x GOMAXPROCS), and the share of P time waiting on any lock (mean "
                  "over replications). A lock-free span set's wait is the extra cost of "
                  "its operations under contention.", ""]
        rows = [[f"`{r['design']}`", str(r["gomaxprocs"]), r["facet"] or "-", _lock_text(r),
                 _pct(r["lock_wait_share"]),
                 _pct(r["lock_utilisation"]) if r["lock_wait_share"] > 0 else "-",
                 _pct(r["wait_share"])] for _, r in sf.iterrows()]
        lines += _table(["design", "GOMAXPROCS", "setting", "bottleneck lock",
                         "P time waiting on it", "its utilisation",
                         "P time waiting on any lock"], rows)
        lines.append("")
    plots_dir = results_dir / "plots"
    drawn = [f for f in PLOT_CAPTIONS if (plots_dir / f).is_file()]
    lines += ["## Plots", ""]
    if drawn:
        for f in drawn:
            lines += [f"{PLOT_CAPTIONS[f]}:", "", f"![{f}](plots/{f})", ""]
    else:
        lines += ["None drawn (`gosim plot " + str(results_dir) + "` draws them).", ""]
    if (plots_dir / FLOW_PLOT).is_file():
        lines += ["## Allocation flow", "",
                  "Goroutine groups -> P caches -> mcentral per span class -> mheap -> OS; "
                  "edge width by volume, colour by lock wait:", "",
                  f"![{FLOW_PLOT}](plots/{FLOW_PLOT})", ""]
    table = summary_table(tables, meta)
    if not table.empty:
        reps = int(meta.get("replications", 1))
        ci = "mean ± 95% t-CI half-width" if reps > 1 else "one replication, no CI"
        lines += [f"## Summary ({ci})", "",
                  *_table([str(c) for c in table.columns],
                          [[str(r[c]) for c in table.columns] for _, r in table.iterrows()]),
                  "", "Details: [summary.md](summary.md); tables: `runs.parquet`, "
                  "`locks.parquet`, `p_time.parquet`, `latency.parquet`, `by_size.parquet`.", ""]
    return "\n".join(lines)


def write_report(results_dir: Path, tables: dict[str, pd.DataFrame], meta: dict[str, Any],
                 sweep: dict[str, Any] | None = None) -> Path:
    """Write ``results_dir/report.md`` (atomically); returns its path."""
    from gosim.atomic_write import write_text_atomic

    path = results_dir / "report.md"
    write_text_atomic(path, render_report(tables, meta, results_dir, sweep))
    return path
