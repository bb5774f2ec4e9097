"""GC bits arenas (mheap.go newMarkBits / newArenaMayUnlock) under contention:
a P that waited for the lock tries the head arena again; with no free arena a
P drops the lock for its sysAlloc, and a fresh arena another P installed
meanwhile sends its own to the free list, never touched."""

from __future__ import annotations

import math

import pytest

from gosim.runtime.mgcsweep import GC_BITS_CHUNK_BYTES
from gosim.scenario import Scenario
from gosim.sim.engine import Simulation

#: the kernel's page: a fresh one faults on its first write
OS_PAGE_BYTES = 4096


def _run(procs: int) -> tuple[Simulation, dict]:
    sim = Simulation(Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": procs, "seed": 5, "gc": {"enabled": False},
        "workload": {"groups": [{"count": procs, "size": 1024, "allocations": 240_000 // procs,
                                 "touch": True}]},
    }))
    return sim, sim.run().to_dict()


@pytest.mark.parametrize("procs", [1, 8])
def test_arenas_installed_are_exactly_the_bitmaps_needs(procs: int) -> None:
    sim, res = _run(procs)
    gb = sim.rt.mheap.gcbits
    spans = res["metrics"]["alloc_span_calls"]
    # a 1 KiB span has 8 objects: an 8-byte alloc and an 8-byte mark bitmap
    assert spans >= 240_000 // 8
    need = math.ceil(spans * 16 / GC_BITS_CHUNK_BYTES)
    assert gb.new_arenas == need  # no P that waited installs a second arena
    pages = GC_BITS_CHUNK_BYTES // OS_PAGE_BYTES
    if procs == 1:
        assert gb.fresh_arenas == need and gb.free_untouched == 0
        # every page of every installed arena faults once, the last as far as used
        assert gb.faults == pages * (need - 1) + math.ceil(gb.used / OS_PAGE_BYTES)
    else:
        # Ps that ran out together each mapped one; the spares waited untouched
        # and were installed later (zeroed, so faulted in, under the lock)
        assert gb.reused_untouched >= 1
        # every arena mapped is installed once or still spare
        assert gb.fresh_arenas == need + gb.free_untouched
        # a spare's header is written when it is mapped (newArenaMayUnlock's
        # result.next = nil, under the lock), its other pages when it is zeroed;
        # the head as far as used (all of it if it was a spare)
        lo = pages * (need - 1) + math.ceil(gb.used / OS_PAGE_BYTES) + gb.free_untouched
        assert lo <= gb.faults <= pages * need + gb.free_untouched
        sites = {r["fn"] for r in res["lock_sites"] if r["lock"] == "gcBitsArenas"}
        assert sites == {"newMarkBits"}
