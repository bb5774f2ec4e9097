"""The live heap (ballast) is built a span at a time (gosim/sim/gc.py
build_live_heap): the resulting runtime state must be exactly what one
mallocgc per object builds. The per-object build stays here as the reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import gosim.sim.engine as engine
from gosim.runtime.mcentral import SpanSet
from gosim.scenario import Scenario
from gosim.sim import simulate
from gosim.sim.engine import Simulation
from gosim.sim.gc import build_live_heap, finish_live_heap


def per_object_build(sim: Simulation) -> None:
    """The reference: one ``rt.malloc`` per live object on P 0 (what follows
    the allocation is build_live_heap's own, ``finish_live_heap``)."""
    lh = sim.scenario.workload.live_heap
    if lh.bytes <= 0:
        return
    rt = sim.rt
    _, spc, _ = rt.classify(lh.object_size, lh.pointer_free)
    n = -(-lh.bytes // lh.object_size)
    for _ in range(n):
        rt.malloc(lh.object_size, lh.pointer_free, 0)
    finish_live_heap(sim, spc, n)  # the shared tail: keep, pacer history, grown heap

def snapshot(root: Any) -> Any:
    """Every value reachable from root (objects by their slots and attributes,
    containers by their items) as plain data; an object (not a tuple) seen
    before becomes a reference to the path where it was first seen. ``sim`` attributes (the
    simulation's lock models, back references) are left out."""
    seen: dict[int, str] = {}

    def walk(x: Any, path: str) -> Any:
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, np.ndarray):
            return ("ndarray", x.dtype.str, x.tolist())
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, tuple):  # a value: its identity means nothing
            return ("tuple", [walk(v, f"{path}[{i}]") for i, v in enumerate(x)])
        if id(x) in seen:
            return ("ref", seen[id(x)])
        seen[id(x)] = path
        if isinstance(x, dict):
            return ("dict", [(walk(k, f"{path}.k"), walk(v, f"{path}[{k!r}]"))
                             for k, v in x.items()])
        if isinstance(x, list):
            return ("list", [walk(v, f"{path}[{i}]") for i, v in enumerate(x)])
        if isinstance(x, (set, frozenset)):
            return ("set", sorted(repr(walk(v, f"{path}{{}}")) for v in x))
        if isinstance(x, SpanSet):  # its spans in order (not its stale entries)
            return ("SpanSet", [walk(v, f"{path}[{i}]") for i, v in enumerate(x.values())])
        names: list[str] = []
        for cls in type(x).__mro__:
            names += [n for n in getattr(cls, "__slots__", ()) if n not in names]
        names += [n for n in getattr(x, "__dict__", {}) if n not in names]
        # a span's set_seq is its SpanSet's bookkeeping, as the sets' stale
        # entries are: which number an entry drew depends on how many entries
        # were made before, not on which spans are in which set
        return (type(x).__name__, [(n, walk(getattr(x, n, "<unset>"), f"{path}.{n}"))
                                   for n in sorted(names) if n not in ("sim", "set_seq")])

    return walk(root, "sim")


def scenario(design: str, size: int, pointer_free: bool, grown: bool,
             nbytes: int = (1 << 20) + 12_345) -> Scenario:
    return Scenario.model_validate({
        "design": design, "gomaxprocs": 2, "seed": 3,
        "workload": {"live_heap": {"bytes": nbytes, "object_size": size,
                                   "pointer_free": pointer_free, "grown": grown},
                     "groups": [{"count": 2, "size": 48, "allocations": 3000}]}})


def built(sc: Scenario, build: Any, monkeypatch: pytest.MonkeyPatch) -> Simulation:
    with monkeypatch.context() as m:
        m.setattr(engine, "build_live_heap", build)
        return Simulation(sc)


def state(sim: Simulation) -> Any:
    return snapshot({"rt": sim.rt, "gc": sim.gc,
                     "live_heap_objects": sim.live_heap_objects})


CASES = [
    ("go1.27", 1024, False, True), ("go1.27", 1024, True, False),
    ("go1.27", 48, False, False), ("go1.27", 48, True, True),
    ("go1.27", 8, True, True),  # tiny: 16-byte blocks
    ("go1.27", 8, False, False),
    ("go1.27", 5000, True, False), ("go1.27", 32768, False, True),  # large with a header
    ("go1.25", 1024, False, True), ("go1.14", 3000, False, False),
    ("go1.12", 1024, True, True), ("go1.12", 200, False, False),
]


@pytest.mark.pure_python
@pytest.mark.parametrize(("design", "size", "pointer_free", "grown"), CASES)
def test_span_at_a_time_build_equals_one_malloc_per_object(
        design: str, size: int, pointer_free: bool, grown: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sc = scenario(design, size, pointer_free, grown)
    fast = built(sc, build_live_heap, monkeypatch)
    ref = built(sc, per_object_build, monkeypatch)
    assert state(fast) == state(ref)
    # an independent count: every live object allocated, kept and in its span
    n = -(-sc.workload.live_heap.bytes // size)
    m = fast.rt.stats
    assert fast.live_heap_objects == n == m.mallocs
    kept = sum(s.keep_bits.bit_count() for s in fast.rt.mheap.spans.values())
    _, _, elemsize = fast.rt.classify(size, pointer_free)
    if elemsize == 16 and pointer_free and size < 16:
        assert kept == -(-n // (16 // size))  # tiny blocks, 16 // size objects each
    else:
        assert kept == n
        assert m.heap_alloc_bytes == n * elemsize


@pytest.mark.pure_python
def test_the_runs_that_follow_are_the_same() -> None:
    """A whole run on the span-at-a-time ballast matches one on the reference's."""
    sc = Scenario.model_validate({
        "design": "go1.27", "gomaxprocs": 2, "seed": 3,
        "workload": {"live_heap": {"bytes": 3 << 20, "object_size": 1024},
                     "groups": [{"count": 2, "size": 1024, "allocations": 4000}]}})
    fast = simulate(sc).to_dict()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(engine, "build_live_heap", per_object_build)
        ref = simulate(sc).to_dict()
    assert fast == ref
    assert fast["metrics"]["num_gc"] >= 1
