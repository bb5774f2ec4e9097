"""The allocation flow: exact edges of hand-computable runs, conservation against
the runtime's own state, batched = step, GraphML round trip, the drawn figure."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import networkx as nx
import pandas as pd
import pytest

from gosim.analysis.flow import TOP_CLASSES, flow_graph, graphml_text, plot_flow
from gosim.config import parse_experiment
from gosim.runner import run_experiment
from gosim.runtime.arena import PAGE_SIZE
from gosim.scenario import Scenario
from gosim.sim import simulate
from gosim.sim.engine import Simulation

MiB = 1 << 20


def _one(design: str, n: int, size: int = 48, mode: str = "batched") -> Scenario:
    return Scenario.model_validate({
        "design": design, "gomaxprocs": 1, "mode": mode,
        "workload": {"groups": [{"name": "w", "count": 1, "allocations": n, "size": size}]}})


def _edges(res) -> dict[tuple[str, str], dict]:
    return {(e["src"], e["dst"]): e for e in res.flow}


@pytest.mark.parametrize("mode", ["batched", "step"])
def test_go127_one_goroutine_exact_edges(mode: str) -> None:
    # 48 B pointer-free -> span class 11; Green Tea's inline mark bits leave
    # (8192 - 128) // 48 = 168 objects per one-page span. 850 = 5 x 168 + 10:
    # 6 refills, each a fresh span; the 5 spans exhausted are uncached.
    res = simulate(_one("go1.27", 850, mode=mode))
    e = _edges(res)
    assert list(e) == [("G0:w", "P0"), ("P0", "mcentral[spc=11]"),
                       ("mcentral[spc=11]", "mheap"), ("mheap", "OS")]
    g = e["G0:w", "P0"]
    assert (g["requests"], g["bytes"], g["lock"]) == (850, 850 * 48, "")
    c = e["P0", "mcentral[spc=11]"]
    assert (c["requests"], c["objects"], c["bytes"], c["returns"]) == (6, 6 * 168, 6 * 168 * 48, 5)
    # the span set: 6 cacheSpan pops + 5 uncacheSpan pushes, uncontended
    assert (c["lock"], c["lock_acquisitions"], c["lock_wait_ns"]) == (
        "mcentral[spc=11].spanset", 11, 0)
    h = e["mcentral[spc=11]", "mheap"]
    assert (h["requests"], h["bytes"], h["returns"]) == (6, 6 * PAGE_SIZE, 0)
    # mheap.lock: span 1 finds the page cache empty and no free page (1), takes
    # the locked path, grows and refills the mspan cache (2); span 2 refills the
    # page cache with the rest of the 64-page block (3); spans 3-6 take neither
    assert (h["lock"], h["lock_acquisitions"]) == ("mheap", 3)
    o = e["mheap", "OS"]
    assert (o["requests"], o["bytes"]) == (1, 4 * MiB)  # one 512-page palloc chunk


def test_go112_locked_mcentral_exact_edges() -> None:
    # seed table (8, 16, 32, 48, ...): 48 B is size class 4, pointer-free span
    # class 9; 8192 // 48 = 170 objects per span; 683 = 4 x 170 + 3: 5 spans
    res = simulate(_one("go1.12", 683, size=48))
    e = _edges(res)
    assert list(e) == [("G0:w", "P0"), ("P0", "mcentral[spc=9]"),
                       ("mcentral[spc=9]", "mheap"), ("mheap", "OS")]
    c = e["P0", "mcentral[spc=9]"]
    assert (c["requests"], c["objects"], c["returns"]) == (5, 5 * 170, 4)
    # cacheSpan locks, finds no span, unlocks to grow and relocks: 2 per span;
    # a refill leaves the full span on the 'empty' list without the lock
    assert (c["lock"], c["lock_acquisitions"]) == ("mcentral[spc=9]", 10)
    h = e["mcentral[spc=9]", "mheap"]
    assert (h["requests"], h["bytes"], h["lock_acquisitions"]) == (5, 5 * PAGE_SIZE, 5)
    o = e["mheap", "OS"]
    assert (o["requests"], o["bytes"]) == (1, 64 * MiB)  # one whole arena


def test_edge_lock_totals_are_the_lock_rows() -> None:
    res = simulate(_scenario("go1.12", duration_ns=300_000))
    rows = {r["lock"]: r for r in res.locks}
    G = flow_graph(res.flow)
    seen = set()
    for _u, v, d in G.edges(data=True):
        if d["lock"]:
            r = rows[d["lock"]]
            assert (d["lock_acquisitions"], d["lock_wait_ns"]) == (
                r["acquisitions"], r["wait_total_ns"])
            assert G.nodes[v]["lock_wait_ns"] == r["wait_total_ns"]
            seen.add(d["lock"])
    assert "mheap" in seen and sum(1 for x in seen if x.startswith("mcentral")) >= 3
    assert rows["mheap"]["contended"] > 0  # a contended run, not a trivial one


def _scenario(design: str, **kw) -> Scenario:
    spec = {
        "design": design, "gomaxprocs": 3, "time_slice_ns": 50_000,
        # the allocator's flow: with the collector on, sweeps and cache flushes
        # return objects and spans, terms these conservation laws do not have
        "gc": {"enabled": False},
        "workload": {"groups": [
            {"name": "mixed", "count": 3, "allocations": 3000,
             "size": {"dist": "choice", "values": [0, 8, 12, 48, 1024, 40000],
                      "weights": [1, 3, 2, 5, 2, 0.1]},
             "pointer_free_fraction": 0.6, "work_ns": {"dist": "exponential", "mean": 40}},
            {"name": "fixed", "count": 2, "allocations": 4000, "size": 48}]},
    }
    if "duration_ns" in kw:
        for g in spec["workload"]["groups"]:
            g["allocations"] = None
    spec.update(kw)
    return Scenario.model_validate(spec)


@pytest.mark.parametrize("design", ["go1.12", "go1.14", "go1.27", "tcmalloc", "global-lock"])
@pytest.mark.parametrize("duration_ns", [None, 250_000])
def test_flow_conservation_against_runtime_state(design: str, duration_ns: int | None) -> None:
    kw = {} if duration_ns is None else {"duration_ns": duration_ns}
    sim = Simulation(_scenario(design, **kw))
    res = sim.run()
    rt, st = sim.rt, sim.rt.stats
    edges = res.flow
    ins = [e for e in edges if e["src"].startswith("G")]
    # into the caches: every malloc and the bytes MemStats charges
    assert sum(e["requests"] for e in ins) == res.metrics["mallocs"] > 0
    assert sum(e["bytes"] for e in ins) == res.metrics["total_alloc_bytes"]
    for p, pp in enumerate(rt.ps):
        large = sum(e["requests"] for e in edges if e["src"] == f"P{p}" and e["dst"] == "mheap")
        assert sum(e["requests"] for e in ins if e["dst"] == f"P{p}") == \
            pp.mcache.local_small_allocs + pp.mcache.tiny_allocs + large
    # objects into the caches = objects allocated from them + objects still cached
    granted: dict[int, int] = {}
    for e in edges:
        if e["dst"].startswith("mcentral"):
            granted[e["span_class"] >> 1] = granted.get(e["span_class"] >> 1, 0) + e["objects"]
    for sc, n in granted.items():
        cached = sum(pp.mcache.avail[spc] for pp in rt.ps for spc in (sc << 1, sc << 1 | 1))
        assert n == st.by_size_mallocs.get(sc, 0) + cached, sc
    # spans into a class from the heap, less spans it freed = its spans in use
    live: dict[int, list[int]] = {}
    for s in rt.mheap.spans.values():
        if s.spanclass >> 1:
            acc = live.setdefault(s.spanclass, [0, 0])
            acc[0] += 1
            acc[1] += s.npages * PAGE_SIZE
    heap_in = [e for e in edges if e["dst"] == "mheap"]
    assert {e["span_class"]: [e["requests"] - e["returns"], e["bytes"] - e["returned_bytes"]]
            for e in heap_in if e["span_class"] >= 0} == live
    # the heap: what it handed out, less what came back, is in use; the OS edge is HeapSys
    assert sum(e["bytes"] - e["returned_bytes"] for e in heap_in) == \
        res.metrics["heap_inuse_bytes"]
    os_edges = [e for e in edges if e["dst"] == "OS"]
    assert [e["bytes"] for e in os_edges] == [res.metrics["heap_sys_bytes"]]
    assert os_edges[0]["requests"] == res.metrics["grow_calls"]
    if design != "tcmalloc":
        # without frees every span a cache takes is fresh from the heap; a timed
        # run may end with a grown span on the partial list or still in the
        # hands of a cacheSpan that waits to relock mcentral
        for e in heap_in:
            spc = e["span_class"]
            if spc >= 0:
                asked = sum(x["requests"] for x in edges if x["dst"] == e["src"])
                in_flight = sum(1 for s in rt.mheap.spans.values() if s.spanclass == spc
                                and not s.in_cache and not s.on_list)
                if duration_ns is None:
                    assert in_flight == 0
                assert asked + len(rt.central[spc].partial) + in_flight == e["requests"]


@pytest.mark.parametrize("design", ["go1.12", "go1.27", "tcmalloc"])
@pytest.mark.parametrize("duration_ns", [None, 200_000])
def test_flow_batched_equals_step(design: str, duration_ns: int | None) -> None:
    kw = {} if duration_ns is None else {"duration_ns": duration_ns}
    a = simulate(_scenario(design, mode="batched", **kw)).flow
    b = simulate(_scenario(design, mode="step", **kw)).flow
    assert a == b and len(a) > 5


_EXP = """
name: flowx
scenario:
  design: go1.27
  workload:
    groups:
      - name: spread
        count: 5
        allocations: 1600
        size: {dist: uniform, low: 1, high: 33000}
        pointer_free_fraction: 0.5
      - name: small
        count: 1
        allocations: 2000
        size: 24
sweep:
  grid:
    design: [go1.12, go1.27]
    gomaxprocs: [1, 6]
outputs:
  plots: [flow]
"""


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("flow")
    exp = parse_experiment(_EXP, file="flowx.yaml")
    o = run_experiment(exp, out_dir=out, jobs=1, progress=False)
    return o, out / "flowx"


def test_graphml_per_run_round_trip(experiment) -> None:
    o, d = experiment
    flow = pd.read_parquet(d / "flow.parquet")
    assert sorted(p.name for p in (d / "flow").iterdir()) == [f"{i}.graphml" for i in range(4)]
    for rid, df in flow.groupby("run_id"):
        H = nx.read_graphml(d / "flow" / f"{rid}.graphml")
        G = flow_graph(df.to_dict("records"))
        assert set(H.nodes) == set(G.nodes) and set(H.edges) == set(G.edges)
        for u, v, attrs in G.edges(data=True):
            assert H.edges[u, v] == attrs
        for n, attrs in G.nodes(data=True):
            assert H.nodes[n] == attrs
        run = o.tables["runs"].set_index("run_id").loc[rid]
        assert H.graph["design"] == run["design"] and H.graph["gomaxprocs"] == run["gomaxprocs"]
        # go1.27: 68 size classes (class 0 included), the seed table of go1.12: 67
        assert H.graph["span_classes"] == (136 if run["design"] == "go1.27" else 134)
        assert isinstance(H.edges["mheap", "OS"]["bytes"], int)


def _nx_graphml(G: nx.Graph) -> bytes:
    buf = io.BytesIO()
    nx.readwrite.graphml.write_graphml_xml(G, buf)
    return buf.getvalue()


def test_graphml_files_are_what_networkx_writes(experiment) -> None:
    """The GraphML files are built as text (gosim.analysis.flow.graphml_text),
    byte for byte what networkx's writer makes of the same graph."""
    _o, d = experiment
    flow = pd.read_parquet(d / "flow.parquet")
    runs = pd.read_parquet(d / "runs.parquet")
    from gosim.analysis.flow import run_graphs

    for rid, G in run_graphs(flow, runs).items():
        assert (d / "flow" / f"{rid}.graphml").read_bytes() == _nx_graphml(G)
    # characters to escape, every attribute type, a node without attributes,
    # one name with two types, no attributes at all, an undirected graph
    G = nx.DiGraph(name='a<b&"c"', n=3, f=1.5, b=True, e="")
    G.add_node("x\ty\n<&>", a=1, s='q"r')
    G.add_node("lonely")
    G.add_edge("x\ty\n<&>", "lonely", w=2.0, s="ü€", flag=False)
    G.add_edge("lonely", "z")
    G.nodes["z"]["a"] = "a string"
    for H in (G, nx.Graph(G), nx.DiGraph(), nx.DiGraph(x=1)):
        assert graphml_text(H).encode() == _nx_graphml(H)
    # what it leaves to networkx
    assert graphml_text(nx.MultiDiGraph()) is None
    assert graphml_text(nx.DiGraph(v=[1])) is None


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + \
        [ax.get_title() for ax in fig.axes]


def test_flow_figure_collapses_idle_and_minor_classes(experiment) -> None:
    o, d = experiment
    assert (d / "plots" / "flow.png").exists()
    fig = plot_flow(o.tables, {"facet_keys": []})
    texts = _texts(fig)
    joined = "\n".join(texts)
    # one panel per design, at GOMAXPROCS 6: six Ps (six goroutines) drawn as one node
    assert sum("GOMAXPROCS=6" in t for t in texts) == 2
    assert sum(t.startswith("P caches (6 Ps)") for t in texts) == 2
    for label in ("spread", "small", "mheap", "OS"):
        assert sum(t.split("\n")[0] == label for t in texts) == 2, label
    # uniform sizes touch most classes: the busiest TOP_CLASSES drawn, the rest merged
    flow = o.tables["flow"]
    for design, total in (("go1.12", 134), ("go1.27", 136)):
        runs = o.tables["runs"]
        rid = runs[(runs.design == design) & (runs.gomaxprocs == 6)]["run_id"].iloc[0]
        active = flow[(flow.run_id == rid) & flow.dst.str.startswith("mcentral")]["dst"].nunique()
        assert active > TOP_CLASSES + 10
        assert f"{total - active} idle span classes not shown" in joined
        assert f"other {active - TOP_CLASSES} classes" in joined
    drawn = [t for t in texts if t.startswith("spc ")]
    assert len(drawn) == 2 * TOP_CLASSES
    plt.close(fig)


def test_no_flow_table_is_a_note() -> None:
    assert "no flow recorded" in plot_flow({"flow": pd.DataFrame(), "runs": pd.DataFrame()}, {})


def test_flow_graph_nodes_and_layers() -> None:
    G = flow_graph(simulate(_one("go1.14", 300, size=40000)).flow)
    # a large object goes from the P straight to the heap (mcache.go allocLarge)
    assert set(G.edges) == {("G0:w", "P0"), ("P0", "mheap"), ("mheap", "OS")}
    assert G.edges["P0", "mheap"]["requests"] == 300
    assert G.edges["P0", "mheap"]["bytes"] == 300 * 5 * PAGE_SIZE
    assert [G.nodes[n]["layer"] for n in ("G0:w", "P0", "mheap", "OS")] == [
        "goroutines", "mcache", "mheap", "os"]

