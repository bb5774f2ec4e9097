"""The compiled P process and events (gosim/sim/clock.py) against SimPy's own
``Process``: the same events in the same queue order, keys, ids and counts,
the same return values and failures."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gosim.sim.clock import PEvent, PProc, PTimeout
from gosim.sim.env import SimEnv

#: a step of a script: ("t", delay) waits a timeout, ("w", other) wakes P
#: ``other``'s pending event and goes on, ("e", 0) waits on an event of its own
steps = st.one_of(st.tuples(st.just("t"), st.integers(0, 5)),
                  st.tuples(st.just("w"), st.integers(0, 3)),
                  st.tuples(st.just("e"), st.just(0)))


def _trace(scripts: list[list[tuple[str, int]]], native: bool) -> list[Any]:
    env = SimEnv()
    pos = env.pos
    pending: dict[int, Any] = {}
    seen: list[Any] = []

    def proc(p: int, script: list[tuple[str, int]]) -> Any:
        for op, arg in script:
            seen.append((p, op, pos.now, pos.key, pos.eid, pos.nstep, pos.shared))
            if op == "t":
                yield PTimeout(env, arg, p)
            elif op == "w":
                ev = pending.pop(arg, None)
                if ev is not None:
                    ev.succeed()
            elif p not in pending:
                ev = pending[p] = PEvent(env, p)
                yield ev
        return p * 10

    procs = []
    for p, script in enumerate(scripts):
        if native:
            procs.append(PProc(env, proc(p, script), p))
        else:
            pr = env.process(proc(p, script))
            pr.pk = p  # type: ignore[attr-defined]
            procs.append(pr)
    env.run()
    values = [(pr._value, pr.callbacks is None) for pr in procs]
    return [*seen, values, pos.events, pos.nstep, env.now]


@given(st.lists(st.lists(steps, max_size=8), min_size=1, max_size=4))
@settings(max_examples=150, deadline=None)
def test_pproc_resumes_as_simpy_process(scripts: list[list[tuple[str, int]]]) -> None:
    """Random scripts of timeouts and hand-offs between processes: every
    resumption sees the same clock, queue key, insertion id and event count,
    and each process ends with its generator's value, as with SimPy's Process."""
    assert _trace(scripts, native=True) == _trace(scripts, native=False)


def test_a_failing_process_fails_the_run_as_in_simpy() -> None:
    def bad(env: SimEnv) -> Any:
        yield PTimeout(env, 3, 0)
        raise KeyError("boom")

    for native in (True, False):
        env = SimEnv()
        if native:
            PProc(env, bad(env), 0)
        else:
            env.process(bad(env))
        with pytest.raises(KeyError, match="boom"):
            env.run()
        assert env.now == 3


def test_an_event_succeeds_once() -> None:
    env = SimEnv()
    ev = PEvent(env, 1)
    assert not ev.triggered
    ev.succeed(7)
    assert ev.triggered and ev.value == 7
    with pytest.raises(RuntimeError, match="already been triggered"):
        ev.succeed()
