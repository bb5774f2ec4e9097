"""The experiment runner (see the package docstring)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gosim.config import Experiment, RunSpec, expand, replication_seeds
from gosim.errors import ConfigError, GosimError
from gosim.runner.cache import RunCache, model_fingerprint
from gosim.runner.execute import SimulateFn
from gosim.runner.manifest import git_revision, package_versions, utc_now
from gosim.runner.outpool import output_pool
from gosim.runner.writer import build_tables, setting_columns, write_json, write_tables

EXECUTORS = ("local", "dask")


@dataclass
class ExperimentOutcome:
    """What ``run_experiment`` did and where it put it."""

    experiment: Experiment
    results_dir: Path
    #: (spec, outcome) in run_id order; outcome as ``execute_run`` returns it
    records: list[tuple[RunSpec, dict[str, Any]]]
    tables: dict[str, pd.DataFrame]
    n_cached: int
    n_ran: int
    wall_s: float
    plots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: runs in the sweep (more than ``len(records)`` after an interrupt)
    n_total: int = 0

    @property
    def failed(self) -> list[tuple[RunSpec, dict[str, Any]]]:
        return [(s, o) for s, o in self.records if not o.get("ok")]

    @property
    def n_failed(self) -> int:
        return len(self.failed)


class RunInterrupted(GosimError):
    """Ctrl-C during a sweep: the completed runs are cached and in the tables."""

    exit_code = 130
    label = "interrupted"

    def __init__(self, outcome: ExperimentOutcome) -> None:
        self.outcome = outcome
        o = outcome
        super().__init__(
            f"{len(o.records)} of {o.n_total} runs completed ({o.n_cached} cached before, "
            f"{o.n_ran} this time) and kept in {o.results_dir} (tables, summary and "
            f"manifest written, plots not drawn); run the same command again to run the "
            f"other {o.n_total - len(o.records)}")


class ResultsDirError(GosimError):
    """The results directory cannot be written (a file in the way, no permission, /proc)."""


def check_results_dir(results_dir: Path) -> None:
    """Fail, writing nothing, unless ``results_dir`` exists as a writable directory
    or can be created: probe the nearest existing ancestor with a directory that
    is removed at once."""
    existing = results_dir
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ResultsDirError(f"cannot write results to {results_dir}: {existing} is not a "
                              "directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".gosim-probe-", dir=existing))
    except OSError as e:
        raise ResultsDirError(f"cannot write results to {results_dir}: cannot create a "
                              f"directory in {existing} ({e.strerror or e})") from None


def default_jobs() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _estimated_cost(spec: RunSpec) -> float:
    """Rough run cost for longest-first scheduling (does not affect results)."""
    from gosim.runner.estimate import work

    return work(spec.scenario)[1]


def run_experiment(
    exp: Experiment,
    out_dir: str | Path = "results",
    jobs: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    progress: bool = True,
    plots: bool | None = None,
    simulate_fn: SimulateFn | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ExperimentOutcome:
    """Run every run of ``exp`` not already cached and write ``out_dir/<name>/``.

    ``plots=None`` follows the experiment's ``outputs.plots``; ``False`` skips
    plots. ``simulate_fn`` replaces ``gosim.sim.simulate`` (tests, what-ifs);
    it must be importable by worker processes for ``jobs > 1`` or Dask.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; expected one of {list(EXECUTORS)}")
    if jobs is None or jobs < 1:
        jobs = default_jobs()
    t0 = time.perf_counter()
    specs = expand(exp)
    results_dir = Path(out_dir) / exp.name
    # created lazily by the first cache entry or table: an executor that
    # cannot start (e.g. an unreachable scheduler) leaves nothing behind
    check_results_dir(results_dir)
    fingerprint = model_fingerprint(simulate_fn)
    cache = RunCache(results_dir, fingerprint)

    outcomes: dict[str, dict[str, Any]] = {}
    cached: set[str] = set()
    scenarios: dict[str, dict[str, Any]] = {}
    for s in specs:
        if s.config_hash in scenarios:
            continue  # the same scenario twice in a sweep runs once
        scenarios[s.config_hash] = s.scenario.model_dump(mode="json")
        hit = cache.get(s.config_hash)
        if hit is not None:
            outcomes[s.config_hash] = hit
            cached.add(s.config_hash)
    first = {}
    for s in specs:
        first.setdefault(s.config_hash, s)
    pending = sorted((h for h in scenarios if h not in outcomes),
                     key=lambda h: (-_estimated_cost(first[h]), first[h].run_id))
    tasks = [(h, scenarios[h]) for h in pending]

    interrupted = False
    try:
        with _Progress(progress, total=len(scenarios), done=len(cached),
                       label=exp.name) as bar:
            def on_done(h: str, out: dict[str, Any]) -> None:
                cache.put(h, scenarios[h], out)  # atomic: a completed run survives Ctrl-C
                outcomes[h] = out
                bar.advance(ok=bool(out.get("ok")))
                if on_progress is not None:
                    on_progress(len(outcomes), len(scenarios))

            if tasks:
                if executor == "dask":
                    from gosim.runner.dask_executor import run_dask

                    run_dask(tasks, jobs, on_done, simulate_fn, scheduler,
                             key_prefix=f"gosim-{fingerprint}")
                else:
                    from gosim.runner.local import run_local

                    run_local(tasks, jobs, on_done, simulate_fn)
    except KeyboardInterrupt:
        # the executor has abandoned the runs in flight; keep what completed
        interrupted = True

    done_specs = [s for s in specs if s.config_hash in outcomes]
    records = [(s, outcomes[s.config_hash]) for s in done_specs]
    meta = experiment_meta(exp)
    which = exp.outputs.plot_names() if plots is not False and not interrupted else []
    # the plots are drawn in a pool of their own, if there are jobs to spare,
    # handed out as soon as the tables are built; this process meanwhile
    # writes the tables and the GraphML files, and imports no plotting library
    # (gosim.analysis.plotjobs)
    from gosim.analysis.plotjobs import start_plots

    with output_pool(min(jobs, default_jobs()), len(which)) as pool:
        tables = build_tables(exp, records)
        if not exp.outputs.timeseries:  # neither written (write_tables) nor drawn
            tables["timeseries"] = tables["timeseries"].iloc[0:0]
        with start_plots(tables, meta, results_dir / "plots", which, pool=pool) as plots:
            written = write_tables(results_dir, tables, timeseries=exp.outputs.timeseries)
            n_cached = sum(1 for s in done_specs if s.config_hash in cached)
            outcome = ExperimentOutcome(experiment=exp, results_dir=results_dir,
                                        records=records, tables=tables, n_cached=n_cached,
                                        n_ran=len(done_specs) - n_cached, wall_s=0.0,
                                        n_total=len(specs))
            plot_paths, notes = plots.finish()

    from gosim.analysis.report import write_report
    from gosim.analysis.summary import write_summary

    outcome.plots, outcome.notes = plot_paths, notes
    outcome.wall_s = time.perf_counter() - t0
    meta.update(counts(outcome))
    write_summary(results_dir / "summary.md", tables, meta, notes)
    write_report(results_dir, tables, meta, exp.as_dict()["sweep"])
    write_json(results_dir / "manifest.json", {**_manifest(
        outcome, meta, fingerprint, executor, jobs, scheduler,
        files=written + ["summary.md", "report.md"], cached=cached),
        "interrupted": interrupted})
    if interrupted:
        raise RunInterrupted(outcome)
    return outcome


def experiment_meta(exp: Experiment) -> dict[str, Any]:
    """What analysis needs besides the tables (also stored in the manifest)."""
    return {"name": exp.name, "description": exp.description, "swept_keys": exp.swept_keys,
            "setting_columns": setting_columns(exp), "facet_keys": facet_keys(exp),
            "replications": exp.sweep.replications}


def facet_keys(exp: Experiment) -> list[str]:
    """Swept keys that split plots into panels: all but the design, GOMAXPROCS,
    the seed, and keys zipped with those (e.g. a goroutine count that follows
    GOMAXPROCS is part of the x axis, not a panel of its own). Of a zip group
    of other keys only the first is kept: the rest follow it."""
    def axis(k: str) -> bool:
        return k in ("gomaxprocs", "seed", "design") or k.startswith("design.")

    tied = {k for k in exp.swept_keys if axis(k)}
    for group in exp.sweep.zip_groups():
        if any(axis(k) for k in group):
            tied.update(group)
        else:
            tied.update(list(group)[1:])  # the first key of a zip group names its panel
    return [k for k in setting_columns(exp) if k not in tied]


def counts(o: ExperimentOutcome) -> dict[str, Any]:
    return {"runs": len(o.records), "settings": len({s.setting_id for s, _ in o.records}),
            "ran": o.n_ran, "cached": o.n_cached, "failed": o.n_failed,
            "wall_time_s": round(o.wall_s, 3)}


def _manifest(o: ExperimentOutcome, meta: dict[str, Any], fingerprint: str, executor: str,
              jobs: int, scheduler: str | None, files: list[str],
              cached: set[str]) -> dict[str, Any]:
    exp = o.experiment
    base_seed = int(exp.base_scenario.get("seed", 1)) if isinstance(
        exp.base_scenario.get("seed", 1), int) else None
    runs = []
    for s, out in o.records:
        status = "failed" if not out.get("ok") else "cached" if s.config_hash in cached else "ran"
        runs.append({"run_id": s.run_id, "setting_id": s.setting_id, "setting": s.setting,
                     "replication": s.replication, "seed": s.seed,
                     "config_hash": s.config_hash, "status": status,
                     "error": out.get("error"), "wall_s": out.get("wall_s"),
                     "scenario": s.scenario.model_dump(mode="json")})
    count_keys = ("runs", "settings", "ran", "cached", "failed", "wall_time_s")
    return {
        **{k: v for k, v in meta.items() if k not in count_keys},
        "counts": {k: meta[k] for k in count_keys if k in meta},
        "wall_time_s": meta.get("wall_time_s"),
        "config_file": exp.path,
        "config_hash": exp.config_hash,
        "model_fingerprint": fingerprint,
        "created_utc": utc_now(),
        "executor": executor, "jobs": jobs, "scheduler": scheduler,
        "experiment": exp.as_dict(),
        "seeds": {"base_seed": base_seed,
                  "method": "numpy SeedSequence(base_seed).spawn(replications); "
                            "replication r uses child r in every setting",
                  "replication_seeds": replication_seeds(base_seed, exp.sweep.replications)
                  if base_seed is not None else None},
        "files": files, "plots": [p.name for p in o.plots], "notes": o.notes,
        "versions": package_versions(), "git": git_revision(),
        "runs": runs,
    }


class _Progress:
    """A rich progress bar on stderr (a no-op when disabled)."""

    def __init__(self, enabled: bool, total: int, done: int, label: str) -> None:
        self.enabled, self.total, self.done, self.label = enabled, total, done, label
        self.failed = 0
        self._p: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._p = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                               MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                               TimeElapsedColumn(), TimeRemainingColumn(),
                               console=Console(stderr=True), transient=False)
            self._p.start()
            info = f"({self.done} cached)" if self.done else ""
            self._task = self._p.add_task(self.label, total=self.total, completed=self.done,
                                          info=info)
        return self

    def advance(self, ok: bool) -> None:
        if not ok:
            self.failed += 1
        if self._p is not None:
            info = f"({self.failed} failed)" if self.failed else ""
            self._p.update(self._task, advance=1, info=info)

    def __exit__(self, *exc: Any) -> None:
        if self._p is not None:
            self._p.stop()
