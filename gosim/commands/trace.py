"""``gosim trace CONFIG``: one run's timeline as Chrome trace-event JSON."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gosim.errors import ConfigError

if TYPE_CHECKING:
    from gosim.config import Experiment

#: time units a window bound may carry (none: ns)
UNITS_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_TIME_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*(ns|us|ms|s)?\s*$")
#: runs named in the error for a --run out of range
_LIST_RUNS = 12


def parse_time_ns(text: str, what: str) -> int:
    """``1500``, ``1500ns``, ``1.5us``, ``2ms``, ``0.5s`` -> integer ns."""
    m = _TIME_RE.match(text)
    if m is None:
        raise ConfigError(f"{what}: expected a time like 1500, 250us, 2ms or 0.5s "
                          f"(no unit: ns), got {text!r}")
    try:
        ns = Decimal(m.group(1)) * UNITS_NS[m.group(2) or "ns"]
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ConfigError(f"{what}: not a number: {text!r}") from None
    if ns != ns.to_integral_value():
        raise ConfigError(f"{what}: {text!r} is not a whole number of nanoseconds")
    return int(ns)


def parse_window(text: str) -> tuple[int, int | None]:
    """``START:END`` (either may be empty: from 0, to the run's end) -> ns."""
    if text.count(":") != 1:
        raise ConfigError(f"--window: expected START:END (e.g. 0:2ms, 1ms:, :500us), got {text!r}")
    a, b = text.split(":")
    start = parse_time_ns(a, "--window START") if a.strip() else 0
    end = parse_time_ns(b, "--window END") if b.strip() else None
    if end is not None and end <= start:
        raise ConfigError(f"--window: END must be after START, got {text!r} "
                          f"({start} ns to {end} ns)")
    return start, end


def _runs_line(exp: Experiment) -> str:
    shown = [f"{r.run_id}: {r.label() or 'base'} rep {r.replication}"
             for r in exp.runs[:_LIST_RUNS]]
    more = len(exp.runs) - len(shown)
    return "; ".join(shown) + (f"; ... {more} more" if more > 0 else "")


def trace(
    config: Annotated[Path, typer.Argument(help="experiment YAML", show_default=False)],
    run: Annotated[int, typer.Option(
        "--run", help="which run of the expanded sweep, 0-based (settings in sweep order, "
                      "replications inner; `gosim run CONFIG --dry-run` lists the settings; "
                      "a number out of range lists the runs)")] = 0,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="the JSON file (default: trace-<experiment>-run<N>.json)",
        show_default=False)] = None,
    window: Annotated[str | None, typer.Option(
        "--window", help="START:END of simulated time to keep, ns or with a unit "
                         "(ns, us, ms, s): 0:2ms, 1ms:, :500us (default: the whole run)",
        show_default=False)] = None,
    max_events: Annotated[int, typer.Option(
        "--max-events", help="keep at most this many events (the first the run reports); "
                             "the output counts the rest as dropped")] = 200_000,
) -> None:
    """Simulate one run of an experiment and write its timeline as Chrome
    trace-event JSON (open it in ui.perfetto.dev): a track per P with the
    goroutine it runs, fast-path runs, slow paths and the waits on and holds
    of each lock, and counters for the heap and for each lock's waiters."""
    from gosim.config import load_experiment

    if max_events < 1:
        raise ConfigError(f"--max-events: expected 1 or more, got {max_events}")
    w0, w1 = parse_window(window) if window is not None else (0, None)
    exp = load_experiment(config)  # ConfigError -> exit 2
    if not 0 <= run < len(exp.runs):
        raise ConfigError(f"--run {run}: {config} has {len(exp.runs)} runs, 0 to "
                          f"{len(exp.runs) - 1}: {_runs_line(exp)}")
    spec = exp.runs[run]
    dest = out if out is not None else Path(f"trace-{exp.name}-run{run}.json")
    if dest.exists() and dest.is_dir():
        raise ConfigError(f"--out {dest}: is a directory; expected a file name")
    from gosim.runner.core import check_results_dir

    check_results_dir(dest.parent)  # exit 2 before simulating, nothing written

    from gosim.atomic_write import atomic_path
    from gosim.sim import simulate
    from gosim.sim.trace import Tracer

    tracer = Tracer(start_ns=w0, end_ns=w1, max_events=max_events)
    result = simulate(spec.scenario, tracer=tracer)
    end = int(result.metrics["sim_time_ns"])
    if w0 >= end:
        raise ConfigError(f"--window: starts at {w0} ns, after the run's end ({end} ns)")
    other = {"experiment": exp.name, "run": run, "setting": spec.label(),
             "replication": spec.replication, "seed": spec.seed,
             "config_hash": spec.config_hash, "sim_time_ns": end}
    with atomic_path(dest) as tmp, open(tmp, "w") as f:
        tracer.write(f, other)
    where = f"{w0} ns to {min(w1, end) if w1 is not None else end} ns"
    msg = (f"wrote {dest}: run {run} ({spec.label() or 'base'}, replication "
           f"{spec.replication}), {len(tracer.events)} events, {where} of {end} ns")
    if tracer.dropped:
        msg += (f"; dropped {tracer.dropped} events past --max-events {max_events} "
                "(narrow --window or raise --max-events)")
    typer.echo(msg)


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)
