"""Designs: named presets of runtime options (not forks of the code).

A design says which allocator structure is modelled (size-class table, span
layout, which locks exist, page cache, heap growth granularity). Ablations
flip one option at a time via ``design.overrides`` in a config.

Sources (Go source files as named; docs/decisions.md says what the model takes from each):
- go1.12: the seed's table; mcentral = two span lists under one lock
  (mcentral.go, Go <= 1.14); every mheap operation under mheap.lock; heap grows
  a whole 64 MiB heap arena at a time (mheap.go grow + malloc.go sysAlloc,
  Go 1.11-1.13); the treap-era page heap cost (design doc 35112).
- go1.14: + the per-P page cache (mpagecache.go) and the bitmap page allocator
  that grows in 4 MiB palloc chunks (mpagealloc.go).
- go1.15: + lock-free mcentral span sets (mcentral.go, mspanset.go).
- go1.25: today's table (24-byte class), malloc headers and heap bits at the
  end of pointerful spans of objects <= 512 B (mbitmap.go heapBitsInSpan).
- go1.27: go1.25 + Green Tea GC's inline mark bits in 16..512 B spans
  (mheap.go initSpan, mgcmark_greenteagc.go gcUsesSpanInlineMarkBits).
- tcmalloc: thread caches that move objects to and from one locked central
  free list per class in batches (gperftools tcmalloc.html); page heap under
  one lock.
- global-lock: go1.12's allocator, its heap costs included, with one lock
  around every malloc: the baseline the multi-level design is claimed to beat,
  paying the same heap and page costs as the design it is compared with.
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from gosim.errors import ConfigError, UnknownPresetError

SpanLayout = Literal["full", "heapbits", "inline_markbits"]
McentralKind = Literal["locked", "lockfree"]
McentralLock = Literal["per_class", "shared"]
HeapGrowth = Literal["arena", "chunk"]


@dataclass(frozen=True)
class Design:
    """Runtime options of one modelled allocator design."""

    name: str
    #: size-class table preset (gosim.runtime.sizeclasses)
    sizeclasses: str
    #: how objects per span are computed: 'full' = table counts; 'heapbits' =
    #: pointerful spans of objects <= 512 B keep 1/64 of the span for pointer
    #: bits (Go 1.22-1.25); 'inline_markbits' = additionally 128 bytes of
    #: inline mark bits in every 16..512 B span (Go 1.26+ Green Tea GC).
    span_layout: SpanLayout
    #: pointerful objects > 512 B carry an 8-byte malloc header (Go 1.22+)
    malloc_header: bool
    #: mcentral protected by a mutex (<= 1.14) or lock-free span sets (>= 1.15)
    mcentral: McentralKind
    #: per-P page cache (Go 1.14+, mpagecache.go)
    page_cache: bool
    #: heap growth granularity: 'arena' = whole 64 MiB heap arena per grow
    #: (Go 1.11-1.13); 'chunk' = 512-page (4 MiB) palloc chunks (Go 1.14+)
    heap_growth: HeapGrowth
    #: objects moved per mcache refill; 0 = the whole span (Go); > 0 = batched
    #: transfers from a central free list (tcmalloc)
    transfer_batch_objects: int = 0
    #: one lock around every malloc (baseline)
    global_lock: bool = False
    #: what synchronises mcentral: 'per_class' = each span class's own lock
    #: (mcentral.go: one mcentral, one lock, per span class) or span set;
    #: 'shared' = one for every class (an ablation): the locked mcentral's lists
    #: all under one mutex ``mcentral[shared]``, or every lock-free span set
    #: operation on one cell ``mcentral[shared].spanset``
    mcentral_lock: McentralLock = "per_class"
    #: tiny allocator for pointer-free objects < 16 B
    tiny_alloc: bool = True
    #: pages in the per-P page cache (64 = one uint64 bitmap)
    page_cache_pages: int = 64
    #: heap arena size (address-space reservation unit)
    heap_arena_bytes: int = 64 << 20
    #: pages per palloc chunk: the 'chunk' growth step
    palloc_chunk_pages: int = 512
    #: total address space the heap may reserve (out-of-memory beyond it)
    heap_address_space_bytes: int = 256 << 40
    #: sizeof(mspan) in bytes, for mspan_inuse_bytes (runtime/mheap.go)
    mspan_struct_bytes: int = 160
    #: sizeof(mcache) in bytes, for mcache_inuse_bytes (runtime/mcache.go)
    mcache_struct_bytes: int = 2296
    #: per-P cache of mspan structs refilled 64 at a time under mheap.lock
    #: (mheap.go allocMSpanLocked, Go 1.14+); off = one struct per span (Go 1.12)
    mspan_cache: bool = True
    #: page-run choice: 'first' = lowest address (mpagealloc.go find, Go 1.14+);
    #: 'best' = smallest adequate run (the Go <= 1.13 treap, mheap.go allocSpanLocked)
    page_fit: Literal["first", "best"] = "first"
    #: span initialisation inside mheap.lock (Go <= 1.13 alloc_m) instead of after it
    span_init_under_heap_lock: bool = False
    #: runtime.mutex implementation: 'futex' (lock_futex.go: every waiter spins,
    #: then sleeps; Go <= 1.23) or 'spinbit' (lock_spinbit.go, Go 1.24+: one
    #: spinner at a time, sleepers on a LIFO stack with a periodic tail wake)
    mutex: Literal["futex", "spinbit"] = "futex"
    #: the scavenger: 'background' (mgcscavenge.go, Go 1.13+: paced to 1% of the
    #: CPU, keeps retained memory near the heap goal + 10%) or 'periodic' (Go <= 1.12:
    #: sysmon releases spans unused for 5 minutes, every 5 minutes: never in a
    #: simulated run)
    scavenger: Literal["background", "periodic"] = "background"
    #: freeSpan returns pages under mheap.lock (as every Go release does); false
    #: is an ablation that frees without the lock
    free_span_under_heap_lock: bool = True
    #: cost-model overrides a design carries (e.g. the treap-era heap cost)
    costs: tuple[tuple[str, Any], ...] = ()

    @property
    def large_object_cutoff_bytes(self) -> int:
        """Largest size served from a size class (malloc.go: maxSmallSize - mallocHeaderSize)."""
        return 32768 - 8 if self.malloc_header else 32768

    def with_overrides(self, overrides: dict[str, Any], *, file: str | None = None,
                       key_prefix: str = "design.overrides") -> Design:
        names = {f.name for f in fields(self)} - {"name", "costs"}
        for k in overrides:
            if k not in names:
                raise ConfigError(
                    f"unknown design option {k!r}; expected one of {sorted(names)}",
                    file=file, key=f"{key_prefix}.{k}")
        if not overrides:
            return self
        return replace(self, name=self.name + "+" + ",".join(
            f"{k}={overrides[k]}" for k in sorted(overrides)), **overrides)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["costs"] = dict(self.costs)
        d["large_object_cutoff_bytes"] = self.large_object_cutoff_bytes
        return d


_GO1_12 = Design(
    name="go1.12", sizeclasses="go1.12", span_layout="full", malloc_header=False,
    mcentral="locked", page_cache=False, heap_growth="arena",
    mspan_cache=False, page_fit="best", span_init_under_heap_lock=True,
    scavenger="periodic",
    # sizeof(mspan) and sizeof(mcache) on linux/amd64 in Go 1.12 (docs/decisions.md)
    mspan_struct_bytes=160, mcache_struct_bytes=1736,
    # design doc 35112: average mheap critical section ~4.0 us in the treap era
    costs=(("pagealloc_ns", 2500),),
)

PRESETS: dict[str, Design] = {
    "go1.12": _GO1_12,
    "go1.14": replace(_GO1_12, name="go1.14", page_cache=True, heap_growth="chunk",
                      mspan_cache=True, page_fit="first", span_init_under_heap_lock=False,
                      scavenger="background", costs=()),
    "go1.15": replace(_GO1_12, name="go1.15", sizeclasses="go1.27", page_cache=True,
                      heap_growth="chunk", mcentral="lockfree", mspan_cache=True,
                      page_fit="first", span_init_under_heap_lock=False,
                      scavenger="background", costs=()),
    # sizeof(mcache) is 1208 bytes in Go 1.25 (measured: MCacheInuse / P, docs/realgo.md)
    "go1.25": Design(name="go1.25", sizeclasses="go1.27", span_layout="heapbits",
                     malloc_header=True, mcentral="lockfree", page_cache=True,
                     heap_growth="chunk", mcache_struct_bytes=1208, mutex="spinbit"),
    "go1.27": Design(name="go1.27", sizeclasses="go1.27", span_layout="inline_markbits",
                     malloc_header=True, mcentral="lockfree", page_cache=True,
                     heap_growth="chunk", mutex="spinbit"),
    "tcmalloc": Design(name="tcmalloc", sizeclasses="go1.27", span_layout="full",
                       malloc_header=False, mcentral="locked", page_cache=False,
                       heap_growth="chunk", transfer_batch_objects=32, tiny_alloc=False,
                       mspan_cache=False),
    # go1.12's allocator, heap costs included, with one lock around every malloc
    "global-lock": replace(_GO1_12, name="global-lock", global_lock=True),
}


def option_docs() -> dict[str, str]:
    """Each Design field's ``#:`` comment (the attribute-doc convention Sphinx
    reads), parsed from this file, so that the help cannot drift from the code."""
    text = Path(__file__).read_text(encoding="utf-8")
    lines = text.splitlines()
    docs: dict[str, str] = {}
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.ClassDef) and node.name == Design.__name__):
            continue
        for stmt in node.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            comment: list[str] = []
            i = stmt.lineno - 2  # the line above, 0-based
            while i >= 0 and lines[i].strip().startswith("#:"):
                comment.insert(0, lines[i].strip()[2:].strip())
                i -= 1
            docs[stmt.target.id] = " ".join(comment)
    return docs


def get_design(name: str) -> Design:
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownPresetError(
            f"unknown design preset {name!r}; expected one of {sorted(PRESETS)}") from None
