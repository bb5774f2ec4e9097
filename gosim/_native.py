"""Which build of the simulation core runs: mypyc-compiled or pure Python.

``pip install`` compiles the modules listed in ``setup.py`` (``NATIVE``) to C
extensions that sit next to their sources, and records each source's SHA-256
in ``_native_stamp.json``. The compiled modules run when every one of them is
there and built from the sources as they are now. Otherwise, or with
``GOSIM_PURE_PYTHON=1`` in the environment, every gosim module is loaded from
its ``.py`` source: a source edited after the build is never shadowed by a
stale extension, and the compiled modules are never mixed with sources (they
call each other directly). Modules outside the stamp always load from source.
Both builds give bit-identical results (tests/test_native.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path

_PKG = Path(__file__).resolve().parent
_ROOT = _PKG.parent
STAMP = _PKG / "_native_stamp.json"


def decide(root: Path = _ROOT, stamp_path: Path = STAMP,
           environ: Mapping[str, str] = os.environ) -> tuple[bool, str]:
    """(whether the compiled modules run, why) for the tree at ``root``."""
    if environ.get("GOSIM_PURE_PYTHON") == "1":
        return False, "pure Python (GOSIM_PURE_PYTHON=1)"
    try:
        stamp: dict[str, str] = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        return False, "pure Python (not compiled: no mypyc or no C compiler at install)"
    if not stamp:
        return False, "pure Python (nothing compiled)"
    for rel, digest in sorted(stamp.items()):
        src = root / rel
        try:
            now = hashlib.sha256(src.read_bytes()).hexdigest()
        except OSError:
            return False, f"pure Python ({rel} is missing)"
        if now != digest:
            return False, (f"pure Python ({rel} changed since it was compiled; "
                           "`pip install -e .` compiles it again)")
        stem = src.with_suffix("")
        if not any(Path(str(stem) + suf).exists() for suf in EXTENSION_SUFFIXES):
            return False, f"pure Python ({rel} was not compiled)"
    return True, f"compiled with mypyc ({len(stamp)} modules)"


class _SourceFinder:
    """Loads gosim's modules from their ``.py`` sources even where a compiled
    extension of the same name sits beside them, except those in ``compiled``
    (an extension left from an older build of a module no longer compiled is
    thus never loaded either)."""

    def __init__(self, compiled: frozenset[str]) -> None:
        self.compiled = compiled

    def find_spec(self, name: str, path: object = None, target: object = None
                  ) -> ModuleSpec | None:
        if not name.startswith("gosim.") or name in self.compiled:
            return None
        rel = Path(*name.split("."))
        for cand, is_pkg in ((_ROOT / rel / "__init__.py", True),
                             (_ROOT / rel.with_suffix(".py"), False)):
            if cand.is_file():
                return importlib.util.spec_from_file_location(
                    name, cand, submodule_search_locations=[str(cand.parent)] if is_pkg else None)
        return None


def _compiled_modules() -> frozenset[str]:
    stamp: dict[str, str] = json.loads(STAMP.read_text())
    return frozenset(rel[:-3].replace("/", ".") for rel in stamp)


def stale_notice() -> str | None:
    """What ``gosim run`` says when the compiled core exists but a source changed
    since it was built (so the slower pure-Python build runs); None otherwise."""
    if NATIVE or "changed since it was compiled" not in BUILD:
        return None
    return f"gosim: note: the simulation core runs as {BUILD}, about half as fast as compiled"


NATIVE, BUILD = decide()
if not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _SourceFinder(_compiled_modules() if NATIVE else frozenset()))
