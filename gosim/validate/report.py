"""``report.md`` and one plot per claim, from the verdicts' tables."""

from __future__ import annotations

import textwrap
from pathlib import Path

from gosim.analysis.report import knees
from gosim.analysis.tables import wait_shares
from gosim.atomic_write import write_text_atomic, write_with
from gosim.validate.figures import (
    SIZE_KEY,
    THROUGHPUT,
    Figure,
    _curve_groups,
    bottleneck,
    expected_rounding_waste,
    metric_values,
    mix_waste,
    mva_curve,
    objects_per_span,
    per_run_waste,
    release_pairs,
    select,
)
from gosim.validate.run import Verdict


def fmt(x: float) -> str:
    if x != x:
        return "n/a"
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    return f"{x:.3e}"


def figure_text(v: Verdict, ablation: bool = False) -> str:
    f = v.ablation_figure if ablation else v.figure
    if f.ci_high == f.ci_low:
        return fmt(f.mean)
    return f"{fmt(f.mean)} [{fmt(f.ci_low)}, {fmt(f.ci_high)}]"


def verdict_word(passed: bool) -> str:
    return "pass" if passed else "fail"


# ------------------------------------------------------------------ plots

def _plot(v: Verdict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = v.claim.check
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for tables, style, tag in ((v.tables, "-", "claim"), (v.ablation_tables, "--", "ablation")):
        runs = tables["runs"]
        if runs.empty:
            continue
        runs = runs[runs["error"].isna()]
        if c.figure in ("locks_per_span", "waste"):
            xs, ys = [], []
            for size, g in runs.groupby(SIZE_KEY):
                vals = []
                for _, r in g.iterrows():
                    nobj, mw = objects_per_span(r["design"], int(size))
                    vals.append((1 - r["lock_free_fraction"]) * nobj if c.figure == "locks_per_span"
                                else per_run_waste(r) - mw)
                xs.append(int(size))
                ys.append(sum(vals) / len(vals))
            ax.plot(xs, ys, style, marker="o", label=tag)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("object size (bytes)")
            ax.set_ylabel("locked share x objects per span" if c.figure == "locks_per_span"
                          else "measured waste - table max waste")
            if c.figure == "locks_per_span":
                ax.set_yscale("log")
        elif c.figure == "mva":
            for g in _curve_groups(runs[runs["replication"] == 0]):
                m = mva_curve(g, tables["locks"])
                ax.plot(m["gomaxprocs"], m["sim"] / 1e6, style, marker="o", label=f"{tag}: sim")
                if tag == "claim":
                    ax.plot(m["gomaxprocs"], m["mva"] / 1e6, ":", color="k", label="exact MVA")
            ax.set_xlabel("GOMAXPROCS")
            ax.set_ylabel("allocations per simulated µs")
        elif runs["gomaxprocs"].nunique() > 1:
            metric = THROUGHPUT if c.figure in ("efficiency", "bottleneck_removed") \
                or c.metric == THROUGHPUT else c.metric
            mean = runs.groupby(["design", *[k for k in runs.columns if "." in k],
                                 "gomaxprocs"], sort=False, dropna=False).mean(numeric_only=True)
            mean = mean.reset_index()
            for g in _curve_groups(mean):
                label = str(g["design"].iloc[0])
                for k in (k for k in g.columns if k.startswith("design.overrides.")):
                    label += f" {k.rsplit('.', 1)[1]}={g[k].iloc[0]}"
                y = metric_values(g, metric) / (1e6 if metric == THROUGHPUT else 1)
                ax.plot(g["gomaxprocs"], y, style, marker="o", label=f"{tag}: {label}")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log" if metric == THROUGHPUT else "linear")
            ax.set_xlabel("GOMAXPROCS")
            ax.set_ylabel("allocations per simulated µs" if metric == THROUGHPUT else metric)
        else:
            labels, ys = [], []
            for sel in (c.where, c.over):
                if not sel and labels:
                    continue
                rows = select(runs, sel)
                labels.append(f"{tag}\n" + ", ".join(f"{k.rsplit('.', 1)[-1]}={w}"
                                                      for k, w in sel.items()))
                ys.append(float(metric_values(rows, c.metric).mean()))
            ax.bar(labels, ys, alpha=0.6 if tag == "ablation" else 1.0)
            ax.set_ylabel(c.metric)
    ax.set_title("\n".join(textwrap.wrap(f"{v.claim.name}: {c.measures.strip()}", 80)),
                 fontsize=8)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    try:
        write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)


# ------------------------------------------------------------------ report

def _details(v: Verdict) -> list[str]:
    """Figures behind the verdict, computed from the tables."""
    c = v.claim.check
    lines: list[str] = []
    runs = v.tables["runs"]
    if c.figure == "bottleneck_removed" and not runs.empty:
        for tag, tables in (("claim", v.tables), ("ablation", v.ablation_tables)):
            r0 = tables["runs"][tables["runs"]["replication"] == 0]
            for old, new in release_pairs(r0):
                kind, share = bottleneck(old)
                lines.append(f"- {tag}, replication 0, P={int(old['gomaxprocs'])}: "
                             f"{old['design']} waits on `{kind or '-'}` {share:.1%} of P time; "
                             f"{new['design']} waits on it "
                             f"{wait_shares(new).get(kind, 0.0):.1%}")
    if c.knee_fraction is not None and not runs.empty:
        lines.append("")
        lines.append(f"Where each curve bends (knee: first P with efficiency below "
                     f"{c.knee_fraction:.0%} of linear; the lock with the largest share of "
                     "P time waiting there, mean over replications):")
        lines.append("")
        lines.append("| design | knee (P) | lock that bends it | P time waiting on it | "
                     "efficiency at largest P |")
        lines.append("|---|---|---|---|---|")
        rows = knees(v.tables, c.knee_fraction)
        if not v.ablation_tables["runs"].empty:
            rows += knees(v.ablation_tables, c.knee_fraction)  # the ablation's designs: +override
        for k in rows:
            knee = str(k["knee"]) if k["knee"] is not None else f"none up to {k['max_p']}"
            lines.append(f"| {k['design']} | {knee} | `{k['lock'] or '-'}` | {k['share']:.1%} | "
                         f"{k['efficiency_at_max']:.0%} |")
        lines.append("")
        lines.append("(With no knee, the lock shown is the one most waited on at the largest P. "
                     "Designs with `+override` are the ablation's.)")
    if c.mix is not None and v.mix_tables is not None and not v.mix_tables["runs"].empty:
        lines += _mix_lines(v)
    if c.figure == "mva" and not runs.empty:
        for g in _curve_groups(runs[runs["replication"] == 0]):
            m = mva_curve(g, v.tables["locks"])
            if m.empty:
                continue
            lines.append(f"- hold S = {m['hold_ns'].iloc[0]:.1f} ns, think Z = "
                         f"{m['think_ns'].iloc[0]:.1f} ns (replication 0, from the 1-P run); "
                         f"saturation 1/S = {1e3 / m['hold_ns'].iloc[0]:.1f} allocations/µs")
            for _, r in m.iterrows():
                lines.append(f"  - P={int(r['gomaxprocs'])}: sim {r['sim'] / 1e6:.2f}, "
                             f"MVA {r['mva'] / 1e6:.2f} allocations/µs "
                             f"({r['sim'] / r['mva'] - 1:+.1%}); the lock is held "
                             f"{r['utilisation']:.0%} of the time while Ps spend "
                             f"{r['wait_share']:.0%} of theirs waiting for it")
    return lines


def _mix_lines(v: Verdict) -> list[str]:
    """The waste of the check's size mix (reported, not checked)."""
    mix = v.claim.check.mix
    exp = v.claim.mix_experiment
    assert mix is not None and exp is not None and v.mix_tables is not None
    runs = v.mix_tables["runs"]
    rounding, heap = mix_waste(runs)
    group = exp.runs[0].scenario.workload.groups[0]
    size = group.size.model_dump(exclude_none=True)
    expected = expected_rounding_waste(str(runs["design"].iloc[0]), size,
                                       group.pointer_free_fraction == 1.0)

    def pct(f: Figure) -> str:
        if f.ci_high == f.ci_low:
            return f"{f.mean:.2%}"
        return f"{f.mean:.2%} [{f.ci_low:.2%}, {f.ci_high:.2%}]"

    m = runs[runs["error"].isna()] if "error" in runs.columns else runs
    lines = ["", f"Waste of a realistic size mix (reported, not checked): {mix.name}, "
             f"{len(m)} replications of {int(m['mallocs'].mean()):,} allocations. "
             f"{mix.reason.strip()}", "",
             f"- rounding to size classes (1 - requested / allocated bytes): {pct(rounding)}"
             + ("" if expected is None else
                f"; the distribution and the size-class table give {expected:.2%} in the limit"),
             f"- of the heap in use (1 - requested bytes / heap_inuse_bytes; adds span tails "
             f"and the free slots of partly used spans at the end): {pct(heap)}"]
    return lines


def write_report(verdicts: list[Verdict], out_dir: Path, *, quick: bool) -> Path:
    """Write ``out_dir/report.md`` and ``out_dir/plots/<claim>.png``."""
    lines = ["# gosim validate", "",
             f"Mode: {'quick' if quick else 'full'}. Each claim is an experiment in "
             "`experiments/claims/` with a check; its results are in "
             "`<out>/claim-<name>/` and `<out>/claim-<name>-ablation/`. Figures are the mean "
             "over replications with a 95% t-interval in brackets (none when the "
             "replications agree exactly or there is one). See docs/validate.md.", "",
             "| claim | measured | threshold | verdict | ablation | ablation measured | "
             "ablation verdict |", "|---|---|---|---|---|---|---|"]
    for v in verdicts:
        c = v.claim.check
        lines.append(f"| {c.number}. {v.claim.name} | {figure_text(v)} | {c.threshold.text()} | "
                     f"**{verdict_word(v.passed)}** | {c.ablation.name} | "
                     f"{figure_text(v, True)} | {verdict_word(v.ablation_passed)} |")
    lines.append("")
    for v in verdicts:
        c = v.claim.check
        plot = Path("plots") / f"{v.claim.name}.png"
        try:
            _plot(v, out_dir / plot)
            plot_line = f"![{v.claim.name}]({plot.as_posix()})"
        except Exception as e:  # a plot that fails must not hide the verdicts
            plot_line = f"(plot failed: {type(e).__name__}: {e})"
        lines += [f"## {c.number}. {v.claim.name}: {verdict_word(v.passed)}", "",
                  c.statement.strip(), "",
                  f"- measured: {c.measures.strip()} = {figure_text(v)}",
                  f"- threshold: {c.threshold.text()}. {c.threshold.reason.strip()}",
                  f"- ablation ({c.ablation.name}): {figure_text(v, True)}, "
                  f"{verdict_word(v.ablation_passed)}"
                  + ("" if not v.ablation_passed else " (the check did not fail without the "
                     "mechanism)"),
                  f"- claim file: `{v.claim.path.as_posix()}`"]
        if v.failed_runs:
            lines.append(f"- {v.failed_runs} runs failed (see the experiments' summary.md)")
        lines += _details(v)
        lines += ["", plot_line, ""]
    path = out_dir / "report.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def table_rows(verdicts: list[Verdict]) -> list[list[str]]:
    return [[f"{v.claim.check.number}. {v.claim.name}", figure_text(v),
             v.claim.check.threshold.text(), verdict_word(v.passed), v.claim.check.ablation.name,
             figure_text(v, True), verdict_word(v.ablation_passed)] for v in verdicts]

