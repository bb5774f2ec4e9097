"""The P (runtime/runtime2.go type p): the per-P allocator state."""

from __future__ import annotations

from gosim.runtime.mcache import MCache
from gosim.runtime.mpagecache import PageCache


class P:
    __slots__ = ("id", "mcache", "pcache", "mspancache_len", "mspancache_fresh")

    def __init__(self, pid: int, mcache: MCache) -> None:
        self.id = pid
        self.mcache = mcache
        self.pcache = PageCache()
        #: mspan structs cached on this P (p.mspancache.len)
        self.mspancache_len = 0
        #: which of them were never used (fixalloc carved them from a chunk), in
        #: the cache's stack order, the next one handed out last (kept only
        #: while the fresh-struct cost is on: MHeap.fresh_structs)
        self.mspancache_fresh: list[bool] = []
