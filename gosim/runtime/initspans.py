"""The spans a real Go program holds before its workload starts, replayed.

Before ``main`` runs, the Go runtime and the program's package initialisers
allocate spans: small-object spans of many size classes, goroutine stacks
(stackpool spans of 32 KiB), GC work buffers, the P structures. They take the
heap's lowest pages, in an order no allocator choice of the workload can
change, and a collection before the workload (the measuring program calls
``runtime.GC()``) frees those that hold only garbage, leaving one- and
two-page holes among the ones that stay.

That layout decides what a P's page cache holds (mpagecache.go): allocToCache
takes the 64-page chunk of the lowest free page, so the first refills take
the start-up region's leftovers and holes, and ``pageCache.allocN`` serves an
allocation of several pages only from a run of free pages within the cache.
A cache left holding a hole of one to three pages cannot serve a 4-page
span, and it is not emptied by failing (mheap.go allocSpan falls through to
the page allocator under ``mheap.lock`` and leaves the cache as it was), so
every later allocation of that size on that P takes the heap lock: with the
GC on, 98-99% of the real runtime's 32 KiB allocations at GOMAXPROCS 1 and 2
(docs/groundtruth.md, "The page cache"; ``scripts/measure.py pagecache``
counts them with uprobes). A model heap that starts empty and aligned never
fragments that way and serves nearly all of them from the caches.

The sequences are measured, not invented: ``scripts/measure.py pagecache``
records the probe's own span allocations and frees before its workload (Linux
uprobes on ``mheap.allocSpan`` and ``freeSpanLocked``) at several GOMAXPROCS,
with the collector on and off (GOGC=off is another start-up: no GC work
buffers, no collection before the workload), and each recorded process's
randomized-heap-base padding (a uprobe on ``markRandomPaddingPages``: go1.27
marks a random 0-511 pages at the start of the heap's first chunk allocated,
mheap.go grow), and writes ``init_spans_go1.27.yaml`` beside this file. The
simulation pads the model's heap as the recorded process's was
(``MHeap.base_padding``) before the replay; without the padding the 64-page
blocks the page caches take are aligned differently and, from two Ps on,
the replayed layout parts from the real one within a few dozen spans. :func:`replay` runs a
sequence through the model's own allocator (mheap.alloc on the P each span
came from, or without a P's caches where the runtime had none yet, so the
page caches, the page allocator and heap growth decide where each span goes,
as in the runtime), before time 0 and free of cost. The spans are the runtime's:
no object of the workload's is in them, they are in no mcentral list, the
collector neither marks nor sweeps them (they stand for live runtime objects,
stacks and buffers, whose bytes the pacer already counts through
``runtime_heap_bytes`` where a profile sets it). Off unless the cost
``runtime_init_spans`` is 1.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gosim.runtime.context import NoSimCtx, run_sync

if TYPE_CHECKING:
    from gosim.runtime.malloc import Runtime
    from gosim.runtime.mspan import MSpan

#: what :func:`replay` replays (written by ``scripts/measure.py pagecache``)
DATA = Path(__file__).with_name("init_spans_go1.27.yaml")


#: the recordings' GC modes: the collector on (the probe's ``runtime.GC()``
#: frees the start-up garbage before the workload) and off (GOGC=off: no
#: cycle, no GC work buffers, so a start-up of other spans in another order)
MODES = ("gc", "nogc")


def _mode(gc: bool) -> str:
    return "gc" if gc else "nogc"


@functools.cache
def _data(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def load(path: Path = DATA, *, gc: bool = True) -> dict[int, list[dict[str, int]]]:
    """GOMAXPROCS -> the measured start-up's operations with the collector on
    (``gc``) or off, in order: ``alloc`` (``npages``, Go's ``typ`` and
    ``spanclass``, the real span's ``page``, and ``p``, the P it was
    allocated on: -1 for an M without one) and ``free`` (``alloc``: the
    index of the allocation it frees)."""
    rec = _data(path)[_mode(gc)]
    return {int(p): list(ops) for p, ops in rec["procs"].items()}


def paddings(path: Path = DATA, *, gc: bool = True) -> dict[int, int]:
    """GOMAXPROCS -> the randomized heap base's padding (pages, mheap.go grow)
    in the process each start-up was recorded in."""
    rec = _data(path)[_mode(gc)]
    return {int(p): int(n) for p, n in (rec.get("padding") or {}).items()}


def padding_for(nprocs: int, path: Path = DATA, *, gc: bool = True) -> int:
    """The padding of the process whose start-up :func:`replay` replays at
    ``nprocs`` (0 if not recorded)."""
    p, _ = sequence_for(nprocs, path, gc=gc)
    return paddings(path, gc=gc).get(p, 0)


def sequence_for(nprocs: int, path: Path = DATA, *,
                 gc: bool = True) -> tuple[int, list[dict[str, int]]]:
    """The start-up measured at the largest GOMAXPROCS not above ``nprocs``
    (the smallest measured one below it): (that GOMAXPROCS, its operations).
    Start-up grows with the P count (a p struct and the mark workers' stacks
    per P), so a sequence measured with more Ps than the run has would put
    more of the heap's bottom in use than the run's runtime would."""
    seqs = load(path, gc=gc)
    below = [p for p in seqs if p <= nprocs]
    p = max(below) if below else min(seqs)
    return p, seqs[p]


def replay(rt: Runtime, nprocs: int, *, gc: bool, path: Path = DATA) -> list[MSpan]:
    """Allocate the start-up measured in the run's GC mode through ``rt``'s
    heap, each span on the P it was allocated on (its page cache included),
    and free what that start-up freed (with the collector on, the start-up
    garbage the measuring program's ``runtime.GC()`` frees before the
    workload; GOGC=off runs no cycle and frees nothing). Returns every span
    allocated, freed ones included (state DEAD)."""
    _, ops = sequence_for(nprocs, path, gc=gc)
    h = rt.mheap
    spans: list[MSpan] = []
    for op in ops:
        if op["op"] == "alloc":
            # on the P it ran on (a sequence is measured at no more Ps than the
            # run has); -1, an M without a P: the locked path, no page cache.
            # A class-0 span of the measured length: which size class or kind
            # (stack, work buffer) it was does not change where its pages go
            p = int(op.get("p", 0))
            pp = rt.ps[p] if 0 <= p < len(rt.ps) else rt.ps[0]
            spans.append(run_sync(h.alloc(NoSimCtx(pp.id), pp, int(op["npages"]), 0,
                                          use_pcache=p >= 0)))
        else:
            run_sync(h.free_span(NoSimCtx(0), rt.ps[0], spans[int(op["alloc"])]))
    return spans


__all__ = ["DATA", "MODES", "load", "padding_for", "paddings", "replay", "sequence_for"]
