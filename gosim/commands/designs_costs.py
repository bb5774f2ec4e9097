"""``gosim designs`` and ``gosim costs``: what a config can name."""

from __future__ import annotations

from dataclasses import fields

import typer
from rich.console import Console
from rich.table import Table

from gosim.runtime.design import PRESETS, Design
from gosim.sim.costs import COST_PARAMETERS


def designs() -> None:
    """List the design presets (design.preset) and their options
    (design.overrides keys)."""
    names = sorted(PRESETS)
    opts = [f.name for f in fields(Design) if f.name not in ("name",)]
    t = Table(title="design presets (override any option with design.overrides)")
    t.add_column("option")
    for n in names:
        t.add_column(n)
    for o in opts:
        vals = []
        for n in names:
            v = getattr(PRESETS[n], o)
            vals.append(", ".join(f"{k}={x}" for k, x in v) if o == "costs" else str(v))
        t.add_row(o, *vals)
    Console(width=200).print(t)


def costs() -> None:
    """List the cost-model parameters (costs.<name>) with default, unit and source."""
    t = Table(title="cost model (override with costs: {name: value or distribution})")
    for col in ("parameter", "default", "unit", "what", "source"):
        t.add_column(col, overflow="fold")
    for name in sorted(COST_PARAMETERS):
        p = COST_PARAMETERS[name]
        t.add_row(name, f"{p.default:g}", p.unit, p.help, p.source)
    Console(width=200).print(t)


def register(app: typer.Typer) -> None:
    app.command("designs")(designs)
    app.command("costs")(costs)
