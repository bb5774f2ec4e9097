"""go1.27's randomized heap base (``random_heap_base``; mheap.go grow,
mpagealloc.go markRandomPaddingPages): the first chunk's padding pages.

The real runtime's own padding per process, and what it decides there, are
in tests/test_initspans.py (the uprobe figures of benchmarks/measured.json).
"""

from __future__ import annotations

from typing import Any

import pytest

from gosim.errors import ConfigError
from gosim.runtime.arena import PAGE_SIZE
from gosim.runtime.gccheck import GCCheck, GCInvariantError
from gosim.runtime.mheap import ARENA_HINT_BASE
from gosim.scenario import Scenario
from gosim.sim import simulate
from gosim.sim.engine import Simulation

#: the first chunk's first page (linux/amd64's first arena hint)
FIRST_PAGE = ARENA_HINT_BASE // PAGE_SIZE


def _scenario(seed: int = 1, *, design: str = "go1.27", padding: int = 0, size: int = 1024,
              allocations: int = 2000, procs: int = 1, gc: bool = True) -> dict[str, Any]:
    costs: dict[str, Any] = {"random_heap_base": 1}
    if padding:
        costs["heap_base_padding_pages"] = padding
    return {"design": design, "gomaxprocs": procs, "seed": seed, "gc": {"enabled": gc},
            "costs": costs,
            "workload": {"groups": [{"count": procs, "size": size, "lifetime": "drop",
                                     "pointer_free_fraction": 1.0,
                                     "allocations": allocations // procs}]}}


def _padding(d: dict[str, Any]) -> tuple[int, int]:
    sim = Simulation(Scenario.model_validate(d))
    sim.run()
    h = sim.rt.mheap
    return h.padding_start, h.padding_pages


def test_drawn_padding_is_the_seed_s_and_covers_the_chunk() -> None:
    """Without a recording or a set count, the padding is drawn from the
    run's seed: the same seed, the same padding; over seeds, values spread
    across 0-511 pages (Go: 22 random bits aligned down to a page)."""
    drawn = [_padding(_scenario(seed, allocations=20))[1] for seed in range(1, 41)]
    assert drawn == [_padding(_scenario(seed, allocations=20))[1] for seed in range(1, 41)]
    assert all(0 <= n < 512 for n in drawn)
    assert len(set(drawn)) >= 30
    assert min(drawn) < 128 and max(drawn) >= 384


def test_the_first_span_starts_where_the_padding_ends() -> None:
    """The padding is the first chunk's first pages; the heap's first free
    page, where the first span goes, is right after it, and the drawn
    padding leaves the workload's own random streams alone (the same
    allocations, mallocs and frees with and without it)."""
    d = _scenario(padding=300, gc=False, allocations=50)
    sim = Simulation(Scenario.model_validate(d))
    m = sim.run().metrics
    h = sim.rt.mheap
    assert (h.padding_start, h.padding_pages) == (FIRST_PAGE, 300)
    assert min(h.spans) == FIRST_PAGE + 300
    plain = Simulation(Scenario.model_validate({**d, "costs": {}}))
    m0 = plain.run().metrics
    assert min(plain.rt.mheap.spans) == FIRST_PAGE
    assert (m["mallocs"], m["alloc_span_calls"]) == (m0["mallocs"], m0["alloc_span_calls"])


@pytest.mark.pure_python  # the checker wraps methods that compiled callers bypass
@pytest.mark.parametrize("padding,size", [(200, 1024), (1, 32768), (511, 32768)])
def test_padding_is_released_heap_never_free_and_every_page_keeps_one_state(
        padding: int, size: int) -> None:
    """Through GC cycles with the padding: the independent checker finds
    every heap page in exactly one state (span, free, a P's cache, padding),
    heap_sys = in use + free + cached + padding, and the padding released;
    it would fail if the padding were handed back to the page allocator."""
    d = _scenario(padding=padding, size=size, procs=2,
                  allocations=12_000 if size == 1024 else 3000)
    chk = GCCheck(61)
    with chk.installed():
        sim = Simulation(Scenario.model_validate(d))
        chk.attach(sim)
        result = sim.run()
        chk.check_final()
        assert result.metrics["num_gc"] >= 2 and chk.terminations == result.metrics["num_gc"]
        h = sim.rt.mheap
        assert h.padding_pages == padding
        assert h.heap_released_bytes >= padding * PAGE_SIZE
        # the padding handed to the page allocator: caught
        h.free.add(h.padding_start, h.padding_pages)
        with pytest.raises(GCInvariantError, match="padding"):
            chk.check_final()


def test_a_large_first_allocation_still_fits_beside_the_padding() -> None:
    """A 4 MiB object as the heap's first allocation with 511 pages of
    padding: the first growth asks for the padding on top (two chunks), and
    the object lands right after the padding."""
    d = _scenario(padding=511, size=4 << 20, allocations=1, gc=False)
    sim = Simulation(Scenario.model_validate(d))
    sim.run()
    h = sim.rt.mheap
    assert h.sys_bytes == 2 * 512 * PAGE_SIZE
    assert min(h.spans) == FIRST_PAGE + 511


def test_arena_growth_presets_have_no_padding() -> None:
    """go1.12 grows the heap by whole arenas (no palloc chunks, no
    randomized base): the switch changes nothing there."""
    assert _padding(_scenario(design="go1.12", padding=100, allocations=20)) == (0, 0)


def test_a_padding_of_a_chunk_or_more_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as e:
        Simulation(Scenario.model_validate(_scenario(padding=512)))
    assert e.value.key == "costs.heap_base_padding_pages"


@pytest.mark.parametrize("gc", [False, True])
def test_batched_runs_give_the_step_results_with_the_padding_and_the_start_up(gc: bool) -> None:
    """Three Ps, 32 KiB objects (the page caches and the heap lock decide
    their spans), the drawn padding with the replayed start-up: a batched
    run's results equal the step run's."""
    def run(mode: str) -> dict[str, Any]:
        return simulate(Scenario.model_validate({
            "design": "go1.27", "gomaxprocs": 3, "mode": mode, "seed": 5,
            "time_slice_ns": 10**15, "gc": {"enabled": gc},
            "costs": {"random_heap_base": 1, "runtime_init_spans": 1},
            "workload": {"groups": [{"count": 3, "allocations": 600, "size": 32768,
                                     "pointer_free_fraction": 1.0, "work_ns": 0}]}})).to_dict()
    step = run("step")
    assert step["metrics"]["alloc_span_locked_calls"] > 0
    assert step == run("batched")
