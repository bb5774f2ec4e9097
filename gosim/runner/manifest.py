"""``manifest.json``: what was run, with what, by which code, how long it took."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

_PACKAGES = ("gosim", "simpy", "numpy", "scipy", "pandas", "pyarrow", "pydantic", "PyYAML",
             "matplotlib", "seaborn", "rich", "typer", "dask", "distributed")


def package_versions() -> dict[str, str | None]:
    import gosim

    out: dict[str, str | None] = {"python": platform.python_version(),
                                  # which build of the simulation core ran (gosim/_native.py)
                                  "gosim_build": gosim.BUILD}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision() -> dict[str, Any] | None:
    """The gosim checkout's commit and whether tracked files differ from it."""
    import gosim

    where = Path(gosim.__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": rev, "dirty": bool(dirty)}


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
