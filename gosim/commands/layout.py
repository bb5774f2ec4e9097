"""``gosim layout``: print a preset's heap address-space layout."""

from __future__ import annotations

import typer

from gosim.runtime.arena import LAYOUT_PRESETS, format_layout


def layout(
    preset: str = typer.Option(
        "go1.27", "--preset",
        help=f"layout preset: {' | '.join(LAYOUT_PRESETS)} (go1.10 = go1.12, the seed's layout)",
    ),
) -> None:
    """Print the heap address-space layout of PRESET: the seed's contiguous arena
    (go1.12) or today's sparse 64 MiB heap arenas (go1.27)."""
    typer.echo(format_layout(preset), nl=False)  # UnknownPresetError -> exit 2


def register(app: typer.Typer) -> None:
    app.command("layout")(layout)
