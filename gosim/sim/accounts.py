"""What a run counts: P time by category, completed allocations (latency
histogram, completions per bin), paths taken and heap samples.

Time after the end of a timed run (``T``) is not counted: P time is clipped
at ``T`` and an allocation completing at or after it is not complete.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    from gosim.sim.trace import Tracer


#: complete_every counts per bin in a loop up to this many bins, else with numpy
_ARITH_BINS: Final = 64


class Accounts:
    def __init__(self, T: int | None, nprocs: int, series_bin_ns: int | None,
                 tracer: Tracer | None = None) -> None:
        self.T = T
        #: per P: category -> ns (fast_path, slow_path, work, sched, atomic,
        #: wait:<lock kind>, hold:<lock kind>); idle is what is left
        self.ptime: list[dict[str, int]] = [dict() for _ in range(nprocs)]
        self.completed = 0
        #: allocations that took the slow path, and that took a runtime lock
        self.slow_allocs = 0
        self.locked_allocs = 0
        #: malloc latency (ns) -> allocations
        self.hist: dict[int, int] = {}
        self.bin_ns = max(1000, (T // 1000) if T else 10_000)
        #: completions per bin of ``bin_ns`` (a list: one bin is bumped at a time
        #: from compiled code, which indexes a list natively; ``comp_bins`` is
        #: the array; a bin is bumped as ``b[i] = b[i] + n``: compiled, ``b[i] += n``
        #: is a generic in-place add)
        self._bins: list[int] = [0] * 1024
        self.series_bin_ns = series_bin_ns
        #: (time, P, heap_inuse_bytes, heap_sys_bytes) after each slow path, for
        #: time series: the heap changes only there
        #: (time, P, heap in use, heap sys, heap released, the pacer's heapLive,
        #: GC cycles so far) at every slow path, when a time series is asked for
        self.heap_samples: list[tuple[int, int, int, int, int, int, int]] = []
        #: traced: every accounted interval also goes to the tracer
        self.tracer = tracer
        #: the interval accounted last, not yet added to ``ptime`` (untraced
        #: runs): the next one that continues it on the same P and category
        #: extends it (a slow path charges several costs back to back), and
        #: ``flush`` adds it, clipped at ``T`` (clipping is additive over
        #: adjoining intervals, so the sums are those of adding each)
        self._pp = -1
        self._pcat = ""
        self._pstart = 0
        self._pend = 0

    def account(self, p: int, cat: str, start: int, end: int) -> None:
        """P ``p`` spent [start, end) on ``cat`` (in ``ptime`` once flushed)."""
        if self.tracer is None:
            if start == self._pend and p == self._pp and cat == self._pcat:
                if end > start:
                    self._pend = end
                return
            if end <= start:
                return
            self.flush()
            self._pp = p
            self._pcat = cat
            self._pstart = start
            self._pend = end
            return
        end = self._add(p, cat, start, end)
        if end > start:
            self.tracer.account(p, cat, start, end)

    def flush(self) -> None:
        """Add the interval held back by ``account`` to ``ptime``."""
        p = self._pp
        if p >= 0:
            self._pp = -1
            self._add(p, self._pcat, self._pstart, self._pend)

    def _add(self, p: int, cat: str, start: int, end: int) -> int:
        """Add [start, end), clipped at the run's end, to P ``p``'s ``cat``;
        returns the clipped end (at most ``start`` when nothing was added)."""
        T = self.T
        if T is not None:
            if start >= T:
                return start
            if end > T:
                end = T
        if end > start:
            d = self.ptime[p]
            d[cat] = d.get(cat, 0) + (end - start)
        return end

    def add(self, p: int, cat: str, ns: int) -> None:
        """P ``p`` spent ``ns`` (already clipped at the run's end) on ``cat``."""
        if ns:
            d = self.ptime[p]
            d[cat] = d.get(cat, 0) + ns

    @property
    def comp_bins(self) -> np.ndarray:
        """Completions per bin of ``bin_ns``, from time 0."""
        return np.array(self._bins, dtype=np.int64)

    def _grow(self, b: int) -> None:
        n = len(self._bins)
        if b >= n:
            self._bins.extend([0] * (max(b + 1, 2 * n) - n))

    def complete(self, times: np.ndarray, lat: np.ndarray | int) -> None:
        """Allocations completed at ``times`` (sorted) with latencies ``lat``."""
        T = self.T
        if T is not None:
            m = int(np.searchsorted(times, T, "left"))
            if m < len(times):
                times = times[:m]
                if not isinstance(lat, int):
                    lat = lat[:m]
        n = len(times)
        if n == 0:
            return
        self.completed += n
        h = self.hist
        if isinstance(lat, int):
            h[lat] = h.get(lat, 0) + n
        else:
            vals, cnts = np.unique(lat, return_counts=True)
            for v, c in zip(vals.tolist(), cnts.tolist(), strict=True):
                h[v] = h.get(v, 0) + c
        bins = times // self.bin_ns
        lo, hi = int(bins[0]), int(bins[-1])
        self._grow(hi)
        lst = self._bins
        if lo == hi:
            lst[lo] = lst[lo] + n
        else:
            for i, c in enumerate(np.bincount(bins - lo).tolist()):
                lst[lo + i] += c

    def complete_list(self, times: list[int], lat: int) -> None:
        """:meth:`complete` for a short sorted list of completion times sharing
        one latency, without arrays (the same counts, bins grown alike)."""
        T = self.T
        if T is not None and times and times[-1] >= T:
            times = [t for t in times if t < T]
        n = len(times)
        if n == 0:
            return
        self.completed += n
        h = self.hist
        h[lat] = h.get(lat, 0) + n
        bn = self.bin_ns
        lo = times[0] // bn
        hi = times[-1] // bn
        self._grow(hi)
        lst = self._bins
        if lo == hi:
            lst[lo] = lst[lo] + n
        else:
            for t in times:
                j = t // bn
                lst[j] = lst[j] + 1

    def complete_one(self, t: int, lat: int) -> bool:
        """One allocation completed at ``t``; False if that is past the run's end."""
        if self.T is not None and t >= self.T:
            return False
        self.completed += 1
        h = self.hist
        h[lat] = h.get(lat, 0) + 1
        b = t // self.bin_ns
        bins = self._bins
        if b >= len(bins):
            self._grow(b)
        bins[b] = bins[b] + 1
        return True

    def complete_every(self, first: int, d: int, k: int, lat: int) -> None:
        """k allocations completed at first, first + d, ... (all before the run's
        end), each with latency ``lat``."""
        bn = self.bin_ns
        last = first + (k - 1) * d
        b0 = first // bn
        b1 = last // bn
        if b1 - b0 > _ARITH_BINS:
            self.complete(first + d * np.arange(k, dtype=np.int64), lat)
            return
        self._grow(b1)
        self.completed += k
        self.hist[lat] = self.hist.get(lat, 0) + k
        bins = self._bins
        if b0 == b1:
            bins[b0] = bins[b0] + k
            return
        # completion i is at first + i*d (d > 0 here): those before the end of
        # bin b number ceil((end - first) / d); each bin gets the difference
        done = 0
        for b in range(b0, b1):
            upto = -(-((b + 1) * bn - first) // d)
            bins[b] = bins[b] + (upto - done)
            done = upto
        bins[b1] = bins[b1] + (k - done)
