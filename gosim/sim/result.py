"""What one simulation run returns: tidy, JSON/Parquet-friendly tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunResult:
    """The outcome of one run.

    ``metrics``: flat scalars, snake_case with units, e.g. ``mallocs``,
    ``heap_inuse_bytes``, ``allocs_per_sim_second``, ``sim_time_ns``,
    ``fast_path_fraction``, ``lock_free_fraction``, ``malloc_latency_p50_ns``,
    ``goroutine_allocs_min``/``goroutine_allocs_max`` (allocations completed by
    the least and the most productive goroutine), ``lock_<kind>_wait_mean_ns``...

    ``locks``: one row per lock: ``lock`` (name, e.g. ``mheap``,
    ``mcentral[spc=9]``, ``global``, ``mcentral[spc=9].spanset``), ``kind``
    (``mheap``/``mcentral``/``global``/``spanset``), ``span_class`` (int or -1),
    ``size_class``, ``acquisitions``, ``contended``, ``waiting_at_end`` (Ms
    still waiting when a timed run ends), ``wait_total_ns``, ``wait_mean_ns``,
    ``wait_p50_ns``, ``wait_p99_ns``, ``wait_max_ns`` (waits in progress at the
    end included, cut at the end), ``hold_mean_ns``, ``hold_p50_ns``,
    ``hold_p99_ns``, ``hold_max_ns``, ``utilisation`` (a fraction of the run in
    [0, 1]: a mutex's time held; a span set's time with at least one operation
    in flight), ``max_waiters``, ``max_spinning``. For span sets ``wait`` is an
    operation's extra cost from contention and ``hold`` its duration.

    ``p_time``: one row per (P, category): ``p``, ``category`` (``fast_path``,
    ``slow_path``, ``wait:<lock kind>``, ``hold:<lock kind>``, ``work``,
    ``idle``, ``sched``), ``ns``.

    ``latency_hist``: malloc latency histogram: ``{"lo_ns": [...],
    "hi_ns": [...], "count": [...]}`` with exact integer-ns bins.

    ``by_size``: one row per size class: ``size_class``, ``size_bytes``,
    ``mallocs``, ``frees``, ``spans_inuse``.

    ``timeseries``: rows ``t_ns`` + counters, when asked for.

    ``lock_sites``: the runtime mutex profile's view: one row per (lock, runtime
    function that released it while others waited): ``lock``, ``kind``, ``fn``
    (Go's name, e.g. ``(*mheap).freeSpan``), ``waits`` and ``wait_ns`` of the
    waiters that slept, each from its first sleep (as lock_spinbit.go records
    them); metrics
    ``top_lock_fn``/``top_lock_share`` name the largest.

    ``gc_cycles``: one row per completed GC cycle, what GODEBUG=gctrace=1 and
    gcpacertrace=1 print: ``cycle``, ``start_ns`` (sweep termination's stop
    began), ``mark_start_ns``, ``mark_end_ns`` (mark termination),
    ``trigger_bytes``, ``heap_live_at_trigger_bytes``,
    ``heap_live_at_mark_end_bytes``, ``heap_marked_bytes``,
    ``heap_goal_bytes`` (the cycle's goal), ``scan_work_bytes``, ``cons_mark``
    and ``utilization`` (the pacer's inputs at the cycle's end),
    ``next_trigger_bytes``, ``next_goal_bytes``, ``assist_ns``,
    ``dedicated_ns``, ``pause_ns`` (the cycle's GC CPU), ``assist_parks``,
    ``allocated_while_marking_bytes`` (the runtime's count) and
    ``charged_while_marking_bytes`` (the assists' charges), ``stops`` (its
    stop-the-world pauses). Empty with the collector off.

    ``flow``: the allocation flow, one row per edge (``src``, ``dst``,
    requests, bytes, the target's lock totals; :func:`gosim.sim.metrics.flow_edges`).
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    locks: list[dict[str, Any]] = field(default_factory=list)
    p_time: list[dict[str, Any]] = field(default_factory=list)
    latency_hist: dict[str, list[int]] = field(default_factory=dict)
    by_size: list[dict[str, Any]] = field(default_factory=list)
    timeseries: list[dict[str, Any]] = field(default_factory=list)
    flow: list[dict[str, Any]] = field(default_factory=list)
    lock_sites: list[dict[str, Any]] = field(default_factory=list)
    gc_cycles: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics, "locks": self.locks, "p_time": self.p_time,
            "latency_hist": self.latency_hist, "by_size": self.by_size,
            "timeseries": self.timeseries, "flow": self.flow, "lock_sites": self.lock_sites,
            "gc_cycles": self.gc_cycles,
        }
