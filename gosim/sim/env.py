"""A SimPy environment with integer-nanosecond time and mode-independent ties.

SimPy orders events at the same time by (priority, insertion id). Batched and
step mode insert different numbers of events, so the insertion id alone would
let them break ties differently. Every event here also carries ``pk``: the
index of the P it resumes (or that created it). Ties are broken by P index
first, then insertion order, so whatever touches shared state at the same
instant does so in the same order in both modes.
"""

from __future__ import annotations

from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import NORMAL, EmptySchedule, StopSimulation
from simpy.events import PENDING, Event, Timeout

#: keeps priority classes apart while embedding the P index
_PK_SPAN = 1 << 16
#: a NORMAL-priority event's key for P 0
NORMAL_KEY = NORMAL * _PK_SPAN


class SimEnv(simpy.Environment):
    def __init__(self) -> None:
        super().__init__(initial_time=0)
        #: an event with several callbacks is being processed: one that has not
        #: run yet must see the clock of this event (``gosim.sim.goroutine.first_before``)
        self.shared = False
        #: the queue key and insertion id of the event being processed (or of the
        #: timeout a shortcut sync stands for): where "now" sits among events of
        #: the same time, for work done lazily in event order (``RuntimeMutex``'s
        #: spin windows)
        self.pos_key = 0
        self.pos_eid = 0
        #: events processed so far (a shortcut sync counts as one): an event
        #: scheduled during the current one is processed after it, whatever its key
        self.nstep = 0
        #: SimPy events processed (shortcut syncs not counted)
        self.events = 0

    def at_pos(self, t: int, key: int, eid: int) -> bool:
        """Whether an event keyed (t, key, eid) would have been processed before
        the current position."""
        now = self._now
        return t < now or (t == now and (key < self.pos_key or
                                          (key == self.pos_key and eid < self.pos_eid)))

    def step(self) -> None:
        """simpy's ``Environment.step``, noting when the event has several
        callbacks (several processes waiting on it)."""
        try:
            self._now, self.pos_key, self.pos_eid, event = heappop(self._queue)
        except IndexError:
            raise EmptySchedule from None
        self.nstep += 1
        self.events += 1
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        shared = self.shared = len(callbacks) > 1  # type: ignore[arg-type]
        try:
            for callback in callbacks:  # type: ignore[union-attr]
                callback(event)
        except StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1:]  # type: ignore
            self.schedule(event, -1)
            raise
        finally:
            if shared:
                self.shared = False
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc

    def schedule(self, event: Event, priority: int = NORMAL, delay: Any = 0) -> None:
        pk = getattr(event, "pk", None)
        if pk is None:
            ap = self._active_proc
            pk = getattr(ap, "pk", 0) if ap is not None else 0
        super().schedule(event, priority * _PK_SPAN + pk, delay)


class PTimeout(Timeout):
    """A timeout that resumes P ``pk`` (scheduled here directly, with the key
    ``SimEnv.schedule`` would give it)."""

    def __init__(self, env: SimEnv, delay: int, pk: int) -> None:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        self.pk = pk
        self.env = env
        self.callbacks: list[Any] = []
        self._value = None
        self._delay = delay
        self._ok = True
        heappush(env._queue, (env._now + delay, NORMAL_KEY + pk, next(env._eid), self))


def succeed_now(env: SimEnv, ev: Event) -> None:
    """``ev.succeed()`` for an event made by :func:`p_event`, with the same
    checks and queue entry (``SimEnv.schedule``: NORMAL priority keyed by its
    P, now), without the interpreted calls in between."""
    if ev._value is not PENDING:
        raise RuntimeError(f"{ev} has already been triggered")
    ev._ok = True
    ev._value = None
    heappush(env._queue, (env._now, NORMAL_KEY + ev.pk, next(env._eid), ev))  # type: ignore[attr-defined]


def p_event(env: SimEnv, pk: int) -> Event:
    ev = Event(env)
    ev.pk = pk  # type: ignore[attr-defined]
    return ev
