"""``gosim calibrate``: fit the cost model to the real runtime and write a profile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gosim.errors import ConfigError, GosimError


def _sizes(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        out = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise GosimError(f"--sizes: expected comma-separated byte counts, got {text!r}") from None
    if not out or any(s <= 0 for s in out):
        raise GosimError(f"--sizes: expected positive byte counts, got {text!r}")
    return out


def calibrate(
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="profile to write (default: profiles/NAME.yaml)",
        show_default=False)] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="profile name (default: the --out file's stem, else "
                       "local-goX.Y-gomaxprocsN)", show_default=False)] = None,
    sizes: Annotated[str | None, typer.Option(
        "--sizes", help="comma-separated object sizes in bytes (default: 8,16,32,48,128,"
                        "512,1024,4096,8192,32768,65536,262144)", show_default=False)] = None,
    gomaxprocs: Annotated[int, typer.Option("--gomaxprocs", help="GOMAXPROCS of the "
                                            "benchmark (and of the model)")] = 1,
    go_version: Annotated[str | None, typer.Option(
        "--go-version", help="Go release: 1.27 or 1.25 (default: the installed go)",
        show_default=False)] = None,
    gc: Annotated[bool, typer.Option(
        "--gc/--no-gc", help="GC on (memory reused, collections included) or off (every "
                             "span fresh, as in the model)")] = False,
    reps: Annotated[int, typer.Option("--reps", help="timed loops per size (the fastest counts)")] = 7,
    date: Annotated[str | None, typer.Option(
        "--date", help="date of measurement written into the profile (default: today)",
        show_default=False)] = None,
    refit_from: Annotated[str | None, typer.Option(
        "--refit", help="fit again to the measurements stored in this profile (name or "
                        "path) instead of running Go: for a model that changed since",
        show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no table")] = False,
) -> None:
    """Measure ns per allocation on the real runtime across sizes, pointer-free and
    pointerful, fit the cost model's parameters on part of the sizes, write a
    calibration profile a config can name (costs_profile: NAME) and print the
    error per size on the fit set and on the held-out sizes."""
    import yaml
    from rich.console import Console
    from rich.table import Table

    from gosim.atomic_write import write_text_atomic
    from gosim.commands._console import print_table
    from gosim.realgo.calibrate import DEFAULT_SIZES, refit
    from gosim.realgo.calibrate import calibrate as run_calibration
    from gosim.realgo.toolchain import find_go

    if reps < 1:
        raise GosimError(f"--reps: expected 1 or more, got {reps}")
    from gosim.runner.core import check_results_dir

    # before minutes of measuring: an unwritable --out is exit 2, nothing measured
    check_results_dir(out.parent if out is not None else Path("profiles"))
    if refit_from is not None:
        from gosim.sim.profiles import find_profile, read_profile

        doc = read_profile(refit_from)  # ConfigError (exit 2) when missing or malformed
        if not isinstance(doc.get("fit"), list) or not doc["fit"]:
            # e.g. a profile gosim groundtruth or a hand fit wrote: no measured points
            raise ConfigError("--refit needs the measured points gosim calibrate stores "
                              "under 'fit' (a list of {size, pointerful, measured_ns, ...}); "
                              "this profile has none", file=str(find_profile(refit_from)),
                              key="fit")
        name = name or (out.stem if out is not None else str(doc["name"]))
        c = refit(doc, name=name)
        how = f"measured with gosim calibrate on {c.profile['measured']}, re-fitted with --refit"
    else:
        size_list = _sizes(sizes) or list(DEFAULT_SIZES)
        tc = find_go(go_version)
        if name is None:
            name = out.stem if out is not None else f"local-go{tc.release}-gomaxprocs{gomaxprocs}"
        c = run_calibration(name=name, sizes=size_list, gomaxprocs=gomaxprocs, gc=gc,
                            reps=reps, date=date, tc=tc)
        how = f"measured with gosim calibrate on {c.profile['measured']}"
    if out is None:
        out = Path("profiles") / f"{name}.yaml"
    header = (f"# gosim calibration profile: {how}\n"
              f"# use it from a config with:  costs_profile: {name}\n")
    write_text_atomic(out, header + yaml.safe_dump(c.profile, sort_keys=False, width=100))
    if quiet:
        return
    console = Console()
    p = c.profile
    t = Table(title=f"{name}: ns per allocation, {p['go_version']}, "
                    f"GOMAXPROCS={p['gomaxprocs']}, GC {'on' if p['gc'] else 'off'}")
    for col in ("size", "kind", "set", "real ns", "model (defaults)", "error", "model (fitted)",
                "error"):
        t.add_column(col, justify="left" if col in ("kind", "set") else "right")
    for r in c.rows:
        t.add_row(f"{r['size']:,}", "pointerful" if r["pointerful"] else "pointer-free",
                  r["set"], f"{r['measured_ns']:,.1f}", f"{r['default_model_ns']:,.1f}",
                  f"{r['default_rel_error']:+.1%}", f"{r['model_ns']:,.1f}",
                  f"{r['rel_error']:+.1%}")
    print_table(console, t)
    params = ", ".join(f"{k}={v:g}" for k, v in c.profile["parameters"].items())
    console.print(f"fitted: {params}")

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    console.print(f"RMS relative error, fit set: defaults {pct(p['default_fit_rms_rel_error'])}, "
                  f"fitted {pct(p['fit_rms_rel_error'])}; hold-out set (sizes "
                  f"{', '.join(map(str, p['holdout_sizes'])) or 'none'}): defaults "
                  f"{pct(p['default_holdout_rms_rel_error'])}, fitted "
                  f"{pct(p['holdout_rms_rel_error'])}. Wrote [bold]{out}[/] "
                  f"(use it with costs_profile: {name})")


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
