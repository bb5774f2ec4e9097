"""Sets of page runs with coalescing: the free-page and scavenged-page maps.

The real page allocator (mpagealloc.go) is a radix tree of bitmaps; the model
keeps the same information (which pages are free, which are scavenged) as
sorted, maximal runs so that allocation, freeing and coalescing are exact and
cheap for the heap sizes a simulation produces.
"""

from __future__ import annotations

from bisect import bisect_right


class RunSet:
    """A set of pages stored as disjoint, maximal [start, start+n) runs: the
    runs' starts, sorted, and their lengths in a parallel list (an index, not
    a dictionary probe, per lookup)."""

    __slots__ = ("_starts", "_lens", "total")

    def __init__(self) -> None:
        self._starts: list[int] = []
        #: _lens[i]: the pages of the run at _starts[i]
        self._lens: list[int] = []
        self.total = 0

    def __len__(self) -> int:
        return len(self._starts)

    def runs(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._lens, strict=True))

    def add(self, start: int, n: int) -> None:
        """Add pages [start, start+n) (must not overlap the set); coalesce neighbours."""
        if n <= 0:
            return
        starts = self._starts
        lens = self._lens
        i = bisect_right(starts, start)
        if i > 0:
            ps = starts[i - 1]
            if ps + lens[i - 1] > start:
                raise ValueError(f"run {start}+{n} overlaps {ps}+{lens[i - 1]}")
        if i < len(starts) and starts[i] < start + n:
            raise ValueError(f"run {start}+{n} overlaps {starts[i]}")
        self.total += n
        # coalesce with the successor and/or the predecessor, in place where the
        # number of runs stays (an insert or a pop moves every later entry)
        next_ = i < len(starts) and starts[i] == start + n
        if i > 0 and starts[i - 1] + lens[i - 1] == start:
            if next_:
                lens[i - 1] = lens[i - 1] + n + lens[i]
                starts.pop(i)
                lens.pop(i)
            else:
                lens[i - 1] = lens[i - 1] + n
        elif next_:
            starts[i] = start
            lens[i] = lens[i] + n
        else:
            starts.insert(i, start)
            lens.insert(i, n)

    def remove(self, start: int, n: int) -> int:
        """Remove whatever of [start, start+n) is in the set; return how many pages."""
        end = start + n
        starts = self._starts
        lens = self._lens
        i = bisect_right(starts, start) - 1
        if i < 0:
            i = 0
        if i < len(starts) and starts[i] == start:
            # the common case: a prefix of one run (the run's start moves up)
            ln = lens[i]
            if n < ln:
                starts[i] = end
                lens[i] = ln - n
                self.total -= n
                return n
        removed = 0
        while i < len(starts):
            s = starts[i]
            if s >= end:
                break
            e = s + lens[i]
            if e <= start:
                i += 1
                continue
            lo, hi = max(s, start), min(e, end)
            removed += hi - lo
            # split s..e into s..lo and hi..e (in place where the number of
            # runs stays: an insert or a pop moves every later entry)
            if s < lo:
                lens[i] = lo - s
                i += 1
                if hi < e:
                    starts.insert(i, hi)
                    lens.insert(i, e - hi)
                    i += 1
            elif hi < e:
                starts[i] = hi
                lens[i] = e - hi
                i += 1
            else:
                starts.pop(i)
                lens.pop(i)
        self.total -= removed
        return removed

    def contains(self, start: int, n: int) -> bool:
        i = bisect_right(self._starts, start) - 1
        if i < 0:
            return False
        return self._starts[i] + self._lens[i] >= start + n

    def first(self) -> int | None:
        return self._starts[0] if self._starts else None

    def find_first_fit(self, n: int) -> int | None:
        """Lowest-addressed run start with at least n pages (mpagealloc.go find)."""
        lens = self._lens
        for i in range(len(lens)):
            if lens[i] >= n:
                return self._starts[i]
        return None

    def find_best_fit(self, n: int) -> int | None:
        """Smallest run with at least n pages, lowest address on ties (Go <= 1.13 treap)."""
        best = None
        best_len = 0
        lens = self._lens
        for i in range(len(lens)):
            ln = lens[i]
            if ln >= n and (best is None or ln < best_len):
                best, best_len = self._starts[i], ln
                if ln == n:
                    break
        return best

    def bits64(self, base: int) -> int:
        """Bitmap of set pages in [base, base+64) (bit i = page base+i)."""
        return self.bits(base, 64)

    def bits(self, base: int, n: int) -> int:
        """Bitmap of set pages in [base, base+n) (bit i = page base+i)."""
        bits = 0
        end = base + n
        starts = self._starts
        lens = self._lens
        i = max(bisect_right(starts, base) - 1, 0)
        while i < len(starts):
            s = starts[i]
            if s >= end:
                break
            e = s + lens[i]
            if e > base:
                lo, hi = max(s, base) - base, min(e, end) - base
                bits |= ((1 << (hi - lo)) - 1) << lo
            i += 1
        return bits
