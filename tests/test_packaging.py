"""pyproject.toml ships every file the package reads at run time.

A non-editable install (``pip install .``, a wheel) carries only Python
modules and what ``[tool.setuptools.package-data]`` names; a data file added
under gosim/ that no pattern covers would work in the editable checkout and
be missing from an installed copy.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gosim"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_package_data_covers_every_non_python_file_in_the_package() -> None:
    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["gosim"]
    shipped = {f for pat in patterns for f in PACKAGE.glob(pat) if f.is_file()}
    # compiled modules (*.so: setup.py's mypyc build) are the build's own output
    data = {f for f in PACKAGE.rglob("*")
            if f.is_file() and f.suffix not in (".py", ".pyc", ".so", ".pyd")
            and "__pycache__" not in f.parts}
    assert data, "gosim/ holds the Go measuring program (realgo/goprog)"
    assert data <= shipped, sorted(str(f.relative_to(ROOT)) for f in data - shipped)
    assert PACKAGE / "realgo" / "goprog" / "go.mod" in shipped

