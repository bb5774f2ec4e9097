"""Ground-truth records: one measured run of the real runtime per JSONL line.

The format is that of ``experiments/groundtruth/go1.27-16core.jsonl`` (its
README documents every field). :func:`read_records` validates what gosim
simulates or compares and ignores the rest (records carry many more keys:
rusage, runtime/metrics deltas, ...). A bad record is a
:class:`gosim.errors.ConfigError` naming the file, the line, the key and what
was expected.

Lock names: the real mutex profile attributes each contention record to the
runtime function that released the lock a waiter slept on
(``runtime.(*mheap).freeSpan.func1``; runtime/mprof.go, lock_spinbit.go).
:func:`runtime_function` strips the ``runtime.`` package prefix and the
``.funcN`` closure suffix, so ``(*mheap).freeSpan`` is how both the real and
the simulated lock sites are named.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gosim.errors import ConfigError

#: the profiler's bucket for contention it could not attribute to a stack
#: (runtime/mprof.go); never a record's top lock
LOST_CONTENTION = "_LostContendedRuntimeLock"
#: where the GC assist queue's lock (work.assistQueue.lock) is released while
#: others wait: mgcmark.go gcParkAssist (backing out) and gcFlushBgCredit, and
#: proc.go parkunlock_c (goparkunlock, as gcParkAssist parks). parkunlock_c
#: also releases the other locks a goroutine parks under (the background
#: sweeper's, the scavenger's), which park about once per cycle.
ASSIST_QUEUE_SITES = frozenset({"gcParkAssist", "gcFlushBgCredit", "parkunlock_c"})

_RELEASE = re.compile(r"go(\d+)\.(\d+)(?:\.\d+|(?:rc|beta)\d+)?")
_CLOSURE = re.compile(r"(?:\.func\d+(?:\.\d+)*)+$")

Kind = Literal["noscan", "scan"]
Mode = Literal["gc", "nogc"]


def runtime_function(name: str) -> str:
    """A mutex-profile frame as gosim names a lock site:
    ``runtime.(*mheap).freeSpan.func1`` -> ``(*mheap).freeSpan``."""
    name = name.strip()
    if name.startswith("runtime."):
        name = name[len("runtime."):]
    return _CLOSURE.sub("", name)


def top_site(weights: Iterable[tuple[str, float]]) -> tuple[str, float]:
    """The lock site with the most weight (contention share or wait time), after
    merging frames that name the same function (:func:`runtime_function`) and
    skipping :data:`LOST_CONTENTION`: ``(name, its weight)``, or ``("", 0.0)``
    when nothing contended. Ties go to the name that sorts first."""
    merged: dict[str, float] = {}
    for fn, w in weights:
        name = runtime_function(fn)
        if name == LOST_CONTENTION or not name:
            continue
        merged[name] = merged.get(name, 0.0) + float(w)
    best = [(-w, n) for n, w in merged.items() if w > 0]
    if not best:
        return "", 0.0
    w, n = min(best)
    return n, -w


def design_preset(release: str) -> str | None:
    """The design preset that models a Go release (``go1.27.3`` -> ``go1.27``),
    or None when no preset covers it."""
    from gosim.runtime.design import PRESETS

    m = _RELEASE.fullmatch(release)
    if m is None:
        return None
    preset = f"go{m.group(1)}.{m.group(2)}"
    return preset if preset in PRESETS else None


def release_presets() -> list[str]:
    """The design presets named after a Go release, oldest first."""
    from gosim.runtime.design import PRESETS

    out = [p for p in PRESETS if _RELEASE.fullmatch(p)]
    return sorted(out, key=lambda p: tuple(int(x) for x in p[2:].split(".")))


@dataclass(frozen=True)
class Record:
    """What gosim simulates and compares of one measured run."""

    #: 1-based line in the file
    line: int
    tag: str
    #: the release that ran it (``go1.27.3``) and the preset that models it
    go: str
    preset: str
    gomaxprocs: int
    #: goroutines
    g: int
    #: object size in bytes (with ``mix``: their mean)
    size: int
    kind: Kind
    mode: Mode
    #: GOGC (mode ``gc``; None with the GC off)
    gogc: int | None
    #: live heap kept for the whole run, MiB
    ballast_mib: int
    touch: bool
    #: sizes allocated in turn (pointer-free), or None
    mix: tuple[int, ...] | None
    #: work between allocations, ns per allocation (0: a tight loop)
    work_ns_est: float
    allocs_per_s: float
    #: GC cycles in the measured window and its length (mode ``gc``)
    gc_cycles: int | None
    dur_s: float | None
    #: the real run's warm-up before that window, s (mode ``gc``)
    warm_s: float | None
    #: (runtime function, share of the contention), as the profile lists them
    contention: tuple[tuple[str, float], ...]
    #: share of the Ps' time idle (runtime/metrics /cpu/classes/idle over
    #: /cpu/classes/total), or None where the record has no metrics
    idle_share: float | None = None
    #: share of the Ps' time marking (runtime/metrics /cpu/classes/gc/mark/
    #: assist + dedicated + idle over /cpu/classes/total), or None without metrics
    gc_mark_share: float | None = None
    #: the Ps' time asleep on runtime locks: the mutex profile's total delay
    #: (``contention.seconds_est``) over GOMAXPROCS x the window
    #: (``elapsed_ns``), or None where the record lacks either
    lock_sleep_share: float | None = None
    #: the same from the runtime's own per-waiter timing, runtime/metrics
    #: ``/sync/mutex/wait/total:seconds`` (``mutex_wait_s``) over GOMAXPROCS x
    #: the window, or None where the record lacks either: the model's
    #: definition (each waiter from its first sleep until it holds the lock,
    #: its wake-up included), where the profile's estimate is not (see
    #: :func:`_mutex_wait_share`)
    mutex_wait_share: float | None = None
    #: minor page faults per allocation in the window (getrusage ``minflt``
    #: over ``allocs``), or None where the record lacks either
    faults_per_alloc: float | None = None
    #: the kernel's time per minor fault: getrusage system CPU over ``minflt``
    #: in the window, ns (every system call's time is in it too), or None
    sys_ns_per_fault: float | None = None
    #: share of the Ps' time the scavenger took (runtime/metrics
    #: /cpu/classes/scavenge/total over /cpu/classes/total), or None without metrics
    scavenge_share: float | None = None
    #: share of the Ps' time stopped for the collector (runtime/metrics
    #: /cpu/classes/gc/pause: each stop-the-world's wall time x GOMAXPROCS, over
    #: /cpu/classes/total), or None without metrics
    pause_share: float | None = None
    #: the window's mean concurrent mark phase, ms (the record's ``gctrace``
    #: summary, ``gosim realgo-scaling --gctrace``), or None without one
    mark_ms_mean: float | None = None
    #: the pacer's medians over the window's cycles (``gctrace`` with
    #: gcpacertrace, gosim/realgo/gctrace.py): heapLive at the trigger and at
    #: mark termination over the goal, and endCycle's utilization; None
    #: without them
    trigger_goal_ratio: float | None = None
    mark_end_goal_ratio: float | None = None
    pacer_utilization: float | None = None
    #: GC off with pages touched: the voluntary context switches (getrusage
    #: ``nvcsw``) beyond the mutex profile's contentions (``count_total``), per
    #: heap growth (the bytes allocated over mheap.grow's 4 MiB chunk: with the
    #: GC off no memory is reused); threads asleep in the kernel, mostly page
    #: faults waiting for sysMap's write to the memory map. None otherwise
    mmap_sleeps_per_grow: float | None = None

    @property
    def top_lock(self) -> str:
        """The runtime function that released the most contended-for lock ("" if none)."""
        return top_site(self.contention)[0]

    @property
    def top_share(self) -> float:
        """That function's share of all the contention the profile recorded."""
        return top_site(self.contention)[1]

    @property
    def assist_queue_share(self) -> float:
        """The share of the recorded contention released at the GC assist
        queue's sites (:data:`ASSIST_QUEUE_SITES`); a lower bound, as the
        record lists its top sites only."""
        return sum(w for fn, w in self.contention
                   if runtime_function(fn) in ASSIST_QUEUE_SITES)

    @property
    def gc_cycles_per_s(self) -> float | None:
        if self.mode == "nogc":
            return 0.0
        if self.gc_cycles is None or not self.dur_s:
            return None
        return self.gc_cycles / self.dur_s


class _Line:
    """Checks of one record's fields; each failure names file, line and key."""

    def __init__(self, file: str, line: int, obj: dict[str, Any]) -> None:
        self.file, self.line, self.obj = file, line, obj

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=self.line, key=key)

    def _get(self, key: str) -> Any:
        if key not in self.obj:
            raise self.fail(key, "missing required key")
        return self.obj[key]

    def int(self, key: str, *, minimum: int) -> int:
        v = self._get(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(key, f"expected an integer, got {json.dumps(v)}")
        if v < minimum:
            raise self.fail(key, f"expected an integer >= {minimum}, got {v}")
        return v

    def opt_int(self, key: str, *, minimum: int) -> int | None:
        """An optional key: None when absent."""
        return self.int(key, minimum=minimum) if key in self.obj else None

    def number(self, key: str, *, positive: bool = False) -> float:
        return self.check_number(key, self._get(key), positive=positive)

    def opt_number(self, key: str) -> float | None:
        """An optional key: None when absent."""
        return self.number(key) if key in self.obj else None

    def check_number(self, key: str, v: Any, *, positive: bool = False) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.fail(key, f"expected a number, got {json.dumps(v)}")
        if positive and v <= 0:
            raise self.fail(key, f"expected a number > 0, got {v}")
        if v < 0:
            raise self.fail(key, f"expected a number >= 0, got {v}")
        return float(v)

    def str_of(self, key: str, allowed: tuple[str, ...] | None = None) -> str:
        v = self._get(key)
        if not isinstance(v, str):
            raise self.fail(key, f"expected a string, got {json.dumps(v)}")
        if allowed is not None and v not in allowed:
            raise self.fail(key, f"expected one of {', '.join(allowed)}, got {json.dumps(v)}")
        return v

    def bool(self, key: str) -> bool:
        v = self._get(key)
        if not isinstance(v, bool):
            raise self.fail(key, f"expected true or false, got {json.dumps(v)}")
        return v


def parse_record(obj: Any, *, file: str, line: int) -> Record:
    """Validate one decoded JSON value as a record."""
    if not isinstance(obj, dict):
        raise ConfigError(f"expected a JSON object (a record), got {type(obj).__name__}",
                          file=file, line=line)
    c = _Line(file, line, obj)
    go = c.str_of("go")
    preset = design_preset(go)
    if preset is None:
        presets = release_presets()
        raise c.fail("go", f"expected a Go release that a design preset models "
                           f"({', '.join(presets)}; e.g. \"go1.27.3\" -> go1.27), got "
                           f"{json.dumps(go)}")
    mode: Mode = "gc" if c.str_of("mode", ("gc", "nogc")) == "gc" else "nogc"
    gogc = c.int("gogc", minimum=1) if mode == "gc" else None
    mix_raw = obj.get("mix")
    mix: tuple[int, ...] | None = None
    if mix_raw is not None:
        if (not isinstance(mix_raw, list) or not mix_raw
                or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in mix_raw)):
            raise c.fail("mix", f"expected a non-empty list of sizes (integers >= 1), got "
                                f"{json.dumps(mix_raw)}")
        mix = tuple(mix_raw)
    contention = obj.get("contention")
    if not isinstance(contention, dict):
        if "contention" not in obj:
            raise c.fail("contention", "missing required key")
        raise c.fail("contention", f"expected an object with a 'top' list, got "
                                   f"{json.dumps(contention)}")
    top = contention.get("top")
    if not isinstance(top, list):
        raise c.fail("contention.top", f"expected a list of {{fn, share}} objects, got "
                                       f"{json.dumps(top)}")
    entries: list[tuple[str, float]] = []
    for i, e in enumerate(top):
        key = f"contention.top[{i}]"
        if not isinstance(e, dict):
            raise c.fail(key, f"expected an object with 'fn' and 'share', got {json.dumps(e)}")
        fn = e.get("fn")
        if not isinstance(fn, str) or not fn:
            raise c.fail(f"{key}.fn", f"expected a function name, got {json.dumps(fn)}")
        if "share" not in e:
            raise c.fail(f"{key}.share", "missing required key")
        entries.append((fn, c.check_number(f"{key}.share", e["share"])))
    tag = obj.get("tag")
    return Record(
        line=line, tag=tag if isinstance(tag, str) and tag else f"line{line}",
        go=go, preset=preset,
        gomaxprocs=c.int("gomaxprocs", minimum=1),
        g=c.int("g", minimum=1),
        size=c.int("size", minimum=1),
        kind="scan" if c.str_of("kind", ("noscan", "scan")) == "scan" else "noscan",
        mode=mode,
        gogc=gogc,
        ballast_mib=c.opt_int("ballast_mib", minimum=0) or 0,
        touch=c.bool("touch"),
        mix=mix,
        work_ns_est=c.opt_number("work_ns_est") or 0.0,
        allocs_per_s=c.number("allocs_per_s", positive=True),
        gc_cycles=c.opt_int("gc_cycles", minimum=0),
        dur_s=c.opt_number("dur_s"),
        warm_s=c.opt_number("warm_s"),
        contention=tuple(entries),
        idle_share=_idle_share(c, obj.get("metrics")),
        gc_mark_share=_mark_share(c, obj.get("metrics")),
        lock_sleep_share=_lock_sleep_share(c, contention, obj.get("elapsed_ns"),
                                           c.int("gomaxprocs", minimum=1)),
        mutex_wait_share=_mutex_wait_share(c, obj, c.int("gomaxprocs", minimum=1)),
        faults_per_alloc=_faults_per_alloc(c, obj),
        sys_ns_per_fault=_sys_ns_per_fault(c, obj),
        scavenge_share=_scavenge_share(c, obj.get("metrics")),
        pause_share=_pause_share(c, obj.get("metrics")),
        mark_ms_mean=_mark_ms_mean(c, obj.get("gctrace")),
        trigger_goal_ratio=_pacer(c, obj.get("gctrace"), "trigger_goal_ratio_p50"),
        mark_end_goal_ratio=_pacer(c, obj.get("gctrace"), "mark_end_goal_ratio_p50"),
        pacer_utilization=_pacer(c, obj.get("gctrace"), "pacer_utilization_p50"),
        mmap_sleeps_per_grow=_mmap_sleeps_per_grow(c, obj, mode, contention),
    )


def _pacer(c: _Line, gctrace: Any, key: str) -> float | None:
    """One of the pacer's medians from the record's ``gctrace`` summary (records
    traced without gcpacertrace have none)."""
    if not isinstance(gctrace, dict) or key not in gctrace:
        return None
    return c.check_number(f"gctrace.{key}", gctrace[key])


def _mark_ms_mean(c: _Line, gctrace: Any) -> float | None:
    """The record's mean mark phase in ms from its optional ``gctrace`` summary."""
    if gctrace is None:
        return None
    if not isinstance(gctrace, dict) or "mark_ms_mean" not in gctrace:
        raise c.fail("gctrace", "expected an object with 'mark_ms_mean' "
                     f"(gosim realgo-scaling --gctrace), got {json.dumps(gctrace)[:80]}")
    return c.check_number("gctrace.mark_ms_mean", gctrace["mark_ms_mean"])


def _faults_per_alloc(c: _Line, obj: dict[str, Any]) -> float | None:
    """Minor page faults per allocation over the record's window (its getrusage
    ``minflt`` delta over ``allocs``; every fault of the process: heap pages,
    GC bitmaps, stacks). None when either is absent or no allocation was counted."""
    if "minflt" not in obj or "allocs" not in obj:
        return None
    faults = c.check_number("minflt", obj["minflt"])
    allocs = c.check_number("allocs", obj["allocs"])
    return faults / allocs if allocs > 0 else None


#: mheap.go grow: the heap grows in whole page-allocator chunks (512 pages of 8 KiB)
GROW_CHUNK_BYTES = 4 << 20


def _mmap_sleeps_per_grow(c: _Line, obj: dict[str, Any], mode: str,
                          contention: dict[str, Any]) -> float | None:
    """GC off: voluntary context switches beyond the mutex profile's
    contentions, per 4 MiB heap growth (the allocated bytes over
    :data:`GROW_CHUNK_BYTES`); None with the GC on (memory is reused), or
    without ``nvcsw``, ``allocs`` or the profile's ``count_total``."""
    if mode != "nogc" or "nvcsw" not in obj or "allocs" not in obj:
        return None
    if "count_total" not in contention:
        return None
    count = c.check_number("contention.count_total", contention["count_total"])
    nvcsw = c.check_number("nvcsw", obj["nvcsw"])
    grows = c.check_number("allocs", obj["allocs"]) * c.int("size", minimum=1) / GROW_CHUNK_BYTES
    return (nvcsw - count) / grows if grows > 0 else None


def _sys_ns_per_fault(c: _Line, obj: dict[str, Any]) -> float | None:
    """System CPU per minor fault over the record's window (getrusage
    ``rusage_sys_s`` over ``minflt``), ns; None when either is absent or the
    window had no fault. With the GC off nearly all of it is the faults'."""
    if "minflt" not in obj or "rusage_sys_s" not in obj:
        return None
    faults = c.check_number("minflt", obj["minflt"])
    sys_s = c.check_number("rusage_sys_s", obj["rusage_sys_s"])
    return sys_s * 1e9 / faults if faults > 0 else None


def _scavenge_share(c: _Line, metrics: Any) -> float | None:
    """The scavenger's CPU class over the total (runtime/metrics deltas), or None."""
    if not isinstance(metrics, dict) or SCAVENGE_KEY not in metrics or TOTAL_KEY not in metrics:
        return None
    scav = c.check_number(f"metrics.{SCAVENGE_KEY}", metrics[SCAVENGE_KEY])
    total = c.check_number(f"metrics.{TOTAL_KEY}", metrics[TOTAL_KEY])
    return scav / total if total > 0 else None


def _pause_share(c: _Line, metrics: Any) -> float | None:
    """The collector's stop-the-world CPU class over the total (runtime/metrics
    deltas), or None."""
    if not isinstance(metrics, dict) or PAUSE_KEY not in metrics or TOTAL_KEY not in metrics:
        return None
    pause = c.check_number(f"metrics.{PAUSE_KEY}", metrics[PAUSE_KEY])
    total = c.check_number(f"metrics.{TOTAL_KEY}", metrics[TOTAL_KEY])
    return pause / total if total > 0 else None


def _lock_sleep_share(c: _Line, contention: dict[str, Any], elapsed_ns: Any,
                      gomaxprocs: int) -> float | None:
    """The mutex profile's delay over the Ps' time in the window: how much of
    it Ms spent asleep waiting for runtime locks. lock_spinbit.go records, at
    each unlock that wakes a sleeper, the sleeping Ms' wait since the last
    record (spinning is not recorded), so ``seconds_est`` (cycles over the
    TSC rate) is the Ms' total sleep. None when the record has no
    ``seconds_est`` or no ``elapsed_ns``."""
    if "seconds_est" not in contention or elapsed_ns is None:
        return None
    sleep = c.check_number("contention.seconds_est", contention["seconds_est"])
    elapsed = c.check_number("elapsed_ns", elapsed_ns, positive=True)
    return sleep / (gomaxprocs * elapsed * 1e-9)


def _mutex_wait_share(c: _Line, obj: dict[str, Any], gomaxprocs: int) -> float | None:
    """``mutex_wait_s`` (runtime/metrics /sync/mutex/wait/total:seconds) over
    the Ps' time in the window. For a runtime lock, lock2 (lock_spinbit.go)
    times one waiter in gTrackingPeriod (8) from its first sleep until it
    holds the lock and adds 8 times that (mprof.go mLockProfile.end): an
    unbiased estimate of the Ms' whole wait after they first slept, the
    wake-up latencies included, which is how the model counts a lock site's
    wait. The mutex profile (``seconds_est``, :func:`_lock_sleep_share`) is
    an estimate built at unlocks instead (unlock2Wake: the head and tail
    sleepers' mean wait times their number, resetting only those two), which
    leaves out the time from a wake-up to the acquisition: on the 16-core
    file's GC-on records without a live heap it is a fifth to a quarter of
    this metric at 4 Ps and 1.5-1.7 times it at 16.
    The metric counts sync.Mutex waits too, which the probe's loop has none
    of. None without ``mutex_wait_s`` or ``elapsed_ns``."""
    if obj.get("mutex_wait_s") is None or obj.get("elapsed_ns") is None:
        return None
    wait = c.check_number("mutex_wait_s", obj["mutex_wait_s"])
    elapsed = c.check_number("elapsed_ns", obj["elapsed_ns"], positive=True)
    return wait / (gomaxprocs * elapsed * 1e-9)


IDLE_KEY = "/cpu/classes/idle:cpu-seconds"
TOTAL_KEY = "/cpu/classes/total:cpu-seconds"
SCAVENGE_KEY = "/cpu/classes/scavenge/total:cpu-seconds"
PAUSE_KEY = "/cpu/classes/gc/pause:cpu-seconds"


def _idle_share(c: _Line, metrics: Any) -> float | None:
    """The idle CPU class over the total, from a record's runtime/metrics
    deltas (optional: None when either is absent)."""
    if not isinstance(metrics, dict) or IDLE_KEY not in metrics or TOTAL_KEY not in metrics:
        return None
    idle = c.check_number(f"metrics.{IDLE_KEY}", metrics[IDLE_KEY])
    total = c.check_number(f"metrics.{TOTAL_KEY}", metrics[TOTAL_KEY])
    return idle / total if total > 0 else None


MARK_KEYS = ("/cpu/classes/gc/mark/assist:cpu-seconds",
             "/cpu/classes/gc/mark/dedicated:cpu-seconds",
             "/cpu/classes/gc/mark/idle:cpu-seconds")


def _mark_share(c: _Line, metrics: Any) -> float | None:
    """The GC mark CPU classes (assist, dedicated, idle) over the total, from a
    record's runtime/metrics deltas (None when any is absent)."""
    if not isinstance(metrics, dict) or TOTAL_KEY not in metrics or any(
            k not in metrics for k in MARK_KEYS):
        return None
    mark = sum(c.check_number(f"metrics.{k}", metrics[k]) for k in MARK_KEYS)
    total = c.check_number(f"metrics.{TOTAL_KEY}", metrics[TOTAL_KEY])
    return mark / total if total > 0 else None


def read_records(path: Path) -> list[Record]:
    """Every record of a ground-truth JSONL file, in file order (blank lines
    skipped). Raises :class:`ConfigError` on the first bad line."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text ({e.reason} at byte {e.start})", file=file) from None
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror or e}", file=file) from None
    out: list[Record] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ConfigError(f"not valid JSON: {e.msg} (column {e.colno})", file=file,
                              line=n) from None
        out.append(parse_record(obj, file=file, line=n))
    if not out:
        raise ConfigError("no records (expected one JSON object per line)", file=file)
    return out


#: the record fields ``--only`` selects on, and how a value is read
_FILTER_KEYS: dict[str, str] = {
    "go": "a release (go1.27.3) or the preset modelling it (go1.27)",
    "mode": "gc or nogc", "kind": "noscan or scan", "size": "bytes",
    "ballast_mib": "MiB", "gomaxprocs": "Ps", "gogc": "a percentage", "touch": "true or false",
}


def parse_record_filter(text: str) -> dict[str, str]:
    """``--only KEY=VALUE[,KEY=VALUE...]``: the records whose fields have all
    those values (a key at most once)."""
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ConfigError(f"expected KEY=VALUE[,KEY=VALUE...], got {text!r}", key="--only")
        if key not in _FILTER_KEYS:
            raise ConfigError(f"unknown key {key!r}; expected one of "
                              f"{', '.join(_FILTER_KEYS)}", key="--only")
        if key in out:
            raise ConfigError(f"{key} is given twice in {text!r}", key="--only")
        whole = value.isascii() and value.isdigit()
        if key in ("size", "ballast_mib", "gomaxprocs", "gogc") and not whole:
            raise ConfigError(f"{key}: expected a whole number ({_FILTER_KEYS[key]}), got "
                              f"{value!r}", key="--only")
        if key in ("mode", "kind", "touch") and value not in _FILTER_KEYS[key].split(" or "):
            raise ConfigError(f"{key}: expected {_FILTER_KEYS[key]}, got {value!r}",
                              key="--only")
        out[key] = value
    return out


def _matches(r: Record, f: dict[str, str]) -> bool:
    for key, value in f.items():
        if key == "go":
            if value not in (r.go, r.preset):
                return False
        elif key == "touch":
            if r.touch != (value == "true"):
                return False
        elif key in ("mode", "kind"):
            if getattr(r, key) != value:
                return False
        elif getattr(r, key) != int(value):
            return False
    return True


def select_records(records: list[Record], filters: list[dict[str, str]]) -> list[Record]:
    """The records any of the filters matches (all of them with no filter), in file order."""
    if not filters:
        return records
    return [r for r in records if any(_matches(r, f) for f in filters)]
