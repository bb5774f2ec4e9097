"""``gosim groundtruth``: simulate every record of a real-runtime ground-truth
file, compare, check the agreement issue 8 requires, optionally fit costs."""

from __future__ import annotations

import datetime
import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from gosim.errors import ConfigError, GosimError


class Format(StrEnum):
    table = "table"
    json = "json"


class DisagreementError(GosimError):
    """A check failed or a run failed: exit status 1 (as ``gosim validate``)."""

    exit_code = 1


def _check_scenarios(records: list[Any], file: Path, **kw: Any) -> list[dict[str, Any]]:
    """Every record's scenario, validated before any run: a record the model
    cannot express (e.g. more Ps than it allows) is bad input naming its line."""
    from pydantic import ValidationError

    from gosim.groundtruth.mapping import scenario_dict
    from gosim.scenario import Scenario

    out = []
    for r in records:
        d = scenario_dict(r, **kw)
        try:
            Scenario.model_validate(d)
        except ValidationError as e:
            err = e.errors()[0]
            key = ".".join(str(x) for x in err["loc"])
            raise ConfigError(f"the model cannot simulate this record: scenario key '{key}': "
                              f"{err['msg']}", file=str(file), line=r.line) from None
        out.append(d)
    return out


def groundtruth(
    file: Annotated[Path, typer.Argument(
        help="ground-truth records, one JSON object per line (experiments/groundtruth/)",
        show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="results directory (default: results/groundtruth/<file stem>)",
        show_default=False)] = None,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", help="simulations run in parallel (0 = every CPU)")] = 0,
    profile: Annotated[str | None, typer.Option(
        "--profile", help="calibration profile every record runs with (name in profiles/ or "
                          "a path)", show_default=False)] = None,
    fit: Annotated[str | None, typer.Option(
        "--fit", help="comma-separated cost parameters (gosim costs) to fit on the "
                      "GOMAXPROCS=1 records; the other records are the hold-out",
        show_default=False)] = None,
    profile_out: Annotated[Path | None, typer.Option(
        "--profile-out", help="with --fit: the calibration profile to write "
                              "(e.g. profiles/NAME.yaml)", show_default=False)] = None,
    max_evals: Annotated[int, typer.Option(
        "--max-evals", help="with --fit: evaluations at most (each simulates every fit "
                            "record)")] = 30,
    window_scale: Annotated[float, typer.Option(
        "--window-scale", help="multiply every record's simulated warm-up and window by "
                               "this (below 1: a quick look, not a steady state)")] = 1.0,
    plots: Annotated[bool, typer.Option("--plots/--no-plots",
                                        help="draw one plot per case")] = True,
    fmt: Annotated[Format, typer.Option("--format", help="table | json (agreement.json "
                                        "on stdout)")] = Format.table,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="simulate only the records with these fields, KEY=VALUE[,KEY=VALUE...] "
                       "(keys: go, mode, kind, size, ballast_mib, gomaxprocs, gogc, touch); "
                       "repeat for more", show_default=False)] = None,
    sets: Annotated[list[str] | None, typer.Option(
        "--set", help="run every record with cost parameter NAME at VALUE (NAME=VALUE, over "
                      "the profile; gosim costs lists them), VALUE a number or a distribution "
                      "as a scenario's costs take it, e.g. 'NAME={dist: exponential, mean: "
                      "500}' (a parameter --fit searches must be a number); repeat for more",
        show_default=False)] = None,
    grid: Annotated[list[str] | None, typer.Option(
        "--grid", help="run the records at every combination of cost values, NAME=V1,V2,... "
                       "(repeat for more parameters; over the profile and --set) and write "
                       "OUT/grid.csv: each point's agreeing cases and errors on the fit and "
                       "hold-out records, the point with the smallest fit-set error marked",
        show_default=False)] = None,
) -> None:
    """Simulate the workload of every record of FILE (real Go runs: throughput,
    GC cycles and mutex-profile contention per GOMAXPROCS), write
    OUT/comparison.csv, OUT/agreement.json and OUT/plots/<case>.png, and print
    per case whether the model agrees: the GOMAXPROCS of peak throughput within
    one step of the real one, throughput at the smallest and largest GOMAXPROCS
    within 35%, the same top lock from 4 Ps on. With --fit, fit cost
    parameters on the GOMAXPROCS=1 records first and report the error on the
    fit and the hold-out records (docs/groundtruth.md). --only and --set ask
    what-if questions: a subset of the records, other cost values. --grid
    evaluates a grid of cost values the same way, choosing by the fit set's
    error and reporting the hold-out's beside it (OUT/grid.csv, each point's
    comparison in OUT/grid/<point>/).

    Exit status: 0 every case agrees (with --grid: every run ran); 1 a check or
    a run failed; 2 bad input."""
    from gosim.groundtruth.fit import (
        parse_cost_grid,
        parse_cost_overrides,
        parse_fit_parameters,
        start_values,
    )
    from gosim.groundtruth.records import parse_record_filter, read_records, select_records
    from gosim.groundtruth.scoring import split_of
    from gosim.runner.core import check_results_dir, default_jobs

    if jobs < 0:
        raise ConfigError(f"--jobs: expected 0 (every CPU) or more, got {jobs}")
    if not (window_scale > 0 and math.isfinite(window_scale)):
        raise ConfigError(f"--window-scale: expected a number > 0, got {window_scale:g}")
    if max_evals < 1:
        raise ConfigError(f"--max-evals: expected 1 or more, got {max_evals}")
    if (fit is None) != (profile_out is None):
        raise ConfigError("--fit and --profile-out go together (fit parameters, write the "
                          "profile)")
    if grid and fit is not None:
        raise ConfigError("--grid and --fit do not go together (a grid is evaluated point by "
                          "point; --fit searches)")
    filters = [parse_record_filter(t) for t in only or []]
    overrides = parse_cost_overrides(sets or [])
    grid_points = parse_cost_grid(grid, overrides) if grid else None
    records = select_records(read_records(file), filters)
    if not records:
        raise ConfigError(f"no record matches --only {' / '.join(only or [])}", file=str(file))
    out = out if out is not None else Path("results") / "groundtruth" / file.stem
    base: dict[str, Any] = {}
    #: the records a --profile was fitted on, when it was fitted on this file
    profile_fit_tags: frozenset[str] | None = None
    pdoc: dict[str, Any] = {}
    if profile is not None:
        from gosim.sim.profiles import find_profile, load_profile, read_profile

        base = load_profile(profile)  # ConfigError (exit 2): unknown or malformed
        pdoc = read_profile(str(find_profile(profile)))
        src = str((pdoc.get("machine") or {}).get("source") or pdoc.get("source") or "")
        if pdoc.get("fit_records"):
            # fitted on this file: its fit records; on another: every record is held out
            profile_fit_tags = (frozenset(str(t) for t in pdoc["fit_records"])
                                if Path(src).name == file.name else frozenset())
    names = parse_fit_parameters(fit) if fit is not None else []
    presets = sorted({r.preset for r in records})
    start = start_values(names, presets, {**base, **overrides}) if names else {}
    fit_records = [r for r in records if split_of(r) == "fit"]
    if names and not fit_records:
        raise ConfigError("no GOMAXPROCS=1 record to fit on", file=str(file))
    if profile_out is not None:
        if profile_out.is_dir():
            raise ConfigError(f"--profile-out: {profile_out} is a directory; expected a "
                              ".yaml file")
        check_results_dir(profile_out.parent)
    check_results_dir(out)  # exit 2, nothing written
    scenarios = _check_scenarios(records, file, scale=window_scale, costs_profile=profile,
                                 costs={**overrides, **start} or None)
    jobs = jobs or default_jobs()

    from rich.console import Console

    err = Console(stderr=True)
    if names or profile_fit_tags is None:
        split_text = None
    elif profile_fit_tags:
        split_text = f"the profile's: {pdoc.get('split', 'its fit_records')}"
    else:
        split_text = (f"none: the profile was fitted on another file ({Path(src).name}); "
                      "every record here is held out")
    if grid_points is not None:
        runs = [_check_scenarios(records, file, scale=window_scale, costs_profile=profile,
                                 costs={**overrides, **pt}) for pt in grid_points]
        _grid(records, grid_points, runs, out=out, jobs=jobs, console=err,
              fit_tags=profile_fit_tags, split_text=split_text, file=file, profile=profile,
              overrides=overrides, fmt=fmt)
        return
    fitted = None
    if names:
        fitted = _fit(fit_records, start, jobs=jobs, max_evals=max_evals, scale=window_scale,
                      profile=profile, console=err, overrides=overrides)
        scenarios = _check_scenarios(records, file, scale=window_scale, costs_profile=profile,
                                     costs={**overrides, **fitted.best})
    from gosim.groundtruth.scoring import comparison_table, error_summary, sim_point

    outcomes = _simulate(scenarios, jobs, err, f"simulating {len(records)} records")
    points = [sim_point(o) for o in outcomes]
    windows = [(s["warmup"]["duration_ns"], s["duration_ns"] - s["warmup"]["duration_ns"])
               for s in scenarios]
    table = comparison_table(records, points, windows,
                             None if names else profile_fit_tags)
    errors = error_summary(table, split_text)

    from gosim.atomic_write import write_text_atomic, write_with
    from gosim.groundtruth.scoring import (
        PEAK_STEP,
        THROUGHPUT_TOLERANCE,
        TOP_LOCK_FROM_P,
        cases,
        json_safe,
        score_case,
    )

    scored = [(rows, score_case(rows)) for _, rows in cases(table)]
    verdicts = [v for _, v in scored]
    failed_runs = [{"line": r.line, "tag": r.tag, "error": p.error}
                   for r, p in zip(records, points, strict=True) if not p.ok]
    agreement: dict[str, Any] = {
        "file": str(file),
        "records": len(records),
        "profile": profile,
        "only": list(only or []),
        "set": overrides,
        "window_scale": window_scale,
        "checks": {"peak_step": PEAK_STEP, "throughput_tolerance": THROUGHPUT_TOLERANCE,
                   "top_lock_from_gomaxprocs": TOP_LOCK_FROM_P},
        "cases": [v.as_json() for v in verdicts],
        "cases_ok": sum(v.ok for v in verdicts),
        "error": errors,
        "failed_runs": failed_runs,
        "pass": all(v.ok for v in verdicts) and not failed_runs,
    }
    doc = None
    if fitted is not None and profile_out is not None:
        from gosim.groundtruth.fit import profile_document

        doc = profile_document(
            name=profile_out.stem, source=str(file), records_fit=[r.tag for r in fit_records],
            n_holdout=len(records) - len(fit_records),
            go_versions=sorted({r.go for r in records}), presets=presets,
            base_profile_name=profile, base_parameters={**base, **overrides}, fit=fitted,
            errors=errors,
            fitted_on=datetime.date.today().isoformat(), window_scale=window_scale)
        agreement["fit"] = {k: doc[k] for k in ("parameters", "fitted", "start", "evaluations",
                                                "fit_rms_log_error_start")}
        agreement["fit"]["profile"] = str(profile_out)
    write_with(out / "comparison.csv", lambda p: table.to_csv(p, index=False))
    write_text_atomic(out / "agreement.json", json.dumps(json_safe(agreement), indent=2) + "\n")
    plot_paths: list[Path] = []
    if plots:
        from gosim.groundtruth.plots import draw_case_plots

        plot_paths = draw_case_plots(scored, out / "plots")
    elif (out / "plots").is_dir():  # an old run's plots would not match these results
        import shutil

        shutil.rmtree(out / "plots")
    if doc is not None and profile_out is not None:
        import yaml

        header = (f"# gosim calibration profile: fitted with gosim groundtruth {file} --fit "
                  f"{fit}\n# use it from a config with:  costs_profile: {profile_out.stem}\n")
        write_text_atomic(profile_out, header + yaml.safe_dump(doc, sort_keys=False, width=100))

    if fmt is Format.json:
        print(json.dumps(json_safe(agreement), indent=2))
    else:
        _print_summary(verdicts, errors, agreement, out, plot_paths, profile_out)
    if not agreement["pass"]:
        bad = [v.label for v in verdicts if not v.ok]
        what = f"{len(bad)} of {len(verdicts)} cases disagree"
        if failed_runs:
            what += f"; {len(failed_runs)} runs failed (first: line {failed_runs[0]['line']}: " \
                    f"{failed_runs[0]['error']})"
        raise DisagreementError(f"{what} (see {out / 'agreement.json'})")


def _simulate(scenarios: list[dict[str, Any]], jobs: int, console: Any,
              label: str) -> list[dict[str, Any]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from gosim.groundtruth.simulate import simulate_all

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True,
                  disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(label, total=len(scenarios))
        return simulate_all(scenarios, jobs,
                            on_done=lambda done, _n: bar.update(task, completed=done))


def _grid(records: list[Any], points: list[dict[str, float]], runs: list[list[dict[str, Any]]],
          *, out: Path, jobs: int, console: Any, fit_tags: frozenset[str] | None,
          split_text: str | None, file: Path, profile: str | None,
          overrides: dict[str, Any], fmt: Format) -> None:
    """``--grid``: every point's records simulated and scored as a plain run
    would be; OUT/grid.csv one row per point, OUT/grid/<point>/comparison.csv."""
    import pandas as pd

    from gosim.atomic_write import write_text_atomic, write_with
    from gosim.groundtruth.scoring import (
        comparison_table,
        error_summary,
        json_safe,
        score,
        share_error,
        sim_point,
    )

    rows: list[dict[str, Any]] = []
    tables = []
    for i, (pt, scenarios) in enumerate(zip(points, runs, strict=True)):
        label = ", ".join(f"{k}={v:g}" for k, v in pt.items())
        outcomes = _simulate(scenarios, jobs, console, f"point {i + 1} of {len(points)}: {label}")
        sims = [sim_point(o) for o in outcomes]
        windows = [(s["warmup"]["duration_ns"], s["duration_ns"] - s["warmup"]["duration_ns"])
                   for s in scenarios]
        table = comparison_table(records, sims, windows, fit_tags)
        errors = error_summary(table, split_text)
        verdicts = score(table)
        row: dict[str, Any] = {"point": i, **pt,
                               "cases_ok": sum(v.ok for v in verdicts), "cases": len(verdicts),
                               "rms_fit": errors["fit"], "rms_holdout": errors["holdout"],
                               "rms_all": errors["all"], "n_fit": errors["n_fit"],
                               "n_holdout": errors["n_holdout"]}
        for what in ("lock_sleep", "pause", "idle"):
            for split in ("fit", "holdout"):
                row[f"{what}_error_{split}"] = share_error(table, what, split)
        row["failed_runs"] = sum(not p.ok for p in sims)
        console.print(f"point {i + 1} of {len(points)}: {label}: {row['cases_ok']} of "
                      f"{row['cases']} cases, RMS ln(sim/real) fit {_num(row['rms_fit'])}, "
                      f"hold-out {_num(row['rms_holdout'])}", highlight=False)
        rows.append(row)
        tables.append(table)
    grid = pd.DataFrame(rows)
    # the choice is the fit set's (ties: the earlier point); none without fit records
    fit_err = [math.inf if r["rms_fit"] is None else r["rms_fit"] for r in rows]
    best: int | None = min(range(len(rows)), key=lambda i: (fit_err[i], i))
    if all(r["rms_fit"] is None for r in rows):
        best = None
    grid["best_by_fit"] = [i == best for i in range(len(rows))]
    for i, table in enumerate(tables):
        write_with(out / "grid" / f"{i:03d}" / "comparison.csv",
                   lambda p, t=table: t.to_csv(p, index=False))
    write_with(out / "grid.csv", lambda p: grid.to_csv(p, index=False))
    summary = {"file": str(file), "records": len(records), "profile": profile,
               "set": overrides, "split": error_summary(tables[0], split_text)["split"],
               "points": json_safe(grid.to_dict(orient="records")), "best": best}
    write_text_atomic(out / "grid.json", json.dumps(json_safe(summary), indent=2) + "\n")
    if fmt is Format.json:
        print(json.dumps(json_safe(summary), indent=2))
    else:
        _print_grid(grid, points, out)
    failed = int(grid["failed_runs"].sum())
    if failed:
        raise DisagreementError(f"{failed} runs failed (see {out / 'grid'})")


def _num(x: float | None) -> str:
    """An error for the table: '-' when there was none to take (None, or NaN
    in a data frame), 'inf' when a run simulated no allocation."""
    if x is None or math.isnan(x):
        return "-"
    return f"{x:.3f}" if math.isfinite(x) else "inf"


def _print_grid(grid: Any, points: list[dict[str, float]], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from gosim.commands._console import print_table

    names = list(points[0])
    t = Table(title=f"gosim groundtruth --grid: {len(points)} points (chosen by the fit "
                    "set's error)")
    for col in [*names, "cases", "RMS fit", "RMS hold-out", "lock sleep fit / hold-out",
                "pause fit / hold-out", ""]:
        t.add_column(col)
    for _, r in grid.iterrows():
        t.add_row(*[f"{r[n]:g}" for n in names], f"{r['cases_ok']} of {r['cases']}",
                  _num(r["rms_fit"]), _num(r["rms_holdout"]),
                  f"{_num(r['lock_sleep_error_fit'])} / {_num(r['lock_sleep_error_holdout'])}",
                  f"{_num(r['pause_error_fit'])} / {_num(r['pause_error_holdout'])}",
                  "best" if r["best_by_fit"] else "")
    console = Console()
    print_table(console, t)
    if not grid["best_by_fit"].any():
        console.print("No point chosen: no record is in the fit set here.", highlight=False)
    console.print("Errors: RMS ln(sim/real) of allocations per second; of P-time shares "
                  "RMS ln((sim + 0.01) / (real + 0.01)) over the records with more than one "
                  f"P. Wrote {out / 'grid.csv'}, {out / 'grid.json'} and each point's "
                  f"comparison in {out / 'grid'}", highlight=False)


def _fit(fit_records: list[Any], start: dict[str, float], *, jobs: int, max_evals: int,
         scale: float, profile: str | None, console: Any,
         overrides: dict[str, Any] | None = None) -> Any:
    from gosim.groundtruth.fit import coordinate_search
    from gosim.groundtruth.mapping import scenario_dict, sim_window
    from gosim.groundtruth.scoring import comparison_table, rms_log_error, sim_point

    windows = [sim_window(r, scale) for r in fit_records]

    def objective(x: dict[str, float]) -> float:
        scenarios = [scenario_dict(r, scale=scale, costs_profile=profile,
                                   costs={**(overrides or {}), **x}) for r in fit_records]
        outcomes = _simulate(scenarios, jobs, console, "fit: one evaluation")
        table = comparison_table(fit_records, [sim_point(o) for o in outcomes], windows)
        e = rms_log_error(table, "fit") if table["sim_ok"].all() else None
        value = math.inf if e is None else e
        params = ", ".join(f"{k}={v:.4g}" for k, v in x.items())
        console.print(f"fit: {params}: RMS ln(sim/real) {value:.4f}", highlight=False)
        return value

    return coordinate_search(objective, start, max_evals)


def _print_summary(verdicts: list[Any], errors: dict[str, Any], agreement: dict[str, Any],
                   out: Path, plot_paths: list[Path], profile_out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from gosim.commands._console import print_table
    from gosim.groundtruth.fit import format_cost

    def ok(b: bool) -> str:
        return "ok" if b else "FAIL"

    t = Table(title=f"gosim groundtruth {agreement['file']}: {agreement['cases_ok']} of "
                    f"{len(verdicts)} cases agree")
    for col in ("case", "peak P real / sim", "sim / real at the ends",
                "top lock matches (from 4 P)", "verdict"):
        t.add_column(col)
    for v in verdicts:
        sim_peak = "-" if v.sim_peak_p is None else str(v.sim_peak_p)
        ends = ", ".join(f"{e.gomaxprocs} P: " + (f"{e.ratio:.2f}" if math.isfinite(e.ratio)
                                                  else "-") for e in v.ends)
        locks = (f"{sum(x.ok for x in v.top_lock)} of {len(v.top_lock)}" if v.top_lock
                 else "-")
        t.add_row(v.label, f"{v.real_peak_p} / {sim_peak} ({ok(v.peak_ok)})",
                  f"{ends} ({ok(v.ends_ok)})", f"{locks} ({ok(v.top_lock_ok)})", ok(v.ok))
    console = Console()
    print_table(console, t)
    if agreement["only"] or agreement["set"]:
        what = [f"--only {' / '.join(agreement['only'])}"] if agreement["only"] else []
        what += [f"--set {', '.join(f'{k}={format_cost(v)}' for k, v in agreement['set'].items())}"] \
            if agreement["set"] else []
        console.print(f"what-if: {'; '.join(what)} ({agreement['records']} records)",
                      highlight=False)

    def pct(x: float | None) -> str:
        if x is None:
            return "-"
        return f"{x:.3f}" if math.isfinite(x) else "infinite (a run simulated no allocation)"

    console.print(f"RMS ln(sim/real) throughput: fit set ({errors['n_fit']} records) "
                  f"{pct(errors['fit'])}, hold-out ({errors['n_holdout']}) "
                  f"{pct(errors['holdout'])}, all {pct(errors['all'])}; split: "
                  f"{errors['split']}", highlight=False)
    if "fit" in agreement:
        f = agreement["fit"]
        params = ", ".join(f"{k}={f['parameters'][k]:g}" for k in f["fitted"])
        console.print(f"fitted ({f['evaluations']} evaluations): {params}; wrote "
                      f"{profile_out}", highlight=False)
    console.print(f"Wrote {out / 'comparison.csv'}, {out / 'agreement.json'} and "
                  f"{len(plot_paths)} plots in {out / 'plots'}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("groundtruth")(groundtruth)
