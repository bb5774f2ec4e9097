"""The per-P page cache (runtime/mpagecache.go): a 64-page aligned block and a
bitmap of its free pages, used without mheap.lock for spans under 16 pages."""

from __future__ import annotations


def find_bit_range64(c: int, n: int) -> int:
    """Lowest index i such that bits i..i+n-1 of c are all set, or 64
    (mpagecache.go findBitRange64: shrink every run of 1s by its top n-1 bits,
    doubling the shift each round, then take the lowest 1 left)."""
    p = n - 1  # 1s still to remove from the top of each run
    k = 1  # the current minimum width of the runs of 0s in c
    while p > 0:
        if p <= k:
            c &= c >> p
            break
        c &= c >> k
        if c == 0:
            return 64
        p -= k
        k *= 2
    return (c & -c).bit_length() - 1 if c else 64


class PageCache:
    __slots__ = ("base_page", "cache")

    def __init__(self, base_page: int = 0, cache: int = 0) -> None:
        self.base_page = base_page
        #: bit i set = page base_page+i is free and owned by this cache
        self.cache = cache

    def empty(self) -> bool:
        return self.cache == 0

    def free_pages(self) -> int:
        return bin(self.cache).count("1")

    def alloc(self, npages: int) -> int | None:
        """Take npages contiguous free pages; return the first page number or None."""
        c = self.cache
        if c == 0:
            return None
        if npages == 1:
            # mpagecache.go alloc's single-page case: the lowest free page
            # (TrailingZeros64), its bit cleared
            low = c & -c
            self.cache = c ^ low
            return self.base_page + low.bit_length() - 1
        i = find_bit_range64(c, npages)
        if i >= 64:
            return None
        self.cache &= ~(((1 << npages) - 1) << i)
        return self.base_page + i
