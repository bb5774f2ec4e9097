"""mcache: the per-P cache of spans (runtime/mcache.go).

Holds one cached span per span class (``alloc``) and the tiny block. Taking
an object from the cached span touches no shared state and takes no lock;
``refill`` swaps the exhausted span for one from the class's mcentral.

``avail[spc]`` is how many objects the cache can still hand out for a span
class: the cached span's free slots (Go), or the objects left from the last
batched transfer (the tcmalloc design, where ``reserved`` holds their
addresses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gosim.runtime.context import Ctx, Gen

if TYPE_CHECKING:
    from gosim.runtime.mcentral import MCentral
    from gosim.runtime.mspan import MSpan


class MCache:
    __slots__ = ("alloc", "avail", "reserved", "tiny", "tiny_offset", "batched", "tiny_allocs",
                 "local_small_allocs", "marking", "last_new")

    def __init__(self, num_span_classes: int, batched: bool) -> None:
        #: cached span per span class (None plays emptymspan)
        self.alloc: list[MSpan | None] = [None] * num_span_classes
        self.avail: list[int] = [0] * num_span_classes
        #: batched-transfer designs: addresses handed to this cache, per span class
        self.reserved: list[list[int]] = [[] for _ in range(num_span_classes)] if batched else []
        self.batched = batched
        #: the tiny block's base address (0 = none) and the next free offset in it
        self.tiny = 0
        self.tiny_offset = 0
        #: local stats (mcache.go tinyAllocs; per-P small-allocation count),
        #: folded into MemStats as ReadMemStats does when it flushes the caches
        self.tiny_allocs = 0
        self.local_small_allocs = 0
        #: the collector is marking: new objects are allocated black (mgcmark.go
        #: gcmarknewobject)
        self.marking = False
        #: slots (a bitmask of the cached span) of the last ``take(..., track=True)``
        self.last_new = 0

    def take(self, spc: int, n: int = 1, track: bool = False) -> int:
        """Hand out n cached objects of span class spc (n <= avail[spc]): the
        nextFreeFast path. Returns the address of the last object. While the
        collector marks, the objects are allocated black; with ``track`` the
        slots taken are left in ``last_new`` (a bitmask of the span) for the
        caller's liveness bookkeeping."""
        self.avail[spc] = self.avail[spc] - n  # (compiled: native; -= on an item is generic)
        if self.batched:
            res = self.reserved[spc]
            addr = res[n - 1]
            del res[:n]
            return addr  # a thread cache (tcmalloc): no collector (docs/decisions.md)
        s = self.alloc[spc]
        assert s is not None  # avail[spc] > 0: a span is cached
        if not (self.marking or track):
            return s.alloc_one() if n == 1 else s.alloc_many(n)
        before = s.alloc_bits
        addr = s.alloc_one() if n == 1 else s.alloc_many(n)
        new = s.alloc_bits & ~before
        if self.marking:
            s.mark_bits |= new
        self.last_new = new
        return addr

    def refill(self, ctx: Ctx, central: MCentral, spc: int) -> Gen[None]:
        """mcache.go refill: return the exhausted span, get a new one from mcentral."""
        s = self.alloc[spc]
        if s is not None and not self.batched:
            if s.next_free_index() != s.nelems:
                raise RuntimeError("refill of span with free space remaining")
            w = central.uncache_span(ctx, s, from_refill=True)
            if w:
                yield from w
        s, granted, reserved = yield from central.cache_span(ctx)
        # reused memory of a heap bigger than the cache: every object of it is
        # written from DRAM (decided once, so a batch and the step path agree)
        s.cold = s.needzero and central.heap.cold()
        # reused memory another P's core wrote last: its lines move over
        s.remote = central.heap.remote_on and central.heap.remote(s, ctx.p)
        self.alloc[spc] = s
        self.avail[spc] = granted
        if self.batched:
            self.reserved[spc] = reserved
        ctx.spend("refill_ns")
