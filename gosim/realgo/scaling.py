"""The multi-P, GC-on scaling probe: ground-truth records from the real runtime.

The probe's ``scaling`` mode (``goprog/scaling.go``) runs one workload in the
format of ``experiments/groundtruth/go1.27-16core.jsonl`` (its README
documents the workload and every field) and prints one record: G goroutines
allocating one size (or a round-robin mix) in a tight loop, keeping only the
last object, with the GC on (GOGC, a warm-up and a measured window) or off (a
fixed count per goroutine, timed whole), over an optional live ballast; the
record carries throughput, runtime/metrics deltas, getrusage deltas and the
runtime's lock contention from the mutex profile, attributed to the function
that released each contended lock. The ``grid`` mode runs a list of *blocks*
(a regime's sizes x GOMAXPROCS x repeats), one fresh process per record, so
every record starts from an empty heap.

This module builds a grid from the command line's lists, runs it (one Go
process, which runs one child per record) and writes the records, one JSON
line each and nothing else, atomically to ``OUT``, with the provenance (date,
machine, command, revision, toolchain, the grid itself) in the sidecar
``OUT.provenance.json``. :func:`build_static` cross-builds the probe for
linux/amd64 (static, no cgo) for a machine without Go
(``scripts/device_groundtruth.sh``).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gosim.atomic_write import write_text_atomic
from gosim.errors import GosimError
from gosim.realgo.gctrace import GCTRACE_GODEBUG as _GCTRACE_GODEBUG
from gosim.realgo.probe import GoBuildError, GoRunError, build_probe
from gosim.realgo.program import source_hash, write_program
from gosim.realgo.toolchain import GoToolchain, find_go, go_env

#: GOMAXPROCS of the shared 16-core file; the default grid takes those this machine has
SHARED_PROCS = (1, 2, 4, 8, 12, 16)
#: the shared file's sizes
SHARED_SIZES = (48, 1024, 32768)
#: the shared file's windows (warm-up, measured) in seconds: without and with a ballast
WINDOW_NO_BALLAST = (0.1, 0.6)
WINDOW_BALLAST = (0.2, 1.0)
#: mode nogc allocates this many bytes per goroutine unless count_per_g is given
NOGC_BYTES_PER_G = 128 << 20
#: the probe binary's name in a --build-only directory
BINARY_NAME = "gosimprobe"

MODES = ("gc", "nogc")
KINDS = ("noscan", "scan")


@dataclass(frozen=True)
class Block:
    """One regime of a grid: its sizes (or one mix) x procs x repeats records."""

    mode: str
    sizes: tuple[int, ...]
    procs: tuple[int, ...]
    kind: str = "noscan"
    mix: tuple[int, ...] = ()
    g_per_p: int = 1
    gogc: int = 100
    ballast_mib: int = 0
    touch: bool = True
    warm_s: float = 0.0
    dur_s: float = 0.0
    #: mode nogc: allocations per goroutine (0: NOGC_BYTES_PER_G / size)
    count_per_g: int = 0
    work_iters: int = 0
    repeats: int = 1

    @property
    def records(self) -> int:
        return (1 if self.mix else len(self.sizes)) * len(self.procs) * self.repeats

    def to_spec(self) -> dict[str, Any]:
        d = asdict(self)
        d["sizes"], d["procs"], d["mix"] = list(self.sizes), list(self.procs), list(self.mix)
        return d


@dataclass(frozen=True)
class Grid:
    blocks: tuple[Block, ...]
    allow_oversubscribe: bool = False
    #: GODEBUG of every record's process ("" keeps this one's); with gctrace on,
    #: each gc record carries its cycles' summary (gosim/realgo/gctrace.py)
    child_godebug: str = ""

    @property
    def records(self) -> int:
        return sum(b.records for b in self.blocks)

    def to_spec(self) -> dict[str, Any]:
        return {"mode": "grid", "allow_oversubscribe": self.allow_oversubscribe,
                "blocks": [b.to_spec() for b in self.blocks],
                "child_godebug": self.child_godebug}


def machine_cpus() -> int:
    """The CPUs this process may run on (what the Go runtime's NumCPU counts)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parse_ints(option: str, text: str, *, minimum: int = 0) -> tuple[int, ...]:
    """``'48,1024'`` -> ``(48, 1024)``; a one-line error naming the option otherwise."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise GosimError(f"{option}: expected a comma-separated list of integers "
                         f"(e.g. 1,2,4), got {text!r}") from None
    bad = [v for v in values if v < minimum]
    if bad:
        raise GosimError(f"{option}: expected integers >= {minimum}, got {bad[0]}")
    return values


def parse_names(option: str, text: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(","))
    bad = [n for n in names if n not in allowed]
    if bad:
        raise GosimError(f"{option}: expected a comma-separated list of "
                         f"{' / '.join(allowed)}, got {bad[0]!r}")
    if len(set(names)) != len(names):
        raise GosimError(f"{option}: {text!r} names a value twice")
    return names


def default_procs(ncpu: int) -> tuple[int, ...]:
    return tuple(p for p in SHARED_PROCS if p <= ncpu) or (1,)


def check_sizes(option: str, sizes: tuple[int, ...], kind: str) -> None:
    for n in sizes:
        if n < 1:
            raise GosimError(f"{option}: sizes are 1 byte or more, got {n}")
        if kind == "scan" and (n < 24 or n % 8):
            raise GosimError(f"{option}: a scan object (two pointers then padding) is a "
                             f"multiple of 8 bytes, at least 24; got {n}")


def make_grid(*, sizes: tuple[int, ...] = SHARED_SIZES, nogc_sizes: tuple[int, ...] | None = None,
              mix: tuple[int, ...] = (), procs: tuple[int, ...] | None = None,
              modes: tuple[str, ...] = MODES, ballast_mib: tuple[int, ...] = (0, 256),
              kinds: tuple[str, ...] = ("noscan",), gogc: int = 100,
              warm_s: float | None = None, dur_s: float | None = None,
              count_per_g: int | None = None, work_iters: int = 0, g_per_p: int = 1,
              repeats: int = 1, touch: bool = True, allow_oversubscribe: bool = False,
              ncpu: int | None = None, gctrace: bool = False) -> Grid:
    """The grid the command line describes: per mode (gc once per ballast, nogc with
    no ballast) and kind, one block. Windows default to the shared file's
    (0.1 s + 0.6 s without a ballast, 0.2 s + 1 s with one). ``gctrace``: every
    record's process runs with :data:`GCTRACE_GODEBUG`."""
    ncpu = ncpu or machine_cpus()
    procs = procs if procs is not None else default_procs(ncpu)
    nogc_sizes = nogc_sizes if nogc_sizes is not None else sizes
    for opt, vals in (("--sizes", sizes), ("--procs", procs), ("--ballast-mib", ballast_mib),
                      ("--kind", kinds), ("--modes", modes), ("--nogc-sizes", nogc_sizes)):
        if not vals:
            raise GosimError(f"{opt}: expected at least one value")
    if min(procs) < 1:
        raise GosimError(f"--procs: GOMAXPROCS is 1 or more, got {min(procs)}")
    over = [p for p in procs if p > ncpu]
    if over and not allow_oversubscribe:
        raise GosimError(f"--procs: GOMAXPROCS {over[0]} is more than this machine's {ncpu} "
                         "CPUs (pass --allow-oversubscribe to run it anyway)")
    if min(ballast_mib) < 0:
        raise GosimError(f"--ballast-mib: expected 0 or more, got {min(ballast_mib)}")
    checks = ((gogc >= 1, f"--gogc: expected 1 or more, got {gogc}"),
              (warm_s is None or warm_s >= 0, f"--warm-s: expected 0 or more, got {warm_s}"),
              (dur_s is None or dur_s > 0, f"--dur-s: expected more than 0, got {dur_s}"),
              (count_per_g is None or count_per_g >= 1,
               f"--count-per-g: expected 1 or more, got {count_per_g}"),
              (work_iters >= 0, f"--work-iters: expected 0 or more, got {work_iters}"),
              (g_per_p >= 1, f"--g-per-p: expected 1 or more, got {g_per_p}"),
              (repeats >= 1, f"--repeats: expected 1 or more, got {repeats}"))
    for ok, message in checks:
        if not ok:
            raise GosimError(message)
    if mix and kinds != ("noscan",):
        raise GosimError("--mix: a mix is pointer-free; --kind must be noscan")
    blocks = []
    for mode in modes:
        for kind in kinds:
            if mix:
                check_sizes("--mix", mix, kind)
            else:
                check_sizes("--sizes" if mode == "gc" else "--nogc-sizes",
                            sizes if mode == "gc" else nogc_sizes, kind)
            common = dict(kind=kind, procs=procs, mix=mix, g_per_p=g_per_p,
                          touch=touch, work_iters=work_iters, repeats=repeats)
            if mode == "nogc":
                blocks.append(Block(mode="nogc", sizes=nogc_sizes, gogc=-1,
                                    count_per_g=count_per_g or 0, **common))
                continue
            for mib in ballast_mib:
                dw, dd = WINDOW_BALLAST if mib else WINDOW_NO_BALLAST
                blocks.append(Block(mode="gc", sizes=sizes, gogc=gogc, ballast_mib=mib,
                                    warm_s=dw if warm_s is None else warm_s,
                                    dur_s=dd if dur_s is None else dur_s, **common))
    return Grid(blocks=tuple(blocks), allow_oversubscribe=allow_oversubscribe,
                child_godebug=GCTRACE_GODEBUG if gctrace else "")


def build_static(tc: GoToolchain, directory: Path) -> Path:
    """Build the probe for linux/amd64 (static: no cgo) into ``directory``, with
    ``build.json`` beside it (toolchain, source hash, revision, date); return
    the binary. For a machine without Go: it runs ``grid`` and ``scaling``
    specs with nothing else installed."""
    from gosim.runner.manifest import git_revision, utc_now

    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gosim-build-") as tmp:
        src = write_program(Path(tmp) / "src")
        out = Path(tmp) / BINARY_NAME
        proc = subprocess.run(
            [str(tc.go), "build", "-trimpath", "-o", str(out), "."], cwd=src,
            capture_output=True, text=True, check=False, timeout=600,
            env=go_env({"GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "0"}))
        if proc.returncode != 0:
            raise GoBuildError(f"building the probe with {tc.version} for linux/amd64 failed "
                               f"(exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
        binary = directory / BINARY_NAME
        shutil.copy2(out, binary)
    info = {"go": tc.version, "go_binary": str(tc.go), "goos": "linux", "goarch": "amd64",
            "cgo": False, "source_hash": source_hash(), "git": git_revision(),
            "date": utc_now()}
    write_text_atomic(directory / "build.json", json.dumps(info, indent=1) + "\n")
    return binary


@dataclass
class ScalingOutcome:
    records: list[dict[str, Any]]
    out: Path
    provenance: Path
    go: str
    wall_s: float


#: the GODEBUG of ``--gctrace`` (gosim/realgo/gctrace.py)
GCTRACE_GODEBUG = _GCTRACE_GODEBUG
#: how the probe's progress lines on stderr start (one after each record)
PROGRESS_PREFIX = "gosim probe: ["


def run_grid(grid: Grid, binary: Path, *,
             on_progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run ``grid`` with the probe ``binary``; return its records in order.

    The probe prints one record per line on stdout; its stderr (a progress
    line per record) goes to ``on_progress`` line by line. With the grid's
    ``child_godebug`` tracing, the runtime's lines before a record's progress
    line are that record's: they become its ``gctrace`` summary (gc records)
    and are not passed on."""
    with tempfile.TemporaryDirectory(prefix="gosim-scaling-") as tmp:
        spec = Path(tmp) / "grid.json"
        spec.write_text(json.dumps(grid.to_spec()))
        stdout_path = Path(tmp) / "records.jsonl"
        env = go_env()
        env.pop("GOMEMLIMIT", None)
        tail: list[str] = []
        stderr: list[str] = []  # with child tracing: every line, for split_traces
        with stdout_path.open("w") as so:
            try:
                proc = subprocess.Popen([str(binary), str(spec)], stdout=so,
                                        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp)
            except OSError as e:
                raise GoRunError(f"cannot run the probe {binary}: {e.strerror or e}") from None
            assert proc.stderr is not None
            for raw in proc.stderr:
                line = raw.rstrip("\n")
                tail = [*tail[-40:], line]
                if grid.child_godebug:
                    stderr.append(line)
                    at = line.find(PROGRESS_PREFIX)
                    if at < 0:
                        continue  # the runtime's, not passed on
                    line = line[at:]
                if on_progress:
                    on_progress(line)
            rc = proc.wait()
        if rc != 0:
            raise GoRunError(f"the scaling probe failed (exit {rc}):\n" + "\n".join(tail[-20:]))
        lines = stdout_path.read_text().splitlines()
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise GoRunError(f"the scaling probe's record {i + 1} is not JSON ({e})") from None
    if len(records) != grid.records:
        raise GoRunError(f"the scaling probe printed {len(records)} records, "
                         f"expected {grid.records}")
    if grid.child_godebug:
        fold_traces(records, split_traces(stderr))
    return records


def split_traces(lines: list[str]) -> list[list[str]]:
    """The probe's stderr, run with a child GODEBUG, as each record's runtime
    lines: those before its progress line (one list per record, in order).

    The child and the probe share the stream, so a child that ends mid-line
    (the probe stops it once its window is measured) leaves its last partial
    line glued to the progress line: a 16-core run had ``gc 1021 @0.711s 21%:
    0.054+0.23gosim probe: [33/96] ...``. The progress prefix is looked for
    anywhere in a line, and what precedes it is the child's (a fragment no
    parser accepts)."""
    traces: list[list[str]] = []
    cur: list[str] = []
    for line in lines:
        at = line.find(PROGRESS_PREFIX)
        if at >= 0:
            if at > 0:
                cur.append(line[:at])
            traces.append(cur)
            cur = []
        else:
            cur.append(line)
    return traces


def fold_traces(records: list[dict[str, Any]], traces: list[list[str]]) -> None:
    """Give each gc record the ``gctrace`` summary of its runtime lines."""
    from gosim.realgo.gctrace import summarize

    for rec, trace in zip(records, traces, strict=False):
        if rec.get("mode") == "gc":
            summary = summarize(trace, rec.get("gc_cycles"))
            if summary is not None:
                rec["gctrace"] = summary


def fold_trace_file(out: Path, trace: Path) -> int:
    """scripts/device_groundtruth.sh with ``TRACE=1`` keeps the probe's stderr
    beside the records it wrote: fold it into them (each gc record's
    ``gctrace``), rewriting ``out`` atomically; a trace named ``*.gz`` is read
    through gzip. Returns the records given one."""
    try:
        lines = out.read_text().splitlines()
        if trace.suffix == ".gz":  # as the device run brings it back (gzip -9)
            with gzip.open(trace, "rt") as fh:
                stderr = fh.read().splitlines()
        else:
            stderr = trace.read_text().splitlines()
    except (OSError, EOFError) as e:
        name = getattr(e, "filename", None) or trace
        raise GosimError(f"cannot read {name}: {getattr(e, 'strerror', None) or e}") from None
    try:
        records = [json.loads(x) for x in lines]
    except json.JSONDecodeError as e:
        raise GosimError(f"{out}: a line is not JSON ({e})") from None
    traces = split_traces(stderr)
    if len(traces) != len(records):
        raise GosimError(f"{trace} has the lines of {len(traces)} records, {out} holds "
                         f"{len(records)}: not the trace of that run")
    fold_traces(records, traces)
    write_text_atomic(out, "".join(json.dumps(r) + "\n" for r in records))
    return sum("gctrace" in r for r in records)


def _window(b: Block) -> dict[str, Any]:
    """What a block measures over: gc, its warm-up and window; nogc, its count."""
    w: dict[str, Any] = {"mode": b.mode, "ballast_mib": b.ballast_mib}
    if b.mode == "gc":
        return {**w, "warm_s": b.warm_s, "dur_s": b.dur_s}
    return {**w, "count_per_g": b.count_per_g or f"{NOGC_BYTES_PER_G >> 20} MiB / size"}


def provenance_path(out: Path) -> Path:
    return out.with_name(out.name + ".provenance.json")


def run_scaling(grid: Grid, out: Path, *, go_version: str | None = None,
                binary: Path | None = None, command: list[str] | None = None,
                on_progress: Callable[[str], None] | None = None) -> ScalingOutcome:
    """Run ``grid`` (building the probe with the Go toolchain unless ``binary``
    is given) and write ``out`` (one record per line) and its provenance
    sidecar, each atomically, once every record is in."""
    from gosim.realgo.run import machine_info
    from gosim.runner.manifest import git_revision, package_versions, utc_now

    if binary is None:
        tc = find_go(go_version)
        binary = build_probe(tc)
        go = tc.version
    else:
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            raise GosimError(f"--binary {binary}: not an executable file")
        go = ""
    started = utc_now()
    t0 = time.monotonic()
    records = run_grid(grid, binary, on_progress=on_progress)
    wall = time.monotonic() - t0
    go = go or (records[0].get("go", "") if records else "")
    provenance = {
        "file": out.name, "records": len(records), "started": started, "finished": utc_now(),
        "wall_s": round(wall, 3), "command": command if command is not None else sys.argv,
        "machine": machine_info(), "go": go, "probe": str(binary),
        "probe_source_hash": source_hash(), "git": git_revision(),
        "packages": package_versions(), "grid": grid.to_spec(),
        "windows": [_window(b) for b in grid.blocks],
    }
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    write_text_atomic(out, text)
    prov = provenance_path(out)
    write_text_atomic(prov, json.dumps(provenance, indent=1) + "\n")
    return ScalingOutcome(records=records, out=out, provenance=prov, go=go, wall_s=wall)
