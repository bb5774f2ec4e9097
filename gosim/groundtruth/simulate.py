"""Simulate scenarios on the project's local executor, results in input order.

Each run goes through :func:`gosim.runner.execute.execute_run` (a failed run
is an ``ok: False`` outcome with its error, never fatal) on
:func:`gosim.runner.local.run_local` (a spawned process pool for ``jobs > 1``);
a run depends only on its scenario, so the order in which workers finish
changes nothing. The dearest runs (simulated time x GOMAXPROCS, the same
measure as ``gosim.runner.estimate.work``) start first, so that two workers
finish together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gosim.runner.execute import SimulateFn


def simulate_all(scenarios: list[dict[str, Any]], jobs: int,
                 simulate_fn: SimulateFn | None = None,
                 on_done: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """``execute_run``'s outcome for each scenario, in the order given.
    ``on_done(done, total)`` is called as runs finish (progress)."""
    from gosim.runner.local import run_local

    outcomes: dict[str, dict[str, Any]] = {}

    def done(key: str, out: dict[str, Any]) -> None:
        outcomes[key] = out
        if on_done is not None:
            on_done(len(outcomes), len(scenarios))

    def cost(i: int) -> tuple[float, int]:
        s = scenarios[i]
        return -float(s.get("duration_ns") or 0) * int(s.get("gomaxprocs", 1)), i

    order = sorted(range(len(scenarios)), key=cost)
    run_local([(str(i), scenarios[i]) for i in order], jobs, done, simulate_fn)
    return [outcomes[str(i)] for i in range(len(scenarios))]
