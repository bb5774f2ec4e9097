"""Processes that draw an experiment's plots after its runs, side by side,
while the parent writes the tables and the per-run GraphML files.

Each output is a pure function of the tables it is given, so a file is the
same byte for byte whichever process writes it
(tests/test_runner.py, test_outputs_are_the_same_from_the_output_pool). With
one job everything runs in the calling process, in order. The pool is
spawned, as the run pool is (gosim/runner/local.py), and its workers import
the plotting modules as they start, while the parent is still building the
tables.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from gosim.runner.local import abandon


def _warm() -> None:
    """Worker initializer: ignore Ctrl-C (the parent decides) and import what
    drawing needs before the first task arrives."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import gosim.analysis.plots  # noqa: F401  (and gosim.analysis.flow, which it imports)


def _noop() -> None:
    """Started at once, so that the workers import while the parent works."""


@contextmanager
def output_pool(jobs: int, tasks: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``min(jobs, tasks)`` spawned processes for ``tasks`` output
    jobs, or None (run them in the calling process) when that is one or when
    processes cannot be started here. On an exception (Ctrl-C included) the
    workers are stopped at once."""
    n = min(jobs, tasks)
    if n <= 1:
        yield None
        return
    others = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_warm)
    try:
        for _ in range(n):
            pool.submit(_noop)
    except OSError:  # no processes here (a sandbox, no semaphores): this one draws
        abandon(pool, others)
        yield None
        return
    try:
        yield pool
    except BaseException:
        abandon(pool, others)
        raise
    # every output is written (the caller has each result): the workers exit
    # (a few tenths of a second: matplotlib, pandas) while the caller goes on;
    # the interpreter joins them at its exit
    pool.shutdown(wait=False)
