"""Runtime locks and lock-free cells under contention.

:class:`RuntimeMutex` models Go's ``runtime.mutex``: an uncontended acquire
costs an atomic; a contended M spins for a window, then sleeps. The M keeps
its P all the while, so no other goroutine runs on that P. Two
implementations, chosen by the design's ``mutex`` option:

- ``futex`` (runtime/lock_futex.go, Go <= 1.23): every waiting M spins; once
  any M sleeps the lock word says ``mutex_sleeping``, and every ``unlock2``
  that finds it wakes one sleeper (``futexwakeup(key, 1)``, oldest first).
- ``spinbit`` (runtime/lock_spinbit.go, Go 1.24+): at most one waiting M
  spins (the spin bit); the others push themselves on a stack and sleep.
  ``unlock2Wake`` wakes the most recent sleeper when no M spins, and every
  16th time (``mutexTailWakePeriod``, a random 1 in 16 in the runtime, every
  16th here so runs are deterministic) the oldest one even if an M spins;
  that M, having been at the tail, may spin beside the spin-bit holder.

A woken M runs ``lock_wakeup_ns`` later and takes the lock if it is free;
otherwise it spins and sleeps again (barging: an M that arrives or spins
meanwhile may take the lock first). A release during a spin hands the lock to
the earliest spinner. ``fifo`` policy (a what-if) grants strictly in arrival
order and reserves the lock for a waking sleeper.

:class:`SimAtomic` models a lock-free structure (mcentral span sets,
mspanset.go): an operation costs ``spanset_op_ns x (1 + factor x k)``, k =
operations of other Ps still in flight on the same structure.

Both take a narrow host (:class:`LockHost`: the SimPy environment, the cost
model, P-time accounting, the tracer) and a narrow caller
(:class:`LockCaller`: the goroutine on its P), not the whole simulation.

When the host has a tracer (``gosim trace``), each lock reports the intervals
its statistics are made of, under the lock's name in locks.parquet: a mutex's
waits (granted, and censored at the end of a timed run; zero-length waits of
uncontended acquisitions are not reported) and holds (a hold in progress at
the end, up to the end, as in ``utilisation``), and its waiter count at every
change; a span-set operation's duration as ``hold`` and its contention's extra
cost as ``wait`` (both from the operation's start, as in the lock row: wait =
extra cost, hold = duration). Without a tracer this costs one attribute check.
"""

from __future__ import annotations

from array import array
from collections import deque
from heapq import heappop, heappush
from typing import Any, Final, Protocol

import numpy as np

from gosim.runtime.context import AtomicCell, Mutex
from gosim.sim.accounts import Accounts
from gosim.sim.clock import NORMAL_KEY, EventPos, PEvent, PTimeout
from gosim.sim.costmodel import CostModel
from gosim.sim.env import SimEnv

#: lock_spinbit.go mutexTailWakePeriod
TAIL_WAKE_PERIOD: Final = 16


class LockTracer(Protocol):
    """What the locks report to a timeline (``gosim.sim.trace.Tracer``)."""

    def lock_interval(self, p: int, lock_name: str, phase: str, start_ns: int,
                      end_ns: int) -> None: ...

    def lock_waiters(self, lock_name: str, t_ns: int, n_waiters: int) -> None: ...


class LockHost(Protocol):
    """What a lock model needs from the simulation."""

    env: SimEnv
    costs: CostModel
    #: GOMAXPROCS
    nprocs: int
    #: the end of a timed run (None: until every goroutine is done)
    T: int | None
    #: the timeline's collector (None: not traced)
    @property
    def tracer(self) -> LockTracer | None: ...

    def account(self, p: int, cat: str, start: int, end: int) -> None: ...


class LockCaller(Protocol):
    """The goroutine that locks (its clock already synced to the simulation's)."""

    p: int
    vt: int

    def cost_ns(self, name: str, units: float = 1.0) -> int: ...

    def draw_ns(self, name: str, units: float = 1.0) -> int: ...


class _Waiter:
    __slots__ = ("p", "ev", "state", "t0", "spin_gen", "spin_t0", "at_tail", "sleep_t0",
                 "prof_t0")

    def __init__(self, p: int, ev: Any, t0: int) -> None:
        self.p = p
        self.ev = ev
        self.state = "spin"  # spin | sleep | waking | granted
        self.t0 = t0
        self.spin_gen = 0
        self.spin_t0 = t0
        #: spinbit: woken from the tail of the stack, so it spins without the spin bit
        self.at_tail = False
        #: when it first went to sleep, -1 if it has not (the runtime's mutex
        #: profile records only waits that slept, timed from there: lock_spinbit.go
        #: starts its timer once per lock2 call)
        self.sleep_t0 = -1
        #: the mutex profile's clock for this M (lock_spinbit.go
        #: mWaitList.startTicks): set at its first sleep, reset to an unlock's
        #: time when that unlock charges the wait list with this M at its head
        #: or tail
        self.prof_t0 = -1


def _expand(counts: dict[int, int]) -> np.ndarray:
    """value -> count as the array of every value (sorted)."""
    keys = sorted(counts)
    return np.repeat(np.array(keys, dtype=np.int64),
                     np.array([counts[k] for k in keys], dtype=np.int64))


def _stats(prefix: str, a: np.ndarray) -> dict[str, Any]:
    if not len(a):
        return {f"{prefix}_mean_ns": 0.0, f"{prefix}_p50_ns": 0.0, f"{prefix}_p99_ns": 0.0,
                f"{prefix}_max_ns": 0}
    # both quantiles from one partition of the array (np.percentile with a list
    # of q: the same values as one call per q, half the work on long runs)
    p50, p99 = np.percentile(a, [50, 99]).tolist()
    return {
        f"{prefix}_mean_ns": float(a.mean()),
        f"{prefix}_p50_ns": float(p50), f"{prefix}_p99_ns": float(p99),
        f"{prefix}_max_ns": int(a.max()),
    }


class RuntimeMutex:
    def __init__(self, host: LockHost, mu: Mutex, *, policy: str = "barging",
                 impl: str = "futex") -> None:
        if policy not in ("barging", "fifo"):
            raise ValueError(f"lock policy {policy!r}: expected 'barging' or 'fifo'")
        if impl not in ("futex", "spinbit"):
            raise ValueError(f"mutex {impl!r}: expected 'futex' or 'spinbit'")
        self.host = host
        self.env = host.env
        #: the environment's position among events (gosim/sim/clock.py)
        self.pos: EventPos = host.env.pos
        self.costs = host.costs
        self.mu = mu
        self.fifo = policy == "fifo"
        self.spinbit = impl == "spinbit"
        #: spinbit: unlocks that found sleepers (every TAIL_WAKE_PERIOD-th wakes the oldest)
        self.unlock_wakes = 0
        self.max_spinning = 0
        self.owner: int | None = None
        self.reserved_for: _Waiter | None = None
        self.spinning: list[_Waiter] = []
        self.sleeping: deque[_Waiter] = deque()
        self.queue: deque[_Waiter] = deque()  # fifo policy: arrival order
        #: every M waiting now (spinning, asleep or being woken), in arrival order
        self.waiting: dict[_Waiter, None] = {}
        self.waking = 0
        #: pending ends of spin windows: (time, key, insertion id, event count,
        #: waiter, spin generation), in the order SimPy would process them (time,
        #: key, insertion id; :meth:`_spin_or_sleep` keeps it); those before
        #: ``ex_head`` are applied (the list is cut from time to time)
        self.expiries: list[tuple[int, int, int, int, _Waiter, int]] = []
        self.ex_head = 0
        self.acquisitions = 0
        self.contended = 0
        self.waits = array("q")
        self.holds = array("q")
        self.hold_start = 0
        self.max_waiters = 0
        self.spin_ns = host.costs.const("lock_spin_ns")
        #: an acquisition's own cost when it is a constant (None: drawn per
        #: acquisition): one unit, rounded as ``GCtx.draw_ns`` rounds it
        self.unc_ns: int | None = host.costs.unit_ns["lock_uncontended_ns"]
        self.wakeup_ns = host.costs.const("lock_wakeup_ns")
        #: the P that held the lock last (-1: none yet), for mheap.lock, whose
        #: critical sections touch far more shared data than any other lock's
        self.last_p = -1
        self.migrates = mu.kind == "mheap"
        #: the other Ps (GOMAXPROCS - 1) a hand-off's heap_lock_per_p_ns is paid for
        self.per_p = (max(host.nprocs - 1, 0)
                      if self.migrates and host.costs.const("heap_lock_per_p_ns") else 0)
        #: the runtime function holding the lock, and the one that released it last
        self.owner_fn = ""
        self.release_fn = ""
        #: the waits by the function that released the lock to them -> [waits, ns]
        #: for waiters that slept (lock_spinbit.go records those; spinning is not)
        self.sites: dict[str, list[int]] = {}
        #: the mutex profile's own estimate (spinbit, lock_spinbit.go unlock2):
        #: function that unlocked while Ms slept -> [unlocks, ns charged]
        self.prof_sites: dict[str, list[int]] = {}
        #: the P-time categories of holding and waiting for this lock
        self.hold_cat = "hold:" + mu.kind
        self.wait_cat = "wait:" + mu.kind
        #: the run's timeline, fixed for the run; the simulation's P-time accounts,
        #: called directly (else ``host.account``)
        self.tracer = host.tracer
        acct = getattr(host, "acct", None)
        self.acct: Accounts | None = acct if isinstance(acct, Accounts) else None

    def _account(self, p: int, cat: str, start: int, end: int) -> None:
        acct = self.acct
        if acct is not None:
            acct.account(p, cat, start, end)
        else:
            self.host.account(p, cat, start, end)

    # -- acquire ----------------------------------------------------------------
    def try_acquire(self, g: LockCaller) -> bool:
        """Take the lock at once if it is free (the caller synced): True, with
        the acquisition's cost spent; False: the caller waits in :meth:`acquire`."""
        if self.ex_head < len(self.expiries):
            self._expire()
        if self.owner is None and self.reserved_for is None and not (self.fifo and self.queue):
            t0 = self.pos.now
            self._take(g.p, t0, t0)
            self._acquired(g)
            return True
        return False

    def acquire(self, g: LockCaller, fn: str | None = None) -> Any:
        """Wait for the lock (after :meth:`try_acquire` found it taken; the
        simulation clock at the goroutine's clock); ``fn``: the runtime
        function that holds it once granted (``owner_fn``), when given."""
        if self.ex_head < len(self.expiries):
            self._expire()
        env = self.env
        t0 = self.pos.now
        p = g.p
        self.contended += 1
        w = _Waiter(p, PEvent(env, p, self.pos), t0)
        self.waiting[w] = None
        if self.fifo:
            self.queue.append(w)
        self._spin_or_sleep(w)
        if len(self.waiting) > self.max_waiters:
            self.max_waiters = len(self.waiting)
        tr = self.tracer
        if tr is not None:
            tr.lock_waiters(self.mu.name, t0, len(self.waiting))
        yield w.ev
        self._account(p, self.wait_cat, t0, self.pos.now)
        g.vt = self.pos.now
        self._acquired(g)
        if fn is not None:
            self.owner_fn = fn

    def _acquired(self, g: LockCaller) -> None:
        p = g.p
        vt = g.vt
        c0 = self.unc_ns
        if c0 is None:
            c = g.cost_ns("lock_uncontended_ns")
        else:  # a constant: what cost_ns would draw and charge, without the lookups
            c = c0
            if self.costs.record is not None:
                self.costs.charge("lock_uncontended_ns", 1.0)
        if self.migrates and self.last_p != p:
            # the heap's data (page allocator summaries and bitmaps, span structs,
            # stats) was last written on another P's core: the critical section
            # starts with its cache lines moving
            if self.last_p >= 0:
                c += g.cost_ns("heap_lock_migrate_ns")
                if self.per_p:
                    c += g.cost_ns("heap_lock_per_p_ns", self.per_p)
            self.last_p = p
        if c:
            self._account(p, self.hold_cat, vt, vt + c)
            g.vt = vt + c

    def _take(self, p: int, t0: int, now: int, sleep_t0: int = -1) -> None:
        """The lock goes to P p, which asked at t0; sleep_t0: when it first
        slept (-1: it never did, so the mutex profile leaves the wait out)."""
        self.owner = p
        self.acquisitions += 1
        self.waits.append(now - t0)
        self.hold_start = now
        if sleep_t0 >= 0:
            site = self.sites.get(self.release_fn)
            if site is None:
                site = self.sites[self.release_fn] = [0, 0]
            site[0] += 1
            site[1] += now - sleep_t0
        tr = self.tracer
        if tr is not None and now > t0:
            tr.lock_interval(p, self.mu.name, "wait", t0, now)

    def _spin_or_sleep(self, w: _Waiter) -> None:
        if self.spinbit and not w.at_tail and any(not s.at_tail for s in self.spinning):
            self._sleep(w, self.pos.now)
            return
        self.spinning.append(w)
        if len(self.spinning) > self.max_spinning:
            self.max_spinning = len(self.spinning)
        w.state = "spin"
        w.spin_gen += 1
        pos = self.pos
        w.spin_t0 = pos.now
        # the end of the spin window: kept here, not as a SimPy timeout, and
        # applied in event order before the lock is next looked at (_expire);
        # keyed and numbered as the timeout resuming P w.p would be
        ex = self.expiries
        t = pos.now + self.spin_ns
        key = NORMAL_KEY + w.p
        item = (t, key, pos.take_eid(), pos.nstep, w, w.spin_gen)
        ex.append(item)
        # the clock never goes back and the window is a constant, so the new
        # end sorts last, but after an end at the same time with a later key
        # (its insertion id is the largest)
        i = len(ex) - 1
        head = self.ex_head
        while i > head:
            prev = ex[i - 1]
            pt: int = prev[0]
            if pt < t or (pt == t and prev[1] <= key):
                break
            ex[i] = prev
            i -= 1
        if i < len(ex) - 1:
            ex[i] = item

    def _expire(self) -> None:
        """Apply the spin windows that end before the current event (in SimPy's
        order: time, key, insertion; not those scheduled during the current event,
        which SimPy would process after it)."""
        ex = self.expiries
        pos = self.pos
        now = pos.now
        head = self.ex_head
        if ex[head][0] > now:  # the earliest window is still open
            return
        i = head
        n = len(ex)
        skipped: list[tuple[int, int, int, int, _Waiter, int]] | None = None
        while i < n:
            item = ex[i]
            t, key, eid, nstep, w, gen = item
            if not pos.before(now, t, key, eid):
                break
            i += 1
            if nstep >= pos.nstep:  # scheduled during this event: it comes later
                if skipped is None:
                    skipped = []
                skipped.append(item)
                continue
            self._spin_expired(w, gen, t)
        if skipped is not None:  # they stay first, in their order
            for item in reversed(skipped):
                i -= 1
                ex[i] = item
        if i >= 256 and 2 * i >= n:
            del ex[:i]
            i = 0
        self.ex_head = i

    def expire_all(self, before: int | None) -> int:
        """The end of the run: apply the spin windows ending before ``before``
        (every one when None: an untimed run processes its whole queue). Returns
        the latest end applied (0 if none): an untimed run's clock would have
        reached it."""
        ex = self.expiries
        last = 0
        i = self.ex_head
        while i < len(ex) and (before is None or ex[i][0] < before):
            t, _key, _eid, _nstep, w, gen = ex[i]
            i += 1
            self._spin_expired(w, gen, t)
            last = t
        del ex[:i]
        self.ex_head = 0
        return last

    def _sleep(self, w: _Waiter, at: int) -> None:
        """w goes to sleep at ``at`` (a spin window's end is applied when the
        lock is next looked at, so not necessarily now)."""
        w.state = "sleep"
        if w.sleep_t0 < 0:
            w.sleep_t0 = at
            w.prof_t0 = at
        w.at_tail = False
        self.sleeping.append(w)

    def _spin_expired(self, w: _Waiter, gen: int, at: int) -> None:
        if w.state != "spin" or w.spin_gen != gen:
            return
        self.spinning.remove(w)
        if self.spin_ns:
            self.costs.charge("lock_spin_ns", 1.0)
        self._sleep(w, at)

    def _grant(self, w: _Waiter) -> None:
        now = self.pos.now
        if w.state == "spin":
            self.spinning.remove(w)
            if self.spin_ns and now > w.spin_t0:
                self.costs.charge("lock_spin_ns", (now - w.spin_t0) / self.spin_ns)
        elif w.state == "sleep":
            self.sleeping.remove(w)
        w.state = "granted"
        del self.waiting[w]
        self._take(w.p, w.t0, now, w.sleep_t0)
        self._waiters_changed(now)
        w.ev.succeed()

    def _waiters_changed(self, now: int) -> None:
        tr = self.tracer
        if tr is not None:
            tr.lock_waiters(self.mu.name, now, len(self.waiting))

    def _wake(self, w: _Waiter, then: Any) -> None:
        w.state = "waking"
        self.waking += 1
        t = PTimeout(self.env, self.wakeup_ns, w.p, self.pos)
        assert t.callbacks is not None
        t.callbacks.append(lambda _ev, w=w: then(w))

    # -- release ----------------------------------------------------------------
    def release(self, g: LockCaller) -> None:
        if self.ex_head < len(self.expiries):
            self._expire()
        now = self.pos.now
        self.holds.append(now - self.hold_start)
        tr = self.tracer
        if tr is not None:
            tr.lock_interval(g.p, self.mu.name, "hold", self.hold_start, now)
        self.owner = None
        self.release_fn = self.owner_fn
        if self.fifo:
            if not self.queue:
                return
            w = self.queue.popleft()
            if w.state == "spin":
                self._grant(w)
            else:  # asleep: reserve the lock for it and wake it
                self.reserved_for = w
                self.sleeping.remove(w)
                self._wake(w, self._fifo_woken)
            return
        # unlock2 frees the lock word and, if Ms sleep, decides whom to wake (as
        # it reads the word right away, a spinner's CAS has not landed yet);
        # then the earliest spinner's CAS wins the lock
        wake: _Waiter | None = None
        if self.sleeping:
            if self.spinbit:
                self._profile_unlock(now)
                # unlock2Wake: wake the newest sleeper when no M holds the spin
                # bit; every 16th time the oldest one, even if an M spins
                self.unlock_wakes += 1
                if self.unlock_wakes % TAIL_WAKE_PERIOD == 0:
                    wake = self.sleeping.popleft()
                    wake.at_tail = True
                    if self.sleeping:  # the next-oldest takes over the tail's clock
                        self.sleeping[0].prof_t0 = wake.prof_t0
                elif not any(not s.at_tail for s in self.spinning):
                    wake = self.sleeping.pop()
            else:  # lock_futex.go unlock2: mutex_sleeping -> futexwakeup(key, 1)
                wake = self.sleeping.popleft()
        if self.spinning:
            self._grant(self.spinning[0])
        if wake is not None:
            self._wake(wake, self._woken)

    def _profile_unlock(self, now: int) -> None:
        """lock_spinbit.go unlock2Wake, sampled for the mutex profile: the
        unlocker takes the blame for every sleeping M, the mean of the
        newest's (the stack's head) and the oldest's (its tail) wait since
        their clocks were last reset, times their number, and resets those
        two clocks to now."""
        sl = self.sleeping
        head, tail = sl[-1], sl[0]
        ns = ((now - head.prof_t0) + (now - tail.prof_t0)) // 2 * len(sl)
        head.prof_t0 = tail.prof_t0 = now
        site = self.prof_sites.get(self.release_fn)
        if site is None:
            site = self.prof_sites[self.release_fn] = [0, 0]
        site[0] += 1
        site[1] += ns

    def _woken(self, w: _Waiter) -> None:
        if self.ex_head < len(self.expiries):
            self._expire()
        self.waking -= 1
        self.costs.charge("lock_wakeup_ns", 1.0)
        if self.owner is None:
            w.state = "spin"  # so _grant does not look for it in a list
            w.spin_t0 = self.pos.now
            self.spinning.append(w)
            self._grant(w)
        else:  # someone barged in: spin again (if allowed), then sleep again
            self._spin_or_sleep(w)

    def _fifo_woken(self, w: _Waiter) -> None:
        if self.ex_head < len(self.expiries):
            self._expire()
        self.waking -= 1
        self.costs.charge("lock_wakeup_ns", 1.0)
        self.reserved_for = None
        w.state = "granted"
        del self.waiting[w]
        now = self.pos.now
        self._take(w.p, w.t0, now, w.sleep_t0)
        self._waiters_changed(now)
        w.ev.succeed()

    # -- the end of a timed run ---------------------------------------------------
    def close(self, end: int) -> None:
        """Count waits still in progress at ``end`` as P time waiting on this lock
        (and report them, and a hold in progress, to the tracer up to ``end``)."""
        tr = self.tracer
        name = self.mu.name
        for w in self.waiting:
            self._account(w.p, self.wait_cat, w.t0, end)
            if tr is not None and end > w.t0:
                tr.lock_interval(w.p, name, "wait", w.t0, end)
        if tr is not None and self.owner is not None and end > self.hold_start:
            tr.lock_interval(self.owner, name, "hold", self.hold_start, end)

    # -- statistics -------------------------------------------------------------
    def site_rows(self, end: int) -> list[dict[str, Any]]:
        """The mutex profile's rows for this lock: per runtime function that
        released it, the waits that slept and their total (waits still in
        progress at ``end`` that slept are counted against the holder now),
        and what the runtime's profile itself records there
        (``profile_unlocks``, ``profile_ns``): for the spinbit mutex the
        estimate each unlock with Ms asleep charges (:meth:`_profile_unlock`),
        for the futex one (and the FIFO policy) the waits as counted."""
        sites = {k: list(v) for k, v in self.sites.items()}
        for w in self.waiting:
            if w.sleep_t0 >= 0 and end > w.sleep_t0:
                fn = self.owner_fn if self.owner is not None else self.release_fn
                site = sites.setdefault(fn, [0, 0])
                site[0] += 1
                site[1] += end - w.sleep_t0
        # (the FIFO hand-off is no runtime's: its profile is its waits)
        prof = self.prof_sites if self.spinbit and not self.fifo else sites
        rows = []
        for fn in sorted(set(sites) | set(prof)):
            v, pv = sites.get(fn, [0, 0]), prof.get(fn, [0, 0])
            rows.append({"lock": self.mu.name, "kind": self.mu.kind, "fn": fn or self.mu.name,
                         "waits": v[0], "wait_ns": v[1],
                         "profile_unlocks": pv[0], "profile_ns": pv[1]})
        return rows

    def row(self, end: int) -> dict[str, Any]:
        """One row of locks.parquet. Waits cover granted acquisitions and, censored
        at ``end``, the waits still in progress; holds and utilisation include a
        hold in progress at ``end``."""
        inflight = [end - w.t0 for w in self.waiting]
        w = np.concatenate([np.frombuffer(self.waits, dtype=np.int64),
                            np.array(inflight, dtype=np.int64)])
        h = np.frombuffer(self.holds, dtype=np.int64) if len(self.holds) else np.zeros(
            0, dtype=np.int64)
        held = int(h.sum()) + (end - self.hold_start if self.owner is not None else 0)
        mu = self.mu
        return {
            "lock": mu.name, "kind": mu.kind, "span_class": mu.span_class,
            "size_class": mu.size_class, "acquisitions": self.acquisitions,
            "contended": self.contended, "waiting_at_end": len(inflight),
            "wait_total_ns": int(w.sum()),
            **_stats("wait", w), **_stats("hold", h),
            "utilisation": held / end if end else 0.0,
            "max_waiters": self.max_waiters,
            "max_spinning": self.max_spinning,
        }


class SimAtomic:
    def __init__(self, host: LockHost, cell: AtomicCell) -> None:
        self.host = host
        self.costs = host.costs
        self.cell = cell
        #: end times of operations in flight (a min-heap)
        self.ends: list[int] = []
        self.ops = 0
        self.contended = 0
        #: contended operations by their extra cost from contention, and every
        #: operation by its duration (ns -> operations: a few distinct values,
        #: however many operations); ``extra_counts`` adds the uncontended ones
        self.extra: dict[int, int] = {}
        self._durations: dict[int, int] = {}
        #: the last duration and how many operations since have taken it, not yet
        #: in ``_durations`` (``durations`` adds them): most operations of a
        #: cell last the same, so most are counted without a dictionary probe
        self._dur_ns = -1
        self._dur_k = 0
        #: the last cost parameter drawn and its constant ns (None: not a constant)
        self._cost_name = ""
        self._cost_ns: int | None = None
        #: the run's end (None: untimed) and its timeline, fixed for the run
        self.T = host.T
        self.tracer = host.tracer
        #: the simulation's P-time accounts, called directly (else ``host.account``)
        acct = getattr(host, "acct", None)
        self.acct: Accounts | None = acct if isinstance(acct, Accounts) else None
        #: time with at least one operation in flight, and where that time reaches
        self.busy_ns = 0
        self.busy_until = 0
        self.max_inflight = 0
        #: page faults: when each started (ops start in time order), so that a
        #: window's count (after the warm-up) can be taken afterwards; None for
        #: the other cells, whose operations are too many to keep one by one
        self.starts: array[int] | None = array("q") if cell.kind == "pagefault" else None
        #: extra cost per other operation in flight: the kernel's page-fault path has
        #: its own factor; span sets and the pacer's heapLive word the span sets'
        #: P-time category of its operations (a page fault is the kernel's time)
        self.category = "pagefault" if cell.kind == "pagefault" else "atomic"
        self.factor = host.costs.const_float(
            "page_fault_contention_factor" if cell.kind == "pagefault"
            else "spanset_contention_factor")
        #: the most other operations in flight that add to one's cost (0: no limit)
        cap = host.costs.const_float("page_fault_contention_max") if cell.kind == "pagefault" else 0.0
        self.cap = int(cap) if cap > 0 else 1 << 30

    @property
    def durations(self) -> dict[int, int]:
        """Every operation by its duration (ns -> operations)."""
        if self._dur_k:
            d = self._durations
            d[self._dur_ns] = d.get(self._dur_ns, 0) + self._dur_k
            self._dur_k = 0
        return self._durations

    def extra_counts(self) -> dict[int, int]:
        """Every operation by its extra cost from contention (ns -> operations)."""
        counts = dict(self.extra)
        if self.ops > self.contended:
            counts[0] = counts.get(0, 0) + self.ops - self.contended
        return counts

    def op(self, g: LockCaller, cost: str) -> None:
        """One lock-free operation starting at the goroutine's clock (synced when
        other Ps can observe it): its cost grows with the operations of other Ps
        still in flight. Operations start in time order. The goroutine's clock
        moves to the operation's end."""
        g.vt = self.op_at(g.p, g.vt, cost, g)

    def op_at(self, p: int, now: int, cost: str, g: LockCaller) -> int:
        """:meth:`op` for the goroutine ``g`` on P ``p`` at ``now``; returns the
        operation's end (``g`` draws a cost that is not a constant)."""
        ends = self.ends
        while len(ends) > 1 and ends[0] <= now:
            heappop(ends)
        # a heap of one that has ended: its slot takes this operation's end (a
        # list emptied and refilled frees and reallocates its array)
        spare = len(ends) == 1 and ends[0] <= now
        base = self._base_ns(cost, g)
        k = 0 if spare else len(ends)
        self.ops += 1
        starts = self.starts
        if starts is not None:
            starts.append(now)
        if k:
            self.contended += 1
            units = 1 + self.factor * (k if k < self.cap else self.cap)
            ns = int(base * units + 0.5)
            extra = self.extra
            extra[ns - base] = extra.get(ns - base, 0) + 1
        else:
            units = 1.0
            ns = base
        rec = self.costs.record  # CostModel.charge
        if rec is not None and units:
            rec[cost] = rec.get(cost, 0.0) + units
        self._count_duration(ns)
        if ns:
            end = now + ns
            if spare:
                ends[0] = end
            elif ends:
                heappush(ends, end)
            else:
                ends.append(end)
            if k >= self.max_inflight:
                self.max_inflight = k + 1
            busy_until = self.busy_until
            lo = now if now > busy_until else busy_until
            T = self.T
            hi = end if T is None or end < T else T
            if hi > lo:
                self.busy_ns += hi - lo
            if end > busy_until:
                self.busy_until = end
            self._charge(p, now, now + ns - base, now, end)
            return end
        if spare:
            ends.pop()
        return now

    def _base_ns(self, cost: str, g: LockCaller) -> int:
        """The operation's cost before contention: a constant drawn as
        GCtx.draw_ns(cost) would draw it (the last name's value kept), else
        ``g``'s draw."""
        if cost is self._cost_name:
            c = self._cost_ns
        else:
            c = self.costs.unit_ns[cost]
            self._cost_name = cost
            self._cost_ns = c
        return c if c is not None else g.draw_ns(cost)

    def _count_duration(self, ns: int) -> None:
        """Count one operation's duration (``durations``): runs of one value
        are counted without a dictionary probe."""
        if ns == self._dur_ns:
            self._dur_k += 1
        else:
            if self._dur_k:
                d = self._durations
                d[self._dur_ns] = d.get(self._dur_ns, 0) + self._dur_k
            self._dur_ns = ns
            self._dur_k = 1

    def _charge(self, p: int, now: int, wait_end: int, hold_start: int, end: int) -> None:
        """P ``p``'s time from ``now`` to ``end`` in the cells' P-time
        category, and for a trace the wait (now to ``wait_end``, if any) and
        the hold (``hold_start`` to ``end``)."""
        acct = self.acct
        if acct is not None:
            acct.account(p, self.category, now, end)
        else:
            self.host.account(p, self.category, now, end)
        tr = self.tracer
        if tr is not None:
            name = self.cell.name
            if wait_end > now:
                tr.lock_interval(p, name, "wait", now, wait_end)
            tr.lock_interval(p, name, "hold", hold_start, end)

    def row(self, end: int) -> dict[str, Any]:
        """One row of locks.parquet: ``wait`` is the contention's extra cost per
        operation, ``hold`` an operation's duration, ``utilisation`` the fraction
        of the run with at least one operation in flight."""
        e = _expand(self.extra_counts())
        d = _expand(self.durations)
        c = self.cell
        return {
            "lock": c.name, "kind": c.kind, "span_class": c.span_class,
            "size_class": c.size_class, "acquisitions": self.ops, "contended": self.contended,
            "waiting_at_end": 0,
            "wait_total_ns": int(e.sum()),
            **_stats("wait", e), **_stats("hold", d),
            "utilisation": self.busy_ns / end if end else 0.0,
            "max_waiters": max(self.max_inflight - 1, 0),
            "max_spinning": 0,
        }


class SimLine(SimAtomic):
    """A cache line every P writes with atomics (an ``AtomicCell`` of kind
    ``line``): one core holds it at a time, so operations are serialized. An
    operation on the P that made the last one finds the line in its cache and
    costs nothing; one on another P waits until the line is free, then holds it
    for the cost (the line's move to its core). In locks.parquet, ``wait`` is
    an operation's time waiting for the line, ``hold`` its time holding it, and
    ``utilisation`` the fraction of the run the line was moving."""

    def __init__(self, host: LockHost, cell: AtomicCell) -> None:
        super().__init__(host, cell)
        #: when the line is free again, and the P that wrote it last (-1: none)
        self.free_at = 0
        self.last_p = -1

    def op_at(self, p: int, now: int, cost: str, g: LockCaller) -> int:
        self.ops += 1
        last = self.last_p
        self.last_p = p
        if last == p or last < 0:
            self._tally(0, 0)
            return now
        base = self._base_ns(cost, g)
        rec = self.costs.record  # CostModel.charge
        if rec is not None:
            rec[cost] = rec.get(cost, 0.0) + 1.0
        free_at = self.free_at
        start = now if now >= free_at else free_at
        end = start + base
        self.free_at = end
        wait = start - now
        if wait:
            self.contended += 1
            if self.max_inflight < 2:
                self.max_inflight = 2
        elif self.max_inflight < 1:
            self.max_inflight = 1
        self._tally(wait, end - start)
        if end > start:
            T = self.T
            hi = end if T is None or end < T else T
            if hi > start:
                self.busy_ns += hi - start
            self.busy_until = end
        if end > now:
            self._charge(p, now, start, start, end)
        return end

    def _tally(self, wait: int, hold: int) -> None:
        """Count one operation's wait (the contention's extra, ``extra``) and
        hold (its duration, ``durations``)."""
        if wait:
            extra = self.extra
            extra[wait] = extra.get(wait, 0) + 1
        self._count_duration(hold)


class SimFaults(SimAtomic):
    """The kernel's page-fault path (the ``pagefault`` cell) with the memory
    map's write lock, when ``mmap_write_ns`` > 0. Heap growth's sysMap (an
    mmap over the arena's reservation that merges into the heap's mapping)
    takes the map for writing: it waits for the writes queued before it and
    the faults in flight to finish, then holds it ``mmap_write_ns``; a fault
    on the heap that starts from the writer's arrival until the write ends
    sleeps until then and runs ``mmap_wakeup_ns`` after it (rwsem: once a
    writer waits, new readers queue behind it). The sleep is P time in a page
    fault, not system CPU: a fault's duration (``durations``, the mean fault)
    is its own cost, as the kernel's time per fault is read from getrusage.
    Operations start in time order, as :class:`SimAtomic`'s.

    :class:`SimFaultsNew` is the same path seen from memory that sysAlloc
    maps outside the heap (the GC bits arenas): its mmap is a write queued
    with the others but does not lock the heap's mapping (Linux's per-VMA
    locks let heap faults through), and a fault on that fresh mapping waits
    for every write queued (the next mmap merges into it)."""

    def __init__(self, host: LockHost, cell: AtomicCell) -> None:
        super().__init__(host, cell)
        #: when the last heap growth's write ends (heap faults sleep until
        #: then), and the last write of any kind queued on the map
        self.write_end = 0
        self.mm_end = 0
        self.wake_ns = host.costs.const("mmap_wakeup_ns")
        #: writes (heap growths), their time waiting for faults in flight, and
        #: faults that slept on a write and their time asleep, wake-up included
        self.writes = 0
        self.write_drain_ns = 0
        self.blocked = 0
        self.blocked_ns = 0
        #: sysAlloc's writes of new mappings (through :class:`SimFaultsNew`)
        self.new_writes = 0

    def op_at(self, p: int, now: int, cost: str, g: LockCaller) -> int:
        if cost == "mmap_write_ns":
            return self._write(p, now, cost, g, True)
        return self._fault(p, now, cost, g, self.write_end)

    def op_new(self, p: int, now: int, cost: str, g: LockCaller) -> int:
        """An operation on memory sysAlloc maps outside the heap: its mmap
        (``sysalloc_ns``) or a fault on it."""
        if cost == "sysalloc_ns":
            return self._write(p, now, cost, g, False)
        return self._fault(p, now, cost, g, self.mm_end)

    def _fault(self, p: int, now: int, cost: str, g: LockCaller, we: int) -> int:
        if now < we:
            resume = we + self.wake_ns
            self.blocked += 1
            self.blocked_ns += resume - now
            if self.wake_ns:
                self.costs.charge("mmap_wakeup_ns", 1.0)
            self._account_p(p, now, resume)
            return super().op_at(p, resume, cost, g)
        return super().op_at(p, now, cost, g)

    def _write(self, p: int, now: int, cost: str, g: LockCaller, heap: bool) -> int:
        base = self._base_ns(cost, g)
        rec = self.costs.record
        if rec is not None:
            rec[cost] = rec.get(cost, 0.0) + 1.0
        start = now if now > self.mm_end else self.mm_end
        if heap:
            for e in self.ends:  # the heap's faults in flight finish first
                if e > start:
                    start = e
        end = start + base
        self.mm_end = end
        if heap:
            self.write_end = end
            self.writes += 1
            self.write_drain_ns += start - now
        else:
            self.new_writes += 1
        if end > now:  # P time, and for a trace the wait as a wait, the write as a hold
            self._charge(p, now, start, start, end)
        return end

    def _account_p(self, p: int, start: int, end: int) -> None:
        """A fault's sleep on a write: P time in the fault (a trace's intervals
        are the fault's own, from when it runs)."""
        if end > start:
            acct = self.acct
            if acct is not None:
                acct.account(p, self.category, start, end)
            else:
                self.host.account(p, self.category, start, end)


class SimFaultsNew(SimAtomic):
    """The page-fault path of :class:`SimFaults` for memory sysAlloc maps
    outside the heap (``MHeap.os_faults_new``): every operation is the main
    cell's (its counts, its contention), with the new mapping's rules."""

    def __init__(self, host: LockHost, cell: AtomicCell, main: SimFaults) -> None:
        super().__init__(host, cell)
        self.main = main

    def op_at(self, p: int, now: int, cost: str, g: LockCaller) -> int:
        return self.main.op_new(p, now, cost, g)
