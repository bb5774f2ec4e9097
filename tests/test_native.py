"""The compiled build (setup.py's mypyc modules) against the pure-Python one.

Which build runs is decided by ``gosim/_native.py``; these tests check that
decision on a scratch tree, and that the two builds give byte-identical
results on scenarios that cover every engine path (batched and step mode,
locks under contention, the collector with a live heap, timed runs, every
preset). With the pure-Python build installed there is nothing to compare,
and the comparison is skipped (CI installs the compiled one).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

import pytest

import gosim
from gosim._native import decide
from gosim.scenario import Scenario
from gosim.sim import simulate

ROOT = Path(__file__).resolve().parent.parent
W = {"dist": "exponential", "mean": 50}


def _tree(tmp: Path) -> tuple[Path, Path]:
    """A scratch package with two 'compiled' modules and their stamp."""
    stamp = {}
    for rel in ("pkg/a.py", "pkg/b.py"):
        src = tmp / rel
        src.parent.mkdir(exist_ok=True)
        src.write_text(f"X = {rel!r}\n")
        (tmp / (rel[:-3] + EXTENSION_SUFFIXES[0])).write_bytes(b"")
        stamp[rel] = hashlib.sha256(src.read_bytes()).hexdigest()
    path = tmp / "pkg" / "_native_stamp.json"
    path.write_text(json.dumps(stamp))
    return tmp, path


def test_compiled_modules_run_only_when_built_from_the_sources_as_they_are(
        tmp_path: Path) -> None:
    root, stamp = _tree(tmp_path)
    assert decide(root, stamp, {}) == (True, "compiled with mypyc (2 modules)")
    assert decide(root, stamp, {"GOSIM_PURE_PYTHON": "1"})[0] is False
    # a source edited after the build: its stale extension must not run
    (root / "pkg/b.py").write_text("X = 'edited'\n")
    native, why = decide(root, stamp, {})
    assert not native and "pkg/b.py changed since it was compiled" in why
    (root / "pkg/b.py").write_text("X = 'pkg/b.py'\n")
    assert decide(root, stamp, {})[0] is True
    # an extension that failed to build (no C compiler)
    (root / ("pkg/a" + EXTENSION_SUFFIXES[0])).unlink()
    native, why = decide(root, stamp, {})
    assert not native and "pkg/a.py was not compiled" in why
    # no stamp: installed with GOSIM_PURE_PYTHON=1, or without mypyc
    stamp.unlink()
    assert decide(root, stamp, {})[0] is False


def test_the_pure_python_switch_loads_every_module_from_source() -> None:
    code = ("import gosim, gosim.sim.engine as e, gosim.runtime.mheap as h;"
            "print(gosim.NATIVE, e.__file__.endswith('.py'), h.__file__.endswith('.py'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, GOSIM_PURE_PYTHON="1"), check=True).stdout
    assert out.split() == ["False", "True", "True"]


def _scenarios() -> dict[str, dict[str, Any]]:
    def sc(design: str, P: int, size: int, n: int, **extra: Any) -> dict[str, Any]:
        d: dict[str, Any] = {"design": design, "gomaxprocs": P, "seed": 7,
                             "workload": {"groups": [{"count": P, "size": size, "work_ns": W,
                                                      "allocations": n}]}}
        d.update(extra)
        return d

    cases = {f"{d}-{p}P-{s}": sc(d, p, s, 600 if s < 32768 else 60)
             for d in ("go1.12", "go1.14", "go1.27", "global-lock", "tcmalloc")
             for p in (1, 4) for s in (48, 1024, 40000)}
    cases["go1.27-step"] = sc("go1.27", 4, 1024, 600, mode="step")
    cases["go1.27-fifo-spin"] = sc("go1.27", 6, 1024, 600, lock_policy="fifo",
                                   costs={"lock_spin_ns": 700, "lock_wakeup_ns": 900})
    live = sc("go1.27", 4, 1024, 3000)
    live["workload"]["live_heap"] = {"bytes": 4 << 20}
    cases["go1.27-gc-live-heap"] = live
    timed = sc("go1.12", 8, 1024, 0, duration_ns=400_000)
    timed["workload"]["groups"][0]["allocations"] = None
    cases["go1.12-timed"] = timed
    ring = sc("go1.27", 2, 48, 5000)
    ring["workload"]["groups"][0]["lifetime"] = {"allocations": 100}
    cases["go1.27-ring"] = ring
    return cases


def _dump() -> dict[str, str]:
    return {k: json.dumps(simulate(Scenario.model_validate(d)).to_dict(), sort_keys=True,
                          default=str) for k, d in _scenarios().items()}


@pytest.mark.skipif(not gosim.NATIVE, reason=f"nothing to compare: {gosim.BUILD}")
def test_compiled_and_pure_python_results_are_byte_identical() -> None:
    code = ("import json, sys; sys.path.insert(0, 'tests'); import test_native as t;"
            "json.dump(t._dump(), sys.stdout)")
    pure = json.loads(subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        env=dict(os.environ, GOSIM_PURE_PYTHON="1")).stdout)
    compiled = _dump()
    assert len(compiled) == 35
    assert [k for k in compiled if compiled[k] != pure[k]] == []


def test_modules_outside_the_compiled_set_always_load_from_source() -> None:
    """An extension left in place by an older build (a module compiled then, not
    now) must not load: the finder hands out the .py of every gosim module but
    the compiled ones, which it leaves to the default import machinery."""
    from gosim._native import _SourceFinder

    finder = _SourceFinder(frozenset({"gosim.sim.engine"}))
    assert finder.find_spec("gosim.sim.engine") is None
    spec = finder.find_spec("gosim.sim.env")
    assert spec is not None and spec.origin == str(ROOT / "gosim" / "sim" / "env.py")
    pkg = finder.find_spec("gosim.sim")
    assert pkg is not None and pkg.origin == str(ROOT / "gosim" / "sim" / "__init__.py")
    assert pkg.submodule_search_locations == [str(ROOT / "gosim" / "sim")]
    assert finder.find_spec("numpy") is None
