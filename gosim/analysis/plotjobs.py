"""Which plots of an experiment to draw, into which files, and in which
process: the orchestration of gosim.analysis.plots without its imports.

Drawing needs matplotlib and networkx (and seaborn for the lock heatmap),
half a second to import, a second with seaborn. With an output pool
(gosim/runner/outpool.py) only its workers draw, so the process that hands
out the plots imports none of that: this module needs pandas alone, and
gosim.analysis.plots is imported here only to draw in this process. :func:`start_plots` hands the plots out and returns at once, so that
the caller can write the tables while they are drawn; :func:`draw_plots` is
both steps at once.
"""

from __future__ import annotations

import sys
from concurrent.futures import Executor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pandas as pd

PLOT_FILES = {"scaling": "scaling.png", "p_time": "p_time.png",
              "lock_heatmap": "lock_heatmap.png", "latency_ecdf": "latency_ecdf.png",
              "flow": "flow.png", "timeseries": "timeseries.png"}
#: the tables each plot reads (what an output pool's worker is sent)
PLOT_TABLES = {"scaling": ("runs",), "p_time": ("p_time", "runs"),
               "lock_heatmap": ("locks", "runs"), "latency_ecdf": ("latency", "runs"),
               "flow": ("flow", "runs"), "timeseries": ("timeseries", "runs")}
#: the columns a plot reads, for the tables too large to send whole to a worker
#: (besides the facet keys): latency_ecdf gets 6 of the 14 columns of 1.3M
#: latency rows on configs/scaling.yaml (pickled, 190 MB, in the parent's
#: time, while it writes the tables, then unpickled)
PLOT_COLUMNS = {"latency_ecdf": {"latency": ("setting_id", "design", "gomaxprocs", "lo_ns",
                                             "hi_ns", "count")}}
#: the plots by how long they take to draw, longest first (on configs/scaling.yaml:
#: lock_heatmap ~2 s with its import of seaborn, latency_ecdf ~1.3 s, flow and
#: p_time ~0.7 s, scaling ~0.6 s with its import of scipy.special)
PLOT_ORDER = ["lock_heatmap", "latency_ecdf", "flow", "timeseries", "p_time", "scaling"]


def plots_to_draw(which: list[str], tables: dict[str, pd.DataFrame]) -> list[str]:
    """The plots ``which`` asks for, in :data:`PLOT_FILES` order. When
    ``which`` asks for every plot of the experiment schema (``outputs.plots:
    true``), ``timeseries`` is drawn exactly when the tables have a time
    series (whether or not the schema lists it)."""
    from gosim.config import PLOT_NAMES

    out = [w for w in PLOT_FILES if w in which]
    has_series = not tables.get("timeseries", pd.DataFrame()).empty
    every = set(PLOT_NAMES) <= set(which)
    if every and has_series and "timeseries" not in out:
        out.append("timeseries")
    if every and not has_series and "timeseries" in out:
        out.remove("timeseries")  # "every plot" asks for no note on a series not sampled
    return out


def draw_plot(name: str, tables: dict[str, pd.DataFrame], meta: dict[str, Any],
              path: Path) -> str | None:
    """gosim.analysis.plots.draw_plot, imported where it runs (an output pool's
    worker, or this process when there is no pool)."""
    from gosim.analysis.plots import draw_plot as draw

    return draw(name, tables, meta, path)


def _plot_tables(name: str, tables: dict[str, pd.DataFrame], meta: dict[str, Any],
                 to_worker: bool) -> dict[str, pd.DataFrame]:
    """The tables plot ``name`` reads (:data:`PLOT_TABLES`); for a worker, only
    the columns it reads of those in :data:`PLOT_COLUMNS`."""
    from gosim.analysis.tables import facet_keys

    out = {t: tables[t] for t in PLOT_TABLES[name] if t in tables}
    for t, cols in PLOT_COLUMNS.get(name, {}).items() if to_worker else ():
        df = out.get(t)
        if df is not None and not df.empty:
            keep = [*cols, *(k for k in facet_keys(meta) if k not in cols)]
            out[t] = df[[c for c in df.columns if c in keep]]
    return out


class PendingPlots:
    """Plots handed out by :func:`start_plots`, drawn into a temporary
    directory. :meth:`finish` waits for them and swaps that directory into
    place; leaving the ``with`` block without finishing (an exception) removes
    it, and the old plots stay."""

    def __init__(self, plots_dir: Path, notes: list[str], which: list[str] | None = None,
                 pool: Executor | None = None) -> None:
        self.plots_dir, self.notes, self.which, self.pool = plots_dir, notes, which or [], pool
        #: per plot: its note (drawn here) or the future of its note (pool)
        self.results: dict[str, Any] = {}
        self.stack = ExitStack()  # holds the temporary directory until finish()

    def __enter__(self) -> PendingPlots:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stack.__exit__(*exc)

    def finish(self) -> tuple[list[Path], list[str]]:
        """The files written and notes on plots skipped (see :func:`draw_plots`)."""
        written: list[str] = []
        with self.stack:  # the new directory replaces the old one on success only
            for name in self.which:
                if self.pool is None:
                    note = self.results[name]
                else:
                    try:
                        note = self.results[name].result()
                    except Exception as e:  # the worker died (killed, out of memory)
                        note = f"plot failed ({type(e).__name__}: {e})"
                if note is None:
                    written.append(PLOT_FILES[name])
                else:
                    self.notes.append(f"{name}: {note}")
        if "matplotlib.pyplot" in sys.modules:  # drawn here: drop any figure left open
            sys.modules["matplotlib.pyplot"].close("all")
        return [self.plots_dir / w for w in written], self.notes


def start_plots(tables: dict[str, pd.DataFrame], meta: dict[str, Any], plots_dir: Path,
                which: list[str], keep_others: bool = False,
                pool: Executor | None = None) -> PendingPlots:
    """Start drawing the plots of :func:`draw_plots`: handed to ``pool``'s
    workers, the costliest first, or drawn here and now without a pool. Use
    the result as a context manager and call its ``finish()`` inside."""
    from gosim.analysis.tables import ok_runs
    from gosim.atomic_write import atomic_dir

    runs = tables.get("runs", pd.DataFrame())
    if not which:
        if plots_dir.exists():
            import shutil

            shutil.rmtree(plots_dir)
        return PendingPlots(plots_dir, ["plots: not drawn (turned off)"])
    which = plots_to_draw(which, tables)
    if runs.empty or ok_runs(runs).empty:
        return PendingPlots(plots_dir, ["plots: skipped, no run succeeded"])
    pending = PendingPlots(plots_dir, [], which, pool)
    with ExitStack() as stack:  # on an exception here, the temporary directory goes
        tmp = stack.enter_context(atomic_dir(plots_dir))
        if keep_others and plots_dir.is_dir():
            import shutil

            for f in plots_dir.iterdir():
                if f.is_file() and f.name not in {PLOT_FILES[w] for w in which}:
                    shutil.copy2(f, tmp / f.name)
        # the costliest first, so that a pool's workers finish together
        for name in sorted(which, key=PLOT_ORDER.index):
            args = (name, _plot_tables(name, tables, meta, pool is not None), meta,
                    tmp / PLOT_FILES[name])
            pending.results[name] = (pool.submit(draw_plot, *args) if pool is not None
                                     else draw_plot(*args))
        pending.stack = stack.pop_all()  # kept open for finish()
    return pending


def draw_plots(tables: dict[str, pd.DataFrame], meta: dict[str, Any], plots_dir: Path,
               which: list[str], keep_others: bool = False,
               pool: Executor | None = None) -> tuple[list[Path], list[str]]:
    """Draw the plots named in ``which`` into ``plots_dir`` (replaced atomically).

    ``timeseries.png`` is drawn when ``which`` names it, and also when
    ``which`` asks for every plot of the experiment schema and the tables
    have a time series. Returns the files written and notes on plots skipped.
    Other files in an old ``plots_dir`` are dropped (they would not match the
    new results) unless ``keep_others``; with nothing to draw, an old
    ``plots_dir`` is removed. With a ``pool`` (gosim/runner/outpool.py) the
    plots are drawn in its workers, each given the tables it reads
    (:data:`PLOT_TABLES`); the files are the same.
    """
    with start_plots(tables, meta, plots_dir, which, keep_others, pool) as pending:
        return pending.finish()
