"""The local executor: in-process for one job, else a spawned process pool.

``spawn`` (not ``fork``) so that workers start clean whatever threads the
parent has (rich's progress refresh, Dask); results are identical either way
because a run depends only on its scenario.

Interruption: workers ignore SIGINT (a Ctrl-C at a terminal reaches the
whole process group); the parent, on KeyboardInterrupt, terminates the
workers at once, so runs in flight are abandoned within a moment instead of
being waited for, and re-raises. Completed runs were already handed to
``on_done``.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from gosim.runner.execute import SimulateFn, execute_run

Task = tuple[str, dict[str, Any]]  # (config hash, scenario dict)
OnDone = Callable[[str, dict[str, Any]], None]


def _ignore_sigint() -> None:
    """Worker initializer: the parent decides what an interrupt stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def abandon(pool: ProcessPoolExecutor, others: set[Any]) -> None:
    """Stop ``pool`` now: cancel what has not started and terminate its workers
    (the processes alive now that are not among ``others``)."""
    pool.shutdown(wait=False, cancel_futures=True)
    for p in set(multiprocessing.active_children()) - others:
        p.terminate()
    for p in set(multiprocessing.active_children()) - others:
        p.join(timeout=5)


def run_local(tasks: list[Task], jobs: int, on_done: OnDone,
              simulate_fn: SimulateFn | None = None) -> None:
    if jobs <= 1 or len(tasks) <= 1:
        for key, scenario in tasks:
            on_done(key, execute_run(scenario, simulate_fn))
        return
    ctx = multiprocessing.get_context("spawn")
    others = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx,
                               initializer=_ignore_sigint)
    try:
        futures: dict[Future[dict[str, Any]], str] = {
            pool.submit(execute_run, scenario, simulate_fn): key for key, scenario in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                try:
                    out = f.result()
                except Exception as e:  # a worker died (e.g. killed, out of memory)
                    out = {"ok": False, "result": None, "wall_s": 0.0,
                           "error": f"worker failed: {type(e).__name__}: {e}"}
                on_done(futures[f], out)
    except BaseException:
        # Ctrl-C (or an error in on_done): abandon the runs in flight now
        abandon(pool, others)
        raise
    pool.shutdown(wait=True)
