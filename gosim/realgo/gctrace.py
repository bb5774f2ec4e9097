"""The Go runtime's per-cycle trace (GODEBUG=gctrace=1,scavtrace=1,gcpacertrace=1),
summarised.

``gosim realgo-scaling --gctrace`` runs every record's process with that
GODEBUG (:data:`GCTRACE_GODEBUG`); the runtime prints one line per GC cycle
(mgc.go gcMarkTermination), one per scavenger report (mgcscavenge.go
printScavTrace) and the pacer's lines (mgcpacer.go; the end-of-cycle one is
read by gosim/realgo/pacer.py) on stderr, and :func:`summarize` turns a
record's lines into the ``gctrace`` object the record carries (the format is
documented in experiments/groundtruth/README.md):

    gc 134 @0.203s 10%: 0.090+20+0.076 ms clock, 0.18+0.017/0.14/0+0.15 ms cpu,
        11->86->76 MB, 13 MB goal, 0 MB stacks, 0 MB globals, 2 P
    scav 64 KiB work (bg), 0 KiB work (eager), 3248 KiB now, 52% util

The clock triple is sweep termination (stopped), the concurrent mark phase,
and mark termination (stopped); the heap triple is the heap at the cycle's
start, at mark termination, and marked live (MB, truncated). The window's
cycles are the last ``gc_cycles`` of the process (the record's count): the
window ends just before the process prints its record and exits.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from gosim.realgo.pacer import cycle_medians
from gosim.realgo.pacer import parse as parse_pacer

#: the GODEBUG of ``--gctrace``: the runtime's line per GC cycle, per scavenger
#: report, and the pacer's
GCTRACE_GODEBUG = "gctrace=1,scavtrace=1,gcpacertrace=1"

_GC = re.compile(
    r"^gc (\d+) @([\d.]+)s \d+%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock, .*? "
    r"(\d+)->(\d+)->(\d+) MB, (\d+) MB goal")
_SCAV = re.compile(r"^scav (\d+) KiB work \(bg\), (\d+) KiB work \(eager\), (\d+) KiB now")


def parse(lines: list[str]) -> tuple[list[dict[str, float]], list[dict[str, int]]]:
    """The ``gc`` and ``scav`` lines among ``lines`` (others are skipped), in order."""
    gcs: list[dict[str, float]] = []
    scavs: list[dict[str, int]] = []
    for line in lines:
        m = _GC.match(line)
        if m:
            gcs.append({"n": int(m[1]), "at_s": float(m[2]), "stw_sweep_ms": float(m[3]),
                        "mark_ms": float(m[4]), "stw_mark_ms": float(m[5]),
                        "heap_start_mb": int(m[6]), "heap_end_mb": int(m[7]),
                        "marked_mb": int(m[8]), "goal_mb": int(m[9])})
            continue
        m = _SCAV.match(line)
        if m:
            scavs.append({"bg_kib": int(m[1]), "eager_kib": int(m[2]), "now_kib": int(m[3])})
    return gcs, scavs


def summarize(lines: list[str], window_cycles: int | None) -> dict[str, Any] | None:
    """The record's ``gctrace`` object from its process's stderr lines: over the
    last ``window_cycles`` cycles (all of them when None or more than there are),
    the concurrent mark phase's wall time (mean, median, 99th percentile, max,
    ms), the heap at mark termination and marked live (mean and max, MB), the
    largest heap goal, the scavenger's background releases per cycle (KiB) and
    the heap released at the end (KiB); with the pacer's lines (gcpacertrace),
    the medians over those cycles of heapLive at the trigger and at mark
    termination over the goal, the bytes allocated while marking (MB), the
    pacer's utilization and its cons/mark. None when the lines hold no cycle."""
    gcs, scavs = parse(lines)
    if not gcs:
        return None
    n = len(gcs) if not window_cycles or window_cycles > len(gcs) else window_cycles
    w = gcs[-n:]
    mark = np.array([c["mark_ms"] for c in w])
    end = np.array([c["heap_end_mb"] for c in w], dtype=float)
    marked = np.array([c["marked_mb"] for c in w], dtype=float)
    out: dict[str, Any] = {
        "cycles": n,
        "mark_ms_mean": round(float(mark.mean()), 4),
        "mark_ms_p50": round(float(np.percentile(mark, 50)), 4),
        "mark_ms_p99": round(float(np.percentile(mark, 99)), 4),
        "mark_ms_max": round(float(mark.max()), 4),
        "heap_end_mb_mean": round(float(end.mean()), 3),
        "heap_end_mb_max": int(end.max()),
        "marked_mb_mean": round(float(marked.mean()), 3),
        "marked_mb_max": int(marked.max()),
        "goal_mb_max": max(c["goal_mb"] for c in w),
    }
    pacer = parse_pacer(lines)
    pw = [c for c in pacer[-min(n, len(pacer)):] if c["goal"] > 0] if pacer else []
    med = cycle_medians(pw)
    if med is not None:
        out["pacer_cycles"] = len(pw)
        out["trigger_goal_ratio_p50"] = round(med["gc_trigger_goal_ratio"], 4)
        out["mark_end_goal_ratio_p50"] = round(med["gc_mark_end_goal_ratio"], 4)
        out["marking_mb_p50"] = round(med["gc_marking_bytes"] / (1 << 20), 3)
        out["pacer_utilization_p50"] = round(med["gc_pacer_utilization"], 3)
        out["cons_mark_p50"] = round(med["cons_mark"], 4)
    if scavs:
        s = scavs[-min(n, len(scavs)):]
        out["scav_bg_kib_per_cycle"] = round(sum(x["bg_kib"] for x in s) / len(s), 1)
        out["released_kib_end"] = scavs[-1]["now_kib"]
    return out


__all__ = ["GCTRACE_GODEBUG", "parse", "summarize"]
