"""``gosim run [CONFIG]``: run an experiment and write ``results/<name>/``."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from gosim.commands._console import plural, print_table
from gosim.errors import ConfigError, GosimError

if TYPE_CHECKING:
    from rich.console import Console

    from gosim.config import Experiment
    from gosim.runner import ExperimentOutcome

DEFAULT_CONFIG = Path("configs") / "quickstart.yaml"


class RunsFailedError(GosimError):
    """Some runs raised: they are recorded in the results; exit status 1."""

    exit_code = 1


class InterruptedWritingError(GosimError):
    """Ctrl-C after the runs, while the results were being written."""

    exit_code = 130
    label = "interrupted"


def run(
    config: Annotated[Path | None, typer.Argument(
        help="experiment YAML (default: configs/quickstart.yaml in the current directory)",
        show_default=False)] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="results root: writes OUT/<experiment name>/")] = Path("results"),
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", help="runs in parallel (0 = every CPU)")] = 0,
    executor: Annotated[str | None, typer.Option(
        "--executor", help="local (process pool, default) | dask", show_default=False)] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler",
        help="Dask scheduler address, e.g. tcp://host:8786 (implies --executor dask; "
             "without it, dask starts a local cluster of --jobs workers)")] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="skip plots")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="validate the config, list its runs, count those cached and "
                          "estimate the time of the rest; run nothing")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="no progress bar or table")] = False,
) -> None:
    """Run an experiment: expand its sweep, run every run (skipping cached ones),
    write tables, manifest, summary and plots, and print a summary table.

    Ctrl-C stops the runs in flight and keeps the completed ones (a rerun
    resumes). Exit status: 0 all runs ok; 1 some runs failed (recorded in the
    results); 2 bad config, arguments or results directory (nothing written);
    130 interrupted."""
    from gosim.config import load_experiment

    if config is None:
        config = DEFAULT_CONFIG
        if not config.exists():
            raise ConfigError(f"no CONFIG given and {DEFAULT_CONFIG} does not exist in "
                              f"{Path.cwd()}; pass an experiment file")
    if executor is None:
        executor = "dask" if scheduler else "local"
    if executor not in ("local", "dask"):
        raise ConfigError(f"--executor: expected local or dask, got {executor!r}")
    if scheduler and executor != "dask":
        raise ConfigError("--scheduler needs --executor dask")
    if jobs < 0:
        raise ConfigError(f"--jobs: expected 0 (every CPU) or more, got {jobs}")
    exp = load_experiment(config)  # ConfigError -> exit 2, nothing written
    from gosim._native import stale_notice

    notice = stale_notice()
    if notice and not quiet:
        print(notice, file=sys.stderr)

    from rich.console import Console

    console = Console()
    if dry_run:
        from gosim.runner.core import check_results_dir

        check_results_dir(out / exp.name)  # as a real run would: exit 2 on a bad --out
        _print_dry_run(console, exp, out, jobs)
        return

    from gosim.runner import run_experiment

    try:
        with _announce_interrupt():
            outcome = run_experiment(exp, out_dir=out, jobs=jobs or None, executor=executor,
                                     scheduler=scheduler, progress=not quiet,
                                     plots=False if no_plots else None)
    except KeyboardInterrupt:  # after the runs, while writing (each file is atomic)
        raise InterruptedWritingError(
            f"while writing {out / exp.name}: every completed run is cached; run the same "
            "command again to rewrite the tables, summary and plots") from None
    if not quiet:
        _print_summary(console, outcome)
    if outcome.n_failed:
        first = outcome.failed[0][1].get("error")
        raise RunsFailedError(f"{outcome.n_failed} of {len(outcome.records)} runs failed "
                              f"(first: {first}); results written, see "
                              f"{outcome.results_dir / 'summary.md'}")


@contextmanager
def _announce_interrupt() -> Iterator[None]:
    """Say at once that Ctrl-C was seen (the runner then stops the runs in flight
    and writes what completed, which takes a moment); a second Ctrl-C is the
    ordinary KeyboardInterrupt."""
    def on_sigint(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # a new line first when a progress bar may be on the terminal's current one
        print(("\n" if sys.stderr.isatty() else "")
              + "gosim: interrupted: stopping the runs in flight, keeping the completed ones",
              file=sys.stderr, flush=True)
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _print_dry_run(console: Console, exp: Experiment, out: Path, jobs: int) -> None:
    from rich.table import Table

    from gosim.runner import default_jobs
    from gosim.runner.estimate import plan

    settings = {r.setting_id: r for r in exp.runs}
    console.print(f"[bold]{escape(exp.name)}[/]: {plural(len(exp.runs), 'run')} = "
                  f"{plural(len(settings), 'setting')} x "
                  f"{plural(exp.sweep.replications, 'replication')}")
    t = Table("setting", "swept values", "seeds")
    for col in t.columns:
        col.no_wrap = True
    for sid, r in settings.items():
        seeds = [x.seed for x in exp.runs if x.setting_id == sid]
        t.add_row(str(sid), escape(r.label()), ", ".join(str(s) for s in seeds[:3])
                  + (" ..." if len(seeds) > 3 else ""))
    print_table(console, t)
    results_dir = out / exp.name
    jobs = jobs or default_jobs()
    p = plan(exp, results_dir, jobs)
    console.print(f"cached in {escape(str(results_dir))}: {p.n_cached} of "
                  f"{plural(p.n_runs, 'run')}; to run: {plural(len(p.pending), 'run')}",
                  highlight=False, soft_wrap=True)
    if p.pending:
        est = "unknown" if p.estimate_s != p.estimate_s else _duration(p.estimate_s)
        console.print(f"estimated time with {plural(jobs, 'job')}: about {est} "
                      f"({escape(p.method)}; rough)", highlight=False, soft_wrap=True)


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def _print_summary(console: Console, outcome: ExperimentOutcome) -> None:
    from rich.table import Table

    from gosim.analysis.summary import scaling_lines, summary_table
    from gosim.runner.core import experiment_meta

    meta = experiment_meta(outcome.experiment)
    df = summary_table(outcome.tables, meta, compact=True)
    reps = outcome.experiment.sweep.replications
    if not df.empty:
        what = ("mean ± 95% CI over " + plural(reps, "replication") if reps > 1
                else "1 replication, no CI")
        t = Table(title=f"{escape(outcome.experiment.name)} ({what})")
        for c in df.columns:
            t.add_column(escape(str(c)), no_wrap=True,
                         justify="right" if c in ("P", "n") or "(" in str(c) else "left")
        for _, r in df.iterrows():
            t.add_row(*[escape(str(r[c])) for c in df.columns])
        print_table(console, t)
    for line in scaling_lines(outcome.tables, meta):
        console.print(f"  {escape(line)}", soft_wrap=True)
    for n in outcome.notes:
        console.print(f"  [dim]note: {escape(n)}[/]", soft_wrap=True)
    console.print(
        f"{plural(len(outcome.records), 'run')}: {outcome.n_ran} ran, {outcome.n_cached} "
        f"skipped (cached), {outcome.n_failed} failed; {outcome.wall_s:.1f} s. "
        f"Results in [bold]{escape(str(outcome.results_dir))}[/]", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
