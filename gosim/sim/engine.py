"""The simulation: goroutines on Ps driving the allocator model under SimPy.

Time is integer nanoseconds. This module builds a run (runtime, cost model,
lock models, goroutines), holds the step path (one allocation at a time, the
reference) and the goroutine body, and runs the scheduler (``sched.py``).
In ``batched`` mode runs of cache hits go through ``batch.py``; both paths
price an allocation through the one description in ``alloc.py``, and results
are identical metric for metric (tests/test_sim.py).
"""

from __future__ import annotations

import gc as pygc
from typing import Any, Final

import numpy as np
from numpy.random import SeedSequence

from gosim.errors import ConfigError
from gosim.runtime.context import AtomicCell, Mutex
from gosim.runtime.design import get_design
from gosim.runtime.lockrank import LockOrderCheck, lock_ranking
from gosim.runtime.malloc import LARGE, TINY, ZERO, Runtime
from gosim.runtime.mem_linux import page_faults
from gosim.scenario import Scenario
from gosim.sim import batch
from gosim.sim.accounts import Accounts
from gosim.sim.alloc import BARRIER, barrier_on, header_fault, served_cost
from gosim.sim.clock import EventPos, PTimeout
from gosim.sim.costmodel import CostModel
from gosim.sim.env import SimEnv
from gosim.sim.gc import GC_MARK, SimGC, assist_bytes, build_live_heap
from gosim.sim.goroutine import GCtx
from gosim.sim.lifetimes import record_addr
from gosim.sim.locks import RuntimeMutex, SimAtomic, SimFaults, SimFaultsNew, SimLine
from gosim.sim.result import RunResult
from gosim.sim.sched import PREEMPT, Scheduler
from gosim.sim.trace import Tracer

#: Python's generation-0 collection threshold while a simulation runs (700 by default)
GC_THRESHOLD_YOUNG: Final = 50_000
#: the randomized heap base's generator: the run's seed with this word
#: ("heapbase"), a stream apart from the goroutines' spawned ones
_PADDING_STREAM: Final = 0x6865617062617365


class Simulation:
    def __init__(self, scenario: Scenario, *, profile: dict[str, Any] | None = None,
                 cost_record: dict[str, float] | None = None,
                 tracer: Tracer | None = None) -> None:
        self.scenario = scenario
        #: the timeline's collector (``gosim trace``); None: not traced
        self.tracer = tracer
        design = get_design(scenario.design.preset).with_overrides(scenario.design.overrides)
        self.design = design
        self.rt = Runtime(design, scenario.gomaxprocs)
        self.costs = CostModel(dict(design.costs), scenario.costs, profile, record=cost_record)
        #: the write barrier costs time (gosim.sim.alloc.barrier_on)
        self.barrier_cost = self.costs.constants["gc_write_barrier_ns"] != 0
        if any(self.costs.constants[k] != 0
               for k in ("cold_alloc_ns", "cold_per_byte_ns", "cold_span_ns")):
            self.rt.mheap.cold_bytes = self.costs.const("llc_bytes")
        growth = self.costs.const_float("remote_per_p_growth")
        if growth:
            # cache-to-cache transfers dearer with more cores in play (an experiment)
            if self.costs.constants["remote_per_byte_ns"] is None:
                raise ConfigError("remote_per_p_growth needs a constant remote_per_byte_ns, "
                                  "not a distribution", key="costs.remote_per_p_growth")
            self.costs.scale_const("remote_per_byte_ns",
                                   1.0 + growth * max(scenario.gomaxprocs - 2, 0))
        #: which P wrote each span's memory last is tracked (the remote cost is on)
        self.rt.mheap.remote_on = self.costs.constants["remote_per_byte_ns"] != 0
        #: one ``malloc_fast_ns`` as ns when it is a constant (None: drawn), for
        #: ``gosim.sim.alloc.served_cost``
        self.fast_unit_ns: int | None = self.costs.unit_ns["malloc_fast_ns"]
        self.tiny_unit_ns: int | None = self.costs.unit_ns["tiny_fast_ns"]
        #: ``zero_per_byte_ns`` when it is a constant (None: drawn)
        self.zero_per_byte: float | None = self.costs.constants["zero_per_byte_ns"]
        self.env = SimEnv()
        self.batched = scenario.mode == "batched" and not design.global_lock
        #: step mode: the reference that turns every cost into its own SimPy event
        self.eager = scenario.mode == "step"
        #: every sync advances the clock (not only those other Ps must see first)
        self.sync_always = self.eager or scenario.gomaxprocs > 1
        #: a sync whose timeout would be the next event takes the clock without
        #: one (``gosim.sim.goroutine.first_before``); off only to test that the
        #: shortcut changes no result
        self.sync_shortcut = True
        #: the environment's event queue (the same object for the whole run),
        #: read natively by every sync
        self.queue: list[Any] = self.env._queue
        #: the environment's position among events (gosim/sim/clock.py)
        self.pos: EventPos = self.env.pos
        self.T: int | None = scenario.duration_ns
        self.nprocs = scenario.gomaxprocs
        self.time_slice = scenario.time_slice_ns
        self.acct = Accounts(self.T, self.nprocs, scenario.timeseries_interval_ns, tracer)
        if tracer is not None:
            tracer.bind(f"{design.name} GOMAXPROCS={self.nprocs} seed={scenario.seed}",
                        self.nprocs, self.T)
        self.account = self.acct.account
        #: objects of the workload's live heap (set when it is built: gc.py)
        self.live_heap_objects = 0
        # the collector (a thread-caching malloc frees explicitly: no collector)
        self.gc: SimGC | None = (SimGC(self) if scenario.gc.enabled
                                 and design.transfer_batch_objects == 0 else None)
        # attach contention models to the runtime's locks and lock-free cells
        self.mutexes: list[RuntimeMutex] = []
        self.atomics: list[SimAtomic] = []
        rt = self.rt
        mus: list[Mutex] = [rt.mheap.lock]
        if rt.mheap.gcbits is not None:
            mus.append(rt.mheap.gcbits.lock)
        if self.gc is not None:
            mus += [self.gc.sched_lock, self.gc.assist_lock]
        if rt.global_lock is not None:
            mus.append(rt.global_lock)
        cells: list[AtomicCell] = []
        for c in rt.central:
            if c.locked:
                mus.append(c.lock)
            else:
                cells.append(c.spanset)
        if self.gc is not None:
            cells.append(self.gc.heap_live_cell)
        gcbits = rt.mheap.gcbits
        if gcbits is not None and self.costs.const_float("gcbits_line_ns") > 0:
            # the GC bits arena's free index as a line that moves (off by default)
            gcbits.line = AtomicCell("gcBitsArenas.free", "line")
            cells.append(gcbits.line)
        # which mspan structs are fresh from fixalloc is kept only when they cost extra
        rt.mheap.fresh_structs = self.costs.const_float("mspan_fresh_ns") > 0
        if self.costs.const_float("heap_line_ns") > 0:
            # the heap's shared words written by every span allocation (off by default)
            rt.mheap.line = AtomicCell("mheap.arena", "line")
            cells.append(rt.mheap.line)
        cells.append(rt.mheap.os_faults)
        # heap growth write-locks the memory map against page faults (off by default)
        rt.mheap.mm_write = self.costs.const_float("mmap_write_ns") > 0
        # design.mcentral_lock 'shared': every class names the same one
        mus = list(dict.fromkeys(mus))
        cells = list(dict.fromkeys(cells))
        for mu in mus:
            mu.sim = RuntimeMutex(self, mu, policy=scenario.lock_policy, impl=design.mutex)
            self.mutexes.append(mu.sim)
        for cell in cells:
            if cell.kind == "line":
                cell.sim = SimLine(self, cell)
            elif cell.kind == "pagefault" and rt.mheap.mm_write:
                faults = SimFaults(self, cell)
                cell.sim = faults
                # sysAlloc's own mappings: the same path, their own rules
                new = AtomicCell("os.pagefault.new", "pagefault")
                new.sim = SimFaultsNew(self, new, faults)
                rt.mheap.os_faults_new = new
            else:
                cell.sim = SimAtomic(self, cell)
            self.atomics.append(cell.sim)
        # goroutines, with independent seeds spawned from one SeedSequence
        groups = scenario.workload.groups
        total = sum(g.count for g in groups)
        seeds = SeedSequence(scenario.seed).spawn(total)
        #: the lock-order check its goroutines share (None unless the scenario asks)
        self.lock_check = (LockOrderCheck(lock_ranking(design, self.rt))
                           if scenario.check_lock_order else None)
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
        self.sched = Scheduler(self, self.g_body)
        if ((self.costs.const("random_heap_base") or self.costs.const("runtime_init_spans"))
                and design.heap_growth == "chunk"):
            # the replayed start-up is one real process's, padded as its heap was
            self.rt.mheap.base_padding = self._heap_base_padding()
        if self.costs.const("runtime_init_spans"):
            # the real program's start-up spans at the heap's bottom, before
            # anything of the workload's (gosim/runtime/initspans.py)
            from gosim.runtime.initspans import replay

            replay(self.rt, self.nprocs, gc=self.gc is not None)
        if self.gc is not None:
            build_live_heap(self)

    def _heap_base_padding(self) -> int:
        """The pages go1.27's randomized heap base pads the first chunk with
        (mheap.go grow): ``heap_base_padding_pages`` if set, else the start-up
        recording's when it is replayed (the process it was measured in), else
        uniform over 0-511 (22 random bits aligned down to a page) from a
        generator of the run's seed apart from the goroutines' streams."""
        chunk = self.design.palloc_chunk_pages
        n = self.costs.const("heap_base_padding_pages")
        if n <= 0 and self.costs.const("runtime_init_spans"):
            from gosim.runtime.initspans import padding_for

            n = padding_for(self.nprocs, gc=self.gc is not None)
        if n <= 0:
            rng = np.random.default_rng([self.scenario.seed, _PADDING_STREAM])
            n = int(rng.integers(0, chunk))
        if n >= chunk:
            raise ConfigError(f"heap_base_padding_pages must be below {chunk} (the pages of "
                              f"a chunk), got {n}", key="costs.heap_base_padding_pages")
        return n

    # -- one allocation, stepped -----------------------------------------------------------
    def step_one(self, g: GCtx, size: int, noscan: bool) -> Any:
        """mallocgc for one object, every wait and cost through the goroutine's Ctx."""
        rt = self.rt
        acct = self.acct
        t0 = g.vt
        locks_before = g.locks_taken
        # a fixed goroutine's size is its one size: classified once
        kind, spc, elemsize = g.fixed_class() if g.fixed else rt.classify(size, noscan)
        gc = self.gc
        if gc is not None and gc.phase == GC_MARK:
            # malloc.go deductAssistCredit, before the allocation is made
            nb = assist_bytes(kind, size, elemsize)
            if gc.owes(g, nb):
                yield from gc.assist_for(g, nb)
            else:
                gc.charge(g, nb)
        gl = rt.global_lock
        if gl is not None:
            lw = g.lock(gl, "mallocgc")
            if lw:  # (an empty tuple when it took the lock at once)
                yield from lw
        tiny_before = rt.stats.tiny_allocs
        a = rt.try_fast_as(g.p, size, kind, spc, elemsize)
        tiny_fit = kind == TINY and rt.stats.tiny_allocs != tiny_before
        if not a:
            g.sp = True
            acct.slow_allocs += 1
            a = yield from rt.slow_as(g, size, noscan, kind, spc, elemsize)
            if self.T is None or g.vt < self.T:
                h = rt.mheap
                if acct.series_bin_ns:
                    acct.heap_samples.append((
                        g.vt, g.p, h.heap_inuse_bytes, h.sys_bytes, h.heap_released_bytes,
                        gc.ctl.heap_live if gc is not None else 0,
                        gc.num_gc if gc is not None else 0))
                tr = self.tracer
                if tr is not None:
                    tr.heap(g.vt, h.heap_inuse_bytes, h.sys_bytes)
        p = g.p
        if kind == LARGE:  # its costs are the slow path's, but for the program's store
            f = g.price(BARRIER) if barrier_on(g) else 0
        else:
            f = served_cost(rt, g, kind, spc, elemsize, a, tiny_fit)
        if gc is not None and g.lt_kind != "drop" and kind != ZERO:
            record_addr(g, rt.mheap.span_of(a), a, g.vt + f,  # type: ignore[arg-type]
                        rt.ps[p].mcache.marking)
        if f:
            acct.account(p, "fast_path", g.vt, g.vt + f)
            g.vt += f
            if self.eager:  # step mode: every phase of every allocation is an event
                ws = g.sync()
                if ws:
                    yield from ws
        if kind not in (LARGE, ZERO) and not tiny_fit and \
                header_fault(rt.ps[p].mcache.alloc[spc], a):
            # mallocgc's header write was the first to a fresh OS page (counted once
            # taken: a timed run that ends during it counts it in neither mode)
            yield from page_faults(g, rt.mheap.os_faults, 1)
            rt.stats.alloc_page_faults += 1
        if g.touch and kind != ZERO and not tiny_fit:
            # the program writes to every 4 KiB page of its object: fresh ones fault
            s = rt.ps[p].mcache.alloc[spc] if kind != LARGE else rt.mheap.span_of(a)
            n = s.touch_range(a, size if kind == LARGE else elemsize) if s is not None else 0
            if n:
                yield from page_faults(g, rt.mheap.os_faults, n)
                rt.stats.alloc_page_faults += n
        if gl is not None:
            lw = g.unlock(gl)
            if lw:
                yield from lw
        now = g.vt
        if not acct.complete_one(now, now - t0):
            return
        if g.locks_taken != locks_before:
            acct.locked_allocs += 1
        g.note_allocs(size if kind == TINY else elemsize, 1, now)
        w = g.work.next()
        if w:
            acct.account(p, "work", now, now + w)
            g.vt = now + w
            if self.eager:
                ws = g.sync()
                if ws:
                    yield from ws

    # -- the goroutine body ------------------------------------------------------------------
    def g_body(self, g: GCtx) -> Any:
        T = self.T
        gc = self.gc
        while g.remaining != 0:
            if T is not None and g.vt >= T:
                break
            if gc is not None and g.sp:
                g.sp = False
                # the collector's state as of this goroutine's clock (step mode is
                # there already; a batched goroutine may be ahead of the simulation)
                ws = g.sync(True)
                if ws:
                    yield from ws
                if gc.attention(g.vt):
                    yield from gc.safepoint(g)
                    if T is not None and g.vt >= T:
                        break
            pending = None
            if self.batched:
                r = batch.run_fixed(self, g) if g.fixed else None
                if r is not None and r[1] < 0:  # batch.EMPTY
                    # the cache has nothing of this class: straight to the slow path
                    pending = (g.sizes.const, g.noscan.const)
                    k = 0
                elif r is None:
                    k, end, pending = batch.run_generic(self, g)
                else:
                    k, end = r
                    tr = self.tracer
                    if tr is not None and k:  # run_fixed accounts sums, not intervals
                        tr.fast_run(g.p, g.vt, end, k)
                if k:
                    if g.remaining > 0:
                        g.remaining -= k
                    g.vt = end
                    if pending is None:
                        if g.vt >= g.slice_end:
                            ws = g.sync(True)
                            if ws:
                                yield from ws
                            yield PREEMPT
                        continue
                    # the run ended at a request the cache cannot serve, drawn before
                    # the slice ran out (run_generic stops drawing at the boundary)
                    if T is not None and g.vt >= T:
                        break
            if g.remaining == 0:
                break
            if pending is None:
                size, noscan = g.sizes.next(), g.noscan.next()
            else:
                size, noscan = pending
            yield from self.step_one(g, size, noscan)
            if g.remaining > 0:
                g.remaining -= 1
            if g.vt >= g.slice_end:
                ws = g.sync(True)
                if ws:
                    yield from ws
                yield PREEMPT
        # the P moves on only once this goroutine's clock has been reached
        env = self.env
        now = self.pos.now
        if g.vt > now:
            yield PTimeout(env, g.vt - now, g.p, self.pos)

    # -- run ---------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        from gosim.sim.metrics import collect_result

        env = self.env
        self.sched.start()
        # Python's cycle collector traces every span object of a growing heap
        # again and again: collect young objects less often while the events
        # run (faster on long runs in one measurement, within noise in another;
        # no result depends on it)
        thresholds = pygc.get_threshold()
        pygc.set_threshold(GC_THRESHOLD_YOUNG, *thresholds[1:])
        try:
            if self.T is not None:
                env.run(until=self.T)
            else:
                env.run()
        finally:
            pygc.set_threshold(*thresholds)
        if self.T is not None:
            end = self.T
            for mu in self.mutexes:
                mu.expire_all(end)
        else:
            # spin windows still open are the queue's last events: the clock ends
            # at the last of them, as if each had been a SimPy timeout
            end = max([int(env._now)] + [mu.expire_all(None) for mu in self.mutexes])
        for mu in self.mutexes:
            mu.close(end)
        if self.tracer is not None:
            self.tracer.close(end)
        for g in self.gs:
            g.flush_flow()
        self.acct.flush()
        return collect_result(self, end)


def simulate(scenario: Scenario, *, profile: dict[str, Any] | None = None,
             cost_record: dict[str, float] | None = None,
             tracer: Tracer | None = None) -> RunResult:
    """Run one scenario; deterministic for a given scenario (seed included).

    ``profile``: cost-parameter values replacing the defaults (else the
    scenario's ``costs_profile``, if any). ``cost_record``: when given, filled
    with cost-parameter name -> total units charged during the run, for every
    cost the model charges (see ``CostModel.charge``). ``tracer``: collects the
    run's timeline (``gosim/sim/trace.py``); it changes no result."""
    if profile is None and scenario.costs_profile:
        from gosim.sim.profiles import load_profile

        profile = load_profile(scenario.costs_profile)
    return Simulation(scenario, profile=profile, cost_record=cost_record, tracer=tracer).run()
