"""mallocgc and the simulated runtime that owns the heap (runtime/malloc.go).

:class:`Runtime` ties the levels together: one :class:`~gosim.runtime.mheap.MHeap`,
one :class:`~gosim.runtime.mcentral.MCentral` per span class, and one P (with
its mcache, page cache and mspan cache) per GOMAXPROCS. ``mallocgc`` has the
runtime's three paths:

- tiny: pointer-free and under 16 bytes: packed into a 16-byte block
  (malloc.go mallocgcTiny: align 8/4/2 by size; fits if offset+size <= 16);
- small: up to the design's large-object cutoff (32768, or 32760 with malloc
  headers); pointerful objects over 512 B get an 8-byte header first;
- large: ceil(size / 8 KiB) pages in a class-0 span straight from the heap.

The fast path (``try_fast``) takes no lock and touches only the P's mcache;
``slow`` refills through mcentral and mheap and may wait on their locks. The
two together are mallocgc, split where the simulation needs to tell a cache
hit from a miss; ``malloc`` runs them outside a simulation.
"""

from __future__ import annotations

from typing import Any, Final

from gosim.errors import InvalidSizeError, InvalidSpanClassError
from gosim.runtime.arena import PAGE_SHIFT, PAGE_SIZE
from gosim.runtime.context import AtomicCell, Ctx, Gen, Mutex, NoSimCtx, run_sync
from gosim.runtime.design import Design, get_design
from gosim.runtime.mcache import MCache
from gosim.runtime.mcentral import MCentral, SpanSeq
from gosim.runtime.mheap import MHeap
from gosim.runtime.mspan import (
    MALLOC_HEADER_BYTES,
    MIN_SIZE_FOR_MALLOC_HEADER,
    MSpan,
    MSpanState,
)
from gosim.runtime.mstats import MemStats
from gosim.runtime.runtime2 import P
from gosim.runtime.sizeclasses import get_table

#: maxTinySize (malloc.go)
MAX_TINY_SIZE: Final = 16
#: &zerobase: what mallocgc(0) returns
ZEROBASE: Final = 0x1

TINY: Final = 0
SMALL: Final = 1
LARGE: Final = 2
ZERO: Final = 3


class Runtime:
    """The allocator of one simulated Go program."""

    def __init__(self, design: Design | str = "go1.27", gomaxprocs: int = 1) -> None:
        if isinstance(design, str):
            design = get_design(design)
        if gomaxprocs < 1:
            raise InvalidSpanClassError(f"gomaxprocs must be >= 1, got {gomaxprocs}")
        self.design = design
        self.table = get_table(design.sizeclasses)
        self.stats = MemStats()
        self.mheap = MHeap(design, self.table, self.stats)
        self.num_span_classes = self.table.num_size_classes << 1
        batched = design.transfer_batch_objects > 0
        self.ps: list[P] = [P(i, MCache(self.num_span_classes, batched))
                            for i in range(gomaxprocs)]
        #: design.mcentral_lock 'shared': the one lock (or span-set cell) of every mcentral
        self.shared_central: Mutex | AtomicCell | None = None
        if design.mcentral_lock == "shared":
            self.shared_central = (Mutex("mcentral[shared]", "mcentral")
                                   if design.mcentral == "locked" else
                                   AtomicCell("mcentral[shared].spanset", "spanset"))
        seqs = SpanSeq()  # every mcentral's span sets number their entries from one count
        self.central = [MCentral(self.mheap, self.ps, spc, design, self.shared_central, seqs)
                        for spc in range(self.num_span_classes)]
        self.tiny_spanclass = (self.table.tiny_size_class << 1) | 1
        #: the global-lock design's one lock around every malloc
        self.global_lock = Mutex("global", "global") if design.global_lock else None
        self.large_cutoff = design.large_object_cutoff_bytes
        #: the collector's pacer hooks (gosim.sim.gc.SimGC; None: no collector)
        self.gc_hook: Any = None
        #: (size << 1 | noscan) -> classify's answer
        self._classify_cache: dict[int, tuple[int, int, int]] = {}

    # -- classification ------------------------------------------------------------
    def classify(self, size: int, noscan: bool) -> tuple[int, int, int]:
        """(path, span class, bytes charged) for a request, as mallocgc decides."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidSizeError(f"invalid allocation size {size!r}: expected an integer >= 0")
        key = size << 1 | noscan
        r = self._classify_cache.get(key)
        if r is not None:
            return r
        d = self.design
        if size == 0:
            r = (ZERO, 0, 0)
        elif noscan and size < MAX_TINY_SIZE and d.tiny_alloc:
            r = (TINY, self.tiny_spanclass, MAX_TINY_SIZE)
        elif size <= self.large_cutoff:
            req = size
            if d.malloc_header and not noscan and size > MIN_SIZE_FOR_MALLOC_HEADER:
                req = size + MALLOC_HEADER_BYTES  # mallocgcSmallScanHeader
            sc = self.table.size_to_class(req)
            r = (SMALL, (sc << 1) | int(noscan), self.table.class_to_size(sc))
        else:
            npages = -(-size // PAGE_SIZE)
            r = (LARGE, int(noscan), npages * PAGE_SIZE)
        if len(self._classify_cache) < 1 << 16:
            self._classify_cache[key] = r
        return r

    # -- the fast path (no lock, no shared state) ------------------------------------
    def tiny_fit(self, c: MCache, size: int) -> int:
        """Try to pack a tiny object into the P's current tiny block; 0 if it does not fit."""
        off = c.tiny_offset
        if size & 7 == 0:
            off = (off + 7) & ~7
        elif size & 3 == 0:
            off = (off + 3) & ~3
        elif size & 1 == 0:
            off = (off + 1) & ~1
        if off + size <= MAX_TINY_SIZE and c.tiny != 0:
            c.tiny_offset = off + size
            c.tiny_allocs += 1
            st = self.stats
            st.tiny_allocs += 1
            st.mallocs += 1
            st.requested_bytes += size
            return c.tiny + off
        return 0

    def _tiny_new_block(self, c: MCache, block: int, size: int) -> int:
        # malloc.go: keep whichever block has more room left
        if size < c.tiny_offset or c.tiny == 0:
            c.tiny = block
            c.tiny_offset = size
        return block

    def count_small(self, c: MCache, spc: int, elemsize: int, n: int, requested: int) -> None:
        """Account n small allocations from P-local cache ``c`` (and globally);
        ``requested``: the bytes they asked for, together."""
        c.local_small_allocs += n
        st = self.stats
        st.mallocs += n
        st.requested_bytes += requested
        st.heap_alloc_bytes += n * elemsize
        st.total_alloc_bytes += n * elemsize
        st.by_size_mallocs.add(spc >> 1, n)

    def try_fast(self, p: int, size: int, noscan: bool) -> int:
        """nextFreeFast: allocate from the P's cache if possible; 0 if the slow path is needed."""
        kind, spc, elemsize = self.classify(size, noscan)
        return self.try_fast_as(p, size, kind, spc, elemsize)

    def try_fast_as(self, p: int, size: int, kind: int, spc: int, elemsize: int) -> int:
        """:meth:`try_fast` for a request already classified (``classify``'s answer)."""
        c = self.ps[p].mcache
        if kind == TINY:
            a = self.tiny_fit(c, size)
            if a:
                return a
            if c.avail[spc] > 0:
                block = c.take(spc)
                self.count_small(c, spc, elemsize, 1, size)
                self.stats.tiny_blocks += 1
                return self._tiny_new_block(c, block, size)
            return 0
        if kind == SMALL and c.avail[spc] > 0:
            a = c.take(spc)
            self.count_small(c, spc, elemsize, 1, size)
            return a
        if kind == ZERO:
            return ZEROBASE
        return 0

    # -- the slow path ------------------------------------------------------------------
    def slow(self, ctx: Ctx, size: int, noscan: bool) -> Gen[int]:
        """What mallocgc does when the cache cannot serve the request."""
        kind, spc, elemsize = self.classify(size, noscan)
        return self.slow_as(ctx, size, noscan, kind, spc, elemsize)

    def slow_as(self, ctx: Ctx, size: int, noscan: bool, kind: int, spc: int,
                elemsize: int) -> Gen[int]:
        """:meth:`slow` for a request already classified (``classify``'s answer)."""
        pp = self.ps[ctx.p]
        c = pp.mcache
        if kind == LARGE:
            return (yield from self.alloc_large(ctx, pp, size, noscan))
        # c.nextFree: the cached span is exhausted -> refill
        self.stats.refills.add(spc)
        yield from c.refill(ctx, self.central[spc], spc)
        hook = self.gc_hook
        if hook is not None:
            # mcache.go refill: heapLive grows by the span's bytes not yet allocated
            s = c.alloc[spc]
            assert s is not None
            yield from hook.refilled(ctx, s.npages * PAGE_SIZE - s.alloc_count * s.elemsize)
        a = c.take(spc)
        self.count_small(c, spc, elemsize, 1, size)
        if kind == TINY:
            self.stats.tiny_blocks += 1
            return self._tiny_new_block(c, a, size)
        return a

    def alloc_large(self, ctx: Ctx, pp: P, size: int, noscan: bool) -> Gen[int]:
        """mcache.go allocLarge: a class-0 span of ceil(size/8 KiB) pages."""
        npages = -(-size // PAGE_SIZE)
        spc = int(noscan)
        ctx.spend("large_alloc_ns")
        sweeper = self.mheap.sweeper
        if sweeper is not None and sweeper.active:
            w = sweeper.deduct_sweep_credit(ctx, npages)
            if w:
                yield from w
            yield from sweeper.reclaim(ctx, npages)
        s = yield from self.mheap.alloc(ctx, pp, npages, spc)
        s.alloc_bits = 1
        s.alloc_count = 1
        s.freeindex = 1
        if pp.mcache.marking:
            s.mark_bits = 1  # allocated black
        if self.gc_hook is not None:
            yield from self.gc_hook.refilled(ctx, npages * PAGE_SIZE)
        yield from self.central[spc].push_full(ctx, s)
        if s.needzero:
            ctx.spend("zero_per_byte_ns", size)
            if self.mheap.cold():  # reused memory of a heap out of cache (MHeap.cold_bytes)
                ctx.spend("cold_alloc_ns")
                ctx.spend("cold_per_byte_ns", size)
            elif self.mheap.remote_on and self.mheap.remote(s, ctx.p):
                ctx.spend("remote_per_byte_ns", size)
        elif self.mheap.remote_on:
            self.mheap.remote(s, ctx.p)  # fresh memory: this P writes it first
        st = self.stats
        st.mallocs += 1
        st.large_allocs += 1
        st.large_pages += npages
        st.requested_bytes += size
        st.heap_alloc_bytes += npages * PAGE_SIZE
        st.total_alloc_bytes += npages * PAGE_SIZE
        ctx.count_malloc(st, npages * PAGE_SIZE)
        return s.base

    # -- synchronous conveniences (no simulation) ----------------------------------------
    def malloc(self, size: int, noscan: bool = True, p: int = 0) -> int:
        """mallocgc on P ``p``, uncontended and timeless; returns the object's
        address (ZEROBASE for size 0). The global-lock design's lock is taken
        around try_fast and slow by the simulation's step path (gosim.sim), the
        only place where a lock costs anything."""
        return self.try_fast(p, size, noscan) or run_sync(self.slow(NoSimCtx(p), size, noscan))

    def free(self, addr: int, p: int = 0) -> None:
        """Free the object at ``addr`` (the sweeper's job, mgcsweep.go): its slot
        returns to the span; a span left with no object returns to the heap,
        which coalesces free page runs."""
        run_sync(self.free_object(NoSimCtx(p), addr))

    def free_object(self, ctx: Ctx, addr: int) -> Gen[None]:
        """Free one object under ``ctx``: a large object's span goes straight back
        to the heap (mheap.go freeSpan); a small object's slot returns to its span."""
        s = self.mheap.span_of(addr)
        if s is None or s.state != MSpanState.IN_USE:
            raise InvalidSizeError(f"free of address {addr:#x} that is not in an in-use span")
        central = self.central[s.spanclass]
        st = self.stats
        if s.size_class == 0:
            if addr != s.base:
                raise InvalidSizeError(f"free of {addr:#x}: not the start of a large object")
            s.alloc_bits = 0
            s.alloc_count = 0
            central.remove(s)
            st.frees += 1
            st.heap_alloc_bytes -= s.npages * PAGE_SIZE
            st.by_size_frees.add(0)
            yield from self.mheap.free_span(ctx, self.ps[ctx.p], s)
            return
        st.frees += 1
        st.heap_alloc_bytes -= s.elemsize
        st.by_size_frees.add(s.size_class)
        yield from self._return_slot(ctx, s, addr)

    def _return_slot(self, ctx: Ctx, s: MSpan, addr: int) -> Gen[None]:
        """A slot goes back to its span; the span moves lists or returns to the heap."""
        central = self.central[s.spanclass]
        idx = s.object_index(addr)
        s.free_index(idx)
        if s.in_cache:
            if idx >= s.freeindex:
                # ahead of the owning cache's free index, where its scan for the
                # next free slot (alloc_one) finds it: that cache has one more
                for pp in self.ps:
                    c = pp.mcache
                    if not c.batched and c.alloc[s.spanclass] is s:
                        c.avail[s.spanclass] += 1
            return
        if s.alloc_count == 0:
            central.remove(s)
            yield from self.mheap.free_span(ctx, self.ps[ctx.p], s)
        elif s.on_list == "full":
            central.to_partial(s)

    def release_all(self, p: int = 0) -> None:
        """mcache.releaseAll: return every cached span to its mcentral."""
        ctx = NoSimCtx(p)
        c = self.ps[p].mcache
        for spc, s in enumerate(c.alloc):
            if s is None:
                continue
            if c.batched:
                # a thread cache gives its unused objects back to the central list
                for addr in c.reserved[spc]:
                    rs = self.mheap.span_of(addr)
                    assert rs is not None
                    run_sync(self._return_slot(ctx, rs, addr))
                c.reserved[spc] = []
            else:
                w = self.central[spc].uncache_span(ctx, s)
                if w:
                    run_sync(w)
                if s.alloc_count == 0:  # the sweeper would free an empty span
                    self.central[spc].remove(s)
                    run_sync(self.mheap.free_span(ctx, self.ps[p], s))
            c.alloc[spc] = None
            c.avail[spc] = 0
        c.tiny = 0
        c.tiny_offset = 0

    def gc_heap_live(self) -> int:
        """The pacer's heapLive (0 without a collector)."""
        return self.gc_hook.heap_live() if self.gc_hook is not None else 0

    # -- statistics -------------------------------------------------------------------------
    def memstats(self) -> dict[str, Any]:
        h = self.mheap
        st = self.stats
        m = st.as_metrics()
        m.update(
            heap_inuse_bytes=h.heap_inuse_bytes,
            heap_sys_bytes=h.sys_bytes,
            heap_idle_bytes=h.sys_bytes - h.heap_inuse_bytes,
            heap_released_bytes=h.heap_released_bytes,
            heap_reserved_bytes=h.reserved_bytes,
            heap_objects=st.mallocs - st.tiny_allocs - st.frees,
            mspan_inuse_bytes=h.mspan_inuse_bytes,
            mcache_inuse_bytes=len(self.ps) * self.design.mcache_struct_bytes,
            spans_inuse=len(h.spans),
        )
        return m

    def by_size(self) -> list[dict[str, Any]]:
        rows = []
        refills = self.stats.refills  # per span class
        spans_by_class: dict[int, int] = {}
        for s in self.mheap.spans.values():
            spans_by_class[s.size_class] = spans_by_class.get(s.size_class, 0) + 1
        for sc in range(self.table.num_size_classes):
            rows.append({
                "size_class": sc,
                "size_bytes": self.table.class_to_size(sc) if sc else 0,
                "mallocs": self.stats.by_size_mallocs.get(sc, 0) if sc else self.stats.large_allocs,
                "frees": self.stats.by_size_frees.get(sc, 0),
                "spans_inuse": spans_by_class.get(sc, 0),
                "refills": refills.get(sc << 1, 0) + refills.get(sc << 1 | 1, 0),
                "refills_scan": refills.get(sc << 1, 0),
                "refills_noscan": refills.get(sc << 1 | 1, 0),
            })
        return rows

    def check_invariants(self) -> None:
        """Raise AssertionError if the heap's structures disagree with each other."""
        h = self.mheap
        assert sum(p.mcache.tiny_allocs for p in self.ps) == self.stats.tiny_allocs
        assert sum(p.mcache.local_small_allocs for p in self.ps) == \
            sum(self.stats.by_size_mallocs.values())
        seen: dict[int, int] = {}
        inuse = 0
        for start, s in h.spans.items():
            assert s.start_page == start and s.state == MSpanState.IN_USE
            assert 0 <= s.alloc_count <= s.nelems, (s.sid, s.alloc_count, s.nelems)
            assert s.alloc_count == bin(s.alloc_bits).count("1")
            assert s.alloc_bits >> s.nelems == 0
            for pg in range(start, start + s.npages):
                assert pg not in seen, f"page {pg} in spans {seen[pg]} and {s.sid}"
                seen[pg] = s.sid
                assert h.span_of_page(pg) is s
                assert not h.free.contains(pg, 1), f"in-use page {pg} is free"
            inuse += s.npages
        assert sum(len(row) - row.count(None) for row in h.arena_spans.values()) == inuse
        assert inuse == h.pages_inuse
        cached = sum(p.pcache.free_pages() for p in self.ps)
        sys_pages = h.sys_bytes >> PAGE_SHIFT
        # the heap base's padding (go1.27, mheap.go grow): neither in use nor free
        assert sys_pages == inuse + h.free.total + cached + h.padding_pages, \
            (sys_pages, inuse, h.free.total, cached, h.padding_pages)
        for pg in range(h.padding_start, h.padding_start + h.padding_pages):
            assert pg not in seen and not h.free.contains(pg, 1), f"padding page {pg} in use"
        runs = h.free.runs()
        for (a, n), (b, _) in zip(runs, runs[1:], strict=False):
            assert a + n < b, "free runs not coalesced"
        reserved = sum(len(r) for r in (c.mcache.reserved for c in self.ps)) if \
            self.design.transfer_batch_objects else 0
        live_bytes = sum(s.alloc_count * s.elemsize for s in h.spans.values())
        reserved_bytes = sum(
            len(res) * self.table.class_to_size(spc >> 1)
            for p in self.ps if p.mcache.batched
            for spc, res in enumerate(p.mcache.reserved))
        assert self.stats.heap_alloc_bytes == live_bytes - reserved_bytes, \
            (self.stats.heap_alloc_bytes, live_bytes, reserved_bytes, reserved)
        for spc, central in enumerate(self.central):
            for s in central.partial.values():
                assert s.state == MSpanState.IN_USE and s.free_count() > 0 and s.spanclass == spc
                assert s.on_list == "partial"  # (a span is in one set at most: SpanSet.push)
        for p in self.ps:
            c = p.mcache
            if not c.batched:
                for spc, cs in enumerate(c.alloc):
                    if cs is not None and cs.state == MSpanState.IN_USE:
                        assert c.avail[spc] == cs.free_slots_ahead(), (spc, c.avail[spc])


__all__ = ["Runtime", "ZEROBASE"]
