"""Sets of page runs with coalescing: the free-page and scavenged-page maps.

The real page allocator (mpagealloc.go) is a radix tree of bitmaps; the model
keeps the same information (which pages are free, which are scavenged) as
sorted, maximal runs so that allocation, freeing and coalescing are exact and
cheap for the heap sizes a simulation produces.
"""

from __future__ import annotations

from bisect import bisect_right


class RunSet:
    """A set of pages stored as disjoint, maximal [start, start+n) runs."""

    __slots__ = ("_starts", "_len", "total")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._len: dict[int, int] = {}
        self.total = 0

    def __len__(self) -> int:
        return len(self._starts)

    def runs(self) -> list[tuple[int, int]]:
        return [(s, self._len[s]) for s in self._starts]

    def add(self, start: int, n: int) -> None:
        """Add pages [start, start+n) (must not overlap the set); coalesce neighbours."""
        if n <= 0:
            return
        i = bisect_right(self._starts, start)
        if i > 0:
            ps = self._starts[i - 1]
            if ps + self._len[ps] > start:
                raise ValueError(f"run {start}+{n} overlaps {ps}+{self._len[ps]}")
        if i < len(self._starts) and self._starts[i] < start + n:
            raise ValueError(f"run {start}+{n} overlaps {self._starts[i]}")
        self.total += n
        # merge with successor
        if i < len(self._starts) and self._starts[i] == start + n:
            nxt = self._starts.pop(i)
            n += self._len.pop(nxt)
        # merge with predecessor
        if i > 0:
            ps = self._starts[i - 1]
            if ps + self._len[ps] == start:
                self._len[ps] += n
                return
        self._starts.insert(i, start)
        self._len[start] = n

    def remove(self, start: int, n: int) -> int:
        """Remove whatever of [start, start+n) is in the set; return how many pages."""
        end = start + n
        i = bisect_right(self._starts, start) - 1
        if i < 0:
            i = 0
        starts = self._starts
        if i < len(starts) and starts[i] == start:
            # the common case: a prefix of one run (the run's start moves up)
            ln = self._len[start]
            if n < ln:
                del self._len[start]
                starts[i] = end
                self._len[end] = ln - n
                self.total -= n
                return n
        removed = 0
        while i < len(self._starts):
            s = self._starts[i]
            if s >= end:
                break
            ln = self._len[s]
            e = s + ln
            if e <= start:
                i += 1
                continue
            lo, hi = max(s, start), min(e, end)
            removed += hi - lo
            # split s..e into s..lo and hi..e
            del self._len[s]
            self._starts.pop(i)
            if s < lo:
                self._starts.insert(i, s)
                self._len[s] = lo - s
                i += 1
            if hi < e:
                self._starts.insert(i, hi)
                self._len[hi] = e - hi
                i += 1
        self.total -= removed
        return removed

    def contains(self, start: int, n: int) -> bool:
        i = bisect_right(self._starts, start) - 1
        if i < 0:
            return False
        s = self._starts[i]
        return s + self._len[s] >= start + n

    def first(self) -> int | None:
        return self._starts[0] if self._starts else None

    def find_first_fit(self, n: int) -> int | None:
        """Lowest-addressed run start with at least n pages (mpagealloc.go find)."""
        for s in self._starts:
            if self._len[s] >= n:
                return s
        return None

    def find_best_fit(self, n: int) -> int | None:
        """Smallest run with at least n pages, lowest address on ties (Go <= 1.13 treap)."""
        best = None
        best_len = 0
        for s in self._starts:
            ln = self._len[s]
            if ln >= n and (best is None or ln < best_len):
                best, best_len = s, ln
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
        i = max(bisect_right(self._starts, base) - 1, 0)
        while i < len(self._starts):
            s = self._starts[i]
            if s >= end:
                break
            e = s + self._len[s]
            if e > base:
                lo, hi = max(s, base) - base, min(e, end) - base
                bits |= ((1 << (hi - lo)) - 1) << lo
            i += 1
        return bits
