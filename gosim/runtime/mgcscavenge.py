"""The background scavenger (runtime/mgcscavenge.go).

The scavenger returns free pages the heap no longer needs to the OS
(``sysUnused``: madvise), so that the memory the heap retains (mapped, not
released: HeapSys - HeapReleased) stays near its goal: the heap goal plus 10%
(``gcPercentGoal``, ``reduceExtraPercent``), or 95% of GOMEMLIMIT when that is
lower. It works in small steps (``scavengeOne``: the highest-addressed free
pages not yet released, under ``mheap_.lock``) and paces itself to a CPU
budget: ``scavengePercent`` = 1% of the CPU time GOMAXPROCS Ps give.

Released pages are free and unbacked: the next span that takes them pays a
page fault for each 4 KiB page it writes (``MSpan.fresh_os``).

The go1.12 preset keeps that release's scavenger (mheap.go scavenge: every
5 minutes for spans unused for 5 minutes, from sysmon), which never runs in a
simulated run of seconds: ``Design.scavenger == 'periodic'`` turns it off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gosim.runtime.mheap import MHeap

#: mgcscavenge.go scavengePercent: the background scavenger's CPU budget
SCAVENGE_PERCENT = 1
#: mgcscavenge.go reduceExtraPercent: retained memory goal over the heap goal
REDUCE_EXTRA_PERCENT = 10
#: mgcscavenge.go retainExtraPercent for the memory limit: 95% of it
MEMORY_LIMIT_RETAIN_PERCENT = 95
#: pages one scavengeOne releases at most (64 KiB, the minimum scavenge unit in
#: recent releases is a page; the runtime works in chunks of this order)
SCAVENGE_MAX_PAGES = 8


def retained_bytes(h: MHeap) -> int:
    """Heap memory mapped and backed: HeapSys - HeapReleased."""
    return h.sys_bytes - h.heap_released_bytes


def retained_goal(heap_goal: int, memory_limit: int | None) -> int:
    """gcPaceScavenger: the retained-memory goal."""
    goal = heap_goal * (100 + REDUCE_EXTRA_PERCENT) // 100
    if memory_limit is not None:
        goal = min(goal, memory_limit * MEMORY_LIMIT_RETAIN_PERCENT // 100)
    return goal


def scavenge_one(h: MHeap, max_pages: int = SCAVENGE_MAX_PAGES) -> int:
    """Release up to max_pages free, backed pages, highest addresses first
    (the page allocator's scavenge index searches downward). Caller holds
    mheap.lock. Returns the pages released."""
    released = 0
    for start, n in reversed(h.free.runs()):
        bits = h.scav.bits(start, n)
        full = (1 << n) - 1
        if bits == full:
            continue
        i = n - 1
        while i >= 0 and released < max_pages:
            if not bits >> i & 1:
                h.scav.add(start + i, 1)
                released += 1
            i -= 1
        if released >= max_pages:
            break
    h.stats.scavenged_pages += released
    return released



__all__ = ["retained_bytes", "retained_goal", "scavenge_one", "SCAVENGE_PERCENT"]
