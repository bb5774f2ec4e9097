"""mspan: a run of pages holding objects of one span class (runtime/mheap.go).

Allocation state follows the runtime: ``freeindex`` (slots below it are never
free until the next sweep resets it), ``alloc_bits`` (a bitmap, here a Python
int), ``alloc_count``. ``nelems`` depends on the design's span layout
(``objects_per_span``), as mheap.go initSpan computes it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Final

from gosim.runtime.arena import PAGE_SHIFT

if TYPE_CHECKING:
    import numpy as np


class MSpanState(IntEnum):
    """runtime/mheap.go mSpanState."""

    DEAD = 0
    IN_USE = 1


#: gc.MinSizeForMallocHeader on 64-bit: objects <= 512 B keep pointer bits in the span
MIN_SIZE_FOR_MALLOC_HEADER: Final = 512
#: sizeof(spanInlineMarkBits) (mgcmark_greenteagc.go): 128 bytes
SPAN_INLINE_MARK_BITS_BYTES: Final = 128
#: gc.MallocHeaderSize: 8 bytes
MALLOC_HEADER_BYTES: Final = 8
#: physPageSize on linux/amd64: the unit of a page fault
PHYS_PAGE_SHIFT: Final = 12
OS_PAGES_PER_PAGE: Final = 1 << (PAGE_SHIFT - PHYS_PAGE_SHIFT)


def writes_span_metadata(span_layout: str, elemsize: int, noscan: bool) -> bool:
    """Does initSpan write metadata inside the span (at its end)? Inline mark bits
    (Green Tea, 16..512 B) and pointer/scalar bits of pointerful spans <= 512 B
    (mbitmap.go initHeapBits) live in the span's last bytes."""
    if span_layout == "inline_markbits" and heap_bits_in_span(elemsize) and elemsize >= 16:
        return True
    return span_layout in ("heapbits", "inline_markbits") and heap_bits_in_span(elemsize) \
        and not noscan


def heap_bits_in_span(size: int) -> bool:
    """mbitmap.go heapBitsInSpan: pointer bits live at the end of the span."""
    return size <= MIN_SIZE_FOR_MALLOC_HEADER


def objects_per_span(span_layout: str, elemsize: int, npages: int, noscan: bool) -> int:
    """nelems for a small-object span, as mheap.go (*mheap).initSpan computes it.

    - ``full``: npages*8192 // elemsize (the table's objects column; Go <= 1.21)
    - ``heapbits``: pointerful spans of objects <= 512 B reserve nbytes/64 for
      the pointer/scalar bitmap (Go 1.22-1.25)
    - ``inline_markbits``: Green Tea GC (Go 1.26+) additionally reserves
      128 bytes of inline mark bits in every span of 16..512-byte objects.
    """
    nbytes = npages << PAGE_SHIFT
    reserve = 0
    if span_layout == "inline_markbits":
        if heap_bits_in_span(elemsize) and elemsize >= 16:
            reserve += SPAN_INLINE_MARK_BITS_BYTES
        if heap_bits_in_span(elemsize) and not noscan:
            reserve += nbytes // 8 // 8
    elif span_layout == "heapbits":
        if heap_bits_in_span(elemsize) and not noscan:
            reserve += nbytes // 8 // 8
    elif span_layout != "full":
        raise ValueError(f"unknown span layout {span_layout!r}")
    return (nbytes - reserve) // elemsize


class MSpan:
    """One span. ``start_page`` is a page number in the simulated address space."""

    __slots__ = (
        "sid", "start_page", "npages", "spanclass", "elemsize", "nelems", "freeindex",
        "alloc_bits", "alloc_count", "state", "needzero", "in_cache", "on_list",
        "fresh_os", "header_touch", "sweepgen", "mark_bits", "keep_bits", "ring_bits", "ring_refs", "death",
        "live_bits", "cold", "remote", "set_seq",
    )

    def __init__(self, sid: int) -> None:
        self.sid = sid
        #: the sequence number of its entry in the mcentral SpanSet that holds
        #: it, -1 when none does (gosim/runtime/mcentral.py)
        self.set_seq = -1
        self.init(0, 0)
        self.state = MSpanState.DEAD

    def init(self, start_page: int, npages: int) -> None:
        """mheap.go (*mspan).init: a span of npages at start_page, nothing allocated."""
        self.start_page = start_page
        self.npages = npages
        self.spanclass = 0
        self.elemsize = 0
        self.nelems = 0
        self.freeindex = 0
        self.alloc_bits = 0
        self.alloc_count = 0
        self.state = MSpanState.IN_USE
        self.needzero = False
        #: handed to an mcache while the heap was bigger than the last-level
        #: cache and its memory reused: its objects are written from DRAM
        #: (``MHeap.cold_bytes``)
        self.cold = False
        #: handed to an mcache on another P than the one that last allocated
        #: from its memory (reused, in cache): ``remote_per_byte_ns``
        self.remote = False
        #: owned by an mcache (cacheSpan'd and not yet uncached)
        self.in_cache = False
        #: which mcentral list holds it: '', 'partial', 'full'
        self.on_list = ""
        #: bit j set = OS page j (4 KiB) of the span is fresh from the OS and not yet
        #: touched by the allocator: its first touch costs a page fault
        self.fresh_os = 0
        #: mallocgc writes an 8-byte header at each object's start (pointerful
        #: objects > 512 B under malloc headers), touching the object's first page
        self.header_touch = False
        # -- the collector's view (mgc.go, mgcsweep.go) --------------------------------
        #: mheap.go mspan.sweepgen: == the heap's sweepgen: swept; == sweepgen - 2: needs
        #: sweeping (set by the allocator for a fresh span)
        self.sweepgen = 0
        #: gcmarkBits of objects allocated black while marking (gcmarknewobject)
        self.mark_bits = 0
        #: objects reachable for good (``keep`` lifetimes)
        self.keep_bits = 0
        #: objects reachable until their goroutine's N-th next allocation
        #: (``allocations: N``), with a count per slot: a tiny block holds
        #: several objects, each in some goroutine's ring
        self.ring_bits = 0
        self.ring_refs: dict[int, int] | None = None
        #: ``time`` lifetimes: each slot's death time, ns (None: no such object here)
        self.death: np.ndarray | None = None
        #: the marking's verdict, set at mark start (objects reachable then) and
        #: completed at mark termination (objects allocated black); None: not marked
        self.live_bits: int | None = None

    # -- geometry -----------------------------------------------------------------
    @property
    def base(self) -> int:
        return self.start_page << PAGE_SHIFT

    @property
    def size_class(self) -> int:
        return self.spanclass >> 1

    def touch(self, addr: int) -> int:
        """The allocator writes at addr: 1 if that OS page was fresh (a fault), else 0."""
        j = (addr - (self.start_page << PAGE_SHIFT)) >> PHYS_PAGE_SHIFT
        bit = 1 << j
        if self.fresh_os & bit:
            self.fresh_os &= ~bit
            return 1
        return 0

    def touch_range(self, addr: int, nbytes: int) -> int:
        """A program writes one byte in every 4 KiB page of [addr, addr+nbytes):
        the number of those OS pages that were fresh (each one faults)."""
        if not self.fresh_os:
            return 0
        off = addr - (self.start_page << PAGE_SHIFT)
        j0 = off >> PHYS_PAGE_SHIFT
        j1 = (off + max(nbytes, 1) - 1) >> PHYS_PAGE_SHIFT
        mask = ((1 << (j1 - j0 + 1)) - 1) << j0
        hit = self.fresh_os & mask
        if not hit:
            return 0
        self.fresh_os &= ~mask
        return hit.bit_count()

    def free_count(self) -> int:
        return self.nelems - self.alloc_count

    def object_index(self, addr: int) -> int:
        off = addr - self.base
        if off < 0 or off >= self.nelems * self.elemsize or off % self.elemsize:
            raise ValueError(f"address {addr:#x} is not an object start in span {self.sid}")
        return off // self.elemsize

    # -- allocation (mbitmap.go nextFreeIndex, malloc.go nextFreeFast) ----------------
    def next_free_index(self) -> int:
        """Index of the first free slot at or after freeindex, or nelems."""
        free = ~(self.alloc_bits >> self.freeindex)
        if self.freeindex >= self.nelems:
            return self.nelems
        idx = self.freeindex + ((free & -free).bit_length() - 1)
        return idx if idx < self.nelems else self.nelems

    def alloc_one(self) -> int:
        """Allocate the next free slot; return its address (caller checks free_count)."""
        # next_free_index, inlined: this runs for every object a cache hands out
        fi = self.freeindex
        nelems = self.nelems
        if fi < nelems:
            free = ~(self.alloc_bits >> fi)
            idx = fi + ((free & -free).bit_length() - 1)
            if idx < nelems:
                self.alloc_bits |= 1 << idx
                self.freeindex = idx + 1
                self.alloc_count += 1
                return (self.start_page << PAGE_SHIFT) + idx * self.elemsize
        raise RuntimeError(f"span {self.sid} has no free objects")

    def alloc_many(self, n: int) -> int:
        """Allocate the next n free slots (n <= free_count); return the address of the last."""
        if n <= 0:
            return 0
        fi = self.freeindex
        if (self.alloc_bits >> fi) == 0 and fi + n <= self.nelems:
            # no allocated slot above freeindex: the next n slots are contiguous
            self.alloc_bits |= ((1 << n) - 1) << fi
            self.freeindex = fi + n
            self.alloc_count += n
            return self.base + (fi + n - 1) * self.elemsize
        addr = 0
        for _ in range(n):
            addr = self.alloc_one()
        return addr

    def free_index(self, idx: int) -> None:
        """Free one slot (the sweeper's job, mgcsweep.go): the slot becomes reusable."""
        bit = 1 << idx
        if not self.alloc_bits & bit:
            raise ValueError(f"double free of slot {idx} in span {self.sid}")
        self.alloc_bits &= ~bit
        self.alloc_count -= 1
        # A sweep restarts the search at 0 (freeindex = 0); a span owned by an
        # mcache is not swept, so its cache does not see a slot behind its free
        # index until uncached (one ahead of it, it reaches: Runtime._return_slot).
        if not self.in_cache and idx < self.freeindex:
            self.freeindex = idx
        self.needzero = True

    def free_slots_ahead(self) -> int:
        """Free slots at or after freeindex: what an owning mcache can still hand out."""
        if self.freeindex >= self.nelems:
            return 0
        ahead = self.nelems - self.freeindex
        return ahead - bin(self.alloc_bits >> self.freeindex).count("1")
