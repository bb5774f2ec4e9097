"""``gosim designs`` and ``gosim costs``: what a config can name."""

from __future__ import annotations

import typing
from dataclasses import fields

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gosim.commands._console import print_table
from gosim.runtime.design import PRESETS, Design, option_docs
from gosim.runtime.sizeclasses import PRESETS as TABLE_PRESETS
from gosim.sim.costs import COST_PARAMETERS, SOURCES


def option_values(name: str) -> str:
    """The values an override of option ``name`` takes, from its type."""
    hint = typing.get_type_hints(Design)[name]
    if name == "sizeclasses":
        return " | ".join(TABLE_PRESETS)
    if typing.get_origin(hint) is typing.Literal:
        return " | ".join(str(a) for a in typing.get_args(hint))
    if hint is bool:
        return "true | false"
    if hint is int:
        return "integer" + (" (bytes)" if name.endswith("_bytes") else
                            " (pages)" if name.endswith("_pages") else
                            " (objects)" if name.endswith("_objects") else "")
    return getattr(hint, "__name__", str(hint))


def _yaml(v: object) -> str:
    """A value as an override spells it in YAML."""
    return str(v).lower() if isinstance(v, bool) else str(v)


def designs() -> None:
    """List the design presets (design.preset) and every option an override
    (design.overrides: {option: value}) can flip: what it means, the values it
    takes, and its value in each preset."""
    console = Console()
    docs = option_docs()
    names = list(PRESETS)
    opts = [f.name for f in fields(Design) if f.name not in ("name", "costs")]
    about = Table(title="design options (set any of them with design.overrides)")
    about.add_column("option", no_wrap=True)
    about.add_column("values", no_wrap=True)
    about.add_column("meaning", min_width=40)
    for o in opts:
        about.add_row(o, escape(option_values(o)), escape(docs.get(o, "")))
    print_table(console, about)
    t = Table(title="design presets (design.preset)")
    t.add_column("option", no_wrap=True)
    for n in names:
        t.add_column(n, no_wrap=True)
    for o in opts:
        t.add_row(o, *[escape(_yaml(getattr(PRESETS[n], o))) for n in names])
    t.add_row("costs", *[escape(", ".join(f"{k}={x}" for k, x in PRESETS[n].costs) or "-")
                         for n in names])
    print_table(console, t)


def costs() -> None:
    """List the cost-model parameters (costs.<name>) with default, unit and source."""
    t = Table(title="cost model (override with costs: {name: value or distribution})")
    for col in ("parameter", "default", "unit"):
        t.add_column(col, no_wrap=True)
    for col in ("what", "source"):
        t.add_column(col, min_width=30)
    for name in sorted(COST_PARAMETERS):
        p = COST_PARAMETERS[name]
        t.add_row(name, f"{p.default:g}", p.unit, escape(p.help), escape(p.source))
    console = Console()
    print_table(console, t)
    legend = Table(title="sources")
    legend.add_column("abbreviation", no_wrap=True)
    legend.add_column("stands for", min_width=40, overflow="fold")
    for abbr, meaning in SOURCES.items():
        legend.add_row(escape(abbr), escape(meaning))
    print_table(console, legend)


def register(app: typer.Typer) -> None:
    app.command("designs")(designs)
    app.command("costs")(costs)
