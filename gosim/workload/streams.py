"""Random streams that give identical values however they are consumed.

Each stream draws uniforms from its own numpy Generator in fixed blocks and
transforms the whole block at once into final integer values (ns or bytes).
Taking one value at a time (step mode) or k at a time (batched mode) thus
sees exactly the same sequence: the reproducibility contract.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from gosim.workload.spec import Dist

BLOCK: Final = 2048


def _num(v: float | None) -> float:
    """A parameter the schema requires for the distribution at hand."""
    assert v is not None
    return float(v)


def transform(d: Dist, u: np.ndarray, *, integer_support: bool,
              as_int: bool = True) -> np.ndarray:
    """Map uniforms in [0, 1) to draws of ``d``: int64 rounded half up, or float64."""
    k = d.dist
    if k == "const":
        x = np.full(u.shape, _num(d.value))
    elif k == "exponential":
        x = -_num(d.mean) * np.log1p(-u)
    elif k == "lognormal":
        from scipy.special import ndtri  # imported here: scipy costs ~0.5 s to import

        sigma = _num(d.sigma)
        mean = _num(d.mean)
        mu = np.log(mean) - sigma * sigma / 2 if mean > 0 else -np.inf
        x = np.exp(mu + sigma * ndtri(u))
    elif k == "uniform":
        lo, hi = _num(d.low), _num(d.high)
        if integer_support:  # every integer in [low, high] equally likely
            return (np.floor(lo + u * (np.floor(hi) - np.ceil(lo) + 1))).astype(np.int64)
        x = lo + u * (hi - lo)
    elif k == "choice":
        vals = np.asarray(d.values, dtype=float)
        w = np.asarray(d.weights if d.weights else [1.0] * len(vals), dtype=float)
        cw = np.cumsum(w) / w.sum()
        idx = np.minimum(np.searchsorted(cw, u, side="right"), len(vals) - 1)
        x = vals[idx]
    elif k == "histogram":
        e = np.asarray(d.edges, dtype=float)
        w = np.asarray(d.weights, dtype=float)
        cw = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
        i = np.clip(np.searchsorted(cw, u, side="right") - 1, 0, len(w) - 1)
        frac = np.where(w[i] > 0, (u - cw[i]) / np.where(cw[i + 1] > cw[i], cw[i + 1] - cw[i], 1), 0)
        x = e[i] + np.clip(frac, 0, 1) * (e[i + 1] - e[i])
        if integer_support:  # sizes: integers in [edge_i, edge_i+1)
            return np.minimum(np.floor(x), np.ceil(e[i + 1]) - 1).astype(np.int64)
    elif k == "empirical":
        vals = np.asarray(d.values, dtype=float)
        x = vals[np.minimum((u * len(vals)).astype(np.int64), len(vals) - 1)]
    else:  # pragma: no cover - schema prevents it
        raise ValueError(k)
    return np.floor(x + 0.5).astype(np.int64) if as_int else x


class _Buffered:
    """Draws in fixed blocks; ``next``/``peek``/``consume`` read the same sequence."""

    __slots__ = ("rng", "buf", "pos", "const")

    def __init__(self, seed: np.random.SeedSequence, dtype: type) -> None:
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.buf = np.empty(0, dtype=dtype)
        self.pos = 0
        self.const: Any = None

    def _block(self) -> np.ndarray:
        raise NotImplementedError

    def _fill(self, need: int) -> None:
        rest = self.buf[self.pos:]
        nblocks = max(1, -(-(need - len(rest)) // BLOCK))
        self.buf = np.concatenate([rest, *(self._block() for _ in range(nblocks))])
        self.pos = 0

    def _next_raw(self) -> Any:
        if self.pos >= len(self.buf):
            self._fill(1)
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def peek(self, n: int) -> np.ndarray:
        if self.const is not None:
            return np.full(n, self.const, dtype=self.buf.dtype)
        if self.pos + n > len(self.buf):
            self._fill(n)
        return self.buf[self.pos:self.pos + n]

    def consume(self, n: int) -> None:
        if self.const is None:
            self.pos += n


class Stream(_Buffered):
    """A buffered stream of draws from one distribution (int ns/bytes, or floats)."""

    __slots__ = ("dist", "integer_support", "as_int")

    def __init__(self, d: Dist, seed: np.random.SeedSequence, *, integer_support: bool = False,
                 as_int: bool = True):
        super().__init__(seed, np.int64 if as_int else np.float64)
        self.dist = d
        self.integer_support = integer_support
        self.as_int = as_int
        if d.dist == "const":
            self.const = int(np.floor(_num(d.value) + 0.5)) if as_int else _num(d.value)

    def _block(self) -> np.ndarray:
        return transform(self.dist, self.rng.random(BLOCK), integer_support=self.integer_support,
                         as_int=self.as_int)

    def next(self) -> Any:
        """The next draw: an int (``as_int``) or a float."""
        if self.const is not None:
            return self.const
        v = self._next_raw()
        return int(v) if self.as_int else float(v)


class BernoulliStream(_Buffered):
    """A stream of booleans, True with probability p (p in {0, 1} draws nothing)."""

    __slots__ = ("p",)

    def __init__(self, p: float, seed: np.random.SeedSequence) -> None:
        super().__init__(seed, bool)
        self.p = p
        self.const = True if p >= 1 else (False if p <= 0 else None)

    def _block(self) -> np.ndarray:
        return self.rng.random(BLOCK) < self.p

    def next(self) -> bool:
        if self.const is not None:
            return self.const
        return bool(self._next_raw())
