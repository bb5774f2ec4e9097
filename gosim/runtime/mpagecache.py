"""The per-P page cache (runtime/mpagecache.go): a 64-page aligned block and a
bitmap of its free pages, used without mheap.lock for spans under 16 pages."""

from __future__ import annotations


def find_bit_range64(c: int, n: int) -> int:
    """Lowest index i such that bits i..i+n-1 of c are all set, or 64 (mpagecache.go)."""
    if n == 1:
        return (c & -c).bit_length() - 1 if c else 64
    mask = (1 << n) - 1
    for i in range(0, 65 - n):
        if (c >> i) & mask == mask:
            return i
    return 64


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
        if self.cache == 0:
            return None
        i = find_bit_range64(self.cache, npages)
        if i >= 64:
            return None
        self.cache &= ~(((1 << npages) - 1) << i)
        return self.base_page + i
