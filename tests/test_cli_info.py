"""``gosim designs``, ``gosim costs`` and ``gosim sizeclasses --preset DESIGN``:
what a config can name, printed whole on an 80-column pipe."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from gosim.cli import main
from gosim.commands.designs_costs import option_values
from gosim.runtime.design import PRESETS, Design, option_docs
from gosim.runtime.sizeclasses import get_table
from gosim.sim.costs import COST_PARAMETERS, SOURCES

OPTIONS = [f.name for f in fields(Design) if f.name not in ("name", "costs")]


def rows(out: str) -> dict[str, list[str]]:
    """A rich table's first physical line per row, keyed by its first cell."""
    table: dict[str, list[str]] = {}
    for line in out.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if cells[0]:
                table.setdefault(cells[0], cells)
    return table


def test_every_design_option_is_documented_with_its_values() -> None:
    docs = option_docs()
    assert set(OPTIONS) <= set(docs)
    for o in OPTIONS:
        assert len(docs[o]) > 10, o  # a sentence from design.py's "#:" comment
    assert option_values("mutex") == "futex | spinbit"
    assert option_values("span_layout") == "full | heapbits | inline_markbits"
    assert option_values("page_cache") == "true | false"
    assert option_values("page_cache_pages") == "integer (pages)"
    assert option_values("sizeclasses") == "go1.12 | go1.27"


def test_designs_lists_options_and_every_preset_value(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert main(["designs"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out  # nothing truncated on the 80-column capture
    about, presets = out.split("design presets (design.preset)")
    r = rows(about)
    for o in OPTIONS:
        assert r[o][1] == option_values(o), o
        assert docs_start(o) in " ".join(about.split()), o
    r = rows(presets)
    header = next(line for line in presets.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")] == ["option", *PRESETS]
    for o in OPTIONS:
        want = [str(getattr(d, o)).lower() if isinstance(getattr(d, o), bool)
                else str(getattr(d, o)) for d in PRESETS.values()]
        assert r[o][1:] == want, o
    assert r["costs"][1] == "pagealloc_ns=2500" and r["costs"][2] == "-"


def docs_start(option: str) -> str:
    """The first words of an option's doc (wrapping may split the rest)."""
    return " ".join(option_docs()[option].split()[:2])


def test_costs_lists_every_parameter_with_its_default_and_unit(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    r = rows(out)
    assert set(COST_PARAMETERS) <= set(r)
    for name, p in COST_PARAMETERS.items():
        assert r[name][1:3] == [f"{p.default:g}", p.unit], name


def test_costs_prints_the_legend_of_every_source_abbreviation_used(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out  # long URLs fold, they are not cut
    legend = out[out.index("┃ abbreviation"):]
    # each row's text, continuation lines included (whitespace dropped: URLs fold)
    text: dict[str, str] = {}
    row = ""
    for line in legend.splitlines():
        if line.startswith("│"):
            first, rest = (c.strip() for c in line.strip("│").split("│"))
            row = first or row
            text[row] = text.get(row, "") + "".join(rest.split())
    assert text == {abbr: "".join(meaning.split()) for abbr, meaning in SOURCES.items()}
    # every abbreviation a parameter's source uses has a legend row
    used = {w.rstrip(",;") for p in COST_PARAMETERS.values() for w in p.source.split()
            if w.startswith("[")}
    assert used and used <= set(SOURCES)


@pytest.mark.parametrize("design", sorted(PRESETS))
def test_sizeclasses_accepts_every_design_preset(design: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sizeclasses", "--preset", design, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    table = get_table(PRESETS[design].sizeclasses)
    assert doc["preset"] == table.preset
    # a design named like its table (go1.12, go1.27) is the table itself
    assert doc.get("design") == (None if design == table.preset else design)
    assert len(doc["classes"]) == len(table.classes) - 1
    assert doc["num_size_classes"] == table.num_size_classes


def test_sizeclasses_json_numbers_are_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sizeclasses", "--preset", "go1.27", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "design" not in doc
    first = doc["classes"][0]
    assert first["max_waste_percent"] == 87.5  # (8 - 1) / 8, the runtime's "87.50"
    for c in doc["classes"]:
        for k, v in c.items():
            assert isinstance(v, int | float) and not isinstance(v, bool), (k, v)


def test_sizeclasses_unknown_preset_names_both_kinds(capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    assert main(["sizeclasses", "--preset", "go2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown size-class preset 'go2'" in err and "go1.14" in err and "tcmalloc" in err
