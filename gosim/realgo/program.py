"""The Go program that measures the real runtime, and how it is written out.

The program is ordinary Go source shipped in the package
(``gosim/realgo/goprog/``: ``go.mod`` and ``*.go``, checked by ``gofmt`` and
``go vet`` in the tests); its package comment (``goprog/main.go``) says how
it makes mallocgc see exactly the requested object. It is built once per Go
toolchain and source hash (:mod:`gosim.realgo.probe`) and then run once per
workload: a workload becomes a *spec* (``spec.json`` plus binary streams of
pre-drawn sizes, pointer flags and work times), so measuring many workloads
costs one build. The directory written by :func:`write_program` is
self-contained (``go run <dir> spec.json``, from the directory holding the
spec and its streams) and is stored next to realgo results
for anyone who wants to rerun it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: where the program's source lives in the package
PROGRAM_DIR = Path(__file__).resolve().parent / "goprog"


def program_files() -> dict[str, str]:
    """File name -> text of the program: ``go.mod`` and every ``*.go`` file."""
    names = ["go.mod", *sorted(p.name for p in PROGRAM_DIR.glob("*.go"))]
    return {n: (PROGRAM_DIR / n).read_text(encoding="utf-8") for n in names}


def source_hash() -> str:
    """A short hash of the program's files: the build-cache key."""
    h = hashlib.sha256()
    for name, text in program_files().items():
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()[:16]


def write_program(directory: Path) -> Path:
    """Write the program's files into ``directory`` (created); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in program_files().items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory
