"""Turn a finished simulation into a tidy :class:`RunResult`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gosim.runtime.arena import PAGE_SIZE
from gosim.runtime.mstats import flow_pair
from gosim.sim.locks import SimFaults
from gosim.sim.result import RunResult
from gosim.sim.warmup import mser5_truncation

if TYPE_CHECKING:
    from gosim.sim.engine import Simulation

P_CATEGORIES_FIXED = ("fast_path", "slow_path", "atomic", "work", "sched")


def _hist_quantile(vals: np.ndarray, cum: np.ndarray, q: float) -> int:
    """Smallest latency with at least q of the allocations at or below it."""
    if not len(vals):
        return 0
    target = q * cum[-1]
    return int(vals[min(int(np.searchsorted(cum, target, "left")), len(vals) - 1)])


def collect_result(sim: Simulation, end: int) -> RunResult:
    acct = sim.acct
    rt = sim.rt
    sc = sim.scenario
    m: dict[str, Any] = dict(rt.memstats())
    m["sim_time_ns"] = end
    m["design"] = sim.design.name
    m["gomaxprocs"] = sim.nprocs
    m["goroutines"] = len(sim.gs)
    m["allocs_completed"] = acct.completed
    per_g = [g.allocs for g in sim.gs]
    m["goroutine_allocs_min"] = min(per_g, default=0)
    m["goroutine_allocs_max"] = max(per_g, default=0)
    # -- warm-up and throughput -------------------------------------------------------
    nbins = -(-end // acct.bin_ns) if end else 0
    series = acct.comp_bins[:nbins].astype(float)
    if nbins and end % acct.bin_ns:
        # the last bin is partial: scale so MSER sees a rate, not a count
        series = series.copy()
        series[-1] *= acct.bin_ns / (end % acct.bin_ns)
    wu = sc.warmup
    if wu.method == "fixed":
        # completions are counted per bin: the warm-up ends at the first bin boundary
        # at or after duration_ns, so the count and the time it is divided by agree
        warm_ns = min(-(-wu.duration_ns // acct.bin_ns) * acct.bin_ns, end)
    elif wu.method == "mser5" and nbins >= 10:
        warm_ns = mser5_truncation(series) * acct.bin_ns
    else:
        warm_ns = 0
    warm_ns = min(warm_ns, end)
    comp_after = int(acct.comp_bins[warm_ns // acct.bin_ns:nbins].sum()) if warm_ns else acct.completed
    m["warmup_ns"] = int(warm_ns)
    m["allocs_after_warmup"] = comp_after
    span = end - warm_ns
    m["allocs_per_sim_second"] = comp_after / span * 1e9 if span > 0 else 0.0
    m["sim_ns_per_alloc"] = span * sim.nprocs / comp_after if comp_after else 0.0
    # -- paths and locks --------------------------------------------------------------------
    done = max(acct.completed, 1)
    m["slow_path_allocs"] = acct.slow_allocs
    m["locked_allocs"] = acct.locked_allocs
    m["fast_path_fraction"] = 1 - acct.slow_allocs / done if acct.completed else 0.0
    m["lock_free_fraction"] = 1 - acct.locked_allocs / done if acct.completed else 0.0
    # -- latency -----------------------------------------------------------------------------
    if acct.hist:
        vals = np.array(sorted(acct.hist), dtype=np.int64)
        cnts = np.array([acct.hist[v] for v in vals.tolist()], dtype=np.int64)
        cum = np.cumsum(cnts)
        m["malloc_latency_mean_ns"] = float((vals * cnts).sum() / cum[-1])
        for name, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999)):
            m[f"malloc_latency_{name}_ns"] = _hist_quantile(vals, cum, q)
        m["malloc_latency_max_ns"] = int(vals[-1])
        hist = {"lo_ns": vals.tolist(), "hi_ns": vals.tolist(), "count": cnts.tolist()}
    else:
        for name in ("mean", "p50", "p99", "p999", "max"):
            m[f"malloc_latency_{name}_ns"] = 0
        hist = {"lo_ns": [], "hi_ns": [], "count": []}
    # -- live heap (object lifetimes) -------------------------------------------------------------
    live = 0
    for g in sim.gs:
        kind = g.group.lifetime.kind
        if kind == "keep":
            live += g.live_bytes
        elif kind == "allocations":
            live += sum(g.live_ring)  # type: ignore[arg-type]
        elif kind == "time" and g.comp_times:
            t = np.frombuffer(g.comp_times, dtype=np.int64)
            live += int((t + g.group.lifetime.value > end).sum()) * _obj_bytes(sim, g)
    m["heap_live_bytes_end"] = live
    # -- locks ------------------------------------------------------------------------------------
    locks = [mu.row(end) for mu in sim.mutexes if mu.acquisitions or mu.contended]
    locks += [a.row(end) for a in sim.atomics if a.ops]
    locks.sort(key=lambda r: (r["kind"], r["span_class"], r["lock"]))
    for kind in sorted({r["kind"] for r in locks}):
        rows = [r for r in locks if r["kind"] == kind]
        acq = sum(r["acquisitions"] for r in rows)
        m[f"lock_{kind}_acquisitions"] = acq
        m[f"lock_{kind}_contended"] = sum(r["contended"] for r in rows)
        m[f"lock_{kind}_wait_total_ns"] = sum(r["wait_total_ns"] for r in rows)
        # waits still in progress at the end are waits too (cut at the end)
        nwaits = acq + sum(r["waiting_at_end"] for r in rows)
        m[f"lock_{kind}_wait_mean_ns"] = (
            sum(r["wait_total_ns"] for r in rows) / nwaits if nwaits else 0.0)
        m[f"lock_{kind}_max_utilisation"] = max(r["utilisation"] for r in rows)
    # -- the mutex profile's view: waits by the runtime function that released the lock
    # (the top site as the runtime's profile ranks it, by its own estimate)
    sites = [row for mu in sim.mutexes for row in mu.site_rows(end)]
    sites.sort(key=lambda r: (-r["profile_ns"], r["lock"], r["fn"]))
    m["top_lock_fn"] = sites[0]["fn"] if sites and sites[0]["profile_ns"] > 0 else ""
    total_prof = sum(r["profile_ns"] for r in sites)
    m["top_lock_share"] = sites[0]["profile_ns"] / total_prof if total_prof else 0.0
    m["mutex_wait_total_ns"] = sum(r["wait_ns"] for r in sites)
    # -- the collector ------------------------------------------------------------------------------
    if sim.gc is not None:
        m.update(sim.gc.metrics())
        # cycles that ended after the warm-up (mark termination at or after it)
        m["num_gc_after_warmup"] = sum(1 for t, _ in sim.gc.heap_goal_series if t >= warm_ns)
    else:
        m.update(num_gc=0, num_gc_after_warmup=0, heap_goal_bytes=0, gc_trigger_bytes=0, heap_live_bytes=0,
                 heap_marked_bytes=0, gc_cpu_assist_ns=0, gc_cpu_dedicated_ns=0,
                 gc_cpu_idle_ns=0, gc_cpu_pause_ns=0, gc_pause_total_ns=0, gc_pause_max_ns=0,
                 gc_stw_stopping_mean_ns=0.0,
                 gc_mark_phase_ns=0, gc_assist_parks=0,
                 spans_swept=0, spans_freed_by_sweep=0, scavenge_cpu_ns=0, scavenged_bytes=0,
                 gcbits_arenas_new=rt.mheap.gcbits.new_arenas if rt.mheap.gcbits else 0)
    m["page_faults"] = rt.stats.alloc_page_faults
    # every first write to a fresh OS page (heap spans, object pages, GC bitmaps):
    # the process's minor faults, in all and those that started after the warm-up
    fault_sim = rt.mheap.os_faults.sim
    starts = fault_sim.starts if fault_sim is not None else None
    m["os_page_faults"] = fault_sim.ops if fault_sim is not None else 0
    # the kernel's mean time per fault, contention included (system CPU per fault)
    durs = fault_sim.durations if fault_sim is not None and fault_sim.ops else {}
    m["os_page_fault_mean_ns"] = (sum(ns * k for ns, k in durs.items()) / fault_sim.ops
                                  if durs and fault_sim is not None else 0.0)
    m["os_page_faults_after_warmup"] = (
        int((np.frombuffer(starts, dtype=np.int64) >= warm_ns).sum()) if starts else 0)
    # heap growths that write-locked the memory map, and the faults that slept
    # on one (mmap_write_ns; 0 when it is off)
    mm = fault_sim if isinstance(fault_sim, SimFaults) else None
    m["os_mmap_writes"] = mm.writes if mm is not None else 0
    # sysAlloc's mmaps of new memory outside the heap (the GC bits arenas)
    m["os_mmap_new_writes"] = mm.new_writes if mm is not None else 0
    m["os_page_faults_blocked"] = mm.blocked if mm is not None else 0
    m["os_page_fault_blocked_ns"] = mm.blocked_ns if mm is not None else 0
    gcbits = rt.mheap.gcbits
    m["gcbits_page_faults"] = gcbits.faults if gcbits is not None else 0
    # -- P time ------------------------------------------------------------------------------------
    p_time = []
    cats = set(P_CATEGORIES_FIXED)
    for d in acct.ptime:
        cats.update(d)
    total = {c: 0 for c in cats}
    for pid, d in enumerate(acct.ptime):
        busy = 0
        for c in sorted(cats):
            v = d.get(c, 0)
            busy += v
            p_time.append({"p": pid, "category": c, "ns": v})
            total[c] += v
        idle = max(end - busy, 0)
        p_time.append({"p": pid, "category": "idle", "ns": idle})
        total["idle"] = total.get("idle", 0) + idle
    denom = end * sim.nprocs
    for c, v in sorted(total.items()):
        m[f"p_time_share_{c.replace(':', '_')}"] = v / denom if denom else 0.0
    m["span_classes"] = rt.num_span_classes
    by_size = rt.by_size()
    return RunResult(metrics=m, locks=locks, p_time=p_time, latency_hist=hist,
                     by_size=by_size, timeseries=_timeseries(sim, end),
                     flow=flow_edges(sim, locks, end), lock_sites=sites,
                     gc_cycles=list(sim.gc.cycles) if sim.gc is not None else [])


def _hold_total_ns(row: dict[str, Any], end: int) -> int:
    """A lock row's total hold time: a mutex's time held (``utilisation`` x the
    run, a hold in progress included); a span set's summed operation durations."""
    if row["kind"] == "spanset":
        return round(row["hold_mean_ns"] * row["acquisitions"])
    return round(row["utilisation"] * end)


def flow_edges(sim: Simulation, locks: list[dict[str, Any]], end: int) -> list[dict[str, Any]]:
    """The allocation flow as edge rows (``gosim.analysis.flow`` makes the graph).

    Edges point from the level that asks to the level that supplies:
    goroutine group ``G<i>:<name>`` -> ``P<p>`` (its mcache: mallocs and the
    bytes MemStats charges) -> ``mcentral[spc=N]`` (cacheSpan grants: spans,
    objects and their bytes; ``returns``: uncacheSpan) -> ``mheap`` (spans
    and their bytes; ``returns``: spans freed back) -> ``OS`` (heap growth:
    grows and bytes mapped). A large object goes ``P<p>`` -> ``mheap``
    (mcache.go allocLarge). Each edge carries the lock its target takes (the
    global lock on the way into the caches, the class's mcentral lock or span
    set, mheap.lock): the lock's totals from its lock row, the same on every
    edge into that node. Sweeping and scavenging arrive with the GC model."""
    rt = sim.rt
    st = rt.stats
    table = rt.table
    by_name = {r["lock"]: r for r in locks}
    index = {id(grp): i for i, grp in enumerate(sim.scenario.workload.groups)}
    gnode = [f"G{index[id(g.group)]}:{g.group.name}" for g in sim.gs]

    def edge(src: str, dst: str, lock: str, spc: int = -1, requests: int = 0,
             nbytes: int = 0, objects: int = 0, returns: int = 0,
             returned_bytes: int = 0) -> dict[str, Any]:
        r = by_name.get(lock)
        return {"src": src, "dst": dst, "span_class": spc,
                "elemsize": table.class_to_size(spc >> 1) if spc > 1 else 0,
                "requests": requests, "bytes": nbytes, "objects": objects,
                "returns": returns, "returned_bytes": returned_bytes,
                "lock": lock if r is not None else "",
                "lock_acquisitions": r["acquisitions"] if r else 0,
                "lock_contended": r["contended"] if r else 0,
                "lock_wait_ns": r["wait_total_ns"] if r else 0,
                "lock_hold_ns": _hold_total_ns(r, end) if r else 0}

    rows = []
    into_p: dict[tuple[str, int], list[int]] = {}
    for key, n in st.flow_g_mallocs.items():
        gid, p = flow_pair(key)
        acc = into_p.setdefault((gnode[gid], p), [0, 0])
        acc[0] += n
        acc[1] += st.flow_g_bytes.get(key, 0)
    for (src, p), (n, b) in sorted(into_p.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        rows.append(edge(src, f"P{p}", "global", requests=n, nbytes=b))

    def central_lock(spc: int) -> str:
        c = rt.central[spc]
        return c.lock.name if c.locked else c.spanset.name

    for key in sorted(set(st.flow_cache_spans) | set(st.flow_uncache_spans)):
        p, spc = flow_pair(key)
        objs = st.flow_cache_objects.get(key, 0)
        rows.append(edge(f"P{p}", f"mcentral[spc={spc}]", central_lock(spc), spc,
                         requests=st.flow_cache_spans.get(key, 0), objects=objs,
                         nbytes=objs * table.class_to_size(spc >> 1),
                         returns=st.flow_uncache_spans.get(key, 0)))
    spans: dict[tuple[str, int], list[int]] = {}
    for counter, slot in ((st.flow_span_allocs, 0), (st.flow_span_alloc_pages, 1),
                          (st.flow_span_frees, 2), (st.flow_span_free_pages, 3)):
        for key, v in counter.items():
            p, spc = flow_pair(key)
            # small spans come from their class's mcentral, large ones from the P
            src = (f"mcentral[spc={spc}]", spc) if spc >> 1 else (f"P{p}", -1)
            spans.setdefault(src, [0, 0, 0, 0])[slot] += v
    for (src, spc), (n, pages, nfree, free_pages) in sorted(
            spans.items(), key=lambda kv: (kv[0][1] < 0, kv[0][1], kv[0][0])):
        rows.append(edge(src, "mheap", "mheap", spc, requests=n, nbytes=pages * PAGE_SIZE,
                         returns=nfree, returned_bytes=free_pages * PAGE_SIZE))
    if st.grow_calls:
        rows.append(edge("mheap", "OS", "", requests=st.grow_calls, nbytes=st.grow_bytes))
    return rows


def _obj_bytes(sim: Simulation, g: Any) -> int:
    size = g.sizes.const if g.sizes.const is not None else int(g.group.size.mean_value())
    kind, _spc, elemsize = sim.rt.classify(int(size), bool(g.noscan.const))
    return size if kind == 0 else elemsize


def _timeseries(sim: Simulation, end: int) -> list[dict[str, Any]]:
    acct = sim.acct
    iv = acct.series_bin_ns
    if not iv or not end:
        return []
    per = max(iv // acct.bin_ns, 1)
    nb = -(-end // acct.bin_ns)
    bins = acct.comp_bins[:nb]
    # heap counters as of each interval's end: the last slow path at or before it
    # (goroutine clocks run ahead between synchronisation points, so samples are
    # ordered by their own time, then P)
    heap = sorted(acct.heap_samples)
    j = 0
    inuse = sys_b = released = live = cycles = 0
    rows = []
    for i in range(0, nb, per):
        t0 = i * acct.bin_ns
        t1 = min(t0 + per * acct.bin_ns, end)
        while j < len(heap) and heap[j][0] <= t1:
            _, _, inuse, sys_b, released, live, cycles = heap[j]
            j += 1
        n = int(bins[i:i + per].sum())
        rows.append({"t_ns": t0, "t_end_ns": t1, "allocs": n,
                     "allocs_per_sim_second": n / (t1 - t0) * 1e9 if t1 > t0 else 0.0,
                     "heap_inuse_bytes": inuse, "heap_sys_bytes": sys_b,
                     "heap_idle_bytes": sys_b - inuse, "heap_released_bytes": released,
                     "heap_live_bytes": live, "num_gc": cycles})
    return rows
