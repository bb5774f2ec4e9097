"""The seam between the allocator model and the simulation layer.

Runtime code that must wait (a lock) or spend time (a cost) says so through a
:class:`Ctx`, as generator functions used with ``yield from``. Under
:class:`NoSimCtx` those generators yield nothing, so the same code runs
uncontended and timeless in unit tests (drive it with :func:`run_sync`);
under the SimPy layer (``gosim.sim``) they yield SimPy events.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from gosim.runtime.mstats import FLOW_SHIFT, MemStats, tally

T = TypeVar("T")
Gen = Generator[Any, Any, T]
#: what a call that often has nothing to wait for returns: its generator, or
#: () when it finished at once (``yield from ()`` runs nothing)
MaybeGen = Gen[None] | tuple[()]


class _SyncObject:
    """Shared state that other Ps contend on; the simulation attaches its
    contention model as ``sim``."""

    __slots__ = ("name", "kind", "span_class", "size_class", "sim")

    def __init__(self, name: str, kind: str, span_class: int = -1, size_class: int = -1) -> None:
        self.name = name
        self.kind = kind
        self.span_class = span_class
        self.size_class = size_class
        self.sim: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class Mutex(_SyncObject):
    """A runtime.mutex (runtime/lock_*.go)."""

    __slots__ = ()


class AtomicCell(_SyncObject):
    """A lock-free structure (e.g. an mcentral span set, mspanset.go): operations
    on it are atomics whose cost grows with concurrent access."""

    __slots__ = ()


class Ctx:
    """What runtime code may ask of its execution context: a base class (not a
    Protocol), so that the compiled core calls its methods directly; the two
    contexts are :class:`NoSimCtx` and the simulation's goroutine
    (``gosim.sim.goroutine.GCtx``). Each method returns what the caller's
    ``yield from`` runs: a generator, or an empty tuple when nothing waits
    (``spend``, which never waits, returns nothing)."""

    __slots__ = ()

    #: index of the P this code runs on (selects the mcache, page cache, mspan cache)
    p: int
    #: the goroutine this code runs for (getg().goid; the flow's goroutine -> P edge)
    gid: int

    def lock(self, mu: Mutex, fn: str = "") -> Any:
        """Take ``mu`` for runtime function ``fn`` (Go's name, e.g.
        ``(*mheap).freeSpan``: whom the mutex profile blames for the waits
        its critical section causes)."""
        raise NotImplementedError

    def unlock(self, mu: Mutex) -> Any:
        raise NotImplementedError

    def spend(self, cost: str, units: float = 1.0) -> None:
        """Spend ``units`` of cost parameter ``cost``: the goroutine's own clock
        advances; nothing waits, so callers call it without ``yield from``."""
        raise NotImplementedError

    def sync(self, force: bool = False) -> Any:
        """Observe shared state as of this code's clock (an atomic load of a
        word other Ps write): the simulation catches up to it (``force``: even
        where only one P could observe it)."""
        raise NotImplementedError

    def atomic(self, cell: AtomicCell, cost: str) -> Any:
        raise NotImplementedError

    def count_malloc(self, st: MemStats, nbytes: int) -> None:
        """One malloc of ``nbytes`` on the flow's goroutine -> P edge
        (MemStats's ``flow_g_mallocs``, ``flow_g_bytes``); a goroutine of the
        simulation counts its own and adds them up once per P."""
        key = self.gid << FLOW_SHIFT | self.p
        tally(st.flow_g_mallocs, key)
        tally(st.flow_g_bytes, key, nbytes)


class NoSimCtx(Ctx):
    """Uncontended, timeless execution: every wait and cost is free.

    Checks lock discipline (no double lock, unlock of a held lock) so unit
    tests catch lock-ordering mistakes in the model.
    """

    def __init__(self, p: int = 0, gid: int = 0) -> None:
        self.p = p
        self.gid = gid
        self.held: list[Mutex] = []

    def lock(self, mu: Mutex, fn: str = "") -> MaybeGen:
        if mu in self.held:
            raise RuntimeError(f"self-deadlock: {mu.name} already held")
        self.held.append(mu)
        return ()

    def unlock(self, mu: Mutex) -> MaybeGen:
        if mu not in self.held:
            raise RuntimeError(f"unlock of unlocked {mu.name}")
        self.held.remove(mu)
        return ()

    def spend(self, cost: str, units: float = 1.0) -> None:
        return None

    def sync(self, force: bool = False) -> MaybeGen:
        return ()

    def atomic(self, cell: AtomicCell, cost: str) -> MaybeGen:
        return ()


def run_sync(gen: Gen[T]) -> T:
    """Drive a runtime generator that must not block (NoSimCtx) to completion."""
    try:
        while True:
            ev = next(gen)
            raise RuntimeError(f"runtime code yielded {ev!r} outside a simulation")
    except StopIteration as stop:
        return stop.value
