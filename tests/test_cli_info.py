"""``gosim designs`` and ``gosim costs`` list what a config can name."""

from __future__ import annotations

from gosim.cli import main
from gosim.runtime.design import PRESETS
from gosim.sim.costs import COST_PARAMETERS


def test_designs_lists_every_preset_and_option(capsys):
    assert main(["designs"]) == 0
    out = capsys.readouterr().out
    for name in PRESETS:
        assert name in out
    for option in ("span_layout", "inline_markbits", "page_cache", "mutex", "spinbit"):
        assert option in out


def test_costs_lists_every_parameter_with_its_default(capsys):
    assert main(["costs"]) == 0
    out = capsys.readouterr().out
    for name in COST_PARAMETERS:
        assert name in out
    assert "2500" in out  # page_fault_ns
