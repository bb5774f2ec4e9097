"""An independent checker of the collector model, for tests.

It watches a :class:`gosim.sim.engine.Simulation` through wrappers around
the allocator's and collector's entry points (installed on the classes only
while :meth:`GCCheck.installed` is active) and keeps its **own** record of
every object: which goroutine allocated which slot of which span, when, and
under which lifetime. It never reads the model's liveness bookkeeping
(``keep_bits``, ``death``, the goroutines' rings); it compares the model's
verdicts and structures against that record, and raises
:class:`GCInvariantError` at the first disagreement:

(a) every in-use span: ``alloc_count == popcount(alloc_bits)``,
    ``0 <= alloc_count <= nelems``, no bit at or above ``nelems``, and the
    bits equal the slots this record holds as allocated;
(b) no object live by its goroutine's own bookkeeping is freed: ``keep``
    objects and the ballast never; ``allocations: N`` objects among the
    goroutine's last N at the cycle's mark start or mark termination;
    ``time: T`` objects not yet dead at the mark start (judged on a lower
    bound of their allocation time, the goroutine's clock when the slot was
    handed out); and every slot handed out after the mark start (allocated
    black, mgcmark.go gcmarknewobject) survives that cycle;
(c) no slot handed out while allocated, none freed twice, none handed out
    from an unswept span, no span swept twice in one sweep cycle;
(d) every heap page is in exactly one state: in an in-use span, free in the
    page allocator, in a P's page cache (mpagecache.go), or padding of a
    randomized heap base (mheap.go grow); released pages (the scavenged set)
    are free, cached or padding, and all padding is released;
(e) ``heap_sys_bytes`` equals the bytes of the growth log (each
    ``MHeap._add_sys``, recorded here) and the pages counted in spans, free
    runs, page caches and padding; ``heap_inuse``/``heap_idle``/``heap_released`` match
    those counts;
(f) ``heap_alloc_bytes`` equals the bytes of this record's allocated slots
    and the spans' ``alloc_count x elemsize``, never negative; heapLive is
    never negative;
(g) mcentral's span sets (mcentral.go partial/full x swept/unswept): every
    in-use span on at most one set, the one its ``on_list`` names, of its
    own class, with the sweepgen that set implies (mgcsweep.go: ``sweepgen ==
    h.sweepgen`` swept, ``h.sweepgen - 2`` unswept); at a stop-the-world
    point (mark start, mark termination) and at the end, exactly one place:
    a set or one mcache (which, in the locked designs, also keeps it on the
    'empty' list, Go <= 1.14).

Where the check runs: at every sweep (the swept span, and every
``global_every``-th sweep the structural checks that hold while other Ps are
mid-operation), at the end of every mark start and mark termination (all
checks, strictly: the world is stopped, so no page or span is in flight),
and at the end of the run (:meth:`GCCheck.check_final`).

Use::

    chk = GCCheck()
    with chk.installed():
        sim = Simulation(scenario)
        chk.attach(sim)
        sim.run()
    chk.check_final()
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from gosim.runtime.arena import PAGE_SHIFT, PAGE_SIZE
from gosim.runtime.malloc import Runtime
from gosim.runtime.mcache import MCache
from gosim.runtime.mgcsweep import Sweeper
from gosim.runtime.mheap import ARENA_HINT_BASE, MHeap
from gosim.runtime.mspan import MSpan, MSpanState

if TYPE_CHECKING:
    from gosim.sim.engine import Simulation
    from gosim.sim.goroutine import GCtx

#: the page number the heap's address space starts at (bit 0 of the page bitmaps)
_BASE_PAGE = ARENA_HINT_BASE >> PAGE_SHIFT
#: death-time lower bound of a slot that holds no ``time`` object
_NO_DEATH = np.iinfo(np.int64).min


class GCInvariantError(AssertionError):
    """The model disagrees with the independent record."""


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _indices(mask: int, nelems: int) -> np.ndarray:
    b = np.frombuffer(mask.to_bytes((nelems + 7) // 8, "little"), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(b, bitorder="little")[:nelems])


class _Span:
    """This record's view of one span (by its sid, unique for the run)."""

    __slots__ = ("sid", "nelems", "elemsize", "alloc", "keep", "black", "black_epoch",
                 "death_lb", "tiny_ring")

    def __init__(self, s: MSpan) -> None:
        self.sid = s.sid
        self.nelems = s.nelems
        self.elemsize = s.elemsize
        #: slots allocated, as this record saw them handed out and freed
        self.alloc = 0
        #: slots holding a ``keep`` object (or the ballast)
        self.keep = 0
        #: slots handed out since mark start number ``black_epoch``
        self.black = 0
        self.black_epoch = -1
        #: per slot, a lower bound of the latest death time of its ``time`` objects
        self.death_lb: np.ndarray | None = None
        #: a ring entry of an ``allocations`` goroutine ever pointed into a tiny
        #: block here (several objects per slot: the verdict is checked for
        #: soundness only)
        self.tiny_ring = False


@dataclass
class CycleRecord:
    """One collection as the record saw it."""

    #: the coordinator's clock at the mark start (the snapshot time)
    mark_start_ns: int = 0
    #: ``allocations: N`` slots protected this cycle: sid -> slots (the goroutines'
    #: last N objects at mark start and at mark termination)
    ring_prot: dict[int, int] = field(default_factory=dict)
    #: bytes the record expects marked: a lower bound, and whether it is exact
    #: (no ``time`` objects, no ring entries into shared tiny blocks)
    expected_marked_bytes: int = 0
    exact: bool = True
    #: the model's heap_marked after the cycle's mark termination
    model_marked_bytes: int = 0
    #: the pacer: the trigger in force when the cycle started, heapLive then, and
    #: the goal and trigger it set at mark termination
    trigger_before: int = 0
    heap_live_at_start: int = 0
    goal_after: int = 0
    trigger_after: int = 0
    #: mallocs at the mark start; heap_sys_bytes and mallocs at mark termination
    mallocs_at_start: int = 0
    heap_sys_bytes: int = 0
    mallocs: int = 0


class GCCheck:
    def __init__(self, global_every: int = 0) -> None:
        #: run the structural checks at every ``global_every``-th sweep (0: never)
        self.global_every = global_every
        self.sim: Simulation | None = None
        self.rt: Runtime | None = None
        self.spans: dict[int, _Span] = {}
        #: the goroutine running now (None: the ballast, built before time 0)
        self.cur: GCtx | None = None
        #: per goroutine of an ``allocations: N`` group: its last N objects (sid, bit)
        self.rings: dict[int, deque[tuple[int, int]]] = {}
        #: the growth log (MHeap._add_sys), as a bitmap of every page the heap
        #: was given and its bytes
        self.universe = 0
        self.sys_bytes = 0
        #: mark starts seen (the epoch of black allocation) and mark terminations
        self.epoch = 0
        self.terminations = 0
        #: the pacer's trigger in force (set at each mark termination)
        self.trigger = 0
        self.cycles: list[CycleRecord] = []
        self.sweeping: set[int] = set()
        #: which check is running (named in a failure)
        self._where = ""
        #: large spans between mheap.alloc and the end of allocLarge (in flight)
        self.large_pending: set[int] = set()
        self.swept_this_cycle: set[int] = set()
        #: counters (what the checks covered): slots handed out, objects allocated (tiny objects share slots)
        self.slots = 0
        self.objects = 0
        self.sweeps = 0
        self.freed_slots = 0
        self.global_checks = 0
        self.stw_checks = 0

    # -- install / attach ----------------------------------------------------------------
    @contextmanager
    def installed(self) -> Iterator[GCCheck]:
        """Wrap the entry points on their classes for the duration of the block."""
        from gosim.sim.gc import SimGC

        saved: list[tuple[type, str, Any]] = []

        def patch(cls: type, name: str, make: Callable[[Any], Any]) -> None:
            orig = cls.__dict__[name]
            saved.append((cls, name, orig))
            setattr(cls, name, make(orig))

        def take(orig: Any) -> Any:
            def wrapped(c: MCache, spc: int, n: int = 1, track: bool = False) -> int:
                if c.batched:
                    return orig(c, spc, n, track)
                s = c.alloc[spc]
                before = s.alloc_bits  # type: ignore[union-attr]
                addr = orig(c, spc, n, track)
                self._on_take(c, s, before, n)  # type: ignore[arg-type]
                return addr
            return wrapped

        def tiny_fit(orig: Any) -> Any:
            def wrapped(rt: Runtime, c: MCache, size: int) -> int:
                addr = orig(rt, c, size)
                if addr:
                    self._on_tiny(rt, addr)
                return addr
            return wrapped

        def alloc_large(orig: Any) -> Any:
            def wrapped(rt: Runtime, ctx: Any, pp: Any, size: int, noscan: bool) -> Any:
                addr = yield from orig(rt, ctx, pp, size, noscan)
                self._on_large(rt, addr)
                return addr
            return wrapped

        def heap_alloc(orig: Any) -> Any:
            def wrapped(h: MHeap, ctx: Any, pp: Any, npages: int, spanclass: int) -> Any:
                s = yield from orig(h, ctx, pp, npages, spanclass)
                if spanclass >> 1 == 0:
                    self.large_pending.add(s.sid)
                return s
            return wrapped

        def add_sys(orig: Any) -> Any:
            def wrapped(h: MHeap, base: int, nbytes: int) -> None:
                self._on_add_sys(base, nbytes)
                orig(h, base, nbytes)
            return wrapped

        def sweep(orig: Any) -> Any:
            def wrapped(sw: Sweeper, ctx: Any, s: MSpan, preserve: bool) -> Any:
                self._before_sweep(sw, s)
                freed = yield from orig(sw, ctx, s, preserve)
                self._after_sweep(sw, s, freed)
                return freed
            return wrapped

        def free_span(orig: Any) -> Any:
            def wrapped(h: MHeap, ctx: Any, pp: Any, s: MSpan) -> Any:
                self._before_free_span(s)
                yield from orig(h, ctx, pp, s)
                self._after_free_span(h, s)
            return wrapped

        def stw_phase(orig: Any, after: Callable[[], None]) -> Any:
            def wrapped(gc: Any, g: Any) -> Any:
                yield from orig(gc, g)
                after()
            return wrapped

        patch(MCache, "take", take)
        patch(Runtime, "tiny_fit", tiny_fit)
        patch(Runtime, "alloc_large", alloc_large)
        patch(MHeap, "_add_sys", add_sys)
        patch(MHeap, "alloc", heap_alloc)
        patch(Sweeper, "sweep", sweep)
        patch(MHeap, "free_span", free_span)
        from gosim.sim import engine

        orig_build = engine.build_live_heap

        def build_live_heap(sim: Simulation) -> None:
            self._bind(sim)
            orig_build(sim)

        engine.build_live_heap = build_live_heap  # type: ignore[assignment]
        patch(SimGC, "gc_start", lambda o: stw_phase(o, self._after_mark_start))
        patch(SimGC, "mark_done", lambda o: stw_phase(o, self._after_mark_termination))
        try:
            yield self
        finally:
            for cls, name, orig in reversed(saved):
                setattr(cls, name, orig)
            engine.build_live_heap = orig_build  # type: ignore[assignment]

    def attach(self, sim: Simulation) -> None:
        """Follow which goroutine runs (wrap the scheduler's goroutine body) and
        take the ring sizes of ``allocations: N`` groups; call before ``run``."""
        self._bind(sim)
        body = sim.sched.body

        def tracked(g: GCtx) -> Generator[Any, Any, None]:
            inner = body(g)
            val: Any = None
            while True:
                # a goroutine may run within another's sync (gosim.sim.clock
                # run_before): the one it ran within is current again after it
                outer = self.cur
                self.cur = g
                try:
                    ev = inner.send(val)
                except StopIteration:
                    self.cur = outer
                    return
                self.cur = outer
                val = yield ev

        sim.sched.body = tracked
        for g in sim.gs:
            lt = g.group.lifetime
            if lt.kind == "allocations":
                self.rings[g.gid] = deque(maxlen=lt.value)

    def _bind(self, sim: Simulation) -> None:
        """The simulation this record follows (before its ballast is built)."""
        if sim.design.transfer_batch_objects:
            raise ValueError(f"{sim.design.name}: a thread-caching design has no collector "
                             "and hands out reserved objects this record does not follow")
        if self.sim is not None and self.sim is not sim:
            raise ValueError("one GCCheck follows one simulation")
        self.sim = sim
        self.rt = sim.rt
        if sim.gc is not None:
            self.trigger = sim.gc.trigger

    # -- recording ------------------------------------------------------------------------
    def _fail(self, msg: str) -> None:
        where = f" [{self._where}]" if self._where else ""
        raise GCInvariantError(msg + where)

    def _rec(self, s: MSpan) -> _Span:
        r = self.spans.get(s.sid)
        if r is None:
            r = self.spans[s.sid] = _Span(s)
        return r

    def _owner(self, s: MSpan, r: _Span, new: int, count: int) -> None:
        """``count`` objects of the running goroutine (or the ballast) now live in
        the slots of ``new`` (several objects may share one tiny slot)."""
        self.objects += count
        g = self.cur
        if g is None:
            r.keep |= new
            return
        lt = g.group.lifetime
        if lt.kind == "keep":
            r.keep |= new
        elif lt.kind == "allocations":
            ring = self.rings[g.gid]
            if s.spanclass == self.rt.tiny_spanclass:  # type: ignore[union-attr]
                r.tiny_ring = True
            if count == 1:
                ring.append((r.sid, new))
            else:
                bits = list(_bits(new))
                for b in bits[-(ring.maxlen or 0):]:
                    ring.append((r.sid, 1 << b))
        elif lt.kind == "time":
            if r.death_lb is None:
                r.death_lb = np.full(r.nelems, _NO_DEATH, dtype=np.int64)
            idx = _indices(new, r.nelems)
            d = r.death_lb
            d[idx] = np.maximum(d[idx], g.vt + (lt.value or 0))

    def _handed_out(self, s: MSpan, new: int, n: int, what: str) -> _Span:
        """Checks common to every slot handed out (c): not allocated already, from a
        swept, in-use span; then the record takes it."""
        rt = self.rt
        assert rt is not None
        if s.state != MSpanState.IN_USE:
            self._fail(f"{what}: span {s.sid} is not in use")
        if new.bit_count() != n:
            self._fail(f"{what}: asked for {n} objects, span {s.sid} set "
                       f"{new.bit_count()} allocation bits")
        if rt.mheap.sweepgen != s.sweepgen and self.sim is not None and self.sim.gc is not None:
            self._fail(f"{what}: span {s.sid} handed out objects while unswept "
                       f"(sweepgen {s.sweepgen}, heap {rt.mheap.sweepgen})")
        if s.sid in self.sweeping:
            self._fail(f"{what}: span {s.sid} handed out objects while being swept")
        r = self._rec(s)
        if r.alloc & new:
            self._fail(f"{what}: span {s.sid} handed out slots {list(_bits(r.alloc & new))} "
                       "that are still allocated (double allocation)")
        r.alloc |= new
        if r.black_epoch != self.epoch:
            r.black, r.black_epoch = 0, self.epoch
        r.black |= new
        self.slots += n
        return r

    def _on_take(self, c: MCache, s: MSpan, before: int, n: int) -> None:
        g = self.cur
        if g is not None and self.rt is not None and self.rt.ps[g.p].mcache is not c:
            self._fail(f"goroutine {g.gid} on P {g.p} allocated from another P's mcache")
        new = s.alloc_bits & ~before
        r = self._handed_out(s, new, n, "mcache.take")
        self._owner(s, r, new, n)

    def _on_tiny(self, rt: Runtime, addr: int) -> None:
        s = rt.mheap.span_of(addr)
        if s is None:
            self._fail(f"tiny object at {addr:#x} outside every in-use span")
        assert s is not None
        idx = (addr - s.base) // s.elemsize
        r = self.spans.get(s.sid)
        bit = 1 << idx
        if r is None or not r.alloc & bit:
            self._fail(f"tiny object at {addr:#x} placed in block {idx} of span {s.sid}, "
                       "which is not allocated")
        assert r is not None
        self._owner(s, r, bit, 1)

    def _on_large(self, rt: Runtime, addr: int) -> None:
        s = rt.mheap.span_of(addr)
        if s is None or s.base != addr:
            self._fail(f"large object at {addr:#x} is not the start of an in-use span")
        assert s is not None
        self.large_pending.discard(s.sid)
        r = self._handed_out(s, s.alloc_bits, 1, "allocLarge")
        self._owner(s, r, 1, 1)

    def _on_add_sys(self, base: int, nbytes: int) -> None:
        if base % PAGE_SIZE or nbytes % PAGE_SIZE or nbytes <= 0:
            self._fail(f"heap growth of {nbytes} bytes at {base:#x} is not whole pages")
        start, n = (base >> PAGE_SHIFT) - _BASE_PAGE, nbytes >> PAGE_SHIFT
        m = ((1 << n) - 1) << start
        if self.universe & m:
            self._fail(f"heap growth at {base:#x} maps pages the heap already has")
        self.universe |= m
        self.sys_bytes += nbytes

    # -- liveness --------------------------------------------------------------------------
    def _protected(self, r: _Span, cyc: CycleRecord) -> int:
        """The slots of r that must survive the cycle ``cyc`` (b)."""
        p = r.keep | cyc.ring_prot.get(r.sid, 0)
        if r.black_epoch == self.epoch:
            p |= r.black
        if r.death_lb is not None:
            alive = np.packbits(r.death_lb > cyc.mark_start_ns, bitorder="little")
            p |= int.from_bytes(alive.tobytes(), "little")
        return p & r.alloc

    def _snapshot_rings(self, into: dict[int, int]) -> None:
        for ring in self.rings.values():
            for sid, bit in ring:
                into[sid] = into.get(sid, 0) | bit

    # -- sweeping ---------------------------------------------------------------------------
    def _before_sweep(self, sw: Sweeper, s: MSpan) -> None:
        h = sw.heap
        self.sweeps += 1
        if self.terminations != self.epoch or not self.cycles:
            self._fail(f"span {s.sid} swept outside a sweep phase (mark starts {self.epoch}, "
                       f"terminations {self.terminations})")
        if s.state != MSpanState.IN_USE:
            self._fail(f"sweep of span {s.sid} that is not in use")
        if s.sweepgen != h.sweepgen - 2:
            self._fail(f"sweep of span {s.sid} with sweepgen {s.sweepgen}: "
                       f"not unswept (heap sweepgen {h.sweepgen})")
        if s.sid in self.sweeping or s.sid in self.swept_this_cycle:
            self._fail(f"span {s.sid} swept twice in one sweep cycle")
        if s.on_list or s.in_cache:
            self._fail(f"span {s.sid} swept while on list {s.on_list!r} / cached {s.in_cache}")
        if s.live_bits is None:
            self._fail(f"sweep of span {s.sid} that was not marked")
        self._check_span(s)
        r = self.spans.get(s.sid)
        alloc = r.alloc if r is not None else 0
        freed = s.alloc_bits & ~s.live_bits  # type: ignore[operator]
        if freed & ~alloc:
            self._fail(f"sweep of span {s.sid} frees slots {list(_bits(freed & ~alloc))} "
                       "that are not allocated (double free)")
        if r is not None and freed:
            lost = freed & self._protected(r, self.cycles[-1])
            if lost:
                self._fail(f"sweep of span {s.sid} (class {s.spanclass}) frees live slots "
                           f"{list(_bits(lost))[:8]} (cycle {self.terminations})")
            r.alloc &= ~freed
            r.keep &= ~freed
            if r.death_lb is not None:
                r.death_lb[_indices(freed, r.nelems)] = _NO_DEATH
            self.freed_slots += freed.bit_count()
        self.sweeping.add(s.sid)

    def _after_sweep(self, sw: Sweeper, s: MSpan, freed_span: bool) -> None:
        self.sweeping.discard(s.sid)
        self.swept_this_cycle.add(s.sid)
        if s.sweepgen != sw.heap.sweepgen:
            self._fail(f"span {s.sid} not marked swept after its sweep")
        if freed_span:
            if s.state != MSpanState.DEAD or sw.heap.spans.get(s.start_page) is s:
                self._fail(f"span {s.sid} freed by the sweeper is still in use")
        else:
            self._check_span(s)
        if self.global_every and self.sweeps % self.global_every == 0:
            self.check_structures(stw=False)

    def _before_free_span(self, s: MSpan) -> None:
        r = self.spans.get(s.sid)
        if r is not None and r.alloc:
            self._fail(f"freeSpan of span {s.sid} holding allocated slots {list(_bits(r.alloc))[:8]}")
        if s.in_cache or s.on_list:
            self._fail(f"freeSpan of span {s.sid} still cached ({s.in_cache}) or listed "
                       f"({s.on_list!r})")

    def _after_free_span(self, h: MHeap, s: MSpan) -> None:
        if s.state != MSpanState.DEAD or h.spans.get(s.start_page) is s:
            self._fail(f"freeSpan of span {s.sid} left it in use")
        self.spans.pop(s.sid, None)

    # -- stop-the-world points -----------------------------------------------------------------
    def _after_mark_start(self) -> None:
        """gcStart done: the world restarts marking; every span is swept."""
        sim = self.sim
        assert sim is not None and sim.gc is not None and self.cur is not None
        if self.terminations != self.epoch:
            self._fail("a mark start before the previous cycle's mark termination")
        self.epoch += 1
        cyc = CycleRecord(mark_start_ns=self.cur.vt, mallocs_at_start=sim.rt.stats.mallocs,
                          trigger_before=self.trigger, heap_live_at_start=sim.gc.ctl.triggered)
        self._snapshot_rings(cyc.ring_prot)
        self.cycles.append(cyc)
        self.swept_this_cycle = set()
        if self.sweeping:
            self._fail(f"spans {sorted(self.sweeping)} still being swept at mark start")
        self.check_structures(stw=True, phase="mark")

    def _after_mark_termination(self) -> None:
        """gcMarkTermination done: mark verdicts, flushed mcaches, sweepgen += 2."""
        sim = self.sim
        assert sim is not None and sim.gc is not None and self.rt is not None
        self.terminations += 1
        if self.terminations != self.epoch:
            self._fail("a mark termination without its mark start")
        cyc = self.cycles[-1]
        self._snapshot_rings(cyc.ring_prot)
        tiny = self.rt.tiny_spanclass
        expected = 0
        exact = True
        for s in self.rt.mheap.spans.values():
            r = self.spans.get(s.sid)
            if s.live_bits is None:
                self._fail(f"span {s.sid} not marked at mark termination")
            live = s.live_bits
            assert live is not None
            if r is None:
                if live:
                    self._fail(f"span {s.sid} marks slots nothing allocated")
                continue
            prot = self._protected(r, cyc)
            if prot & ~live:
                self._fail(f"mark termination {self.terminations}: span {s.sid} (class "
                           f"{s.spanclass}) leaves live slots {list(_bits(prot & ~live))[:8]} "
                           "unmarked")
            if live & ~r.alloc:
                self._fail(f"span {s.sid} marks slots that are not allocated")
            span_exact = r.death_lb is None and not (r.tiny_ring and s.spanclass == tiny)
            if span_exact and live != prot:
                self._fail(f"mark termination {self.terminations}: span {s.sid} (class "
                           f"{s.spanclass}) marks garbage slots {list(_bits(live & ~prot))[:8]}")
            exact &= span_exact
            expected += prot.bit_count() * s.elemsize
        cyc.expected_marked_bytes = expected
        cyc.exact = exact
        cyc.model_marked_bytes = sim.gc.ctl.heap_marked
        cyc.goal_after, cyc.trigger_after = sim.gc.goal, sim.gc.trigger
        self.trigger = sim.gc.trigger
        cyc.heap_sys_bytes = self.rt.mheap.sys_bytes
        cyc.mallocs = self.rt.stats.mallocs
        self.check_structures(stw=True, phase="sweep")

    # -- structural checks ----------------------------------------------------------------------
    def _check_span(self, s: MSpan) -> None:
        """(a) for one in-use span, against the record."""
        if not 0 <= s.alloc_count <= s.nelems:
            self._fail(f"span {s.sid}: alloc_count {s.alloc_count} outside [0, {s.nelems}]")
        if s.alloc_count != s.alloc_bits.bit_count():
            self._fail(f"span {s.sid}: alloc_count {s.alloc_count} != popcount(alloc_bits) "
                       f"{s.alloc_bits.bit_count()}")
        if s.alloc_bits >> s.nelems:
            self._fail(f"span {s.sid}: allocation bits beyond nelems {s.nelems}")
        r = self.spans.get(s.sid)
        mine = r.alloc if r is not None else 0
        if s.alloc_bits != mine:
            self._fail(f"span {s.sid}: allocation bits disagree with the record "
                       f"(model only {list(_bits(s.alloc_bits & ~mine))[:8]}, "
                       f"record only {list(_bits(mine & ~s.alloc_bits))[:8]})")

    def check_structures(self, stw: bool, phase: str = "") -> None:
        """(a), (d)-(g) over the whole heap. ``stw``: the world is stopped (or the
        run is over), so no span or page is in flight and everything is strict.
        ``phase``: 'mark' just after a mark start, 'sweep' just after a mark
        termination, '' otherwise."""
        rt = self.rt
        assert rt is not None
        self._where = (f"{'stop-the-world' if stw else 'concurrent'} check{' ' + phase if phase else ''}"
                       f", cycle {self.terminations}")
        try:
            self._check_structures(stw, phase)
        finally:
            self._where = ""

    def _check_structures(self, stw: bool, phase: str) -> None:
        rt = self.rt
        assert rt is not None
        if stw:
            self.stw_checks += 1
        else:
            self.global_checks += 1
        h = rt.mheap
        st = rt.stats
        # (a) + (d): spans' pages
        inuse = 0
        npages_inuse = 0
        heap_alloc = 0
        mine_alloc = 0
        pending = self.large_pending
        if stw and pending:
            self._fail(f"large spans {sorted(pending)} still being allocated")
        for start, s in h.spans.items():
            if s.state != MSpanState.IN_USE or s.start_page != start:
                self._fail(f"span {s.sid} in the spans map is not in use at {start}")
            if s.sid not in pending:
                self._check_span(s)
            m = ((1 << s.npages) - 1) << (start - _BASE_PAGE)
            if inuse & m:
                self._fail(f"span {s.sid} shares pages with another span")
            inuse |= m
            npages_inuse += s.npages
            heap_alloc += s.alloc_count * s.elemsize
        for r in self.spans.values():
            mine_alloc += r.alloc.bit_count() * r.elemsize
        free = 0
        nfree = 0
        for start, n in h.free.runs():
            free |= ((1 << n) - 1) << (start - _BASE_PAGE)
            nfree += n
        if nfree != h.free.total or free.bit_count() != nfree:
            self._fail(f"free runs count {nfree} pages, the page allocator says {h.free.total}")
        cached = 0
        for pp in rt.ps:
            c = pp.pcache.cache
            if c:
                m = c << (pp.pcache.base_page - _BASE_PAGE)
                if cached & m:
                    self._fail(f"P {pp.id}'s page cache shares pages with another P's")
                cached |= m
        for a, b, what in ((inuse, free, "in a span and free"),
                           (inuse, cached, "in a span and in a page cache"),
                           (free, cached, "free and in a page cache")):
            if a & b:
                self._fail(f"{(a & b).bit_count()} pages are {what}")
        padding = (((1 << h.padding_pages) - 1) << (h.padding_start - _BASE_PAGE)
                   if h.padding_pages else 0)
        if padding & (inuse | free | cached):
            self._fail(f"{(padding & (inuse | free | cached)).bit_count()} pages of the "
                       "heap base's padding are in a span, free or cached")
        known = inuse | free | cached | padding
        if known & ~self.universe:
            self._fail("pages in use, free or cached that the heap never grew into")
        if stw and known != self.universe:
            self._fail(f"{(self.universe & ~known).bit_count()} heap pages are in no state "
                       "(not in a span, not free, not cached)")
        scav = 0
        for start, n in h.scav.runs():
            scav |= ((1 << n) - 1) << (start - _BASE_PAGE)
        if padding & ~scav:
            self._fail(f"{(padding & ~scav).bit_count()} pages of the heap base's padding "
                       "are not released")
        if scav & ~(free | cached | padding) & (known if not stw else -1):
            self._fail(f"{(scav & ~(free | cached | padding)).bit_count()} released pages "
                       "are neither free, cached nor padding")
        # (e)
        if h.sys_bytes != self.sys_bytes:
            self._fail(f"heap_sys_bytes {h.sys_bytes} != the growth log's {self.sys_bytes}")
        if npages_inuse != h.pages_inuse:
            self._fail(f"pages in spans {npages_inuse} != pages_inuse {h.pages_inuse}")
        ms = rt.memstats()
        if stw:
            npad = padding.bit_count()
            counted = (npages_inuse + nfree + cached.bit_count() + npad) * PAGE_SIZE
            if ms["heap_sys_bytes"] != counted:
                self._fail(f"heap_sys_bytes {ms['heap_sys_bytes']} != pages counted "
                           f"{counted} (in use + free + cached + padding)")
            if ms["heap_idle_bytes"] != (nfree + cached.bit_count() + npad) * PAGE_SIZE:
                self._fail(f"heap_idle_bytes {ms['heap_idle_bytes']} != free + cached + "
                           "padding pages")
        if ms["heap_inuse_bytes"] != npages_inuse * PAGE_SIZE:
            self._fail("heap_inuse_bytes disagrees with the spans' pages")
        if ms["heap_released_bytes"] != scav.bit_count() * PAGE_SIZE:
            self._fail("heap_released_bytes disagrees with the released pages")
        # (f)
        if st.heap_alloc_bytes < 0:
            self._fail(f"heap_alloc_bytes is negative: {st.heap_alloc_bytes}")
        if not pending and (st.heap_alloc_bytes != heap_alloc or heap_alloc != mine_alloc):
            self._fail(f"heap_alloc_bytes {st.heap_alloc_bytes}, spans' alloc_count x elemsize "
                       f"{heap_alloc}, the record's allocated slots {mine_alloc}")
        sim = self.sim
        if sim is not None and sim.gc is not None and sim.gc.ctl.heap_live < 0:
            self._fail(f"heapLive is negative: {sim.gc.ctl.heap_live}")
        # (g)
        self._check_lists(stw, phase)

    def _check_lists(self, stw: bool, phase: str) -> None:
        rt = self.rt
        assert rt is not None
        h = rt.mheap
        gc_on = self.sim is not None and self.sim.gc is not None
        where: dict[int, str] = {}
        for spc, c in enumerate(rt.central):
            for name in ("partial", "full", "partial_unswept", "full_unswept"):
                swept = not name.endswith("unswept")
                for sid, s in getattr(c, name).items():
                    if sid != s.sid or s.state != MSpanState.IN_USE or \
                            h.spans.get(s.start_page) is not s:
                        self._fail(f"mcentral[{spc}].{name} holds span {s.sid}, not in use")
                    if s.spanclass != spc:
                        self._fail(f"span {sid} of class {s.spanclass} on mcentral[{spc}]")
                    if sid in where:
                        self._fail(f"span {sid} on both {where[sid]} and {name}")
                    where[sid] = name
                    if s.on_list != name:
                        self._fail(f"span {sid} on {name} says on_list={s.on_list!r}")
                    want = h.sweepgen if swept else h.sweepgen - 2
                    if gc_on and s.sweepgen != want:
                        self._fail(f"span {sid} on {name} has sweepgen {s.sweepgen}, "
                                   f"expected {want}")
                    if name == "partial" and s.free_count() == 0:
                        self._fail(f"span {sid} on partial has no free slot")
        cached: dict[int, int] = {}
        for pp in rt.ps:
            for s in pp.mcache.alloc:
                if s is not None and s.in_cache:
                    if s.sid in cached:
                        self._fail(f"span {s.sid} cached by Ps {cached[s.sid]} and {pp.id}")
                    cached[s.sid] = pp.id
        locked = rt.design.mcentral == "locked"
        for s in h.spans.values():
            sid = s.sid
            on = where.get(sid)
            if s.on_list and on is None:
                self._fail(f"span {sid} says on_list={s.on_list!r} but no set holds it")
            if s.in_cache and sid not in cached:
                self._fail(f"span {sid} says it is cached, but no mcache holds it")
            if sid in cached:
                if gc_on and s.sweepgen != h.sweepgen:
                    self._fail(f"span {sid} cached while unswept")
                if on is not None and not (locked and on == "full"):
                    self._fail(f"span {sid} is cached and on {on}")
                if locked and stw and on != "full":
                    self._fail(f"span {sid} is cached but not on the 'empty' list (locked "
                               "mcentral)")
            elif stw and on is None:
                self._fail(f"span {sid} (class {s.spanclass}) is on no span set and in no "
                           "mcache")
            elif on == "full" and s.free_count() and (stw or not locked):
                # (locked mcentral: cacheSpan puts the span on 'empty' and drops
                # the lock before the mcache owns it: in flight between the two)
                self._fail(f"span {sid} on full has {s.free_count()} free slots")
            if phase == "sweep" and (sid in cached or on not in ("partial_unswept",
                                                                  "full_unswept")):
                self._fail(f"span {sid} is not on an unswept set after mark termination "
                           f"(on {on!r}, cached {sid in cached})")
            if phase == "mark" and on in ("partial_unswept", "full_unswept"):
                self._fail(f"span {sid} still unswept when marking starts")

    def check_final(self) -> None:
        """At the end of a run: the structural checks, and every ``keep`` object
        (and the ballast) still allocated. Strict when the goroutines ran out of
        allocations; a timed run stops them wherever they are (mid-refill, a
        span or pages in flight), so its end is checked as a concurrent point."""
        rt = self.rt
        assert rt is not None and self.sim is not None
        self.check_structures(stw=self.sim.T is None)
        if self.sweeping and self.sim.T is None:
            self._fail(f"spans {sorted(self.sweeping)} still being swept at the end")
        for r in self.spans.values():
            if r.keep & ~r.alloc:
                self._fail(f"span {r.sid}: kept slots {list(_bits(r.keep & ~r.alloc))} freed")
        inuse = {s.sid for s in rt.mheap.spans.values()}
        for sid, r in self.spans.items():
            if r.alloc and sid not in inuse:
                self._fail(f"span {sid} holds allocated slots but is not in use")

    # -- what the record knows ---------------------------------------------------------------------
    def kept_bytes(self) -> int:
        """Bytes of slots holding a ``keep`` object or the ballast now."""
        return sum((r.keep & r.alloc).bit_count() * r.elemsize for r in self.spans.values())

    def allocated_bytes(self) -> int:
        return sum(r.alloc.bit_count() * r.elemsize for r in self.spans.values())


def run_checked(scenario: Any, global_every: int = 0) -> tuple[Simulation, Any, GCCheck]:
    """Build and run ``scenario`` under a :class:`GCCheck`; (simulation, result,
    checker). Raises :class:`GCInvariantError` at the first violation."""
    from gosim.sim.engine import Simulation

    chk = GCCheck(global_every)
    with chk.installed():
        sim = Simulation(scenario)
        chk.attach(sim)
        result = sim.run()
        chk.check_final()
    return sim, result, chk


__all__ = ["CycleRecord", "GCCheck", "GCInvariantError", "run_checked"]
