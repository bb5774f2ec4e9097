"""Sets of page runs with coalescing: the free-page and scavenged-page maps.

The real page allocator (mpagealloc.go) is a radix tree of bitmaps; the model
keeps the same information (which pages are free, which are scavenged) as
sorted, maximal runs so that allocation, freeing and coalescing are exact and
cheap for the heap sizes a simulation produces.
"""

from __future__ import annotations

from typing import Final

#: a block of runs splits in two past this many (an insert or a pop moves
#: the later entries of its block only)
BLOCK_RUNS: Final = 128


def bisect_right(a: list[int], x: int) -> int:
    """``bisect.bisect_right`` for a list of ints: compiled, a loop of native
    comparisons (the C function is a generic call that boxes ``x`` and its answer)."""
    lo = 0
    hi = len(a)
    while lo < hi:
        mid = (lo + hi) >> 1
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


class RunSet:
    """A set of pages stored as disjoint, maximal [start, start+n) runs, in
    start order, in blocks of at most :data:`BLOCK_RUNS`: each block's run
    starts and, in a parallel list, their lengths (an index, not a dictionary
    probe, per lookup). A fragmented heap has thousands of free runs; in one
    flat list every run added or taken out moved every later entry."""

    __slots__ = ("_starts", "_lens", "_firsts", "_n", "total")

    def __init__(self) -> None:
        #: the blocks: run starts (sorted across blocks) and their lengths
        self._starts: list[list[int]] = []
        self._lens: list[list[int]] = []
        #: each block's first start (bisected to find a page's block)
        self._firsts: list[int] = []
        #: runs in the set
        self._n = 0
        self.total = 0

    def __len__(self) -> int:
        return self._n

    def runs(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for j in range(len(self._starts)):
            out.extend(zip(self._starts[j], self._lens[j], strict=True))
        return out

    def _locate(self, x: int) -> tuple[int, int]:
        """(block, index) of the last run starting at or before page x; (0, -1)
        if none does."""
        if len(self._firsts) == 1:  # a set of few runs: one block
            return 0, bisect_right(self._starts[0], x) - 1
        j = bisect_right(self._firsts, x) - 1
        if j < 0:
            return 0, -1
        return j, bisect_right(self._starts[j], x) - 1

    def _pop(self, j: int, i: int) -> bool:
        """Take run i of block j out; True if that emptied (and removed) the block."""
        bs = self._starts[j]
        del bs[i]
        del self._lens[j][i]
        self._n -= 1
        if not bs:
            del self._starts[j]
            del self._lens[j]
            del self._firsts[j]
            return True
        if i == 0:
            self._firsts[j] = bs[0]
        return False

    def _insert(self, j: int, i: int, start: int, n: int) -> None:
        """A new run at index i of block j (a block that grows past BLOCK_RUNS splits)."""
        bs = self._starts[j]
        bl = self._lens[j]
        bs.insert(i, start)
        bl.insert(i, n)
        self._n += 1
        if i == 0:
            self._firsts[j] = start
        if len(bs) > BLOCK_RUNS:
            h = len(bs) // 2
            self._starts.insert(j + 1, bs[h:])
            self._lens.insert(j + 1, bl[h:])
            self._firsts.insert(j + 1, bs[h])
            del bs[h:]
            del bl[h:]

    def add(self, start: int, n: int) -> None:
        """Add pages [start, start+n) (must not overlap the set); coalesce neighbours."""
        if n <= 0:
            return
        nb = len(self._starts)
        if nb == 0:
            self._starts.append([start])
            self._lens.append([n])
            self._firsts.append(start)
            self._n = 1
            self.total += n
            return
        j, i = self._locate(start)
        bs = self._starts[j]
        bl = self._lens[j]
        if i >= 0 and bs[i] + bl[i] > start:
            raise ValueError(f"run {start}+{n} overlaps {bs[i]}+{bl[i]}")
        # the successor: the next run, in this block or the next
        sj = j
        si = i + 1
        if si >= len(bs):
            sj = j + 1
            si = 0
        has_next = sj < nb
        if has_next and self._starts[sj][si] < start + n:
            raise ValueError(f"run {start}+{n} overlaps {self._starts[sj][si]}")
        self.total += n
        # coalesce with the successor and/or the predecessor, in place where the
        # number of runs stays
        next_ = has_next and self._starts[sj][si] == start + n
        if i >= 0 and bs[i] + bl[i] == start:
            if next_:
                bl[i] = bl[i] + n + self._lens[sj][si]
                self._pop(sj, si)
            else:
                bl[i] = bl[i] + n
        elif next_:
            self._starts[sj][si] = start
            self._lens[sj][si] = self._lens[sj][si] + n
            if si == 0:
                self._firsts[sj] = start
        else:
            self._insert(j, i + 1, start, n)

    def remove(self, start: int, n: int) -> int:
        """Remove whatever of [start, start+n) is in the set; return how many pages."""
        if not self._starts:
            return 0
        end = start + n
        j, i = self._locate(start)
        if i < 0:
            i = 0
        bs = self._starts[j]
        bl = self._lens[j]
        if bs[i] == start:
            # the common case: a prefix of one run (the run's start moves up)
            ln = bl[i]
            if n < ln:
                bs[i] = end
                bl[i] = ln - n
                if i == 0:
                    self._firsts[j] = end
                self.total -= n
                return n
        removed = 0
        while j < len(self._starts):
            bs = self._starts[j]
            bl = self._lens[j]
            if i >= len(bs):
                j += 1
                i = 0
                continue
            s = bs[i]
            if s >= end:
                break
            e = s + bl[i]
            if e <= start:
                i += 1
                continue
            lo, hi = max(s, start), min(e, end)
            removed += hi - lo
            # split s..e into s..lo and hi..e (in place where the number of
            # runs stays); a run left after hi ends the removal (hi == end)
            if s < lo:
                bl[i] = lo - s
                if hi < e:
                    self._insert(j, i + 1, hi, e - hi)
                    break
                i += 1
            elif hi < e:
                bs[i] = hi
                bl[i] = e - hi
                if i == 0:
                    self._firsts[j] = hi
                break
            elif self._pop(j, i):
                i = 0  # the block went: the next one is at j now
        self.total -= removed
        return removed

    def contains(self, start: int, n: int) -> bool:
        if not self._starts:
            return False
        j, i = self._locate(start)
        if i < 0:
            return False
        return self._starts[j][i] + self._lens[j][i] >= start + n

    def first(self) -> int | None:
        return self._firsts[0] if self._firsts else None

    def find_first_fit(self, n: int) -> int | None:
        """Lowest-addressed run start with at least n pages (mpagealloc.go find)."""
        for j in range(len(self._lens)):
            bl = self._lens[j]
            for i in range(len(bl)):
                if bl[i] >= n:
                    return self._starts[j][i]
        return None

    def find_best_fit(self, n: int) -> int | None:
        """Smallest run with at least n pages, lowest address on ties (Go <= 1.13 treap)."""
        best = None
        best_len = 0
        for j in range(len(self._lens)):
            bl = self._lens[j]
            for i in range(len(bl)):
                ln = bl[i]
                if ln >= n and (best is None or ln < best_len):
                    best, best_len = self._starts[j][i], ln
                    if ln == n:
                        return best
        return best

    def bits64(self, base: int) -> int:
        """Bitmap of set pages in [base, base+64) (bit i = page base+i)."""
        return self.bits(base, 64)

    def bits(self, base: int, n: int) -> int:
        """Bitmap of set pages in [base, base+n) (bit i = page base+i)."""
        bits = 0
        end = base + n
        if not self._starts:
            return 0
        j, i = self._locate(base)
        if i < 0:
            i = 0
        nb = len(self._starts)
        while j < nb:
            bs = self._starts[j]
            bl = self._lens[j]
            while i < len(bs):
                s = bs[i]
                if s >= end:
                    return bits
                e = s + bl[i]
                if e > base:
                    lo, hi = max(s, base) - base, min(e, end) - base
                    bits |= ((1 << (hi - lo)) - 1) << lo
                i += 1
            j += 1
            i = 0
        return bits
