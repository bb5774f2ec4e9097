"""``gosim sizeclasses``: print a preset's size-class table as the runtime does."""

from __future__ import annotations

import json

import typer

from gosim.errors import UnknownPresetError
from gosim.runtime.design import PRESETS as DESIGN_PRESETS
from gosim.runtime.sizeclasses import FORMATS, PRESETS, format_table, get_table

#: every name --preset takes: the tables, then the designs (each names its table)
PRESET_NAMES = tuple(dict.fromkeys([*PRESETS, *sorted(DESIGN_PRESETS)]))


def table_preset(name: str) -> str:
    """The size-class table of a table or design preset (go1.14 uses go1.12's)."""
    if name in PRESETS:
        return name
    if name in DESIGN_PRESETS:
        return DESIGN_PRESETS[name].sizeclasses
    raise UnknownPresetError(
        f"--preset: unknown size-class preset {name!r}; expected a table "
        f"({', '.join(PRESETS)}) or a design preset ({', '.join(sorted(DESIGN_PRESETS))})")


def sizeclasses(
    preset: str = typer.Option(
        "go1.27", "--preset",
        help=f"size-class table, or a design preset (its table): {' | '.join(PRESET_NAMES)}"),
    fmt: str = typer.Option("table", "--format", help=f"output format: {' | '.join(FORMATS)}"),
) -> None:
    """Print the size-class table generated for PRESET (class, bytes/obj, bytes/span,
    objects, tail waste, max waste[, min align]), as mksizeclasses.go writes it
    into sizeclasses.go; csv and json give one record per class."""
    table = get_table(table_preset(preset))
    text = format_table(table, fmt)  # GosimError on an unknown format -> exit 2
    if fmt == "json":  # numbers as JSON numbers ("87.50" -> 87.5)
        doc = json.loads(text)
        for c in doc["classes"]:
            c["max_waste_percent"] = float(c["max_waste_percent"])
        if preset != doc["preset"]:
            doc["design"] = preset
        text = json.dumps(doc, indent=2) + "\n"
    typer.echo(text, nl=False)


def register(app: typer.Typer) -> None:
    app.command("sizeclasses")(sizeclasses)
