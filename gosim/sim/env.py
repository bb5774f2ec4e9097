"""A SimPy environment with integer-nanosecond time and mode-independent ties.

SimPy orders events at the same time by (priority, insertion id). Batched and
step mode insert different numbers of events, so the insertion id alone would
let them break ties differently. Every event here also carries ``pk``: the
index of the P it resumes (or that created it). Ties are broken by P index
first, then insertion order, so whatever touches shared state at the same
instant does so in the same order in both modes.
"""

from __future__ import annotations

from heapq import heappop
from typing import Any

import simpy
from simpy.core import NORMAL, EmptySchedule, StopSimulation
from simpy.events import Event, Timeout

#: keeps priority classes apart while embedding the P index
_PK_SPAN = 1 << 16
#: a NORMAL-priority event's key for P 0
_NORMAL_KEY = NORMAL * _PK_SPAN


class SimEnv(simpy.Environment):
    def __init__(self) -> None:
        super().__init__(initial_time=0)
        #: an event with several callbacks is being processed: one that has not
        #: run yet must see the clock of this event (``first_before``)
        self.shared = False

    def step(self) -> None:
        """simpy's ``Environment.step``, noting when the event has several
        callbacks (several processes waiting on it)."""
        try:
            self._now, _, _, event = heappop(self._queue)
        except IndexError:
            raise EmptySchedule from None
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

    def first_before(self, t: int, pk: int) -> bool:
        """Whether an event already queued would be processed before a timeout
        scheduled now for time ``t`` resuming P ``pk``. When none would, that
        timeout would be the very next event: a caller may set the clock to
        ``t`` and carry on instead, with the same result and no event (the
        goroutine's ``sync``)."""
        if self.shared:
            return True
        q = self._queue
        if not q:
            return False
        h = q[0]
        return h[0] < t or (h[0] == t and h[1] <= _NORMAL_KEY + pk)


class PTimeout(Timeout):
    """A timeout that resumes P ``pk``."""

    def __init__(self, env: SimEnv, delay: int, pk: int) -> None:
        self.pk = pk
        super().__init__(env, delay)


def p_event(env: SimEnv, pk: int) -> Event:
    ev = Event(env)
    ev.pk = pk  # type: ignore[attr-defined]
    return ev
