"""``gosim validate``: run the lock-granularity claims and print their verdicts."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gosim.errors import ConfigError, GosimError

CLAIMS_DIR = Path("experiments") / "claims"


def default_claims_dir() -> Path:
    """``experiments/claims`` under the working directory, else the gosim
    checkout's (the claims are the repository's experiments, not package data,
    as ``configs/`` are); a non-editable install run elsewhere names the
    directory with ``--claims-dir``."""
    here = CLAIMS_DIR
    if here.is_dir():
        return here
    checkout = Path(__file__).resolve().parents[2] / CLAIMS_DIR
    return checkout if checkout.is_dir() else here


class Format(StrEnum):
    table = "table"
    json = "json"


class ClaimsFailedError(GosimError):
    """A claim failed its check or an ablation passed it: exit status 1."""

    exit_code = 1


def validate(
    quick: Annotated[bool, typer.Option(
        "--quick", help="fewer Ps, replications and shorter runs (each claim's quick: section)")
    ] = False,
    claim: Annotated[list[str] | None, typer.Option(
        "--claim", "-c", help="run only this claim (file name without .yaml); repeatable",
        show_default=False)] = None,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", help="experiments run in parallel (0 = every CPU)")] = 0,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="results: OUT/report.md, OUT/plots/, OUT/claim-<name>/")
    ] = Path("results") / "validate",
    fmt: Annotated[Format, typer.Option("--format", help="table | json")] = Format.table,
    claims_dir: Annotated[Path | None, typer.Option(
        "--claims-dir", help="where the claim files are (default: experiments/claims in the "
                             "working directory, else in the gosim checkout)",
        show_default=False)] = None,
) -> None:
    """Run the claims in experiments/claims/ (each an experiment and a check on
    its results, with an ablation that must fail the check), print the verdict
    table and write OUT/report.md with one plot per claim.

    Exit status: 0 every claim passes and every ablation fails; 1 otherwise;
    2 bad input (unknown claim, bad --out, malformed claim file)."""
    from gosim.runner.core import check_results_dir, default_jobs
    from gosim.validate.claim import load_claims

    if jobs < 0:
        raise ConfigError(f"--jobs: expected 0 (every CPU) or more, got {jobs}")
    claims_dir = claims_dir or default_claims_dir()
    if not claims_dir.is_dir():
        raise ConfigError(f"--claims-dir: {claims_dir} is not a directory of claim files "
                          "(run from a gosim checkout, or name the directory with --claims-dir)")
    claims = load_claims(claims_dir, claim, quick=quick)  # ConfigError -> exit 2
    check_results_dir(out)  # exit 2, nothing written

    from gosim.validate.report import table_rows, write_report
    from gosim.validate.run import run_claims

    verdicts = run_claims(claims, out, quick=quick, jobs=jobs or default_jobs())
    report = write_report(verdicts, out, quick=quick)
    if fmt is Format.json:
        print(json.dumps([v.as_json() for v in verdicts], indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        from gosim.commands._console import print_table

        t = Table(title="gosim validate" + (" --quick" if quick else "")
                  + " (mean [95% CI] over replications)")
        for col in ("claim", "measured", "threshold", "verdict", "ablation",
                    "ablation measured", "ablation verdict"):
            t.add_column(col)
        for row in table_rows(verdicts):
            t.add_row(*row)
        console = Console()
        print_table(console, t)
        console.print(f"Report: [bold]{report}[/]")
    bad = [v.claim.name for v in verdicts if not v.as_expected]
    if bad:
        raise ClaimsFailedError(f"{len(bad)} of {len(verdicts)} claims did not pass with their "
                                f"ablation failing: {', '.join(bad)} (see {report})")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
