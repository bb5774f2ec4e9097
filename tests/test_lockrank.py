"""Lock order: the ranking per design against Go's runtime/lockrank.go, the
run-time check (``check_lock_order``) catching misordered design variants and
passing every preset without changing a result, and ``gosim locks``."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from types import MethodType
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gosim.cli import main
from gosim.runtime.context import Ctx, Gen
from gosim.runtime.design import PRESETS, get_design
from gosim.runtime.lockrank import (
    NOT_MODELLED,
    LockOrderCheck,
    LockOrderError,
    design_ranks,
    lock_ranking,
    rank_graph,
)
from gosim.runtime.mcentral import MCentral
from gosim.runtime.mspan import MSpan
from gosim.runtime.sizeclasses import get_table
from gosim.scenario import Scenario
from gosim.sim.engine import Simulation

#: per preset: the ranks, lowest first, and the allowed (held, acquired) rank pairs
#: (the collector's stop-the-world and assist-queue locks come first: taken with
#: nothing held, by every Go design; tcmalloc has no collector)
C = ["assistQueue", "sched"]
#: the pairs Go's lockPartialOrder allows between them and the allocator's locks
CE = {("assistQueue", "sched"), ("assistQueue", "gcBitsArenas"), ("sched", "gcBitsArenas"),
      ("assistQueue", "mheap"), ("sched", "mheap")}
CS = CE | {("assistQueue", "spanSetSpine"), ("sched", "spanSetSpine")}
EXPECTED: dict[str, tuple[list[str], set[tuple[str, str]]]] = {
    # Go <= 1.13 initialises a span, bitmaps included, inside mheap.lock
    "go1.12": ([*C, "mcentral", "mheap", "gcBitsArenas"],
               {("mcentral", "mheap"), ("mcentral", "gcBitsArenas"), ("mheap", "gcBitsArenas")}
               | CE),
    "go1.14": ([*C, "mcentral", "gcBitsArenas", "mheap"],
               {("mcentral", "mheap"), ("mcentral", "gcBitsArenas"), ("gcBitsArenas", "mheap")}
               | CE),
    "go1.15": ([*C, "spanSetSpine", "gcBitsArenas", "mheap"],
               {("spanSetSpine", "mheap"), ("gcBitsArenas", "mheap")} | CS),
    "go1.25": ([*C, "spanSetSpine", "gcBitsArenas", "mheap"],
               {("spanSetSpine", "mheap"), ("gcBitsArenas", "mheap")} | CS),
    "go1.27": ([*C, "spanSetSpine", "gcBitsArenas", "mheap"],
               {("spanSetSpine", "mheap"), ("gcBitsArenas", "mheap")} | CS),
    "tcmalloc": (["central", "pageheap"], set()),
    "global-lock": ([*C, "globalMalloc", "mcentral", "mheap", "gcBitsArenas"],
                    {("globalMalloc", "mcentral"), ("globalMalloc", "mheap"),
                     ("mcentral", "mheap"), ("globalMalloc", "gcBitsArenas"),
                     ("mcentral", "gcBitsArenas"), ("mheap", "gcBitsArenas")} | CE),
}


def scenario(**kw: Any) -> Scenario:
    return Scenario.model_validate(kw)


# -- the ranking ------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", list(PRESETS))
def test_ranking_of_every_preset(preset: str) -> None:
    d = get_design(preset)
    ranking = lock_ranking(d)
    ranks = rank_graph(ranking)
    names, edges = EXPECTED[preset]
    assert sorted(ranks.nodes, key=lambda n: ranks.nodes[n]["rank"]) == names
    assert [ranks.nodes[n]["rank"] for n in names] == list(range(1, len(names) + 1))
    assert set(ranks.edges) == edges
    assert nx.is_directed_acyclic_graph(ranking)
    for a, b in ranking.edges:
        assert ranking.nodes[a]["rank"] < ranking.nodes[b]["rank"]
    # one node per lock of the runtime: mheap, one per span class (2 per size
    # class, 68 today, 67 in the seed's table), the global lock
    nspc = 2 * get_table(d.sizeclasses).num_size_classes
    assert nspc == {"go1.12": 134, "go1.27": 136}[d.sizeclasses]
    go = d.transfer_batch_objects == 0  # the GC bits arenas' lock, sched, assistQueue
    assert ranking.number_of_nodes() == 1 + nspc + d.global_lock + 3 * go
    assert sorted(ranking.nodes[n]["span_class"] for n in ranking
                  if ranking.nodes[n]["kind"] in ("mcentral", "spanset")) == list(range(nspc))
    # every pair the rank pairs allow, between every lock of the two ranks
    count = {r: ranks.nodes[r]["locks"] for r in ranks}
    assert ranking.number_of_edges() == sum(count[a] * count[b] for a, b in edges)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_ranking_names_every_lock_of_a_run(preset: str) -> None:
    """The ranking's nodes are exactly the locks the simulation models, under
    their names in locks.parquet."""
    sim = Simulation(scenario(design=preset, workload={"groups": [{"allocations": 10}]}))
    # the locks and the lock-free span sets (whose spine is a lock), not plain
    # atomics such as the pacer's heapLive
    modelled = {m.mu.name for m in sim.mutexes} | {a.cell.name for a in sim.atomics
                                                    if a.cell.kind == "spanset"}
    assert modelled == set(lock_ranking(sim.design, sim.rt).nodes)
    rows = {r["lock"] for r in sim.run().locks
            if r["acquisitions"] and r["kind"] not in ("heaplive", "pagefault")}
    assert rows and rows <= modelled


def _go_lockrank(release: str) -> str:
    if os.environ.get("GOSIM_SKIP_REALGO"):
        pytest.skip("GOSIM_SKIP_REALGO is set")
    from gosim.realgo.toolchain import find_go, go_env

    tc = find_go(release)
    root = subprocess.run([str(tc.go), "env", "GOROOT"], capture_output=True, text=True,
                          check=True, env=go_env()).stdout.strip()
    return (Path(root) / "src" / "runtime" / "lockrank.go").read_text()


@pytest.mark.parametrize("preset", ["go1.25", "go1.27"])
def test_ranking_agrees_with_go_lockrank(preset: str) -> None:
    """For each pair of modelled locks with a Go rank, the ranking allows B while
    A is held exactly when lockPartialOrder[B] lists A (a rank listing itself
    allows two locks of that rank nested); rank values increase along edges."""
    src = _go_lockrank(preset.removeprefix("go"))
    consts = src[src.index("const (") : src.index(")", src.index("const ("))]
    value = {name: i for i, name in enumerate(
        re.findall(r"^\s*(lockRank\w+)", consts, flags=re.M))}
    table = src[src.index("var lockPartialOrder"):]
    order = {m[1]: set(re.findall(r"lockRank\w+", m[2]))
             for m in re.finditer(r"^\s*(lockRank\w+):\s*\{([^}]*)\}", table, flags=re.M)}
    ranking = lock_ranking(get_design(preset))
    go = {n: d["go_rank"] for n, d in ranking.nodes(data=True)}
    assert set(go.values()) == {"lockRankSched", "lockRankAssistQueue", "lockRankSpanSetSpine",
                                "lockRankGcBitsArenas", "lockRankMheap"}
    for a in ranking:
        for b in ranking:
            if a != b:
                assert ranking.has_edge(a, b) == (go[a] in order[go[b]]), (a, b)
                if ranking.has_edge(a, b):
                    assert value[go[a]] < value[go[b]]
    for name, _why in NOT_MODELLED:
        assert name in value, name


# -- the check, by hand -----------------------------------------------------------------------

def _check() -> tuple[LockOrderCheck, Any]:
    g = nx.DiGraph(design="hand")
    g.add_node("a", rank=1, rank_name="A")
    g.add_node("b", rank=2, rank_name="B")
    g.add_node("c", rank=3, rank_name="C")
    g.add_edges_from([("a", "b"), ("a", "c")])
    site = (_check.__code__, 7)
    return LockOrderCheck(g), site


def test_check_allows_the_order_and_records_what_it_saw() -> None:
    chk, site = _check()
    chk.acquire(0, 0, 10, "a", site)
    chk.acquire(0, 0, 11, "b", site)
    chk.release(0, "b")
    chk.acquire(0, 0, 12, "c", site)
    chk.release(0, "c")
    chk.release(0, "a")
    chk.acquire(1, 1, 13, "c", site)  # alone: always allowed
    chk.release(1, "c")
    assert set(chk.observed.edges) == {("a", "b"), ("a", "c")}
    assert chk.checked == 4 and chk.held == {0: [], 1: []}


def test_check_rejects_against_the_rank_and_outside_the_partial_order() -> None:
    chk, site = _check()
    chk.acquire(0, 2, 50, "b", site)
    with pytest.raises(LockOrderError, match=r"acquiring a \(rank 1 A\) while holding b "
                       r"\(rank 2 B\), a lock of lower rank after one of higher rank"):
        chk.acquire(0, 2, 60, "a", site)
    chk, site = _check()
    chk.acquire(0, 0, 0, "b", site)
    with pytest.raises(LockOrderError, match="a pair the partial order does not allow"):
        chk.acquire(0, 0, 0, "c", site)
    chk, site = _check()
    chk.acquire(0, 0, 0, "a", site)
    with pytest.raises(LockOrderError, match="self-deadlock: a taken in _check"):
        chk.acquire(0, 0, 0, "a", site)
    with pytest.raises(LockOrderError, match="releases b, which it does not hold"):
        chk.release(0, "b")
    with pytest.raises(LockOrderError, match="lock z has no rank"):
        chk.acquire(0, 0, 0, "z", site)


def test_check_names_the_cycle_with_both_orders() -> None:
    """A ranking that allows both orders (as a rank allowing self-cycles would)
    still cannot hide a cycle: the second order closes it."""
    g = nx.DiGraph(design="both")
    g.add_nodes_from([("x", {"rank": 1, "rank_name": "X"}), ("y", {"rank": 1, "rank_name": "X"})])
    g.add_edges_from([("x", "y"), ("y", "x")])
    chk = LockOrderCheck(g)
    chk.acquire(3, 1, 100, "x", (_check.__code__, 1))
    chk.acquire(3, 1, 110, "y", (_check.__code__, 2))
    chk.release(3, "y")
    chk.release(3, "x")
    chk.acquire(4, 2, 200, "y", (_check.__code__, 3))
    with pytest.raises(LockOrderError) as e:
        chk.acquire(4, 2, 210, "x", (_check.__code__, 4))
    msg = str(e.value)
    assert msg.startswith("lock order cycle in design both: y -> x (y taken in _check "
                          "(tests/test_lockrank.py:3) by goroutine 4 on P2 at t=200 ns, then x "
                          "taken in _check (tests/test_lockrank.py:4) by goroutine 4 on P2 at "
                          "t=210 ns) against the order seen before: x -> y (x taken in _check "
                          "(tests/test_lockrank.py:1) by goroutine 3 on P1 at t=100 ns, then y "
                          "taken in _check (tests/test_lockrank.py:2) by goroutine 3 on P1 at "
                          "t=110 ns)"), msg


# -- the check in runs --------------------------------------------------------------------------

def _mixed(preset: str, **kw: Any) -> Scenario:
    """4 Ps; small, medium and large objects, some pointerful; objects die so
    spans go back to the heap."""
    groups = [
        {"name": "small", "count": 2, "size": {"dist": "choice", "values": [8, 48, 200]},
         "pointer_free_fraction": 0.5, "allocations": 600,
         "lifetime": {"kind": "allocations", "value": 64}},
        {"name": "medium", "count": 1, "size": 1024, "allocations": 300,
         "lifetime": {"kind": "allocations", "value": 16}},
        {"name": "large", "count": 1, "size": 40000, "allocations": 40,
         "lifetime": {"kind": "allocations", "value": 4}},
    ]
    return scenario(design=preset, gomaxprocs=4, workload={"groups": groups}, **kw)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_passes_the_check_and_results_are_unchanged(preset: str) -> None:
    plain = Simulation(_mixed(preset))
    checked = Simulation(_mixed(preset, check_lock_order=True))
    assert plain.lock_check is None
    a = plain.run().to_dict()
    b = checked.run().to_dict()
    assert a == b
    chk = checked.lock_check
    assert chk is not None
    # it saw every acquisition of every lock row (mutex grants, span-set operations;
    # not the pacer's heapLive or the kernel's fault path: no lock of the runtime's)
    assert chk.checked == sum(r["acquisitions"] for r in b["locks"]
                              if r["kind"] not in ("heaplive", "pagefault")) > 0
    assert all(not h for h in chk.held.values())
    observed = set(chk.observed.edges)
    assert observed <= set(chk.ranking.edges)
    taken = {r["lock"] for r in b["locks"] if r["acquisitions"]}
    # Go <= 1.13 designs take the GC bits lock while they initialise a span under mheap
    under_heap = ({("mheap", "gcBitsArenas")} if get_design(preset).span_init_under_heap_lock
                  and "gcBitsArenas" in taken else set())
    if preset == "global-lock":
        # the lock around every malloc, over each lock mallocgc takes under it (the
        # collector's sched and assistQueue locks are taken at safepoints, outside it)
        inside = taken - {"global", "sched", "assistQueue", "gcController.heapLive",
                          "os.pagefault"}
        assert observed == {("global", n) for n in inside} | under_heap
    else:  # nothing else nests in the model
        assert observed == under_heap


ABLATIONS = [{"global_lock": True}, {"mcentral": "lockfree"},
             {"mcentral": "locked", "global_lock": True}]


@pytest.mark.parametrize("preset, overrides", [(p, o) for p in PRESETS for o in ABLATIONS])
def test_ablations_pass_the_check(preset: str, overrides: dict[str, Any]) -> None:
    """Flipping the options that decide which locks exist keeps the model in order."""
    sc = dict(design={"preset": preset, "overrides": overrides}, gomaxprocs=2,
              workload={"groups": [{"count": 2, "size": {"dist": "choice",
                                                         "values": [48, 1024, 40000]},
                                    "allocations": 200,
                                    "lifetime": {"kind": "allocations", "value": 8}}]})
    sim = Simulation(scenario(**sc, check_lock_order=True))
    assert sim.run().to_dict() == Simulation(scenario(**sc)).run().to_dict()
    chk = sim.lock_check
    assert chk is not None and chk.checked > 0
    ranks = [r.name for r in design_ranks(sim.design)]
    assert ("globalMalloc" in ranks) == sim.design.global_lock
    assert ("spanSetSpine" in ranks) == (sim.design.mcentral == "lockfree")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(preset=st.sampled_from(sorted(PRESETS)), procs=st.integers(1, 4),
       sizes=st.lists(st.integers(1, 70_000), min_size=1, max_size=4),
       keep=st.integers(1, 32), seed=st.integers(0, 2**16))
def test_the_check_changes_no_result_on_random_scenarios(preset: str, procs: int,
                                                         sizes: list[int], keep: int,
                                                         seed: int) -> None:
    sc = dict(design=preset, gomaxprocs=procs, seed=seed,
              workload={"groups": [{"count": procs, "allocations": 60,
                                    "size": {"dist": "choice", "values": sizes},
                                    "pointer_free_fraction": 0.5,
                                    "lifetime": {"kind": "allocations", "value": keep}}]})
    checked = Simulation(scenario(**sc, check_lock_order=True))
    assert checked.run().to_dict() == Simulation(scenario(**sc)).run().to_dict()
    chk = checked.lock_check
    assert chk is not None and set(chk.observed.edges) <= set(chk.ranking.edges)


def test_the_check_in_step_mode_with_a_timed_run() -> None:
    sc = dict(design="global-lock", gomaxprocs=3, duration_ns=400_000, mode="step",
              workload={"groups": [{"count": 3, "size": 1024}]})
    a = Simulation(scenario(**sc)).run().to_dict()
    sim = Simulation(scenario(**sc, check_lock_order=True))
    assert sim.run().to_dict() == a
    chk = sim.lock_check
    assert chk is not None and ("global", "mheap") in chk.observed.edges


def _one_class_run(preset: str) -> Simulation:
    """One goroutine allocating 1 KiB objects: a refill (cacheSpan -> grow) every
    8 objects."""
    return Simulation(scenario(design=preset, check_lock_order=True,
                               workload={"groups": [{"size": 1024, "allocations": 40}]}))


@pytest.mark.pure_python
def test_misordered_design_variant_is_caught() -> None:
    """go1.12 with mcentral.grow refilling under mheap.lock: it takes the
    mcentral lock while holding mheap (lockrank.go: mcentral before mheap)."""
    sim = _one_class_run("go1.12")

    def misordered_grow(self: MCentral, ctx: Ctx) -> Gen[MSpan]:
        yield from ctx.lock(self.heap.lock)
        yield from ctx.lock(self.lock)
        yield from ctx.unlock(self.lock)
        yield from ctx.unlock(self.heap.lock)
        return (yield from MCentral.grow(self, ctx))

    for c in sim.rt.central:
        vars(c)["grow"] = MethodType(misordered_grow, c)
    with pytest.raises(LockOrderError) as e:
        sim.run()
    line = misordered_grow.__code__.co_firstlineno
    spc = re.escape(f"mcentral[spc={sim.rt.classify(1024, True)[1]}]")
    where = re.escape("test_misordered_design_variant_is_caught.<locals>.misordered_grow "
                      "(tests/test_lockrank.py:")
    m = re.fullmatch(
        f"lock order violation in design go1.12: acquiring {spc} \\(rank 3 mcentral\\) while "
        f"holding mheap \\(rank 4 mheap\\), a lock of lower rank after one of higher rank "
        f"\\(`gosim locks go1.12`\\): {spc} taken in {where}{line + 2}\\) by goroutine 0 "
        f"on P0 at t=(\\d+) ns; mheap taken in {where}{line + 1}\\) by goroutine 0 on P0 at "
        f"t=(\\d+) ns", str(e.value))
    assert m is not None, str(e.value)
    # mheap first, then (after mheap.lock's uncontended cost) the mcentral lock
    assert int(m[1]) - int(m[2]) == sim.costs.const("lock_uncontended_ns") > 0


@pytest.mark.pure_python
def test_opposite_orders_in_one_variant_close_a_cycle() -> None:
    """A variant whose first refill keeps the mcentral lock across the heap
    allocation (mcentral -> mheap, allowed) and whose second takes them the
    other way round: the check names the cycle and both places."""
    sim = _one_class_run("go1.12")
    calls = [0]

    def two_way_grow(self: MCentral, ctx: Ctx) -> Gen[MSpan]:
        calls[0] += 1
        if calls[0] == 1:
            yield from ctx.lock(self.lock)
            s = yield from MCentral.grow(self, ctx)
            yield from ctx.unlock(self.lock)
            return s
        yield from ctx.lock(self.heap.lock)
        yield from ctx.lock(self.lock)
        raise AssertionError("the check lets mheap -> mcentral pass")

    for c in sim.rt.central:
        vars(c)["grow"] = MethodType(two_way_grow, c)
    with pytest.raises(LockOrderError) as e:
        sim.run()
    msg = str(e.value)
    spc = f"mcentral[spc={sim.rt.classify(1024, True)[1]}]"
    assert msg.startswith(f"lock order cycle in design go1.12: mheap -> {spc} (mheap taken in "
                          f"test_opposite_orders_in_one_variant_close_a_cycle.<locals>"
                          f".two_way_grow"), msg
    assert (f"against the order seen before: {spc} -> mheap ({spc} taken in "
            f"test_opposite_orders_in_one_variant_close_a_cycle.<locals>.two_way_grow") in msg
    assert "then mheap taken in MHeap.alloc (gosim/runtime/mheap.py:" in msg
    assert msg.endswith("goroutines taking these locks in opposite orders can deadlock")
    assert calls[0] == 2


@pytest.mark.pure_python
def test_a_ranking_that_puts_the_global_lock_last_is_caught() -> None:
    """The global-lock baseline checked against a ranking that takes its lock
    for Go's lockRankGlobalAlloc (persistentalloc's leaf lock, below mheap):
    the first refill under it is a violation, at the real call sites."""
    sim = Simulation(scenario(design="global-lock", workload={"groups": [{"allocations": 5}]}))
    bad = lock_ranking(sim.design, sim.rt)
    bad.remove_edges_from(list(bad.out_edges("global")))
    bad.add_edges_from((n, "global") for n in list(bad) if n != "global")
    bad.nodes["global"]["rank"] = 7
    chk = LockOrderCheck(bad)
    for g in sim.gs:
        g.check = chk
    with pytest.raises(LockOrderError) as e:
        sim.run()
    msg = str(e.value)
    assert re.fullmatch(
        r"lock order violation in design global-lock: acquiring mcentral\[spc=\d+\] \(rank 4 "
        r"mcentral\) while holding global \(rank 7 globalMalloc\), a lock of lower rank after "
        r"one of higher rank \(`gosim locks global-lock`\): mcentral\[spc=\d+\] taken in "
        r"MCentral\.cache_span \(gosim/runtime/mcentral\.py:\d+\) by goroutine 0 on P0 at "
        r"t=\d+ ns; global taken in Simulation\.step_one \(gosim/sim/engine\.py:\d+\) by "
        r"goroutine 0 on P0 at t=0 ns", msg), msg


# -- gosim locks ----------------------------------------------------------------------------------

def test_gosim_locks_prints_ranks_and_edges(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["locks", "global-lock"]) == 0
    out = capsys.readouterr().out
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in out.splitlines()
            if line.startswith("│")]
    assert rows[0][:3] == ["1", "assistQueue", "lockRankAssistQueue"]
    assert ["3", "globalMalloc", "-", "global"] in [r[:4] for r in rows]
    assert ["4", "mcentral", "lockRankMcentral", "mcentral[spc=0..133] (134 locks)"] in [
        r[:4] for r in rows]
    assert ["5", "mheap", "lockRankMheap", "mheap"] in [r[:4] for r in rows]
    edges = [r for r in rows if len(r) == 3]
    assert edges == [["assistQueue", "sched", "1"], ["assistQueue", "mheap", "1"],
                     ["assistQueue", "gcBitsArenas", "1"], ["sched", "mheap", "1"],
                     ["sched", "gcBitsArenas", "1"],
                     ["globalMalloc", "mcentral", "134"], ["globalMalloc", "mheap", "1"],
                     ["globalMalloc", "gcBitsArenas", "1"], ["mcentral", "mheap", "134"],
                     ["mcentral", "gcBitsArenas", "134"], ["mheap", "gcBitsArenas", "1"]]
    assert "lockRankScavenge" in out and "lockRankGlobalAlloc" in out


def test_gosim_locks_tcmalloc_has_no_edges(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["locks", "tcmalloc"]) == 0
    out = capsys.readouterr().out
    assert "edges: none" in out and "pageheap_lock" in out


def test_gosim_locks_draws_the_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "order.png"
    assert main(["locks", "go1.27", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out}" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["order.png"]  # no temp file left


@pytest.mark.parametrize("args, message", [
    (["locks", "go9.99"], "gosim: error: unknown design preset 'go9.99'; expected one of "
                          "['global-lock', 'go1.12', 'go1.14', 'go1.15', 'go1.25', 'go1.27', "
                          "'tcmalloc']\n"),
    (["locks", "go1.27", "--out", "order.svg"],
     "gosim: error: --out order.svg: expected a .png file to write\n"),
])
def test_gosim_locks_bad_input(args: list[str], message: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    cap = capsys.readouterr()
    assert cap.err == message and cap.out == ""
    assert list(tmp_path.iterdir()) == []
