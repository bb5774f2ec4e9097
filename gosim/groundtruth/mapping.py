"""A ground-truth record -> the scenario that simulates its workload.

Every choice is documented in docs/groundtruth.md ("From a record to a
scenario"); the simulated window is decided in one place, :func:`sim_window`.
"""

from __future__ import annotations

from typing import Any

from gosim.groundtruth.records import Record
from gosim.scenario import Scenario

MIB = 1 << 20
#: the heap goal's floor at GOGC=100 (runtime/mgcpacer.go defaultHeapMinimum),
#: scaled by GOGC/100 as the pacer does
HEAP_MINIMUM_BYTES = 4 * MIB
#: the ballast's objects: a linked list of pointerful 1 KiB nodes (the records' README)
BALLAST_OBJECT_BYTES = 1024
#: GC on: GC cycles dropped as warm-up, then cycles measured; the warm-up also
#: covers the first heap's growth (every page fresh, a fault per 4 KiB: about
#: 2.5 ms at 1 P before the first cycle starts)
WARMUP_GC_CYCLES = 2
WINDOW_GC_CYCLES = 8
#: a record whose measured window held fewer GC cycles than this is simulated
#: over its own warm-up and window: with a handful of cycles per window, where
#: the window falls in the cycles and the heap's growth after the program's
#: first cycle are part of what was measured (the 256 MiB ballast records:
#: 3-13 cycles in 1 s)
FEW_GC_CYCLES = 16
MIN_WARMUP_GC_NS = 3_000_000
#: GC off: bytes allocated in the warm-up and in the window (every span fresh;
#: 256 MiB is four heap arenas, and at 1 KiB eight GC-bits arenas, enough for
#: their hand-offs between Ps to show; the real run allocates 2 GiB)
NOGC_WARMUP_BYTES = 8 * MIB
NOGC_WINDOW_BYTES = 256 * MIB
#: bounds of the measured window, simulated ns: the cap keeps the 256 MiB
#: ballast records (a cycle per ~60-280 ms at the real rate) within the
#: whole file's budget of 10 minutes on 2 cores (docs/groundtruth.md)
MIN_WINDOW_NS = 8_000_000
MAX_WINDOW_NS = 300_000_000
#: the warm-up is at most this fraction of the window
MAX_WARMUP_FRACTION = 0.5
#: every record is simulated with this seed (one run per record)
SEED = 1


def bytes_per_gc_cycle(record: Record) -> float:
    """Bytes the program allocates between two GC cycles in steady state: the
    heap goal is max(heap minimum, marked x (1 + GOGC/100)) (mgcpacer.go
    gcControllerState.heapGoal), and the marked heap is the ballast."""
    gogc = record.gogc or 100
    live = record.ballast_mib * MIB
    return max(HEAP_MINIMUM_BYTES * gogc / 100 - live, live * gogc / 100)


def sim_window(record: Record, scale: float = 1.0) -> tuple[int, int]:
    """``(warmup_ns, window_ns)``: how long to simulate a record, in simulated ns.

    The simulation runs long enough for a steady state, not the real run's
    window: with the GC on, :data:`WARMUP_GC_CYCLES` then
    :data:`WINDOW_GC_CYCLES` cycles at the real run's allocation rate
    (bytes per cycle from :func:`bytes_per_gc_cycle` over the real bytes per
    second); with it off, :data:`NOGC_WARMUP_BYTES` then
    :data:`NOGC_WINDOW_BYTES` at that rate. The window is kept within
    [:data:`MIN_WINDOW_NS`, :data:`MAX_WINDOW_NS`], the warm-up at most
    :data:`MAX_WARMUP_FRACTION` of it. The simulator's cycles come per bytes
    allocated (the pacer), so a model faster than the real runtime fits more
    cycles into the same simulated time, a slower one fewer.
    A record whose window held fewer than :data:`FEW_GC_CYCLES` cycles and
    that names its ``warm_s`` and ``dur_s`` is simulated over exactly those.
    ``scale`` multiplies both afterwards (a quick look or a test; results are
    then not steady-state).
    """
    bytes_per_s = record.allocs_per_s * record.size
    if (record.mode == "gc" and record.gc_cycles is not None and record.gc_cycles < FEW_GC_CYCLES
            and record.dur_s and record.warm_s is not None):
        return (max(0, round(record.warm_s * 1e9 * scale)),
                max(1, round(record.dur_s * 1e9 * scale)))
    if record.mode == "gc":
        cycle_ns = bytes_per_gc_cycle(record) / bytes_per_s * 1e9
        warm = max(WARMUP_GC_CYCLES * cycle_ns, MIN_WARMUP_GC_NS)
        window = WINDOW_GC_CYCLES * cycle_ns
    else:
        warm = NOGC_WARMUP_BYTES / bytes_per_s * 1e9
        window = NOGC_WINDOW_BYTES / bytes_per_s * 1e9
    window = min(max(window, MIN_WINDOW_NS), MAX_WINDOW_NS)
    warm = min(warm, window * MAX_WARMUP_FRACTION)
    return max(0, round(warm * scale)), max(1, round(window * scale))


def scenario_dict(record: Record, *, scale: float = 1.0, costs_profile: str | None = None,
                  costs: dict[str, float] | None = None) -> dict[str, Any]:
    """The scenario of ``record`` as a plain mapping (what the runner ships to a
    worker). ``costs_profile`` and ``costs`` are the calibration profile and
    per-parameter overrides every record runs with."""
    warm, window = sim_window(record, scale)
    size: Any = (record.size if record.mix is None
                 else {"dist": "choice", "values": [float(s) for s in record.mix]})
    group: dict[str, Any] = {
        "name": "g",
        "count": record.g,
        "size": size,
        # a mix is pointer-free (the records' README)
        "pointer_free_fraction": 1.0 if record.kind == "noscan" or record.mix else 0.0,
        "work_ns": record.work_ns_est,
        # the probe keeps each goroutine's last object reachable until its next
        # allocation (goprog/scaling.go: s.sink = p); {allocations: 1} says so,
        # but with the rest of the model it moved the checks away from the real
        # runtime (stop 38, docs/decisions.md "The runtime's own heap"), so the
        # records still drop every object at once
        "lifetime": "drop",
        "touch": record.touch,
    }
    gc: dict[str, Any] = {"enabled": record.mode == "gc"}
    if record.gogc is not None:
        gc["gogc"] = record.gogc
    out: dict[str, Any] = {
        "design": {"preset": record.preset},
        "gomaxprocs": record.gomaxprocs,
        "workload": {
            "live_heap": {"bytes": record.ballast_mib * MIB,
                          "object_size": BALLAST_OBJECT_BYTES, "pointer_free": False},
            "groups": [group],
        },
        "gc": gc,
        "duration_ns": warm + window,
        "warmup": {"method": "fixed", "duration_ns": warm},
        "seed": SEED,
    }
    if costs_profile is not None:
        out["costs_profile"] = costs_profile
    if costs:
        out["costs"] = dict(costs)
    return out


def record_scenario(record: Record, **kw: Any) -> Scenario:
    """:func:`scenario_dict`, validated."""
    return Scenario.model_validate(scenario_dict(record, **kw))
