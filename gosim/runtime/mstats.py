"""Allocator statistics named after runtime.MemStats (mstats.go), in snake_case
with units, plus the allocator's own operation counters."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

#: the flow counters' keys pack a pair (goroutine id or P, then P or span class)
#: into one int, ``a << FLOW_SHIFT | b`` (no tuple to build and hash per count)
FLOW_SHIFT = 16
FLOW_MASK = (1 << FLOW_SHIFT) - 1


def flow_pair(key: int) -> tuple[int, int]:
    """The pair a flow counter's key packs."""
    return key >> FLOW_SHIFT, key & FLOW_MASK


def tally(counter: dict[int, int], key: int, n: int = 1) -> None:
    """Add ``n`` to one of MemStats's counters (a missing key counts from 0)."""
    counter[key] = counter.get(key, 0) + n


@dataclass
class MemStats:
    #: objects allocated (every non-zero mallocgc, tiny included), as MemStats.Mallocs
    mallocs: int = 0
    frees: int = 0
    #: bytes of allocated objects (rounded to their class size), as HeapAlloc
    heap_alloc_bytes: int = 0
    total_alloc_bytes: int = 0
    #: bytes the program asked for: the sum of the requested sizes of every
    #: allocation counted in ``mallocs``, before rounding up to the size class
    #: (or to whole pages) and without malloc headers; TotalAlloc minus this is
    #: the internal fragmentation of size-class rounding
    requested_bytes: int = 0
    #: tiny allocations that fit in an existing tiny block (MemStats counts them in Mallocs)
    tiny_allocs: int = 0
    #: 16-byte blocks taken for the tiny allocator
    tiny_blocks: int = 0
    large_allocs: int = 0
    large_pages: int = 0
    #: per size class: small allocations (incl. tiny blocks in class 2)
    by_size_mallocs: dict[int, int] = field(default_factory=dict)
    by_size_frees: dict[int, int] = field(default_factory=dict)
    #: allocator operation counters
    refills: dict[int, int] = field(default_factory=dict)  # per span class
    cache_span_calls: int = 0
    uncache_span_calls: int = 0
    mcentral_grow_calls: int = 0
    grow_calls: int = 0
    grow_bytes: int = 0
    alloc_span_calls: int = 0
    alloc_span_locked_calls: int = 0  # allocSpan calls that took mheap.lock
    free_span_calls: int = 0
    sys_alloc_calls: int = 0
    sys_alloc_bytes: int = 0
    page_cache_refills: int = 0
    page_cache_allocs: int = 0
    mspan_cache_refills: int = 0
    #: first writes by the allocator to fresh OS pages (span metadata, malloc headers)
    alloc_page_faults: int = 0
    #: pages the scavenger released to the OS (mgcscavenge.go)
    scavenged_pages: int = 0
    #: the allocation flow, edge by edge (gosim.analysis.flow draws it):
    #: (goroutine id, P) -> mallocs and bytes charged (as Mallocs / TotalAlloc);
    #: every flow counter is keyed by its pair packed as ``flow_pair`` reads it
    flow_g_mallocs: dict[int, int] = field(default_factory=dict)
    flow_g_bytes: dict[int, int] = field(default_factory=dict)
    #: (P, span class) -> cacheSpan calls, objects they granted, uncacheSpan calls
    flow_cache_spans: dict[int, int] = field(default_factory=dict)
    flow_cache_objects: dict[int, int] = field(default_factory=dict)
    flow_uncache_spans: dict[int, int] = field(default_factory=dict)
    #: (P, span class) -> spans mheap.alloc gave (mcentral.grow, allocLarge) and their pages
    flow_span_allocs: dict[int, int] = field(default_factory=dict)
    flow_span_alloc_pages: dict[int, int] = field(default_factory=dict)
    #: (P, span class) -> spans freeSpan took back and their pages
    flow_span_frees: dict[int, int] = field(default_factory=dict)
    flow_span_free_pages: dict[int, int] = field(default_factory=dict)

    def as_metrics(self) -> dict[str, Any]:
        d = {f.name: v for f in fields(self)
             if not isinstance(v := getattr(self, f.name), dict)}
        d["refills"] = sum(self.refills.values())
        return d
