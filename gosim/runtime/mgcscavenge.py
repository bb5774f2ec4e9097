"""The background scavenger (runtime/mgcscavenge.go).

The scavenger returns free pages the heap no longer needs to the OS
(``sysUnused``: madvise), so that the memory the heap retains (mapped, not
released: HeapSys - HeapReleased) stays near its goal, set at each mark
termination (:func:`pace_scavenger`): the heap in use then plus 10%
(``gcPercentGoal``), or 95% of GOMEMLIMIT (``memoryLimitGoal``). It works in
steps of 64 KiB (``scavengeOne``: the highest-addressed free pages not yet
released, under ``mheap_.lock``). A run works until the goal is met, there is
nothing left to release, or it has worked ``minScavWorkTime`` (1 ms); it then
sleeps to keep to ``scavengePercent`` = 1% of GOMAXPROCS CPUs, counting at
least 1 ms of work, or parks when it released nothing. Every sweep
termination wakes it (mgcsweep.go finishsweep_m ``scavenger.wake()``), which
cuts a sleep short too: the sleeping scavenger counts as parked
(``scavengerState.sleep``).

Released pages are free and unbacked: the next span that takes them pays a
page fault for each 4 KiB page it writes (``MSpan.fresh_os``).

The go1.12 preset keeps that release's scavenger (mheap.go scavenge: every
5 minutes for spans unused for 5 minutes, from sysmon), which never runs in a
simulated run of seconds: ``Design.scavenger == 'periodic'`` turns it off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from gosim.runtime.mheap import MHeap

#: mgcscavenge.go scavengePercent: the background scavenger's CPU budget
SCAVENGE_PERCENT: Final = 1
#: mgcscavenge.go retainExtraPercent (10%) over the heap in use, as the divisor
#: gcPaceScavenger's integer arithmetic turns it into
RETAIN_EXTRA_PERCENT_DIVISOR: Final = 10
#: mgcscavenge.go reduceExtraPercent (5%): the memory-limit goal is 95% of it
MEMORY_LIMIT_RETAIN_PERCENT: Final = 95
#: pages one scavengeOne releases at most: bgscavenge's scavengeQuantum (64 KiB)
SCAVENGE_MAX_PAGES: Final = 8
#: mgcscavenge.go minScavWorkTime: a run works at least this long (unless it is
#: told to stop or runs out of memory to release), and sleeps as if it had
MIN_SCAV_WORK_NS: Final = 1_000_000


def retained_bytes(h: MHeap) -> int:
    """Heap memory mapped and backed: HeapSys - HeapReleased."""
    return h.sys_bytes - h.heap_released_bytes


#: the physical page size the runtime rounds the goal to (physPageSize, Linux amd64)
PHYS_PAGE_SIZE: Final = 4096
#: a goal that is off (mgcscavenge.go stores ^uint64(0))
GOAL_OFF: Final = -1


def pace_scavenger(retained: int, last_heap_inuse: int, heap_goal: int, last_heap_goal: int,
                   memory_limit: int | None) -> tuple[int, int]:
    """mgcscavenge.go gcPaceScavenger, at each mark termination (gcControllerCommit):
    ``(gcPercentGoal, memoryLimitGoal)``, each :data:`GOAL_OFF` when off.

    The retained-memory goal is the heap in use at this mark termination
    (``memstats.lastHeapInUse``) scaled by how the heap goal moved
    (heapGoal / lastHeapGoal), plus ``retainExtraPercent`` (10%), rounded up
    to a physical page; it is off when the heap already retains no more than
    that (or less than a page more). The memory-limit goal is 95% of
    GOMEMLIMIT (``reduceExtraPercent``), off while the mapped memory is under it."""
    ml_goal = GOAL_OFF
    if memory_limit is not None:
        g = memory_limit * MEMORY_LIMIT_RETAIN_PERCENT // 100
        if retained > g:
            ml_goal = g
    if last_heap_goal == 0:
        return GOAL_OFF, ml_goal
    goal = int(last_heap_inuse * (heap_goal / last_heap_goal))
    goal += goal // RETAIN_EXTRA_PERCENT_DIVISOR
    goal = (goal + PHYS_PAGE_SIZE - 1) // PHYS_PAGE_SIZE * PHYS_PAGE_SIZE
    if retained <= goal or retained - goal < PHYS_PAGE_SIZE:
        return GOAL_OFF, ml_goal
    return goal, ml_goal


def should_stop(retained: int, gc_percent_goal: int, memory_limit_goal: int) -> bool:
    """The scavenger's shouldStop (mgcscavenge.go scavengerState.init): retained
    memory within the GC-percent goal and mapped memory within the memory-limit
    goal (a goal that is off is never exceeded; both start at 0, so a scavenger
    woken before the first mark termination releases what it can)."""
    return ((gc_percent_goal == GOAL_OFF or retained <= gc_percent_goal)
            and (memory_limit_goal == GOAL_OFF or retained <= memory_limit_goal))


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



__all__ = ["retained_bytes", "pace_scavenger", "should_stop", "scavenge_one", "GOAL_OFF",
           "MIN_SCAV_WORK_NS", "SCAVENGE_MAX_PAGES", "SCAVENGE_PERCENT"]
