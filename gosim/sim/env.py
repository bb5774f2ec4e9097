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
from simpy.core import NORMAL, URGENT, EmptySchedule, StopSimulation
from simpy.events import Event

from gosim.sim.clock import (
    NORMAL_KEY,
    PK_SPAN,
    URGENT_KEY,
    EventPos,
    PEvent,
    PProc,
    PTimeout,
    run_events,
    step_event,
)

#: keeps priority classes apart while embedding the P index
_PK_SPAN = PK_SPAN
if NORMAL_KEY != NORMAL * _PK_SPAN:  # pragma: no cover - a SimPy that renumbered priorities
    raise ImportError(f"gosim expects SimPy's NORMAL priority to be 1, not {NORMAL}")
if URGENT_KEY != URGENT * _PK_SPAN:  # pragma: no cover
    raise ImportError(f"gosim expects SimPy's URGENT priority to be 0, not {URGENT}")


class SimEnv(simpy.Environment):
    def __init__(self) -> None:
        #: the position among events (gosim/sim/clock.py), which the compiled core
        #: reads and writes as fields of a compiled object; SimPy's clock and
        #: active process live there too (the properties below)
        self.pos = EventPos()
        super().__init__(initial_time=0)
        self.pos.queue = self._queue
        # SimPy's insertion ids come from the position's counter (a compiled
        # object that counts as ``itertools.count()`` does)
        self._eid = self.pos.eids

    # SimPy's Environment keeps these as plain attributes; here they are the
    # position's fields, so that the compiled loop writes a field per event
    # rather than an interpreted object's attribute
    @property  # type: ignore[override]
    def _now(self) -> Any:
        return self.pos.now

    @_now.setter
    def _now(self, value: Any) -> None:
        self.pos.now = value

    @property
    def _active_proc(self) -> Any:
        return self.pos.active

    @_active_proc.setter
    def _active_proc(self, value: Any) -> None:
        self.pos.active = value

    @property
    def nstep(self) -> int:
        """Events processed so far, shortcut syncs included (``EventPos.nstep``)."""
        return self.pos.nstep

    @property
    def events(self) -> int:
        """SimPy events processed (``EventPos.events``)."""
        return self.pos.events

    def run(self, until: Any = None) -> Any:
        """simpy's ``Environment.run``, its loop of ``step`` compiled
        (``gosim.sim.clock.run_events``)."""
        if until is not None:
            if not isinstance(until, Event):
                at = until if isinstance(until, int) else float(until)
                if at <= self.now:
                    raise ValueError(
                        f"until ({at}) must be greater than the current simulation time")
                until = Event(self)
                until._ok = True
                until._value = None
                self.schedule(until, URGENT, at - self.now)
            elif until.callbacks is None:
                return until.value
            until.callbacks.append(StopSimulation.callback)
        try:
            run_events(self, self.pos, self._queue)
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            if until is not None:
                assert not until.triggered
                raise RuntimeError(f'No scheduled events left but "until" event was not '
                                   f"triggered: {until}") from None
        return None

    def step(self) -> None:
        """simpy's ``Environment.step``, noting the event's position and whether
        it has several callbacks (``gosim.sim.clock.step_event``)."""
        step_event(self, self.pos, self._queue)

    def schedule(self, event: Event, priority: int = NORMAL, delay: Any = 0) -> None:
        pk = getattr(event, "pk", None)
        if pk is None:
            ap = self._active_proc
            pk = getattr(ap, "pk", 0) if ap is not None else 0
        super().schedule(event, priority * _PK_SPAN + pk, delay)


__all__ = ["PEvent", "PProc", "PTimeout", "SimEnv"]
