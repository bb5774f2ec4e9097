"""Lock ranking (runtime/lockrank.go) for the locks the model has, and a
checker that fails a run whose goroutines take them against the order.

Go ranks its runtime locks (lockrank.go, generated from mklockrank.go since
Go 1.19; written by hand in Go 1.15-1.18): a lock of lower rank is taken
before one of higher rank, and ``lockPartialOrder`` lists, for each rank, the
ranks that may already be held when it is acquired. A build with
``GOEXPERIMENT=staticlockranking`` checks every acquisition against both.

gosim models these locks (per design, as the runtime it builds has them):

============== ======================= ==========================================
rank           Go constant             gosim lock (name in locks.parquet)
============== ======================= ==========================================
globalMalloc   (none: gosim only)      ``global``: the global-lock baseline's lock
                                       around every malloc (engine.py step_one)
mcentral       lockRankMcentral        ``mcentral[spc=N]``: the locked mcentral
                                       (Go <= 1.14; ranked in Go 1.15's
                                       lockrank.go for !go115NewMCentralImpl);
                                       ``mcentral[shared]`` when one lock serves
                                       every class (``mcentral_lock: shared``)
spanSetSpine   lockRankSpanSetSpine    ``mcentral[spc=N].spanset``: a lock-free
                                       span set (mspanset.go); its spine lock is
                                       taken when a push grows the spine, so
                                       every span-set operation is checked as
                                       taking it (``mcentral[shared].spanset``:
                                       one cell for every class)
mheap          lockRankMheap           ``mheap``: mheap.lock
central        (none: tcmalloc)        ``mcentral[spc=N]`` of the tcmalloc design
                                       (CentralFreeList::lock_)
pageheap       (none: tcmalloc)        ``mheap`` of the tcmalloc design
                                       (pageheap_lock)
============== ======================= ==========================================

Partial order (held -> acquired):

- globalMalloc -> every other lock: the baseline holds it across mallocgc.
- mcentral -> mheap: lockRankMheap lists lockRankMcentral (Go 1.15
  lockrank.go); mcentral never nests with itself (no self-cycle).
- spanSetSpine -> mheap: lockRankMheap lists lockRankSpanSetSpine (Go 1.15
  to today; mklockrank.go: ``MALLOC < ... spanSetSpine ... < mheap``).
- tcmalloc: none. central_freelist.cc releases ``lock_`` before it takes
  ``pageheap_lock`` (Populate, ReleaseToSpans: "Release central list lock
  while operating on pageheap"), so holding both is a violation.

Go's lockRankGlobalAlloc is not the baseline's lock: it is persistentalloc's
``globalAlloc.mutex``, a leaf taken under mheap, which gosim does not model.
With the collector on, the ranking also has the GC bits arenas' lock
(``gcBitsArenas``, lockRankGcBitsArenas: below mcentral and the global
lock, above mheap; Go <= 1.13 designs take it under mheap while they
initialise a span there), and the collector's locks taken with nothing held:
stop-the-world's ``sched`` (lockRankSched) and the mark-assist queue
(``assistQueue``, lockRankAssistQueue). The scavenger's own lock is not
modelled (see :data:`NOT_MODELLED`).

:class:`LockOrderCheck` is the run-time check (``check_lock_order: true`` in a
scenario): each acquisition is checked against the locks the goroutine holds;
acquiring against the ranking, or closing a cycle in the graph of locks
observed acquired while holding another (two goroutines taking the same locks
in opposite orders), raises :class:`LockOrderError` naming both locks and
where each was taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType
from typing import TYPE_CHECKING

import networkx as nx

from gosim.runtime.context import Mutex

if TYPE_CHECKING:
    from gosim.runtime.design import Design
    from gosim.runtime.malloc import Runtime

#: Go lock ranks around the allocator that gosim has no lock for (yet)
NOT_MODELLED: tuple[tuple[str, str], ...] = (
    ("lockRankScavenge", "the scavenger's own lock (scavenger.lock, for its sleep and wake-ups): "
                         "the model's scavenger runs on a P at a safepoint and takes only mheap"),
    ("lockRankGlobalAlloc", "persistentalloc's lock, not the global-lock baseline's: "
                            "persistent allocations are not modelled"),
)


@dataclass(frozen=True)
class LockRank:
    """A rank: one lock of the model, or one per span class (mcentral)."""

    name: str
    #: the Go constant in runtime/lockrank.go (None: the lock is not Go's)
    go_rank: str | None
    #: where the rank and its order come from
    source: str
    #: the ``kind`` of the runtime's Mutex/AtomicCell that has this rank
    kind: str


GLOBAL = LockRank("globalMalloc", None, "gosim's global-lock baseline: held across mallocgc",
                  "global")
MCENTRAL = LockRank("mcentral", "lockRankMcentral",
                    "runtime/lockrank.go, Go 1.15 (the locked mcentral, !go115NewMCentralImpl)",
                    "mcentral")
SPAN_SET_SPINE = LockRank("spanSetSpine", "lockRankSpanSetSpine",
                          "runtime/lockrank.go, Go 1.15+ (mspanset.go spineLock)", "spanset")
MHEAP = LockRank("mheap", "lockRankMheap", "runtime/lockrank.go, Go 1.15+", "mheap")
GC_BITS = LockRank("gcBitsArenas", "lockRankGcBitsArenas",
                   "runtime/mklockrank.go (Go 1.20+): MALLOC, mspanSpecial < gcBitsArenas "
                   "< STACKGROW < ... mheap", "gcbits")
SCHED = LockRank("sched", "lockRankSched", "runtime/lockrank.go: stop-the-world's sched.lock",
                 "sched")
ASSIST_QUEUE = LockRank("assistQueue", "lockRankAssistQueue",
                        "runtime/lockrank.go: work.assistQueue.lock (mgcmark.go gcParkAssist)",
                        "assistqueue")
TC_CENTRAL = LockRank("central", None, "gperftools central_freelist.cc CentralFreeList::lock_",
                      "mcentral")
TC_PAGEHEAP = LockRank("pageheap", None, "gperftools page_heap.cc pageheap_lock", "mheap")

#: (held, acquired) rank pairs that are allowed; everything else is a violation
ALLOWED: frozenset[tuple[LockRank, LockRank]] = frozenset({
    (GLOBAL, MCENTRAL), (GLOBAL, SPAN_SET_SPINE), (GLOBAL, MHEAP),
    (GLOBAL, TC_CENTRAL), (GLOBAL, TC_PAGEHEAP),
    (MCENTRAL, MHEAP), (SPAN_SET_SPINE, MHEAP),
    (GLOBAL, GC_BITS), (MCENTRAL, GC_BITS), (GC_BITS, MHEAP),
    # the collector's locks (lockPartialOrder of Go 1.25/1.27): the assist queue
    # before sched, both before the allocator's span-set spine, bits and heap
    (ASSIST_QUEUE, SCHED), (ASSIST_QUEUE, SPAN_SET_SPINE), (SCHED, SPAN_SET_SPINE),
    (ASSIST_QUEUE, GC_BITS), (SCHED, GC_BITS), (ASSIST_QUEUE, MHEAP), (SCHED, MHEAP),
})
#: designs that initialise spans inside mheap.lock (Go <= 1.13, before lock
#: ranking existed) take the GC bits lock under it
ALLOWED_SPAN_INIT_UNDER_HEAP = frozenset({(MHEAP, GC_BITS)})


def design_ranks(design: Design) -> list[LockRank]:
    """The ranks of the locks ``design``'s runtime has, lowest (taken first) first.
    A locked central list that hands out batches of objects is tcmalloc's."""
    tcmalloc = design.transfer_batch_objects > 0 and design.mcentral == "locked"
    ranks = [GLOBAL] if design.global_lock else []
    if design.mcentral == "lockfree":
        ranks.append(SPAN_SET_SPINE)
    else:
        ranks.append(TC_CENTRAL if tcmalloc else MCENTRAL)
    if design.transfer_batch_objects == 0 and not design.span_init_under_heap_lock:
        ranks.append(GC_BITS)
    ranks.append(TC_PAGEHEAP if tcmalloc else MHEAP)
    if design.transfer_batch_objects == 0 and design.span_init_under_heap_lock:
        ranks.append(GC_BITS)  # Go <= 1.13 initialises spans (and their bitmaps) under mheap
    return ranks


def lock_ranking(design: Design, rt: Runtime | None = None) -> nx.DiGraph:
    """The lock ranking of ``design`` over every lock of its runtime (``rt``, or
    a fresh one with the collector, as a scenario has by default): a node per
    lock, named as in locks.parquet, with ``rank`` (1 = taken first),
    ``rank_name``, ``go_rank`` ('' when the lock is not Go's; GraphML has no
    None), ``source``, ``kind`` and ``span_class``; an edge A -> B when B may be
    acquired while A is held."""
    collector_locks: list[Mutex] = []
    if rt is None:
        from gosim.runtime.malloc import Runtime

        rt = Runtime(design, 1)
        if design.transfer_batch_objects == 0:  # a thread-caching malloc has no collector
            collector_locks = [Mutex("assistQueue", "assistqueue"), Mutex("sched", "sched")]
    elif rt.gc_hook is not None:
        collector_locks = [rt.gc_hook.assist_lock, rt.gc_hook.sched_lock]
    ranks = design_ranks(design)
    if collector_locks:  # the collector's own locks, taken with nothing held
        ranks = [ASSIST_QUEUE, SCHED, *ranks]
    by_kind = {r.kind: r for r in ranks}
    g = nx.DiGraph(design=design.name)
    objs = [rt.mheap.lock] + ([rt.global_lock] if rt.global_lock is not None else [])
    objs += [c.lock if c.locked else c.spanset for c in rt.central]
    if rt.mheap.gcbits is not None:
        objs.append(rt.mheap.gcbits.lock)
    objs += collector_locks
    for o in dict.fromkeys(objs):  # mcentral_lock 'shared': one object for every class
        r = by_kind[o.kind]
        g.add_node(o.name, rank=ranks.index(r) + 1, rank_name=r.name, go_rank=r.go_rank or "",
                   source=r.source, kind=o.kind, span_class=o.span_class)
    by_rank: dict[str, list[str]] = {}
    for n, d in g.nodes(data=True):
        by_rank.setdefault(d["rank_name"], []).append(n)
    allowed = ALLOWED
    if design.span_init_under_heap_lock:
        allowed = (ALLOWED - {(GC_BITS, MHEAP)}) | ALLOWED_SPAN_INIT_UNDER_HEAP
    for a in ranks:
        for b in ranks:
            if (a, b) in allowed:
                g.add_edges_from((x, y) for x in by_rank[a.name] for y in by_rank[b.name])
    return g


def rank_graph(ranking: nx.DiGraph) -> nx.DiGraph:
    """``ranking`` collapsed to one node per rank (attribute ``locks``: how many
    locks have it), an edge where any lock of one may be held when a lock of
    the other is acquired."""
    g = nx.DiGraph(design=ranking.graph.get("design", ""))
    for d in ranking.nodes.values():
        r = d["rank_name"]
        if r not in g:
            g.add_node(r, rank=d["rank"], go_rank=d["go_rank"], source=d["source"], locks=0)
        g.nodes[r]["locks"] += 1
    for a, b in ranking.edges:
        g.add_edge(ranking.nodes[a]["rank_name"], ranking.nodes[b]["rank_name"])
    return g


# -- the check ----------------------------------------------------------------------------

_ROOT = Path(__file__).resolve().parents[2]

#: where a lock was taken: the calling function's code and line
Site = tuple[CodeType, int]


def site_of(frame: FrameType) -> Site:
    """The call site of a lock acquisition, from its caller's frame."""
    return frame.f_code, frame.f_lineno


def format_site(site: Site) -> str:
    """``MCentral.cache_span (gosim/runtime/mcentral.py:92)``."""
    code, line = site
    path = Path(code.co_filename)
    try:
        shown = str(path.resolve().relative_to(_ROOT))
    except ValueError:
        shown = path.name
    return f"{code.co_qualname} ({shown}:{line})"


class LockOrderError(RuntimeError):
    """A goroutine took a runtime lock against the design's lock order."""


@dataclass(frozen=True)
class _Taken:
    lock: str
    site: Site
    t: int
    p: int
    gid: int

    def describe(self) -> str:
        return (f"{self.lock} taken in {format_site(self.site)} by goroutine {self.gid} "
                f"on P{self.p} at t={self.t} ns")


class LockOrderCheck:
    """Checks every acquisition of a run against a lock ranking
    (:func:`lock_ranking`) and against the order observed so far."""

    def __init__(self, ranking: nx.DiGraph) -> None:
        self.ranking = ranking
        self.design = ranking.graph.get("design", "?")
        #: lock A -> lock B: B was acquired while A was held (attribute ``first``:
        #: the two acquisitions that showed it first)
        self.observed = nx.DiGraph()
        #: goroutine id -> the locks it holds, in acquisition order
        self.held: dict[int, list[_Taken]] = {}
        #: acquisitions checked
        self.checked = 0

    def acquire(self, gid: int, p: int, t: int, lock: str, site: Site) -> None:
        """Goroutine ``gid`` on P ``p`` asks for ``lock`` at ``t`` from ``site``."""
        rk = self.ranking
        if lock not in rk:
            raise LockOrderError(f"lock {lock} has no rank in the lock ranking of design "
                                 f"{self.design} (taken in {format_site(site)})")
        self.checked += 1
        now = _Taken(lock, site, t, p, gid)
        held = self.held.setdefault(gid, [])
        for h in held:
            if h.lock == lock:
                raise LockOrderError(f"self-deadlock: {now.describe()} while it holds it "
                                     f"({h.describe()})")
            if self.observed.has_edge(h.lock, lock):
                continue  # checked when first seen
            if lock in self.observed and nx.has_path(self.observed, lock, h.lock):
                path = nx.shortest_path(self.observed, lock, h.lock)
                seen = "; ".join(
                    f"{a} -> {b} ({self.observed.edges[a, b]['first'][0].describe()}, then "
                    f"{self.observed.edges[a, b]['first'][1].describe()})"
                    for a, b in zip(path, path[1:], strict=False))
                raise LockOrderError(
                    f"lock order cycle in design {self.design}: {h.lock} -> {lock} "
                    f"({h.describe()}, then {now.describe()}) against the order seen before: "
                    f"{seen}; goroutines taking these locks in opposite orders can deadlock")
            if not rk.has_edge(h.lock, lock):
                hr, nr = rk.nodes[h.lock], rk.nodes[lock]
                why = ("a lock of lower rank after one of higher rank" if nr["rank"] < hr["rank"]
                       else "a pair the partial order does not allow")
                raise LockOrderError(
                    f"lock order violation in design {self.design}: acquiring {lock} "
                    f"(rank {nr['rank']} {nr['rank_name']}) while holding {h.lock} "
                    f"(rank {hr['rank']} {hr['rank_name']}), {why} (`gosim locks "
                    f"{self.design}`): {now.describe()}; {h.describe()}")
            self.observed.add_edge(h.lock, lock, first=(h, now))
        held.append(now)

    def release(self, gid: int, lock: str) -> None:
        """Goroutine ``gid`` releases ``lock`` (the last acquisition of it)."""
        held = self.held[gid]
        for i in range(len(held) - 1, -1, -1):
            if held[i].lock == lock:
                del held[i]
                return
        raise LockOrderError(f"goroutine {gid} releases {lock}, which it does not hold")
