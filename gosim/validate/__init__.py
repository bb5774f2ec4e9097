"""``gosim validate``: the lock-granularity claims of issue 10, each an experiment
(``experiments/claims/*.yaml``) with a check on its results and an ablation that
must fail the check. See docs/validate.md.

``load_claims`` reads claim files, ``run_claims`` runs them through the
experiment runner and returns one :class:`Verdict` per claim, and
``write_report`` writes ``report.md`` with a plot per claim.
"""

from gosim.validate.claim import Check, Claim, load_claims
from gosim.validate.report import write_report
from gosim.validate.run import Verdict, run_claims

__all__ = ["Check", "Claim", "Verdict", "load_claims", "run_claims", "write_report"]
