"""Runs of cache hits applied in one step (``mode: batched``).

The allocator's fast path touches only the P's mcache, so a run of cache hits
needs no SimPy event: it is applied at once and the goroutine's clock jumps
to the run's end. Each path prices allocations through the one description in
``alloc.py`` and stops exactly where step mode would act differently: the
cached span (or transferred batch) is exhausted, the time slice ends, the run
ends. Random draws come from per-goroutine streams (``workload/streams.py``)
that yield the same values however they are consumed, so batched and step
mode give identical results (tests/test_sim.py).

- :func:`run_fixed`: constant size and pointer-ness from a span whose
  allocations cannot fault: vectorised over the run, or pure arithmetic
  (:func:`_run_arith`) when every cost and the work are constants.
- :func:`run_generic`: anything else, one allocation at a time without events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from gosim.runtime.malloc import SMALL, TINY, ZERO
from gosim.sim.alloc import Charges, barrier_on, fast_charges, headers_fault, served_cost
from gosim.sim.gc import GC_MARK, assist_bytes
from gosim.sim.lifetimes import record_addr, record_mask

if TYPE_CHECKING:
    from gosim.runtime.malloc import Runtime
    from gosim.runtime.mcache import MCache
    from gosim.sim.engine import Simulation
    from gosim.sim.goroutine import GCtx

#: largest run of cache hits applied in one step
BATCH_CAP: Final = 8192
#: runs up to this long with constant costs but drawn work are applied one
#: allocation at a time (:func:`_run_scalar`): numpy's per-call cost outweighs
#: the arrays' gain on a span of a few objects
SCALAR_RUN: Final = 32


#: :func:`run_fixed`'s answer when the cache holds nothing of the goroutine's
#: class: the next allocation takes the slow path (an end time of -1, which
#: ``Simulation.g_body`` tests for)
EMPTY = (0, -1)


def run_fixed(sim: Simulation, g: GCtx) -> tuple[int, int] | None:
    """Constant size and pointer-ness: (allocations, end time); :data:`EMPTY`
    when the cache has nothing of that class (the next allocation is the slow
    path's, as :func:`run_generic` would find), or None when this path does
    not apply (not a small object, or an allocation could fault in a page:
    :func:`run_generic` does those)."""
    rt = sim.rt
    kind, spc, elemsize = g.fixed_class()
    if kind != SMALL:
        return None
    c = rt.ps[g.p].mcache
    n = c.avail[spc]
    if n <= 0:
        return EMPTY
    # (comparisons, not a three-argument min: compiled, that is a generic call)
    if n > BATCH_CAP:
        n = BATCH_CAP
    if 0 <= g.remaining < n:
        n = g.remaining
    s = c.alloc[spc]
    assert s is not None  # avail[spc] > 0: a span is cached
    if headers_fault(s) or (g.touch and s.fresh_os):
        return None
    gc = sim.gc
    if gc is not None:
        # while marking, the run stops before the allocation that would put the
        # goroutine in assist debt: step_one charges that one and assists
        n = gc.allowed(g, elemsize, n)
        if n == 0:
            return EMPTY
    charges = fast_charges(s, kind, elemsize, False, barrier_on(g))
    f_const = g.price_const(charges)
    if f_const is not None and g.work.const is not None:
        r = _run_arith(sim, g, c, spc, elemsize, n, charges, f_const)
        if r is not None:
            if gc is not None:
                gc.charge(g, r[0] * elemsize)
            return r
    if f_const is not None and f_const >= 0 and n <= SCALAR_RUN and g.comp_times is None \
            and not (g.lt_kind != "drop" and gc is not None):
        r = _run_scalar(sim, g, c, spc, elemsize, n, charges, f_const)
        if r is not None:
            return r
    acct = sim.acct
    T = acct.T
    now = g.vt
    f = g.price_vec(charges, n)
    w = g.work.peek(n)
    d = f + w
    b = now + np.cumsum(d)  # ends of each allocation's work
    st = b - d  # starts of each allocation
    k = n
    if T is not None:
        k = min(k, int(np.searchsorted(st, T, "left")))
    k = min(k, int(np.searchsorted(b, g.slice_end, "left")) + 1)
    track = g.lt_kind != "drop" and sim.gc is not None
    c.take(spc, k, track)
    _count(rt, g, spc, elemsize, k)
    if gc is not None:
        gc.charge(g, k * elemsize)
    g.consume(charges, k)
    g.work.consume(k)
    f, b, st = f[:k], b[:k], st[:k]
    cpl = st + f
    if track:
        record_mask(g, s, c.last_new, cpl, c.marking)  # type: ignore[arg-type]
    if T is not None:
        fast_ns = int((np.minimum(cpl, T) - np.minimum(st, T)).sum())
        work_ns = int((np.minimum(b, T) - np.minimum(cpl, T)).sum())
    else:
        fast_ns = int(f.sum())
        work_ns = int((b - cpl).sum())
    acct.add(g.p, "fast_path", fast_ns)
    acct.add(g.p, "work", work_ns)
    acct.complete(cpl, int(f[0]) if f_const is not None else f)
    ncomp = k if T is None else int(np.searchsorted(cpl, T, "left"))
    # completion times matter only to time lifetimes (note_allocs copies them)
    g.note_allocs(elemsize, ncomp, cpl[:ncomp] if g.comp_times is not None else 0)
    return k, int(b[-1])


def _run_scalar(sim: Simulation, g: GCtx, c: MCache, spc: int, elemsize: int, n: int,
                charges: Charges, f: int) -> tuple[int, int] | None:
    """:func:`run_fixed`'s array path for a short run with constant costs ``f``
    per allocation and drawn work, one allocation at a time: the same work
    values (peeked), the same run length, sums and completions. Not for
    tracked liveness or time lifetimes (the array path does those). None,
    with nothing consumed, when a work value is negative or the run is empty."""
    ws: list[int] = g.work.peek(n).tolist()
    for w in ws:
        if w < 0:
            return None
    acct = sim.acct
    T = acct.T
    slice_end = g.slice_end
    t = g.vt
    k = 0
    cpls: list[int] = []
    fast_ns = 0
    work_ns = 0
    ncomp = 0
    # allocation k starts at t (the last one's end): in the run while it starts
    # before a timed run's end; the run stops after the first that ends at or
    # past the slice's end (the array path's two searchsorted cuts)
    while k < n:
        if T is not None and t >= T:
            break
        cpl = t + f
        b = cpl + ws[k]
        if T is not None:
            fast_ns += (cpl if cpl < T else T) - t
            work_ns += (b if b < T else T) - (cpl if cpl < T else T)
            if cpl < T:
                ncomp += 1
        else:
            fast_ns += f
            work_ns += b - cpl
            ncomp += 1
        cpls.append(cpl)
        k += 1
        t = b
        if b >= slice_end:
            break
    if k == 0:
        return None
    c.take(spc, k, False)
    _count(sim.rt, g, spc, elemsize, k)
    gc = sim.gc
    if gc is not None:
        gc.charge(g, k * elemsize)
    g.consume(charges, k)
    g.work.consume(k)
    acct.add(g.p, "fast_path", fast_ns)
    acct.add(g.p, "work", work_ns)
    acct.complete_list(cpls, f)
    g.note_allocs(elemsize, ncomp, 0)
    return k, t


def _count(rt: Runtime, g: GCtx, spc: int, elemsize: int, k: int) -> None:
    """k small allocations of the goroutine's constant size, one class, from its
    P's cache: in the runtime's stats (``requested_bytes``: k x that size) and on
    the flow's goroutine -> P edge (as ``served_cost``)."""
    rt.count_small(rt.ps[g.p].mcache, spc, elemsize, k, k * g.sizes.const)  # type: ignore[operator]
    g.flow_n += k
    g.flow_b += k * elemsize


def _run_arith(sim: Simulation, g: GCtx, c: MCache, spc: int, elemsize: int, n: int,
               charges: Charges, f: int) -> tuple[int, int] | None:
    """:func:`run_fixed` when every per-allocation time is a constant: the same
    arithmetic on an arithmetic progression, without arrays. None when the run
    would cross the end of a timed run (the array path clips it)."""
    w = int(g.work.const)  # type: ignore[arg-type]
    d = f + w
    now = g.vt
    k = n
    if d > 0:
        # first i with boundary now + (i+1)d >= slice_end, included
        k = min(k, max(1, -(-(g.slice_end - now) // d)))
    acct = sim.acct
    end = now + k * d
    if acct.T is not None and end > acct.T:
        return None
    track = g.lt_kind != "drop" and sim.gc is not None
    c.take(spc, k, track)
    if track:
        record_mask(g, c.alloc[spc], c.last_new,  # type: ignore[arg-type]
                    now + f + d * np.arange(k, dtype=np.int64), c.marking)
    _count(sim.rt, g, spc, elemsize, k)
    g.consume(charges, k)
    acct.add(g.p, "fast_path", k * f)
    acct.add(g.p, "work", k * w)
    acct.complete_every(now + f, d, k, f)
    times = now + f + d * np.arange(k, dtype=np.int64) if g.comp_times is not None else 0
    g.note_allocs(elemsize, k, times)
    return k, end


def run_generic(sim: Simulation, g: GCtx) -> tuple[int, int, tuple[int, bool] | None]:
    """Any size mix: cache hits one at a time without SimPy events. Returns
    (allocations, end time, the pending request that needs the slow path)."""
    rt = sim.rt
    acct = sim.acct
    p = g.p
    t = g.vt
    T = acct.T
    slice_end = g.slice_end
    stats = rt.stats
    gc = sim.gc
    k = 0
    limit = BATCH_CAP if g.remaining < 0 else min(BATCH_CAP, g.remaining)
    while k < limit:
        if T is not None and t >= T:
            break
        size = g.sizes.next()
        noscan = g.noscan.next()
        # a fixed goroutine's size is its one size: classified once (as step_one)
        kind, spc, elemsize = g.fixed_class() if g.fixed else rt.classify(size, noscan)
        nb = 0
        if gc is not None and gc.phase == GC_MARK:
            nb = assist_bytes(kind, size, elemsize)
            if gc.owes(g, nb):  # step_one charges it and assists first
                return k, t, (size, noscan)
        if kind != TINY:
            s = rt.ps[p].mcache.alloc[spc]
            if s is not None and s.fresh_os and (g.touch or s.header_touch):
                # its writes may fault: a kernel event, which step_one takes
                return k, t, (size, noscan)
        tiny_before = stats.tiny_allocs
        a = rt.try_fast_as(p, size, kind, spc, elemsize)
        if not a:
            return k, t, (size, noscan)
        if nb:
            assert gc is not None  # nb > 0 only while a collector marks
            gc.charge(g, nb)
        f = served_cost(rt, g, kind, spc, elemsize, a,
                        kind == TINY and stats.tiny_allocs != tiny_before)
        cpl = t + f
        if g.lt_kind != "drop" and sim.gc is not None and kind != ZERO:
            record_addr(g, rt.mheap.span_of(a), a, cpl,  # type: ignore[arg-type]
                        rt.ps[p].mcache.marking)
        acct.account(p, "fast_path", t, cpl)
        k += 1
        if acct.complete_one(cpl, f):
            g.note_allocs(size if kind == TINY else elemsize, 1, cpl)
        w = g.work.next()
        t = cpl + w
        if w:
            acct.account(p, "work", cpl, t)
        if t >= slice_end:
            break
    return k, t, None
