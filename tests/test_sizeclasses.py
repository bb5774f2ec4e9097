"""Size classes: the generated tables, the lookups, roundupsize and span classes.

The expected tables below are literal copies of Go 1.12's runtime/sizeclasses.go
(go1.12, the seed document's table) and of Go 1.27's internal/runtime/gc/sizeclasses.go (go1.27); the
module under test generates its tables with the mksizeclasses algorithm.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gosim.errors import (
    GosimError,
    InvalidSizeError,
    InvalidSpanClassError,
    UnknownPresetError,
)
from gosim.runtime.sizeclasses import (
    PRESET_PARAMS,
    PRESETS,
    SizeClass,
    SizeClassParams,
    alignment_summary,
    format_table,
    generate_class_sizes,
    get_table,
    make_span_class,
    num_span_classes,
    span_class_noscan,
    span_class_size_class,
)

# Copied verbatim from the header comment of Go 1.12's runtime/sizeclasses.go
# (the table the seed document reproduces).
GO112_TABLE = """\
// class  bytes/obj  bytes/span  objects  tail waste  max waste
//     1          8        8192     1024           0     87.50%
//     2         16        8192      512           0     43.75%
//     3         32        8192      256           0     46.88%
//     4         48        8192      170          32     31.52%
//     5         64        8192      128           0     23.44%
//     6         80        8192      102          32     19.07%
//     7         96        8192       85          32     15.95%
//     8        112        8192       73          16     13.56%
//     9        128        8192       64           0     11.72%
//    10        144        8192       56         128     11.82%
//    11        160        8192       51          32      9.73%
//    12        176        8192       46          96      9.59%
//    13        192        8192       42         128      9.25%
//    14        208        8192       39          80      8.12%
//    15        224        8192       36         128      8.15%
//    16        240        8192       34          32      6.62%
//    17        256        8192       32           0      5.86%
//    18        288        8192       28         128     12.16%
//    19        320        8192       25         192     11.80%
//    20        352        8192       23          96      9.88%
//    21        384        8192       21         128      9.51%
//    22        416        8192       19         288     10.71%
//    23        448        8192       18         128      8.37%
//    24        480        8192       17          32      6.82%
//    25        512        8192       16           0      6.05%
//    26        576        8192       14         128     12.33%
//    27        640        8192       12         512     15.48%
//    28        704        8192       11         448     13.93%
//    29        768        8192       10         512     13.94%
//    30        896        8192        9         128     15.52%
//    31       1024        8192        8           0     12.40%
//    32       1152        8192        7         128     12.41%
//    33       1280        8192        6         512     15.55%
//    34       1408       16384       11         896     14.00%
//    35       1536        8192        5         512     14.00%
//    36       1792       16384        9         256     15.57%
//    37       2048        8192        4           0     12.45%
//    38       2304       16384        7         256     12.46%
//    39       2688        8192        3         128     15.59%
//    40       3072       24576        8           0     12.47%
//    41       3200       16384        5         384      6.22%
//    42       3456       24576        7         384      8.83%
//    43       4096        8192        2           0     15.60%
//    44       4864       24576        5         256     16.65%
//    45       5376       16384        3         256     10.92%
//    46       6144       24576        4           0     12.48%
//    47       6528       32768        5         128      6.23%
//    48       6784       40960        6         256      4.36%
//    49       6912       49152        7         768      3.37%
//    50       8192        8192        1           0     15.61%
//    51       9472       57344        6         512     14.28%
//    52       9728       49152        5         512      3.64%
//    53      10240       40960        4           0      4.99%
//    54      10880       32768        3         128      6.24%
//    55      12288       24576        2           0     11.45%
//    56      13568       40960        3         256      9.99%
//    57      14336       57344        4           0      5.35%
//    58      16384       16384        1           0     12.49%
//    59      18432       73728        4           0     11.11%
//    60      19072       57344        3         128      3.57%
//    61      20480       40960        2           0      6.87%
//    62      21760       65536        3         256      6.25%
//    63      24576       24576        1           0     11.45%
//    64      27264       81920        3         128     10.00%
//    65      28672       57344        2           0      4.91%
//    66      32768       32768        1           0     12.50%
"""

# Copied verbatim from Go 1.27's internal/runtime/gc/sizeclasses.go (comment block).
GO127_TABLE = """\
// class  bytes/obj  bytes/span  objects  tail waste  max waste  min align
//     1          8        8192     1024           0     87.50%          8
//     2         16        8192      512           0     43.75%         16
//     3         24        8192      341           8     29.24%          8
//     4         32        8192      256           0     21.88%         32
//     5         48        8192      170          32     31.52%         16
//     6         64        8192      128           0     23.44%         64
//     7         80        8192      102          32     19.07%         16
//     8         96        8192       85          32     15.95%         32
//     9        112        8192       73          16     13.56%         16
//    10        128        8192       64           0     11.72%        128
//    11        144        8192       56         128     11.82%         16
//    12        160        8192       51          32      9.73%         32
//    13        176        8192       46          96      9.59%         16
//    14        192        8192       42         128      9.25%         64
//    15        208        8192       39          80      8.12%         16
//    16        224        8192       36         128      8.15%         32
//    17        240        8192       34          32      6.62%         16
//    18        256        8192       32           0      5.86%        256
//    19        288        8192       28         128     12.16%         32
//    20        320        8192       25         192     11.80%         64
//    21        352        8192       23          96      9.88%         32
//    22        384        8192       21         128      9.51%        128
//    23        416        8192       19         288     10.71%         32
//    24        448        8192       18         128      8.37%         64
//    25        480        8192       17          32      6.82%         32
//    26        512        8192       16           0      6.05%        512
//    27        576        8192       14         128     12.33%         64
//    28        640        8192       12         512     15.48%        128
//    29        704        8192       11         448     13.93%         64
//    30        768        8192       10         512     13.94%        256
//    31        896        8192        9         128     15.52%        128
//    32       1024        8192        8           0     12.40%       1024
//    33       1152        8192        7         128     12.41%        128
//    34       1280        8192        6         512     15.55%        256
//    35       1408       16384       11         896     14.00%        128
//    36       1536        8192        5         512     14.00%        512
//    37       1792       16384        9         256     15.57%        256
//    38       2048        8192        4           0     12.45%       2048
//    39       2304       16384        7         256     12.46%        256
//    40       2688        8192        3         128     15.59%        128
//    41       3072       24576        8           0     12.47%       1024
//    42       3200       16384        5         384      6.22%        128
//    43       3456       24576        7         384      8.83%        128
//    44       4096        8192        2           0     15.60%       4096
//    45       4864       24576        5         256     16.65%        256
//    46       5376       16384        3         256     10.92%        256
//    47       6144       24576        4           0     12.48%       2048
//    48       6528       32768        5         128      6.23%        128
//    49       6784       40960        6         256      4.36%        128
//    50       6912       49152        7         768      3.37%        256
//    51       8192        8192        1           0     15.61%       8192
//    52       9472       57344        6         512     14.28%        256
//    53       9728       49152        5         512      3.64%        512
//    54      10240       40960        4           0      4.99%       2048
//    55      10880       32768        3         128      6.24%        128
//    56      12288       24576        2           0     11.45%       4096
//    57      13568       40960        3         256      9.99%        256
//    58      14336       57344        4           0      5.35%       2048
//    59      16384       16384        1           0     12.49%       8192
//    60      18432       73728        4           0     11.11%       2048
//    61      19072       57344        3         128      3.57%        128
//    62      20480       40960        2           0      6.87%       4096
//    63      21760       65536        3         256      6.25%        256
//    64      24576       24576        1           0     11.45%       8192
//    65      27264       81920        3         128     10.00%        128
//    66      28672       57344        2           0      4.91%       4096
//    67      32768       32768        1           0     12.50%       8192

// alignment  bits  min obj size
//         8     3             8
//        16     4            32
//        32     5           256
//        64     6           512
//       128     7           768
//      4096    12         28672
//      8192    13         32768

"""

# Go 1.27's SizeToSizeClass8 and SizeToSizeClass128 (internal/runtime/gc/sizeclasses.go).
GO127_SIZE_TO_CLASS8 = (
    0, 1, 2, 3, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15,
    15, 16, 16, 17, 17, 18, 18, 19, 19, 19, 19, 20, 20, 20, 20, 21, 21, 21, 21, 22, 22, 22, 22,
    23, 23, 23, 23, 24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 27, 27, 27, 27, 27, 27, 27,
    27, 28, 28, 28, 28, 28, 28, 28, 28, 29, 29, 29, 29, 29, 29, 29, 29, 30, 30, 30, 30, 30, 30,
    30, 30, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 32, 32, 32, 32, 32,
    32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
)
GO127_SIZE_TO_CLASS128 = (
    32, 33, 34, 35, 36, 37, 37, 38, 38, 39, 39, 40, 40, 40, 41, 41, 41, 42, 43, 43, 44, 44, 44,
    44, 44, 45, 45, 45, 45, 45, 45, 46, 46, 46, 46, 47, 47, 47, 47, 47, 47, 48, 48, 48, 49, 49,
    50, 51, 51, 51, 51, 51, 51, 51, 51, 51, 51, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 53, 53,
    54, 54, 54, 54, 55, 55, 55, 55, 55, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 57, 57, 57,
    57, 57, 57, 57, 57, 57, 57, 58, 58, 58, 58, 58, 58, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59,
    59, 59, 59, 59, 59, 59, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 61,
    61, 61, 61, 61, 62, 62, 62, 62, 62, 62, 62, 62, 62, 62, 62, 63, 63, 63, 63, 63, 63, 63, 63,
    63, 63, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
    64, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67,
    67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67,
)


def _parse_rows(text: str) -> list[tuple[int, int, int, int, int, str, int | None]]:
    """(class, bytes/obj, bytes/span, objects, tail waste, max waste %, min align)."""
    rows = []
    for line in text.splitlines():
        cols = line.removeprefix("//").split()
        if not cols or not cols[0].isdigit() or not cols[5:6] or not cols[5].endswith("%"):
            continue
        align = int(cols[6]) if len(cols) > 6 else None
        rows.append((int(cols[0]), int(cols[1]), int(cols[2]), int(cols[3]), int(cols[4]),
                     cols[5].rstrip("%"), align))
    return rows


EXPECTED = {"go1.12": _parse_rows(GO112_TABLE), "go1.27": _parse_rows(GO127_TABLE)}


def _strip_comment(text: str) -> str:
    lines = [line.removeprefix("//").removeprefix(" ") for line in text.splitlines()]
    return "\n".join(lines).rstrip("\n") + "\n"


def _min_align(size: int) -> int:
    return min(size & -size, 8192)


# -- the generated tables, cell by cell ---------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
def test_every_cell_matches_runtime_table(preset: str) -> None:
    table = get_table(preset)
    expected = EXPECTED[preset]
    assert len(expected) == table.num_size_classes - 1
    for (cls, size, span, objects, tail, waste, align), row in zip(
        expected, table.classes[1:], strict=True
    ):
        assert row.size_class == cls
        assert row.size_bytes == size, cls
        assert row.span_bytes == span, cls
        assert row.npages == span // 8192, cls
        assert row.objects == objects, cls
        assert row.tail_waste_bytes == tail, cls
        assert row.max_waste_percent == waste, cls
        assert row.min_align_bytes == (align if align is not None else _min_align(size)), cls


def test_table_shapes() -> None:
    t12, t27 = get_table("go1.12"), get_table("go1.27")
    assert (t12.num_size_classes, t27.num_size_classes) == (67, 68)
    assert t12.max_small_size == t27.max_small_size == 32768
    for t in (t12, t27):
        assert t.classes[0] == SizeClass(0, 0, 0, 0, 0, 0, 0.0, 0)
        assert all(c.size_class == i for i, c in enumerate(t.classes))
        assert t.max_objs_per_span == 1024
        assert t.max_size_class_npages == 10
        assert t.tiny_size_class == 2
        assert num_span_classes(t) == t.num_span_classes == 2 * t.num_size_classes
    assert 24 not in [c.size_bytes for c in t12.classes]
    assert t27.classes[3].size_bytes == 24
    assert t12.classes[1].max_waste == pytest.approx(0.875)


def test_format_table_reproduces_runtime_comment_blocks() -> None:
    assert format_table(get_table("go1.27"), "table") == _strip_comment(GO127_TABLE)
    assert format_table(get_table("go1.12"), "table") == _strip_comment(GO112_TABLE)


def test_alignment_summary_go127() -> None:
    assert alignment_summary(get_table("go1.27")) == [
        (8, 3, 8), (16, 4, 32), (32, 5, 256), (64, 6, 512), (128, 7, 768),
        (4096, 12, 28672), (8192, 13, 32768),
    ]


@pytest.mark.parametrize("preset", PRESETS)
def test_format_csv_and_json(preset: str) -> None:
    table = get_table(preset)
    rows = list(csv.DictReader(io.StringIO(format_table(table, "csv"))))
    assert len(rows) == table.num_size_classes - 1
    doc = json.loads(format_table(table, "json"))
    assert doc["preset"] == preset and doc["num_size_classes"] == table.num_size_classes
    for (cls, size, span, objects, tail, waste, _), r, j in zip(
        EXPECTED[preset], rows, doc["classes"], strict=True
    ):
        assert (int(r["size_class"]), int(r["size_bytes"]), int(r["span_bytes"])) == (cls, size, span)
        assert (int(r["objects"]), int(r["tail_waste_bytes"]), r["max_waste_percent"]) == (
            objects, tail, waste)
        assert (j["size_class"], j["size_bytes"], j["objects"], j["max_waste_percent"]) == (
            cls, size, objects, waste)


def test_format_unknown() -> None:
    with pytest.raises(GosimError, match="valid formats: table, csv, json"):
        format_table(get_table("go1.27"), "xml")


# -- the generator's parameters ------------------------------------------------


def test_presets_differ_only_in_align16_threshold_and_printing() -> None:
    p12, p27 = PRESET_PARAMS["go1.12"], PRESET_PARAMS["go1.27"]
    assert p12.align16_from_size == 16 and p27.align16_from_size == 32
    assert p12.tail_waste_divisor == p27.tail_waste_divisor == 8
    assert p12.page_size == p27.page_size == 8192


def test_generator_checks_class_count() -> None:
    bad = SizeClassParams(preset="x", expected_num_size_classes=99)
    with pytest.raises(GosimError, match="produced 68 classes"):
        generate_class_sizes(bad)


def test_generator_without_fill_pass_keeps_8448() -> None:
    # mksizeclasses.go's own example: 8448 grows to 9472 (6 objects in 7 pages)
    raw = SizeClassParams(preset="raw", grow_to_fill_span=False)
    assert (8448, 7) in generate_class_sizes(raw)
    assert (9472, 7) in generate_class_sizes(PRESET_PARAMS["go1.27"])


def test_lookup_arrays_match_runtime() -> None:
    t = get_table("go1.27")
    assert t.size_to_class8 == GO127_SIZE_TO_CLASS8
    assert t.size_to_class128 == GO127_SIZE_TO_CLASS128
    assert len(t.size_to_class8) == 1024 // 8 + 1
    assert len(t.size_to_class128) == (32768 - 1024) // 128 + 1


def test_div_magic_matches_division() -> None:
    for preset in PRESETS:
        t = get_table(preset)
        for c in t.classes[1:]:
            m = t.div_magic[c.size_class]
            assert m == 0xFFFFFFFF // c.size_bytes + 1
            for n in range(0, c.span_bytes + 1, 8):  # object offsets are 8-aligned
                assert (n * m) >> 32 == n // c.size_bytes


# -- size -> class for every small size ---------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
def test_size_to_class_every_size(preset: str) -> None:
    t = get_table(preset)
    sizes = [c.size_bytes for c in t.classes]
    expected = 1
    for n in range(1, 32769):
        while sizes[expected] < n:  # brute force: smallest class with size >= n
            expected += 1
        # the runtime's two-level lookup, written out independently here
        if n <= 1024 - 8:
            two_level = t.size_to_class8[(n + 7) // 8]
        else:
            two_level = t.size_to_class128[(n - 1024 + 127) // 128]
        got = t.size_to_class(n)
        assert got == expected == two_level, n
        assert t.roundupsize(n) == sizes[expected], n


@pytest.mark.parametrize("preset", PRESETS)
def test_size_to_class_edges(preset: str) -> None:
    t = get_table(preset)
    assert t.size_to_class(0) == 0  # documented: the runtime's table maps 0 to class 0
    assert t.size_to_class(32768) == t.num_size_classes - 1
    assert t.size_to_class(32769) == 0
    assert t.size_to_class(1 << 40) == 0
    assert t.class_to_size(t.num_size_classes - 1) == 32768
    assert t.class_to_npages(0) == 0
    assert t.class_to_size(0) == 0


def test_known_classes() -> None:
    t12, t27 = get_table("go1.12"), get_table("go1.27")
    assert t12.size_to_class(17) == 3 and t12.class_to_size(3) == 32
    assert t27.size_to_class(17) == 3 and t27.class_to_size(3) == 24
    assert t27.size_to_class(1025) == 33 and t27.class_to_size(33) == 1152
    assert t27.class_to_npages(67 - 2) == 10  # 27264 bytes: 3 objects in 10 pages


# -- roundupsize ---------------------------------------------------------------


def test_roundupsize_noscan_and_large() -> None:
    t = get_table("go1.27")
    assert [t.roundupsize(n) for n in (0, 1, 8, 9, 17, 25, 33, 1016, 1017, 1025)] == [
        0, 8, 8, 16, 24, 32, 48, 1024, 1024, 1152]
    # without malloc headers (Go <= 1.21) everything up to 32 KiB is small
    assert t.roundupsize(32768) == 32768
    assert t.roundupsize(32769) == 40960
    assert t.roundupsize(100_000) == 13 * 8192
    # with malloc headers the small limit is 32768 - 8, even for noscan objects
    assert t.roundupsize(32760, malloc_header=True) == 32768
    # ... and large objects take whole pages: 32761 bytes -> 4 pages
    assert t.roundupsize(32761, malloc_header=True) == 32768
    assert t.roundupsize(32761, noscan=False, malloc_header=True) == 32768
    assert t.roundupsize(40961, noscan=False, malloc_header=True) == 49152


def test_roundupsize_malloc_header() -> None:
    t = get_table("go1.27")
    # <= 512 bytes: heap bits live in the span, no header
    assert t.roundupsize(505, noscan=False, malloc_header=True) == 512
    assert t.roundupsize(512, noscan=False, malloc_header=True) == 512
    # > 512: class chosen for size + 8, the header subtracted again
    assert t.roundupsize(513, noscan=False, malloc_header=True) == 576 - 8
    assert t.roundupsize(568, noscan=False, malloc_header=True) == 576 - 8
    assert t.roundupsize(569, noscan=False, malloc_header=True) == 640 - 8
    assert t.roundupsize(32752, noscan=False, malloc_header=True) == 32760
    assert t.roundupsize(32760, noscan=False, malloc_header=True) == 32760
    # noscan objects never get a header
    assert t.roundupsize(513, noscan=True, malloc_header=True) == 576
    # the flag is off by default: no header
    assert t.roundupsize(513, noscan=False) == 576


def test_roundupsize_go112() -> None:
    t = get_table("go1.12")
    assert [t.roundupsize(n) for n in (1, 17, 24, 33, 32768, 32769)] == [
        8, 32, 32, 48, 32768, 40960]


@given(st.integers(min_value=0, max_value=1 << 20), st.booleans(), st.booleans(),
       st.sampled_from(PRESETS))
def test_roundupsize_properties(size: int, noscan: bool, header: bool, preset: str) -> None:
    t = get_table(preset)
    r = t.roundupsize(size, noscan=noscan, malloc_header=header)
    assert r >= size
    if r > 32768:
        assert r % 8192 == 0 and r - size < 8192
    # idempotent: a rounded size rounds to itself
    assert t.roundupsize(r, noscan=noscan, malloc_header=header) == r


# -- span classes --------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
def test_span_class_round_trip(preset: str) -> None:
    t = get_table(preset)
    seen = set()
    for c in range(t.num_size_classes):
        for noscan in (False, True):
            spc = make_span_class(c, noscan, table=t)
            assert spc == c << 1 | int(noscan)
            assert span_class_size_class(spc, table=t) == c
            assert span_class_noscan(spc, table=t) is noscan
            seen.add(spc)
    assert seen == set(range(num_span_classes(t)))


def test_span_class_noscan_means_pointer_free() -> None:
    # runtime: spanClass(sizeclass<<1) | spanClass(bool2int(noscan)); noscan = no pointers
    assert make_span_class(5, True) == 11
    assert make_span_class(5, False) == 10
    assert span_class_noscan(11) is True


def test_span_class_errors() -> None:
    t12 = get_table("go1.12")
    with pytest.raises(InvalidSpanClassError):
        make_span_class(67, True, table=t12)
    make_span_class(67, True)  # valid for the default (go1.27) table
    for bad in (-1, 68, 1.5, True):
        with pytest.raises(InvalidSpanClassError):
            make_span_class(bad, False)  # type: ignore[arg-type]
    with pytest.raises(InvalidSpanClassError):
        make_span_class(1, 1)  # type: ignore[arg-type]
    for bad in (-1, 136):
        with pytest.raises(InvalidSpanClassError):
            span_class_size_class(bad)
        with pytest.raises(InvalidSpanClassError):
            span_class_noscan(bad)
    with pytest.raises(InvalidSpanClassError):
        span_class_size_class(134, table=t12)
    with pytest.raises(InvalidSpanClassError):
        t12.class_to_size(67)
    with pytest.raises(InvalidSpanClassError):
        t12.class_to_npages(-1)


# -- errors --------------------------------------------------------------------


def test_negative_and_non_integer_sizes() -> None:
    t = get_table("go1.27")
    for bad in (-1, -32768):
        with pytest.raises(InvalidSizeError, match="non-negative"):
            t.size_to_class(bad)
        with pytest.raises(InvalidSizeError):
            t.roundupsize(bad)
    with pytest.raises(InvalidSizeError):
        t.size_to_class(1.5)  # type: ignore[arg-type]


def test_unknown_preset() -> None:
    with pytest.raises(UnknownPresetError) as e:
        get_table("go1.99")
    msg = str(e.value)
    assert "'go1.99'" in msg and "go1.12" in msg and "go1.27" in msg
    assert isinstance(e.value, GosimError)


def test_get_table_is_cached() -> None:
    assert get_table("go1.27") is get_table("go1.27")
