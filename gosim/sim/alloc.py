"""What one allocation served from the mcache costs: the single description
that the step path (``engine.py``) and the batch paths (``batch.py``) price.

Following mallocgc (runtime/malloc.go): a tiny object that fits the current
tiny block costs ``tiny_fast_ns``; any other allocation the cache serves costs
``malloc_fast_ns``, plus ``zero_per_byte_ns`` per byte when its span needs
zeroing (and ``cold_alloc_ns`` + ``cold_per_byte_ns`` per byte when that
reused memory is out of cache: ``MHeap.cold_bytes``), plus ``gc_write_barrier_ns`` while the collector marks (the
program's store of the new pointer into a heap slot passes the write barrier:
mbarrier.go, mwbbuf.go), and a page fault (the kernel's, ``gosim.runtime.mem_linux``, taken by the step
path) when its malloc header is the first write to a fresh OS page. Large
objects pay their costs on the slow path only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from gosim.runtime.malloc import ZERO
from gosim.runtime.mspan import MSpan

if TYPE_CHECKING:
    from gosim.runtime.malloc import Runtime
    from gosim.sim.goroutine import GCtx

#: cost parameter and units charged, per allocation
Charges = tuple[tuple[str, float], ...]

TINY_FIT: Final[Charges] = (("tiny_fast_ns", 1.0),)
FAST: Final[Charges] = (("malloc_fast_ns", 1.0),)
#: the write barrier on the program's store of the new object's pointer
BARRIER: Final[Charges] = (("gc_write_barrier_ns", 1.0),)
TINY_FIT_WB: Final[Charges] = TINY_FIT + BARRIER
FAST_WB: Final[Charges] = FAST + BARRIER


def fast_charges(span: MSpan | None, kind: int, elemsize: int, tiny_fit: bool,
                 barrier: bool = False) -> Charges:
    """The charges of one allocation the cache serves from ``span`` (its cached
    span of the object's class), except a header's page fault (:func:`header_fault`).
    ``barrier``: the write barrier is on (:func:`barrier_on`)."""
    if tiny_fit:
        return TINY_FIT_WB if barrier else TINY_FIT
    if kind != ZERO and span is not None and span.needzero:
        zeroed: Charges = (("malloc_fast_ns", 1.0), ("zero_per_byte_ns", float(elemsize)))
        if span.cold:  # the object's lines come from DRAM (MHeap.cold_bytes)
            zeroed += (("cold_alloc_ns", 1.0), ("cold_per_byte_ns", float(elemsize)))
        elif span.remote:  # from another core's cache (MHeap.remote)
            zeroed += (("remote_per_byte_ns", float(elemsize)),)
        return zeroed + BARRIER if barrier else zeroed
    return FAST_WB if barrier else FAST


def barrier_on(g: GCtx) -> bool:
    """Whether the goroutine's next pointer store passes the write barrier: the
    collector is marking (``writeBarrier.enabled`` from gcStart to mark
    termination, mgc.go) and the barrier costs something (a zero
    ``gc_write_barrier_ns`` charges nothing, so it is left out)."""
    return g.sim.barrier_cost and g.sim.rt.ps[g.p].mcache.marking


def headers_fault(span: MSpan | None) -> bool:
    """Whether an allocation from ``span`` may fault in a page by writing its
    malloc header (pointerful objects > 512 B on fresh memory)."""
    return span is not None and span.header_touch and span.fresh_os != 0


def header_fault(span: MSpan | None, addr: int) -> bool:
    """The allocation at ``addr`` writes its header: True if that is the first
    write to a fresh OS page (the caller takes the fault and counts it)."""
    return span is not None and headers_fault(span) and span.touch(addr) > 0


def served_cost(rt: Runtime, g: GCtx, kind: int, spc: int, elemsize: int, addr: int,
                tiny_fit: bool) -> int:
    """Draw and charge what one allocation the cache served at ``addr`` costs
    (a header's page fault apart: :func:`header_fault`), and count it on the
    flow's goroutine -> P edge: a malloc (not mallocgc(0))
    and the bytes MemStats charges (none for a tiny object that fit the current
    block; large objects are counted by ``Runtime.alloc_large``)."""
    if kind != ZERO:
        g.flow_n += 1
        if not tiny_fit:
            g.flow_b += elemsize
    span = None if tiny_fit or kind == ZERO else rt.ps[g.p].mcache.alloc[spc]
    charges = fast_charges(span, kind, elemsize, tiny_fit, barrier_on(g))
    # the common cases, priced as ``g.price`` would, without its lookups, when
    # the cost is a constant
    if charges is FAST or charges is TINY_FIT:
        tiny = charges is TINY_FIT
        ns = g.sim.tiny_unit_ns if tiny else g.sim.fast_unit_ns
        if ns is not None:
            if g.sim.costs.record is not None:
                g.sim.costs.charge("tiny_fast_ns" if tiny else "malloc_fast_ns", 1.0)
            return ns
    elif len(charges) == 2 and charges[1][0] == "zero_per_byte_ns":
        # a span that needs zeroing: malloc_fast_ns + zero_per_byte_ns per byte
        ns = g.sim.fast_unit_ns
        zc = g.sim.zero_per_byte
        if ns is not None and zc is not None:
            units = charges[1][1]
            if g.sim.costs.record is not None:
                g.sim.costs.charge("malloc_fast_ns", 1.0)
                g.sim.costs.charge("zero_per_byte_ns", units)
            return ns + int(zc * units + 0.5)
    return g.price(charges)
