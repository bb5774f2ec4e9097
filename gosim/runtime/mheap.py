"""mheap: the page heap (runtime/mheap.go, mpagealloc.go, malloc.go sysAlloc).

One instance per simulated runtime. Everything that touches it is guarded by
``lock`` (mheap.lock) as in the runtime: the page allocator, span-struct
allocation, heap growth (``grow`` -> ``sys_alloc``), freeing spans and
page-cache refills. Page numbers are absolute (address >> 13) in a simulated
address space that starts where the runtime's first arena hint does
(0x00c000000000 on linux/amd64, malloc.go mallocinit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from gosim.errors import OutOfMemoryError
from gosim.runtime.arena import PAGE_SHIFT, PAGE_SIZE
from gosim.runtime.context import AtomicCell, Ctx, Gen, Mutex
from gosim.runtime.mem_linux import page_faults
from gosim.runtime.mgcsweep import GCBitsArenas, mark_bits_bytes
from gosim.runtime.mpagecache import PageCache
from gosim.runtime.mspan import (
    MIN_SIZE_FOR_MALLOC_HEADER,
    OS_PAGES_PER_PAGE,
    MSpan,
    MSpanState,
    objects_per_span,
    writes_span_metadata,
)
from gosim.runtime.runset import RunSet

if TYPE_CHECKING:
    from gosim.runtime.design import Design
    from gosim.runtime.mgcsweep import Sweeper
    from gosim.runtime.mstats import MemStats
    from gosim.runtime.runtime2 import P
    from gosim.runtime.sizeclasses import SizeClassTable

#: first arena hint on linux/amd64 (malloc.go mallocinit: 0x00c0 << 32)
ARENA_HINT_BASE: Final = 0x00C0 << 32
#: mspancache buffer size per P (runtime2.go p.mspancache.buf)
MSPAN_CACHE_SLOTS: Final = 128


def _os_page_mask(page_bits: int, npages: int) -> int:
    """Runtime-page bitmap -> OS-page bitmap (each 8 KiB page is two 4 KiB ones)."""
    out = 0
    full = (1 << OS_PAGES_PER_PAGE) - 1
    for i in range(npages):
        if page_bits >> i & 1:
            out |= full << (i * OS_PAGES_PER_PAGE)
    return out


class MHeap:
    def __init__(self, design: Design, table: SizeClassTable, stats: MemStats) -> None:
        self.design = design
        self.table = table
        self.stats = stats
        self.lock = Mutex("mheap", "mheap")
        #: the kernel's page-fault path for this process (mm locks, page
        #: allocation, LRU): every first write to a fresh 4 KiB page goes through it
        self.os_faults = AtomicCell("os.pagefault", "pagefault")
        #: the same path for memory sysAlloc maps outside the heap (the GC bits
        #: arenas): a cell of its own only when the memory map's write lock is
        #: modelled (the simulation replaces it), else ``os_faults`` itself
        self.os_faults_new = self.os_faults
        #: heap growth takes the memory map for writing through ``os_faults``
        #: (the simulation sets it when ``mmap_write_ns`` is on)
        self.mm_write = False
        #: free pages known to the page allocator (not in spans, not in page caches)
        self.free = RunSet()
        #: pages never used since the OS gave them (released/scavenged), wherever they are
        self.scav = RunSet()
        #: in-use spans by start page
        self.spans: dict[int, MSpan] = {}
        #: heap arena index -> heapArena.zeroedBase, in pages (allocNeedsZero)
        self.zeroed_base: dict[int, int] = {}
        #: heap arena index -> the span of each of its pages (None: not in use),
        #: as each heapArena's ``spans`` array (mheap.go setSpans, spanOf)
        self.arena_spans: dict[int, list[MSpan | None]] = {}
        self.pages_inuse = 0
        #: the last-level cache's size when the cold-memory costs are on (0: off):
        #: a heap with more bytes in use than this is out of cache, so reused
        #: memory (and the spans' metadata) is read and written from DRAM
        self.cold_bytes = 0
        #: the remote-memory cost is on: ``page_writer`` is kept
        self.remote_on = False
        #: a span's first page -> the P that last allocated (wrote) from the span
        #: there; spans remade on the same pages find their memory's last writer
        self.page_writer: dict[int, int] = {}
        self.sys_bytes = 0  # HeapSys: mapped for the heap
        self.reserved_bytes = 0  # address space reserved via sysAlloc
        self.arena_hint = ARENA_HINT_BASE
        self.arenas: list[tuple[int, int]] = []  # (base address, bytes) reserved
        # Go 1.14+: the current arena being grown into in palloc chunks
        self.cur_arena_base = 0
        self.cur_arena_end = 0
        #: go1.27's randomized heap base (GOEXPERIMENT RandomizedHeapBase64):
        #: pages the heap's first growth marks allocated at the start of its
        #: first chunk (the simulation sets it with ``random_heap_base``; 0: none)
        self.base_padding = 0
        #: the padding pages once marked: (first page, count); never in a span,
        #: never free, released from the start (mpagealloc.go markRandomPaddingPages)
        self.padding_start = 0
        self.padding_pages = 0
        # fixalloc of mspan structs: structs handed out (MSpanInuse / sizeof(mspan))
        self.spanalloc_inuse = 0
        #: structs freed back to fixalloc (its free list, handed out again before
        #: any is carved from a chunk), and whether the struct handed out last
        #: was never used; kept when ``fresh_structs`` is on (the simulation
        #: sets it with ``mspan_fresh_ns``)
        self.spanalloc_free = 0
        self.last_struct_fresh = False
        self.fresh_structs = False
        self._next_sid = 1
        #: mheap.sweepgen: += 2 at every cycle's mark termination (mgc.go gcSweep)
        self.sweepgen = 0
        #: the collector's sweeper (None: no collector)
        self.sweeper: Sweeper | None = None
        #: where span mark and allocation bitmaps come from (mheap.go gcBitsArenas);
        #: None for designs without them (a thread-caching malloc)
        self.gcbits: GCBitsArenas | None = (GCBitsArenas(self)
                                            if design.transfer_batch_objects == 0 else None)
        #: (pages << 16 | span class) -> what initSpan derives from them (_span_geometry)
        self._geometry: dict[int, tuple[int, int, int, bool, bool]] = {}
        #: the words every span allocation writes outside the heap lock (the
        #: arena's zeroedBase and pageInUse bits, pagesInUse, memstats) as a
        #: cache line every P's allocations move (the simulation sets it when
        #: ``heap_line_ns`` is on; None: those writes cost nothing extra)
        self.line: AtomicCell | None = None
        # the design's switches that every span allocation reads, as this native
        # object's own fields (a Design is an interpreted object: each attribute
        # read there is a dictionary lookup)
        self._page_cache = design.page_cache
        #: spans of fewer pages come from the P's page cache (mheap.go allocSpan:
        #: npages < pageCachePages/4)
        self._page_cache_limit = design.page_cache_pages // 4
        self._mspan_cache = design.mspan_cache
        self._span_init_locked = design.span_init_under_heap_lock
        self._free_span_locked = design.free_span_under_heap_lock
        self._arena_pages = design.heap_arena_bytes >> PAGE_SHIFT

    # -- sysAlloc / grow (malloc.go sysAlloc, mheap.go grow) ------------------------
    def sys_alloc(self, nbytes: int) -> tuple[int, int]:
        """malloc.go sysAlloc: reserve address space in whole heap arenas;
        returns (base address, bytes)."""
        arena = self.design.heap_arena_bytes
        n = -(-nbytes // arena) * arena
        if self.reserved_bytes + n > self.design.heap_address_space_bytes:
            raise OutOfMemoryError(
                f"out of memory: cannot reserve {n} bytes (reserved {self.reserved_bytes}, "
                f"limit {self.design.heap_address_space_bytes})")
        base = self.arena_hint
        self.arena_hint += n
        self.arenas.append((base, n))
        self.reserved_bytes += n
        self.stats.sys_alloc_calls += 1
        self.stats.sys_alloc_bytes += n
        return base, n

    def grow(self, ctx: Ctx, npages: int) -> int:
        """mheap.go grow: add at least npages free pages to the heap. Caller holds ``lock``.

        'chunk' growth (Go 1.14+): ask = alignUp(npages, 512) pages, carved out
        of the current arena, sysAlloc'ing another arena when it runs out.
        'arena' growth (Go 1.11-1.13): sysAlloc the request rounded up to whole
        arenas and make all of it free at once.
        """
        self.stats.grow_calls += 1
        ctx.spend("grow_ns")
        if self.design.heap_growth == "chunk":
            chunk = self.design.palloc_chunk_pages
            # the padding of a randomized base (below) comes out of the first
            # growth; asked for on top, so that the growth still fits npages
            # (the runtime's first growth is its own tiny start-up allocation)
            pad = self.base_padding if self.sys_bytes == 0 else 0
            ask = -(-(npages + pad) // chunk) * chunk * PAGE_SIZE
            if self.cur_arena_base + ask > self.cur_arena_end:
                ctx.spend("sysalloc_ns")
                av, asize = self.sys_alloc(ask)
                if av == self.cur_arena_end:
                    self.cur_arena_end = av + asize
                else:
                    if self.cur_arena_end > self.cur_arena_base:
                        # map what is left of the old arena and make it usable
                        self._add_sys(self.cur_arena_base, self.cur_arena_end - self.cur_arena_base)
                    self.cur_arena_base, self.cur_arena_end = av, av + asize
            v = self.cur_arena_base
            self.cur_arena_base += ask
            self._add_sys(v, ask)
            if pad:
                # mheap.go grow, firstGrow && randomizeHeapBase: a random
                # 0-511 pages of the first chunk marked allocated and
                # scavenged (markRandomPaddingPages), so the heap's first free
                # page, and the 64-page blocks the page caches take around it,
                # sit at a random offset in every process
                self.padding_start, self.padding_pages = v >> PAGE_SHIFT, pad
                self.free.remove(self.padding_start, pad)
                return ask - pad * PAGE_SIZE
            return ask
        ctx.spend("sysalloc_ns")
        av, asize = self.sys_alloc(npages * PAGE_SIZE)
        self._add_sys(av, asize)
        return asize

    def _add_sys(self, base: int, nbytes: int) -> None:
        """sysMap + pageAlloc.grow: new pages are free and released (never touched)."""
        start, n = base >> PAGE_SHIFT, nbytes >> PAGE_SHIFT
        self.sys_bytes += nbytes
        self.stats.grow_bytes += nbytes
        self.free.add(start, n)
        self.scav.add(start, n)

    # -- the page allocator (mpagealloc.go alloc/free) --------------------------------
    def _pages_alloc(self, npages: int) -> int | None:
        if self.design.page_fit == "best":
            s = self.free.find_best_fit(npages)
        else:
            s = self.free.find_first_fit(npages)
        if s is None:
            return None
        self.free.remove(s, npages)
        return s

    def alloc_to_cache(self) -> PageCache:
        """mpagealloc allocToCache: take the 64-page-aligned block holding the first
        free page, with all its free pages, for a P's page cache. Caller holds lock."""
        first = self.free.first()
        if first is None:
            return PageCache()
        npc = self.design.page_cache_pages
        base = first - first % npc
        bits = self.free.bits64(base)
        b = bits
        while b:
            lo = (b & -b).bit_length() - 1
            # the run of 1s from bit lo: its length is the index of the lowest 0
            # above it (one step, not a shift and test per page)
            r = b >> lo
            run = ((r + 1) & ~r).bit_length() - 1
            self.free.remove(base + lo, run)
            b &= ~(((1 << run) - 1) << lo)
        self.stats.page_cache_refills += 1
        return PageCache(base, bits)

    def flush_page_cache(self, pp: P) -> None:
        """pageCache.flush: give the cache's free pages back to the page allocator."""
        c = pp.pcache
        b = c.cache
        while b:
            lo = (b & -b).bit_length() - 1
            self.free.add(c.base_page + lo, 1)
            b &= b - 1
        pp.pcache = PageCache()

    # -- span structs (mheap.go tryAllocMSpan / allocMSpanLocked / freeMSpanLocked) ----
    def _new_span_struct(self) -> MSpan:
        s = MSpan(self._next_sid)
        self._next_sid += 1
        return s

    def _fixalloc(self) -> bool:
        """mfixalloc.go alloc for one mspan struct: from the free list if it
        has one, else carved from a chunk; True if it was never used."""
        if self.spanalloc_free:
            self.spanalloc_free -= 1
            return False
        return True

    def _pop_cached(self, pp: P) -> None:
        """The P's mspancache hands out its top struct."""
        pp.mspancache_len -= 1
        if self.fresh_structs:
            self.last_struct_fresh = pp.mspancache_fresh.pop()

    def try_alloc_mspan(self, pp: P) -> MSpan | None:
        if not self._mspan_cache or pp.mspancache_len == 0:
            return None
        self._pop_cached(pp)
        return self._new_span_struct()

    def _alloc_mspan_no_p(self) -> MSpan:
        """allocMSpanLocked without a P's mspan cache (an M without a P, or a
        design without the cache): straight from fixalloc."""
        self.spanalloc_inuse += 1
        if self.fresh_structs:
            self.last_struct_fresh = self._fixalloc()
        return self._new_span_struct()

    def alloc_mspan_locked(self, pp: P) -> MSpan:
        if not self._mspan_cache:
            return self._alloc_mspan_no_p()
        if pp.mspancache_len == 0:
            # allocMSpanLocked's refill: buf[0..refill) from fixalloc in turn,
            # so the structs off its free list sit below the fresh ones
            refill = MSPAN_CACHE_SLOTS // 2
            self.spanalloc_inuse += refill
            pp.mspancache_len = refill
            self.stats.mspan_cache_refills += 1
            if self.fresh_structs:
                pp.mspancache_fresh = [self._fixalloc() for _ in range(refill)]
        self._pop_cached(pp)
        return self._new_span_struct()

    def free_mspan_locked(self, pp: P) -> None:
        if self._mspan_cache and pp.mspancache_len < MSPAN_CACHE_SLOTS:
            pp.mspancache_len += 1
            if self.fresh_structs:
                pp.mspancache_fresh.append(False)
            return
        self.spanalloc_inuse -= 1
        self.spanalloc_free += 1

    # -- allocSpan (mheap.go alloc -> allocSpan) ----------------------------------------
    def alloc(self, ctx: Ctx, pp: P, npages: int, spanclass: int,
              use_pcache: bool = True) -> Gen[MSpan]:
        """Allocate a heap span of npages for spanclass (mheap.alloc).
        ``use_pcache`` False: as allocSpan does on an M without a P (the
        runtime's start-up before procresize: gosim/runtime/initspans.py), no
        page cache and no mspan cache, the locked path at once."""
        self.stats.alloc_span_calls += 1
        base: int | None = None
        s: MSpan | None = None
        if self._page_cache and use_pcache and npages < self._page_cache_limit:
            c = pp.pcache
            if c.empty():
                w = ctx.lock(self.lock, "(*mheap).allocSpan")
                if w:  # (an empty tuple: nothing waits)
                    yield from w
                ctx.spend("pagecache_refill_ns")
                # with no free pages the cache stays empty and the locked path
                # below grows the heap (mheap.go allocSpan)
                pp.pcache = c = self.alloc_to_cache()
                w = ctx.unlock(self.lock)
                if w:
                    yield from w
            base = c.alloc(npages)
            if base is not None:
                self.stats.page_cache_allocs += 1
                ctx.spend("pagecache_alloc_ns")
                s = self.try_alloc_mspan(pp)
        locked = False
        # read at once: another P's allocation may run at this one's next wait
        fresh_struct = s is not None and self.last_struct_fresh
        if s is None:
            w = ctx.lock(self.lock, "(*mheap).allocSpan")
            if w:
                yield from w
            locked = True
            self.stats.alloc_span_locked_calls += 1
            if base is None:
                ctx.spend("pagealloc_ns")
                ctx.spend("pagealloc_per_page_ns", npages)
                base = self._pages_alloc(npages)
                if base is None:
                    self.grow(ctx, npages)
                    if self.mm_write:
                        # grow's sysMap: an mmap that write-locks the memory
                        # map, still under the heap lock (mem_linux.go sysMap)
                        w = ctx.atomic(self.os_faults, "mmap_write_ns")
                        if w:
                            yield from w
                    base = self._pages_alloc(npages)
                    if base is None:  # pragma: no cover - grow guarantees space
                        raise RuntimeError("grew heap, but no adequate free space found")
            ctx.spend("mspan_alloc_ns")
            s = self.alloc_mspan_locked(pp) if use_pcache else self._alloc_mspan_no_p()
            fresh_struct = self.last_struct_fresh
            if not self._span_init_locked:
                w = ctx.unlock(self.lock)
                if w:
                    yield from w
                locked = False
        gkey = npages << 16 | spanclass  # span classes < 2^16
        geom = self._geometry.get(gkey)
        if geom is None:
            geom = self._geometry[gkey] = self._span_geometry(spanclass, npages)
        elemsize, nelems, bits_bytes, metadata, header = geom
        assert base is not None
        line = self.line
        if line is not None:
            # allocNeedsZero's CAS on the arena's zeroedBase, initSpan's atomic
            # Or8 on its pageInUse bits, pagesInUse, the memstats counters
            w = ctx.atomic(line, "heap_line_ns")
            if w:
                yield from w
        if self.gcbits is not None:
            # initSpan's newAllocBits + newMarkBits (taken before the span is
            # published, so that a run ending here leaves no half-made span)
            w = self.gcbits.take(ctx, bits_bytes)
            if w:
                yield from w
        scav = self.scav
        if scav.total:
            fresh_bits = scav.bits(base, npages)
            fresh = scav.remove(base, npages) if fresh_bits else 0
        else:
            fresh_bits = fresh = 0
        needzero = fresh < npages or self._alloc_needs_zero(base, npages)
        self._init_span(s, base, npages, spanclass, elemsize, nelems, needzero=needzero)
        st = self.stats
        st.flow_span_allocs.add2(ctx.p, spanclass)
        st.flow_span_alloc_pages.add2(ctx.p, spanclass, npages)
        faults = 0
        if fresh_bits:
            s.fresh_os = _os_page_mask(fresh_bits, npages)
            if metadata:
                faults = s.touch(s.base + npages * PAGE_SIZE - 1)  # the span's last bytes
            s.header_touch = header
        s.sweepgen = self.sweepgen
        ctx.spend("span_init_ns")
        if fresh_struct:
            # initSpan's first writes to an mspan struct fixalloc carved from
            # a chunk: memory no core has cached (and, every few structs, a
            # page the OS has not backed yet)
            ctx.spend("mspan_fresh_ns")
        if locked:
            w = ctx.unlock(self.lock)
            if w:
                yield from w
        if faults:
            # initSpan's first write into released memory faults the page in
            st.alloc_page_faults += faults
            yield from page_faults(ctx, self.os_faults, faults)
        return s

    def _alloc_needs_zero(self, base: int, npages: int) -> bool:
        """mheap.go allocNeedsZero: each heap arena's zeroedBase is the high-water
        mark of the pages ever handed out in it; a span that starts below it
        may be on memory used before, so it is zeroed even when every one of
        its pages is fresh (with several Ps taking pages from their own page
        caches, the high-water mark is usually another P's). Raises the mark."""
        arena_pages = self._arena_pages
        need = False
        zb = self.zeroed_base
        while npages > 0:
            ai = base // arena_pages
            off = base - ai * arena_pages
            limit = min(off + npages, arena_pages)
            z = zb.get(ai, 0)
            if off < z:
                need = True
            if limit > z:
                zb[ai] = limit
            npages -= limit - off
            base += limit - off
        return need

    def _span_geometry(self, spanclass: int, npages: int) -> tuple[int, int, int, bool, bool]:
        """What initSpan derives from a span's class and size: (elemsize,
        nelems, bytes of alloc + mark bitmaps, whether it writes metadata at the
        span's end, whether each object's malloc header is written)."""
        d = self.design
        sc = spanclass >> 1
        noscan = bool(spanclass & 1)
        if sc == 0:
            elemsize, nelems = npages << PAGE_SHIFT, 1
        else:
            elemsize = self.table.class_to_size(sc)
            nelems = objects_per_span(d.span_layout, elemsize, npages, noscan)
        return (elemsize, nelems, 2 * mark_bits_bytes(nelems),
                writes_span_metadata(d.span_layout, elemsize, noscan),
                d.malloc_header and not noscan and elemsize > MIN_SIZE_FOR_MALLOC_HEADER)

    def _init_span(self, s: MSpan, start: int, npages: int, spanclass: int, elemsize: int,
                   nelems: int, needzero: bool) -> None:
        """mheap.go initSpan: geometry, state, the spans map. ``s`` is a struct
        fresh from :meth:`_new_span_struct` (every struct is: a span's struct
        is never reused here), so what ``MSpan.init`` would reset is at its
        initial value already: only the page run and the state are set."""
        if s.npages:
            raise RuntimeError(f"initSpan of span {s.sid}, which already holds pages")
        s.start_page = start
        s.npages = npages
        s.state = MSpanState.IN_USE
        s.spanclass = spanclass
        s.elemsize = elemsize
        s.nelems = nelems
        s.needzero = needzero
        self.spans[start] = s
        self._set_spans(start, npages, s)
        self.pages_inuse += npages

    def _set_spans(self, start: int, npages: int, s: MSpan | None) -> None:
        """mheap.go setSpans: pages [start, start + npages) belong to ``s`` (None:
        to no span), arena by arena."""
        ap = self._arena_pages
        while npages > 0:
            ai = start // ap
            off = start - ai * ap
            n = min(npages, ap - off)
            row = self.arena_spans.get(ai)
            if row is None:
                row = self.arena_spans[ai] = [None] * ap
            if n <= 16:
                # a short span's pages one by one (compiled: native list stores,
                # no temporary list and slice assignment)
                for i in range(off, off + n):
                    row[i] = s
            else:
                row[off:off + n] = [s] * n
            start += n
            npages -= n

    # -- freeSpan (mheap.go freeSpan -> freeSpanLocked) ----------------------------------
    def free_span(self, ctx: Ctx, pp: P, s: MSpan) -> Gen[None]:
        """Return an empty span's pages to the page allocator under ``lock``."""
        if s.state != MSpanState.IN_USE:
            raise RuntimeError(f"freeSpan of span {s.sid} in state {s.state.name}")
        if s.alloc_count:
            raise RuntimeError(f"freeSpan of span {s.sid} with {s.alloc_count} live objects")
        st = self.stats
        st.free_span_calls += 1
        locked = self._free_span_locked
        if locked:
            w = ctx.lock(self.lock, "(*mheap).freeSpan")
            if w:
                yield from w
        ctx.spend("free_span_ns")
        del self.spans[s.start_page]
        self._set_spans(s.start_page, s.npages, None)
        self.pages_inuse -= s.npages
        self.free.add(s.start_page, s.npages)
        s.state = MSpanState.DEAD
        st.flow_span_frees.add2(ctx.p, s.spanclass)
        st.flow_span_free_pages.add2(ctx.p, s.spanclass, s.npages)
        self.free_mspan_locked(pp)
        if locked:
            w = ctx.unlock(self.lock)
            if w:
                yield from w

    def span_of(self, addr: int) -> MSpan | None:
        """spanOf: the in-use span containing addr, if any."""
        return self.span_of_page(addr >> PAGE_SHIFT)

    def span_of_page(self, pg: int) -> MSpan | None:
        """The in-use span containing page ``pg``, if any."""
        ap = self._arena_pages
        ai = pg // ap
        row = self.arena_spans.get(ai)
        return row[pg - ai * ap] if row is not None else None

    # -- statistics ------------------------------------------------------------------------
    @property
    def heap_inuse_bytes(self) -> int:
        return self.pages_inuse * PAGE_SIZE

    def remote(self, s: MSpan, p: int) -> bool:
        """P ``p`` takes span ``s`` to allocate from: is its memory reused, in
        cache, and written last on another P's core? Records ``p`` as its writer."""
        pg = s.start_page
        w = self.page_writer.get(pg, -1)
        self.page_writer[pg] = p
        return s.needzero and not s.cold and w >= 0 and w != p

    def cold(self) -> bool:
        """The heap is bigger than the last-level cache (cold-memory costs on)."""
        return 0 < self.cold_bytes < self.pages_inuse * PAGE_SIZE

    @property
    def heap_released_bytes(self) -> int:
        return self.scav.total * PAGE_SIZE

    @property
    def mspan_inuse_bytes(self) -> int:
        return self.spanalloc_inuse * self.design.mspan_struct_bytes
