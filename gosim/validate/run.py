"""Run claims through the experiment runner and compute their verdicts.

Each claim has two experiments (the claim and its ablation). They run through
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
from typing import Any

import pandas as pd

from gosim.validate.claim import Claim, load_claim
from gosim.validate.figures import Figure, compute


@dataclass
class Verdict:
    """One row of the verdict table."""

    claim: Claim
    figure: Figure
    ablation_figure: Figure
    tables: dict[str, pd.DataFrame]
    ablation_tables: dict[str, pd.DataFrame]
    #: runs that raised, claim + ablation
    failed_runs: int

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


def _run_one(path: str, quick: bool, ablation: bool, out_dir: str) -> tuple[str, int]:
    """Worker: load a claim and run one of its experiments (in-process)."""
    from gosim.runner import run_experiment

    claim = load_claim(Path(path), quick=quick)
    exp = claim.ablation_experiment if ablation else claim.experiment
    outcome = run_experiment(exp, out_dir=out_dir, jobs=1, progress=False, plots=False)
    return str(outcome.results_dir), outcome.n_failed


def _estimated_runs(claim: Claim, ablation: bool) -> int:
    exp = claim.ablation_experiment if ablation else claim.experiment
    return sum(r.scenario.gomaxprocs for r in exp.runs)


def run_claims(claims: list[Claim], out_dir: Path, *, quick: bool = False,
               jobs: int = 1) -> list[Verdict]:
    """Run every claim's experiment and ablation, then compute the verdicts."""
    from gosim.runner.writer import read_tables

    tasks = [(c, abl) for c in claims for abl in (False, True)]
    tasks.sort(key=lambda t: -_estimated_runs(*t))  # long ones first
    args = [(str(c.path), quick, abl, str(out_dir)) for c, abl in tasks]
    if jobs <= 1:
        results = [_run_one(*a) for a in args]
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(args)), mp_context=ctx) as pool:
            results = list(pool.map(_run_one, *zip(*args, strict=True)))
    done = {(t[0].name, t[1]): r for t, r in zip(tasks, results, strict=True)}
    verdicts = []
    for c in claims:
        (d, nf), (da, nfa) = done[(c.name, False)], done[(c.name, True)]
        tables, atables = read_tables(Path(d)), read_tables(Path(da))
        verdicts.append(Verdict(c, compute(c.check, tables), compute(c.check, atables),
                                tables, atables, nf + nfa))
    return verdicts
