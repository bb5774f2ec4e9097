"""The allocator model without a simulation: exact counts and invariants."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import gosim.runtime
from gosim.errors import InvalidSizeError, UnknownPresetError
from gosim.runtime.arena import PAGE_SHIFT, PAGE_SIZE
from gosim.runtime.design import PRESETS
from gosim.runtime.malloc import ZEROBASE, Runtime
from gosim.runtime.mspan import objects_per_span
from gosim.runtime.sizeclasses import get_table

MiB = 1 << 20


# -- exact structural counts computed by hand ------------------------------------------
@pytest.mark.parametrize("preset,per_span,growths,sys_bytes", [
    # go1.12: the table's 170 objects per 8 KiB span; the heap grows one 64 MiB arena at once
    ("go1.12", 170, 1, 64 * MiB),
    ("global-lock", 170, 1, 64 * MiB),
    # Go 1.14+: growth in 512-page (4 MiB) chunks; noscan spans keep the table's 170
    ("go1.14", 170, None, None),
    ("go1.15", 170, None, None),
    ("go1.25", 170, None, None),   # pointer bits in span only for pointerful spans
    ("tcmalloc", 170, None, None),
    # go1.27: 128 B of inline mark bits -> (8192-128)//48 = 168
    ("go1.27", 168, None, None),
])
def test_million_48_byte_noscan_objects_one_p(preset, per_span, growths, sys_bytes):
    rt = Runtime(preset, 1)
    for _ in range(1_000_000):
        rt.malloc(48, noscan=True)
    m = rt.memstats()
    spans = math.ceil(1_000_000 / per_span)
    assert m["spans_inuse"] == spans
    if preset == "tcmalloc":
        # 32-object transfers, each from one span: 170 = 5 x 32 + 10 -> 6 per full span
        full, rest = divmod(1_000_000, per_span)
        assert m["refills"] == full * 6 + math.ceil(rest / 32)
    else:
        assert m["refills"] == spans
    assert m["heap_inuse_bytes"] == spans * PAGE_SIZE
    assert m["mallocs"] == 1_000_000
    assert m["heap_alloc_bytes"] == 48 * 1_000_000
    if growths is None:  # 512-page chunks: enough chunks to hold every page
        growths = math.ceil(spans / 512)
        sys_bytes = growths * 512 * PAGE_SIZE
    assert m["grow_calls"] == growths
    assert m["heap_sys_bytes"] == sys_bytes
    assert m["heap_idle_bytes"] == sys_bytes - spans * PAGE_SIZE
    rt.check_invariants()


def test_pointerful_48_byte_objects_per_span_go127():
    # 128 B inline mark bits + 8192/64 = 128 B pointer bits: (8192-256)//48 = 165
    assert objects_per_span("inline_markbits", 48, 1, noscan=False) == 165
    assert objects_per_span("inline_markbits", 48, 1, noscan=True) == 168
    assert objects_per_span("heapbits", 48, 1, noscan=False) == 168
    assert objects_per_span("heapbits", 48, 1, noscan=True) == 170
    assert objects_per_span("full", 48, 1, noscan=False) == 170
    # no inline mark bits for 8-byte objects, nor above 512 B
    assert objects_per_span("inline_markbits", 8, 1, noscan=True) == 1024
    assert objects_per_span("inline_markbits", 1024, 1, noscan=False) == 8


def test_mcache_and_mspan_inuse():
    rt = Runtime("go1.27", 4)
    assert rt.memstats()["mcache_inuse_bytes"] == 4 * 2296
    rt.malloc(48)
    # the first span struct comes from a 64-struct refill of the P's mspan cache
    assert rt.memstats()["mspan_inuse_bytes"] == 64 * 160
    for _ in range(64 * 170):
        rt.malloc(48)
    assert rt.memstats()["mspan_inuse_bytes"] == 2 * 64 * 160


# -- tiny allocator packing (malloc.go mallocgcTiny) ---------------------------------------
@pytest.mark.parametrize("sizes,offsets,blocks", [
    ((8, 8), (0, 8), 1),
    ((12, 4), (0, 12), 1),
    ((3, 5, 7), (0, 3, 8), 1),          # 5 is odd: no alignment; 7 after offset 8
    ((2, 4), (0, 4), 1),                # 4 aligns to 4
    ((1, 2), (0, 2), 1),                # 2 aligns to 2
    ((8, 12), (0, 16), 2),              # 8+12 > 16: a new block, which is kept (12 > 8 left?)
    ((15, 15), (0, 16), 2),
])
def test_tiny_packing(sizes, offsets, blocks):
    rt = Runtime("go1.27", 1)
    addrs = [rt.malloc(s, noscan=True) for s in sizes]
    base = addrs[0]
    assert [a - base for a in addrs] == list(offsets)
    assert rt.stats.tiny_blocks == blocks
    assert rt.stats.mallocs == len(sizes)
    assert rt.stats.tiny_allocs == len(sizes) - blocks


def test_tiny_keeps_block_with_more_room():
    rt = Runtime("go1.27", 1)
    a = rt.malloc(12)           # block A, offset 12
    b = rt.malloc(8)            # does not fit: block B at offset 8; 8 < 12 so B replaces A
    c = rt.malloc(8)            # fits in B at 8
    assert b - a == 16 and c == b + 8
    d = rt.malloc(2)            # B is full (16): new block D, 2 < 16 -> D replaces B
    e = rt.malloc(2)
    assert e == d + 2


def test_pointerful_small_objects_are_not_tiny():
    rt = Runtime("go1.27", 1)
    rt.malloc(8, noscan=False)
    rt.malloc(8, noscan=False)
    assert rt.stats.tiny_allocs == 0 and rt.stats.by_size_mallocs[1] == 2


def test_zero_size_allocates_nothing():
    rt = Runtime("go1.27", 1)
    assert rt.malloc(0) == ZEROBASE
    assert rt.stats.mallocs == 0 and rt.memstats()["heap_sys_bytes"] == 0


def test_large_objects_take_whole_pages():
    rt = Runtime("go1.27", 1)
    a = rt.malloc(32761, noscan=True)   # > 32760: large under malloc headers
    s = rt.mheap.span_of(a)
    assert s.size_class == 0 and s.npages == 4  # ceil(32761 / 8192)
    b = rt.malloc(32760, noscan=True)
    assert rt.mheap.span_of(b).size_class == get_table("go1.27").size_to_class(32760)
    rt12 = Runtime("go1.12", 1)
    c = rt12.malloc(32768)
    assert rt12.mheap.span_of(c).size_class == 66
    d = rt12.malloc(100_000)
    assert rt12.mheap.span_of(d).npages == math.ceil(100_000 / 8192)
    assert rt12.stats.large_pages == 13


def test_malloc_header_moves_pointerful_objects_up_a_class():
    rt = Runtime("go1.27", 1)
    a = rt.malloc(1024, noscan=False)   # 1024 + 8-byte header -> the 1152 class
    assert rt.mheap.span_of(a).elemsize == 1152
    b = rt.malloc(1024, noscan=True)
    assert rt.mheap.span_of(b).elemsize == 1024
    rt12 = Runtime("go1.12", 1)
    assert rt12.mheap.span_of(rt12.malloc(1024, noscan=False)).elemsize == 1024


def test_bad_input():
    rt = Runtime("go1.27", 1)
    with pytest.raises(InvalidSizeError, match="-1"):
        rt.malloc(-1)
    with pytest.raises(UnknownPresetError, match="go9"):
        Runtime("go9", 1)


# -- invariants under random allocate/free sequences ----------------------------------------
SIZES = st.one_of(st.integers(0, 64), st.integers(65, 4096), st.integers(4097, 40_000),
                  st.integers(40_001, 300_000))
OPS = st.lists(st.one_of(
    st.tuples(st.just("malloc"), SIZES, st.booleans(), st.integers(0, 2)),
    st.tuples(st.just("free"), st.integers(0, 10**9), st.just(False), st.integers(0, 2)),
    st.tuples(st.just("flush"), st.just(0), st.just(False), st.integers(0, 2)),
    st.tuples(st.just("pcache"), st.just(0), st.just(False), st.integers(0, 2)),
), max_size=120)


def _record_growth(rt: Runtime) -> list[int]:
    """Log the page count of every heap growth request (mheap.grow's argument)."""
    log: list[int] = []
    grow = rt.mheap.grow

    def logged(ctx, npages):
        log.append(npages)
        return grow(ctx, npages)

    rt.mheap.grow = logged  # type: ignore[method-assign]
    return log


def _mapped_bytes(rt: Runtime, log: list[int]) -> int:
    """HeapSys from the growth log by the design's growth rule (mheap.go grow):
    whole 512-page palloc chunks (Go 1.14+) or whole 64 MiB arenas (Go 1.11-1.13)."""
    d = rt.design
    if d.heap_growth == "chunk":
        return sum(-(-n // d.palloc_chunk_pages) * d.palloc_chunk_pages * PAGE_SIZE for n in log)
    return sum(-(-(n * PAGE_SIZE) // d.heap_arena_bytes) * d.heap_arena_bytes for n in log)


def _check_heap_pages(rt: Runtime, log: list[int]) -> None:
    """heap_inuse / heap_idle / heap_sys / heap_released against pages counted
    independently: every mapped page lies in exactly one in-use span, one free
    run of the page allocator or one P's page cache, inside the reserved arenas."""
    h = rt.mheap
    spans = [(s.start_page, s.npages) for s in h.spans.values()]
    idle = list(h.free.runs())
    for p in rt.ps:
        idle += [(p.pcache.base_page + i, 1) for i in range(64) if p.pcache.cache >> i & 1]
    runs = sorted(spans + idle)
    for (a, n), (b, _) in zip(runs, runs[1:], strict=False):
        assert a + n <= b, f"pages {a}+{n} and {b} overlap"
    arenas = [(base >> PAGE_SHIFT, n >> PAGE_SHIFT) for base, n in h.arenas]
    assert all(any(b <= a and a + n <= b + m for b, m in arenas) for a, n in runs)
    inuse_pages = sum(n for _, n in spans)
    idle_pages = sum(n for _, n in idle)
    m = rt.memstats()
    assert m["heap_sys_bytes"] == _mapped_bytes(rt, log) == (inuse_pages + idle_pages) * PAGE_SIZE
    assert m["heap_inuse_bytes"] == inuse_pages * PAGE_SIZE
    assert m["heap_idle_bytes"] == idle_pages * PAGE_SIZE
    assert m["heap_reserved_bytes"] == sum(n for _, n in h.arenas) >= m["heap_sys_bytes"]
    # released (never touched) pages are all idle: none lies in an in-use span
    released = h.scav.runs()
    for a, n in released:
        assert all(a + n <= b or b + m <= a for b, m in spans), f"released page in a span: {a}"
    assert m["heap_released_bytes"] == sum(n for _, n in released) * PAGE_SIZE


@pytest.mark.pure_python
@pytest.mark.parametrize("preset", sorted(PRESETS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
# found by the search (stop 27): a slot freed ahead of its cached span's free
# index, which the owning cache's scan reaches, was not counted as available
@example(ops=[("malloc", 3457, True, 1), ("free", 0, False, 0), ("malloc", 0, False, 0),
              ("malloc", 3457, True, 1), ("malloc", 3457, True, 1), ("free", 1, False, 0)])
def test_random_alloc_free_heap_pages_counted(preset, ops):
    rt = Runtime(preset, 3)
    log = _record_growth(rt)
    live: dict[int, int] = {}  # slot address -> P that allocated it
    for op, a, b, p in ops:
        if op == "malloc":
            addr = rt.malloc(a, noscan=b, p=p)
            if addr != ZEROBASE:
                s = rt.mheap.span_of(addr)
                slot = s.base + (addr - s.base) // s.elemsize * s.elemsize
                live[slot] = p
        elif op == "free" and live:
            slots = sorted(live)
            slot = slots[a % len(slots)]
            if any(slot == c.mcache.tiny for c in rt.ps):
                continue  # the P's current tiny block is reachable
            del live[slot]
            rt.free(slot, p=p)
        elif op == "flush":
            rt.release_all(p)
        elif op == "pcache":
            rt.mheap.flush_page_cache(rt.ps[p])
        rt.check_invariants()
        _check_heap_pages(rt, log)
        m = rt.memstats()
        assert m["mallocs"] - m["tiny_allocs"] >= m["frees"]
    # free everything: the heap is all idle and its free pages one run per arena stretch
    for p in range(3):
        rt.release_all(p)
    for slot in sorted(live):
        rt.free(slot)
    for p in rt.ps:
        rt.mheap.flush_page_cache(p)
    rt.check_invariants()
    _check_heap_pages(rt, log)
    m = rt.memstats()
    assert m["heap_inuse_bytes"] == 0
    assert m["heap_alloc_bytes"] == 0
    assert m["spans_inuse"] == 0
    if m["heap_sys_bytes"]:
        # reserved arenas are contiguous, so every free page coalesces into one run
        assert len(rt.mheap.free) == 1
        assert rt.mheap.free.total * PAGE_SIZE == m["heap_sys_bytes"]


def test_by_size_rows_count_refills_and_spans():
    rt = Runtime("go1.12", 1)
    for _ in range(170 * 3 + 1):
        rt.malloc(48)
    rt.malloc(8, noscan=False)
    rows = {r["size_class"]: r for r in rt.by_size()}
    assert rows[4]["mallocs"] == 511 and rows[4]["refills"] == 4 and rows[4]["spans_inuse"] == 4
    assert rows[4]["refills_noscan"] == 4 and rows[4]["refills_scan"] == 0
    assert rows[1]["mallocs"] == 1 and rows[1]["refills_scan"] == 1


# -- the naming rule (gosim/runtime/__init__.py) ------------------------------------------
RUNTIME_SOURCES = sorted(Path(gosim.runtime.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", RUNTIME_SOURCES, ids=lambda p: p.name)
def test_runtime_names_are_snake_case_and_calls_public(path: Path) -> None:
    """Functions and methods are snake_case (Go names converted: cacheSpan ->
    cache_span); no module reaches into another object's private members."""
    tree = ast.parse(path.read_text(), str(path))
    snake = re.compile(r"^_{0,2}[a-z][a-z0-9_]*$")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            assert snake.match(node.name), f"{path.name}:{node.lineno} {node.name}"
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            owner = node.value
            assert isinstance(owner, ast.Name) and owner.id in ("self", "cls"), \
                f"{path.name}:{node.lineno} private {node.attr} of another object"


# -- mheap.go allocNeedsZero: the arena's zeroedBase ----------------------------------------
def test_fresh_spans_below_another_ps_high_water_mark_are_zeroed() -> None:
    """32 KiB objects (large: one 4-page span each) on fresh memory. On one P the
    pages are handed out in address order, always at the arena's zeroedBase, so
    no span needs zeroing. On two Ps: P0's first span comes from the growing
    heap's first pages (locked path), P1's page cache then takes the rest of
    that 64-page block and P0's the next block, above it. From then on every
    span P1 takes lies below the high-water mark P0 set and is zeroed; P0's
    never are."""
    one = Runtime("go1.27", 1)
    spans = [one.mheap.spans[one.malloc(32768) >> PAGE_SHIFT] for _ in range(12)]
    assert not any(s.needzero for s in spans)
    two = Runtime("go1.27", 2)
    need: dict[int, list[bool]] = {0: [], 1: []}
    for _ in range(6):
        for p in (0, 1):
            s = two.mheap.spans[two.malloc(32768, p=p) >> PAGE_SHIFT]
            need[p].append(s.needzero)
    assert need == {0: [False] * 6, 1: [False] + [True] * 5}
    pages = 32768 >> PAGE_SHIFT
    arena_pages = two.design.heap_arena_bytes >> PAGE_SHIFT
    (z,) = two.mheap.zeroed_base.values()
    highest = max(s.start_page for s in two.mheap.spans.values()) + pages
    assert z == highest % arena_pages or z == arena_pages


@given(st.integers(0, (1 << 64) - 1), st.integers(1, 64))
def test_find_bit_range64_is_the_lowest_run_of_n_set_bits(c: int, n: int) -> None:
    """mpagecache.go findBitRange64 (shrinking every run of 1s in O(log n)
    shifts) against a scan of every position: the lowest i with bits i..i+n-1
    set, 64 when there is none."""
    from gosim.runtime.mpagecache import find_bit_range64

    mask = (1 << n) - 1
    want = next((i for i in range(65 - n) if (c >> i) & mask == mask), 64)
    assert find_bit_range64(c, n) == want
    # runs that end at bit 63, and a word with every bit set
    assert find_bit_range64(mask << (64 - n), n) == 64 - n
    assert find_bit_range64((1 << 64) - 1, n) == 0


@given(st.lists(st.tuples(st.sampled_from(["push", "remove", "pop", "first"]),
                          st.integers(0, 40)), max_size=400))
# a span leaves one set and joins the other: the entry it left behind stays stale
@example([("push", 5), ("remove", 5), ("push", 7), ("push", 5)])
# every span in a set: none left to remove from a set it is not in
@example([("push", i) for i in range(41)])
def test_span_set_keeps_a_dicts_order(ops: list[tuple[str, int]]) -> None:
    """mcentral's SpanSet against the insertion-ordered dict it replaced: the
    same spans in the same order after any pushes, removals and pops (a span
    pushed again goes to the back), and the oldest is the one popped; long
    runs of removals and pops exercise its compaction."""
    from gosim.runtime.mcentral import SpanSeq, SpanSet
    from gosim.runtime.mspan import MSpan

    spans = [MSpan(i) for i in range(41)]
    # two sets numbering their entries from one count, as a runtime's mcentral
    # lists do: a span leaves one before it joins the other
    refs: list[dict[int, MSpan]] = [{}, {}]
    seqs = SpanSeq()
    sets = [SpanSet(seqs), SpanSet(seqs)]
    for n, (op, i) in enumerate(ops):
        # pushes and pops alternate between the sets; a removal finds its span's
        k = next((j for j in (0, 1) if i in refs[j]), n % 2) if op == "remove" else n % 2
        ref, ss = refs[k], sets[k]
        if op == "push" and i not in refs[0] and i not in refs[1]:
            ref[i] = spans[i]
            ss.push(spans[i])
        elif op == "remove" and i in ref:
            del ref[i]
            ss.remove(spans[i])
        elif op == "pop":
            want = ref.pop(next(iter(ref))) if ref else None
            assert ss.pop_first() is want
        elif op == "first":
            assert ss.first() is (next(iter(ref.values())) if ref else None)
        for ref, ss in zip(refs, sets, strict=True):
            assert len(ss) == len(ref) and bool(ss) == bool(ref)
            assert [s.sid for s in ss.values()] == list(ref)
        # a span's entry number marks it as in a set (no set of ids is kept)
        assert all((spans[j].set_seq >= 0) == (j in refs[0] or j in refs[1]) for j in (0, i, 40))
    # one set at a time: a span in a set cannot be pushed, one in none cannot be removed
    s0 = next((spans[j] for j in range(41) if j in refs[0] or j in refs[1]), None)
    if s0 is not None:
        with pytest.raises(RuntimeError, match="while in one"):
            sets[0].push(s0)
    free = next((spans[j] for j in range(41) if j not in refs[0] and j not in refs[1]), None)
    if free is not None:
        with pytest.raises(RuntimeError, match="not in"):
            sets[1].remove(free)


def _walk_run_set(rs: Any, ref: set[int], ops: list[tuple[str, int, int]]) -> Iterator[
        tuple[int, int, set[int], list[tuple[int, int]]]]:
    """Apply ``ops`` to RunSet ``rs`` and to ``ref``, its pages as a plain set;
    after each: the same pages, a removal counts what was there, an
    overlapping add raises, the runs are disjoint and maximal (coalesced).
    Yields (start, n, the op's pages, the runs) for further checks."""
    for op, start, n in ops:
        pages = set(range(start, start + n))
        if op == "add":
            if pages & ref:
                with pytest.raises(ValueError):
                    rs.add(start, n)
                continue
            rs.add(start, n)
            ref |= pages
        else:
            assert rs.remove(start, n) == len(pages & ref)
            ref -= pages
        runs = rs.runs()
        assert {p for s, ln in runs for p in range(s, s + ln)} == ref
        assert rs.total == len(ref) and len(rs) == len(runs)
        assert all(a + ln < b for (a, ln), (b, _) in zip(runs, runs[1:], strict=False))
        yield start, n, pages, runs


@given(st.lists(st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 60),
                          st.integers(1, 12)), max_size=200))
def test_run_set_is_the_set_of_its_pages(ops: list[tuple[str, int, int]]) -> None:
    """RunSet (free and scavenged pages) against a plain set of pages: the same
    pages after any adds and removals, removal counts what was there, runs
    are disjoint and maximal (coalesced), and ``bits`` reads the same pages."""
    from gosim.runtime.runset import RunSet

    rs = RunSet()
    ref: set[int] = set()
    for start, n, pages, _runs in _walk_run_set(rs, ref, ops):
        assert rs.bits(start, n) == sum(1 << (p - start) for p in pages & ref)


@given(st.lists(st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 1200),
                          st.integers(1, 40)), max_size=150))
def test_a_fragmented_run_set_across_blocks(ops: list[tuple[str, int, int]]) -> None:
    """A RunSet of more runs than a block holds (``BLOCK_RUNS``: every other
    page free, as a heap the collector fragmented), then adds and removals:
    the same pages as a plain set, runs disjoint and maximal across block
    boundaries, and its lookups (``contains``, ``first``, the fits, ``bits``)
    as the set's pages say."""
    from gosim.runtime.runset import BLOCK_RUNS, RunSet

    rs = RunSet()
    ref: set[int] = set()
    for p in range(0, 4 * BLOCK_RUNS, 2):
        rs.add(p, 1)
        ref.add(p)
    for start, n, pages, runs in _walk_run_set(rs, ref, ops):
        assert rs.first() == (min(ref) if ref else None)
        assert rs.contains(start, n) == pages.issubset(ref)
        assert rs.find_first_fit(n) == next((a for a, ln in runs if ln >= n), None)
        fits = [(ln, a) for a, ln in runs if ln >= n]
        assert rs.find_best_fit(n) == (min(fits)[1] if fits else None)
        assert rs.bits(start, 64) == sum(1 << (p - start) for p in ref if start <= p < start + 64)


@given(st.lists(st.tuples(st.integers(0, 70), st.integers(0, 300), st.integers(1, 10**6)),
                max_size=60),
       st.lists(st.integers(0, (71 << 16) | 400), max_size=20))
def test_counts_read_as_the_dictionary_of_their_tallies(adds, probes) -> None:
    """MemStats's list-backed counters (mstats.Counts) read exactly as the
    dictionaries they replaced: the keys counted, their sums, in key order."""
    from gosim.runtime.mstats import FLOW_SHIFT, Counts, tally

    c = Counts()
    ref: dict[int, int] = {}
    for a, b, n in adds:
        if a == 0 and n % 2:
            c.add(b, n)
        else:
            c.add2(a, b, n)
        tally(ref, a << FLOW_SHIFT | b, n)
    assert c.items() == sorted(ref.items())
    assert list(c) == sorted(ref) and c.values() == [ref[k] for k in sorted(ref)]
    assert len(c) == len(ref)
    for k in list(ref) + probes:
        assert c.get(k, -1) == ref.get(k, -1)
        assert (k in c) == (k in ref)
        if k in ref:
            assert c[k] == ref[k]
        else:
            with pytest.raises(KeyError):
                c[k]
