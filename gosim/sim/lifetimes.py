"""Object lifetimes as the collector sees them: which slots stay reachable.

A goroutine's objects are reachable according to its group's lifetime
(gosim/workload/spec.py):

- ``drop``: garbage at once: nothing to record (the slot is free again at
  the first sweep after the next mark);
- ``keep``: the slot's bit in its span's ``keep_bits`` (reachable for good);
- ``allocations: N``: set in ``ring_bits``, counted per slot in ``ring_refs``
  (a tiny block holds several objects), and remembered in the goroutine's
  ring of its last N objects; when its last reference falls out of a ring it
  is cleared, and shaded (``mark_bits``) if the collector is marking: the
  write barrier's deletion shade (mbarrier.go), so a cycle keeps what was
  reachable when it began;
- ``time: T``: the slot's death time (``MSpan.death``, a numpy array per
  span, created on first use).

Everything is per span slot, in bitmasks and numpy arrays: no Python object
per allocation except the ring's N entries per goroutine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gosim.runtime.mspan import MSpanState

if TYPE_CHECKING:
    from gosim.runtime.mspan import MSpan
    from gosim.sim.goroutine import GCtx


def record_mask(g: GCtx, s: MSpan, mask: int, times: np.ndarray | int, marking: bool) -> None:
    """Objects just allocated by g in span s at the slots of ``mask``;
    ``times``: their completion times (an array in slot order, or one time)."""
    kind = g.lt_kind
    if kind == "keep":
        s.keep_bits |= mask
    elif kind == "allocations":
        s.ring_bits |= mask
        refs = s.ring_refs
        if refs is None:
            refs = s.ring_refs = {}
        ring = g.ring
        assert ring is not None
        m = mask
        while m:
            low = m & -m
            ring.append((s, low))
            refs[low] = refs.get(low, 0) + 1
            m ^= low
        n = g.ring_n
        while len(ring) > n:
            os_, bit = ring.popleft()
            orefs = os_.ring_refs
            assert orefs is not None and os_.state == MSpanState.IN_USE
            left = orefs[bit] - 1
            if left:
                orefs[bit] = left
                continue
            del orefs[bit]
            os_.ring_bits &= ~bit
            if marking:
                os_.mark_bits |= bit
    elif kind == "time":
        if s.death is None:
            s.death = np.zeros(s.nelems, dtype=np.int64)
        idx = _indices(mask, s.nelems)
        s.death[idx] = np.asarray(times, dtype=np.int64) + g.lt_value


def record_addr(g: GCtx, s: MSpan, addr: int, t: int, marking: bool) -> None:
    """One object (or the tiny block holding it) allocated by g at addr."""
    idx = (addr - s.base) // s.elemsize
    bit = 1 << idx
    if g.lt_kind == "time" and s.death is not None and s.death[idx] > t + g.lt_value:
        return  # a tiny block that already outlives this object
    record_mask(g, s, bit, t, marking)


def _indices(mask: int, nelems: int) -> np.ndarray:
    b = np.frombuffer(mask.to_bytes((nelems + 7) // 8, "little"), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(b, bitorder="little")[:nelems])


__all__ = ["record_addr", "record_mask"]
