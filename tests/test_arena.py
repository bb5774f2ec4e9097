"""Address-space layouts: the seed's contiguous arena and Go 1.27's sparse heap arenas."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gosim.errors import GosimError, UnknownPresetError
from gosim.runtime import arena
from gosim.runtime.arena import (
    ContiguousLayout,
    SparseLayout,
    arena_base,
    arena_index,
    arena_l1,
    arena_l2,
    contiguous_layout,
    format_layout,
    get_layout,
    human_bytes,
    page_index_in_arena,
)

GiB, MiB, KiB = 1 << 30, 1 << 20, 1 << 10


def test_constants() -> None:
    assert arena.PAGE_SHIFT == 13 and arena.PAGE_SIZE == 8192
    assert arena.HEAP_ARENA_BYTES == 64 * MiB
    assert arena.PAGES_PER_ARENA == 8192
    assert arena.PALLOC_CHUNK_PAGES == 512
    assert arena.PALLOC_CHUNK_BYTES == 4 * MiB
    assert arena.ARENA_L1_BITS == 0 and arena.ARENA_L2_BITS == 22


def test_seed_contiguous_layout() -> None:
    lay = get_layout("go1.12")
    assert isinstance(lay, ContiguousLayout)
    assert lay.arena_bytes == 512 * GiB
    assert lay.bitmap_bytes == 16 * GiB  # 1 byte per 32 arena bytes
    assert lay.arena_bytes_per_bitmap_byte == 32
    assert lay.spans_bytes == 512 * MiB  # 8 bytes per 8 KiB page
    assert lay.arena_pages == 64 * 1024 * 1024
    assert lay.words_per_page == 1024  # the seed: a page holds 1024 8-byte slots
    assert (lay.spans_offset, lay.bitmap_offset, lay.arena_offset) == (0, 512 * MiB, 512 * MiB + 16 * GiB)
    assert lay.total_reserved_bytes == 512 * GiB + 16 * GiB + 512 * MiB
    assert get_layout("go1.10") == contiguous_layout("go1.10")


def test_contiguous_layout_scales() -> None:
    lay = contiguous_layout(arena_bytes=1 * GiB)
    assert lay.bitmap_bytes == 32 * MiB and lay.spans_bytes == 1 * MiB


def test_sparse_layout() -> None:
    lay = get_layout("go1.27")
    assert isinstance(lay, SparseLayout)
    assert lay.heap_arena_bytes == 64 * MiB
    assert lay.pages_per_arena == 8192
    assert lay.l1_entries == 1 and lay.l2_entries == 4 * 1024 * 1024
    assert lay.arena_l2_array_bytes == 32 * MiB  # malloc.go: "4M (32MB)"
    assert lay.max_arenas * lay.heap_arena_bytes == 1 << 48
    fields = dict(lay.heap_arena_fields)
    assert fields["spans"] == 64 * KiB  # 8192 pointers
    for bitmap in ("pageInUse", "pageMarks", "pageSpecials", "pageUseSpanInlineMarkBits"):
        assert fields[bitmap] == 1 * KiB
    assert lay.heap_arena_metadata_bytes == 64 * KiB + 4 * KiB + 16 == 69648
    assert lay.metadata_fraction == pytest.approx(69648 / (64 * MiB))
    assert lay.metadata_bytes_for(3) == 3 * 69648
    assert lay.chunks_per_arena == 16


def test_arena_index_amd64() -> None:
    # the first arena hint on linux/amd64 is 0x00c000000000
    idx = arena_index(0x00C000000000)
    assert idx == (0x00C000000000 >> 26) + (1 << 21)
    assert arena_base(idx) == 0x00C000000000
    assert arena_index(0x00C000000000 + 64 * MiB - 1) == idx
    assert arena_index(0x00C000000000 + 64 * MiB) == idx + 1
    # the upper (sign-extended) half indexes below the lower half
    assert arena_index(0xFFFF800000000000) == 0
    assert arena_index(0) == 1 << 21
    assert arena_l1(idx) == 0 and arena_l2(idx) == idx
    assert page_index_in_arena(0x00C000000000 + 3 * 8192 + 5) == 3


@given(st.integers(min_value=0, max_value=(1 << 22) - 1))
def test_arena_base_round_trip(idx: int) -> None:
    assert arena_index(arena_base(idx)) == idx


def test_address_errors() -> None:
    for bad in (-1, 1 << 64, 1.0):
        with pytest.raises(GosimError):
            arena_index(bad)  # type: ignore[arg-type]
    with pytest.raises(GosimError):
        arena_base(1 << 22)


def test_human_bytes() -> None:
    assert human_bytes(512 * GiB) == "512 GiB"
    assert human_bytes(16 * GiB) == "16 GiB"
    assert human_bytes(512 * MiB) == "512 MiB"
    assert human_bytes(8) == "8 B"
    assert human_bytes(69648) == "68.02 KiB (69648 B)"


def test_format_layout() -> None:
    seed = format_layout("go1.12")
    for text in ("512 GiB", "16 GiB", "512 MiB", "1 byte per 32 arena bytes", "sparse"):
        assert text in seed
    today = format_layout("go1.27")
    for text in ("64 MiB", "8192 pages", "22 bits", "32 MiB", "69648 B", "pageInUse",
                 "0xffff800000000000", "4 MiB (512 pages"):
        assert text in today


def test_unknown_layout_preset() -> None:
    with pytest.raises(UnknownPresetError, match="'go2'.*go1.12, go1.27"):
        get_layout("go2")
