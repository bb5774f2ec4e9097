"""``gosim realgo``: one experiment config on the real runtime and on the model.

For every run of the experiment (its sweep expanded): draw the workload,
run it as a Go program, run the simulator on the same scenario with the
design preset that models the Go release used, compare, and write
``<out>/<name>-realgo/``:

- ``comparison.parquet`` / ``comparison.json``: one row per (run, metric):
  real, model, relative error, the check (exact, bound with its range, or
  approx; :mod:`gosim.realgo.compare`) and whether the model passes it;
- ``runs.parquet``: one row per (run, source = real | model), metrics flattened;
- ``real.json``, ``model.json``: everything each side reported (the real side
  includes the raw MemStats and runtime/metrics at baseline and after);
- ``program/``: the Go program and each run's spec and streams
  (``cd program/run-0 && GOGC=off GOMAXPROCS=N go run .. spec.json`` reruns run 0);
- ``manifest.json``: Go version and binary, preset, GC setting, machine,
  package versions, git revision, wall time.

The directory is written atomically (complete or not at all).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gosim.errors import GosimError
from gosim.realgo.compare import Placement, Row, checks_for, compare
from gosim.realgo.measure import RealRun, run_workload
from gosim.realgo.model import simulate_scenario
from gosim.realgo.program import write_program
from gosim.realgo.toolchain import GoToolchain, find_go
from gosim.realgo.workload import build
from gosim.runtime.design import PRESETS


@dataclass
class RunComparison:
    run_id: int
    label: str
    seed: int
    real: RealRun
    model: dict[str, Any]
    model_by_size: list[dict[str, Any]]
    rows: list[Row]


@dataclass
class RealgoOutcome:
    name: str
    toolchain: GoToolchain
    preset: str
    gc: bool
    runs: list[RunComparison] = field(default_factory=list)
    results_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def preset_for(tc: GoToolchain) -> str:
    preset = tc.preset
    if preset not in PRESETS:
        models = sorted(p for p in PRESETS if p in ("go1.25", "go1.27"))
        raise GosimError(
            f"no design preset models {tc.version} ({tc.go}); gosim compares against "
            f"{', '.join('Go ' + p[2:] for p in models)}: pass --go-version 1.27 or 1.25")
    return preset


def run_realgo(config: Path, *, go_version: str | None = None, out: Path = Path("results"),
               gc: bool = False, repeat: int = 1, run_ids: list[int] | None = None,
               on_run: Callable[[RunComparison], None] | None = None) -> RealgoOutcome:
    """Measure every run of ``config`` on the real runtime and the model."""
    from gosim.config import load_experiment

    t0 = time.monotonic()
    exp = load_experiment(config)  # ConfigError -> exit 2, nothing written
    specs = exp.runs
    if run_ids is not None:
        bad = [i for i in run_ids if not 0 <= i < len(specs)]
        if bad:
            raise GosimError(f"--run {bad[0]}: the experiment has runs 0..{len(specs) - 1}")
        specs = [specs[i] for i in run_ids]
    # check every scenario can be reproduced before anything runs
    workloads = [build(s.scenario, gc=gc) for s in specs]
    tc = find_go(go_version)
    preset = preset_for(tc)
    outcome = RealgoOutcome(name=exp.name, toolchain=tc, preset=preset, gc=gc)
    if any(s.scenario.design.preset != preset for s in specs):
        outcome.notes.append(f"the model runs with design preset {preset} (matching "
                             f"{tc.version}) instead of the config's")
    if gc:
        outcome.notes.append("GC on: num_gc and the heap goal are checked within 10%, "
                             "heap_sys within 20%, the pacer's trigger and mark end over "
                             "the goal within 5% and the bytes allocated while marking "
                             "within 20% (medians of the cycles after the first); the rest "
                             "is approx")
    if repeat < 1:
        raise GosimError(f"--repeat: expected 1 or more, got {repeat}")

    results_dir = out / f"{exp.name}-realgo"
    from gosim.atomic_write import atomic_dir

    with atomic_dir(results_dir) as tmp:
        prog = write_program(tmp / "program")
        for spec, w in zip(specs, workloads, strict=True):
            wd = prog / f"run-{spec.run_id}"
            real = run_workload(w, tc=tc, repeat=repeat, workdir=wd)
            model, model_by_size = simulate_scenario(w, preset, gc)
            placement = Placement(
                gomaxprocs=w.gomaxprocs, goroutine_ps=tuple(real.metrics["goroutine_ps"]),
                harness_p=real.metrics.get("harness_p"),
                model_preempted=(len(w.goroutines) > 1 or w.gomaxprocs > 1)
                and model["sim_time_ns"] > w.scenario.time_slice_ns)
            rc = RunComparison(
                run_id=spec.run_id, label=spec.label(), seed=spec.seed, real=real, model=model,
                model_by_size=model_by_size,
                rows=compare(real.metrics, real.by_size, model, model_by_size,
                             checks_for(placement, gc=gc)))
            outcome.runs.append(rc)
            if on_run:
                on_run(rc)
        outcome.wall_s = time.monotonic() - t0
        _write(tmp, exp, outcome)
    outcome.results_dir = results_dir
    return outcome


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine(),
                            "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def _write(d: Path, exp: Any, o: RealgoOutcome) -> None:
    import pandas as pd

    from gosim.runner.manifest import git_revision, package_versions, utc_now

    comp = []
    runs = []
    for rc in o.runs:
        for r in rc.rows:
            comp.append({"run_id": rc.run_id, "setting": rc.label, "seed": rc.seed, **r.to_dict()})
        scal = {k: v for k, v in rc.real.metrics.items() if isinstance(v, int | float)}
        runs.append({"run_id": rc.run_id, "setting": rc.label, "seed": rc.seed,
                     "source": "real", "go_version": rc.real.go_version, **scal})
        mscal = {k: v for k, v in rc.model.items() if isinstance(v, int | float)
                 and not isinstance(v, bool)}
        runs.append({"run_id": rc.run_id, "setting": rc.label, "seed": rc.seed,
                     "source": "model", "design": o.preset, **mscal})
    pd.DataFrame(comp).to_parquet(d / "comparison.parquet", index=False)
    pd.DataFrame(runs).to_parquet(d / "runs.parquet", index=False)
    (d / "comparison.json").write_text(json.dumps(comp, indent=1))
    (d / "real.json").write_text(json.dumps(
        [{"run_id": rc.run_id, **rc.real.to_dict()} for rc in o.runs]))
    (d / "model.json").write_text(json.dumps(
        [{"run_id": rc.run_id, "metrics": rc.model,
          "by_size": rc.model_by_size} for rc in o.runs], default=str))
    manifest = {
        "experiment": exp.name, "config": exp.path, "scenario": exp.as_dict(),
        "go_version": o.toolchain.version, "go_binary": str(o.toolchain.go),
        "design_preset": o.preset, "gc": o.gc, "runs": [rc.run_id for rc in o.runs],
        "machine": machine_info(), "packages": package_versions(), "git": git_revision(),
        "date": utc_now(), "wall_s": round(o.wall_s, 3), "notes": o.notes,
    }
    (d / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))

