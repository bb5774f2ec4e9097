"""Console output shared by the commands: tables printed whole, counts with
the right plural."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

#: the width a wrapping column is given when the table must be widened
WRAP_WIDTH = 30


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` whole: when its ``no_wrap`` columns at full width and the
    others at their ``min_width`` (else ``WRAP_WIDTH``) need more than the
    terminal's width (or the 80 columns rich assumes for a pipe), print it that
    wide instead of truncating cells ("go1.27+page_…"); other columns wrap."""
    saved = [c.max_width for c in table.columns]
    for c in table.columns:
        if not c.no_wrap:
            c.max_width = c.min_width or WRAP_WIDTH
    try:
        need = Measurement.get(console, console.options.update_width(100_000),
                               table).maximum
    finally:
        for c, w in zip(table.columns, saved, strict=True):
            c.max_width = w
    if need <= console.width:
        console.print(table)
        return
    wide = Console(file=console.file, width=need, force_terminal=console.is_terminal,
                   no_color=console.no_color, highlight=False)
    wide.print(table, crop=False)


def plural(n: int, word: str) -> str:
    """``1 replication``, ``3 replications``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
