"""Run claims through the experiment runner and compute their verdicts.

Each claim has two experiments (the claim and its ablation), three when its
check reports a size mix. They run through
``gosim.runner.run_experiment`` like any experiment, so results land in
``OUT/<experiment name>/`` with the usual tables and run cache. With
``jobs > 1`` whole experiments run in parallel worker processes (one
in-process runner each): the claims' runs are small, and starting one process
pool per experiment would cost more than the runs.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from gosim.validate.claim import Claim, load_claim
from gosim.validate.figures import Figure, compute

if TYPE_CHECKING:
    from gosim.config import Experiment


@dataclass
class Verdict:
    """One row of the verdict table."""

    claim: Claim
    figure: Figure
    ablation_figure: Figure
    tables: dict[str, pd.DataFrame]
    ablation_tables: dict[str, pd.DataFrame]
    #: runs that raised, claim + ablation (+ mix)
    failed_runs: int
    #: the check's size mix (``check.mix``), when it has one
    mix_tables: dict[str, pd.DataFrame] | None = None

    @property
    def passed(self) -> bool:
        return self.claim.check.threshold.holds(self.figure.mean)

    @property
    def ablation_passed(self) -> bool:
        return self.claim.check.threshold.holds(self.ablation_figure.mean)

    @property
    def as_expected(self) -> bool:
        """The claim passes and its ablation fails."""
        return self.passed and not self.ablation_passed and not self.failed_runs

    def as_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if x != x else x

        c = self.claim.check
        return {
            "claim": self.claim.name,
            "measured": num(self.figure.mean),
            "ci_low": num(self.figure.ci_low),
            "ci_high": num(self.figure.ci_high),
            "threshold": c.threshold.text(),
            "verdict": "pass" if self.passed else "fail",
            "ablation": c.ablation.name,
            "ablation_measured": num(self.ablation_figure.mean),
            "ablation_verdict": "pass" if self.ablation_passed else "fail",
        }


#: a claim's experiments: the claim, its ablation, its size mix (``check.mix``)
Which = Literal["claim", "ablation", "mix"]


def _experiment(claim: Claim, which: Which) -> Experiment:
    exp = {"claim": claim.experiment, "ablation": claim.ablation_experiment,
           "mix": claim.mix_experiment}[which]
    assert exp is not None
    return exp


def _run_one(path: str, quick: bool, which: Which, out_dir: str) -> tuple[str, int]:
    """Worker: load a claim and run one of its experiments (in-process)."""
    from gosim.runner import run_experiment

    claim = load_claim(Path(path), quick=quick)
    exp = _experiment(claim, which)
    outcome = run_experiment(exp, out_dir=out_dir, jobs=1, progress=False, plots=False)
    return str(outcome.results_dir), outcome.n_failed


def _estimated_runs(claim: Claim, which: Which) -> int:
    return sum(r.scenario.gomaxprocs for r in _experiment(claim, which).runs)


def run_claims(claims: list[Claim], out_dir: Path, *, quick: bool = False,
               jobs: int = 1) -> list[Verdict]:
    """Run every claim's experiment and ablation, then compute the verdicts."""
    from gosim.runner.writer import read_tables

    tasks: list[tuple[Claim, Which]] = [
        (c, w) for c in claims
        for w in ("claim", "ablation", "mix") if w != "mix" or c.mix_experiment is not None]
    tasks.sort(key=lambda t: -_estimated_runs(*t))  # long ones first
    args = [(str(c.path), quick, w, str(out_dir)) for c, w in tasks]
    if jobs <= 1:
        results = [_run_one(*a) for a in args]
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(args)), mp_context=ctx) as pool:
            results = list(pool.map(_run_one, *zip(*args, strict=True)))
    done = {(t[0].name, t[1]): r for t, r in zip(tasks, results, strict=True)}
    verdicts = []
    for c in claims:
        (d, nf), (da, nfa) = done[(c.name, "claim")], done[(c.name, "ablation")]
        tables, atables = read_tables(Path(d)), read_tables(Path(da))
        mix, nfm = None, 0
        if (c.name, "mix") in done:
            dm, nfm = done[(c.name, "mix")]
            mix = read_tables(Path(dm))
        verdicts.append(Verdict(c, compute(c.check, tables), compute(c.check, atables),
                                tables, atables, nf + nfa + nfm, mix))
    return verdicts
