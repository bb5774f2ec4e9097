"""``gosim sizeclasses``: print a preset's size-class table as the runtime does."""

from __future__ import annotations

import typer

from gosim.runtime.sizeclasses import PRESETS, format_table, get_table


def sizeclasses(
    preset: str = typer.Option(
        "go1.27", "--preset", help=f"size-class preset: {' | '.join(PRESETS)}"
    ),
    fmt: str = typer.Option("table", "--format", help="output format: table | csv | json"),
) -> None:
    """Print the size-class table generated for PRESET (class, bytes/obj, bytes/span,
    objects, tail waste, max waste[, min align])."""
    table = get_table(preset)  # UnknownPresetError -> exit 2 via gosim.cli.main
    typer.echo(format_table(table, fmt), nl=False)  # GosimError on unknown format


def register(app: typer.Typer) -> None:
    app.command("sizeclasses")(sizeclasses)
