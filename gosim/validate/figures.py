"""The figures a check computes from an experiment's tables (docs/validate.md).

Every figure is computed once per replication from that replication's runs
(replication r of every setting shares seed child r: common random numbers,
so ratios between settings are paired), then summarised as mean and 95%
t-interval over the replications. Nothing here knows a claim's expected
answer: thresholds live in the claim files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gosim.analysis.stats import t_confidence_interval
from gosim.analysis.tables import ok_runs, wait_shares
from gosim.analysis.theory import mva_machine_repairman
from gosim.errors import ConfigError

if TYPE_CHECKING:
    from gosim.config import Experiment
    from gosim.validate.claim import Check, Claim

#: the derived metric: share of P time waiting on any runtime mutex
ANY_WAIT = "p_time_share_wait_any"
THROUGHPUT = "allocs_per_sim_second"
SIZE_KEY = "workload.groups.0.size"


@dataclass(frozen=True)
class Figure:
    """A check's figure over the replications."""

    mean: float
    ci_low: float
    ci_high: float
    #: the per-replication values
    values: tuple[float, ...]


def summarise(values: list[float]) -> Figure:
    ci = t_confidence_interval(values)
    lo, hi = (ci.low, ci.high) if ci.n >= 2 else (ci.mean, ci.mean)
    return Figure(ci.mean, lo, hi, tuple(values))


# ------------------------------------------------------------------ selections

def preset_of(design_label: str) -> str:
    """``go1.27+global_lock=True`` -> ``go1.27``."""
    return design_label.split("+", 1)[0]


def _matches(row: dict[str, Any] | pd.Series, where: dict[str, Any]) -> bool:
    for k, v in where.items():
        have = row[k]
        if k == "design":
            if preset_of(str(have)) != v:
                return False
        elif have != v:
            return False
    return True


def select(runs: pd.DataFrame, where: dict[str, Any]) -> pd.DataFrame:
    """Rows of ``runs`` matching ``where`` (``design`` compares presets)."""
    if not where:
        return runs
    mask = [_matches(r, where) for _, r in runs.iterrows()]
    return runs[np.asarray(mask, dtype=bool)] if len(runs) else runs


def _spec_rows(exp: Experiment) -> pd.DataFrame:
    from gosim.runner.writer import key_columns, setting_columns

    cols = setting_columns(exp)
    return pd.DataFrame([key_columns(s, cols) for s in exp.runs])


def check_selections(claim: Claim) -> None:
    """Before anything runs: every selection names existing columns and matches
    runs in both the experiment and its ablation (raises ConfigError)."""
    c = claim.check
    file = str(claim.path)
    for exp in (claim.experiment, claim.ablation_experiment):
        rows = _spec_rows(exp)
        for key, where in (("where", c.where), ("over", c.over)):
            for k in where:
                if k not in rows.columns:
                    raise ConfigError(f"unknown column {k!r}; expected one of "
                                      f"{sorted(rows.columns)}", file=file,
                                      key=f"check.{key}.{k}")
            if (where or key == "where") and select(rows, where).empty:
                raise ConfigError(f"selects no run of experiment {exp.name!r}", file=file,
                                  key=f"check.{key}")
        if c.figure == "ratio" and not c.over:
            raise ConfigError("the 'ratio' figure needs the denominator's selection",
                              file=file, key="check.over")
        if c.figure in ("locks_per_span", "waste") and SIZE_KEY not in rows.columns:
            raise ConfigError(f"figure {c.figure!r} needs '{SIZE_KEY}' swept", file=file,
                              key="check.figure")
        if c.figure == "mva" and rows["gomaxprocs"].min() != 1:
            raise ConfigError("figure 'mva' needs gomaxprocs 1 in the sweep (it measures "
                              "the hold and think times there)", file=file, key="check.figure")


# ------------------------------------------------------------------ metrics

def metric_values(runs: pd.DataFrame, metric: str) -> pd.Series:
    """A runs column, the derived ``p_time_share_wait_any``, or ``a / b`` of two."""
    if "/" in metric:
        a, b = (m.strip() for m in metric.split("/", 1))
        den = metric_values(runs, b)
        return metric_values(runs, a) / den.where(den != 0)
    if metric == ANY_WAIT:
        cols = [c for c in runs.columns if c.startswith("p_time_share_wait_")]
        return runs[cols].fillna(0.0).sum(axis=1) if cols else pd.Series(0.0, index=runs.index)
    if metric not in runs.columns:
        return pd.Series(math.nan, index=runs.index)
    return runs[metric].astype(float)


def _one(df: pd.DataFrame, metric: str) -> float:
    if len(df) != 1:
        return math.nan
    return float(metric_values(df, metric).iloc[0])


# ------------------------------------------------------------------ figures

def _value(check: Check, rep: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> float:
    return _one(select(rep, check.where), check.metric)


def _ratio(check: Check, rep: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> float:
    num = _one(select(rep, check.where), check.metric)
    den = _one(select(rep, check.over), check.metric)
    return num / den if den else math.nan


def _curve_groups(df: pd.DataFrame) -> list[pd.DataFrame]:
    """Split runs into curves over GOMAXPROCS: one per design and per value of
    every other swept key, except keys that move in lockstep with GOMAXPROCS
    (the goroutine count of a weak-scaling zip)."""
    npv = df["gomaxprocs"].nunique()
    keys = ["design"]
    for c in df.columns:
        if "." not in c or c in ("design", "gomaxprocs"):
            continue  # only swept dotted keys
        vals = df[c].astype(str)
        tied = vals.nunique() == npv and (vals.groupby(df["gomaxprocs"]).nunique() == 1).all()
        if not tied and vals.nunique() > 1:
            keys.append(c)
    return [g for _, g in df.groupby(keys, sort=False, dropna=False)]


def efficiency_of(curve: pd.DataFrame, metric: str = THROUGHPUT) -> pd.Series:
    """Throughput at each P over linear scaling from the smallest P."""
    c = curve.sort_values("gomaxprocs")
    p = c["gomaxprocs"].astype(float).to_numpy()
    x = metric_values(c, metric).to_numpy()
    return pd.Series(x / (x[0] * p / p[0]), index=c["gomaxprocs"].to_numpy())


def _efficiency(check: Check, rep: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> float:
    effs = [float(efficiency_of(g, check.metric).iloc[-1])
            for g in _curve_groups(select(rep, check.where))]
    return min(effs) if effs else math.nan


def objects_per_span(design_label: str, size: int) -> tuple[int, float]:
    """(objects per span, max waste) of the size class ``size`` maps to, by the
    design's size-class table (runtime/sizeclasses.go)."""
    from gosim.runtime.design import get_design
    from gosim.runtime.sizeclasses import get_table

    table = get_table(get_design(preset_of(design_label)).sizeclasses)
    row = table.classes[table.size_to_class(size)]
    return row.objects, row.max_waste


def _farthest(values: list[float], target: float) -> float:
    return max(values, key=lambda v: abs(v - target)) if values else math.nan


def _locks_per_span(check: Check, rep: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> float:
    """Share of allocations that took a lock x objects per span: 1 when exactly
    one allocation per span (the refill) locks. The worst setting."""
    vals = []
    for _, r in select(rep, check.where).iterrows():
        nobj, _ = objects_per_span(r["design"], int(r[SIZE_KEY]))
        vals.append((1.0 - float(r["lock_free_fraction"])) * nobj)
    return _farthest(vals, 1.0)


def per_run_waste(r: pd.Series) -> float:
    """Internal fragmentation of a run: 1 - requested bytes / heap in use."""
    return 1.0 - float(r["requested_bytes"]) / float(r["heap_inuse_bytes"])


def _waste(check: Check, rep: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> float:
    """Worst |measured waste - the table's max-waste column| over the settings."""
    vals = []
    for _, r in select(rep, check.where).iterrows():
        _, max_waste = objects_per_span(r["design"], int(r[SIZE_KEY]))
        vals.append(abs(per_run_waste(r) - max_waste))
    return max(vals) if vals else math.nan


def mix_waste(runs: pd.DataFrame) -> tuple[Figure, Figure]:
    """A size mix's waste over its replications: (rounding, heap).
    Rounding: 1 - requested_bytes / total_alloc_bytes, what rounding each
    request up to its size class (or to whole pages) costs. Heap: 1 -
    requested_bytes / heap_inuse_bytes, which adds the tails of spans and the
    unused slots of the spans still cached or partly filled at the end."""
    runs = ok_runs(runs)
    req = runs["requested_bytes"].astype(float)
    rounding = (1.0 - req / runs["total_alloc_bytes"].astype(float)).tolist()
    heap = (1.0 - req / runs["heap_inuse_bytes"].astype(float)).tolist()
    return summarise(rounding), summarise(heap)


def expected_rounding_waste(design_label: str, size: dict[str, Any], noscan: bool
                            ) -> float | None:
    """The rounding waste a lognormal size mix has in the limit, from the
    distribution and the design's size classes alone: 1 - E[size] / E[bytes
    charged], sizes rounded half up to integers as the workload draws them
    (gosim.workload.streams), each charged as mallocgc would (the class size,
    whole pages above the large-object cutoff, headers included). None for
    other distributions, or pointer-free mixes the tiny allocator packs."""
    from scipy.stats import lognorm

    from gosim.runtime.design import get_design
    from gosim.runtime.malloc import Runtime

    if size.get("dist") != "lognormal":
        return None
    design = get_design(preset_of(design_label))
    if noscan and design.tiny_alloc:
        return None
    sigma, mean = float(size["sigma"]), float(size["mean"])
    dist = lognorm(s=sigma, scale=math.exp(math.log(mean) - sigma * sigma / 2))
    top = int(min(dist.ppf(1 - 1e-12), 1 << 24)) + 1
    k = np.arange(1, top + 1)
    p = dist.cdf(k + 0.5) - dist.cdf(k - 0.5)  # P(a draw rounds to k); k = 0 is not counted
    rt = Runtime(design, 1)
    charged = np.array([rt.classify(int(x), noscan)[2] for x in k], dtype=float)
    return float(1.0 - (p * k).sum() / (p * charged).sum())


def mva_curve(curve: pd.DataFrame, locks: pd.DataFrame, lock_kind: str = "global"
              ) -> pd.DataFrame:
    """Simulated throughput against exact MVA of the machine-repairman network
    for the same lock: hold S = the lock's mean hold at 1 P, think Z = time per
    allocation at 1 P minus S (both from the 1-P run)."""
    c = curve.sort_values("gomaxprocs")
    one = c.iloc[0]
    lk = locks[(locks["run_id"] == one["run_id"]) & (locks["kind"] == lock_kind)]
    if lk.empty or not one[THROUGHPUT]:
        return pd.DataFrame(columns=["gomaxprocs", "sim", "mva"])
    s = float(lk["hold_mean_ns"].iloc[0])
    z = 1e9 / float(one[THROUGHPUT]) - s
    rows = []
    for _, r in c.iterrows():
        mva = mva_machine_repairman(int(r["gomaxprocs"]), z, s).throughput_per_ns * 1e9
        held = locks[(locks["run_id"] == r["run_id"]) & (locks["kind"] == lock_kind)]
        rows.append({"gomaxprocs": int(r["gomaxprocs"]), "sim": float(r[THROUGHPUT]),
                     "mva": mva, "hold_ns": s, "think_ns": z,
                     "utilisation": float(held["utilisation"].iloc[0]) if len(held) else math.nan,
                     "wait_share": wait_shares(r).get(lock_kind, 0.0)})
    return pd.DataFrame(rows)


def _mva(check: Check, rep: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> float:
    """Worst |simulated / MVA throughput - 1| over GOMAXPROCS."""
    worst = math.nan
    for g in _curve_groups(select(rep, check.where)):
        m = mva_curve(g, tables["locks"])
        if m.empty:
            return math.nan
        dev = float(np.max(np.abs(m["sim"] / m["mva"] - 1.0)))
        worst = dev if math.isnan(worst) else max(worst, dev)
    return worst


def bottleneck(r: pd.Series) -> tuple[str, float]:
    """The lock kind with the largest share of P time waiting on it."""
    shares = wait_shares(r)
    if not shares:
        return "", 0.0
    k = max(shares, key=lambda x: shares[x])
    return k, shares[k]


def release_pairs(df: pd.DataFrame) -> list[tuple[pd.Series, pd.Series]]:
    """(older, newer) runs at the largest GOMAXPROCS, designs in sweep order."""
    top = df[df["gomaxprocs"] == df["gomaxprocs"].max()].sort_values("run_id")
    rows = [r for _, r in top.iterrows()]
    return list(zip(rows, rows[1:], strict=False))


def _bottleneck_removed(check: Check, rep: pd.DataFrame,
                        tables: dict[str, pd.DataFrame]) -> float:
    """For each release whose predecessor waits on some lock for more than
    ``min_share`` of P time (a bottleneck): the newer release's wait share on
    that lock over the older's. The worst (largest) such ratio."""
    vals = []
    for old, new in release_pairs(select(rep, check.where)):
        kind, share = bottleneck(old)
        if share >= check.min_share:
            vals.append(wait_shares(new).get(kind, 0.0) / share)
    return max(vals) if vals else math.nan


FIGURES: dict[str, Callable[[Check, pd.DataFrame, dict[str, pd.DataFrame]], float]] = {
    "value": _value, "ratio": _ratio, "efficiency": _efficiency,
    "locks_per_span": _locks_per_span, "mva": _mva, "waste": _waste,
    "bottleneck_removed": _bottleneck_removed,
}


def compute(check: Check, tables: dict[str, pd.DataFrame]) -> Figure:
    """The check's figure for each replication, summarised."""
    runs = ok_runs(tables["runs"])
    if runs.empty:
        return summarise([])
    fn = FIGURES[check.figure]
    values = [fn(check, rep, tables) for _, rep in runs.groupby("replication", sort=True)]
    return summarise([v for v in values if v == v])
