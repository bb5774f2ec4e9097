"""Statistics over replications and time series.

- :func:`t_confidence_interval`: the Student-t interval for the mean of n
  independent replications, ``mean +/- t_{1-a/2, n-1} * s / sqrt(n)`` (s the
  sample standard deviation, n - 1 in the denominator). Replications use
  independent seeds (gosim.config), so the t interval applies.

The MSER-5 warm-up rule lives with the simulation that applies it
(:mod:`gosim.sim.warmup`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConfidenceInterval:
    mean: float
    #: half width; NaN when n < 2 (no spread to estimate)
    half_width: float
    n: int
    std: float
    confidence: float

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


def t_confidence_interval(values: Sequence[float] | np.ndarray,
                          confidence: float = 0.95) -> ConfidenceInterval:
    """Student-t confidence interval for the mean; NaN values are ignored."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return ConfidenceInterval(math.nan, math.nan, 0, math.nan, confidence)
    mean = float(x.mean())
    if n == 1:
        return ConfidenceInterval(mean, math.nan, 1, math.nan, confidence)
    std = float(x.std(ddof=1))
    # the t quantile as scipy.stats.t.ppf computes it (its _ppf is stdtrit; the
    # same float), without importing scipy.stats: 0.5 s, scipy.special 0.2 s
    from scipy.special import stdtrit

    t = float(stdtrit(n - 1, 0.5 + confidence / 2))
    return ConfidenceInterval(mean, t * std / math.sqrt(n), n, std, confidence)
