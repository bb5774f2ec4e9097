"""Real vs simulated: the comparison table and the agreement checks.

Issue 8 states what the model must reproduce on the 16-core file, per case
(every workload field but GOMAXPROCS and the goroutine count):

- the GOMAXPROCS of peak throughput is within :data:`PEAK_STEP` step of the
  real one on the case's grid of GOMAXPROCS values (1, 2, 4, 8, 12, 16);
- the simulated throughput at the smallest and the largest GOMAXPROCS is
  within :data:`THROUGHPUT_TOLERANCE` (35%) of the real one;
- from :data:`TOP_LOCK_FROM_P` Ps on, the top lock (the runtime function that
  released the most contended-for lock) is the same.

A fit is scored by the RMS of ln(sim / real) throughput over its fit records
and, separately, over the held-out ones (:func:`split_of`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from gosim.groundtruth.records import Record, runtime_function, top_site
from gosim.realgo.pacer import model_summary

PEAK_STEP = 1
THROUGHPUT_TOLERANCE = 0.35
TOP_LOCK_FROM_P = 4
#: records at this GOMAXPROCS form the fit set; all others are held out
FIT_GOMAXPROCS = 1

Split = Literal["fit", "holdout"]

#: comparison.csv's columns, in order
COLUMNS = (
    "line", "tag", "go", "preset", "mode", "gogc", "ballast_mib", "size", "mix", "kind",
    "touch", "work_ns_est", "gomaxprocs", "g", "split", "real_allocs_per_s",
    "sim_allocs_per_s", "ratio", "log_ratio", "real_top_lock", "sim_top_lock",
    "real_top_share", "sim_top_share", "top_lock_match", "real_gc_cycles_per_s",
    "sim_gc_cycles_per_s", "real_idle_share", "sim_idle_share", "real_gc_mark_share",
    "sim_gc_mark_share", "real_assist_queue_share", "sim_assist_queue_share",
    "real_lock_sleep_share", "sim_lock_sleep_share", "real_mutex_wait_share",
    "real_faults_per_alloc",
    "sim_faults_per_alloc", "real_fault_ns", "sim_fault_ns", "real_scavenge_share",
    "sim_scavenge_share", "real_pause_share", "sim_pause_share", "sim_stw_stopping_us",
    "real_mark_ms_mean", "sim_mark_ms_mean", "real_trigger_goal_ratio",
    "sim_trigger_goal_ratio", "real_mark_end_goal_ratio", "sim_mark_end_goal_ratio",
    "real_pacer_utilization", "sim_pacer_utilization", "real_mmap_sleeps_per_grow",
    "sim_mmap_sleeps_per_grow", "warmup_ns",
    "window_ns", "sim_ok", "sim_error", "sim_wall_s",
)

#: the fields that make a case: every workload field but GOMAXPROCS and g
CASE_FIELDS = ("go", "mode", "gogc", "ballast_mib", "size", "mix", "kind", "touch",
               "work_ns_est")


def split_of(record: Record, fit_tags: frozenset[str] | None = None) -> Split:
    """``--fit`` fits on the single-P records only: everything multi-core
    (scaling, lock contention, the top lock) is then out of sample. A profile
    that names the records it was fitted on (``fit_records``, for this file)
    gives the split instead (``fit_tags``)."""
    if fit_tags is not None:
        return "fit" if record.tag in fit_tags else "holdout"
    return "fit" if record.gomaxprocs == FIT_GOMAXPROCS else "holdout"


@dataclass(frozen=True)
class SimPoint:
    """What the comparison takes from one simulated run."""

    ok: bool
    allocs_per_s: float
    top_lock: str
    top_share: float
    gc_cycles_per_s: float | None
    error: str = ""
    #: wall-clock seconds the simulation took
    wall_s: float = 0.0
    #: share of the Ps' time idle (``p_time_share_idle``)
    idle_share: float | None = None
    #: share of the Ps' time marking: assists, dedicated and idle mark workers
    #: (``p_time_share_gc_assist`` + ``_gc_dedicated`` + ``_gc_idle``); None
    #: with the collector off
    gc_mark_share: float | None = None
    #: the GC assist queue lock's share of the lock-site wait time (the mutex
    #: profile's view); None with the collector off
    assist_queue_share: float | None = None
    #: the Ps' time asleep on runtime locks: the lock-site (mutex profile) wait
    #: over GOMAXPROCS x the simulated time (``lock_sleep_share``)
    lock_sleep_share: float | None = None
    #: page faults per allocation after the warm-up (every first write to a
    #: fresh OS page: ``os_page_faults_after_warmup`` over ``allocs_after_warmup``)
    faults_per_alloc: float | None = None
    #: share of the Ps' time the scavenger took (``p_time_share_scavenge``, the
    #: whole run as the other P-time shares)
    scavenge_share: float | None = None
    #: mean concurrent mark phase (mark start to mark termination) of the
    #: cycles that ended after the warm-up, ms; None without such a cycle
    mark_ms_mean: float | None = None
    #: the pacer's medians over those cycles (gosim/realgo/pacer.py): heapLive at
    #: the trigger and at mark termination over the goal, endCycle's utilization
    trigger_goal_ratio: float | None = None
    mark_end_goal_ratio: float | None = None
    pacer_utilization: float | None = None
    #: the kernel's mean time per page fault, contention included
    #: (``os_page_fault_mean_ns``); None without a fault
    fault_ns: float | None = None
    #: share of the Ps' time stopped for the collector (``p_time_share_gc_pause``);
    #: None with the collector off
    pause_share: float | None = None
    #: mean time a stop-the-world took to stop every P (``gc_stw_stopping_mean_ns``;
    #: runtime/metrics /sched/pauses/stopping/gc:seconds), us; None without one
    stopping_us: float | None = None
    #: page faults that slept on the memory map's write lock per heap growth
    #: (``os_page_faults_blocked`` over ``os_mmap_writes``); None when the
    #: model has no such write (``mmap_write_ns`` 0) or the heap never grew
    mmap_sleeps_per_grow: float | None = None


def sim_point(outcome: dict[str, Any]) -> SimPoint:
    """From :func:`gosim.runner.execute.execute_run`'s outcome. The top lock is
    the ``lock_sites`` row function with the most delay as the runtime's
    mutex profile records it (``profile_ns``; rows of one function summed;
    ``wait_ns`` for results without it); its share, and the assist queue's,
    are of all the sites' such delay, as the real shares are. GC cycles per
    second: the cycles that ended after the warm-up over the measured window,
    as the real figure counts them (``num_gc`` over the run for results
    without ``num_gc_after_warmup``). Lock sleep: the lock-site wait (waits
    that slept, as the runtime's mutex profile counts them) over GOMAXPROCS
    x the simulated time."""
    wall = float(outcome.get("wall_s") or 0.0)
    if not outcome.get("ok"):
        return SimPoint(False, math.nan, "", 0.0, None, str(outcome.get("error") or "failed"),
                        wall)
    res = outcome["result"]
    m = res.get("metrics", {})
    sites = res.get("lock_sites") or []
    prof = "profile_ns" if all("profile_ns" in r for r in sites) else "wait_ns"
    top, wait = top_site((r["fn"], r.get(prof, 0)) for r in sites)
    prof_total = sum(float(r.get(prof, 0)) for r in sites
                     if runtime_function(r["fn"]) != "_LostContendedRuntimeLock")
    total = sum(float(r.get("wait_ns", 0)) for r in sites
                if runtime_function(r["fn"]) != "_LostContendedRuntimeLock")
    sim_ns = m.get("sim_time_ns") or 0
    num_gc = m.get("num_gc")
    if "num_gc_after_warmup" in m:
        num_gc = m["num_gc_after_warmup"]
        sim_ns -= m.get("warmup_ns") or 0
    cycles = num_gc / sim_ns * 1e9 if num_gc is not None and sim_ns else None
    idle = m.get("p_time_share_idle")
    mark = (sum(float(m.get(f"p_time_share_gc_{k}", 0.0)) for k in ("assist", "dedicated", "idle"))
            if num_gc is not None else None)
    aq = None
    if num_gc is not None:
        aq_wait = sum(float(r.get(prof, 0)) for r in sites if r.get("kind") == "assistqueue")
        aq = aq_wait / prof_total if prof_total > 0 else 0.0
    nprocs = m.get("gomaxprocs")
    sleep = total / (nprocs * m["sim_time_ns"]) if nprocs and m.get("sim_time_ns") else None
    after = m.get("allocs_after_warmup")
    faults = (m["os_page_faults_after_warmup"] / after
              if after and "os_page_faults_after_warmup" in m else None)
    scav = m.get("p_time_share_scavenge", 0.0)
    warm = m.get("warmup_ns") or 0
    window = [c for c in res.get("gc_cycles") or [] if c["mark_end_ns"] >= warm]
    marks = [c["mark_end_ns"] - c["mark_start_ns"] for c in window]
    mark_ms = sum(marks) / len(marks) / 1e6 if marks else None
    pacer = model_summary(window, nprocs, skip_first=False) if window and nprocs else None
    return SimPoint(True, float(m.get("allocs_per_sim_second", math.nan)), top,
                    wait / prof_total if prof_total > 0 else 0.0, cycles, "", wall,
                    float(idle) if idle is not None else None, mark, aq, sleep,
                    faults, float(scav), mark_ms,
                    pacer["gc_trigger_goal_ratio"] if pacer else None,
                    pacer["gc_mark_end_goal_ratio"] if pacer else None,
                    pacer["gc_pacer_utilization"] if pacer else None,
                    float(m["os_page_fault_mean_ns"]) if m.get("os_page_fault_mean_ns") else None,
                    float(m.get("p_time_share_gc_pause", 0.0)) if num_gc is not None else None,
                    float(m["gc_stw_stopping_mean_ns"]) / 1e3
                    if m.get("gc_stw_stopping_mean_ns") else None,
                    m["os_page_faults_blocked"] / m["os_mmap_writes"]
                    if m.get("os_mmap_writes") else None)


def comparison_table(records: Sequence[Record], points: Sequence[SimPoint],
                     windows: Sequence[tuple[int, int]],
                     fit_tags: frozenset[str] | None = None) -> pd.DataFrame:
    """One row per record, file order; columns :data:`COLUMNS` (``split`` as
    :func:`split_of` with ``fit_tags``)."""
    rows = []
    for r, s, (warm, window) in zip(records, points, windows, strict=True):
        ratio = s.allocs_per_s / r.allocs_per_s if s.ok else math.nan
        rows.append({
            "line": r.line, "tag": r.tag, "go": r.go, "preset": r.preset, "mode": r.mode,
            "gogc": r.gogc, "ballast_mib": r.ballast_mib, "size": r.size,
            "mix": ",".join(map(str, r.mix)) if r.mix else "", "kind": r.kind,
            "touch": r.touch, "work_ns_est": r.work_ns_est, "gomaxprocs": r.gomaxprocs,
            "g": r.g, "split": split_of(r, fit_tags), "real_allocs_per_s": r.allocs_per_s,
            "sim_allocs_per_s": s.allocs_per_s, "ratio": ratio,
            "log_ratio": math.log(ratio) if ratio > 0 else math.nan,
            "real_top_lock": r.top_lock, "sim_top_lock": s.top_lock,
            "real_top_share": r.top_share, "sim_top_share": s.top_share,
            "top_lock_match": s.ok and r.top_lock == s.top_lock,
            "real_gc_cycles_per_s": r.gc_cycles_per_s,
            "sim_gc_cycles_per_s": s.gc_cycles_per_s,
            "real_idle_share": r.idle_share, "sim_idle_share": s.idle_share,
            "real_gc_mark_share": r.gc_mark_share if r.mode == "gc" else None,
            "sim_gc_mark_share": s.gc_mark_share if r.mode == "gc" else None,
            "real_assist_queue_share": r.assist_queue_share if r.mode == "gc" else None,
            "sim_assist_queue_share": s.assist_queue_share if r.mode == "gc" else None,
            "real_lock_sleep_share": r.lock_sleep_share,
            "sim_lock_sleep_share": s.lock_sleep_share,
            "real_mutex_wait_share": r.mutex_wait_share,
            "real_faults_per_alloc": r.faults_per_alloc,
            "sim_faults_per_alloc": s.faults_per_alloc,
            "real_fault_ns": r.sys_ns_per_fault,
            "sim_fault_ns": s.fault_ns,
            "real_scavenge_share": r.scavenge_share,
            "sim_scavenge_share": s.scavenge_share,
            "real_pause_share": r.pause_share if r.mode == "gc" else None,
            "sim_pause_share": s.pause_share if r.mode == "gc" else None,
            "sim_stw_stopping_us": s.stopping_us if r.mode == "gc" else None,
            "real_mark_ms_mean": r.mark_ms_mean,
            "sim_mark_ms_mean": s.mark_ms_mean if r.mode == "gc" else None,
            "real_trigger_goal_ratio": r.trigger_goal_ratio,
            "sim_trigger_goal_ratio": s.trigger_goal_ratio if r.mode == "gc" else None,
            "real_mark_end_goal_ratio": r.mark_end_goal_ratio,
            "sim_mark_end_goal_ratio": s.mark_end_goal_ratio if r.mode == "gc" else None,
            "real_pacer_utilization": r.pacer_utilization,
            "sim_pacer_utilization": s.pacer_utilization if r.mode == "gc" else None,
            "real_mmap_sleeps_per_grow": r.mmap_sleeps_per_grow,
            "sim_mmap_sleeps_per_grow": s.mmap_sleeps_per_grow if r.mode == "nogc" else None,
            "warmup_ns": warm, "window_ns": window, "sim_ok": s.ok, "sim_error": s.error,
            "sim_wall_s": round(s.wall_s, 3),
        })
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table.astype({"gogc": "Int64"})


def case_label(row: pd.Series | dict[str, Any]) -> str:
    """``go1.27.3 gc GOGC=100 ballast 256 MiB 48 B noscan`` (+ mix, work, touch
    off, goroutines per P when there are more goroutines than Ps)."""
    parts = [str(row["go"]), str(row["mode"])]
    if row["mode"] == "gc":
        parts.append(f"GOGC={int(row['gogc'])}")
    parts.append(f"ballast {int(row['ballast_mib'])} MiB")
    parts.append(f"mix {row['mix']} B" if row["mix"] else f"{int(row['size'])} B")
    parts.append(str(row["kind"]))
    if float(row["work_ns_est"]) > 0:
        parts.append(f"work {float(row['work_ns_est']):g} ns")
    if not row["touch"]:
        parts.append("untouched")
    if int(row["g"]) != int(row["gomaxprocs"]):
        parts.append(f"{int(row['g']) / int(row['gomaxprocs']):g} G per P")
    return " ".join(parts)


def case_slug(label: str) -> str:
    """A file name for a case label."""
    keep = [c if c.isalnum() or c in ".-" else "_" for c in label.replace(" ", "_")]
    return "".join(keep).replace("__", "_").strip("_")


@dataclass
class EndPoint:
    gomaxprocs: int
    real: float
    sim: float
    ratio: float
    ok: bool


@dataclass
class LockPoint:
    gomaxprocs: int
    real: str
    sim: str
    ok: bool


@dataclass
class CaseVerdict:
    label: str
    fields: dict[str, Any]
    gomaxprocs: list[int]
    real_peak_p: int
    sim_peak_p: int | None
    peak_ok: bool
    ends: list[EndPoint] = field(default_factory=list)
    top_lock: list[LockPoint] = field(default_factory=list)

    @property
    def ends_ok(self) -> bool:
        return all(e.ok for e in self.ends)

    @property
    def top_lock_ok(self) -> bool:
        return all(t.ok for t in self.top_lock)

    @property
    def ok(self) -> bool:
        return self.peak_ok and self.ends_ok and self.top_lock_ok

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(peak_ok=self.peak_ok, ends_ok=self.ends_ok, top_lock_ok=self.top_lock_ok,
                 ok=self.ok)
        return json_safe(d)


def json_safe(obj: Any) -> Any:
    """NaN and NA -> None, recursively (JSON has no NaN); numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if obj is pd.NA:
        return None
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def peak_within(ps: Sequence[int], real_peak: int, sim_peak: int, step: int = PEAK_STEP) -> bool:
    """Whether two GOMAXPROCS values are at most ``step`` positions apart on
    the sorted grid ``ps``."""
    grid = sorted(set(ps))
    return abs(grid.index(real_peak) - grid.index(sim_peak)) <= step


def score_case(rows: pd.DataFrame) -> CaseVerdict:
    """The three checks on one case's rows of the comparison table."""
    first = rows.iloc[0]
    by_p = (rows.groupby("gomaxprocs", sort=True)[["real_allocs_per_s", "sim_allocs_per_s"]]
            .mean(numeric_only=True))
    # a failed run (NaN) makes the mean NaN: no peak, no end-point ratio
    ps = [int(p) for p in by_p.index]
    real_peak = int(by_p["real_allocs_per_s"].idxmax())
    sim = by_p["sim_allocs_per_s"]
    sim_peak = None if sim.isna().any() else int(sim.idxmax())
    peak_ok = sim_peak is not None and peak_within(ps, real_peak, sim_peak)
    ends = []
    for p in dict.fromkeys((ps[0], ps[-1])):
        real, s = float(by_p.at[p, "real_allocs_per_s"]), float(by_p.at[p, "sim_allocs_per_s"])
        ratio = s / real
        ends.append(EndPoint(p, real, s, ratio,
                             bool(abs(ratio - 1) <= THROUGHPUT_TOLERANCE)))
    locks = [LockPoint(int(r.gomaxprocs), str(r.real_top_lock), str(r.sim_top_lock),
                       bool(r.top_lock_match))
             for r in rows.sort_values(["gomaxprocs", "line"]).itertuples()
             if r.gomaxprocs >= TOP_LOCK_FROM_P]
    return CaseVerdict(case_label(first), {k: json_safe(first[k]) for k in CASE_FIELDS}, ps,
                       real_peak, sim_peak, peak_ok, ends, locks)


def cases(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per case, in the order the cases first appear in the file."""
    keyed = table.assign(_case=[case_label(r) for _, r in table.iterrows()])
    return [(label, g.drop(columns="_case"))
            for label, g in keyed.groupby("_case", sort=False)]


def score(table: pd.DataFrame) -> list[CaseVerdict]:
    return [score_case(rows) for _, rows in cases(table)]


def rms_log_error(table: pd.DataFrame, split: Split | None = None) -> float | None:
    """RMS of ln(sim / real) over the rows of ``split`` (all rows: None) whose
    run succeeded: infinite when one of them simulated no allocation at all,
    None when there are none."""
    rows = table if split is None else table[table["split"] == split]
    rows = rows[rows["sim_ok"].astype(bool)]
    if (rows["ratio"] <= 0).any():
        return math.inf
    x = rows["log_ratio"].to_numpy(dtype=float)
    return float(np.sqrt(np.mean(x ** 2))) if x.size else None


def error_summary(table: pd.DataFrame, split: str | None = None) -> dict[str, Any]:
    """The error by split; ``split`` describes it (default: ``--fit``'s)."""
    return {
        "metric": "RMS of ln(sim / real) allocations per second",
        "split": split or f"fit: the GOMAXPROCS={FIT_GOMAXPROCS} records; hold-out: the rest",
        "fit": rms_log_error(table, "fit"),
        "holdout": rms_log_error(table, "holdout"),
        "all": rms_log_error(table),
        "n_fit": int((table["split"] == "fit").sum()),
        "n_holdout": int((table["split"] == "holdout").sum()),
        # an infinite error is written as null (JSON has no infinity); these say why
        "n_zero_throughput_fit": _zeros(table, "fit"),
        "n_zero_throughput_holdout": _zeros(table, "holdout"),
    }


#: added to both shares before their log ratio (:func:`share_error`): a real
#: share of zero (no lock sleep at two Ps) is common, and a model near it is right
SHARE_OFFSET = 0.01


#: the real column a P-time share is scored against where it is not
#: ``real_<what>_share``: the model's lock sleep runs from a waiter's first sleep
#: to its acquisition, wake-up included, which is the runtime's own wait metric
#: (/sync/mutex/wait/total, ``real_mutex_wait_share``); the mutex profile's
#: estimate (``real_lock_sleep_share``) leaves the wake-ups out
REAL_SHARE_COLUMN = {"lock_sleep": "real_mutex_wait_share"}


def share_error(table: pd.DataFrame, what: str, split: Split | None = None) -> float | None:
    """RMS of ln((sim + 0.01) / (real + 0.01)) of a P-time share (``what``:
    ``lock_sleep``, ``pause``, ``idle``, ...; the columns ``sim_<what>_share``
    and ``real_<what>_share``, or the one :data:`REAL_SHARE_COLUMN` names) over
    the multi-P rows of ``split`` (all: None) whose run succeeded and that have
    both; None when there are none."""
    rows = table if split is None else table[table["split"] == split]
    rows = rows[rows["sim_ok"].astype(bool) & (rows["gomaxprocs"] > 1)]
    real = pd.to_numeric(rows[REAL_SHARE_COLUMN.get(what, f"real_{what}_share")],
                         errors="coerce")
    sim = pd.to_numeric(rows[f"sim_{what}_share"], errors="coerce")
    both = real.notna() & sim.notna()
    if not both.any():
        return None
    x = np.log((sim[both].to_numpy(float) + SHARE_OFFSET)
               / (real[both].to_numpy(float) + SHARE_OFFSET))
    return float(np.sqrt(np.mean(x ** 2)))


def _zeros(table: pd.DataFrame, split: Split) -> int:
    rows = table[(table["split"] == split) & table["sim_ok"].astype(bool)]
    return int((rows["ratio"] <= 0).sum())
