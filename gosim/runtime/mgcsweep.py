"""Sweeping (runtime/mgcsweep.go, mcentral.go, mheap.go reclaim, mgcbits in mheap.go).

After a cycle's mark termination every in-use span needs sweeping
(``mspan.sweepgen == mheap.sweepgen - 2``): its allocation bits become its
mark bits, so the slots of dead objects are free again. Sweeping happens

- in ``cacheSpan`` (mcentral.go), for the span about to be cached, kept even
  when every object died (``sweep(preserve=true)``);
- by the proportional sweeper (``deductSweepCredit``): before a span is
  cached, enough spans are swept (``sweepone``) to finish before the next
  cycle's trigger, at ``sweepPagesPerByte`` pages per byte of heap growth;
- by ``gcStart`` (``finishsweep_m``), which sweeps whatever is left;
- by ``mheap.reclaim`` before a large allocation grows the heap.

A span that ``sweepone`` finds empty goes back to the heap through
``freeSpan``, under ``mheap.lock``: the lock the real runtime contends on
most with the GC on (the ground truth in experiments/groundtruth/).

Each sweep gives the span fresh mark bits from the GC bits arenas
(``newMarkBits``): an arena of 64 KiB is carved by an atomic bump; taking a
new one holds ``gcBitsArenas.lock``. Arenas of the cycle before last are
recycled at each cycle (``nextMarkBitArenaEpoch``); without recycled ones a
new arena is fresh memory from the OS and faults in as it is written.

The background sweeper goroutine (``bgsweep``) runs only when a P has nothing
else to do; with as many allocating goroutines as Ps it hardly runs, and the
model leaves it out (docs/decisions.md).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

import numpy as np

from gosim.runtime.arena import PAGE_SIZE
from gosim.runtime.context import AtomicCell, Ctx, Gen, MaybeGen, Mutex
from gosim.runtime.mem_linux import page_faults

if TYPE_CHECKING:
    from gosim.runtime.malloc import Runtime
    from gosim.runtime.mcentral import MCentral
    from gosim.runtime.mheap import MHeap
    from gosim.runtime.mspan import MSpan

#: mheap.go gcBitsChunkBytes: one GC bits arena
GC_BITS_CHUNK_BYTES: Final = 64 << 10
#: mheap.go pagesPerReclaimerChunk: the pages of heap arena one reclaim claim scans
RECLAIM_CHUNK_PAGES: Final = 512


def mark_bits_bytes(nelems: int) -> int:
    """Bytes of one gcBits bitmap for nelems objects (mheap.go newMarkBits:
    blocks of 64 bits)."""
    return ((nelems + 63) // 64) * 8


class GCBitsArenas:
    """mheap.go gcBitsArenas: where mark and allocation bitmaps come from."""

    def __init__(self, heap: MHeap) -> None:
        self.heap = heap
        self.lock = Mutex("gcBitsArenas", "gcbits")
        #: the current arena's free index as a cache line every P's bumps move
        #: (the simulation sets it when ``gcbits_line_ns`` is on; None: a bump
        #: costs nothing but the sync)
        self.line: AtomicCell | None = None
        #: bytes used in the current arena (carved lock-free by an atomic add)
        self.used = GC_BITS_CHUNK_BYTES
        #: the current arena is fresh from the OS: each 4 KiB page faults when
        #: the first bitmap in it is written; pages of it written so far
        self.fresh = False
        self.pages_touched = 0
        #: arenas of earlier cycles that can be reused without the OS
        self.free_arenas = 0
        #: fresh arenas a P mapped while another installed one (never touched),
        #: and how many of those were installed later (zeroed under the lock)
        self.free_untouched = 0
        self.reused_untouched = 0
        #: arenas in use by the current and the previous cycle
        self.current = 0
        self.previous = 0
        self.new_arenas = 0
        self.fresh_arenas = 0
        self.faults = 0

    def take(self, ctx: Ctx, nbytes: int) -> MaybeGen:
        """newMarkBits / newAllocBits: nbytes of bitmap; a new arena when this
        one is used up (:meth:`_new_arena`); writing the bitmap faults in the fresh
        arena's pages as it reaches them. The common case (no wait, room in the
        arena, no page to fault in) is one atomic bump and runs without a
        generator."""
        w = ctx.sync()  # the arena's free index is an atomic every P bumps
        used = self.used + nbytes
        if w or used > GC_BITS_CHUNK_BYTES or (self.fresh and (used - 1) >> 12 >= self.pages_touched):
            return self._take(ctx, nbytes, w)
        self.used = used
        line = self.line
        if line is not None:
            return ctx.atomic(line, "gcbits_line_ns")
        return ()

    def _take(self, ctx: Ctx, nbytes: int, w: Gen[None]) -> Gen[None]:
        yield from w
        line = self.line
        if line is not None:
            w = ctx.atomic(line, "gcbits_line_ns")
            if w:
                yield from w
        if self.used + nbytes > GC_BITS_CHUNK_BYTES:
            yield from self._new_arena(ctx, nbytes)
        start = self.used
        self.used += nbytes
        if self.fresh:
            last = (self.used - 1) >> 12
            if last >= self.pages_touched:
                n = last + 1 - max(self.pages_touched, start >> 12)
                self.pages_touched = last + 1
                self.faults += n
                yield from page_faults(ctx, self.heap.os_faults_new, n)

    def _new_arena(self, ctx: Ctx, nbytes: int) -> Gen[None]:
        """newMarkBits' slow path (mheap.go): under the lock, try the head arena
        again (another P may have replaced it while this one waited); else
        newArenaMayUnlock: an arena from the free list, zeroed under the lock
        (faulting in the pages of it never touched), or, with none free, drop
        the lock for a sysAlloc (an mmap: with ``mmap_write_ns`` on, a write to
        the memory map, as heap growth's), retake it and write the fresh
        arena's header (``result.next = nil``: its first page faults in under
        the lock); if another P installed an arena meanwhile, the fresh one
        goes on the free list with only that page touched."""
        w = ctx.lock(self.lock, "newMarkBits")
        if w:
            yield from w
        if self.used + nbytes <= GC_BITS_CHUNK_BYTES:
            w = ctx.unlock(self.lock)
            if w:
                yield from w
            return
        ctx.spend("gcbits_arena_ns")
        os_faults = self.heap.os_faults_new
        if self.free_arenas or self.free_untouched:
            if self.free_arenas:
                self.free_arenas -= 1
            else:  # a racing P's fresh arena: memclr writes its other pages first
                self.free_untouched -= 1
                self.reused_untouched += 1
                n = (GC_BITS_CHUNK_BYTES >> 12) - 1
                self.faults += n
                yield from page_faults(ctx, os_faults, n)
            ctx.spend("zero_per_byte_ns", GC_BITS_CHUNK_BYTES)
            fresh = False
        else:
            head = self.new_arenas  # which arena is the head when the lock drops
            w = ctx.unlock(self.lock)
            if w:
                yield from w
            self.fresh_arenas += 1
            if self.heap.mm_write:
                w = ctx.atomic(os_faults, "sysalloc_ns")
                if w:
                    yield from w
            else:
                ctx.spend("sysalloc_ns")
            w = ctx.lock(self.lock, "newMarkBits")
            if w:
                yield from w
            self.faults += 1  # the header's write, under the lock
            yield from page_faults(ctx, os_faults, 1)
            if self.new_arenas != head and self.used + nbytes <= GC_BITS_CHUNK_BYTES:
                self.free_untouched += 1  # another P installed one: ours goes free
                w = ctx.unlock(self.lock)
                if w:
                    yield from w
                return
            fresh = True
        self.new_arenas += 1
        self.current += 1
        self.fresh = fresh
        self.used = 0
        self.pages_touched = 1 if fresh else 0
        w = ctx.unlock(self.lock)
        if w:
            yield from w

    def next_epoch(self) -> None:
        """mheap.go nextMarkBitArenaEpoch, at each cycle: the arenas of the cycle
        before last hold no live bitmap any more and become free."""
        self.free_arenas += self.previous
        self.previous = self.current
        self.current = 0


class Sweeper:
    """mgcsweep.go sweepdata + the sweep pacing of mgcpacer.go (gcPaceSweeper)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.heap = rt.mheap
        #: a sweep cycle is under way (from mark termination until every span is swept)
        self.active = False
        #: mcentrals with spans still to sweep (nextSpanForSweep's walk)
        self.queue: deque[MCentral] = deque()
        #: mheap.pagesSwept, and the pacing of the proportional sweeper
        self.pages_swept = 0
        self.pages_per_byte = 0.0
        self.heap_live_basis = 0
        self.pages_swept_basis = 0
        self.mark_start_ns = 0
        #: mheap.reclaimIndex, as the chunks of the heap's arenas reclaim has
        #: still to claim in this sweep cycle, and reclaimCredit, as the pages
        #: of the chunks claimed that no reclaim has counted yet
        self.reclaim_chunks = 0
        self.reclaim_credit = 0
        #: statistics (reclaim: its calls while sweeping, and those that took
        #: mheap.lock to claim a chunk)
        self.spans_swept = 0
        self.spans_freed = 0
        self.reclaim_calls = 0
        self.reclaim_locks = 0

    # -- the cycle ---------------------------------------------------------------------
    def start_cycle(self, heap_live: int, trigger: int, mark_start_ns: int) -> None:
        """mgc.go gcSweep + mgcpacer.go gcPaceSweeper: every span needs sweeping;
        pace the proportional sweeper to finish by the next trigger."""
        self.mark_start_ns = mark_start_ns
        self.queue = deque(c for c in self.rt.central if c.flip_sweepgen())
        self.active = bool(self.queue)
        pages_in_use = self.heap.pages_inuse
        # heapDistance: the heap growth left before the trigger, minus a 1 MiB margin
        distance = trigger - heap_live - (1 << 20)
        distance = max(distance, PAGE_SIZE)
        self.pages_per_byte = pages_in_use / distance
        self.heap_live_basis = heap_live
        self.pages_swept_basis = self.pages_swept
        # mgc.go gcSweep: reclaimIndex starts over; reclaim walks every heap
        # arena (h.sweepArenas) in chunks
        arena_pages = sum(n for _, n in self.heap.arenas) // PAGE_SIZE
        self.reclaim_chunks = -(-arena_pages // RECLAIM_CHUNK_PAGES)
        self.reclaim_credit = 0

    def sweep(self, ctx: Ctx, s: MSpan, preserve: bool) -> Gen[bool]:
        """(*sweepLocked).sweep: the span's allocation bits become its mark bits.
        Returns True if the span went back to the heap (only without ``preserve``)."""
        rt = self.rt
        st = rt.stats
        live = s.live_bits
        if live is None:
            raise RuntimeError(f"sweep of span {s.sid} that the collector did not mark")
        alloc = s.alloc_bits
        live &= alloc
        freed = alloc & ~live
        nfreed = freed.bit_count()
        s.alloc_bits = live
        s.alloc_count -= nfreed
        s.freeindex = 0
        s.mark_bits = 0
        s.live_bits = None
        s.keep_bits &= live
        s.ring_bits &= live
        if s.death is not None and freed:
            bits = np.unpackbits(np.frombuffer(freed.to_bytes((s.nelems + 7) // 8, "little"),
                                               dtype=np.uint8), bitorder="little")[:s.nelems]
            s.death[bits.astype(bool)] = 0
        s.sweepgen = self.heap.sweepgen
        self.spans_swept += 1
        self.pages_swept += s.npages
        ctx.spend("sweep_span_ns")
        if self.heap.cold():  # the span's mspan and bitmaps come from DRAM
            ctx.spend("cold_span_ns")
        sc = s.spanclass >> 1
        if nfreed:
            s.needzero = True
            st.frees += nfreed
            st.heap_alloc_bytes -= nfreed * s.elemsize
            st.by_size_frees.add(sc, nfreed)
            ctx.spend("sweep_per_object_ns", nfreed)
        if sc:
            gcbits = self.heap.gcbits
            assert gcbits is not None  # a collector's heap has its bitmap arenas
            w = gcbits.take(ctx, mark_bits_bytes(s.nelems))
            if w:
                yield from w
        if preserve:
            return False
        if s.alloc_count == 0:
            self.spans_freed += 1
            yield from self.heap.free_span(ctx, rt.ps[ctx.p], s)
            return True
        rt.central[s.spanclass].push_swept(s)
        return False

    def sweepone(self, ctx: Ctx) -> Gen[int]:
        """mgcsweep.go sweepone: sweep one span of any class; its pages, or -1
        when nothing is left to sweep (the sweep cycle then ends)."""
        w = ctx.sync()  # the unswept sets are shared
        if w:
            yield from w
        q = self.queue
        while q:
            s = q[0].pop_unswept()
            if s is None:
                q.popleft()
                continue
            yield from self.sweep(ctx, s, preserve=False)
            return s.npages
        self.active = False
        return -1

    def deduct_sweep_credit(self, ctx: Ctx, span_pages: int) -> MaybeGen:
        """mgcsweep.go deductSweepCredit: sweep until the pages swept keep up
        with the heap's growth since the sweep cycle began."""
        w = ctx.sync()  # heapLive and pagesSwept are atomics every P updates
        if w:
            return self._deduct_after(ctx, span_pages, w)
        target = self._sweep_target(span_pages)
        if target is None:
            return ()  # in credit: nothing to sweep, no generator
        return self._sweep_to(ctx, target)

    def _deduct_after(self, ctx: Ctx, span_pages: int, w: Gen[None]) -> Gen[None]:
        yield from w
        target = self._sweep_target(span_pages)
        if target is not None:
            yield from self._sweep_to(ctx, target)

    def _sweep_target(self, span_pages: int) -> int | None:
        """The pages swept this sweep cycle must reach (None: already reached)."""
        if self.pages_per_byte == 0.0:
            return None
        live = self.rt.gc_heap_live() - self.heap_live_basis + span_pages * PAGE_SIZE
        target = int(self.pages_per_byte * live)
        return target if self.pages_swept - self.pages_swept_basis < target else None

    def _sweep_to(self, ctx: Ctx, target: int) -> Gen[None]:
        while self.pages_swept - self.pages_swept_basis < target:
            n = yield from self.sweepone(ctx)
            if n < 0:
                self.pages_per_byte = 0.0
                return

    def finish(self, ctx: Ctx) -> Gen[int]:
        """finishsweep_m / gcStart's sweep loop: sweep every span left; the count."""
        n = 0
        while self.active:
            got = yield from self.sweepone(ctx)
            if got < 0:
                break
            n += 1
        self.pages_per_byte = 0.0
        return n

    def reclaim(self, ctx: Ctx, npages: int) -> Gen[None]:
        """mheap.go reclaim: before a large allocation takes pages, sweep until
        npages have gone back to the heap. It takes mheap.lock only to claim
        chunks of 512 pages of the heap's arenas (reclaimIndex) and scan them,
        when the pages the chunks claimed before hold no more for it
        (reclaimCredit); once every chunk of this sweep cycle is claimed, it
        takes no lock. The model keeps no per-page marks: a chunk is taken to
        hold 512 pages to reclaim (the heap's pages are the arenas' lowest,
        and with no live heap nearly all are dead after a cycle), and the
        sweeping itself is the sweeper's next spans, lock-free, as before."""
        if not self.active:
            return
        h = self.heap
        self.reclaim_calls += 1
        if self.reclaim_credit >= npages:
            self.reclaim_credit -= npages
        elif self.reclaim_chunks > 0:
            self.reclaim_locks += 1
            w = ctx.lock(h.lock, "(*mheap).reclaim")
            if w:
                yield from w
            while self.reclaim_credit < npages and self.reclaim_chunks > 0:
                self.reclaim_chunks -= 1
                self.reclaim_credit += RECLAIM_CHUNK_PAGES
                ctx.spend("reclaim_ns")
            self.reclaim_credit -= min(self.reclaim_credit, npages)
            w = ctx.unlock(h.lock)
            if w:
                yield from w
        freed = 0
        while freed < npages and self.active:
            before = self.spans_freed
            n = yield from self.sweepone(ctx)
            if n < 0:
                break
            if self.spans_freed != before:
                freed += n


__all__ = ["GCBitsArenas", "Sweeper", "mark_bits_bytes", "GC_BITS_CHUNK_BYTES"]
