"""benchmarks/profile_real.py's reading of ``perf report --children --sort
dso,sym -g none`` (the tool itself needs perf and runs the real runtime; it
is not part of the suite)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from profile_real import inclusive_shares

REPORT = """\
# Children      Self  Shared Object      Symbol
# ........  ........  .................  ......
#
    84.32%     0.00%  gosimprobe         [.] runtime.goexit.abi0
    48.70%     0.93%  gosimprobe         [.] runtime.mallocgc
    12.00%     9.29%  [kernel.kallsyms]  [k] _raw_spin_unlock_irqrestore
     7.34%     7.34%  [kernel.kallsyms]  [k] finish_task_switch.isra.0
     3.56%     3.56%  gosimprobe         [.] runtime.procyieldAsm.abi0
     1.00%     1.00%  gosimprobe         [.] runtime.mallocgc
"""


def test_inclusive_shares_of_a_perf_report() -> None:
    shares, kernel = inclusive_shares(REPORT)
    # a symbol listed twice (two call-graph roots) keeps its largest share
    assert shares["runtime.mallocgc"] == 48.70
    assert shares["runtime.procyieldAsm.abi0"] == 3.56
    assert shares["_raw_spin_unlock_irqrestore"] == 12.00
    # the kernel's share is the sum of its symbols' self time
    assert kernel == pytest.approx((9.29 + 7.34) / 100)
    assert "Symbol" not in shares and len(shares) == 5
