"""``gosim plot DIR``: redraw the plots of a results directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gosim.config import PLOT_NAMES
from gosim.errors import ConfigError


def plot(
    results_dir: Annotated[Path, typer.Argument(
        help="a results directory (results/<name>/)")],
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="redraw only this plot (repeatable; the others are kept): "
                       + " | ".join(PLOT_NAMES))] = None,
) -> None:
    """Redraw RESULTS_DIR/plots/*.png and report.md from its tables and manifest (no simulation)."""
    import json

    from gosim.analysis.compare import load_results
    from gosim.analysis.plots import draw_plots
    from gosim.analysis.report import write_report
    from gosim.runner.core import default_jobs
    from gosim.runner.outpool import output_pool
    from gosim.runner.writer import read_tables

    d = results_dir
    meta = load_results(d).meta  # CompareError (exit 2) unless a results directory
    which = list(PLOT_NAMES)
    if only:
        bad = [o for o in only if o not in PLOT_NAMES]
        if bad:
            raise ConfigError(f"--only: unknown plot {bad[0]!r}; expected one of "
                              f"{list(PLOT_NAMES)}")
        which = [p for p in PLOT_NAMES if p in only]
    tables = read_tables(d)
    with output_pool(default_jobs(), len(which)) as pool:  # one plot: this process
        written, notes = draw_plots(tables, meta, d / "plots", which, keep_others=bool(only),
                                    pool=pool)
    manifest_path = d / "manifest.json"
    sweep = None
    if manifest_path.is_file():
        sweep = json.loads(manifest_path.read_text()).get("experiment", {}).get("sweep")
    written.append(write_report(d, tables, meta, sweep))  # its plot links follow the plots
    for p in written:
        typer.echo(str(p))
    for n in notes:
        typer.echo(f"note: {n}")


def register(app: typer.Typer) -> None:
    app.command("plot")(plot)
