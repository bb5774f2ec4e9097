"""Address-space layout of the Go heap: the seed's contiguous arena and today's sparse arenas.

Two layouts, as data (all numbers in bytes, linux/amd64):

``go1.12`` (alias ``go1.10``): the seed document's *contiguous* layout
    One reservation made at start-up (Go <= 1.10 ``mallocinit``), laid out as
    ``spans | bitmap | arena``:

    - arena: 512 GiB of heap address space, 8 KiB pages of 8-byte words;
    - bitmap: 2 bits per arena word (pointer/scan bits), i.e. 1 byte per 32
      arena bytes -> 16 GiB; it grows *down* from the arena start;
    - spans: one 8-byte ``*mspan`` per arena page -> 512 MiB.

    **Note:** Go 1.12 itself already used sparse 64 MiB heap arenas (the switch
    came in Go 1.11, go.dev/doc/go1.11). The ``go1.12`` preset is named after
    the seed's size-class table, and the seed describes the Go <= 1.10 layout;
    this preset shows that layout, as the seed does.

``go1.27``: the *sparse* layout (Go 1.11+, numbers as in Go 1.27)
    The heap is a set of 64 MiB, 64 MiB-aligned *heap arenas*
    (``heapArenaBytes``, runtime/malloc.go), reserved only as the heap grows.
    ``mheap_.arenas`` is a two-level index ``[1 << arenaL1Bits]*[1 << arenaL2Bits]*heapArena``
    (runtime/mheap.go). On linux/amd64 the address space is 48 bits,
    ``arenaL1Bits = 0`` and ``arenaL2Bits = 48 - 26 = 22``: a single L2 array of
    4 Mi pointers (32 MiB of address space, touched sparsely). Addresses are
    offset by ``arenaBaseOffset = 0xffff800000000000`` so that the sign-extended
    upper half of the amd64 address space indexes below the lower half.

    Each arena's metadata is a ``heapArena`` struct (runtime/mheap.go), counted
    here field by field:

    ===========================  ==================================  =========
    field                        type                                bytes
    ===========================  ==================================  =========
    spans                        [pagesPerArena]*mspan               65536
    pageInUse                    [pagesPerArena/8]uint8              1024
    pageMarks                    [pagesPerArena/8]uint8              1024
    pageSpecials                 [pagesPerArena/8]uint8              1024
    pageUseSpanInlineMarkBits    [pagesPerArena/8]uint8              1024
    checkmarks                   *checkmarksMap (pointer only)       8
    zeroedBase                   uintptr                             8
    ===========================  ==================================  =========

    Total 69648 bytes (68 KiB + 16 B) per 64 MiB arena, about 0.10%. Not
    included: the ``checkmarksMap`` itself (1 MiB per arena, allocated only
    under ``GODEBUG=gccheckmark=1``/``checkfinalizers``), the page allocator's
    bitmaps and summaries (mpagealloc.go; they are per 4 MiB chunk, not per
    arena), and heap pointer bits, which since Go 1.22 live inside spans or in
    malloc headers rather than in per-arena metadata.

The constants used by the heap model (``PAGE_SHIFT``, ``PAGE_SIZE``,
``HEAP_ARENA_BYTES``, ``PAGES_PER_ARENA``, ``PALLOC_CHUNK_PAGES``) follow
runtime/malloc.go and runtime/mpagealloc.go for linux/amd64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from gosim.errors import GosimError, UnknownPresetError

# -- constants (linux/amd64) ------------------------------------------------

PTR_SIZE: Final = 8
PAGE_SHIFT: Final = 13
PAGE_SIZE: Final = 1 << PAGE_SHIFT  # 8 KiB runtime pages (pageSize)
LOG_HEAP_ARENA_BYTES: Final = 26
HEAP_ARENA_BYTES: Final = 1 << LOG_HEAP_ARENA_BYTES  # 64 MiB (heapArenaBytes)
PAGES_PER_ARENA: Final = HEAP_ARENA_BYTES // PAGE_SIZE  # 8192 (pagesPerArena)
HEAP_ADDR_BITS: Final = 48  # heapAddrBits
ARENA_L1_BITS: Final = 0  # arenaL1Bits (6 only on windows/64-bit)
ARENA_L2_BITS: Final = HEAP_ADDR_BITS - LOG_HEAP_ARENA_BYTES - ARENA_L1_BITS  # 22
ARENA_BITS: Final = ARENA_L1_BITS + ARENA_L2_BITS
ARENA_BASE_OFFSET: Final = 0xFFFF800000000000  # arenaBaseOffset on amd64
LOG_PALLOC_CHUNK_PAGES: Final = 9
PALLOC_CHUNK_PAGES: Final = 1 << LOG_PALLOC_CHUNK_PAGES  # 512 pages (pallocChunkPages)
PALLOC_CHUNK_BYTES: Final = PALLOC_CHUNK_PAGES * PAGE_SIZE  # 4 MiB (pallocChunkBytes)

_ADDR_MASK: Final = (1 << 64) - 1

#: accepted layout presets; 'go1.10' is an alias of 'go1.12' (the seed's layout)
LAYOUT_PRESETS: tuple[str, ...] = ("go1.12", "go1.27")
_ALIASES = {"go1.10": "go1.12"}

_KIB: Final = 1 << 10
_MIB: Final = 1 << 20
_GIB: Final = 1 << 30


# -- the contiguous layout (seed, Go <= 1.10) --------------------------------


@dataclass(frozen=True)
class ContiguousLayout:
    """One up-front reservation: ``spans | bitmap | arena`` (Go <= 1.10 mallocinit)."""

    preset: str
    arena_bytes: int
    page_bytes: int
    word_bytes: int
    #: pointer/scan bits per arena word (heapBitsShift era: 2)
    bitmap_bits_per_word: int
    #: arena bytes described by one bitmap byte (32)
    arena_bytes_per_bitmap_byte: int
    bitmap_bytes: int
    #: one *mspan per arena page
    spans_bytes: int
    arena_pages: int
    words_per_page: int
    #: offsets within the reservation
    spans_offset: int
    bitmap_offset: int
    arena_offset: int
    total_reserved_bytes: int


def contiguous_layout(
    preset: str = "go1.12",
    arena_bytes: int = 512 * _GIB,
    page_bytes: int = PAGE_SIZE,
    word_bytes: int = PTR_SIZE,
    bitmap_bits_per_word: int = 2,
) -> ContiguousLayout:
    """Compute the contiguous layout for an arena of ``arena_bytes``."""
    per_byte = word_bytes * 8 // bitmap_bits_per_word  # arena bytes per bitmap byte
    bitmap = arena_bytes // per_byte
    pages = arena_bytes // page_bytes
    spans = pages * word_bytes
    return ContiguousLayout(
        preset=preset,
        arena_bytes=arena_bytes,
        page_bytes=page_bytes,
        word_bytes=word_bytes,
        bitmap_bits_per_word=bitmap_bits_per_word,
        arena_bytes_per_bitmap_byte=per_byte,
        bitmap_bytes=bitmap,
        spans_bytes=spans,
        arena_pages=pages,
        words_per_page=page_bytes // word_bytes,
        spans_offset=0,
        bitmap_offset=spans,
        arena_offset=spans + bitmap,
        total_reserved_bytes=spans + bitmap + arena_bytes,
    )


# -- the sparse layout (Go 1.11+) -------------------------------------------


def _heap_arena_fields() -> tuple[tuple[str, int], ...]:
    bitmap = PAGES_PER_ARENA // 8  # one bit per page
    return (
        ("spans", PAGES_PER_ARENA * PTR_SIZE),
        ("pageInUse", bitmap),
        ("pageMarks", bitmap),
        ("pageSpecials", bitmap),
        ("pageUseSpanInlineMarkBits", bitmap),
        ("checkmarks", PTR_SIZE),
        ("zeroedBase", PTR_SIZE),
    )


@dataclass(frozen=True)
class SparseLayout:
    """64 MiB heap arenas behind a two-level arena index (Go 1.11+, mheap.go)."""

    preset: str
    heap_addr_bits: int
    heap_arena_bytes: int
    page_bytes: int
    pages_per_arena: int
    arena_l1_bits: int
    arena_l2_bits: int
    arena_base_offset: int
    #: heap arenas the address space can hold (1 << arenaBits)
    max_arenas: int
    l1_entries: int
    l2_entries: int
    #: mheap_.arenas itself: the L1 array (in the binary's BSS)
    arena_l1_array_bytes: int
    #: each L2 array: 1 << arenaL2Bits pointers (reserved, touched sparsely)
    arena_l2_array_bytes: int
    #: size of one heapArena struct (see the module docstring)
    heap_arena_metadata_bytes: int
    #: (field name, bytes) of the heapArena struct, in declaration order
    heap_arena_fields: tuple[tuple[str, int], ...] = field(repr=False)
    palloc_chunk_pages: int = PALLOC_CHUNK_PAGES
    palloc_chunk_bytes: int = PALLOC_CHUNK_BYTES

    @property
    def max_heap_bytes(self) -> int:
        return self.max_arenas * self.heap_arena_bytes

    @property
    def metadata_fraction(self) -> float:
        """heapArena bytes per heap-arena byte."""
        return self.heap_arena_metadata_bytes / self.heap_arena_bytes

    @property
    def chunks_per_arena(self) -> int:
        return self.heap_arena_bytes // self.palloc_chunk_bytes

    def metadata_bytes_for(self, num_arenas: int) -> int:
        """heapArena bytes for ``num_arenas`` mapped arenas."""
        return num_arenas * self.heap_arena_metadata_bytes


def sparse_layout(preset: str = "go1.27") -> SparseLayout:
    """The linux/amd64 sparse layout of Go 1.27 (runtime/malloc.go, runtime/mheap.go)."""
    fields_ = _heap_arena_fields()
    return SparseLayout(
        preset=preset,
        heap_addr_bits=HEAP_ADDR_BITS,
        heap_arena_bytes=HEAP_ARENA_BYTES,
        page_bytes=PAGE_SIZE,
        pages_per_arena=PAGES_PER_ARENA,
        arena_l1_bits=ARENA_L1_BITS,
        arena_l2_bits=ARENA_L2_BITS,
        arena_base_offset=ARENA_BASE_OFFSET,
        max_arenas=1 << ARENA_BITS,
        l1_entries=1 << ARENA_L1_BITS,
        l2_entries=1 << ARENA_L2_BITS,
        arena_l1_array_bytes=(1 << ARENA_L1_BITS) * PTR_SIZE,
        arena_l2_array_bytes=(1 << ARENA_L2_BITS) * PTR_SIZE,
        heap_arena_metadata_bytes=sum(n for _, n in fields_),
        heap_arena_fields=fields_,
    )


def get_layout(preset: str) -> ContiguousLayout | SparseLayout:
    """The address-space layout of ``preset`` ('go1.12'/'go1.10': contiguous; 'go1.27': sparse)."""
    name = _ALIASES.get(preset, preset)
    if name == "go1.12":
        return contiguous_layout(preset)
    if name == "go1.27":
        return sparse_layout(preset)
    valid = ", ".join(LAYOUT_PRESETS + tuple(_ALIASES))
    raise UnknownPresetError(f"unknown layout preset {preset!r}; valid presets: {valid}")


# -- arena index (mheap.go arenaIndex / arenaBase / arenaIdx.l1 / l2) --------


def _check_addr(addr: object) -> int:
    if isinstance(addr, bool) or not isinstance(addr, int) or not 0 <= addr <= _ADDR_MASK:
        raise GosimError(f"address must be an integer in [0, 2**64), got {addr!r}")
    return addr


def arena_index(addr: object) -> int:
    """Index into ``mheap_.arenas`` of the heap arena holding ``addr`` (``arenaIndex``).

    ``(addr - arenaBaseOffset) / heapArenaBytes`` in 64-bit unsigned arithmetic.
    """
    a = _check_addr(addr)
    return ((a - ARENA_BASE_OFFSET) & _ADDR_MASK) // HEAP_ARENA_BYTES


def arena_base(idx: object) -> int:
    """Lowest address covered by heap arena ``idx`` (``arenaBase``)."""
    if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < (1 << ARENA_BITS):
        raise GosimError(f"arena index must be in [0, {1 << ARENA_BITS}), got {idx!r}")
    return (idx * HEAP_ARENA_BYTES + ARENA_BASE_OFFSET) & _ADDR_MASK


def arena_l1(idx: int) -> int:
    """The L1 part of an arena index (always 0 when ``arenaL1Bits == 0``)."""
    return idx >> ARENA_L2_BITS if ARENA_L1_BITS else 0


def arena_l2(idx: int) -> int:
    """The L2 part of an arena index."""
    return idx & ((1 << ARENA_L2_BITS) - 1) if ARENA_L1_BITS else idx


def page_index_in_arena(addr: int) -> int:
    """Page number of ``addr`` inside its heap arena (index into ``heapArena.spans``)."""
    _check_addr(addr)
    return (addr // PAGE_SIZE) % PAGES_PER_ARENA


# -- printing ---------------------------------------------------------------


def human_bytes(n: int) -> str:
    """'512 GiB' for exact binary multiples, else '68.02 KiB (69648 B)'."""
    for unit, size in (("TiB", 1 << 40), ("GiB", _GIB), ("MiB", _MIB), ("KiB", _KIB)):
        if n >= size:
            if n % size == 0:
                return f"{n // size} {unit}"
            return f"{n / size:.2f} {unit} ({n} B)"
    return f"{n} B"


def _format_contiguous(lay: ContiguousLayout) -> str:
    rows = [
        ("layout", "contiguous (seed; Go <= 1.10): spans | bitmap | arena"),
        ("arena", f"{human_bytes(lay.arena_bytes)} ({lay.arena_pages} pages of "
                  f"{human_bytes(lay.page_bytes)}, {lay.words_per_page} words of "
                  f"{lay.word_bytes} B each)"),
        ("bitmap", f"{human_bytes(lay.bitmap_bytes)} ({lay.bitmap_bits_per_word} bits per "
                   f"{lay.word_bytes}-byte word = 1 byte per {lay.arena_bytes_per_bitmap_byte} "
                   f"arena bytes)"),
        ("spans", f"{human_bytes(lay.spans_bytes)} (one {lay.word_bytes}-byte *mspan per "
                  f"{human_bytes(lay.page_bytes)} page)"),
        ("total reserved", human_bytes(lay.total_reserved_bytes)),
        ("offsets", f"spans +0, bitmap +{human_bytes(lay.bitmap_offset)}, "
                    f"arena +{human_bytes(lay.arena_offset)}"),
    ]
    note = ("note: Go 1.12 itself already used sparse 64 MiB heap arenas (Go 1.11+); "
            "this preset shows the seed's layout")
    return _kv(f"address-space layout: {lay.preset}", rows) + note + "\n"


def _format_sparse(lay: SparseLayout) -> str:
    rows = [
        ("layout", "sparse heap arenas (Go 1.11+), linux/amd64"),
        ("address space", f"{lay.heap_addr_bits} bits ({human_bytes(lay.max_heap_bytes)})"),
        ("heap arena", f"{human_bytes(lay.heap_arena_bytes)} ({lay.pages_per_arena} pages of "
                       f"{human_bytes(lay.page_bytes)})"),
        ("arena index", f"L1 {lay.arena_l1_bits} bits ({lay.l1_entries} entry, "
                        f"{human_bytes(lay.arena_l1_array_bytes)}), L2 {lay.arena_l2_bits} bits "
                        f"({lay.l2_entries} entries, {human_bytes(lay.arena_l2_array_bytes)})"),
        ("arena base offset", f"{lay.arena_base_offset:#x}"),
        ("heapArena metadata", f"{human_bytes(lay.heap_arena_metadata_bytes)} per arena "
                               f"({100 * lay.metadata_fraction:.3f}% of the arena)"),
    ]
    rows += [(f"  {name}", human_bytes(n)) for name, n in lay.heap_arena_fields]
    rows.append(("palloc chunk", f"{human_bytes(lay.palloc_chunk_bytes)} ({lay.palloc_chunk_pages} "
                                 f"pages; {lay.chunks_per_arena} per arena)"))
    return _kv(f"address-space layout: {lay.preset}", rows)


def _kv(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return title + "\n" + "".join(f"  {k:<{width}}  {v}\n" for k, v in rows)


def format_layout(preset: str) -> str:
    """Human-readable description of ``preset``'s layout (human units)."""
    lay = get_layout(preset)
    if isinstance(lay, ContiguousLayout):
        return _format_contiguous(lay)
    return _format_sparse(lay)
