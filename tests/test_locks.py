"""Runtime locks and span sets driven directly: hand-computed schedules for
spin, sleep, wake-up and barging (lock_futex.go, lock_spinbit.go), the span-set
contention formula, and lock invariants over random schedules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gosim.runtime.context import AtomicCell, Mutex
from gosim.scenario import Dist
from gosim.sim.costmodel import CostModel
from gosim.sim.env import PTimeout, SimEnv
from gosim.sim.locks import RuntimeMutex, SimAtomic, SimLine


@dataclass
class Host:
    """The narrow LockHost: an environment, a cost model, P-time accounting."""

    costs: CostModel
    env: SimEnv = field(default_factory=SimEnv)
    nprocs: int = 2
    T: int | None = None
    tracer: None = None
    ptime: list[tuple[int, str, int, int]] = field(default_factory=list)

    def account(self, p: int, cat: str, start: int, end: int) -> None:
        if self.T is not None:
            end = min(end, self.T)
        if end > start:
            self.ptime.append((p, cat, start, end))


@dataclass
class Caller:
    """The narrow LockCaller: a goroutine on P ``p`` with constant costs."""

    host: Host
    p: int
    vt: int = 0

    def draw_ns(self, name: str, units: float = 1.0) -> int:
        return int(self.host.costs.constants[name] * units + 0.5)  # type: ignore[operator]

    def cost_ns(self, name: str, units: float = 1.0) -> int:
        self.host.costs.charge(name, units)
        return self.draw_ns(name, units)


def _host(spin: int, wake: int, uncontended: int = 0, factor: float = 1.0,
          op: int = 25, **extra: int) -> tuple[Host, dict[str, float]]:
    """extra: more cost constants, and ``nprocs``."""
    record: dict[str, float] = {}
    nprocs = extra.pop("nprocs", 2)
    costs = CostModel({}, {"lock_spin_ns": Dist(value=spin), "lock_wakeup_ns": Dist(value=wake),
                           "lock_uncontended_ns": Dist(value=uncontended),
                           "spanset_op_ns": Dist(value=op),
                           "spanset_contention_factor": Dist(value=factor),
                           **{k: Dist(value=v) for k, v in extra.items()}}, record=record)
    return Host(costs, nprocs=nprocs), record


def _run(mutex: str, policy: str, spin: int, wake: int,
         scripts: dict[int, list[tuple[int, int]]], T: int | None = None,
         kind: str = "mcentral", **extra: int
         ) -> tuple[RuntimeMutex, list[tuple[int, int, int]], Host, dict[str, float]]:
    """Each P runs its script: (think ns, hold ns) pairs, lock and unlock around
    each hold. Returns the lock, the grants (P, asked at, granted at), the host
    and the recorded cost units. extra: as :func:`_host`."""
    host, record = _host(spin, wake, **extra)
    if T is not None:
        host.T = T
    env = host.env
    mu = RuntimeMutex(host, Mutex("m", kind), policy=policy, impl=mutex)
    grants: list[tuple[int, int, int]] = []
    state: dict[str, Any] = {"holder": None}

    def proc(p: int, script: list[tuple[int, int]]) -> Any:
        g = Caller(host, p)
        for think, hold in script:
            if think:
                yield PTimeout(env, think, p)
            asked = env.now
            g.vt = asked
            if not mu.try_acquire(g):
                yield from mu.acquire(g)
            assert state["holder"] is None, "two owners at once"
            assert mu.owner == p
            state["holder"] = p
            grants.append((p, asked, env.now))
            yield PTimeout(env, hold, p)
            state["holder"] = None
            mu.release(g)

    for p, script in scripts.items():
        env.process(proc(p, script)).pk = p  # type: ignore[attr-defined]
    if T is None:
        env.run()
        mu.expire_all(None)
    else:
        env.run(until=T)
        mu.expire_all(T)
        mu.close(T)
    # lock_uncontended_ns is charged once per acquisition (its value is 0 here),
    # and, on mheap.lock only, heap_lock_migrate_ns once per acquisition by another
    # P than the last holder
    assert record.pop("lock_uncontended_ns", 0) == mu.acquisitions
    moves = sum(1 for a, b in zip(grants, grants[1:], strict=False) if a[0] != b[0])
    assert record.pop("heap_lock_migrate_ns", 0) == (moves if kind == "mheap" else 0)
    return mu, grants, host, record


def test_heap_lock_hand_off_between_ps_pays_the_migration() -> None:
    """mheap.lock taken by P0, P0, P1, P0: two hand-offs between Ps, each charged
    heap_lock_migrate_ns inside the critical section (its value is 0 here)."""
    mu, grants, _host_, rec = _run("futex", "barging", 50, 30,
                                   {0: [(0, 100), (10, 100), (500, 100)], 1: [(300, 100)]},
                                   kind="mheap")
    assert [p for p, _, _ in grants] == [0, 0, 1, 0]
    assert rec == {}  # lock_uncontended_ns and heap_lock_migrate_ns popped by _run


def test_heap_lock_hand_off_pays_per_other_p() -> None:
    """heap_lock_per_p_ns: each hand-off between Ps costs GOMAXPROCS - 1 more
    units of it inside the critical section; an acquisition by the last holder
    pays nothing. Same schedule as above with 4 Ps, migrate 1000 ns and 100 ns
    per other P: the two hand-offs hold the lock 1300 ns longer each."""
    scripts = {0: [(0, 100), (10, 100), (5000, 100)], 1: [(3000, 100)]}
    mu, grants, host, rec = _run("futex", "barging", 50, 30, scripts, kind="mheap",
                                 heap_lock_migrate_ns=1000, heap_lock_per_p_ns=100, nprocs=4)
    assert [p for p, _, _ in grants] == [0, 0, 1, 0]
    assert rec == {"heap_lock_per_p_ns": 2 * 3}
    held = sorted((p, end - start) for p, cat, start, end in host.ptime if cat == "hold:mheap")
    assert held == [(0, 1300), (1, 1300)]
    # other locks and a single P never pay it
    _, _, _, rec = _run("futex", "barging", 50, 30, scripts, kind="mcentral",
                        heap_lock_migrate_ns=1000, heap_lock_per_p_ns=100, nprocs=4)
    assert rec == {}
    _, _, _, rec = _run("futex", "barging", 50, 30, scripts, kind="mheap",
                        heap_lock_migrate_ns=1000, heap_lock_per_p_ns=100, nprocs=1)
    assert rec == {}


# -- hand-computed schedules (spin 50 ns, wake-up 30 ns, hold 100 ns) ----------------------

def test_futex_barging_schedule():
    """P0 holds [0, 100), thinks 10 ns and barges in at 110 while P1, woken at
    100, is still waking (runs at 130): P1 spins again [130, 180), sleeps, is
    woken by P0's unlock at 210 and takes the lock at 240."""
    mu, grants, host, rec = _run("futex", "barging", 50, 30,
                                 {0: [(0, 100), (10, 100)], 1: [(10, 100)]})
    assert grants == [(0, 0, 0), (0, 110, 110), (1, 10, 240)]
    assert list(mu.waits) == [0, 0, 230] and list(mu.holds) == [100, 100, 100]
    assert mu.acquisitions == 3 and mu.contended == 1
    assert rec == {"lock_spin_ns": 2.0, "lock_wakeup_ns": 2.0}
    assert [(p, c, a, b) for p, c, a, b in host.ptime if c.startswith("wait")] == [
        (1, "wait:mcentral", 10, 240)]
    # the mutex profile's view (lock_spinbit.go): the wait from P1's first sleep
    # (60) to its grant, the spins before it left out, the sleep after the
    # barge-in kept
    # (a futex mutex's profile is its waits)
    assert mu.site_rows(1000) == [{"lock": "m", "kind": "mcentral", "fn": "m", "waits": 1,
                                   "wait_ns": 240 - 60, "profile_unlocks": 1,
                                   "profile_ns": 240 - 60}]


def test_fifo_reserves_the_lock_for_the_woken_sleeper():
    """Same arrivals under fifo: P0's release at 100 reserves the lock for P1
    (asleep since 60, granted at 130); P0, back at 110, queues behind it, spins
    until 160, sleeps, and is woken by P1's release at 230 (granted at 260)."""
    mu, grants, _host_, rec = _run("futex", "fifo", 50, 30,
                                   {0: [(0, 100), (10, 100)], 1: [(10, 100)]})
    assert grants == [(0, 0, 0), (1, 10, 130), (0, 110, 260)]
    assert list(mu.waits) == [0, 120, 150]
    assert mu.contended == 2
    assert rec == {"lock_spin_ns": 2.0, "lock_wakeup_ns": 2.0}


@pytest.mark.parametrize("mutex,spin_units,max_spinning,asleep", [
    ("futex", 2.0, 2, (130 - 60) + (260 - 70)), ("spinbit", 1.0, 1, (130 - 60) + (260 - 20))])
def test_three_ps_futex_all_spin_spinbit_one_spins(mutex, spin_units, max_spinning, asleep):
    """P0 holds [0, 100); P1 arrives at 10 and P2 at 20. futex: both spin 50 ns
    and sleep; spinbit: P1 takes the spin bit, P2 sleeps at once. Either way P1
    is woken by P0's unlock (granted at 130) and P2 by P1's (granted at 260).
    The mutex profile counts each from its first sleep: P1 from 60, P2 from 70
    (futex) or 20 (spinbit)."""
    mu, grants, _h, rec = _run(mutex, "barging", 50, 30,
                               {0: [(0, 100)], 1: [(10, 100)], 2: [(20, 100)]})
    assert grants == [(0, 0, 0), (1, 10, 130), (2, 20, 260)]
    assert list(mu.waits) == [0, 120, 240]
    assert rec == {"lock_spin_ns": spin_units, "lock_wakeup_ns": 2.0}
    assert mu.max_spinning == max_spinning and mu.max_waiters == 2
    assert sum(r["wait_ns"] for r in mu.site_rows(1000)) == asleep


@pytest.mark.parametrize("mutex", ["futex", "spinbit"])
def test_a_release_during_a_spin_hands_the_lock_to_the_spinner(mutex):
    mu, grants, _h, rec = _run(mutex, "barging", 50, 30, {0: [(0, 100)], 1: [(80, 100)]})
    assert grants == [(0, 0, 0), (1, 80, 100)]
    assert rec == {"lock_spin_ns": pytest.approx(20 / 50)}


def test_futex_unlock_wakes_a_sleeper_even_while_an_m_spins():
    """lock_futex.go unlock2 wakes a sleeper whenever one sleeps. P1 sleeps from
    60; P2 spins from 90 and gets the lock at P0's release (100), which also
    wakes P1 (running at 130, spins, sleeps at 180, woken again at 200)."""
    mu, grants, _h, rec = _run("futex", "barging", 50, 30,
                               {0: [(0, 100)], 1: [(10, 100)], 2: [(90, 100)]})
    assert grants == [(0, 0, 0), (2, 90, 100), (1, 10, 230)]
    assert rec == {"lock_spin_ns": pytest.approx(1 + 10 / 50 + 1), "lock_wakeup_ns": 2.0}


def test_spinbit_unlock_leaves_sleepers_while_an_m_holds_the_spin_bit():
    """lock_spinbit.go unlock2Wake: an M spins, so P0's unlock wakes nobody; P2's
    unlock (no spinner left) wakes P1."""
    mu, grants, _h, rec = _run("spinbit", "barging", 50, 30,
                               {0: [(0, 100)], 1: [(10, 100)], 2: [(90, 100)]})
    assert grants == [(0, 0, 0), (2, 90, 100), (1, 10, 230)]
    assert rec == {"lock_spin_ns": pytest.approx(1 + 10 / 50), "lock_wakeup_ns": 1.0}


@pytest.mark.parametrize("mutex,granted", [("spinbit", [1800, 3400]), ("futex", [200, 500])])
def test_spinbit_wakes_the_oldest_sleeper_every_16th_unlock(mutex, granted):
    """P0 and P1 take turns (hold 100 ns, spin window 250 ns), so every unlock finds
    an M spinning. spinbit: P2 and P3 arrive while P1 holds the spin bit and
    sleep at once; no unlock wakes them but every 16th (mutexTailWakePeriod),
    which wakes the oldest: P2 is woken at 1600, spins beside the spin-bit
    holder and gets the lock at the second release after (1800); P3 at the 32nd
    unlock (3200) and so at 3400. futex: P2 and P3 spin too; P2 gets the lock at
    the second release (200); P3's spin ends at 280, it sleeps, is woken by the
    release at 300 (awake at 330, spins again) and gets it at 500."""
    scripts = {0: [(0, 100)] * 30, 1: [(10, 100)] * 30, 2: [(20, 100)], 3: [(30, 100)]}
    mu, grants, _h, _rec = _run(mutex, "barging", 250, 30, scripts)
    assert [g for p, _a, g in grants if p >= 2] == granted
    assert mu.acquisitions == 62


def test_a_wait_in_progress_at_the_end_counts_as_waiting():
    mu, grants, host, _rec = _run("futex", "barging", 50, 30,
                                  {0: [(0, 1000)], 1: [(10, 100)]}, T=500)
    assert grants == [(0, 0, 0)]
    assert (1, "wait:mcentral", 10, 500) in host.ptime
    row = mu.row(500)
    assert row["waiting_at_end"] == 1 and row["wait_total_ns"] == 490
    assert row["utilisation"] == 1.0  # held from 0 to the end


# -- span sets -----------------------------------------------------------------------------

@pytest.mark.parametrize("factor,costs,extra,units,busy,contended", [
    # op at 0: alone (25, ends 25); at 10: one in flight (25 x 2, ends 60); at 20: two
    # (25 x 3, ends 95); at 70: only the one ending at 95 (25 x 2, ends 120)
    (1.0, [25, 50, 75, 50], [0, 25, 50, 25], 1 + 2 + 3 + 2, 120, 3),
    # 25 x 1.5 = 37.5 rounds half up to 38 (ends 48); at 20: two in flight (25 x 2,
    # ends 70); at 70 every earlier op has ended: alone (ends 95)
    (0.5, [25, 38, 50, 25], [0, 13, 25, 0], 1 + 1.5 + 2 + 1, 95, 2),
])
def test_span_set_cost_grows_with_operations_in_flight(factor, costs, extra, units, busy,
                                                       contended):
    host, rec = _host(0, 0, factor=factor)
    cell = SimAtomic(host, AtomicCell("mcentral[spc=9].spanset", "spanset", 9, 4))
    starts = (0, 10, 20, 70)
    ends = []
    for p, t in zip((0, 1, 2, 0), starts, strict=True):
        g = Caller(host, p, t)
        cell.op(g, "spanset_op_ns")
        ends.append(g.vt)
    assert [e - t for e, t in zip(ends, starts, strict=True)] == costs
    # each operation's extra cost from contention, counted by value
    assert cell.extra_counts() == {v: extra.count(v) for v in extra}
    assert cell.durations == {v: costs.count(v) for v in costs}
    assert rec == {"spanset_op_ns": units}
    row = cell.row(200)
    # utilisation: the fraction of the run with at least one operation in flight
    assert row["utilisation"] == busy / 200
    assert row["acquisitions"] == 4 and row["contended"] == contended
    assert row["wait_total_ns"] == sum(extra) and row["max_waiters"] == 2
    assert row["hold_max_ns"] == max(costs) and row["hold_mean_ns"] == sum(costs) / 4


def test_a_line_is_held_by_one_core_and_moves_only_between_ps():
    """A cache line every P writes (SimLine, kind ``line``): P0's first write
    at 0 finds it nowhere else (free); P1's at 10 moves it (holds it 100 ns,
    10 -> 110); P0's at 50 waits for it until 110 and moves it back (-> 210);
    P0's at 300 finds it in its own cache (free); P1's at 305 moves it again
    (-> 405), and the run's end at 350 cuts that hold in the utilisation."""
    host, rec = _host(0, 0, gcbits_line_ns=100)
    host.T = 350
    cell = SimLine(host, AtomicCell("gcBitsArenas.free", "line"))
    ends = []
    for p, t in ((0, 0), (1, 10), (0, 50), (0, 300), (1, 305)):
        g = Caller(host, p, t)
        cell.op(g, "gcbits_line_ns")
        ends.append(g.vt)
    assert ends == [0, 110, 210, 300, 405]
    assert cell.extra_counts() == {0: 4, 60: 1}  # P0 at 50 waited 60 ns for the line
    assert cell.durations == {0: 2, 100: 3}
    assert rec == {"gcbits_line_ns": 3.0}  # three moves priced
    assert host.ptime == [(1, "atomic", 10, 110), (0, "atomic", 50, 210),
                          (1, "atomic", 305, 350)]
    row = cell.row(350)
    assert row["acquisitions"] == 5 and row["contended"] == 1
    assert row["wait_total_ns"] == 60 and row["max_waiters"] == 1
    assert row["utilisation"] == (100 + 100 + 45) / 350


@settings(max_examples=40, deadline=None, derandomize=True)
@given(ops=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 200)), min_size=1, max_size=30),
       cost=st.integers(1, 300))
def test_line_moves_are_serialized_and_each_costs_the_move(ops, cost):
    """However the Ps' writes interleave: the holds never overlap, each write
    on another P than the last costs exactly the move after waiting for the
    line, and a write on the same P costs nothing."""
    host, _rec = _host(0, 0, gcbits_line_ns=cost, nprocs=4)
    cell = SimLine(host, AtomicCell("gcBitsArenas.free", "line"))
    now, last, free_at, holds = 0, -1, 0, []
    for p, gap in ops:
        now += gap
        g = Caller(host, p, now)
        cell.op(g, "gcbits_line_ns")
        if last in (-1, p):
            assert g.vt == now
        else:
            start = max(now, free_at)
            assert g.vt == start + cost
            holds.append((start, g.vt))
            free_at = g.vt
        last = p
    assert all(a[1] <= b[0] for a, b in zip(holds, holds[1:], strict=False))
    assert cell.ops == len(ops) and sum(cell.durations.values()) == len(ops)


# -- invariants over random schedules -------------------------------------------------------

_SCRIPT = st.lists(st.tuples(st.integers(0, 300), st.integers(1, 300)), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(mutex=st.sampled_from(["futex", "spinbit"]), policy=st.sampled_from(["barging", "fifo"]),
       spin=st.integers(0, 200), wake=st.integers(0, 400),
       scripts=st.lists(_SCRIPT, min_size=1, max_size=6))
def test_lock_invariants_on_random_schedules(mutex, policy, spin, wake, scripts):
    """One owner at a time (asserted inside _run), every waiter eventually granted,
    waits >= 0 and equal to grant - ask, acquisitions counted equal grants."""
    by_p = dict(enumerate(scripts))
    mu, grants, host, _rec = _run(mutex, policy, spin, wake, by_p)
    assert len(grants) == sum(len(s) for s in scripts)  # every waiter was granted
    assert not mu.waiting and mu.owner is None and not mu.sleeping and not mu.spinning
    assert mu.acquisitions == len(grants) == len(mu.waits) == len(mu.holds)
    assert sorted(mu.waits) == sorted(g - a for _p, a, g in grants)
    assert min(mu.waits) >= 0
    assert sorted(mu.holds) == sorted(h for s in scripts for _t, h in s)
    assert sum(1 for _p, a, g in grants if g > a) <= mu.contended <= len(grants)
    # P time waiting is exactly the waits
    assert sum(b - a for _p, c, a, b in host.ptime if c.startswith("wait")) == sum(mu.waits)


def test_the_mutex_profile_charges_each_unlock_as_lock_spinbit_does() -> None:
    """lock_spinbit.go unlock2Wake, sampled: an unlock that finds Ms asleep
    takes the blame for all of them, the mean of the newest's and the
    oldest's wait since their clocks were last reset, times their number, and
    resets those two clocks; the site is the unlocking function. Spin 50 ns,
    wake-up 30 ns. P0 holds 0-1000 (in "hold0"); P1 asks at 100, spins, sleeps
    at 150; P2 asks at 200 and sleeps at 250 after its spin (P1 asleep holds
    no spin bit). P0's unlock at 1000 charges ((1000-250) + (1000-150)) / 2
    x 2 = 1600 and wakes the newest, P2, which holds 1030-1130 ("hold2");
    its unlock charges P1 alone from the reset: (130 + 130) / 2 x 1 = 130.
    The waits as the model counts them (first sleep to grant, charged to the
    releaser of the grant) are P2's 780 and P1's 1010 (granted at 1160)."""
    host, _ = _host(50, 30)
    env = host.env
    mu = RuntimeMutex(host, Mutex("m", "mcentral"), policy="barging", impl="spinbit")

    def proc(p: int, ask: int, hold: int) -> Any:
        g = Caller(host, p)
        yield PTimeout(env, ask, p)
        g.vt = env.now
        if not mu.try_acquire(g):
            yield from mu.acquire(g)
        mu.owner_fn = f"hold{p}"
        yield PTimeout(env, hold, p)
        mu.release(g)

    for p, ask, hold in ((0, 0, 1000), (1, 100, 100), (2, 200, 100)):
        env.process(proc(p, ask, hold)).pk = p  # type: ignore[attr-defined]
    env.run()
    mu.expire_all(None)
    rows = {r["fn"]: r for r in mu.site_rows(env.now)}
    assert env.now == 1260
    assert {fn: (r["profile_unlocks"], r["profile_ns"]) for fn, r in rows.items()} == {
        "hold0": (1, 1600), "hold2": (1, 130)}
    assert {fn: (r["waits"], r["wait_ns"]) for fn, r in rows.items()} == {
        "hold0": (1, 780), "hold2": (1, 1010)}


@pytest.mark.parametrize(("mutex", "policy"), [("futex", "barging"), ("futex", "fifo"),
                                               ("spinbit", "fifo")])
def test_a_futex_or_fifo_mutex_profile_is_its_waits(mutex: str, policy: str) -> None:
    """lock_futex.go (the older presets), and the FIFO hand-off (no
    runtime's): the profile rows repeat the waits."""
    mu, _, _, _ = _run(mutex, policy, 50, 30, {0: [(0, 1000)], 1: [(100, 100)],
                                               2: [(200, 100)]})
    rows = mu.site_rows(10**6)
    assert rows
    for r in rows:
        assert (r["profile_unlocks"], r["profile_ns"]) == (r["waits"], r["wait_ns"]) != (0, 0)
