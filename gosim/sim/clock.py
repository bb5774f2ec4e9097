"""Where the simulation stands among its events: the queue position of the
event being processed (or of the timeout a shortcut sync stands for).

:class:`~gosim.sim.env.SimEnv` (an interpreted SimPy environment) writes it at
every event; the compiled core reads and writes it at every sync and lock
hand-off. It is a compiled object of its own so that those reads and writes
are field accesses, not attribute lookups in an interpreted object's dictionary.
"""

from __future__ import annotations

from heapq import heappop
from typing import Any, Final

from simpy.core import EmptySchedule, StopSimulation

#: keeps SimPy's priority classes apart in an event's queue key, which embeds
#: the P index below them (gosim/sim/env.py)
PK_SPAN: Final = 1 << 16
#: a NORMAL-priority event's key for P 0 (SimPy's NORMAL is 1); a constant the
#: compiled core inlines
NORMAL_KEY: Final = 1 * PK_SPAN


class EventPos:
    __slots__ = ("now", "shared", "key", "eid", "nstep", "events")

    def __init__(self) -> None:
        #: the simulation clock, as the environment's ``_now`` (written with it:
        #: the compiled core reads it here, as a field)
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


def step_event(env: Any, pos: EventPos, queue: list[Any]) -> None:
    """SimPy's ``Environment.step`` for a :class:`~gosim.sim.env.SimEnv`: the
    next event of ``queue``, its position noted in ``pos`` (and whether it
    has several callbacks: several processes waiting on it)."""
    if not queue:
        raise EmptySchedule()
    t, key, eid, event = heappop(queue)
    env._now = t
    pos.now = t
    pos.key = key
    pos.eid = eid
    pos.nstep += 1
    pos.events += 1
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
    if not event._ok and not hasattr(event, "_defused"):
        exc = type(event._value)(*event._value.args)
        exc.__cause__ = event._value
        raise exc
