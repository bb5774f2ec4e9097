"""The scheduler: Ps, run queues, work stealing and time-slice preemption
(runtime/proc.go schedule / findRunnable / runqsteal, simplified).

Each P is a SimPy process that runs one goroutine at a time: it drives the
goroutine's generator and waits on the events it yields, so a goroutine runs
only on a P and a lock wait keeps its P. Goroutine i starts on P (i mod
GOMAXPROCS)'s run queue. A goroutine that used up its time slice (Go's
forcePreemptNS) yields :data:`PREEMPT` at an allocation boundary and goes to
the global run queue. An idle P looks in its own queue, then the global
queue, then steals half of the longest queue. A switch costs
``sched_switch_ns``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from gosim.sim.clock import PEvent, PProc, PTimeout

if TYPE_CHECKING:
    from gosim.sim.engine import Simulation
    from gosim.sim.goroutine import GCtx

#: what a goroutine body yields to give its P back (time slice used up)
PREEMPT = object()


class Scheduler:
    def __init__(self, sim: Simulation, body: Callable[[GCtx], Generator[Any, Any, None]]
                 ) -> None:
        self.sim = sim
        self.body = body
        self.nprocs = sim.nprocs
        self.runq: list[deque[GCtx]] = [deque() for _ in range(self.nprocs)]
        for g in sim.gs:
            self.runq[g.gid % self.nprocs].append(g)
        self.global_runq: deque[GCtx] = deque()
        #: idle Ps waiting for work: P -> the event that wakes it
        self.idle: dict[int, Any] = {}
        self.live = len(sim.gs)
        #: started goroutines' bodies, by goroutine id
        self.gens: dict[int, Generator[Any, Any, None]] = {}

    def start(self) -> None:
        for pid in range(self.nprocs):
            PProc(self.sim.env, self.p_proc(pid), pid)

    def find_runnable(self, pid: int) -> GCtx | None:
        if self.runq[pid]:
            return self.runq[pid].popleft()
        if self.global_runq:
            return self.global_runq.popleft()
        victim = max(range(self.nprocs), key=lambda i: (len(self.runq[i]), -i))
        q = self.runq[victim]
        if q:
            take = (len(q) + 1) // 2
            for _ in range(take - 1):
                self.runq[pid].append(q.pop())
            return q.pop()
        return None

    def wake_idle(self) -> None:
        if self.idle:
            pid = min(self.idle)
            ev = self.idle.pop(pid)
            ev.succeed()

    def p_proc(self, pid: int) -> Any:
        sim = self.sim
        env = sim.env
        pos = sim.pos
        T = sim.T
        while True:
            g = self.find_runnable(pid)
            if g is None:
                if self.live == 0:
                    return
                ev: Any = PEvent(env, pid, pos)
                self.idle[pid] = ev
                if sim.gc is not None:
                    sim.gc.p_idle(pid)
                yield ev
                continue
            if g.p != pid:
                g.flush_flow()
            g.p = pid
            g.vt = pos.now
            g.slice_end = pos.now + sim.time_slice
            if sim.gc is not None:
                sim.gc.scheduled(pid)
            tr = sim.tracer
            if tr is not None:
                tr.goroutine_on(pid, g.gid, pos.now)
            gen = self.gens.get(g.gid)
            if gen is None:
                gen = self.body(g)
                self.gens[g.gid] = gen
            val = None
            finished = False
            while True:
                try:
                    ev = next(gen) if val is None else gen.send(val)
                except StopIteration:
                    finished = True
                    break
                if ev is PREEMPT:
                    break
                val = yield ev
            if tr is not None:
                tr.goroutine_off(pid, pos.now)
            if finished:
                self.live -= 1
                del self.gens[g.gid]
                if self.live == 0:
                    for ev in self.idle.values():
                        ev.succeed()
                    self.idle.clear()
                    return
            else:
                self.global_runq.append(g)
                self.wake_idle()
            if T is None or pos.now < T:
                c = g.cost_ns("sched_switch_ns")
                if c:
                    sim.account(pid, "sched", pos.now, pos.now + c)
                    yield PTimeout(env, c, pid, pos)
