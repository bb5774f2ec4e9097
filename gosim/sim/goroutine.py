"""A goroutine: its random streams, its own clock, and the runtime ``Ctx`` that
its allocator calls run under in the simulation (locks, costs, atomics).

With ``check_lock_order`` on, every lock acquisition and span-set operation
is checked against the design's lock ranking (``gosim.runtime.lockrank``):
one :class:`~gosim.runtime.lockrank.LockOrderCheck` per simulation, shared by
its goroutines. Off, it costs one attribute check per lock and atomic.
"""

from __future__ import annotations

import sys
from array import array
from collections import deque
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.random import SeedSequence

from gosim.runtime.context import AtomicCell, Ctx, Mutex
from gosim.runtime.lockrank import site_of
from gosim.runtime.mstats import FLOW_SHIFT, MemStats, tally
from gosim.sim.alloc import Charges
from gosim.sim.clock import NORMAL_KEY, PTimeout, run_before
from gosim.sim.costs import COST_PARAMETERS
from gosim.sim.locks import RuntimeMutex, SimAtomic
from gosim.workload.spec import GoroutineGroup
from gosim.workload.streams import BernoulliStream, Stream

if TYPE_CHECKING:
    from gosim.sim.engine import Simulation

_COST_NAMES = sorted(COST_PARAMETERS)

#: syncs that run the events due before them, one within another, at most
#: (each adds the frames of a goroutine's allocation to the stack)
MAX_NESTED_SYNCS: Final = 8

#: what ``yield from`` runs when nothing has to wait
_NONE: Final[tuple[Any, ...]] = ()


def first_before(q: list[Any], t: int, pk: int) -> bool:
    """Whether an event already in SimPy's queue ``q`` (a
    :class:`~gosim.sim.env.SimEnv`'s ``_queue``) would be processed before a
    timeout scheduled now for time ``t`` resuming P ``pk``. When none would,
    that timeout would be the very next event: a goroutine's ``sync`` sets the
    clock to ``t`` and carries on instead, with the same result and no event
    (never while an event with several waiters is being processed,
    ``EventPos.shared``: one not yet resumed must see that event's clock)."""
    if not q:
        return False
    h = q[0]
    t0: int = h[0]
    return t0 < t or (t0 == t and h[1] <= NORMAL_KEY + pk)


class GCtx(Ctx):
    """A goroutine, and the runtime ``Ctx`` its allocator calls run under."""

    __slots__ = ("sim", "gid", "group", "p", "vt", "held", "locks_taken", "remaining", "slice_end",
                 "sizes", "noscan", "work", "cost_seeds", "cost_streams", "fixed", "fixed_cls",
                 "live_ring", "live_bytes", "allocs", "comp_times", "check", "gc_debt", "gc_pending",
                 "lt_kind", "lt_value", "ring", "ring_n", "touch", "sp", "flow_n", "flow_b")

    def __init__(self, sim: Simulation, gid: int, group: GoroutineGroup, seed: SeedSequence):
        self.sim = sim
        self.gid = gid
        self.group = group
        self.p = 0
        #: the goroutine's own clock: local work advances it without SimPy events;
        #: ``sync`` brings the simulation clock up to it before shared state is touched
        self.vt = 0
        #: the P-time category of each runtime lock held ("hold:<kind>"), innermost last
        self.held: list[str] = []
        self.locks_taken = 0
        self.remaining = group.allocations if group.allocations is not None else -1
        self.slice_end = 0
        kids = seed.spawn(3 + len(_COST_NAMES))
        self.sizes = Stream(group.size, kids[0], integer_support=True)
        self.noscan = BernoulliStream(group.pointer_free_fraction, kids[1])
        self.work = Stream(group.work_ns, kids[2])
        self.cost_seeds = kids[3:]
        self.cost_streams: dict[str, Stream] = {}
        self.fixed = (self.sizes.const is not None and self.noscan.const is not None)
        #: a fixed goroutine's (path, span class, bytes charged), classified once
        #: (``fixed_class``)
        self.fixed_cls: tuple[int, int, int] | None = None
        lt = group.lifetime
        self.live_ring: deque[int] | None = (
            deque(maxlen=lt.value) if lt.kind == "allocations" else None)
        self.live_bytes = 0
        #: allocations completed (before the end of a timed run)
        self.allocs = 0
        #: completion times of this goroutine's allocations (``time`` lifetimes)
        self.comp_times: array[int] | None = array("q") if lt.kind == "time" else None
        #: the simulation's lock-order check (None: not checking)
        self.check = sim.lock_check
        #: mark-assist debt, ns of mark work (gosim/sim/gc.py), and the bytes
        #: allocated while marking not yet turned into debt (malloc.go
        #: deductAssistCredit charges every allocation; kept as an integer so
        #: that a batched run and step mode count them alike)
        self.gc_debt: float = 0.0
        self.gc_pending: int = 0
        #: liveness for the collector (gosim/sim/lifetimes.py)
        self.lt_kind = lt.kind
        self.lt_value = lt.value or 0
        self.ring_n = lt.value or 0
        self.ring: deque[tuple[Any, int]] | None = deque() if lt.kind == "allocations" else None
        self.touch = group.touch
        #: at a safepoint for the collector: set by every allocation that took the
        #: slow path (and at the start), the same allocations in batched and step mode
        self.sp = True
        #: small allocations (and their bytes) the cache served since this
        #: goroutine last came onto its P, not yet in MemStats's flow counters
        #: (``flush_flow``: counted per goroutine, added up once per P)
        self.flow_n = 0
        self.flow_b = 0

    # -- costs ----------------------------------------------------------------------
    def _stream(self, name: str) -> Stream:
        s = self.cost_streams.get(name)
        if s is None:
            s = Stream(self.sim.costs.values[name], self.cost_seeds[_COST_NAMES.index(name)],
                       as_int=False)
            self.cost_streams[name] = s
        return s

    def draw_ns(self, name: str, units: float = 1.0) -> int:
        """The next value of a cost times ``units``, rounded to ns; not recorded
        (the caller charges what it actually spends)."""
        c = self.sim.costs.constants[name]
        if c is None:
            c = self._stream(name).next()
        return int(c * units + 0.5)

    def cost_ns(self, name: str, units: float = 1.0) -> int:
        """Draw and charge ``units`` of a cost."""
        self.sim.costs.charge(name, units)
        return self.draw_ns(name, units)

    def fixed_class(self) -> tuple[int, int, int]:
        """``Runtime.classify`` of a fixed goroutine's one size and pointer-ness,
        computed at its first allocation and kept."""
        fc = self.fixed_cls
        if fc is None:
            fc = self.fixed_cls = self.sim.rt.classify(
                self.sizes.const, self.noscan.const)  # type: ignore[arg-type]
        return fc

    def price(self, charges: Charges) -> int:
        """Draw and charge what ``charges`` cost, as ns (each term rounded)."""
        costs = self.sim.costs
        consts = costs.constants
        rec = costs.record
        total = 0
        for name, units in charges:
            c = consts[name]
            if c is None:
                c = self._stream(name).next()
            if rec is not None and units:
                rec[name] = rec.get(name, 0.0) + units
            total += int(c * units + 0.5)
        return total

    def price_const(self, charges: Charges) -> int | None:
        """What ``charges`` cost when every term is a constant (None otherwise);
        nothing drawn or charged."""
        total = 0
        consts = self.sim.costs.constants
        for name, units in charges:
            c = consts[name]
            if c is None:
                return None
            total += int(c * units + 0.5)
        return total

    def price_vec(self, charges: Charges, n: int) -> np.ndarray:
        """What the next n allocations charged ``charges`` each cost, as int ns;
        peeked: :meth:`consume` the ones taken."""
        consts = self.sim.costs.constants
        f = np.zeros(n, dtype=np.int64)
        for name, units in charges:
            c = consts[name]
            if c is None:
                f += np.floor(self._stream(name).peek(n) * units + 0.5).astype(np.int64)
            else:
                f += int(c * units + 0.5)
        return f

    def consume(self, charges: Charges, k: int) -> None:
        """k allocations charged ``charges`` each happened: advance the streams
        :meth:`price_vec` peeked into and charge the costs."""
        costs = self.sim.costs
        for name, units in charges:
            if costs.constants[name] is None:
                self._stream(name).consume(k)
            costs.charge(name, k * units)

    # -- what the goroutine has allocated -----------------------------------------------
    def flush_flow(self) -> None:
        """Add the allocations counted since the last flush to the runtime's
        goroutine -> P flow counters (before the goroutine changes P, and at the
        end of the run)."""
        st = self.sim.rt.stats
        key = self.gid << FLOW_SHIFT | self.p
        if self.flow_n:
            tally(st.flow_g_mallocs, key, self.flow_n)
            self.flow_n = 0
        if self.flow_b:
            tally(st.flow_g_bytes, key, self.flow_b)
            self.flow_b = 0

    def count_malloc(self, st: MemStats, nbytes: int) -> None:
        """Ctx.count_malloc: counted on the goroutine (``flush_flow`` adds it up)."""
        self.flow_n += 1
        self.flow_b += nbytes

    def note_allocs(self, nbytes: int, n: int, times: np.ndarray | int) -> None:
        """n allocations of ``nbytes`` each completed (at ``times``): count them
        and track what stays live under the group's lifetime."""
        self.allocs += n
        kind = self.lt_kind
        if kind == "keep":
            self.live_bytes += nbytes * n
        elif kind == "allocations":
            ring = self.live_ring
            assert ring is not None and ring.maxlen is not None
            if n >= ring.maxlen:
                ring.clear()
                n = ring.maxlen
            ring.extend([nbytes] * n)
        elif self.comp_times is not None and n:
            if isinstance(times, int):
                self.comp_times.append(times)
            else:
                self.comp_times.frombytes(times.astype(np.int64).tobytes())

    # -- the runtime Ctx protocol ------------------------------------------------------
    # Each returns what the runtime code's ``yield from`` runs: an empty tuple
    # when nothing has to wait (no SimPy event, no generator), else the events
    # to wait on (``spend`` never waits: it returns nothing). A sync whose
    # timeout would be the very next event takes the clock at once
    # (:func:`first_before`), so an uncontended lock, span-set
    # operation or cost is plain code. One with events due before it processes
    # them itself (``gosim.sim.clock.run_before``) and then takes the clock, in
    # place of waiting on its timeout; within another such sync, only if it
    # comes before that one's timeout. Results are those of waiting on the
    # timeout (tests/test_speed_paths.py compares with every sync waiting on
    # it, tests/test_sim.py with step mode).

    def sync(self, force: bool = False) -> Any:
        """Advance the simulation clock to this goroutine's clock. Needed before
        anything another P can observe (a lock, the scheduler: ``force``); a
        lock-free cell is only observed by other Ps, so with one P it needs none."""
        sim = self.sim
        env = sim.env
        vt = self.vt
        pos = sim.pos
        now = pos.now
        if vt > now and (force or sim.sync_always or sim.T is not None and vt >= sim.T):
            p = self.p
            if not sim.sync_shortcut or pos.shared:
                return (PTimeout(env, vt - now, p, pos),)
            q = sim.queue
            depth = pos.depth
            if depth:
                # within another goroutine's sync (``run_before``), whose
                # timeout is not in the queue but comes before any later one
                nt = pos.nest_t
                if vt > nt or (vt == nt and NORMAL_KEY + p >= pos.nest_key):
                    return (PTimeout(env, vt - now, p, pos),)
            if first_before(q, vt, p):
                T = sim.T
                if depth >= MAX_NESTED_SYNCS or (T is not None and vt >= T):
                    return (PTimeout(env, vt - now, p, pos),)
                # the events due first run here, then the clock is this
                # goroutine's: what waiting on the timeout would do
                run_before(env, pos, q, vt, NORMAL_KEY + p, pos.take_eid())
                return _NONE
            # nothing is due before that timeout would be: take it at once, with
            # the clock and the queue position (key, insertion id, event count)
            # that timeout would have set
            pos.now = vt
            pos.key = NORMAL_KEY + p
            pos.eid = pos.take_eid()
            pos.nstep += 1
        return _NONE

    def lock(self, mu: Mutex, fn: str = "") -> Any:
        chk = self.check
        if chk is not None:
            chk.acquire(self.gid, self.p, self.vt, mu.name, site_of(sys._getframe(1)))
        w = self.sync(True)
        sim_mu: RuntimeMutex = mu.sim
        if w:
            return self._lock_wait(w, mu, fn)
        if not sim_mu.try_acquire(self):
            # wait in the lock itself, which names ``fn`` the owner once it is
            # granted (one generator less than _lock_wait); what is held and
            # taken is this goroutine's own, read only once it runs again
            self.held.append(sim_mu.hold_cat)
            self.locks_taken += 1
            return sim_mu.acquire(self, fn)
        sim_mu.owner_fn = fn
        self.held.append(sim_mu.hold_cat)
        self.locks_taken += 1
        return _NONE

    def _lock_wait(self, w: tuple[Any, ...], mu: Mutex, fn: str) -> Any:
        yield from w
        sim_mu: RuntimeMutex = mu.sim
        if not (w and sim_mu.try_acquire(self)):
            yield from sim_mu.acquire(self)
        sim_mu.owner_fn = fn
        self.held.append(sim_mu.hold_cat)
        self.locks_taken += 1

    def unlock(self, mu: Mutex) -> Any:
        w = self.sync(True)
        if w:
            return self._unlock_after(w, mu)
        sim_mu: RuntimeMutex = mu.sim
        sim_mu.release(self)
        self.held.pop()
        chk = self.check
        if chk is not None:
            chk.release(self.gid, mu.name)
        return _NONE

    def _unlock_after(self, w: tuple[Any, ...], mu: Mutex) -> Any:
        yield from w
        sim_mu: RuntimeMutex = mu.sim
        sim_mu.release(self)
        self.held.pop()
        chk = self.check
        if chk is not None:
            chk.release(self.gid, mu.name)

    def spend(self, cost: str, units: float = 1.0) -> None:
        costs = self.sim.costs
        rec = costs.record
        if rec is not None and units:
            rec[cost] = rec.get(cost, 0.0) + units
        ns1 = costs.unit_ns[cost] if units == 1.0 else None
        if ns1 is not None:
            ns = ns1
        else:
            c = costs.constants[cost]
            if c is None:
                c = self._stream(cost).next()
            ns = int(c * units + 0.5)
        if ns > 0:
            held = self.held
            vt = self.vt
            self.sim.acct.account(self.p, held[-1] if held else "slow_path", vt, vt + ns)
            self.vt = vt + ns

    def atomic(self, cell: AtomicCell, cost: str) -> Any:
        chk = self.check
        if chk is not None and cell.kind == "spanset":  # it may take the set's spine lock
            chk.acquire(self.gid, self.p, self.vt, cell.name, site_of(sys._getframe(1)))
            chk.release(self.gid, cell.name)
        w = self.sync()
        if w:
            return self._atomic_after(w, cell, cost)
        sa: SimAtomic = cell.sim
        self.vt = sa.op_at(self.p, self.vt, cost, self)
        return _NONE

    def _atomic_after(self, w: tuple[Any, ...], cell: AtomicCell, cost: str) -> Any:
        yield from w
        sa: SimAtomic = cell.sim
        # SimAtomic.op, with this goroutine's fields read natively (op's caller
        # is a protocol: generic attribute lookups)
        self.vt = sa.op_at(self.p, self.vt, cost, self)
