"""Allocator statistics named after runtime.MemStats (mstats.go), in snake_case
with units, plus the allocator's own operation counters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Final

#: the flow counters' keys pack a pair (goroutine id or P, then P or span class)
#: into one int, ``a << FLOW_SHIFT | b`` (no tuple to build and hash per count)
FLOW_SHIFT: Final = 16
FLOW_MASK: Final = (1 << FLOW_SHIFT) - 1


def flow_pair(key: int) -> tuple[int, int]:
    """The pair a flow counter's key packs."""
    return key >> FLOW_SHIFT, key & FLOW_MASK


def tally(counter: dict[int, int], key: int, n: int = 1) -> None:
    """Add ``n`` to one of MemStats's dictionary counters (a missing key counts from 0)."""
    counter[key] = counter.get(key, 0) + n


class Counts:
    """A MemStats counter for small keys: a size class, a span class, or a (P,
    span class) pair packed as :func:`flow_pair` reads it. Counted in lists
    (``add``, ``add2``: an index, not a dictionary's hash and probe, on every
    refill); read like a dictionary of the keys counted so far, in key order
    (``get``, ``items``, ``values``, iteration, ``[key]``). A key whose counts
    add up to 0 reads as absent: none of the counters counts a zero."""

    def __init__(self) -> None:
        #: rows[a][b]: the count of key ``a << FLOW_SHIFT | b`` (single keys: row 0)
        self.rows: list[list[int]] = []

    def add(self, key: int, n: int = 1) -> None:
        """Add ``n`` to a single key (< 2^FLOW_SHIFT)."""
        self.add2(0, key, n)

    def add2(self, a: int, b: int, n: int = 1) -> None:
        """Add ``n`` to the pair (a, b), b < 2^FLOW_SHIFT."""
        rows = self.rows
        if a < len(rows):
            r = rows[a]
            if b < len(r):
                r[b] = r[b] + n  # (compiled: native int arithmetic; += on an item is generic)
                return
        self._add_new(a, b, n)

    def _add_new(self, a: int, b: int, n: int) -> None:
        """:meth:`add2` for a pair beyond the rows counted so far: grow them."""
        rows = self.rows
        while a >= len(rows):
            rows.append([])
        r = rows[a]
        if b >= len(r):
            # room for every span class at once (2 x 68 in Go's table): a row
            # grows once, not at each new class
            r.extend([0] * (max(b + 1, 136) - len(r)))
        r[b] = r[b] + n

    def get(self, key: int, default: int = 0) -> int:
        a = key >> FLOW_SHIFT
        b = key & FLOW_MASK
        if a < len(self.rows):
            r = self.rows[a]
            if b < len(r) and r[b]:
                return r[b]
        return default

    def __getitem__(self, key: int) -> int:
        v = self.get(key, 0)
        if not v:
            raise KeyError(key)
        return v

    def items(self) -> list[tuple[int, int]]:
        return [(a << FLOW_SHIFT | b, v) for a, r in enumerate(self.rows)
                for b, v in enumerate(r) if v]

    def keys(self) -> list[int]:
        return [k for k, _ in self.items()]

    def values(self) -> list[int]:
        return [v for _, v in self.items()]

    def __iter__(self) -> Iterator[int]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.items())

    def __contains__(self, key: int) -> bool:
        return self.get(key, 0) != 0


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
    by_size_mallocs: Counts = field(default_factory=Counts)
    by_size_frees: Counts = field(default_factory=Counts)
    #: allocator operation counters
    refills: Counts = field(default_factory=Counts)  # per span class
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
    flow_cache_spans: Counts = field(default_factory=Counts)
    flow_cache_objects: Counts = field(default_factory=Counts)
    flow_uncache_spans: Counts = field(default_factory=Counts)
    #: (P, span class) -> spans mheap.alloc gave (mcentral.grow, allocLarge) and their pages
    flow_span_allocs: Counts = field(default_factory=Counts)
    flow_span_alloc_pages: Counts = field(default_factory=Counts)
    #: (P, span class) -> spans freeSpan took back and their pages
    flow_span_frees: Counts = field(default_factory=Counts)
    flow_span_free_pages: Counts = field(default_factory=Counts)

    def as_metrics(self) -> dict[str, Any]:
        d = {f.name: v for f in fields(self)
             if not isinstance(v := getattr(self, f.name), (dict, Counts))}
        d["refills"] = sum(self.refills.values())
        return d
