"""A goroutine: its random streams, its own clock, and the runtime ``Ctx`` that
its allocator calls run under in the simulation (locks, costs, atomics)."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.random import SeedSequence

from gosim.runtime.context import AtomicCell, Mutex
from gosim.sim.costs import COST_PARAMETERS
from gosim.sim.env import PTimeout
from gosim.workload.spec import GoroutineGroup
from gosim.workload.streams import BernoulliStream, Stream

if TYPE_CHECKING:
    from gosim.sim.engine import Simulation

_COST_NAMES = sorted(COST_PARAMETERS)


def _nothing() -> Any:
    return
    yield  # pragma: no cover


class GCtx:
    """A goroutine, and the runtime ``Ctx`` its allocator calls run under."""

    __slots__ = ("sim", "gid", "group", "p", "vt", "held", "locks_taken", "remaining", "slice_end",
                 "sizes", "noscan", "work", "cost_seeds", "cost_streams", "fixed",
                 "live_ring", "live_bytes", "allocs", "done", "comp_times")

    def __init__(self, sim: Simulation, gid: int, group: GoroutineGroup, seed: SeedSequence):
        self.sim = sim
        self.gid = gid
        self.group = group
        self.p = 0
        #: the goroutine's own clock: local work advances it without SimPy events;
        #: ``sync`` brings the simulation clock up to it before shared state is touched
        self.vt = 0
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
        lt = group.lifetime
        self.live_ring: deque[int] | None = (
            deque(maxlen=lt.value) if lt.kind == "allocations" else None)
        self.live_bytes = 0
        self.allocs = 0
        self.done = False
        self.comp_times: list[np.ndarray] | None = [] if lt.kind == "time" else None

    # -- costs ----------------------------------------------------------------------
    def _stream(self, name: str) -> Stream:
        s = self.cost_streams.get(name)
        if s is None:
            s = Stream(self.sim.costs.values[name], self.cost_seeds[_COST_NAMES.index(name)],
                       as_int=False)
            self.cost_streams[name] = s
        return s

    def cost_ns(self, name: str, units: float = 1.0) -> int:
        c = self.sim.costs.constants[name]
        if c is None:
            c = self._stream(name).next()
        return int(c * units + 0.5)

    def cost_vec(self, name: str, n: int, units: float = 1.0) -> np.ndarray:
        """The next n draws of a cost, as int ns (peeked; call cost_consume after)."""
        c = self.sim.costs.constants[name]
        if c is None:
            return np.floor(self._stream(name).peek(n) * units + 0.5).astype(np.int64)
        return np.full(n, int(c * units + 0.5), dtype=np.int64)

    def cost_consume(self, name: str, n: int) -> None:
        if self.sim.costs.constants[name] is None:
            self._stream(name).consume(n)

    # -- the runtime Ctx protocol ------------------------------------------------------
    def sync(self, force: bool = False) -> Any:
        """Advance the simulation clock to this goroutine's clock. Needed before
        anything another P can observe (a lock, the scheduler: ``force``); a
        lock-free cell is only observed by other Ps, so with one P it needs none."""
        env = self.sim.env
        if self.vt > env.now and (force or self.sim.nprocs > 1 or self.sim.eager or
                                  self.sim.T is not None and self.vt >= self.sim.T):
            yield PTimeout(env, self.vt - env.now, self.p)

    def lock(self, mu: Mutex) -> Any:
        yield from self.sync(True)
        yield from mu.sim.acquire(self)
        self.held.append(mu.kind)
        self.locks_taken += 1

    def unlock(self, mu: Mutex) -> Any:
        yield from self.sync(True)
        mu.sim.release(self)
        self.held.pop()

    def spend(self, cost: str, units: float = 1.0) -> Any:
        ns = self.cost_ns(cost, units)
        if ns > 0:
            cat = "hold:" + self.held[-1] if self.held else "slow_path"
            self.sim.account(self.p, cat, self.vt, self.vt + ns)
            self.vt += ns
        return _nothing()

    def atomic(self, cell: AtomicCell, cost: str) -> Any:
        yield from self.sync()
        cell.sim.op(self, cost)
