"""``gosim locks DESIGN``: the design's lock order (ranks and edges), drawn
with ``--out FILE.png``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import networkx as nx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gosim.commands._console import print_table
from gosim.errors import ConfigError

_SPC = re.compile(r"spc=\d+")


def _locks_cell(ranking: nx.DiGraph, rank_name: str) -> str:
    """``mheap`` or ``mcentral[spc=2..135] (134 locks)``."""
    names = [n for n, d in ranking.nodes(data=True) if d["rank_name"] == rank_name]
    if len(names) == 1:
        return names[0]
    spcs = sorted(ranking.nodes[n]["span_class"] for n in names)
    return _SPC.sub(f"spc={spcs[0]}..{spcs[-1]}", names[0], count=1) + f" ({len(names)} locks)"


def draw(ranks: nx.DiGraph, ranking: nx.DiGraph, out: Path) -> None:
    """Draw the rank graph: one box per rank, left to right by rank, an arrow
    from a lock that may be held to the lock that may then be acquired."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gosim.atomic_write import write_with

    order = sorted(ranks.nodes, key=lambda n: ranks.nodes[n]["rank"])
    fig, ax = plt.subplots(figsize=(3.0 * max(len(order), 2), 2.6))
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_ylim(-1, 1)
    ax.axis("off")
    boxes = {}
    for i, n in enumerate(order):
        d = ranks.nodes[n]
        boxes[n] = ax.text(i, 0, f"{d['rank']}. {n}\n{d['go_rank'] or '(not a Go rank)'}\n"
                           f"{_locks_cell(ranking, n)}", ha="center", va="center", fontsize=8,
                           bbox={"boxstyle": "round,pad=0.5", "fc": "#e8f0fa", "ec": "#335"})
    fig.canvas.draw()  # lay the boxes out so the arrows can end at their edges
    for a, b in ranks.edges:
        gap = order.index(b) - order.index(a)
        ax.annotate("", xy=(0.5, 0.5), xycoords=boxes[b], xytext=(0.5, 0.5),
                    textcoords=boxes[a],
                    arrowprops={"arrowstyle": "-|>", "color": "#444", "lw": 1.2,
                                "connectionstyle": f"arc3,rad={-0.35 if abs(gap) > 1 else 0}",
                                "patchA": boxes[a].get_bbox_patch(),
                                "patchB": boxes[b].get_bbox_patch()})
    title = f"lock order of design {ranks.graph['design']}: A -> B: B may be acquired while A is held"
    if not ranks.number_of_edges():
        title += "\n(no edges: no lock may be acquired while another is held)"
    ax.set_title(title, fontsize=9)
    write_with(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def locks(
    design: Annotated[str, typer.Argument(help="a design preset (`gosim designs`)")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="also draw the order into this .png file")] = None,
) -> None:
    """Print the lock order of DESIGN: each rank (the Go lockrank.go constant
    where the lock exists in Go, the locks of the model that have it) and the
    edges (which lock may be acquired while which is held), as the run-time
    check (`check_lock_order: true`) enforces it."""
    from gosim.runtime.design import get_design
    from gosim.runtime.lockrank import NOT_MODELLED, lock_ranking, rank_graph

    d = get_design(design)  # UnknownPresetError -> exit 2
    if out is not None and (out.suffix.lower() != ".png" or out.is_dir()):
        raise ConfigError(f"--out {out}: expected a .png file to write")
    if out is not None:
        from gosim.runner.core import check_results_dir

        check_results_dir(out.parent)  # exit 2, nothing written
    ranking = lock_ranking(d)
    ranks = rank_graph(ranking)
    console = Console()
    t = Table(title=f"lock ranks of design {d.name} (lower rank first)")
    t.add_column("rank", justify="right", no_wrap=True)
    t.add_column("name", no_wrap=True)
    t.add_column("Go rank", no_wrap=True)
    t.add_column("locks (as in locks.parquet)", no_wrap=True)
    t.add_column("source")
    for n, a in sorted(ranks.nodes(data=True), key=lambda x: x[1]["rank"]):
        t.add_row(str(a["rank"]), n, a["go_rank"] or "-", escape(_locks_cell(ranking, n)),
                  escape(a["source"]))
    print_table(console, t)
    e = Table(title="edges: the lock on the right may be acquired while the left one is held")
    e.add_column("held", no_wrap=True)
    e.add_column("may acquire", no_wrap=True)
    e.add_column("lock pairs", justify="right", no_wrap=True)
    for a, b in sorted(ranks.edges, key=lambda x: (ranks.nodes[x[0]]["rank"],
                                                   ranks.nodes[x[1]]["rank"])):
        pairs = sum(1 for x, y in ranking.edges if ranking.nodes[x]["rank_name"] == a
                    and ranking.nodes[y]["rank_name"] == b)
        e.add_row(a, b, str(pairs))
    if ranks.number_of_edges():
        print_table(console, e)
    else:
        console.print("edges: none (no lock may be acquired while another is held)")
    console.print("not modelled (no such lock in gosim yet): " + "; ".join(
        f"{r} ({why})" for r, why in NOT_MODELLED), highlight=False)
    if out is not None:
        draw(ranks, ranking, out)
        console.print(f"wrote {out}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("locks")(locks)
