"""The allocation flow of a run as a networkx DiGraph: GraphML per run and
``plots/flow.png``.

A run records its flow as edge rows (``gosim.sim.metrics.flow_edges``; the
``flow`` table, ``flow.parquet``): goroutine group ``G<i>:<name>`` -> ``P<p>``
(the P's mcache) -> ``mcentral[spc=N]`` -> ``mheap`` -> ``OS``, and
``P<p>`` -> ``mheap`` for large objects (mcache.go allocLarge). Edges point
from the level that asks to the level that supplies; ``requests`` and
``bytes`` go that way, ``returns`` and ``returned_bytes`` come back (uncacheSpan,
freeSpan). Each edge carries the totals of the lock its target takes (its row
in locks.parquet): the same on every edge into that node, so sum them per
node, not per edge.

The drawing keeps 136 span classes readable: classes without traffic are
collapsed into a count ("N idle span classes"), the busiest active classes
get a node each and the rest one "other classes" node; more than
:data:`MAX_PS_DRAWN` Ps are drawn as one "P caches" node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib import colors

# matplotlib is imported by the drawing only (plot_flow): the GraphML files
# are written by a process that draws nothing (gosim/runner/core.py)

#: the levels, left to right
LAYERS = ("goroutines", "mcache", "mcentral", "mheap", "os")
#: what an edge row carries besides its ends (GraphML edge attributes)
EDGE_FIELDS = ("requests", "bytes", "objects", "returns", "returned_bytes", "lock",
               "lock_acquisitions", "lock_contended", "lock_wait_ns", "lock_hold_ns")
#: the run's key columns kept as GraphML graph attributes
GRAPH_KEYS = ("run_id", "setting_id", "replication", "seed", "config_hash", "design",
              "gomaxprocs")
#: busiest span classes drawn as their own node; the rest are one "other" node
TOP_CLASSES = 8
MAX_PS_DRAWN = 4
MAX_GROUPS_DRAWN = 6


def node_layer(name: str) -> str:
    """The level a flow node belongs to, from its name."""
    if name.startswith("G"):
        return "goroutines"
    if name.startswith("P"):
        return "mcache"
    if name.startswith("mcentral"):
        return "mcentral"
    return "mheap" if name == "mheap" else "os"


def flow_graph(edges: Iterable[dict[str, Any]], **graph_attrs: Any) -> nx.DiGraph:
    """The DiGraph of a run's flow edge rows. Nodes carry ``layer``,
    ``span_class`` and ``elemsize`` (-1 and 0 outside mcentral) and, for the
    nodes that take a lock, ``lock`` and its totals."""
    G = nx.DiGraph(**{k: v for k, v in graph_attrs.items() if v is not None})
    for e in edges:
        src, dst = str(e["src"]), str(e["dst"])
        for n in (src, dst):
            if n not in G:
                G.add_node(n, layer=node_layer(n), span_class=-1, elemsize=0, lock="",
                           lock_acquisitions=0, lock_contended=0, lock_wait_ns=0,
                           lock_hold_ns=0)
        spc = int(e["span_class"])
        if spc >= 0:
            c = src if node_layer(src) == "mcentral" else dst
            G.nodes[c]["span_class"] = spc
            G.nodes[c]["elemsize"] = int(e["elemsize"])
        if e["lock"]:
            G.nodes[dst].update({k: e[k] for k in EDGE_FIELDS if k.startswith("lock")})
        G.add_edge(src, dst, **{k: (str(e[k]) if k == "lock" else int(e[k]))
                                for k in EDGE_FIELDS})
    return G


def run_graphs(flow: pd.DataFrame, runs: pd.DataFrame | None = None) -> dict[int, nx.DiGraph]:
    """One graph per run of the ``flow`` table; graph attributes: the run's key
    columns and, from ``runs``, ``span_classes`` and ``sim_time_ns``."""
    out: dict[int, nx.DiGraph] = {}
    if flow.empty:
        return out
    extra: dict[int, dict[str, Any]] = {}
    if runs is not None and not runs.empty:
        # (the columns read only: runs has ~170)
        cols = ["run_id", *(k for k in ("span_classes", "sim_time_ns") if k in runs.columns)]
        for r in runs[cols].to_dict("records"):
            extra[int(r["run_id"])] = {
                k: int(r[k]) for k in ("span_classes", "sim_time_ns")
                if k in r and r[k] is not None and not pd.isna(r[k])}
    # one conversion of the whole table (not one per run), grouped in row
    # order; of the columns that flow_graph and the graph attributes read
    read = {"run_id", *GRAPH_KEYS, "src", "dst", "span_class", "elemsize", *EDGE_FIELDS}
    by_run: dict[int, list[dict[str, Any]]] = {}
    for r in flow[[c for c in flow.columns if c in read]].to_dict("records"):
        by_run.setdefault(int(r["run_id"]), []).append(r)
    for rid in sorted(by_run):
        rows = by_run[rid]
        attrs = {k: _plain(rows[0][k]) for k in GRAPH_KEYS if k in flow.columns}
        attrs.update(extra.get(rid, {}))
        out[rid] = flow_graph(rows, **attrs)
    return out


def _plain(v: Any) -> Any:
    """A GraphML-friendly scalar (numpy scalars as Python values)."""
    item = getattr(v, "item", None)
    return item() if callable(item) else v


#: GraphML ``attr.type`` of a Python value, as networkx's writer names it
_GRAPHML_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}
_GRAPHML_HEAD = ("<?xml version='1.0' encoding='utf-8'?>\n"
                 '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
                 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                 'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
                 'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">')


def _xml_text(s: str) -> str:
    """Character data escaped as xml.etree.ElementTree escapes it."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_attr(s: str) -> str:
    """An attribute value escaped as xml.etree.ElementTree escapes it."""
    return (_xml_text(s).replace('"', "&quot;").replace("\r", "&#13;")
            .replace("\n", "&#10;").replace("\t", "&#09;"))


def graphml_text(G: nx.DiGraph) -> str | None:
    """What ``nx.write_graphml(G, path)`` writes (networkx's ElementTree
    writer, pretty-printed), character for character, built as text: that
    writer builds an element per node, edge and attribute and serialises the
    tree, about 5 ms a graph (1.7 s of ``gosim run configs/scaling.yaml``).
    None for what the flow graphs never hold (a multigraph, graph defaults or
    id, attribute types other than bool, int, float, str): networkx writes
    those (tests/test_flow.py checks the two agree)."""
    if G.is_multigraph() or any(k in G.graph for k in ("id", "node_default", "edge_default")):
        return None
    # the writer names keys d0, d1... in the order it meets them: the graph's
    # attributes, then each node's, then each edge's; (name, type, scope) is a key
    keys: dict[tuple[str, str, str], str] = {}

    def data(scope: str, attrs: dict[Any, Any], pad: str) -> list[str] | None:
        out = []
        for k, v in attrs.items():
            t = _GRAPHML_TYPES.get(type(v))
            if t is None:
                return None
            kid = keys.setdefault((str(k), t, scope), f"d{len(keys)}")
            text = _xml_text(str(v))
            out.append(f'{pad}<data key="{kid}">{text}</data>' if text
                       else f'{pad}<data key="{kid}" />')
        return out

    graph_data = data("graph", G.graph, "    ")
    body: list[str] = []
    parts: list[tuple[str, dict[Any, Any]]] = [
        (f'<node id="{_xml_attr(str(n))}"', d) for n, d in G.nodes(data=True)]
    parts += [(f'<edge source="{_xml_attr(str(u))}" target="{_xml_attr(str(v))}"', d)
              for u, v, d in G.edges(data=True)]
    for open_tag, attrs in parts:
        rows = data("node" if open_tag.startswith("<node") else "edge", attrs, "      ")
        if rows is None:
            return None
        tag = open_tag[1:5]
        body += ([f"    {open_tag}>", *rows, f"    </{tag}>"] if rows
                 else [f"    {open_tag} />"])
    if graph_data is None:
        return None
    body += graph_data
    edgedefault = "directed" if G.is_directed() else "undirected"
    key_rows = [f'  <key id="{kid}" for="{scope}" attr.name="{_xml_attr(name)}" '
                f'attr.type="{t}" />' for (name, t, scope), kid in reversed(keys.items())]
    graph = ([f'  <graph edgedefault="{edgedefault}">', *body, "  </graph>"] if body
             else [f'  <graph edgedefault="{edgedefault}" />'])
    return "\n".join([_GRAPHML_HEAD, *key_rows, *graph, "</graphml>", ""])


def write_graphml(G: nx.DiGraph, path: Path) -> None:
    """``nx.write_graphml(G, path)``, the same bytes (:func:`graphml_text`)."""
    text = graphml_text(G)
    if text is None:
        nx.write_graphml(G, path)
    else:
        path.write_bytes(text.encode("utf-8"))


# ---------------------------------------------------------------- drawing

def _label_bytes(n: float) -> str:
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return f"{int(n)} B"


def collapse(G: nx.DiGraph, top: int = TOP_CLASSES) -> tuple[nx.DiGraph, dict[str, str], int]:
    """The graph as drawn: Ps merged when more than :data:`MAX_PS_DRAWN`,
    goroutine groups past :data:`MAX_GROUPS_DRAWN` merged, the ``top`` busiest
    span classes (by bytes into and out of them) kept and the others merged
    into one node. Returns the graph, each node's label and how many active
    classes were merged."""
    ps = sorted((n for n, d in G.nodes(data=True) if d["layer"] == "mcache"),
                key=lambda n: int(n[1:]))
    groups = sorted(n for n, d in G.nodes(data=True) if d["layer"] == "goroutines")
    classes = [n for n, d in G.nodes(data=True) if d["layer"] == "mcentral"]

    def through(n: str) -> int:
        return sum(d["bytes"] for *_, d in G.in_edges(n, data=True)) + \
            sum(d["bytes"] for *_, d in G.out_edges(n, data=True))

    classes.sort(key=lambda n: (-through(n), G.nodes[n]["span_class"]))
    kept = set(classes[:top])
    merged_classes = len(classes) - len(kept)
    other = f"other {merged_classes} classes"
    pnode = f"P caches ({len(ps)} Ps)"
    gother = f"other {len(groups) - MAX_GROUPS_DRAWN + 1} groups"
    keep_groups = set(groups if len(groups) <= MAX_GROUPS_DRAWN else
                      groups[:MAX_GROUPS_DRAWN - 1])

    def target(n: str) -> str:
        layer = G.nodes[n]["layer"]
        if layer == "mcache" and len(ps) > MAX_PS_DRAWN:
            return pnode
        if layer == "mcentral" and n not in kept:
            return other
        if layer == "goroutines" and n not in keep_groups:
            return gother
        return n

    H = nx.DiGraph()
    labels: dict[str, str] = {}
    for n, d in G.nodes(data=True):
        t = target(n)
        if t not in H:
            H.add_node(t, layer=d["layer"], lock_wait_ns=0, locked=False,
                       span_class=d["span_class"])
        if t == n:
            if d["layer"] == "mcentral":
                spc = d["span_class"]
                labels[t] = f"spc {spc}\n{d['elemsize']} B {'noscan' if spc & 1 else 'scan'}"
            elif d["layer"] == "goroutines":
                labels[t] = n.split(":", 1)[1] if ":" in n else n
            else:
                labels[t] = n
        else:
            labels[t] = t
        # a merged node waits as long as its locks together
        H.nodes[t]["lock_wait_ns"] += d["lock_wait_ns"]
        H.nodes[t]["locked"] |= bool(d["lock"])
    for u, v, d in G.edges(data=True):
        a, b = target(u), target(v)
        if H.has_edge(a, b):
            e = H.edges[a, b]
            e["bytes"] += d["bytes"]
            e["requests"] += d["requests"]
        else:
            H.add_edge(a, b, bytes=d["bytes"], requests=d["requests"])
    for _a, b, e in H.edges(data=True):
        e["lock_wait_ns"] = H.nodes[b]["lock_wait_ns"]
    return H, labels, merged_classes


def _layout(H: nx.DiGraph) -> dict[str, tuple[float, float]]:
    pos = {}
    for x, layer in enumerate(LAYERS):
        nodes = [n for n, d in H.nodes(data=True) if d["layer"] == layer]
        nodes.sort(key=lambda n: (n.startswith("other"), H.nodes[n]["span_class"], n))
        for i, n in enumerate(nodes):
            pos[n] = (float(x), -(i - (len(nodes) - 1) / 2))
    return pos


def draw_flow_graph(ax: Any, G: nx.DiGraph, title: str, wait_norm: colors.Normalize,
                    cmap: Any, denom_ns: int) -> None:
    """Draw one run's flow: edge width by bytes, colour by the target lock's
    wait as a share of the run's P time (``denom_ns``), grey without a lock;
    each node labelled with the bytes that flow into it; large objects'
    P -> mheap edges dashed."""
    H, labels, merged = collapse(G)
    pos = _layout(H)
    max_b = max((d["bytes"] for *_, d in H.edges(data=True)), default=0) or 1
    # a large object skips mcentral (P -> mheap): drawn as an arc around it
    for arc, rad in ((False, 0.05), (True, 0.35)):
        es = [(u, v, d) for u, v, d in H.edges(data=True)
              if (H.nodes[u]["layer"] == "mcache" and v == "mheap") == arc]
        if not es:
            continue
        nx.draw_networkx_edges(
            H, pos, ax=ax, edgelist=[(u, v) for u, v, _ in es],
            width=[0.6 + 7.0 * float(np.sqrt(d["bytes"] / max_b)) for *_, d in es],
            edge_color=[cmap(wait_norm(d["lock_wait_ns"] / denom_ns))
                        if H.nodes[v]["locked"] and denom_ns else "#bbbbbb"
                        for _u, v, d in es],
            style="dashed" if arc else "solid", arrows=True, arrowsize=10, node_size=1300,
            connectionstyle=f"arc3,rad={rad}")
    nx.draw_networkx_nodes(H, pos, ax=ax, node_size=1300, node_color="#f2f2f2",
                           edgecolors="#555555", linewidths=0.8)
    text = {}
    for n, lab in labels.items():
        inflow = sum(d["bytes"] for *_, d in H.in_edges(n, data=True))
        text[n] = f"{lab}\n{_label_bytes(inflow)}" if inflow else lab
    nx.draw_networkx_labels(H, pos, labels=text, ax=ax, font_size=7)
    idle = int(G.graph.get("span_classes", 0)) - sum(
        1 for _n, d in G.nodes(data=True) if d["layer"] == "mcentral")
    sub = []
    if idle > 0:
        sub.append(f"{idle} idle span classes not shown")
    if merged:
        sub.append(f"{merged} active classes merged")
    ax.set_title(title + ("\n" + "; ".join(sub) if sub else ""), fontsize=9)
    ax.set_xticks(range(len(LAYERS)))
    ax.set_xticklabels(["goroutines", "P caches", "mcentral", "mheap", "OS"])
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_xlim(-0.5, len(LAYERS) - 0.5)
    ys = [y for _x, y in pos.values()]
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)


def plot_flow(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> Any:
    """``flow.png``: per design (and facet), the flow of the run with the most
    Ps (its first replication)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colors, ticker

    flow = tables.get("flow", pd.DataFrame())
    runs = tables.get("runs", pd.DataFrame())
    if flow.empty:
        return "no flow recorded (no run succeeded, or the tables predate flow recording)"
    rows = runs[runs["run_id"].isin(flow["run_id"].unique())].sort_values("run_id")
    facets = [k for k in meta.get("facet_keys", []) if k in rows.columns]
    picks = []
    for _, g in rows.groupby(["design", *facets], sort=False, dropna=False):
        best = g[g["gomaxprocs"] == g["gomaxprocs"].max()].iloc[0]
        title = f"{best['design']}, GOMAXPROCS={best['gomaxprocs']}"
        if facets:
            title += ", " + ", ".join(f"{k.rsplit('.', 1)[-1]}={best[k]}" for k in facets)
        picks.append((int(best["run_id"]), title,
                      int(best["sim_time_ns"]) * int(best["gomaxprocs"])))
    # the graphs of the runs drawn only (a run's graph depends on its rows alone)
    graphs = run_graphs(flow[flow["run_id"].isin([rid for rid, _t, _d in picks])], runs)
    shares = [d["lock_wait_ns"] / den for rid, _t, den in picks if den
              for *_, d in graphs[rid].edges(data=True)]
    vmax = max([0.01, *shares])
    norm = colors.Normalize(0.0, vmax)
    cmap = plt.get_cmap("YlOrRd")
    ncols = min(2, len(picks))
    nrows = -(-len(picks) // ncols)
    # as tall as the fullest column needs (a node per 0.75 in)
    tallest = max(max(Counter(d["layer"] for _n, d in collapse(graphs[rid])[0].nodes(
        data=True)).values()) for rid, _t, _d in picks)
    fig, axes = plt.subplots(nrows, ncols, figsize=(8.0 * ncols, (1.5 + 0.75 * tallest) * nrows),
                             squeeze=False)
    flat = list(axes.flat)
    for ax, (rid, title, den) in zip(flat, picks, strict=False):
        draw_flow_graph(ax, graphs[rid], title, norm, cmap, den)
    for ax in flat[len(picks):]:
        ax.set_visible(False)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, ax=flat[:len(picks)], shrink=min(0.6, 3.0 / nrows), pad=0.02)
    cb.set_label("edge colour: share of P time waiting on the target's lock")
    cb.ax.yaxis.set_major_formatter(ticker.PercentFormatter(1.0))
    fig.suptitle("Allocation flow (edge width: bytes)", fontsize=11)
    return fig
