"""Turning a :class:`~gosim.scenario.Scenario` into the Go program's spec.

Every goroutine's object sizes, pointer flags and work times are drawn up
front with numpy (so the Go program allocates exactly the sequence the model
is given) and streamed to the program as binary files; constant groups need
no file. Draws use the simulator's streams (:mod:`gosim.workload.streams`) with
the simulator's seeds, so real and simulated runs allocate the same objects.

Goroutine ``k`` of the whole workload (groups in order) runs on P ``k mod
GOMAXPROCS`` in the model. In the real program (goprog/workload.go) each
goroutine runs pinned to the P it starts on (GC off), so it keeps that P's
mcache for its whole run whatever the machine's load; when there are no more
goroutines than Ps they are released together and spin until all are
running, one per P; goroutines beyond GOMAXPROCS run in lanes (goroutine
``k`` starts when goroutine ``k - GOMAXPROCS`` has finished), so one P runs
goroutines that share it one after another, in the model's order. The
program reports the P each goroutine ran on.

With the GC on (``gosim realgo --gc``) the program runs with the scenario's
GOGC and GOMEMLIMIT (``gc.gogc``, ``gc.memory_limit_bytes``) and builds the
scenario's live heap (``workload.live_heap``) before the baseline
(goprog/liveheap.go), as the model builds it before time 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gosim.errors import GosimError
from gosim.realgo.probe import write_u8, write_u32
from gosim.runtime.design import Design, get_design
from gosim.runtime.sizeclasses import get_table
from gosim.scenario import Dist, GoroutineGroup, Scenario
from gosim.workload.streams import BernoulliStream, Stream

#: largest size the probe accepts (a uint32 stream)
MAX_SIZE = 0xFFFFFFFF
#: a pointer-free live heap is held by one pointer slice, 8 bytes per object
#: (goprog/liveheap.go): objects from this size on keep that within 1/128
MIN_POINTER_FREE_LIVE_OBJECT = 1024


class UnsupportedWorkloadError(GosimError):
    """A scenario feature the real-Go program cannot reproduce."""


@dataclass
class GoroutineDraws:
    """What one goroutine allocates, in order."""

    group: int
    index: int
    sizes: np.ndarray          # int64 bytes
    noscan: np.ndarray         # bool, True = pointer-free
    work_ns: np.ndarray        # int64 ns after each allocation
    keep: int                  # 0 drop, -1 keep all, k > 0 keep the last k
    touch: bool = False        # write each 4 KiB page of each object (goprog/alloc.go touch)
    const_size: int | None = None
    const_noscan: bool | None = None
    const_work: int | None = None


@dataclass
class GoWorkload:
    """A scenario ready for the Go program."""

    scenario: Scenario
    goroutines: list[GoroutineDraws]
    gomaxprocs: int
    gc: bool
    #: (request size, pointerful) per span class used: drained before the baseline
    drain: list[tuple[int, bool]] = field(default_factory=list)

    @property
    def gogc(self) -> int | bool:
        """The probe's GC setting: False = GOGC=off, else the scenario's GOGC."""
        return self.scenario.gc.gogc if self.gc else False

    @property
    def memory_limit(self) -> int | None:
        """GOMEMLIMIT of the real run (the scenario's; None: none), GC on only."""
        return self.scenario.gc.memory_limit_bytes if self.gc else None

    @property
    def total_allocations(self) -> int:
        return int(sum(len(g.sizes) for g in self.goroutines))

    def p_of(self, k: int) -> int:
        return k % self.gomaxprocs


def _keep(group: GoroutineGroup, gi: int) -> int:
    lt = group.lifetime
    if lt.kind == "drop":
        return 0
    if lt.kind == "keep":
        return -1
    if lt.kind == "allocations":
        return int(lt.value)  # type: ignore[arg-type]
    raise UnsupportedWorkloadError(
        f"workload.groups.{gi}.lifetime: kind {lt.kind!r} cannot be reproduced in a Go "
        "program (use drop, keep or allocations)")


def _const(d: Dist) -> int | None:
    return int(np.floor(float(d.value) + 0.5)) if d.dist == "const" else None


def draw(scenario: Scenario, gid: int, group: GoroutineGroup,
         n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sizes, noscan flags and work times of goroutine ``gid`` (workload-wide index).

    Seeded as the simulator seeds goroutine ``gid`` (gosim/sim/engine.py:
    child ``gid`` of ``SeedSequence(seed)``, whose children 0, 1, 2 feed the
    size, pointer-free and work streams), so both allocate the same objects.
    """
    def seed(stream: int) -> np.random.SeedSequence:
        # == SeedSequence(seed).spawn(total)[gid].spawn(k)[stream]
        return np.random.SeedSequence(scenario.seed, spawn_key=(gid, stream))

    sizes = Stream(group.size, seed(0), integer_support=True).peek(n).copy()
    noscan = BernoulliStream(group.pointer_free_fraction, seed(1)).peek(n).copy()
    work = Stream(group.work_ns, seed(2)).peek(n).copy()
    return sizes, noscan.astype(bool), work


def request_size_for_class(design: Design, size_class: int, pointerful: bool) -> int:
    """An object size that mallocgc places in ``size_class`` (for draining)."""
    size = get_table(design.sizeclasses).class_to_size(size_class)
    if pointerful and design.malloc_header and size > 512:
        return size - 8
    return size


def span_classes_used(design: Design, sizes: np.ndarray, noscan: np.ndarray) -> list[tuple[int, bool]]:
    """(request size, pointerful) for each small span class the draws touch."""
    table = get_table(design.sizeclasses)
    cutoff = design.large_object_cutoff_bytes
    out: set[tuple[int, bool]] = set()
    pairs = set(zip(sizes.tolist(), noscan.tolist(), strict=True))
    for size, ns in pairs:
        if size == 0 or size > cutoff:
            continue
        if ns and size < 16 and design.tiny_alloc:
            out.add((16, False))
            continue
        req = size if ns else -(-size // 8) * 8
        if not ns and design.malloc_header and req > 512:
            req += 8
        out.add((request_size_for_class(design, table.size_to_class(req), not ns), not ns))
    return sorted(out)


def build(scenario: Scenario, *, gc: bool = False) -> GoWorkload:
    """Draw the scenario's workload for the Go program."""
    design = get_design(scenario.design.preset).with_overrides(scenario.design.overrides)
    gors: list[GoroutineDraws] = []
    for gi, group in enumerate(scenario.workload.groups):
        if group.allocations is None:
            raise UnsupportedWorkloadError(
                f"workload.groups.{gi}.allocations: the Go program needs an allocation "
                "count per goroutine (a duration cannot be reproduced)")
        keep = _keep(group, gi)
        for k in range(group.count):
            n = int(group.allocations)
            sizes, noscan, work = draw(scenario, len(gors), group, n)
            if n and (sizes.min() < 0 or sizes.max() > MAX_SIZE):
                raise UnsupportedWorkloadError(
                    f"workload.groups.{gi}.size: sizes must be within 0..{MAX_SIZE}")
            gors.append(GoroutineDraws(
                group=gi, index=k, sizes=sizes, noscan=noscan, work_ns=work, keep=keep,
                touch=group.touch,
                const_size=_const(group.size),
                const_noscan=(True if group.pointer_free_fraction >= 1 else
                              False if group.pointer_free_fraction <= 0 else None),
                const_work=_const(group.work_ns)))
    _check_live_heap(scenario, gc)
    if len(gors) > 64:
        raise UnsupportedWorkloadError("the Go program runs at most 64 goroutines")
    drain: set[tuple[int, bool]] = set()
    for g in gors:
        drain.update(span_classes_used(design, g.sizes, g.noscan))
    return GoWorkload(scenario=scenario, goroutines=gors, gomaxprocs=scenario.gomaxprocs,
                      gc=gc, drain=sorted(drain))


def _check_live_heap(scenario: Scenario, gc: bool) -> None:
    lh = scenario.workload.live_heap
    if lh.bytes <= 0:
        return
    if not gc:
        raise UnsupportedWorkloadError(
            "workload.live_heap.bytes: the Go program builds a live heap only with the GC on "
            "(gosim realgo --gc); with it off the structural comparison starts from an empty "
            "heap: expected 0")
    if not lh.pointer_free and not lh.linked:
        raise UnsupportedWorkloadError(
            "workload.live_heap.linked: the Go program builds a pointerful live heap as one "
            "linked list (goprog/liveheap.go): expected true")
    if lh.pointer_free and lh.object_size < MIN_POINTER_FREE_LIVE_OBJECT:
        raise UnsupportedWorkloadError(
            f"workload.live_heap.object_size: a pointer-free live heap needs objects of at "
            f"least {MIN_POINTER_FREE_LIVE_OBJECT} bytes (the Go program holds each through an "
            f"8-byte pointer), got {lh.object_size}")


def to_spec(w: GoWorkload, workdir: Path) -> dict[str, Any]:
    """Write the draw streams into ``workdir`` and return the program's spec."""
    workdir.mkdir(parents=True, exist_ok=True)
    gs: list[dict[str, Any]] = []
    for k, g in enumerate(w.goroutines):
        n = len(g.sizes)
        entry: dict[str, Any] = {"n": n, "keep": g.keep}
        if g.touch:
            entry["touch"] = True
        if g.const_size is not None:
            entry["size"] = g.const_size
        else:
            entry["sizes_file"] = f"g{k}.sizes"
            write_u32(workdir / entry["sizes_file"], g.sizes)
        if g.const_noscan is not None:
            entry["pointerful"] = not g.const_noscan
        else:
            entry["ptrs_file"] = f"g{k}.ptrs"
            write_u8(workdir / entry["ptrs_file"], ~g.noscan)
        if g.const_work is not None:
            entry["work_ns"] = g.const_work
        else:
            entry["work_file"] = f"g{k}.work"
            write_u32(workdir / entry["work_file"], g.work_ns)
        gs.append(entry)
    spec: dict[str, Any] = {
        "mode": "workload", "goroutines": gs,
        "barrier": 1 < len(gs) <= w.gomaxprocs,
        # pinned goroutines cannot start a GC cycle: pin only with the GC off
        "pin": not w.gc,
    }
    lh = w.scenario.workload.live_heap
    if lh.bytes > 0:
        spec["live_heap"] = {"bytes": lh.bytes, "object_size": lh.object_size,
                             "pointerful": not lh.pointer_free}
        if lh.grown:
            # the model's goal for a grown heap (gosim/sim/gc.py build_live_heap)
            spec["live_heap"]["grow_to_bytes"] = lh.bytes + lh.bytes * w.scenario.gc.gogc // 100
    if w.gc:
        spec["prepare"] = {"gc": True}
    else:
        spec["prepare"] = {
            "gc": True, "drain": [{"size": s, "pointerful": p} for s, p in w.drain],
            "mspancache": True, "fill_heap": True,
        }
    return spec
