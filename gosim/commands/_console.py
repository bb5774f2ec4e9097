"""Console output shared by the commands: tables printed whole, counts with
the right plural."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` whole: when its ``no_wrap`` columns (and the longest word
    of the others) need more than the terminal's width (or the 80 columns rich
    assumes for a pipe), print it that wide instead of truncating cells
    ("go1.27+page_…"); other columns wrap."""
    need = Measurement.get(console, console.options.update_width(100_000), table).minimum
    if need <= console.width:
        console.print(table)
        return
    wide = Console(file=console.file, width=need, force_terminal=console.is_terminal,
                   no_color=console.no_color, highlight=False)
    wide.print(table, crop=False)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 replication``, ``3 replications``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
