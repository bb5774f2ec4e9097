"""The model's side of a comparison.

:func:`replay` drives the allocator model (:class:`gosim.runtime.malloc.Runtime`)
timelessly with exactly the draws the Go program allocates: goroutine ``k``
on P ``k mod GOMAXPROCS``, each goroutine's allocations in order, nothing
freed (the structural comparisons run the real program with GC off, where
nothing is freed either), then every mcache released as ReadMemStats does.
This pins the data structures: per-class counts, tiny blocks, spans, heap
pages, heap growth, mspan structs.

:func:`simulate_scenario` runs the full simulator (``gosim.sim.simulate``)
for timings and the CLI's side-by-side table.
"""

from __future__ import annotations

from typing import Any

from gosim.realgo.pacer import model_summary
from gosim.realgo.workload import GoWorkload
from gosim.runtime.design import get_design
from gosim.runtime.malloc import Runtime


def replay(w: GoWorkload, preset: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the workload's draws through the model; return (metrics, by_size rows)."""
    sc = w.scenario
    design = get_design(preset or sc.design.preset).with_overrides(sc.design.overrides)
    rt = Runtime(design, gomaxprocs=w.gomaxprocs)
    for k, g in enumerate(w.goroutines):
        p = w.p_of(k)
        sizes = g.sizes.tolist()
        noscan = g.noscan.tolist()
        malloc = rt.malloc
        for size, ns in zip(sizes, noscan, strict=True):
            if not ns:
                size = -(-size // 8) * 8  # a Go type with pointers is a multiple of 8 bytes
            malloc(size, ns, p)
    for p in range(w.gomaxprocs):
        rt.release_all(p)
    m = rt.memstats()
    m["allocations"] = w.total_allocations
    return m, rt.by_size()


def simulate_scenario(w: GoWorkload, preset: str, gc: bool
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the simulator on the workload's scenario with ``preset`` and the
    collector on or off as the real program ran; return (metrics, by_size rows).
    With the collector, the metrics include the pacer's per-cycle medians
    (gosim/realgo/pacer.py)."""
    from gosim.sim import simulate

    sc = w.scenario.model_copy(update={
        "design": w.scenario.design.model_copy(update={"preset": preset}),
        "gc": w.scenario.gc.model_copy(update={"enabled": gc})})
    res = simulate(sc)
    m = dict(res.metrics)
    if gc:
        pacer = model_summary(list(res.gc_cycles), sc.gomaxprocs)
        if pacer is not None:
            m.update(pacer)
    return m, list(res.by_size)
