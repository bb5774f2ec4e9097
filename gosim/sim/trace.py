"""A run's timeline as Chrome trace-event JSON (opens in ui.perfetto.dev).

The simulation reports to a :class:`Tracer` (``Simulation.tracer``; None, the
default, costs one attribute check at each hook):

- P time, as it is accounted (``Accounts.account``): consecutive fast-path
  and work intervals of a P are merged into one slice ``fast path`` (args:
  the allocations in it), so a run of cache hits is one event whether it was
  stepped or batched; ``slow path`` (consecutive slow-path costs, merged)
  and ``sched`` (a goroutine switch) are slices of their own. ``wait:``/``hold:``/``atomic`` P time is not drawn
  from the accounts: the lock hook below draws it with the lock's name.
- the goroutine a P runs (``sched.py``): a slice ``G<id>`` around everything
  it does on that P, from being scheduled to being preempted or finishing.
- lock intervals (``gosim/sim/locks.py``): ``wait <lock>`` and ``hold <lock>``
  with ``<lock>`` the lock's name in locks.parquet (``mheap``,
  ``mcentral[spc=12]``, ``mcentral[spc=12].spanset``), exactly the intervals
  that feed the lock statistics; and each mutex's waiter count, a counter.
- the heap in use and obtained from the OS after each slow path, a counter.

Every slice sits on its P's track (process 1, thread = P index). Times are
integer ns in the simulation; the JSON's ``ts``/``dur`` are microseconds
(ns / 1000, exact to the ns in decimal); zero-length intervals are left out. A window ``[start, end)`` keeps only
what overlaps it, cut at its edges; a counter's value at the window's start
is written there. At most ``max_events`` events are kept, the first ones the
simulation reports; the rest are counted in ``otherData.dropped_events``.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

#: P-time categories the accounts report that are drawn from the lock hook instead
_LOCK_CATEGORIES = ("wait:", "hold:", "atomic")
#: merged into ``fast path`` runs
_RUN_CATEGORIES = ("fast_path", "work")
#: the process that holds the P tracks and the counters
PID = 1

# an event: (ph, name, cat, tid, ts_ns, dur_ns, args)
Event = tuple[str, str, str, int, int, int, dict[str, Any] | None]


class Tracer:
    """Collects a run's timeline within ``[start_ns, end_ns)`` (None: unbounded)."""

    def __init__(self, *, start_ns: int = 0, end_ns: int | None = None,
                 max_events: int = 200_000) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, got {max_events}")
        if end_ns is not None and end_ns <= start_ns:
            raise ValueError(f"empty window [{start_ns}, {end_ns})")
        self.w0 = start_ns
        self.w1 = end_ns
        self.max_events = max_events
        self.events: list[Event] = []
        self.dropped = 0
        #: the run's end (None until :meth:`close`) and its end for clipping (T)
        self.T: int | None = None
        self.nprocs = 0
        self.title = "gosim"
        #: per P: the open slice [category, start, end, allocations], extended
        #: while the P's next interval continues it
        self._open: dict[int, list[Any]] = {}
        #: per P: the goroutine it runs and since when
        self._g: dict[int, tuple[int, int]] = {}
        #: counters: the last value before the window, written at its start
        self._before: dict[str, tuple[int, dict[str, int]]] = {}
        #: counters written in the window (a late report from before it is then ignored)
        self._started: set[str] = set()

    # -- set-up ----------------------------------------------------------------------
    def bind(self, title: str, nprocs: int, T: int | None) -> None:
        """Called by the simulation it traces."""
        self.title = title
        self.nprocs = nprocs
        self.T = T

    # -- storage -------------------------------------------------------------------------
    def _slice(self, tid: int, name: str, cat: str, start: int, end: int,
               args: dict[str, Any] | None = None) -> None:
        T = self.T
        if T is not None and end > T:
            end = T
        if start < self.w0:
            start = self.w0
        if self.w1 is not None and end > self.w1:
            end = self.w1
        if end > start:
            self._keep(("X", name, cat, tid, start, end - start, args))

    def _counter(self, name: str, t: int, args: dict[str, int]) -> None:
        if t < self.w0:
            # reports come in the order of the goroutines' clocks, not always of time
            prev = self._before.get(name)
            if name not in self._started and (prev is None or t >= prev[0]):
                self._before[name] = (t, args)
            return
        if self.w1 is not None and t >= self.w1:
            return
        if name not in self._started:
            self._started.add(name)
            if name in self._before and t > self.w0:
                self._keep(("C", name, "counter", 0, self.w0, 0, self._before.pop(name)[1]))
        self._keep(("C", name, "counter", 0, t, 0, args))

    def _keep(self, ev: Event) -> None:
        if len(self.events) >= self.max_events:
            self.dropped += 1
        else:
            self.events.append(ev)

    # -- hooks ----------------------------------------------------------------------------
    def account(self, p: int, cat: str, start: int, end: int) -> None:
        """P ``p`` spent [start, end) on ``cat`` (already clipped at the run's end)."""
        if cat in _RUN_CATEGORIES:
            self._extend(p, "fast_path", start, end, 1 if cat == "fast_path" else 0)
        elif not cat.startswith(_LOCK_CATEGORIES):
            self._extend(p, cat, start, end, 0)

    def fast_run(self, p: int, start: int, end: int, allocs: int) -> None:
        """``allocs`` allocations from the cache (and the work between them) in
        [start, end)."""
        self._extend(p, "fast_path", start, end, allocs)

    def _extend(self, p: int, cat: str, start: int, end: int, allocs: int) -> None:
        """Join the P's open slice when it has the same category and ends at ``start``."""
        r = self._open.get(p)
        if r is not None and r[0] == cat and r[2] == start:
            r[2] = end
            r[3] += allocs
            return
        self._flush(p)
        self._open[p] = [cat, start, end, allocs]

    def _flush(self, p: int) -> None:
        r = self._open.pop(p, None)
        if r is None:
            return
        cat, start, end, allocs = r
        if cat == "fast_path":
            self._slice(p, "fast path" if allocs else "work", cat, start, end, {"allocs": allocs})
        else:
            self._slice(p, cat.replace("_", " "), cat, start, end)

    def goroutine_on(self, p: int, gid: int, t: int) -> None:
        self._g[p] = (gid, t)

    def goroutine_off(self, p: int, t: int) -> None:
        self._flush(p)
        gid, t0 = self._g.pop(p)
        self._slice(p, f"G{gid}", "goroutine", t0, t, {"goroutine": gid})

    def lock_interval(self, p: int, lock_name: str, phase: str, start_ns: int,
                      end_ns: int) -> None:
        """P ``p`` waited on (``phase`` "wait") or held ("hold") ``lock_name``."""
        self._flush(p)
        self._slice(p, f"{phase} {lock_name}", phase, start_ns, end_ns, {"lock": lock_name})

    def lock_waiters(self, lock_name: str, t_ns: int, n_waiters: int) -> None:
        self._counter(f"waiters {lock_name}", t_ns, {"waiters": n_waiters})

    def heap(self, t: int, inuse_bytes: int, sys_bytes: int) -> None:
        self._counter("heap", t, {"heap_inuse_bytes": inuse_bytes, "heap_sys_bytes": sys_bytes})

    def close(self, end: int) -> None:
        """The run ended at ``end``: close what is still open."""
        for p in sorted(self._open):
            self._flush(p)
        for p in sorted(self._g):
            self.goroutine_off(p, end)
        if self.w0 < end:  # counters that did not change in the window: their value there
            for name, (_, args) in sorted(self._before.items()):
                if name not in self._started:
                    self._keep(("C", name, "counter", 0, self.w0, 0, args))
        self._before.clear()
        self.T = end

    # -- output ---------------------------------------------------------------------------
    def trace_events(self) -> list[dict[str, Any]]:
        """The events as Chrome trace-event dicts, metadata first."""
        out: list[dict[str, Any]] = [
            {"ph": "M", "name": "process_name", "pid": PID, "tid": 0,
             "args": {"name": self.title}}]
        for p in range(self.nprocs):
            out.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": p,
                        "args": {"name": f"P{p}"}})
            out.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": p,
                        "args": {"sort_index": p}})
        for ph, name, cat, tid, ts, dur, args in self.events:
            ev: dict[str, Any] = {"ph": ph, "name": name, "cat": cat, "pid": PID, "tid": tid,
                                  "ts": ts / 1000}
            if ph == "X":
                ev["dur"] = dur / 1000
            if args is not None:
                ev["args"] = args
            out.append(ev)
        return out

    def write(self, f: TextIO, other: dict[str, Any] | None = None) -> None:
        """Write the JSON object format (``traceEvents`` + ``otherData``)."""
        data = {"window_start_ns": self.w0, "window_end_ns": self.w1,
                "max_events": self.max_events, "events": len(self.events),
                "dropped_events": self.dropped, **(other or {})}
        f.write('{"displayTimeUnit": "ns", "otherData": ')
        f.write(json.dumps(data))
        f.write(', "traceEvents": [\n')
        first = True
        for ev in self.trace_events():
            if not first:
                f.write(",\n")
            f.write(json.dumps(ev, separators=(",", ":")))
            first = False
        f.write("\n]}\n")
