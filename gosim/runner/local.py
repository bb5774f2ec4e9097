"""The local executor: in-process for one job, else a spawned process pool.

``spawn`` (not ``fork``) so that workers start clean whatever threads the
parent has (rich's progress refresh, Dask); results are identical either way
because a run depends only on its scenario.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from gosim.runner.execute import SimulateFn, execute_run

Task = tuple[str, dict[str, Any]]  # (config hash, scenario dict)
OnDone = Callable[[str, dict[str, Any]], None]


def run_local(tasks: list[Task], jobs: int, on_done: OnDone,
              simulate_fn: SimulateFn | None = None) -> None:
    if jobs <= 1 or len(tasks) <= 1:
        for key, scenario in tasks:
            on_done(key, execute_run(scenario, simulate_fn))
        return
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx)
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
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
