"""The OS side of memory (runtime/mem_linux.go): what the kernel charges.

A first write to a 4 KiB page the process has never touched, or that was
released with madvise (the scavenger, sysUnused), is a minor page fault: the
kernel allocates and zeroes a page under the process's memory-map locks. The
model sends every such fault through one lock-free cell per process
(``MHeap.os_faults``): a fault costs ``page_fault_ns`` x (1 + factor x the
faults other Ps have in flight), ``page_fault_contention_factor``: the
kernel's fault path stops scaling with cores (the 16-core ground truth: with
the GC off, faults per second grow 4x from 1 to 16 Ps). At most
``page_fault_contention_max`` of those faults count: the real kernel's time
per fault levels off from about 8 Ps on (docs/decisions.md).
"""

from __future__ import annotations

from gosim.runtime.context import AtomicCell, Ctx, Gen


def page_faults(ctx: Ctx, cell: AtomicCell, n: int) -> Gen[None]:
    """n first writes to fresh OS pages, one fault each through the kernel."""
    for _ in range(n):
        yield from ctx.atomic(cell, "page_fault_ns")


__all__ = ["page_faults"]
