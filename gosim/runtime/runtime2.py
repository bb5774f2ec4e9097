"""The P (runtime/runtime2.go type p): the per-P allocator state."""

from __future__ import annotations

from gosim.runtime.mcache import MCache
from gosim.runtime.mpagecache import PageCache


class P:
    __slots__ = ("id", "mcache", "pcache", "mspancache_len")

    def __init__(self, pid: int, mcache: MCache) -> None:
        self.id = pid
        self.mcache = mcache
        self.pcache = PageCache()
        #: mspan structs cached on this P (p.mspancache.len)
        self.mspancache_len = 0
