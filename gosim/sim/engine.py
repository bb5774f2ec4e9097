"""The simulation: goroutines on Ps driving the allocator model under SimPy.

Time is integer nanoseconds. GOMAXPROCS Ps each run one goroutine at a time
(a trampoline process per P drives goroutine generators); a goroutine is
preempted at an allocation boundary once its time slice is used up, and goes
to the global run queue; an idle P takes work from its own queue, the global
queue, then steals from the longest queue (proc.go findRunnable, simplified).

The allocator's fast path touches only the P's mcache, so in ``batched`` mode
a run of cache hits is applied in one step and the goroutine sleeps once to
the end of the run. The run stops exactly where step mode would act
differently (cache exhausted, a time-slice boundary, the end of the run), and
all random draws come from per-goroutine streams (``streams.py``) that yield
the same values however they are consumed, so both modes give identical
metrics (tests/test_sim_equivalence.py).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from numpy.random import SeedSequence

from gosim.errors import ConfigError
from gosim.runtime.context import AtomicCell, Mutex
from gosim.runtime.design import get_design
from gosim.runtime.malloc import LARGE, SMALL, TINY, ZERO, Runtime
from gosim.runtime.mspan import PHYS_PAGE_SHIFT
from gosim.scenario import Scenario
from gosim.sim.costmodel import CostModel
from gosim.sim.env import PTimeout, SimEnv, p_event
from gosim.sim.goroutine import GCtx
from gosim.sim.locks import RuntimeMutex, SimAtomic
from gosim.sim.result import RunResult

PREEMPT = object()
#: largest run of cache hits applied in one step
BATCH_CAP = 8192


class Simulation:
    def __init__(self, scenario: Scenario, *, profile: dict[str, float] | None = None) -> None:
        self.scenario = scenario
        design = get_design(scenario.design.preset).with_overrides(scenario.design.overrides)
        self.design = design
        self.rt = Runtime(design, scenario.gomaxprocs)
        self.costs = CostModel(dict(design.costs), scenario.costs, profile)
        self.env = SimEnv()
        self.lock_policy = scenario.lock_policy
        self.batched = scenario.mode == "batched" and not design.global_lock
        #: step mode: the reference that turns every cost into its own SimPy event
        self.eager = scenario.mode == "step"
        self.T: int | None = scenario.duration_ns
        self.nprocs = scenario.gomaxprocs
        self.time_slice = scenario.time_slice_ns
        # attach contention models to the runtime's locks and lock-free cells
        self.mutexes: list[RuntimeMutex] = []
        self.atomics: list[SimAtomic] = []
        rt = self.rt
        mus: list[Mutex] = [rt.mheap.lock]
        if rt.global_lock is not None:
            mus.append(rt.global_lock)
        cells: list[AtomicCell] = []
        for c in rt.central:
            if c.locked:
                mus.append(c.lock)
            else:
                cells.append(c.spanset)
        for mu in mus:
            mu.sim = RuntimeMutex(self, mu)
            self.mutexes.append(mu.sim)
        for cell in cells:
            cell.sim = SimAtomic(self, cell)
            self.atomics.append(cell.sim)
        # goroutines, with independent seeds spawned from one SeedSequence
        groups = scenario.workload.groups
        total = sum(g.count for g in groups)
        seeds = SeedSequence(scenario.seed).spawn(total)
        self.gs: list[GCtx] = []
        for grp in groups:
            for _ in range(grp.count):
                self.gs.append(GCtx(self, len(self.gs), grp, seeds[len(self.gs)]))
        if self.T is None and any(g.group.allocations is None for g in self.gs):
            raise ConfigError("set duration_ns or an allocations count for every group",
                              key="duration_ns")
        if self.T is not None:
            for g in self.gs:
                if (g.group.work_ns.mean_value() <= 0
                        and self.costs.values["malloc_fast_ns"].mean_value() <= 0
                        and self.costs.values["tiny_fast_ns"].mean_value() <= 0):
                    raise ConfigError(
                        "with zero fast-path cost and zero work a timed run never ends",
                        key="costs.malloc_fast_ns")
        # scheduler state
        self.runq: list[deque[GCtx]] = [deque() for _ in range(self.nprocs)]
        for g in self.gs:
            self.runq[g.gid % self.nprocs].append(g)
        self.global_runq: deque[GCtx] = deque()
        self.idle: dict[int, Any] = {}
        self.live = len(self.gs)
        # accounting
        self.ptime: list[dict[str, int]] = [dict() for _ in range(self.nprocs)]
        self.completed = 0
        self.slow_allocs = 0
        self.locked_allocs = 0
        self.hist: dict[int, int] = {}
        self.bin_ns = max(1000, (self.T // 1000) if self.T else 10_000)
        self.comp_bins = np.zeros(1024, dtype=np.int64)
        self.series_bin_ns = scenario.timeseries_interval_ns
        #: (time, P, heap_inuse_bytes, heap_sys_bytes) after each slow path, for
        #: time series: the heap changes only there
        self.heap_samples: list[tuple[int, int, int, int]] = []

    # -- accounting ---------------------------------------------------------------------
    def account(self, p: int, cat: str, start: int, end: int) -> None:
        T = self.T
        if T is not None:
            if start >= T:
                return
            if end > T:
                end = T
        if end > start:
            d = self.ptime[p]
            d[cat] = d.get(cat, 0) + (end - start)

    def _complete(self, times: np.ndarray, lat: np.ndarray | int) -> None:
        """Record allocations completed at ``times`` (sorted) with latencies ``lat``."""
        T = self.T
        if T is not None:
            m = int(np.searchsorted(times, T, "left"))
            if m < len(times):
                times = times[:m]
                if not isinstance(lat, int):
                    lat = lat[:m]
        n = len(times)
        if n == 0:
            return
        self.completed += n
        if isinstance(lat, int):
            self.hist[lat] = self.hist.get(lat, 0) + n
        else:
            vals, cnts = np.unique(lat, return_counts=True)
            h = self.hist
            for v, c in zip(vals.tolist(), cnts.tolist(), strict=True):
                h[v] = h.get(v, 0) + c
        bins = times // self.bin_ns
        lo, hi = int(bins[0]), int(bins[-1])
        if hi >= len(self.comp_bins):
            grown = np.zeros(max(hi + 1, 2 * len(self.comp_bins)), dtype=np.int64)
            grown[:len(self.comp_bins)] = self.comp_bins
            self.comp_bins = grown
        if lo == hi:
            self.comp_bins[lo] += n
        else:
            self.comp_bins[lo:hi + 1] += np.bincount(bins - lo)

    def _complete_one(self, t: int, lat: int) -> None:
        if self.T is not None and t >= self.T:
            return
        self.completed += 1
        self.hist[lat] = self.hist.get(lat, 0) + 1
        b = t // self.bin_ns
        if b >= len(self.comp_bins):
            grown = np.zeros(max(b + 1, 2 * len(self.comp_bins)), dtype=np.int64)
            grown[:len(self.comp_bins)] = self.comp_bins
            self.comp_bins = grown
        self.comp_bins[b] += 1

    def _track_live(self, g: GCtx, nbytes: int, n: int, t_last: int) -> None:
        kind = g.group.lifetime.kind
        g.allocs += n
        if kind == "keep":
            g.live_bytes += nbytes * n
        elif kind == "allocations":
            ring = g.live_ring
            if n >= ring.maxlen:  # type: ignore[union-attr, operator]
                ring.clear()  # type: ignore[union-attr]
                n = ring.maxlen  # type: ignore[union-attr]
            ring.extend([nbytes] * n)  # type: ignore[union-attr]

    # -- one allocation, stepped -----------------------------------------------------------
    def step_one(self, g: GCtx, size: int, noscan: bool) -> Any:
        rt = self.rt
        t0 = g.vt
        locks_before = g.locks_taken
        gl = rt.global_lock
        if gl is not None:
            yield from g.lock(gl)
        kind, spc, elemsize = rt.classify(size, noscan)
        tiny_before = rt.stats.tiny_allocs
        a = rt.try_fast(g.p, size, noscan)
        tiny_fit = kind == TINY and rt.stats.tiny_allocs != tiny_before
        if not a:
            self.slow_allocs += 1
            a = yield from rt.slow(g, size, noscan)
            if self.series_bin_ns and (self.T is None or g.vt < self.T):
                h = rt.mheap
                self.heap_samples.append((g.vt, g.p, h.heap_inuse_bytes, h.sys_bytes))
        p = g.p
        f = 0 if kind == LARGE else self._fast_cost(g, kind, spc, elemsize, a, tiny_fit)
        if f:
            self.account(p, "fast_path", g.vt, g.vt + f)
            g.vt += f
            if self.eager:  # step mode: every phase of every allocation is an event
                yield from g.sync()
        if gl is not None:
            yield from g.unlock(gl)
        now = g.vt
        if self.T is not None and now >= self.T:
            return
        self._complete_one(now, now - t0)
        if g.locks_taken != locks_before:
            self.locked_allocs += 1
        self._track_live(g, size if kind == TINY else elemsize, 1, now)
        if g.comp_times is not None:
            g.comp_times.append(np.array([now]))
        w = g.work.next()
        if w:
            self.account(p, "work", now, now + w)
            g.vt = now + w
            if self.eager:
                yield from g.sync()

    def _fast_cost(self, g: GCtx, kind: int, spc: int, elemsize: int, addr: int,
                   tiny_fit: bool) -> int:
        """What one allocation costs once the cache has it (malloc.go): the tiny or
        small fast path, zeroing if the span needs it, and a page fault when a
        malloc header is the first write to a fresh OS page."""
        if tiny_fit:
            return g.cost_ns("tiny_fast_ns")
        f = g.cost_ns("malloc_fast_ns")
        if kind != ZERO:
            s = self.rt.ps[g.p].mcache.alloc[spc]
            if s is not None:
                if s.needzero:
                    f += g.cost_ns("zero_per_byte_ns", elemsize)
                if s.header_touch and s.fresh_os and s.touch(addr):
                    self.rt.stats.alloc_page_faults += 1
                    f += g.cost_ns("page_fault_ns")
        return f

    # -- a run of cache hits in one step ------------------------------------------------------
    def batch_fixed(self, g: GCtx) -> tuple[int, int]:
        """Constant size and pointer-ness: vectorised. Returns (allocations, end time)."""
        rt = self.rt
        size, noscan = g.sizes.const, g.noscan.const
        kind, spc, elemsize = rt.classify(size, noscan)  # type: ignore[arg-type]
        if kind != SMALL:
            return 0, 0
        c = rt.ps[g.p].mcache
        avail = c.avail[spc]
        n = min(avail, BATCH_CAP, g.remaining if g.remaining >= 0 else BATCH_CAP)
        if n <= 0:
            return 0, 0
        now = g.vt
        s = c.alloc[spc]
        needzero = bool(s is not None and s.needzero)
        touching = bool(s is not None and s.header_touch and s.fresh_os)
        consts = self.costs.constants
        if (not touching and g.work.const is not None and consts["malloc_fast_ns"] is not None
                and (not needzero or consts["zero_per_byte_ns"] is not None)):
            r = self._batch_arith(g, c, spc, elemsize, n, now, needzero)
            if r is not None:
                return r
        f = g.cost_vec("malloc_fast_ns", n)
        if needzero:
            f = f + g.cost_vec("zero_per_byte_ns", n, elemsize)
        if touching:
            # malloc headers: the first object whose header lands on a fresh OS
            # page faults it in (objects are the next n slots: no holes above
            # freeindex, else step one at a time)
            fi = s.freeindex
            if s.alloc_bits >> fi:
                return 0, 0
            osp = ((fi + np.arange(n, dtype=np.int64)) * elemsize) >> PHYS_PAGE_SHIFT
            first = np.ones(n, dtype=bool)
            first[1:] = osp[1:] != osp[:-1]
            fault = first & (((s.fresh_os >> osp) & 1) == 1)
            nf = int(fault.sum())
            if nf:
                f = f.copy()
                f[fault] += g.cost_vec("page_fault_ns", nf)
        w = g.work.peek(n)
        d = f + w
        b = now + np.cumsum(d)
        st = b - d
        k = n
        if self.T is not None:
            k = min(k, int(np.searchsorted(st, self.T, "left")))
        k = min(k, int(np.searchsorted(b, g.slice_end, "left")) + 1)
        if k <= 0:
            return 0, 0
        c.take(spc, k)
        rt.count_small(c, spc, elemsize, k)
        g.cost_consume("malloc_fast_ns", k)
        if needzero:
            g.cost_consume("zero_per_byte_ns", k)
        if touching and nf:
            kf = int(fault[:k].sum())
            rt.stats.alloc_page_faults += kf
            g.cost_consume("page_fault_ns", kf)
            for j in osp[:k][fault[:k]].tolist():
                s.fresh_os &= ~(1 << j)
        g.work.consume(k)
        f, b, st = f[:k], b[:k], st[:k]
        cpl = st + f
        T = self.T
        if T is not None:
            fast_ns = int((np.minimum(cpl, T) - np.minimum(st, T)).sum())
            work_ns = int((np.minimum(b, T) - np.minimum(cpl, T)).sum())
        else:
            fast_ns = int(f.sum())
            work_ns = int((b - cpl).sum())
        pt = self.ptime[g.p]
        if fast_ns:
            pt["fast_path"] = pt.get("fast_path", 0) + fast_ns
        if work_ns:
            pt["work"] = pt.get("work", 0) + work_ns
        const_f = self.costs.constants["malloc_fast_ns"] is not None and (
            not needzero or self.costs.constants["zero_per_byte_ns"] is not None) and not (
            touching and nf)
        self._complete(cpl, int(f[0]) if const_f else f)
        ncomp = k if T is None else int(np.searchsorted(cpl, T, "left"))
        self._track_live(g, elemsize, ncomp, int(cpl[-1]))
        if g.comp_times is not None:
            g.comp_times.append(cpl[:ncomp].copy())
        return k, int(b[-1])

    def _batch_arith(self, g: GCtx, c: Any, spc: int, elemsize: int, n: int, now: int,
                     needzero: bool) -> tuple[int, int] | None:
        """batch_fixed when every per-allocation time is a constant: the same
        arithmetic on an arithmetic progression, without arrays. None when the
        batch would cross the end of the run (the array path clips it)."""
        f = g.cost_ns("malloc_fast_ns")
        if needzero:
            f += g.cost_ns("zero_per_byte_ns", elemsize)
        w = int(g.work.const)  # type: ignore[arg-type]
        d = f + w
        k = n
        if d > 0:
            # first i with boundary now + (i+1)d >= slice_end, included
            k = min(k, max(1, -(-(g.slice_end - now) // d)))
        T = self.T
        end = now + k * d
        if T is not None and end > T:
            return None
        c.take(spc, k)
        self.rt.count_small(c, spc, elemsize, k)
        pt = self.ptime[g.p]
        if f:
            pt["fast_path"] = pt.get("fast_path", 0) + k * f
        if w:
            pt["work"] = pt.get("work", 0) + k * w
        first, last = now + f, now + (k - 1) * d + f
        bn = self.bin_ns
        if first // bn == last // bn and last // bn < len(self.comp_bins):
            self.completed += k
            self.hist[f] = self.hist.get(f, 0) + k
            self.comp_bins[last // bn] += k
        else:
            self._complete(now + f + d * np.arange(k, dtype=np.int64), f)
        self._track_live(g, elemsize, k, last)
        if g.comp_times is not None:
            g.comp_times.append(now + f + d * np.arange(k, dtype=np.int64))
        return k, end

    def batch_generic(self, g: GCtx) -> tuple[int, int, tuple[int, bool] | None]:
        """Any size mix: a Python loop over cache hits without SimPy events.
        Returns (allocations, end time, the pending request that needs the slow path)."""
        rt = self.rt
        p = g.p
        t = g.vt
        T = self.T
        slice_end = g.slice_end
        stats = rt.stats
        k = 0
        limit = BATCH_CAP if g.remaining < 0 else min(BATCH_CAP, g.remaining)
        comp: list[int] = []
        while k < limit:
            if T is not None and t >= T:
                break
            size = g.sizes.next()
            noscan = g.noscan.next()
            kind, spc, elemsize = rt.classify(size, noscan)
            tiny_before = stats.tiny_allocs
            a = rt.try_fast(p, size, noscan)
            if not a:
                return k, t, (size, noscan)
            f = self._fast_cost(g, kind, spc, elemsize, a,
                                kind == TINY and stats.tiny_allocs != tiny_before)
            cpl = t + f
            self.account(p, "fast_path", t, cpl)
            k += 1
            if T is None or cpl < T:
                self._complete_one(cpl, f)
                self._track_live(g, size if kind == TINY else elemsize, 1, cpl)
                comp.append(cpl)
            w = g.work.next()
            t = cpl + w
            if w:
                self.account(p, "work", cpl, t)
            if t >= slice_end:
                break
        if g.comp_times is not None and comp:
            g.comp_times.append(np.array(comp))
        return k, t, None

    # -- the goroutine body ------------------------------------------------------------------
    def g_body(self, g: GCtx) -> Any:
        T = self.T
        while g.remaining != 0:
            if T is not None and g.vt >= T:
                break
            pending = None
            if self.batched:
                if g.fixed:
                    k, end = self.batch_fixed(g)
                else:
                    k, end, pending = self.batch_generic(g)
                if k:
                    if g.remaining > 0:
                        g.remaining -= k
                    g.vt = end
                    if pending is None:
                        if g.vt >= g.slice_end:
                            yield from g.sync(True)
                            yield PREEMPT
                        continue
                    # the run ended at a request the cache cannot serve, drawn before
                    # the slice ran out (batch_generic stops drawing at the boundary)
                    if T is not None and g.vt >= T:
                        break
            if g.remaining == 0:
                break
            if pending is None:
                pending = (g.sizes.next(), g.noscan.next())
            yield from self.step_one(g, *pending)
            if g.remaining > 0:
                g.remaining -= 1
            if g.vt >= g.slice_end:
                yield from g.sync(True)
                yield PREEMPT
        # the P moves on only once this goroutine's clock has been reached
        env = self.env
        if g.vt > env.now:
            yield PTimeout(env, g.vt - env.now, g.p)

    # -- the scheduler ----------------------------------------------------------------------------
    def find_runnable(self, pid: int) -> GCtx | None:
        if self.runq[pid]:
            return self.runq[pid].popleft()
        if self.global_runq:
            return self.global_runq.popleft()
        victim = max(range(self.nprocs), key=lambda i: (len(self.runq[i]), -i))
        q = self.runq[victim]
        if q:
            take = (len(q) + 1) // 2
            for _ in range(take - 1):
                self.runq[pid].append(q.pop())
            return q.pop()
        return None

    def wake_idle(self) -> None:
        if self.idle:
            pid = min(self.idle)
            ev = self.idle.pop(pid)
            ev.succeed()

    def p_proc(self, pid: int) -> Any:
        env = self.env
        sw = self.costs.constants["sched_switch_ns"]
        while True:
            g = self.find_runnable(pid)
            if g is None:
                if self.live == 0:
                    return
                ev = p_event(env, pid)
                self.idle[pid] = ev
                yield ev
                continue
            g.p = pid
            g.vt = env.now
            g.slice_end = env.now + self.time_slice
            gen = self._gens.get(g.gid)
            if gen is None:
                gen = self.g_body(g)
                self._gens[g.gid] = gen
            val = None
            finished = False
            while True:
                try:
                    ev = gen.send(val)
                except StopIteration:
                    finished = True
                    break
                if ev is PREEMPT:
                    break
                val = yield ev
            if finished:
                g.done = True
                self.live -= 1
                del self._gens[g.gid]
                if self.live == 0:
                    for ev in self.idle.values():
                        ev.succeed()
                    self.idle.clear()
                    return
            else:
                self.global_runq.append(g)
                self.wake_idle()
            c = int(sw + 0.5) if sw is not None else g.cost_ns("sched_switch_ns")
            if c and (self.T is None or env.now < self.T):
                self.account(pid, "sched", env.now, env.now + c)
                yield PTimeout(env, c, pid)

    # -- run ---------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        env = self.env
        self._gens: dict[int, Any] = {}
        for pid in range(self.nprocs):
            proc = env.process(self.p_proc(pid))
            proc.pk = pid  # type: ignore[attr-defined]
        if self.T is not None:
            env.run(until=self.T)
            end = self.T
        else:
            env.run()
            end = int(env.now)
        return self.collect(end)

    # -- results --------------------------------------------------------------------------------------
    def collect(self, end: int) -> RunResult:
        from gosim.sim.metrics import collect_result

        return collect_result(self, end)


def simulate(scenario: Scenario, *, profile: dict[str, float] | None = None) -> RunResult:
    """Run one scenario; deterministic for a given scenario (seed included)."""
    if profile is None and scenario.costs_profile:
        from gosim.sim.profiles import load_profile

        profile = load_profile(scenario.costs_profile)
    return Simulation(scenario, profile=profile).run()
