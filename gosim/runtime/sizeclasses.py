"""Size classes: the generator behind Go's ``mksizeclasses.go`` and the lookups.

Go rounds every small allocation (<= 32 KiB) up to one of a few dozen *size
classes*; each class has a fixed span size (a run of 8 KiB pages) chopped into
equal objects. The runtime's table (``internal/runtime/gc/sizeclasses.go`` in
Go 1.27, ``runtime/sizeclasses.go`` in Go 1.12) is itself *generated* by
``runtime/_mkmalloc/mksizeclasses.go`` (``runtime/mksizeclasses.go`` in 1.12).
This module reimplements that generator in Python, with its knobs as data
(:class:`SizeClassParams`), so that both presets are computed, not typed in:

``go1.12``
    The seed document's table: classes 1..66, 67 entries counting class 0.
    Alignment bumps to 16 bytes from size 16 on, so there is no 24-byte class.
``go1.27``
    Today's table: classes 1..67, 68 entries. Alignment bumps to 16 bytes only
    from size 32 on (Go 1.15+: heap bitmaps need 16-byte alignment only for
    objects >= 32 bytes), which adds the 24-byte class 3.

Everything else in the algorithm is identical between the presets:

1. Walk sizes upward in steps of the current alignment; at each power of two
   the step grows (16 bytes; then size/8 from 128; then 256 from 2048).
2. For each size choose the fewest pages whose tail waste (the bytes left over
   after whole objects) is at most 1/8 of the span.
3. If the previous class has the same page count and the same object count,
   the new size simply replaces it (no point in two classes).
4. Finally grow each class's object size to the largest multiple of 128 that
   still fits the same number of objects in the span (e.g. 8448 -> 9472).

The lookups follow ``runtime/msize.go`` and ``runtime/malloc.go``: a two-level
table, ``size_to_class8`` indexed by ``ceil(size/8)`` for sizes up to
``smallSizeMax - 8`` (1016) and ``size_to_class128`` indexed by
``ceil((size-1024)/128)`` above that.

Span classes (``runtime/mheap.go``): ``spanClass = sizeClass << 1 | noscan``
where ``noscan = 1`` means the objects contain **no** pointers (the seed's
text has this backwards; gosim follows the runtime).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import cache
from typing import Literal

from gosim.errors import GosimError, InvalidSizeError, InvalidSpanClassError, UnknownPresetError

PRESETS: tuple[str, ...] = ("go1.12", "go1.27")

TableFormat = Literal["table", "csv", "json"]
FORMATS: tuple[str, ...] = ("table", "csv", "json")


@dataclass(frozen=True)
class SizeClassParams:
    """The inputs of the size-class generator (``mksizeclasses.go``) for one preset."""

    preset: str
    #: smallest object alignment and first size tried (minHeapAlign)
    min_heap_align: int = 8
    #: largest small object (maxSmallSize); bigger objects get a class-0 span
    max_small_size: int = 32768
    #: granularity of the first lookup table (smallSizeDiv)
    small_size_div: int = 8
    #: sizes up to this use the first lookup table (smallSizeMax)
    small_size_max: int = 1024
    #: granularity of the second lookup table (largeSizeDiv); final class sizes
    #: are kept multiples of it when they are grown to fill the span
    large_size_div: int = 128
    #: log2 of the runtime page size (8 KiB pages)
    page_shift: int = 13
    #: tiny allocator block size (tinySize)
    tiny_size: int = 16
    #: power-of-two size from which alignment becomes 16 bytes. 16 in Go 1.12
    #: (no 24-byte class); 32 from Go 1.15 on (adds the 24-byte class).
    align16_from_size: int = 32
    #: power-of-two size from which alignment becomes size/8
    align_eighth_from_size: int = 128
    #: power-of-two size from which alignment is fixed at ``large_align``
    large_align_from_size: int = 2048
    large_align: int = 256
    #: a span may leave at most span_bytes // tail_waste_divisor bytes unused
    #: (12.5% with 8)
    tail_waste_divisor: int = 8
    #: grow object sizes to fill the span at the same object count (pass 4)
    grow_to_fill_span: bool = True
    #: the number of classes (counting class 0) the generator must produce;
    #: mksizeclasses.go panics otherwise, so do we
    expected_num_size_classes: int = 68
    #: whether the runtime's printed table has the 'min align' column and the
    #: alignment summary (Go 1.21+)
    prints_min_align: bool = True

    @property
    def page_size(self) -> int:
        return 1 << self.page_shift


PRESET_PARAMS: dict[str, SizeClassParams] = {
    "go1.12": SizeClassParams(
        preset="go1.12",
        align16_from_size=16,
        expected_num_size_classes=67,
        prints_min_align=False,
    ),
    "go1.27": SizeClassParams(preset="go1.27"),
}


@dataclass(frozen=True)
class SizeClass:
    """One row of the runtime's size-class table."""

    size_class: int
    size_bytes: int
    span_bytes: int
    npages: int
    objects: int
    #: span bytes not covered by whole objects
    tail_waste_bytes: int
    #: worst-case waste fraction: every object is the smallest size mapping
    #: to this class (one byte over the previous class), plus the tail waste
    max_waste: float
    #: alignment every object in the class has (largest power of two dividing
    #: the size, capped at the page size)
    min_align_bytes: int

    @property
    def max_waste_percent(self) -> str:
        """``max_waste`` as the runtime prints it (``87.50``)."""
        return f"{100 * self.max_waste:.2f}"


def _is_power_of_two(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


def _div_round_up(n: int, d: int) -> int:
    return (n + d - 1) // d


def generate_class_sizes(params: SizeClassParams) -> list[tuple[int, int]]:
    """Run the generator; return ``[(size_bytes, npages), ...]`` with class 0 first.

    Follows ``makeClasses`` in ``mksizeclasses.go`` (see the module docstring).
    """
    page = params.page_size
    classes: list[tuple[int, int]] = [(0, 0)]  # class 0: large objects
    align = params.min_heap_align
    size = align
    while size <= params.max_small_size:
        if _is_power_of_two(size):  # occasionally widen the step
            if size >= params.large_align_from_size:
                align = params.large_align
            elif size >= params.align_eighth_from_size:
                align = size // 8
            elif size >= params.align16_from_size:
                align = 16
        if not _is_power_of_two(align):  # pragma: no cover - guards bad params
            raise GosimError(f"size-class generator: alignment {align} is not a power of two")

        # fewest pages leaving at most 1/divisor of the span as tail waste
        span = page
        while span % size > span // params.tail_waste_divisor:
            span += page
        npages = span // page

        if len(classes) > 1:
            prev_size, prev_npages = classes[-1]
            if npages == prev_npages and span // size == span // prev_size:
                classes[-1] = (size, npages)  # same shape: widen the previous class
                size += align
                continue
        classes.append((size, npages))
        size += align

    if params.grow_to_fill_span:
        for i in range(1, len(classes)):
            size, npages = classes[i]
            span = npages * page
            grown = (span // (span // size)) & ~(params.large_size_div - 1)
            if grown > size:
                classes[i] = (grown, npages)

    if len(classes) != params.expected_num_size_classes:
        raise GosimError(
            f"size-class generator for {params.preset}: produced {len(classes)} classes, "
            f"expected {params.expected_num_size_classes}"
        )
    return classes


def _build_rows(params: SizeClassParams, sizes: list[tuple[int, int]]) -> tuple[SizeClass, ...]:
    """Compute every printed column (``printComment`` in mksizeclasses.go)."""
    page = params.page_size
    rows = [SizeClass(0, 0, 0, 0, 0, 0, 0.0, 0)]
    prev_size = 0
    for i, (size, npages) in enumerate(sizes[1:], start=1):
        span = npages * page
        objects = span // size
        tail = span - objects * size
        max_waste = ((size - prev_size - 1) * objects + tail) / span
        align_bits = min((size & -size).bit_length() - 1, params.page_shift)
        rows.append(SizeClass(i, size, span, npages, objects, tail, max_waste, 1 << align_bits))
        prev_size = size
    return tuple(rows)


class SizeClassTable:
    """One preset's size-class table with the runtime's lookups."""

    def __init__(self, params: SizeClassParams) -> None:
        self.params = params
        self.preset: str = params.preset
        self.classes: tuple[SizeClass, ...] = _build_rows(params, generate_class_sizes(params))
        self.num_size_classes: int = len(self.classes)
        self.max_small_size: int = params.max_small_size
        self.small_size_div: int = params.small_size_div
        self.small_size_max: int = params.small_size_max
        self.large_size_div: int = params.large_size_div
        self.page_size: int = params.page_size
        self.page_shift: int = params.page_shift
        self.tiny_size: int = params.tiny_size

        sizes = [c.size_bytes for c in self.classes]

        def smallest_fitting(n: int) -> int:  # sizeToSizeClass in printClasses
            for j, s in enumerate(sizes):
                if s >= n:
                    return j
            raise AssertionError("unreachable: n <= max_small_size")  # pragma: no cover

        #: SizeToSizeClass8: index ceil(size/8), sizes 0..small_size_max
        self.size_to_class8: tuple[int, ...] = tuple(
            smallest_fitting(i * params.small_size_div)
            for i in range(params.small_size_max // params.small_size_div + 1)
        )
        #: SizeToSizeClass128: index ceil((size-1024)/128), sizes 1024..max_small_size
        self.size_to_class128: tuple[int, ...] = tuple(
            smallest_fitting(params.small_size_max + i * params.large_size_div)
            for i in range((params.max_small_size - params.small_size_max) // params.large_size_div + 1)
        )
        #: SizeClassToDivMagic: n // size == (n * magic) >> 32 within a span
        self.div_magic: tuple[int, ...] = tuple(
            0 if s == 0 else (0xFFFFFFFF // s) + 1 for s in sizes
        )
        self.max_objs_per_span: int = max(c.objects for c in self.classes[1:])
        self.max_size_class_npages: int = max(c.npages for c in self.classes[1:])
        self.tiny_size_class: int = smallest_fitting(params.tiny_size)

    def __repr__(self) -> str:
        return f"SizeClassTable(preset={self.preset!r}, num_size_classes={self.num_size_classes})"

    # -- lookups -----------------------------------------------------------

    def size_to_class(self, size: int) -> int:
        """The size class for an object of ``size`` bytes; 0 if it is large.

        The runtime's two-level lookup (``mallocgc``/``roundupsize``): sizes up to
        ``smallSizeMax - 8`` index ``size_to_class8[ceil(size/8)]``, larger small
        sizes ``size_to_class128[ceil((size - 1024)/128)]``; sizes above
        ``max_small_size`` are large objects (class 0). Size 0 maps to class 0
        as the runtime's table does (``mallocgc`` never looks it up: zero-size
        allocations return ``zerobase``). Whether a pointerful object near
        32 KiB is large because of its malloc header is ``mallocgc``'s
        decision, not this lookup's.
        """
        _check_size(size)
        if size > self.max_small_size:
            return 0
        if size <= self.small_size_max - 8:
            return self.size_to_class8[_div_round_up(size, self.small_size_div)]
        return self.size_to_class128[
            _div_round_up(size - self.small_size_max, self.large_size_div)
        ]

    def _check_class(self, c: int) -> None:
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < self.num_size_classes:
            raise InvalidSpanClassError(
                f"size class {c!r} is out of range for preset {self.preset} "
                f"(0..{self.num_size_classes - 1})"
            )

    def class_to_size(self, c: int) -> int:
        """Object size of class ``c`` (0 for class 0)."""
        self._check_class(c)
        return self.classes[c].size_bytes

    def class_to_npages(self, c: int) -> int:
        """Pages per span of class ``c`` (0 for class 0)."""
        self._check_class(c)
        return self.classes[c].npages

    def roundupsize(self, size: int, noscan: bool = True, malloc_header: bool = False) -> int:
        """Bytes ``mallocgc`` hands out for a request of ``size`` bytes.

        Follows ``runtime/msize.go``. With ``malloc_header`` (Go 1.22+; pass the
        design's ``malloc_header``) a pointerful object over 512 bytes carries an
        8-byte header: the class is chosen for ``size + 8`` and the header is
        subtracted again, and requests above ``32768 - 8`` are large. Without
        it (Go <= 1.21) every size up to 32768 is small. Large requests are
        rounded up to whole pages.
        """
        _check_size(size)
        header = MALLOC_HEADER_SIZE if malloc_header else 0
        if size <= self.max_small_size - header:
            req = size
            if malloc_header and not noscan and req > MIN_SIZE_FOR_MALLOC_HEADER:
                req += header
            c = self.size_to_class(req)
            return self.classes[c].size_bytes - (req - size)
        return _div_round_up(size, self.page_size) * self.page_size

    # -- span classes ------------------------------------------------------

    @property
    def num_span_classes(self) -> int:
        return self.num_size_classes << 1


#: bytes of a malloc header (internal/runtime/gc/malloc.go MallocHeaderSize)
MALLOC_HEADER_SIZE = 8
#: pointerful objects larger than this carry a malloc header (exclusive bound,
#: internal/runtime/gc/malloc.go MinSizeForMallocHeader = ptrSize * ptrBits)
MIN_SIZE_FOR_MALLOC_HEADER = 8 * 64


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidSizeError(f"allocation size must be an integer, got {size!r}")
    if size < 0:
        raise InvalidSizeError(f"allocation size must be non-negative, got {size}")


@cache
def _table(preset: str) -> SizeClassTable:
    return SizeClassTable(PRESET_PARAMS[preset])


def get_table(preset: str) -> SizeClassTable:
    """The (cached) size-class table of ``preset`` ('go1.12' or 'go1.27')."""
    if preset not in PRESET_PARAMS:
        raise UnknownPresetError(
            f"unknown size-class preset {preset!r}; valid presets: {', '.join(PRESETS)}"
        )
    return _table(preset)


def make_span_class(size_class: int, noscan: bool, *, table: SizeClassTable | None = None) -> int:
    """``spanClass = sizeClass << 1 | noscan`` (``makeSpanClass`` in mheap.go).

    ``noscan`` True means the objects hold no pointers. ``size_class`` is
    checked against ``table`` (default: the largest preset, go1.27).
    """
    t = table if table is not None else get_table("go1.27")
    if isinstance(size_class, bool) or not isinstance(size_class, int) or not (
        0 <= size_class < t.num_size_classes
    ):
        raise InvalidSpanClassError(
            f"size class {size_class!r} is out of range for preset {t.preset} "
            f"(0..{t.num_size_classes - 1})"
        )
    if not isinstance(noscan, bool):
        raise InvalidSpanClassError(f"noscan must be a bool, got {noscan!r}")
    return size_class << 1 | int(noscan)


def _check_span_class(spc: int, table: SizeClassTable | None) -> None:
    limit = num_span_classes(table if table is not None else get_table("go1.27"))
    if isinstance(spc, bool) or not isinstance(spc, int) or not 0 <= spc < limit:
        raise InvalidSpanClassError(f"span class {spc!r} is out of range (0..{limit - 1})")


def span_class_size_class(spc: int, *, table: SizeClassTable | None = None) -> int:
    """The size class of span class ``spc`` (``spanClass.sizeclass``)."""
    _check_span_class(spc, table)
    return spc >> 1


def span_class_noscan(spc: int, *, table: SizeClassTable | None = None) -> bool:
    """Whether span class ``spc`` holds pointer-free objects (``spanClass.noscan``)."""
    _check_span_class(spc, table)
    return bool(spc & 1)


def num_span_classes(table: SizeClassTable) -> int:
    """``numSpanClasses = numSizeClasses << 1``."""
    return table.num_size_classes << 1


# -- printing ---------------------------------------------------------------

_HEADER = ("class", "bytes/obj", "bytes/span", "objects", "tail waste", "max waste", "min align")
_HEADER_FMT = "{:<5}  {:<9}  {:<10}  {:<7}  {:<10}  {:<9}"
_ROW_FMT = "{:5d}  {:9d}  {:10d}  {:7d}  {:10d}  {:>8}%"


def alignment_summary(table: SizeClassTable) -> list[tuple[int, int, int]]:
    """``[(alignment, bits, min obj size), ...]``: from which class size on every
    class is aligned to at least ``alignment`` (the runtime's second comment table).
    """
    shift = table.page_shift
    min_aligns = [0] * (shift + 1)
    for c in table.classes[1:]:
        bits = c.min_align_bytes.bit_length() - 1
        for i in range(shift + 1):
            if i > bits:
                min_aligns[i] = 0
            elif min_aligns[i] == 0:
                min_aligns[i] = c.size_bytes
    out = []
    for bits, size in enumerate(min_aligns):
        if size == 0:
            break
        if bits + 1 < len(min_aligns) and size == min_aligns[bits + 1]:
            continue
        out.append((1 << bits, bits, size))
    return out


def _format_text(table: SizeClassTable) -> str:
    with_align = table.params.prints_min_align
    header = _HEADER_FMT + ("  {:<9}" if with_align else "")
    row_fmt = _ROW_FMT + ("  {:9d}" if with_align else "")
    cols = _HEADER if with_align else _HEADER[:-1]
    lines = [header.format(*cols)]
    for c in table.classes[1:]:
        vals = [c.size_class, c.size_bytes, c.span_bytes, c.objects, c.tail_waste_bytes,
                c.max_waste_percent]
        if with_align:
            vals.append(c.min_align_bytes)
        lines.append(row_fmt.format(*vals))
    if with_align:
        lines.append("")
        lines.append("{:<9}  {:<4}  {:<12}".format("alignment", "bits", "min obj size"))
        for align, bits, size in alignment_summary(table):
            lines.append(f"{align:9d}  {bits:4d}  {size:12d}")
    return "\n".join(lines) + "\n"


_FIELDS = ("size_class", "size_bytes", "span_bytes", "npages", "objects", "tail_waste_bytes",
           "max_waste_percent", "min_align_bytes")


def _record(c: SizeClass) -> dict[str, int | str]:
    return {
        "size_class": c.size_class,
        "size_bytes": c.size_bytes,
        "span_bytes": c.span_bytes,
        "npages": c.npages,
        "objects": c.objects,
        "tail_waste_bytes": c.tail_waste_bytes,
        "max_waste_percent": c.max_waste_percent,
        "min_align_bytes": c.min_align_bytes,
    }


def format_table(table: SizeClassTable, fmt: str = "table") -> str:
    """Render ``table`` as the runtime prints it ('table'), as CSV or as JSON.

    'table' reproduces the comment block of the runtime's sizeclasses.go
    without the ``//`` prefix (Go 1.12: no min align column; Go 1.27: min
    align column plus the alignment summary). CSV and JSON carry one record per
    class 1..N with ``max_waste_percent`` as the runtime's 2-decimal string.
    """
    if fmt == "table":
        return _format_text(table)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=_FIELDS, lineterminator="\n")
        w.writeheader()
        for c in table.classes[1:]:
            w.writerow(_record(c))
        return buf.getvalue()
    if fmt == "json":
        doc = {
            "preset": table.preset,
            "num_size_classes": table.num_size_classes,
            "max_small_size": table.max_small_size,
            "page_size": table.page_size,
            "classes": [_record(c) for c in table.classes[1:]],
        }
        return json.dumps(doc, indent=2) + "\n"
    raise GosimError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
