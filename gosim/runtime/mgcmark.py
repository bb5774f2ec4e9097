"""Marking (runtime/mgcmark.go) as the model needs it: which objects a cycle
finds reachable, and how much scanning that takes.

An object is marked if it was reachable when the cycle began (the hybrid
write barrier's snapshot: ``keep`` objects, ``allocations: N`` ones not yet
replaced by then, ``time`` ones not yet dead) or was allocated during the
mark phase (allocated black, ``gcmarknewobject``). An ``allocations: N``
object that dies while the cycle marks is shaded by the deletion barrier
(the goroutine's ring, gosim/sim/lifetimes.py), so it stays marked.

Scan work is the bytes of marked pointerful objects (pointer-free spans are
not scanned: their objects are only marked), plus the roots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gosim.runtime.malloc import Runtime
    from gosim.runtime.mspan import MSpan


def time_alive_bits(s: MSpan, t_ns: int) -> int:
    """Slots whose ``time`` lifetime has not ended at t_ns, as a bitmask."""
    d = s.death
    if d is None:
        return 0
    alive = np.packbits(d[:s.nelems] > t_ns, bitorder="little")
    return int.from_bytes(alive.tobytes(), "little")


def reachable_bits(s: MSpan, t_ns: int) -> int:
    """The span's objects reachable at t_ns (the mark's snapshot)."""
    r = s.keep_bits | s.ring_bits
    if s.death is not None:
        r |= time_alive_bits(s, t_ns)
    return r & s.alloc_bits


def heap_scan_bytes(rt: Runtime, t_ns: int) -> int:
    """Bytes of pointerful objects reachable at t_ns: what marking scans."""
    total = 0
    for s in rt.mheap.spans.values():
        if s.spanclass & 1 == 0 and (s.keep_bits or s.ring_bits or s.death is not None):
            total += reachable_bits(s, t_ns).bit_count() * s.elemsize
    return total


def mark_spans(rt: Runtime, mark_start_ns: int) -> tuple[int, int]:
    """Mark termination's verdict for every in-use span (``live_bits``):
    reachable at the cycle's start, or allocated black. Returns (bytes
    marked, of which pointerful)."""
    marked = scan = 0
    for s in rt.mheap.spans.values():
        # reachable_bits | mark_bits, inlined: this visits every span of the heap
        r = s.keep_bits | s.ring_bits | s.mark_bits
        if s.death is not None:
            r |= time_alive_bits(s, mark_start_ns)
        live = r & s.alloc_bits
        s.live_bits = live
        if live:
            b = live.bit_count() * s.elemsize
            marked += b
            if s.spanclass & 1 == 0:
                scan += b
    return marked, scan


__all__ = ["heap_scan_bytes", "mark_spans", "reachable_bits", "time_alive_bits"]
