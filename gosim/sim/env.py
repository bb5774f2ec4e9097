"""A SimPy environment with integer-nanosecond time and mode-independent ties.

SimPy orders events at the same time by (priority, insertion id). Batched and
step mode insert different numbers of events, so the insertion id alone would
let them break ties differently. Every event here also carries ``pk``: the
index of the P it resumes (or that created it). Ties are broken by P index
first, then insertion order, so whatever touches shared state at the same
instant does so in the same order in both modes.
"""

from __future__ import annotations

from typing import Any

import simpy
from simpy.core import NORMAL
from simpy.events import Event, Timeout

#: keeps priority classes apart while embedding the P index
_PK_SPAN = 1 << 16


class SimEnv(simpy.Environment):
    def __init__(self) -> None:
        super().__init__(initial_time=0)

    def schedule(self, event: Event, priority: int = NORMAL, delay: Any = 0) -> None:
        pk = getattr(event, "pk", None)
        if pk is None:
            ap = self._active_proc
            pk = getattr(ap, "pk", 0) if ap is not None else 0
        super().schedule(event, priority * _PK_SPAN + pk, delay)


class PTimeout(Timeout):
    """A timeout that resumes P ``pk``."""

    def __init__(self, env: SimEnv, delay: int, pk: int) -> None:
        self.pk = pk
        super().__init__(env, delay)


def p_event(env: SimEnv, pk: int) -> Event:
    ev = Event(env)
    ev.pk = pk  # type: ignore[attr-defined]
    return ev
