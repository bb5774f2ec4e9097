"""Build gosim, compiling its simulation core with mypyc when it can.

The modules in ``NATIVE`` (the allocator model and the engine's hot paths)
are plain, typed Python. ``pip install`` compiles them to C extensions with
mypyc (a build requirement in pyproject.toml), several times faster; the
same sources are the pure-Python fallback, and results are bit-identical
either way (tests/test_native.py). Set ``GOSIM_PURE_PYTHON=1`` at install time
to skip compiling; without a C compiler the build falls back by itself.
``gosim/_native.py`` decides at import time which build runs (and ignores
compiled modules older than their sources).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

#: compiled with mypyc: the modules a simulation spends its time in
NATIVE = [
    "gosim/runtime/arena.py",
    "gosim/runtime/context.py",
    "gosim/runtime/malloc.py",
    "gosim/runtime/mcache.py",
    "gosim/runtime/mcentral.py",
    "gosim/runtime/mem_linux.py",
    "gosim/runtime/mgcmark.py",
    "gosim/runtime/mgcpacer.py",
    "gosim/runtime/mgcscavenge.py",
    "gosim/runtime/mgcsweep.py",
    "gosim/runtime/mheap.py",
    "gosim/runtime/mpagecache.py",
    "gosim/runtime/mspan.py",
    "gosim/runtime/mstats.py",
    "gosim/runtime/runset.py",
    "gosim/runtime/runtime2.py",
    "gosim/sim/accounts.py",
    "gosim/sim/alloc.py",
    "gosim/sim/batch.py",
    "gosim/sim/clock.py",
    "gosim/sim/costmodel.py",
    "gosim/sim/engine.py",
    "gosim/sim/gc.py",
    "gosim/sim/goroutine.py",
    "gosim/sim/lifetimes.py",
    "gosim/sim/locks.py",
    "gosim/sim/sched.py",
    "gosim/workload/streams.py",
]

#: mypy's view while compiling: third-party packages are Any whatever is
#: installed (so the compiled code does not depend on the environment), and
#: modules outside NATIVE are not checked
MYPY_FLAGS = [
    "--ignore-missing-imports",
    "--follow-imports=silent",
    "--python-version=3.11",
    "--no-site-packages",
]

STAMP = Path("gosim/_native_stamp.json")


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _native_extensions() -> list:
    if os.environ.get("GOSIM_PURE_PYTHON") == "1":
        print("gosim: GOSIM_PURE_PYTHON=1, not compiling", file=sys.stderr)
        STAMP.unlink(missing_ok=True)
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("gosim: mypyc is not available, building pure Python", file=sys.stderr)
        STAMP.unlink(missing_ok=True)
        return []
    # extensions of modules no longer compiled, left by an older build in place
    for so in Path("gosim").rglob("*.so"):
        if str(so).split(".")[0] + ".py" not in NATIVE:
            so.unlink()
    exts = mypycify(MYPY_FLAGS + NATIVE, opt_level="3", group_name="gosim_native",
                    multi_file=True)
    for e in exts:
        # a failed C build (no compiler) leaves the pure-Python modules in place
        e.optional = True
    # the stamp goes once every extension is built (BuildNative): until then,
    # and for good if one fails, an extension left by an older build is stale
    STAMP.unlink(missing_ok=True)
    return exts


class BuildNative(build_ext):
    """build_ext that records which sources the extensions were built from
    (gosim/_native.py runs them only while those sources are unchanged), and
    only if every extension built: an optional extension whose C build fails
    is skipped with a warning, and the stamp of a build that did not happen
    would make gosim run the older extensions beside the newer sources."""

    def run(self) -> None:
        self.failed: list[str] = []
        super().run()
        if self.extensions and not self.failed:
            STAMP.write_text(json.dumps({m: _digest(m) for m in NATIVE}, indent=1,
                                        sort_keys=True) + "\n")
        elif self.failed:
            print(f"gosim: compiling {', '.join(self.failed)} failed; running pure Python",
                  file=sys.stderr)

    def build_extension(self, ext: Any) -> None:
        try:
            super().build_extension(ext)
        except Exception:
            self.failed.append(ext.name)
            raise


setup(ext_modules=_native_extensions(), cmdclass={"build_ext": BuildNative})
