"""Where the simulation stands among its events: the queue position of the
event being processed (or of the timeout a shortcut sync stands for).

:class:`~gosim.sim.env.SimEnv` (an interpreted SimPy environment) writes it at
every event; the compiled core reads and writes it at every sync and lock
hand-off. It is a compiled object of its own so that those reads and writes
are field accesses, not attribute lookups in an interpreted object's dictionary.
"""

from __future__ import annotations

from heapq import heappop, heappush
from typing import Any, Final

from simpy.core import EmptySchedule, StopSimulation
from simpy.events import PENDING

#: keeps SimPy's priority classes apart in an event's queue key, which embeds
#: the P index below them (gosim/sim/env.py)
PK_SPAN: Final = 1 << 16
#: a NORMAL-priority event's key for P 0 (SimPy's NORMAL is 1); a constant the
#: compiled core inlines
NORMAL_KEY: Final = 1 * PK_SPAN


#: SimPy's URGENT priority's key (a process's start), below every NORMAL one
URGENT_KEY: Final = 0 * PK_SPAN


class EidCount:
    """SimPy's insertion-id counter (its ``itertools.count()``, ``next`` gives
    0, 1, 2, ...) as a compiled object: SimPy's ``schedule`` calls ``next`` on
    it, the compiled core reads and bumps its field (``EventPos.take_eid``)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def __iter__(self) -> EidCount:
        return self

    def __next__(self) -> Any:  # (object: mypyc's tp_iternext returns one)
        n = self.n
        self.n = n + 1
        return n


class EventPos:
    __slots__ = ("now", "shared", "key", "eid", "nstep", "events", "queue", "eids", "inline",
                 "depth", "max_depth", "nest_t", "nest_key", "active")

    def __init__(self) -> None:
        #: the simulation clock: the environment's ``_now`` and ``now`` read it
        #: (``SimEnv``), the compiled core reads and writes it here, as a field
        self.now = 0
        #: an event with several callbacks is being processed: one that has not
        #: run yet must see the clock of this event (``gosim.sim.goroutine.first_before``)
        self.shared = False
        #: the queue key and insertion id of the event being processed: where
        #: "now" sits among events of the same time, for work done lazily in event
        #: order (``RuntimeMutex``'s spin windows)
        self.key = 0
        self.eid = 0
        #: events processed so far (a shortcut sync counts as one): an event
        #: scheduled during the current one is processed after it, whatever its key
        self.nstep = 0
        #: SimPy events processed (shortcut syncs not counted)
        self.events = 0
        #: the environment's event queue and insertion-id counter (the same
        #: objects as its ``_queue`` and ``_eid``: SimEnv sets them)
        self.queue: list[Any] = []
        self.eids = EidCount()
        #: syncs that processed the events due before them in place of their
        #: timeout (``run_before``; counted in ``nstep``, not in ``events``)
        self.inline = 0
        #: how many such syncs are under way, one within another, and the most
        #: there have been
        self.depth = 0
        self.max_depth = 0
        #: the time and key of the timeout the innermost of them stands for: a
        #: sync due after it must wait for it (``GCtx.sync`` while nested)
        self.nest_t = 0
        self.nest_key = 0
        #: the process being resumed (SimPy's ``active_process``; ``SimEnv``'s
        #: ``_active_proc`` reads and writes it here)
        self.active: Any = None

    def take_eid(self) -> int:
        """The next insertion id, as SimPy's ``next(env._eid)`` gives it."""
        ec = self.eids
        n = ec.n
        ec.n = n + 1
        return n

    def before(self, now: int, t: int, key: int, eid: int) -> bool:
        """Whether an event keyed (t, key, eid) would have been processed before
        the current position, the clock being at ``now``."""
        return t < now or (t == now and (key < self.key or (key == self.key and eid < self.eid)))


def run_events(env: Any, pos: EventPos, queue: list[Any]) -> None:
    """Process events until the queue is empty (raises SimPy's
    ``EmptySchedule``) or an event stops the simulation (its callback raises
    ``StopSimulation``): :func:`step_event` in a compiled loop, for
    ``SimEnv.run``; event for event what SimPy's ``Environment.run`` does with
    ``step``."""
    while True:
        step_event(env, pos, queue)


def run_before(env: Any, pos: EventPos, queue: list[Any], t: int, key: int, eid: int) -> None:
    """Process, in queue order, every event that would come before a timeout
    keyed (t, key, eid), and then take that timeout's place: what waiting on
    it does, without the timeout. The caller (a goroutine's ``sync``) is
    running, so no event processed here can resume it. It may itself run
    within another sync's ``run_before`` (``pos.depth``), when it comes
    before that one's timeout; it must not run where an event before it
    would stop the simulation."""
    ap = pos.active
    outer_t = pos.nest_t
    outer_key = pos.nest_key
    depth = pos.depth + 1
    pos.depth = depth
    if depth > pos.max_depth:
        pos.max_depth = depth
    pos.nest_t = t
    pos.nest_key = key
    try:
        while queue:
            h = queue[0]
            t0: int = h[0]
            if t0 > t:
                break
            if t0 == t:
                k0: int = h[1]
                if k0 > key or (k0 == key and h[2] > eid):
                    break
            step_event(env, pos, queue)
    finally:
        pos.depth -= 1
        pos.nest_t = outer_t
        pos.nest_key = outer_key
        pos.active = ap
    pos.now = t
    pos.key = key
    pos.eid = eid
    pos.nstep += 1
    pos.inline += 1


def step_event(env: Any, pos: EventPos, queue: list[Any]) -> None:
    """SimPy's ``Environment.step`` for a :class:`~gosim.sim.env.SimEnv`: the
    next event of ``queue``, its position noted in ``pos`` (and whether it
    has several callbacks: several processes waiting on it)."""
    if not queue:
        raise EmptySchedule()
    # typed: unpacked by index rather than by iterating an object
    entry: tuple[int, int, int, Any] = heappop(queue)
    t = entry[0]
    key = entry[1]
    eid = entry[2]
    event = entry[3]
    pos.now = t
    pos.key = key
    pos.eid = eid
    pos.nstep += 1
    pos.events += 1
    native = isinstance(event, PEvent)
    if native:  # fields, not attribute lookups
        pe: PEvent = event
        cbs = pe.callbacks
        assert cbs is not None
        callbacks: list[Any] = cbs
        pe.callbacks = None
    else:
        callbacks = event.callbacks
        event.callbacks = None
    shared = len(callbacks) > 1
    pos.shared = shared
    i = 0
    try:
        for callback in callbacks:
            i += 1
            callback(event)
    except StopSimulation:
        # what SimPy's step does: the callbacks not run yet run when the
        # simulation is resumed
        event.callbacks = callbacks[i:]
        env.schedule(event, -1)
        raise
    finally:
        if shared:
            pos.shared = False
    if native:
        if not pe._ok and not pe._defused:  # a P process that failed
            err = pe._value
            exc = type(err)(*err.args)
            exc.__cause__ = err
            raise exc
        return
    if not event._ok and not hasattr(event, "_defused"):
        exc = type(event._value)(*event._value.args)
        exc.__cause__ = event._value
        raise exc


# -- events and processes --------------------------------------------------------------

class PEvent:
    """An event that resumes P ``pk``: what SimPy's ``Event`` is to SimPy's loop
    and processes (``env``, ``callbacks``, ``_value``, ``_ok``, ``_defused``;
    ``succeed``), as a compiled object, so that the loop and :class:`PProc`
    read it by field. SimPy's own code (``Process._resume``, conditions) reads
    the same names as attributes."""

    def __init__(self, env: Any, pk: int, pos: EventPos | None = None) -> None:
        self.env = env
        #: the environment's position (``env.pos``; compiled callers pass it,
        #: saving an interpreted attribute lookup per event)
        self.pos: EventPos = pos if pos is not None else env.pos
        self.pk = pk
        self.callbacks: list[Any] | None = []
        self._value: Any = PENDING
        self._ok = True
        self._defused = False

    @property
    def triggered(self) -> bool:
        return self._value is not PENDING

    @property
    def processed(self) -> bool:
        return self.callbacks is None

    @property
    def value(self) -> Any:
        if self._value is PENDING:
            raise AttributeError(f"Value of {self} is not yet available")
        return self._value

    def _push(self, delay: int, key: int) -> None:
        """Into the environment's queue, ``delay`` ns from now, as
        ``SimEnv.schedule`` would put it (the key embeds the P)."""
        pos = self.pos
        heappush(pos.queue, (pos.now + delay, key, pos.take_eid(), self))

    def succeed(self, value: Any = None) -> PEvent:
        """SimPy's ``Event.succeed``, scheduled as ``SimEnv.schedule`` would
        (NORMAL priority keyed by its P, now)."""
        if self._value is not PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok = True
        self._value = value
        self._push(0, NORMAL_KEY + self.pk)
        return self


class PTimeout(PEvent):
    """A timeout that resumes P ``pk`` (SimPy's ``Timeout``, scheduled with the
    key ``SimEnv.schedule`` would give it)."""

    def __init__(self, env: Any, delay: int, pk: int, pos: EventPos | None = None) -> None:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        self.env = env
        self.pos = pos if pos is not None else env.pos
        self.pk = pk
        self.callbacks = []
        self._value = None
        self._ok = True
        self._defused = False
        self._push(delay, NORMAL_KEY + pk)


class PProc(PEvent):
    r"""A P's process: SimPy's ``Process`` (started by an URGENT initialisation
    event, resumed by each event its generator yields, itself an event that
    succeeds with the generator's return value or fails with its exception),
    compiled, with the events it waits on read by field when they are
    :class:`PEvent`\ s. Queue keys, ids and event counts are those SimPy's
    ``Process`` gives, so results do not change with it."""

    def __init__(self, env: Any, generator: Any, pk: int) -> None:
        super().__init__(env, pk)
        self.gen = generator
        #: the callback registered on every event waited on (one bound method)
        self._resume_cb = self.resume
        # simpy.events.Initialize: scheduled URGENT by SimEnv.schedule, keyed by
        # the active process's P (0 when none), as SimPy's Process is before its
        # pk is set
        init = PEvent(env, 0, self.pos)
        init.callbacks = [self._resume_cb]
        init._value = None
        ap = self.pos.active
        init._push(0, URGENT_KEY + (int(getattr(ap, "pk", 0)) if ap is not None else 0))
        self._target: Any = init

    @property
    def is_alive(self) -> bool:
        return self._value is PENDING

    def resume(self, event: Any) -> None:
        """SimPy's ``Process._resume``."""
        pos = self.pos
        pos.active = self
        gen = self.gen
        while True:
            if isinstance(event, PEvent):
                pe: PEvent = event
                ok = pe._ok
                value = pe._value
            else:
                ok = event._ok
                value = event._value
            try:
                if ok:
                    # (next: the generator's own slot, where send is a method
                    # looked up by name; the same for a value of None)
                    event = next(gen) if value is None else gen.send(value)
                else:
                    event._defused = True
                    exc = type(value)(*value.args)
                    exc.__cause__ = value
                    event = gen.throw(exc)
            except StopIteration as e:
                event = None
                self._ok = True
                self._value = e.args[0] if len(e.args) else None
                self._push(0, NORMAL_KEY + self.pk)
                break
            except BaseException as e:
                event = None
                self._ok = False
                self._value = e
                self._push(0, NORMAL_KEY + self.pk)
                break
            if isinstance(event, PEvent):
                cbs = event.callbacks
                if cbs is not None:
                    cbs.append(self._resume_cb)
                    break
            else:
                try:
                    if event.callbacks is not None:
                        event.callbacks.append(self._resume_cb)
                        break
                except AttributeError:
                    if not hasattr(event, "callbacks"):
                        raise RuntimeError(f'Invalid yield value "{event}"') from None
                    raise
        self._target = event
        pos.active = None
