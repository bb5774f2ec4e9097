"""benchmarks/profile_core.py's attribution of perf samples (the parser; the
recording needs Linux perf and is a developer's tool, not run here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "profile_core.py"

#: ``perf script -F ip,sym`` output: innermost frame first, samples apart by a blank line
PERF_SCRIPT = """
\t    7f00 _Py_dict_lookup
\t    7f01 CPyDef_goroutine___GCtx___sync
\t    7f02 CPyDef_engine___step_one_Simulation_gen_____mypyc_generator_helper__
\t    7f03 CPyDef_engine___simulate
\t    7f04 _start

\t    7f10 CPyDef_goroutine___GCtx___sync
\t    7f11 CPyDef_engine___simulate

\t    7f20 heappop
\t    7f21 _PyEval_EvalFrameDefault
\t    7f22 CPyDef_engine___Simulation___run
\t    7f23 CPyDef_engine___simulate

\t    7f30 PyLong_FromLong
\t    7f31 CPyDef_mheap___alloc_MHeap_gen_____mypyc_generator_helper__
\t    7f32 CPyDef_engine___simulate

\t    7f40 marshal_loads
\t    7f41 PyImport_ImportModuleLevelObject
"""


def _module():
    spec = importlib.util.spec_from_file_location("profile_core", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_each_sample_goes_to_its_innermost_gosim_function() -> None:
    total, own, pair = _module().attribute(PERF_SCRIPT)
    # the import's sample is outside simulate() and not counted
    assert total == 4
    assert own == {"goroutine___GCtx___sync": 2, "_PyEval_EvalFrameDefault": 1,
                   "mheap___alloc_MHeap[gen]": 1}
    # the helper a function called is kept with it (its own code when it is the leaf)
    assert pair[("goroutine___GCtx___sync", "_Py_dict_lookup")] == 1
    assert pair[("goroutine___GCtx___sync", "CPyDef_goroutine___GCtx___sync")] == 1
    assert pair[("_PyEval_EvalFrameDefault", "heappop")] == 1
    assert pair[("mheap___alloc_MHeap[gen]", "PyLong_FromLong")] == 1
