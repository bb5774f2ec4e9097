"""The engine's shortcuts change no result (issue 12).

A goroutine's ``sync`` takes the simulation clock without a SimPy event when
its timeout would be the very next event (``gosim.sim.goroutine.first_before``); uncontended
locks, span-set operations and costs then run as plain code. When events are
due first, it processes them itself and then takes the clock
(``gosim.sim.clock.run_before``), also within another such sync when it
comes before that one's timeout. These tests run
the same scenarios with both disabled (every sync waits on its
timeout, as before the shortcut existed) and require byte-identical results:
several designs and mutexes, timed and untimed runs, the collector with its
stop-the-world (an event several Ps wait on, where the shortcut must not
fire), tiny/large/mixed sizes, page faults, and step mode.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gosim.scenario import Scenario
from gosim.sim.env import PTimeout
from gosim.sim.locks import RuntimeMutex

W = {"dist": "exponential", "mean": 50}


def _sc(design: str, procs: int, size: Any, n: int | None, *, mode: str = "batched",
        duration_ns: int | None = None, live: int = 0, lifetime: Any = "drop",
        touch: bool = False) -> Scenario:
    d: dict[str, Any] = {
        "design": design, "gomaxprocs": procs, "seed": 11, "mode": mode,
        "workload": {"groups": [{"count": procs, "size": size, "work_ns": W,
                                 "allocations": n, "lifetime": lifetime, "touch": touch,
                                 "pointer_free_fraction": 0.5}]}}
    if duration_ns:
        d["duration_ns"] = duration_ns
    if live:
        d["workload"]["live_heap"] = {"bytes": live}
    return Scenario.model_validate(d)


MIXED = {"dist": "choice", "values": [8, 12, 48, 1024, 40000], "weights": [3, 2, 5, 2, 0.05]}

CASES = {
    "go1.27 1 KiB 4 P": _sc("go1.27", 4, 1024, 3000),
    "go1.12 mixed 3 P": _sc("go1.12", 3, MIXED, 2000),
    "go1.14 48 B 4 P timed": _sc("go1.14", 4, 48, None, duration_ns=1_500_000),
    "global-lock 48 B 8 P timed": _sc("global-lock", 8, 48, None, duration_ns=400_000),
    "tcmalloc 1 KiB 4 P": _sc("tcmalloc", 4, 1024, 2000),
    "go1.27 40 KB touch 3 P": _sc("go1.27", 3, 40000, 200, touch=True),
    # GC cycles with stop-the-world and assists: 8 MiB live, pointerful 1 KiB, ring lifetimes
    "go1.27 GC 1 KiB 8 P": _sc("go1.27", 8, 1024, 3000, live=8 << 20,
                               lifetime={"allocations": 64}),
    "go1.12 GC 48 B 4 P step": _sc("go1.12", 4, 48, 20000, live=4 << 20, mode="step"),
    # one refill per allocation: most syncs find events due first
    "go1.27 32 KiB 4 P": _sc("go1.27", 4, 32768, 600),
}


def _run(sc: Scenario, shortcut: bool) -> tuple[str, int, int, int]:
    """The run's results as JSON, the SimPy events it processed, the syncs that
    ran the events due before them, and the most of those one within another."""
    from gosim.sim.engine import Simulation

    sim = Simulation(sc)
    sim.sync_shortcut = shortcut
    result = json.dumps(sim.run().to_dict(), sort_keys=True, default=str)
    pos = sim.env.pos
    return result, sim.env.events, pos.inline, pos.max_depth


@pytest.mark.parametrize("name", sorted(CASES))
def test_sync_shortcut_changes_no_result(name: str) -> None:
    sc = CASES[name]
    fast, fast_events, inline, depth = _run(sc, True)
    slow, slow_events, slow_inline, _ = _run(sc, False)
    assert fast_events < slow_events  # the shortcut was in play
    assert slow_inline == 0
    if sc.gomaxprocs > 1:  # events due first, run by the sync, one within another
        assert inline > 0 and depth >= 2
    assert fast == slow


def test_shortcut_is_taken_and_saves_events() -> None:
    """The shortcut fires: with one P nothing else is ever queued ahead of a
    goroutine, so a 1-P run processes far fewer events than syncs."""
    from gosim.sim.engine import Simulation

    sim = Simulation(_sc("go1.27", 1, 1024, 4000, mode="step"))
    sim.run()
    env = sim.env
    # step mode syncs after every fast path and every work period: >= 2 per
    # allocation, each an event or a shortcut (``nstep`` counts both)
    assert env.nstep >= 2 * 4000
    assert 0 < env.events < 4000 // 4


def _spin_with_timeouts(self: RuntimeMutex, w: Any) -> None:
    """The spin window as a SimPy timeout (what the lazy windows replaced): the
    reference the lock's own bookkeeping must match."""
    if self.spinbit and not w.at_tail and any(not s.at_tail for s in self.spinning):
        self._sleep(w, self.env.now)
        return
    self.spinning.append(w)
    self.max_spinning = max(self.max_spinning, len(self.spinning))
    w.state = "spin"
    w.spin_gen += 1
    w.spin_t0 = self.env.now
    gen = w.spin_gen
    t = PTimeout(self.env, self.spin_ns, w.p)
    t.callbacks.append(lambda _ev, w=w, gen=gen: self._spin_expired(w, gen, self.env.now))


LOCK_CASES = {
    "global-lock futex 8 P timed": _sc("global-lock", 8, 48, None, duration_ns=300_000),
    "go1.12 futex mixed 6 P": _sc("go1.12", 6, MIXED, 1500),
    "go1.27 spinbit 1 KiB 8 P GC": _sc("go1.27", 8, 1024, 2500, live=4 << 20),
    "go1.14 futex 1 KiB 5 P step": _sc("go1.14", 5, 1024, 1500, mode="step"),
}


@pytest.mark.pure_python
@pytest.mark.parametrize("name", sorted(LOCK_CASES))
@pytest.mark.parametrize("policy,spin", [("barging", None), ("fifo", None), ("barging", 0)])
def test_lazy_spin_windows_match_spin_timeouts(name: str, policy: str, spin: int | None,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A spin window ends without a SimPy event, applied in SimPy's order when
    the lock is next looked at; with a timeout per window instead, every
    result is the same, byte for byte (barging and FIFO hand-off, a zero spin
    window, timed and untimed runs, both mutex implementations)."""
    sc = LOCK_CASES[name].model_copy(update={"lock_policy": policy})
    if spin is not None:
        sc = Scenario.model_validate({**sc.model_dump(), "costs": {"lock_spin_ns": spin}})
    lazy = _run(sc, True)[0]
    monkeypatch.setattr(RuntimeMutex, "_spin_or_sleep", _spin_with_timeouts)
    timeouts = _run(sc, True)[0]
    assert lazy == timeouts
