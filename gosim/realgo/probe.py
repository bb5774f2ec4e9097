"""Building and running the measuring program (see :mod:`gosim.realgo.program`).

The binary is built once per (toolchain, harness source) into
``<cache>/probe/<go version>-<source hash>/probe`` and reused by every
command and test afterwards. A build or run failure raises
:class:`gosim.errors.GosimError` carrying the compiler's or program's output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from gosim.errors import GosimError
from gosim.realgo.program import source_hash, write_program
from gosim.realgo.toolchain import GoToolchain, cache_dir, find_go, go_env


class GoBuildError(GosimError):
    """The Go compiler rejected the generated program."""


class GoRunError(GosimError):
    """The generated Go program failed or printed something unreadable."""


def _tail(text: str, n: int = 4000) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


def build_probe(tc: GoToolchain | None = None) -> Path:
    """Build (or reuse) the probe binary for toolchain ``tc``; return its path."""
    tc = tc or find_go()
    out_dir = cache_dir() / "probe" / f"{tc.version}-{source_hash()}"
    binary = out_dir / "probe"
    if binary.is_file():
        return binary
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir.parent))
    try:
        write_program(tmp / "src")
        proc = subprocess.run(
            [str(tc.go), "build", "-trimpath", "-o", str(tmp / "probe"), "."],
            cwd=tmp / "src", capture_output=True, text=True, env=go_env(), check=False,
            timeout=600)
        if proc.returncode != 0:
            raise GoBuildError(
                f"building the Go measuring program with {tc.version} ({tc.go}) failed "
                f"(exit {proc.returncode}):\n{_tail(proc.stdout + proc.stderr)}")
        out_dir.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / "probe", binary)  # atomic; a concurrent build wins harmlessly
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return binary


def write_u32(path: Path, values: Any) -> None:
    """Write non-negative integers as little-endian uint32 (the probe's stream format)."""
    import numpy as np

    arr = np.asarray(values, dtype=np.int64)
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
        raise GosimError("sizes and work times must fit in 32 bits")
    path.write_bytes(arr.astype("<u4").tobytes())


def write_u8(path: Path, flags: Any) -> None:
    import numpy as np

    path.write_bytes(np.asarray(flags, dtype=np.uint8).tobytes())


def run_probe(spec: dict[str, Any], *, tc: GoToolchain | None = None,
              gomaxprocs: int = 1, gc: bool | int = False, memory_limit: int | None = None,
              workdir: Path | None = None, timeout: float = 600,
              godebug: str = "") -> dict[str, Any]:
    """Run the probe on ``spec`` and return its JSON output.

    ``gc``: False = GOGC=off (no collection at all, from process start);
    True = GOGC=100; an int = that GOGC. ``memory_limit``: GOMEMLIMIT in
    bytes (None: unset). Files named in the spec must already exist
    (relative names are resolved against ``workdir``). ``godebug``: the
    process's GODEBUG (empty: none); with one, the output also carries the
    lines the runtime printed on stderr (``stderr_lines``: its traces).
    """
    tc = tc or find_go()
    binary = build_probe(tc)
    own_tmp = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="gosim-realgo-")) if own_tmp else workdir
    assert wd is not None
    try:
        wd.mkdir(parents=True, exist_ok=True)
        # absolute: the program runs with wd as its working directory, where a
        # relative workdir (``--out results``) would not resolve
        spec_path = wd.resolve() / "spec.json"
        spec_path.write_text(json.dumps(spec))
        gogc = "off" if gc is False else ("100" if gc is True else str(int(gc)))
        env = go_env({"GOMAXPROCS": str(gomaxprocs), "GOGC": gogc, "GODEBUG": godebug})
        env.pop("GOMEMLIMIT", None)
        if memory_limit is not None:
            env["GOMEMLIMIT"] = str(int(memory_limit))
        try:
            proc = subprocess.run([str(binary), str(spec_path)], cwd=wd, capture_output=True,
                                  text=True, env=env, check=False, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise GoRunError(f"the Go measuring program timed out after {timeout} s:\n"
                             f"{_tail(str(e.stderr or ''))}") from None
        if proc.returncode != 0:
            raise GoRunError(
                f"the Go measuring program ({tc.version}) failed (exit {proc.returncode}):\n"
                f"{_tail(proc.stderr + proc.stdout)}")
        try:
            out: dict[str, Any] = json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            raise GoRunError(f"the Go measuring program printed unreadable output ({e}):\n"
                             f"{_tail(proc.stdout + proc.stderr)}") from None
        if godebug:
            out["stderr_lines"] = proc.stderr.splitlines()
        return out
    finally:
        if own_tmp:
            shutil.rmtree(wd, ignore_errors=True)


__all__ = ["GoBuildError", "GoRunError", "build_probe", "run_probe", "write_u32", "write_u8"]
