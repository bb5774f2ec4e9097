"""Atomic file and directory writes: a temp sibling, then ``os.replace``.

Readers never see a half-written file; an interrupted run leaves the old
file (or nothing) in place plus, at worst, a ``.tmp-*`` sibling.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temp path beside ``dest``; on success move it onto ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{dest.name}.", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; be an ordinary file
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(dest: Path, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_with(dest: Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the file onto ``dest``."""
    with atomic_path(dest) as tmp:
        writer(tmp)


@contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """Yield a temp directory beside ``dest``; on success swap it into place.

    POSIX cannot rename a directory over a non-empty one, so the old one is
    first renamed aside, then removed: ``dest`` is always either the complete
    old directory or the complete new one (or, for an instant, absent).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}.", dir=dest.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        old = None
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{dest.name}.", dir=dest.parent))
            os.rmdir(old)
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
