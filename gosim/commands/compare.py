"""``gosim compare A B``: benchstat-style comparison of two results directories
(gosim/analysis/compare.py says how settings are matched and what ``~`` means)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def compare(
    results_a: Annotated[Path, typer.Argument(
        help="results directory of the baseline (\"old\"), e.g. results/quickstart")],
    results_b: Annotated[Path, typer.Argument(
        help="results directory to compare with it (\"new\")")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="where to write compare.csv and compare.png (default: "
                            "A's parent/compare-<A>-vs-<B>)", show_default=False)] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="skip the plot")] = False,
) -> None:
    """Compare two experiments' results setting by setting: for each matching
    setting (same design, GOMAXPROCS and swept values) and key metric, the mean
    ± 95% CI of A and of B and the change; "~" when the CIs overlap. Writes the
    table (compare.csv) and throughput vs GOMAXPROCS of both (compare.png).

    Exit status 2 when either is not a results directory or no setting matches."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from gosim.analysis import compare as cmp
    from gosim.analysis.summary import format_mean_ci
    from gosim.analysis.tables import KEY_METRICS
    from gosim.atomic_write import write_with
    from gosim.commands._console import print_table
    from gosim.runner.core import check_results_dir

    a, b = cmp.load_results(results_a), cmp.load_results(results_b)
    table = cmp.compare(a, b)
    out_dir = out if out is not None else (
        results_a.parent / f"compare-{results_a.name}-vs-{results_b.name}")
    check_results_dir(out_dir)

    console = Console()
    keys = [c for c in table.columns if c not in (
        "metric", "n_a", "mean_a", "ci_a", "n_b", "mean_b", "ci_b", "delta_percent",
        "ci_overlap")]
    labels = {m: (label, scale, unit) for m, label, scale, unit in KEY_METRICS}
    console.print(f"A = {escape(str(results_a))} ({escape(a.name)}), "
                  f"B = {escape(str(results_b))} ({escape(b.name)})", highlight=False,
                  soft_wrap=True)
    for metric, g in table.groupby("metric", sort=False):
        label, scale, unit = labels[str(metric)]
        head = f"{label} ({unit})" if unit else label
        t = Table(title=head)
        for col, justify in (("setting", "left"), ("A", "right"), ("B", "right"),
                             ("delta", "right")):
            t.add_column(col, justify=justify, no_wrap=True)
        for _, r in g.iterrows():
            setting = " ".join([str(r["design"]), f"P={r['gomaxprocs']}"] + [
                f"{k.split('.')[-1]}={r[k]}" for k in keys[2:]])
            t.add_row(escape(setting), format_mean_ci(r["mean_a"], r["ci_a"], scale),
                      format_mean_ci(r["mean_b"], r["ci_b"], scale), cmp.delta_text(r))
        print_table(console, t)
    n_settings = len(table.drop_duplicates(keys))
    console.print(f"{n_settings} matching setting{'s' if n_settings != 1 else ''}; "
                  "~: the 95% confidence intervals overlap", highlight=False)

    write_with(out_dir / cmp.TABLE_FILE, lambda tmp: table.to_csv(tmp, index=False))
    written = [out_dir / cmp.TABLE_FILE]
    if not no_plots and (table["metric"] == cmp.PLOT_METRIC).any():
        fig = cmp.plot_compare(table, a, b)
        write_with(out_dir / cmp.PLOT_FILE,
                   lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
        written.append(out_dir / cmp.PLOT_FILE)
    for p in written:
        console.print(escape(str(p)), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
