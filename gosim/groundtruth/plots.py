"""One plot per ground-truth case: throughput and the top lock vs GOMAXPROCS.

Top panel: allocations per second, real (black) and simulated (blue), on a
log axis so that shapes compare when levels differ; the checked end points
carry their ratio sim/real. Bottom panel: the top lock site at each
GOMAXPROCS (real: open black circle; simulated: a cross in the site's fixed
colour), the GOMAXPROCS from which the top lock is checked shaded.
Drawn with the conventions of :mod:`gosim.analysis.plots` (its seaborn theme
and axes; written atomically).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from gosim.analysis.plots import _gomaxprocs_axis, _readable_log_axis, _themed, p_time_colour
from gosim.groundtruth.scoring import TOP_LOCK_FROM_P, CaseVerdict, case_slug

REAL_COLOUR = "#000000"
SIM_COLOUR = "#1f77b4"
#: fixed colours of the lock sites the runtime's mutex profile names most
#: (others: a colour chosen by a hash of the name, stable across runs)
LOCK_SITE_COLOURS: dict[str, str] = {
    "(*mheap).freeSpan": "#d62728",
    "(*mheap).allocSpan": "#ff7f0e",
    "(*mheap).reclaim": "#8c564b",
    "(*pageAlloc).scavengeOne": "#bcbd22",
    "newMarkBits": "#2ca02c",
    "gcParkAssist": "#9467bd",
    "parkunlock_c": "#c5b0d5",
    "gcFlushBgCredit": "#6a3d9a",
    "stopTheWorldWithSema": "#17becf",
    "forEachPInternal": "#9edae5",
    "gcstopm": "#393b79",
}
NO_LOCK = "(no contention)"


def lock_colour(name: str) -> str:
    if name in LOCK_SITE_COLOURS:
        return LOCK_SITE_COLOURS[name]
    return "#bbbbbb" if name == NO_LOCK else p_time_colour(f"lock:{name}")


@_themed
def plot_case(rows: pd.DataFrame, verdict: CaseVerdict) -> plt.Figure:
    rows = rows.sort_values(["gomaxprocs", "line"])
    ps = verdict.gomaxprocs
    fig, (ax, lx) = plt.subplots(2, 1, figsize=(7.0, 6.4), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 2]})
    by_p = rows.groupby("gomaxprocs", sort=True)[["real_allocs_per_s", "sim_allocs_per_s"]].mean()
    ax.plot(by_p.index, by_p["real_allocs_per_s"], "o-", color=REAL_COLOUR, label="real Go")
    sim = by_p["sim_allocs_per_s"].dropna()
    ax.plot(sim.index, sim, "s--", color=SIM_COLOUR, label="gosim")
    values = [v for v in [*by_p["real_allocs_per_s"], *sim] if v > 0 and math.isfinite(v)]
    ax.set_yscale("log")
    lo, hi = min(values), max(values)
    ax.set_ylim(lo / 1.6, hi * 1.6)
    _readable_log_axis(ax.yaxis, lo / 1.6, hi * 1.6)
    for e in verdict.ends:
        if math.isfinite(e.ratio):
            ax.annotate(f"x{e.ratio:.2f}", (e.gomaxprocs, e.sim), textcoords="offset points",
                        xytext=(0, 8 if e.ratio >= 1 else -14), ha="center", fontsize="small",
                        color=SIM_COLOUR if e.ok else "#d62728")
    ax.axvline(verdict.real_peak_p, color=REAL_COLOUR, lw=0.8, ls=":")
    if verdict.sim_peak_p is not None:
        ax.axvline(verdict.sim_peak_p, color=SIM_COLOUR, lw=0.8, ls=":")
    ax.set_ylabel("allocations per second")
    ax.legend(loc="best", fontsize="small")

    names = sorted({n or NO_LOCK for n in (*rows["real_top_lock"], *rows["sim_top_lock"])})
    y = {n: i for i, n in enumerate(names)}
    for r in rows.itertuples():
        real = r.real_top_lock or NO_LOCK
        lx.scatter([r.gomaxprocs], [y[real]], s=140, facecolors="none",
                   edgecolors=REAL_COLOUR, linewidths=1.4, zorder=3)
        if r.sim_ok:
            s = r.sim_top_lock or NO_LOCK
            lx.scatter([r.gomaxprocs], [y[s]], s=70, marker="x", color=lock_colour(s),
                       linewidths=2.0, zorder=4)
    lx.set_yticks(range(len(names)))
    lx.set_yticklabels(names, fontsize="small")
    for label in lx.get_yticklabels():
        label.set_color(lock_colour(label.get_text()))
    lx.set_ylim(-0.6, len(names) - 0.4)
    checked = [p for p in ps if p >= TOP_LOCK_FROM_P]
    if checked:
        lx.axvspan(min(checked) * 0.93, max(ps) * 1.07, color="#f0f0f0", zorder=0)
    lx.set_ylabel("top lock site")
    lx.scatter([], [], s=140, facecolors="none", edgecolors=REAL_COLOUR, label="real Go")
    lx.scatter([], [], s=70, marker="x", color="#555555", label="gosim")
    lx.legend(loc="upper left", fontsize="x-small", ncol=2)
    _gomaxprocs_axis(lx, ps, log=max(ps) / min(ps) >= 8)

    def mark(ok: bool) -> str:
        return "ok" if ok else "FAIL"

    ends = ", ".join(f"{e.gomaxprocs} P " + (f"x{e.ratio:.2f}" if math.isfinite(e.ratio) else "-")
                     for e in verdict.ends)
    fig.suptitle(f"{verdict.label}\npeak P real {verdict.real_peak_p} / sim "
                 f"{verdict.sim_peak_p if verdict.sim_peak_p is not None else '-'} "
                 f"({mark(verdict.peak_ok)}); {ends} ({mark(verdict.ends_ok)}); top lock "
                 f"({mark(verdict.top_lock_ok)})", fontsize="medium")
    fig.tight_layout()
    return fig


def draw_case_plots(cases: list[tuple[pd.DataFrame, CaseVerdict]], plots_dir: Path) -> list[Path]:
    """One ``<case>.png`` per case into ``plots_dir`` (replaced as a whole, atomically)."""
    from gosim.atomic_write import atomic_dir

    names = []
    with atomic_dir(plots_dir) as tmp:
        for rows, verdict in cases:
            fig = plot_case(rows, verdict)
            name = f"{case_slug(verdict.label)}.png"
            fig.savefig(tmp / name, dpi=110, bbox_inches="tight")
            plt.close(fig)
            names.append(name)
    plt.close("all")
    return [plots_dir / n for n in names]
