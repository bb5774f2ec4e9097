"""Processes that draw an experiment's plots after its runs, side by side,
while the parent writes the tables and the per-run GraphML files.

Each output is a pure function of the tables it is given, so a file is the
same byte for byte whichever process writes it
(tests/test_runner.py, test_outputs_are_the_same_from_the_output_pool). With
one job everything runs in the calling process, in order. The workers come
from a fork server that imports the plotting modules once, while the parent
is still building the tables (spawned afresh, as the run pool's are,
gosim/runner/local.py, where there is no fork server); never forked from the
parent itself.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.context import BaseContext

from gosim.runner.local import abandon


def _warm() -> None:
    """Worker initializer: ignore Ctrl-C (the parent decides) and import what
    drawing needs before the first task arrives."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import gosim.analysis.plots  # noqa: F401  (and gosim.analysis.flow, which it imports)


def _noop() -> None:
    """Started at once, so that the workers import while the parent works."""


def _context() -> BaseContext:
    """Where the workers come from: a fork server that has imported the
    plotting modules (and the program's ``__main__``, as a spawned process
    re-runs it) once, forking each worker from that state, where there is one
    (POSIX); otherwise fresh spawned processes, each importing everything
    again (0.8 s apiece). The server itself starts as a fresh process: nothing
    is forked from this one (and its threads)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # and seaborn, which the lock heatmap imports (0.5 s): imported here once,
    # while the parent builds the tables, rather than when the longest plot
    # starts. (No effect when the fork server is running already: it has.)
    ctx.set_forkserver_preload(["__main__", "gosim.analysis.plots", "seaborn"])
    return ctx


@contextmanager
def output_pool(jobs: int, tasks: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``min(jobs, tasks)`` processes (:func:`_context`) for ``tasks`` output
    jobs, or None (run them in the calling process) when that is one or when
    processes cannot be started here. On an exception (Ctrl-C included) the
    workers are stopped at once."""
    n = min(jobs, tasks)
    if n <= 1:
        yield None
        return
    others = set(multiprocessing.active_children())
    ctx = _context()
    try:
        pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_warm)
    except OSError:  # no semaphores here (a sandbox): this one draws
        yield None
        return
    try:
        if ctx.get_start_method() == "forkserver":
            # the server starts and imports the plotting modules while this
            # process builds the tables; the workers are forked from it at
            # the first plot (a submit now would wait for those imports)
            from multiprocessing import forkserver

            forkserver.ensure_running()
        else:
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
