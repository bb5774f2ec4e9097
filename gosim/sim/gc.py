"""The collector in the simulation: trigger, stop-the-world, mark workers,
assists and mark termination (runtime/mgc.go gcStart / gcMarkDone /
gcMarkTermination, proc.go stopTheWorldWithSema, mgcmark.go gcAssistAlloc,
mgc.go gcBgMarkWorker), on the runtime's pacer (``gosim/runtime/mgcpacer.py``),
marking (``mgcmark.py``) and sweeper (``mgcsweep.py``).

Everything the collector asks of a goroutine happens at a **safepoint**: the
top of the goroutine's allocation loop, where it holds no lock (mallocgc is
not preemptible). There it

- stops for a stop-the-world phase (its P is then ``gc:pause`` until the world
  restarts; a P whose goroutine waits for a runtime lock cannot stop until it
  has the lock and has finished its allocation, as in the runtime);
- starts a cycle if its refill took heapLive past the trigger (``gcStart``:
  finish sweeping, stop the world for sweep termination, start marking);
- pays its assist debt (mark work in proportion to what it allocated while
  marking: background credit first, then work of its own, ``gc:assist``; with
  no work left it parks on the assist queue until mark termination);
- gives its P to a mark worker: the P of a dedicated worker does mark work
  until the cycle's work is done; a fractional worker runs while its P's share
  of the mark phase is below the fractional goal (both ``gc:dedicated``, as
  runtime/metrics counts them);
- finishes the cycle when the mark work is done (``gcMarkDone``: stop the world
  for mark termination: mark verdicts, mcache flush, sweepgen += 2, the pacer's
  next goal and trigger).

Stop-the-world takes the scheduler lock once per P (``gcstopm``) and once
for the coordinator (``stopTheWorldWithSema``): the runtime's mutex profile
shows both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from gosim.runtime.arena import PAGE_SIZE
from gosim.runtime.context import AtomicCell, Mutex, NoSimCtx, run_sync
from gosim.runtime.malloc import LARGE, SMALL, TINY, ZERO
from gosim.runtime.mgcmark import heap_scan_bytes, mark_spans
from gosim.runtime.mgcpacer import GC_BACKGROUND_UTILIZATION, GCController
from gosim.runtime.mgcscavenge import (
    MIN_SCAV_WORK_NS,
    SCAVENGE_MAX_PAGES,
    SCAVENGE_PERCENT,
    pace_scavenger,
    retained_bytes,
    scavenge_one,
    should_stop,
)
from gosim.runtime.mgcsweep import Sweeper
from gosim.sim.clock import PEvent

if TYPE_CHECKING:
    from gosim.sim.engine import Simulation
    from gosim.sim.goroutine import GCtx

#: a mark worker's quantum between checks (preemption, credit flush), ns
WORKER_QUANTUM_NS: Final = 10_000
#: mgcmark.go gcOverAssistWork: scan work an assist does at least, bytes
GC_OVER_ASSIST_WORK: Final = 64 << 10
#: pollFractionalWorkerExit's slack on the fractional utilization goal
FRACTIONAL_SLACK: Final = 1.2
#: mgcmark.go rootBlockBytes: globals scanned by one markroot job
ROOT_BLOCK_BYTES: Final = 256 << 10
#: mgcmark.go drainCheckThreshold: scan work gcDrain does between exit polls
DRAIN_CHECK_THRESHOLD: Final = 100_000
#: GC phases (mgc.go _GCoff, _GCmark)
GC_OFF, GC_MARK = 0, 1


def assist_bytes(kind: int, size: int, elemsize: int) -> int:
    """The bytes an allocation is charged while marking: malloc.go
    deductAssistCredit takes the requested size, and mallocgc adds the
    object's internal fragmentation afterwards, so a small object costs its
    size class, a large one its pages; a tiny one its own size (the block is
    charged to nobody)."""
    if kind == TINY:
        return size
    if kind == LARGE:
        return -(-size // PAGE_SIZE) * PAGE_SIZE
    if kind == ZERO:
        return 0
    return elemsize


class SimGC:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        rt = sim.rt
        self.rt = rt
        spec = sim.scenario.gc
        self.ctl = GCController(gogc=spec.gogc, memory_limit=spec.memory_limit_bytes)
        self.sweeper = Sweeper(rt)
        rt.mheap.sweeper = self.sweeper
        rt.gc_hook = self
        self.nprocs = sim.nprocs
        self.phase = GC_OFF
        self.trigger, self.goal = self.ctl.trigger()
        #: a refill crossed the trigger: the next goroutine at a safepoint starts a cycle
        self.start_pending = False
        self.busy = False  # a cycle is starting or terminating
        # stop-the-world
        self.stw_pending = False
        self.stopped: set[int] = set()
        self.stop_times: dict[int, int] = {}
        self.all_stopped: Any = None
        self.restart: Any = None
        #: goroutines that stopped for the world, in the order they stopped (the
        #: order their preemption put them on the global run queue)
        self.stop_order: list[GCtx] = []
        #: goroutine -> how long after the world restarts an M runs it again
        self.restart_delay: dict[int, int] = {}
        #: Ps whose goroutine waits for the restart chain to reach it (idle Ps)
        self.restarting: set[int] = set()
        #: P -> when the last restart's chain of M wake-ups reaches it
        self.restart_at: dict[int, int] = {}
        #: gcMarkTermination flushes the idle Ps' page caches (an experiment)
        self.flush_idle_pcache = bool(sim.costs.const("gc_flush_idle_page_caches"))
        self.pcache_flushes = 0
        #: startTheWorld wakes one M, and each M that finds a goroutine wakes the
        #: next (wakep, resetspinning): one M wake-up per restarted P
        self.restart_hop_ns = sim.costs.const("m_wakeup_ns")
        #: the stopping M's wake-up on sched.stopnote once the last P has stopped
        self.note_wakeup_ns = sim.costs.const("note_wakeup_ns")
        #: per stop-the-world: how long the stopping M waited for the others
        #: (runtime/metrics /sched/pauses/stopping/gc:seconds)
        self.stoppings: list[int] = []
        self.sched_lock = Mutex("sched", "sched")
        self.heap_live_cell = AtomicCell("gcController.heapLive", "heaplive")
        self.assist_lock = Mutex("assistQueue", "assistqueue")
        # the mark phase
        self.mark_start = 0
        self.work_left = 0.0
        self.work_total = 0.0
        #: the cycle's data/BSS markroot jobs not yet taken: (their part of the
        #: cycle's work, the time scanning them takes), ns each
        self.root_jobs: list[tuple[float, float]] = []
        #: the least a fractional worker marks once found (gcDrain's first exit
        #: poll), ns; 0 unless the roots' scan work is given in bytes
        self.drain_check_ns = 0
        #: the part of work_left that is the live heap's linked list, and until when
        #: the marker now following it holds it (one marker at a time: a pointer chase)
        self.chain_left = 0.0
        self.chain_until = 0
        #: a dedicated worker follows the list this cycle: it keeps it
        self.chain_kept = False
        #: gcFlushBgCredit's ready of a paid-off assist: its cost to the flusher
        #: (under the assist queue's lock) and the readied goroutine's wait for an M
        self.ready_ns = sim.costs.const("assist_ready_ns")
        self.resume_ns = sim.costs.const("assist_resume_ns")
        self.over_assist_ns = GC_OVER_ASSIST_WORK * sim.costs.const_float("gc_mark_per_byte_ns")
        #: the scan work (Go's unit: bytes) of the roots besides the heap: the
        #: data/BSS globals, and the rest (the runtime's own heap, stacks)
        self.globals_bytes = sim.costs.const("gc_globals_bytes")
        self.root_scan_bytes = sim.costs.const("gc_root_scan_bytes")
        self.root_scan_per_p_bytes = sim.costs.const("gc_root_scan_per_p_bytes")
        self.globals_per_byte = sim.costs.const_float("gc_globals_scan_per_byte_ns")
        lh = sim.scenario.workload.live_heap
        if lh.bytes > 0 and lh.linked and not lh.pointer_free:
            _, _, elemsize = rt.classify(lh.object_size, False)
            self.chain_bytes = -(-lh.bytes // lh.object_size) * elemsize
        else:
            self.chain_bytes = 0
        self.bg_credit = 0.0
        self.assist_ns_per_byte = 0.0
        #: the runtime's (and the program's) own heap objects beside the
        #: workload's: allocated before time 0, so in heapLive from the start,
        #: and marked every cycle (their scanning is in the root costs)
        self.runtime_heap = (sim.costs.const("runtime_heap_bytes")
                             + sim.costs.const("runtime_heap_per_p_bytes") * self.nprocs)
        self.ctl.heap_live += self.runtime_heap
        self.dedicated_ps: frozenset[int] = frozenset()
        self.frac_ns = [0] * self.nprocs
        self.frac_t0 = 0
        #: P passed through the scheduler since its fractional worker last looked
        self.sched_point = [False] * self.nprocs
        self.parked: list[tuple[GCtx, Any]] = []
        self.mark_done_ev: Any = None
        # statistics
        self.num_gc = 0
        self.cpu = {"assist": 0, "dedicated": 0, "idle": 0, "pause": 0, "scavenge": 0}
        #: the background scavenger (mgcscavenge.go bgscavenge): whether the design
        #: has one; when it next runs (None: parked, as it starts, until a sweep
        #: termination wakes it); whether a run is in progress on some P; its
        #: goals (gcPercentGoal, memoryLimitGoal: 0 until the first mark
        #: termination paces it, as the runtime's zero values)
        self.scav_on = sim.design.scavenger == "background"
        self.scav_next: int | None = None
        self.scav_running = False
        self.scav_gp = 0
        self.scav_ml = 0
        self.pauses: list[int] = []
        #: time from the start of marking to mark termination, summed over the cycles
        self.mark_phase_ns = 0
        #: assists that found too little credit and work and parked (gcParkAssist)
        self.assist_parks = 0
        #: bytes charged to goroutines' assist balances (each cycle's row in
        #: ``cycles`` compares them with the runtime's count of bytes allocated)
        self.charged_bytes = 0
        #: one row per completed cycle, as GODEBUG=gctrace=1,gcpacertrace=1 would
        #: print it (RunResult.gc_cycles, gc_cycles.parquet)
        self.cycles: list[dict[str, Any]] = []
        self._cycle_start: dict[str, Any] = {}
        self.heap_goal_series: list[tuple[int, int]] = []

    def attention(self, vt: int) -> bool:
        """Does a goroutine at clock vt have collector business at its safepoint?"""
        return (self.start_pending or self.stw_pending or self.phase == GC_MARK
                or (self.scav_next is not None and vt >= self.scav_next))

    # -- hooks from the runtime (malloc.go / mcache.go) ----------------------------------
    def heap_live(self) -> int:
        return self.ctl.heap_live

    def refilled(self, ctx: Any, nbytes: int) -> Any:
        """mcache refill / large allocation: heapLive grows by nbytes (the new
        span's free bytes), one atomic add on a global word that every P's
        refills share (mgcpacer.go gcControllerState.update); the trigger and
        the assist debt follow. Runs without a generator unless the atomic waits."""
        w = ctx.atomic(self.heap_live_cell, "heaplive_atomic_ns")
        if w:
            return self._refilled_after(w, ctx, nbytes)
        self.heap_live_add(ctx, nbytes)
        return ()

    def _refilled_after(self, w: Any, ctx: Any, nbytes: int) -> Any:
        yield from w
        self.heap_live_add(ctx, nbytes)

    def heap_live_add(self, ctx: Any, nbytes: int) -> None:
        """heapLive grows by nbytes (a refill's or a ballast span's): the trigger
        follows (assist debt is charged per allocation: :meth:`owes`)."""
        ctl = self.ctl
        ctl.heap_live += nbytes
        if self.phase == GC_OFF and ctl.heap_live >= self.trigger and not self.busy:
            self.start_pending = True

    # -- assist credit, per allocation (malloc.go deductAssistCredit) ---------------------
    def owes(self, g: GCtx, nbytes: int) -> bool:
        """While marking, every allocation is charged to its goroutine before it
        is made (its bytes at ``assistWorkPerByte``); a goroutine whose balance
        goes into debt assists first (gcAssistAlloc). Would ``nbytes`` more put
        ``g`` in debt?"""
        return (self.phase == GC_MARK
                and g.gc_debt + (g.gc_pending + nbytes) * self.assist_ns_per_byte > 0)

    def allowed(self, g: GCtx, nbytes: int, n: int) -> int:
        """How many of the next ``n`` allocations of ``nbytes`` each ``g`` makes
        before one would put it in debt (all ``n`` when not marking): the same
        count as asking :meth:`owes` before each."""
        if self.phase != GC_MARK or nbytes <= 0:
            return n
        rate = self.assist_ns_per_byte
        if rate <= 0:
            return n
        debt, pend = g.gc_debt, g.gc_pending
        k = int((-debt / rate - pend) // nbytes)
        k = max(0, min(k, n))
        # the division rounds: settle on the exact test at the boundary
        while k > 0 and debt + (pend + k * nbytes) * rate > 0:
            k -= 1
        while k < n and not debt + (pend + (k + 1) * nbytes) * rate > 0:
            k += 1
        return k

    def charge(self, g: GCtx, nbytes: int) -> None:
        """``nbytes`` allocated while marking, within the goroutine's credit."""
        if self.phase == GC_MARK:
            g.gc_pending += nbytes
            self.charged_bytes += nbytes

    def assist_for(self, g: GCtx, nbytes: int) -> Any:
        """deductAssistCredit for an allocation that puts ``g`` in debt: the debt
        is taken on and paid (gcAssistAlloc: credit stolen, mark work done, or
        parked until background credit pays it), at a safepoint."""
        g.gc_debt += (g.gc_pending + nbytes) * self.assist_ns_per_byte
        g.gc_pending = 0
        self.charged_bytes += nbytes
        yield from self.safepoint(g)

    def released(self, nbytes: int) -> None:
        """mcache releaseAll: the unused part of a cached span leaves heapLive."""
        self.ctl.heap_live -= nbytes

    # -- accounting --------------------------------------------------------------------------
    def _acct(self, p: int, cat: str, start: int, end: int) -> None:
        if end > start:
            self.sim.account(p, "scavenge" if cat == "scavenge" else "gc:" + cat, start, end)
            T = self.sim.T
            lo, hi = start, end if T is None else min(end, T)
            if hi > lo:
                self.cpu[cat] += hi - lo

    def _spend(self, g: GCtx, cat: str, ns: int) -> Any:
        if ns > 0:
            self._acct(g.p, cat, g.vt, g.vt + ns)
            g.vt += ns
            w = g.sync(True)
            if w:
                yield from w

    # -- the safepoint ----------------------------------------------------------------------
    def safepoint(self, g: GCtx) -> Any:
        w = g.sync(True)
        if w:
            yield from w
        if self.stw_pending:
            yield from self._stop(g)
        if self.start_pending and not self.busy and self.phase == GC_OFF:
            yield from self.gc_start(g)
        if (self.scav_next is not None and g.vt >= self.scav_next and not self.stw_pending
                and not self.scav_running):
            yield from self._scavenge(g)
        if self.phase != GC_MARK:
            return
        if g.p in self.dedicated_ps and self.work_left > 0:
            # the P is the dedicated worker's (the goroutine waits, its debt
            # paid by the worker's credit)
            yield from self._work(g, "dedicated", self.work_left)
        if g.gc_debt > 0 and self.phase == GC_MARK:
            yield from self._assist(g)
        if (self.phase == GC_MARK and self.work_left > 0 and g.p not in self.dedicated_ps
                and self.ctl.fractional_goal > 0 and self.sched_point[g.p]):
            # the fractional worker is found by schedule() (proc.go
            # findRunnableGCWorker), so it runs only where the P passes through
            # the scheduler: a time-slice preemption or a goroutine that
            # parked; a goroutine allocating in a loop reaches no other. It
            # runs until its share of the mark phase exceeds 1.2 x its goal
            # (pollFractionalWorkerExit).
            self.sched_point[g.p] = False
            budget = self._fractional_budget(g.p, g.vt)
            if budget > 0:
                _, spent = yield from self._work(g, "dedicated", budget)
                self.frac_ns[g.p] += spent
        if self.phase == GC_MARK and self.work_left <= 0 and not self.busy:
            yield from self.mark_done(g)

    def _fractional_budget(self, pid: int, now: int) -> int:
        """How long P ``pid``'s fractional worker, found by the scheduler at
        ``now``, marks (0: not at all). findRunnableGCWorker runs it unless the
        P's fractional time over the time since markStartTime (taken before
        sweep termination's stop) already exceeds the goal; it then drains
        until pollFractionalWorkerExit finds that share, its current run
        included, above 1.2 x the goal: (f + t) / (d + t) > 1.2 g, so
        t = (1.2 g d - f) / (1 - 1.2 g) (mgcpacer.go, mgc.go)."""
        goal = self.ctl.fractional_goal
        delta = now - self.frac_t0
        f = self.frac_ns[pid]
        if delta > 0 and f > goal * delta:
            return 0
        # the goal is at most 0.25 (startCycle), so the slack stays below 1
        slack = FRACTIONAL_SLACK * goal
        t = (slack * delta - f) / (1.0 - slack)
        # gcDrain polls the exit test between root jobs and first after
        # drainCheckThreshold units of heap work: a worker that runs marks at
        # least that much (when the roots' scan work is given in bytes), or a
        # little
        return max(int(t) + 1, self.drain_check_ns, WORKER_QUANTUM_NS // 10)

    # -- the background scavenger (mgcscavenge.go bgscavenge) -------------------------------
    def _scavenge(self, g: GCtx) -> Any:
        """One run of the scavenger on g's P (mgcscavenge.go scavengerState.run):
        64 KiB steps (``scavengeOne`` under mheap.lock) until retained memory is
        within its goals, nothing is left to release (a step released less than
        64 KiB) or the run has worked ``minScavWorkTime``; then it parks if it
        released nothing, else sleeps to keep to ``scavengePercent`` of
        GOMAXPROCS CPUs, counting at least ``minScavWorkTime`` of work
        (``scavengerState.sleep``). A sweep termination wakes it either way."""
        h = self.rt.mheap
        costs = self.sim.costs
        self.scav_next = None
        self.scav_running = True
        released = worked = 0
        while worked < MIN_SCAV_WORK_NS and not self.stw_pending:
            if should_stop(retained_bytes(h), self.scav_gp, self.scav_ml):
                break
            t = g.vt
            yield from g.lock(h.lock, "(*pageAlloc).scavengeOne")
            n = scavenge_one(h)
            yield from self._spend(g, "scavenge", costs.const("scavenge_ns"))
            yield from g.unlock(h.lock)
            if n:
                yield from self._spend(
                    g, "scavenge", int(costs.const_float("scavenge_per_page_ns") * n))
            released += n
            worked += g.vt - t
            if n < SCAVENGE_MAX_PAGES:
                break
        self.scav_running = False
        if released:
            # cpuFraction = worked / ((slept + worked) x GOMAXPROCS) at its 1% target
            worked = max(worked, MIN_SCAV_WORK_NS)
            sleep = worked * 100 // (SCAVENGE_PERCENT * self.nprocs) - worked
            self.scav_next = g.vt + max(sleep, 0)

    def _wake_scavenger(self, now: int) -> None:
        """scavengerState.wake from finishsweep_m: a parked or sleeping scavenger
        runs again (a running one is not parked and is left alone)."""
        if self.scav_on and not self.scav_running:
            self.scav_next = now

    # -- stop-the-world ---------------------------------------------------------------------
    def scheduled(self, pid: int) -> None:
        """P ``pid`` went through the scheduler (a goroutine starts or resumes its
        time slice, or resumes after parking)."""
        self.sched_point[pid] = True

    def p_idle(self, pid: int) -> None:
        """The scheduler's P ``pid`` found nothing to run: it counts as stopped."""
        if self.stw_pending:
            self._mark_stopped(pid, self.sim.pos.now)

    def _mark_stopped(self, pid: int, now: int) -> None:
        if pid not in self.stopped:
            self.stopped.add(pid)
            self.stop_times[pid] = now
            if len(self.stopped) == self.nprocs and self.all_stopped is not None:
                ev, self.all_stopped = self.all_stopped, None
                ev.succeed()

    def _stop(self, g: GCtx) -> Any:
        """gcstopm: this P stops for the world to stop, until it restarts."""
        yield from g.lock(self.sched_lock, "gcstopm")
        yield from self._spend_pause(g, self.sim.costs.const("gc_stw_per_p_ns") // 2)
        yield from g.unlock(self.sched_lock)
        ev = self.restart
        if not self.stw_pending or ev is None:
            return  # the world stopped without this P (idle or parked) and restarted
        t = g.vt
        self._mark_stopped(g.p, t)
        self.stop_order.append(g)
        yield ev
        g.vt = self.sim.pos.now
        self._acct(g.p, "pause", t, g.vt)
        d = self.restart_delay.pop(g.gid, 0)
        if d:
            # preempted for the stop, the goroutine went to the global run queue
            # and its P to the idle list (proc.go goschedImpl, procresize); it
            # runs when the chain of woken Ms reaches it. Meanwhile the P is idle.
            self.restarting.add(g.p)
            g.vt += d
            yield from g.sync(True)
            self.restarting.discard(g.p)
            # the M that takes it runs schedule(), which looks for a GC worker
            # before the run queues (proc.go schedule, findRunnableGCWorker);
            # the goroutine that started the cycle runs on without one
            self.sched_point[g.p] = True
            if self.stw_pending:  # the world stopped again before it ran
                yield from self._stop(g)

    def _spend_pause(self, g: GCtx, ns: int) -> Any:
        yield from self._spend(g, "pause", ns)

    def stop_the_world(self, g: GCtx) -> Any:
        """stopTheWorldWithSema: ask every P to stop and wait until they have."""
        yield from g.lock(self.sched_lock, "stopTheWorldWithSema")
        self.stw_pending = True
        self.stopped = set()
        self.stop_times = {}
        self.restart = PEvent(self.sim.env, g.p, self.sim.pos)
        self.stw_t0 = g.vt
        yield from g.unlock(self.sched_lock)
        self._mark_stopped(g.p, g.vt)
        for pid in self.sim.sched.idle:
            self._mark_stopped(pid, g.vt)
        for pg, _ in self.parked:
            self._mark_stopped(pg.p, g.vt)
        for pid in self.restarting:
            self._mark_stopped(pid, g.vt)
        if len(self.stopped) < self.nprocs:
            ev = PEvent(self.sim.env, g.p, self.sim.pos)
            self.all_stopped = ev
            t = g.vt
            yield ev
            # asleep in notetsleep(&sched.stopnote): the last P to stop wakes it
            g.vt = self.sim.pos.now + self.note_wakeup_ns
            self._acct(g.p, "pause", t, g.vt)
        self.stoppings.append(g.vt - self.stw_t0)

    def start_the_world(self, g: GCtx) -> None:
        """startTheWorldWithSema: every stopped P runs again."""
        self.stw_pending = False
        self.pauses.append(g.vt - self.stw_t0)
        # startTheWorldWithSema: Ps without local work go idle and one M is
        # woken; the goroutines preempted for the stop wait on the global run
        # queue, and each M that takes one wakes the next (one per hop)
        hop = self.restart_hop_ns
        self.restart_at = {}
        for k, gg in enumerate(self.stop_order, 1):
            if gg is not g:
                self.restart_delay[gg.gid] = k * hop
                self.restart_at[gg.p] = g.vt + k * hop
        self.stop_order = []
        ev, self.restart = self.restart, None
        ev.succeed()

    # -- a cycle ---------------------------------------------------------------------------
    def gc_start(self, g: GCtx) -> Any:
        """mgc.go gcStart: finish sweeping, sweep termination, start marking."""
        self.busy = True
        self.start_pending = False
        sim = self.sim
        costs = sim.costs
        yield from self.sweeper.finish(g)
        self._wake_scavenger(g.vt)
        yield from self.stop_the_world(g)
        stw = costs.const("gc_stw_ns") + costs.const("gc_stw_per_p_ns") * self.nprocs
        yield from self._spend_pause(g, stw)
        # setGCPhase(_GCmark): from here on, new objects are allocated black
        self.phase = GC_MARK
        self.mark_start = g.vt
        self._cycle_start = {"start_ns": self.stw_t0, "heap_live_at_trigger_bytes": self.ctl.heap_live,
                             "trigger_bytes": self.trigger, "heap_goal_bytes": self.goal,
                             "cpu": dict(self.cpu), "parks": self.assist_parks,
                             "pauses": len(self.pauses),
                             "allocated": self.rt.stats.total_alloc_bytes,
                             "charged": self.charged_bytes}
        for pp in self.rt.ps:
            pp.mcache.marking = True
        self.ctl.start_cycle(self.nprocs)
        scan = heap_scan_bytes(self.rt, g.vt)
        per_byte = costs.const_float("gc_mark_per_byte_ns")
        work = (costs.const("gc_mark_root_ns") + costs.const("gc_mark_root_per_p_ns") * self.nprocs
                + per_byte * scan)
        self.work_left = self.work_total = float(work)
        self.chain_left = per_byte * min(self.chain_bytes, scan)
        units = (self.globals_bytes + self.root_scan_bytes
                 + self.root_scan_per_p_bytes * self.nprocs)
        if units > 0:
            # the roots' scan work given in Go's unit: the cycle's mark time per
            # unit converts what Go counts in scan work to time. The data and
            # BSS globals are markroot jobs of up to rootBlockBytes, each scanned
            # whole by the marker that takes it (gcDrain and gcDrainN take root
            # jobs first and poll for their exit only between jobs); an assist
            # does at least gcOverAssistWork, and a fractional worker at least
            # drainCheckThreshold before its first exit poll (mgcmark.go)
            # Scanning the globals takes their own time (scanblock skips a
            # pointer-free 64-byte stretch with one load) but counts their
            # length as scan work (markrootBlock): the rest of the roots and
            # the heap set the time per unit, and the globals' jobs are
            # worth their length at it in the cycle's work (what assists are
            # credited, workers flush as background credit and the mark
            # must get through), taking only their own time
            g_time = min(float(work), self.globals_bytes * self.globals_per_byte)
            rest = units + scan - self.globals_bytes
            per_unit = (work - g_time) / rest if rest > 0 else work / (units + scan)
            jobs = []
            left = self.globals_bytes
            while left > 0:
                b = min(left, ROOT_BLOCK_BYTES)
                jobs.append((b * per_unit, g_time * b / self.globals_bytes))
                left -= b
            self.root_jobs = jobs
            self.work_left = self.work_total = work - g_time + self.globals_bytes * per_unit
            self.over_assist_ns = GC_OVER_ASSIST_WORK * per_unit
            self.drain_check_ns = int(DRAIN_CHECK_THRESHOLD * per_unit)
        self.chain_until = g.vt
        self.scan_expected = scan
        self.bg_credit = 0.0
        distance = max(self.goal - self.ctl.heap_live, 64 << 10)
        self.assist_ns_per_byte = work / distance
        # dedicated workers on the highest-numbered Ps (the runtime takes whichever
        # Ps schedule first; a fixed choice keeps runs deterministic)
        self.dedicated_ps = frozenset(range(self.nprocs - self.ctl.dedicated, self.nprocs))
        # they start with the world: one of them finds the list's root and keeps
        # it, if any runs at all (a worker takes its P at its goroutine's safepoint)
        self.chain_kept = any(gg.p in self.dedicated_ps for gg in sim.gs)
        self.frac_ns = [0] * self.nprocs
        # gcController.markStartTime: gcStart reads the clock before sweep
        # termination stops the world (mgc.go), and the fractional workers'
        # share is reckoned from there
        self.frac_t0 = self.stw_t0
        #: P passed through the scheduler since its fractional worker last looked
        #: (every P whose goroutine the stop preempted does as it restarts: _stop)
        self.sched_point = [False] * self.nprocs
        for gg in sim.gs:
            gg.gc_debt = 0.0
            gg.gc_pending = 0
        self.start_the_world(g)
        self.busy = False

    def _work(self, g: GCtx, cat: str, budget: float) -> Any:
        """Mark work on g's P for up to ``budget`` ns of the cycle's work, in
        quanta: (work done, time it took), which differ only for the globals'
        root jobs."""
        done = 0
        spent = 0
        while self.work_left > 0 and budget > 0 and not self.stw_pending:
            free = self.work_left - self.chain_left
            t = -1
            if self.root_jobs:
                # a markroot job not yet taken (gcDrain and gcDrainN take root
                # jobs first): this marker scans all of it, whatever its budget
                job, job_time = self.root_jobs.pop(0)
                q = int(job) or 1
                t = int(job_time)
            elif free > 0:  # roots and objects any marker can take (gcDrain's work queues)
                q = int(min(WORKER_QUANTUM_NS, free, budget)) or 1
            elif g.vt >= self.chain_until and (not self.chain_kept or g.p in self.dedicated_ps):
                # the list's next node: this marker follows it. A node a marker
                # greys goes into its P's gcWork buffer (mgcwork.go), which no
                # other P drains, so a dedicated worker keeps the list: assists
                # and fractional workers elsewhere find no work, and assists park
                # until its credit pays them (gcParkAssist, gcFlushBgCredit).
                # Without dedicated workers (1-3 Ps) assists and the fractional
                # workers take turns.
                q = int(min(WORKER_QUANTUM_NS, self.chain_left, budget)) or 1
                self.chain_left = max(self.chain_left - q, 0.0)
                self.chain_until = g.vt + q
            else:  # only the list is left, and another marker is following it
                break
            self.work_left -= q
            budget -= q
            done += q
            if cat != "assist":
                self.bg_credit += q
            if t < 0:
                t = q
            spent += t
            yield from self._spend(g, cat, t)
            if self.parked and cat != "assist":
                yield from self._flush_bg_credit(g, cat)
        return done, spent

    def _flush_bg_credit(self, g: GCtx, cat: str) -> Any:
        """gcFlushBgCredit: hand background credit to parked assists. Each one
        paid off is readied under the queue's lock (proc.go ready: onto this
        P's run queue, and wakep starts an M for an idle P, which steals it),
        at ``assist_ready_ns`` of the flusher's time (its category ``cat``);
        the goroutine runs ``assist_resume_ns`` later (``_assist``)."""
        yield from g.lock(self.assist_lock, "gcFlushBgCredit")
        still = []
        readied = 0
        for pg, ev in self.parked:
            take = min(pg.gc_debt, self.bg_credit)
            pg.gc_debt -= take
            self.bg_credit -= take
            if pg.gc_debt <= 0:
                self.stopped.discard(pg.p)
                ev.succeed()
                readied += 1
            else:
                still.append((pg, ev))
        self.parked = still
        if readied and self.ready_ns:
            yield from self._spend(g, cat, readied * self.ready_ns)
        yield from g.unlock(self.assist_lock)

    def _assist(self, g: GCtx) -> Any:
        """gcAssistAlloc: pay the debt from background credit, then by marking;
        with no work left, park on the assist queue until mark termination.
        An assist takes or does at least gcOverAssistWork (64 KiB of scan work)
        and keeps what it did beyond its debt as credit (negative debt)."""
        need = max(g.gc_debt, self.over_assist_ns)
        take = min(need, self.bg_credit)
        g.gc_debt -= take
        self.bg_credit -= take
        if g.gc_debt <= 0:
            return
        done, _ = yield from self._work(g, "assist", need - take)
        g.gc_debt -= done
        if g.gc_debt <= 0 or self.phase != GC_MARK:
            return
        if self.work_left <= 0 and not self.busy:
            return  # this goroutine finishes the cycle (mark_done)
        # gcParkAssist
        yield from g.lock(self.assist_lock, "gcParkAssist")
        ev = PEvent(self.sim.env, g.p, self.sim.pos)
        self.parked.append((g, ev))
        self.assist_parks += 1
        yield from g.unlock(self.assist_lock)
        if self.stw_pending:
            self._mark_stopped(g.p, g.vt)
        yield ev
        g.vt = self.sim.pos.now  # parked: the P ran nothing of this goroutine's
        if self.phase == GC_MARK and self.resume_ns:
            # readied by a credit flush (mark termination readies every parked
            # assist as the world restarts: start_the_world's chain times that)
            g.vt += self.resume_ns
            yield from g.sync(True)
        g.gc_debt = 0.0
        self.sched_point[g.p] = True  # it was made runnable and scheduled again

    def mark_done(self, g: GCtx) -> Any:
        """gcMarkDone + gcMarkTermination."""
        self.busy = True
        sim = self.sim
        costs = sim.costs
        rt = self.rt
        yield from self.stop_the_world(g)
        stw = costs.const("gc_stw_ns") + costs.const("gc_stw_per_p_ns") * self.nprocs
        yield from self._spend_pause(g, stw)
        self.phase = GC_OFF
        cs = self._cycle_start
        allocated = rt.stats.total_alloc_bytes - cs["allocated"]
        charged = self.charged_bytes - cs["charged"]
        for pp in rt.ps:
            pp.mcache.marking = False
        # endCycle reads heapLive as the refills left it, every cached span
        # counted whole (mgc.go gcMarkDone calls it before gcMarkTermination)
        heap_live_end = self.ctl.heap_live
        # every P's mcache is flushed (prepareForSweep -> releaseAll). Its spans
        # were cached before this cycle's sweepgen bump, so releaseAll leaves
        # heapLive alone ("heapLive was totally recomputed since caching this
        # span", mcache.go): resetLive sets it to the marked heap below
        for pp in rt.ps:
            self.flush_mcache(pp)
        marked, scan = mark_spans(rt, self.mark_start)
        marked += self.runtime_heap
        used = self.work_total - max(self.work_left, 0.0)
        mark_wall = max(g.vt - self.mark_start, 1)
        # endCycle: the background goal plus the assists' share of the Ps' time
        assist_ns = self.cpu["assist"] - cs["cpu"]["assist"]
        util = min(0.99, GC_BACKGROUND_UTILIZATION + assist_ns / (mark_wall * self.nprocs))
        # the cycle's scan work in bytes, roots included (their time at the
        # heap's scan rate): what the pacer's runway and consMark count
        per_byte = costs.const_float("gc_mark_per_byte_ns")
        scan_work = int(used / per_byte) if per_byte > 0 else self.scan_expected
        self.ctl.end_cycle(marked, scan, max(scan_work, 1), util)
        rt.mheap.sweepgen += 2
        # memstats.lastHeapInUse: every span still in use (nothing swept yet)
        last_inuse = rt.mheap.heap_inuse_bytes
        last_goal = self.goal
        self.trigger, self.goal = self.ctl.trigger(self._non_heap_bytes())
        if self.scav_on:
            self.scav_gp, self.scav_ml = pace_scavenger(
                retained_bytes(rt.mheap), last_inuse, self.goal, last_goal,
                self.ctl.memory_limit)
        self.sweeper.start_cycle(self.ctl.heap_live, self.trigger, self.mark_start)
        gcbits = rt.mheap.gcbits
        if gcbits is not None:
            gcbits.next_epoch()
        self.num_gc += 1
        self.mark_phase_ns += g.vt - self.mark_start
        self.heap_goal_series.append((g.vt, self.goal))
        self.cycles.append({
            "cycle": self.num_gc, "start_ns": cs["start_ns"], "mark_start_ns": self.mark_start,
            "mark_end_ns": g.vt, "trigger_bytes": cs["trigger_bytes"],
            "heap_live_at_trigger_bytes": cs["heap_live_at_trigger_bytes"],
            "heap_live_at_mark_end_bytes": heap_live_end, "heap_marked_bytes": marked,
            "heap_goal_bytes": cs["heap_goal_bytes"], "scan_work_bytes": scan_work,
            "cons_mark": self.ctl.cons_marks[-1], "utilization": util,
            "next_trigger_bytes": self.trigger, "next_goal_bytes": self.goal,
            "assist_ns": self.cpu["assist"] - cs["cpu"]["assist"],
            "dedicated_ns": self.cpu["dedicated"] - cs["cpu"]["dedicated"],
            "pause_ns": self.cpu["pause"] - cs["cpu"]["pause"],
            "assist_parks": self.assist_parks - cs["parks"],
            "allocated_while_marking_bytes": allocated,
            "charged_while_marking_bytes": charged,
            "stops": len(self.pauses) - cs["pauses"] + 1})
        parked, self.parked = self.parked, []
        for pg, ev in parked:
            pg.gc_debt = 0.0
            ev.succeed()
        self.work_left = 0.0
        self.start_the_world(g)
        if self.flush_idle_pcache:
            yield from self._flush_idle_page_caches(g)
        self.busy = False
        if self.ctl.heap_live >= self.trigger:
            self.start_pending = True

    def _flush_idle_page_caches(self, g: GCtx) -> Any:
        """gcMarkTermination after startTheWorldWithSema: forEachP runs its
        function at once for every P on the idle list, and that function
        flushes an idle P's page cache under mheap.lock, so that pages do not
        get stuck on Ps the scavenger cannot see (mgc.go). Idle here: a P with
        nothing to run, or one whose goroutine the chain of woken Ms has not
        reached yet (start_the_world); a P running again flushes nothing."""
        h = self.rt.mheap
        idle = self.sim.sched.idle
        for pp in self.rt.ps:
            pid = pp.id
            if pid == g.p or pp.pcache.empty():
                continue
            if pid not in idle and g.vt >= self.restart_at.get(pid, 0):
                continue
            yield from g.lock(h.lock, "gcMarkTermination")
            g.spend("pagecache_refill_ns")
            h.flush_page_cache(pp)
            self.pcache_flushes += 1
            yield from g.unlock(h.lock)

    def flush_mcache(self, pp: Any) -> None:
        """mcache.releaseAll at a cycle's end: every cached span back to its
        mcentral (onto the swept sets, about to become unswept). A stale span's
        unused bytes stay in heapLive, which endCycle has read and resetLive
        replaces with the marked heap (mcache.go releaseAll)."""
        c = pp.mcache
        rt = self.rt
        for spc, s in enumerate(c.alloc):
            if s is None:
                continue
            s.in_cache = False
            s.freeindex = 0
            rt.central[spc].push_swept(s)
            c.alloc[spc] = None
            c.avail[spc] = 0
        c.tiny = 0
        c.tiny_offset = 0

    def _non_heap_bytes(self) -> int:
        h = self.rt.mheap
        return h.mspan_inuse_bytes + len(self.rt.ps) * self.rt.design.mcache_struct_bytes

    # -- results ---------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        sw = self.sweeper
        gcbits = self.rt.mheap.gcbits
        return {
            "num_gc": self.num_gc,
            "heap_goal_bytes": self.goal,
            "gc_trigger_bytes": self.trigger,
            "heap_live_bytes": self.ctl.heap_live,
            "heap_marked_bytes": self.ctl.heap_marked,
            "gc_cpu_assist_ns": self.cpu["assist"],
            "gc_cpu_dedicated_ns": self.cpu["dedicated"],
            "gc_cpu_idle_ns": self.cpu["idle"],
            "gc_cpu_pause_ns": self.cpu["pause"],
            "gc_pause_total_ns": int(sum(self.pauses)),
            "gc_mark_phase_ns": self.mark_phase_ns,
            "gc_assist_parks": self.assist_parks,
            "gc_pause_max_ns": int(max(self.pauses, default=0)),
            "gc_stw_stopping_mean_ns": (sum(self.stoppings) / len(self.stoppings)
                                        if self.stoppings else 0.0),
            "scavenge_cpu_ns": self.cpu["scavenge"],
            "scavenged_bytes": self.rt.stats.scavenged_pages * 8192,
            "spans_swept": sw.spans_swept,
            "spans_freed_by_sweep": sw.spans_freed,
            "gcbits_arenas_new": gcbits.new_arenas if gcbits is not None else 0,
        }


def _build_small(sim: Simulation, size: int, spc: int, elemsize: int, n: int) -> None:
    """n small objects on P 0 of a fresh runtime, a span at a time: the state
    that n mallocgc calls leave, without a call per object or per refill.

    Each of those refills (mcache.go refill) uncaches the exhausted span onto
    the full list (mcentral.go uncacheSpan; the locked design's refill leaves
    it on the 'empty' list it joined in cacheSpan), takes a fresh span from
    the heap (cacheSpan -> mcentral.grow -> mheap.alloc, the only part called
    here per span: it owns the addresses, span structs and GC bitmaps) and
    grows heapLive by the span's bytes. The objects of each span go out in
    one nextFreeFast run (mcache.take of k slots); the counters move once."""
    rt = sim.rt
    central = rt.central[spc]
    c = rt.ps[0].mcache
    sweeper = rt.mheap.sweeper
    if (c.alloc[spc] is not None or central.batch or central.partial or central.full
            or (sweeper is not None and sweeper.active) or c.marking):
        raise RuntimeError("the live heap is built on a fresh runtime")
    ctx = NoSimCtx(0)
    locked = central.locked
    left = n
    nspans = granted = heap_bytes = 0
    prev = None
    while left:
        if prev is not None:  # uncacheSpan of the exhausted span
            prev.in_cache = False
            prev.freeindex = 0
            if not locked:
                central.to_full(prev)
        s = run_sync(central.grow(ctx))
        if locked:
            central.to_full(s)  # the 'empty' list: owned by a cache
        s.in_cache = True
        nfree = s.nelems - s.alloc_count
        c.alloc[spc] = s
        c.avail[spc] = nfree
        k = min(nfree, left)
        c.take(spc, k)
        left -= k
        nspans += 1
        granted += nfree
        heap_bytes += s.npages * PAGE_SIZE
        prev = s
    st = rt.stats
    st.refills.add(spc, nspans)
    st.cache_span_calls += nspans
    st.flow_cache_spans.add2(0, spc, nspans)  # P 0's
    st.flow_cache_objects.add2(0, spc, granted)
    if nspans > 1:
        st.uncache_span_calls += nspans - 1
        st.flow_uncache_spans.add2(0, spc, nspans - 1)
    rt.count_small(c, spc, elemsize, n, n * size)
    gc = sim.gc
    if gc is not None:
        gc.heap_live_add(ctx, heap_bytes)  # refill: heapLive grows by each fresh span


#: the consMark history (mgcpacer.go lastConsMark) one goroutine building a
#: linked list of pointerful 1 KiB nodes leaves the real pacer, by GOMAXPROCS:
#: what endCycle printed last before the program forced its first collection
#: (gcpacertrace; median of six builds at each GOMAXPROCS, the 256 MiB ballast
#: records of experiments/groundtruth/extra/go1.27-16core-traced.jsonl, Go
#: 1.27.3 on 16 vCPUs; tests/test_gc_model.py recomputes it from that trace).
#: It falls with GOMAXPROCS: endCycle's utilization is the workers' 25% goal
#: whatever they did, plus the assists' share, and the idle Ps' marking is in
#: its numerator; one goroutine building leaves the other Ps idle, and at one
#: P its own assists do much of the marking. The model builds the heap before
#: time 0 without cycles, so it starts from this history
#: (``live_heap.cons_mark`` sets another).
BUILT_CONS_MARK: Final = ((1, 0.714), (2, 0.1498), (4, 0.0926), (8, 0.0527), (12, 0.0423),
                          (16, 0.0486))


def built_cons_mark(gomaxprocs: int) -> float:
    """:data:`BUILT_CONS_MARK` at ``gomaxprocs``: linear between its points,
    its last point beyond them."""
    prev_p, prev_v = BUILT_CONS_MARK[0]
    if gomaxprocs <= prev_p:
        return prev_v
    for p, v in BUILT_CONS_MARK[1:]:
        if gomaxprocs == p:
            return v
        if gomaxprocs < p:
            return prev_v + (v - prev_v) * (gomaxprocs - prev_p) / (p - prev_p)
        prev_p, prev_v = p, v
    return prev_v


def build_live_heap(sim: Simulation) -> None:
    """The workload's live heap (a ballast), allocated on P 0 before time 0
    and reachable to the end: every object of it is in ``keep_bits``."""
    lh = sim.scenario.workload.live_heap
    if lh.bytes <= 0:
        return
    rt = sim.rt
    size, noscan = lh.object_size, lh.pointer_free
    kind, spc, elemsize = rt.classify(size, noscan)
    n = -(-lh.bytes // size)
    if kind == SMALL:
        _build_small(sim, size, spc, elemsize, n)
    else:
        # tiny objects pack into 16-byte blocks one at a time (malloc.go
        # mallocgcTiny); a large object is a span of its own
        for _ in range(n):
            rt.malloc(size, noscan, 0)
    finish_live_heap(sim, spc, n)


def finish_live_heap(sim: Simulation, spc: int, n: int) -> None:
    """What follows allocating the live heap's n objects (of span class spc),
    however they were allocated: they stay reachable (``keep_bits``), the
    pacer gets the history building them would leave, and a ``grown`` heap is
    mapped and touched up to its goal."""
    lh = sim.scenario.workload.live_heap
    rt = sim.rt
    for s in rt.mheap.spans.values():
        if s.spanclass == spc or (spc < 2 and s.size_class == 0):
            s.keep_bits = s.alloc_bits
    sim.live_heap_objects = n
    if sim.gc is not None and not lh.pointer_free:
        cm = lh.cons_mark if lh.cons_mark is not None else built_cons_mark(sim.nprocs)
        sim.gc.ctl.seed_cons_mark(cm)
    if lh.grown:
        # the heap of a program that has run a few cycles with this live heap:
        # mapped up to the goal, every page touched once (free, not released)
        h = rt.mheap
        goal = lh.bytes + lh.bytes * sim.scenario.gc.gogc // 100
        extra = max(goal - h.sys_bytes, 0)
        if extra:
            h.grow(NoSimCtx(0), -(-extra // PAGE_SIZE))
        for start, npages in list(h.scav.runs()):
            h.scav.remove(start, npages)

__all__ = ["BUILT_CONS_MARK", "SimGC", "build_live_heap", "built_cons_mark",
           "finish_live_heap"]
