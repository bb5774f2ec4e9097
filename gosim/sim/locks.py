"""Runtime locks and lock-free cells under contention.

:class:`RuntimeMutex` models Go's ``runtime.mutex`` (lock_futex.go /
lock_spinbit.go): an uncontended acquire costs an atomic; a contended M spins
for a window, then sleeps on a futex. Unlock wakes one sleeper, which needs a
hand-off latency before it runs and then competes again (barging: an M that
arrives or spins meanwhile may take the lock first). The M keeps its P all the
while, so no other goroutine runs on that P. ``fifo`` hands the lock to
waiters strictly in arrival order instead (an option for what-ifs).

:class:`SimAtomic` models a lock-free structure (mcentral span sets,
mspanset.go): each operation costs ``spanset_op_ns`` times
(1 + factor x other Ps inside the same structure).
"""

from __future__ import annotations

import heapq
from array import array
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from gosim.sim.env import PTimeout, p_event

if TYPE_CHECKING:
    from gosim.sim.engine import Simulation
    from gosim.sim.goroutine import GCtx


class _Waiter:
    __slots__ = ("p", "ev", "state", "t0", "spin_gen")

    def __init__(self, p: int, ev: Any, t0: int) -> None:
        self.p = p
        self.ev = ev
        self.state = "spin"  # spin | sleep | waking | granted
        self.t0 = t0
        self.spin_gen = 0


def _pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) if len(a) else 0.0


class RuntimeMutex:
    def __init__(self, sim: Simulation, mu: Any) -> None:
        self.sim = sim
        self.env = sim.env
        self.mu = mu
        self.fifo = sim.lock_policy == "fifo"
        #: Go 1.24+ lock_spinbit.go: one waiting M spins at a time (the spin bit),
        #: the others sleep at once on a stack; unlock wakes the most recent
        #: sleeper, and every 16th wake the oldest (mutexTailWakePeriod)
        self.spinbit = sim.design.mutex == "spinbit"
        self.wakes = 0
        self.max_spinning = 0
        self.owner: int | None = None
        self.reserved_for: _Waiter | None = None
        self.spinning: list[_Waiter] = []
        self.sleeping: deque[_Waiter] = deque()
        self.queue: deque[_Waiter] = deque()  # fifo policy: arrival order
        self.waking = 0
        self.acquisitions = 0
        self.contended = 0
        self.waits = array("q")
        self.holds = array("q")
        self.hold_start = 0
        self.max_waiters = 0
        self.spin_ns = sim.costs.const("lock_spin_ns")
        self.wakeup_ns = sim.costs.const("lock_wakeup_ns")

    def _nwaiters(self) -> int:
        return len(self.spinning) + len(self.sleeping) + self.waking + (
            len(self.queue) if self.fifo else 0)

    # -- acquire ----------------------------------------------------------------
    def acquire(self, g: GCtx) -> Any:
        """Called with the simulation clock at the goroutine's clock (synced)."""
        env = self.env
        t0 = env.now
        p = g.p
        if self.owner is None and self.reserved_for is None and not (self.fifo and self.queue):
            self._take(p, t0, t0)
        else:
            self.contended += 1
            w = _Waiter(p, p_event(env, p), t0)
            if self.fifo:
                self.queue.append(w)
            self._spin_or_sleep(w)
            self.max_waiters = max(self.max_waiters, self._nwaiters())
            yield w.ev
            g.sim.account(p, "wait:" + self.mu.kind, t0, env.now)
            g.vt = env.now
        c = g.cost_ns("lock_uncontended_ns")
        if c:
            g.sim.account(p, "hold:" + self.mu.kind, g.vt, g.vt + c)
            g.vt += c

    def _take(self, p: int, t0: int, now: int) -> None:
        self.owner = p
        self.acquisitions += 1
        self.waits.append(now - t0)
        self.hold_start = now

    def _spin_or_sleep(self, w: _Waiter) -> None:
        if self.spinbit and self.spinning:
            w.state = "sleep"
            self.sleeping.append(w)
            return
        self.spinning.append(w)
        self.max_spinning = max(self.max_spinning, len(self.spinning))
        self._arm_spin(w)

    def _arm_spin(self, w: _Waiter) -> None:
        w.state = "spin"
        w.spin_gen += 1
        gen = w.spin_gen
        t = PTimeout(self.env, self.spin_ns, w.p)
        t.callbacks.append(lambda _ev, w=w, gen=gen: self._spin_expired(w, gen))

    def _spin_expired(self, w: _Waiter, gen: int) -> None:
        if w.state != "spin" or w.spin_gen != gen:
            return
        self.spinning.remove(w)
        w.state = "sleep"
        self.sleeping.append(w)

    def _grant(self, w: _Waiter) -> None:
        now = self.env.now
        if w.state == "spin":
            self.spinning.remove(w)
        elif w.state == "sleep":
            self.sleeping.remove(w)
        w.state = "granted"
        self._take(w.p, w.t0, now)
        w.ev.succeed()

    # -- release ----------------------------------------------------------------
    def release(self, g: GCtx) -> None:
        now = self.env.now
        self.holds.append(now - self.hold_start)
        self.owner = None
        if self.fifo:
            if not self.queue:
                return
            w = self.queue.popleft()
            if w.state == "spin":
                self._grant(w)
            else:  # asleep: reserve the lock for it and wake it
                self.reserved_for = w
                self.sleeping.remove(w)
                w.state = "waking"
                self.waking += 1
                t = PTimeout(self.env, self.wakeup_ns, w.p)
                t.callbacks.append(lambda _ev, w=w: self._fifo_woken(w))
            return
        if self.spinning:
            self._grant(self.spinning[0])
        elif self.sleeping and self.waking == 0:
            if self.spinbit:
                self.wakes += 1
                tail = self.wakes % 16 == 0
                w = self.sleeping.popleft() if tail else self.sleeping.pop()
            else:
                w = self.sleeping.popleft()
            w.state = "waking"
            self.waking += 1
            t = PTimeout(self.env, self.wakeup_ns, w.p)
            t.callbacks.append(lambda _ev, w=w: self._woken(w))

    def _woken(self, w: _Waiter) -> None:
        self.waking -= 1
        if self.owner is None:
            w.state = "spin"  # so _grant does not look for it in a list
            self.spinning.append(w)
            self._grant(w)
        else:  # someone barged in: spin again (if allowed), then sleep again
            self._spin_or_sleep(w)

    def _fifo_woken(self, w: _Waiter) -> None:
        self.waking -= 1
        self.reserved_for = None
        w.state = "granted"
        self._take(w.p, w.t0, self.env.now)
        w.ev.succeed()

    # -- statistics -------------------------------------------------------------
    def row(self, sim_time_ns: int) -> dict[str, Any]:
        w = np.frombuffer(self.waits, dtype=np.int64) if len(self.waits) else np.zeros(0)
        h = np.frombuffer(self.holds, dtype=np.int64) if len(self.holds) else np.zeros(0)
        mu = self.mu
        return {
            "lock": mu.name, "kind": mu.kind, "span_class": mu.span_class,
            "size_class": mu.size_class, "acquisitions": self.acquisitions,
            "contended": self.contended,
            "wait_total_ns": int(w.sum()) if len(w) else 0,
            "wait_mean_ns": float(w.mean()) if len(w) else 0.0,
            "wait_p50_ns": _pct(w, 50), "wait_p99_ns": _pct(w, 99),
            "wait_max_ns": int(w.max()) if len(w) else 0,
            "hold_mean_ns": float(h.mean()) if len(h) else 0.0,
            "hold_p50_ns": _pct(h, 50), "hold_p99_ns": _pct(h, 99),
            "hold_max_ns": int(h.max()) if len(h) else 0,
            "utilisation": float(h.sum()) / sim_time_ns if sim_time_ns else 0.0,
            "max_waiters": self.max_waiters,
            "max_spinning": self.max_spinning,
        }


class SimAtomic:
    def __init__(self, sim: Simulation, cell: Any) -> None:
        self.sim = sim
        self.cell = cell
        #: end times of operations in flight (a min-heap)
        self.ends: list[int] = []
        self.ops = 0
        self.contended = 0
        self.extra = array("q")
        self.busy_ns = 0
        self.max_inflight = 0
        self.factor = sim.costs.const_float("spanset_contention_factor")

    def op(self, g: GCtx, cost: str) -> None:
        """One lock-free operation starting now (the caller synced its clock):
        its cost grows with the operations of other Ps still in flight."""
        now = g.vt
        ends = self.ends
        while ends and ends[0] <= now:
            heapq.heappop(ends)
        base = g.cost_ns(cost)
        k = len(ends)
        self.ops += 1
        if k:
            self.contended += 1
        ns = int(base * (1 + self.factor * k) + 0.5)
        self.extra.append(ns - base)
        self.busy_ns += ns
        if ns:
            heapq.heappush(ends, now + ns)
            self.max_inflight = max(self.max_inflight, len(ends))
            g.sim.account(g.p, "atomic", now, now + ns)
            g.vt = now + ns

    def row(self, sim_time_ns: int) -> dict[str, Any]:
        e = np.frombuffer(self.extra, dtype=np.int64) if len(self.extra) else np.zeros(0)
        c = self.cell
        return {
            "lock": c.name, "kind": c.kind, "span_class": c.span_class,
            "size_class": c.size_class, "acquisitions": self.ops, "contended": self.contended,
            "wait_total_ns": int(e.sum()) if len(e) else 0,
            "wait_mean_ns": float(e.mean()) if len(e) else 0.0,
            "wait_p50_ns": _pct(e, 50), "wait_p99_ns": _pct(e, 99),
            "wait_max_ns": int(e.max()) if len(e) else 0,
            "hold_mean_ns": self.busy_ns / self.ops if self.ops else 0.0,
            "hold_p50_ns": 0.0, "hold_p99_ns": 0.0, "hold_max_ns": 0,
            "utilisation": self.busy_ns / sim_time_ns if sim_time_ns else 0.0,
            "max_waiters": max(self.max_inflight - 1, 0),
            "max_spinning": 0,
        }
