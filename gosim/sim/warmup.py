"""Warm-up truncation of a simulated time series (MSER-5).

:func:`mser5_truncation`: the MSER-5 warm-up truncation point (White 1997;
White, Cobb & Spratt 2000): batch the series in means of 5, and choose the
number d of leading batches to drop that minimises
``MSER(d) = sum_{i>d} (Y_i - mean(Y_{d+1..k}))^2 / (k - d)^2``, searching
d over the first half of the batches only (the usual guard against the
statistic's instability near the end of the series).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def batch_means(series: Sequence[float] | np.ndarray, batch_size: int) -> np.ndarray:
    """Means of consecutive non-overlapping batches (a trailing partial batch is dropped)."""
    x = np.asarray(series, dtype=float)
    k = x.size // batch_size
    return x[: k * batch_size].reshape(k, batch_size).mean(axis=1)


def mser_statistic(y: Sequence[float] | np.ndarray) -> np.ndarray:
    """``MSER(d)`` for d = 0..k-1 over the (batched) series ``y``."""
    y = np.asarray(y, dtype=float)
    k = y.size
    # suffix sums give every tail's mean and sum of squares in O(k)
    s1 = np.cumsum(y[::-1])[::-1]
    s2 = np.cumsum((y * y)[::-1])[::-1]
    m = k - np.arange(k)  # observations kept after dropping d
    sse = s2 - s1 * s1 / m  # sum (y - mean)^2 over the tail
    return np.maximum(sse, 0.0) / (m * m)


def mser5_truncation(series: Sequence[float] | np.ndarray, batch_size: int = 5,
                     max_fraction: float = 0.5) -> int:
    """Observations to drop from the start of ``series`` as warm-up (MSER-5).

    Returns a multiple of ``batch_size`` (0 when the series is too short to
    judge: fewer than 2 batches).
    """
    y = batch_means(series, batch_size)
    k = y.size
    if k < 2:
        return 0
    stat = mser_statistic(y)
    limit = max(1, int(k * max_fraction))
    d = int(np.argmin(stat[:limit]))  # first minimum on ties
    return d * batch_size


def truncated_mean(series: Sequence[float] | np.ndarray, batch_size: int = 5) -> float:
    """Mean of ``series`` after the MSER-5 warm-up is dropped."""
    x = np.asarray(series, dtype=float)
    if x.size == 0:
        return math.nan
    return float(x[mser5_truncation(x, batch_size):].mean())
