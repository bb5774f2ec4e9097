"""Workload distributions and their streams."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from gosim.workload import Dist, Lifetime
from gosim.workload.streams import BernoulliStream, Stream

DISTS = [
    {"dist": "const", "value": 48},
    {"dist": "exponential", "mean": 200},
    {"dist": "lognormal", "mean": 300, "sigma": 0.5},
    {"dist": "uniform", "low": 8, "high": 64},
    {"dist": "choice", "values": [16, 48, 1024], "weights": [3, 1, 1]},
    {"dist": "empirical", "values": [8, 8, 24, 4096]},
    {"dist": "histogram", "edges": [16, 64, 512], "weights": [9, 1]},
]


@pytest.mark.parametrize("spec", DISTS)
def test_one_at_a_time_equals_k_at_a_time(spec):
    d = Dist.model_validate(spec)
    a = Stream(d, np.random.SeedSequence(5), integer_support=True)
    b = Stream(d, np.random.SeedSequence(5), integer_support=True)
    one = [a.next() for _ in range(5000)]
    many = []
    rng = np.random.default_rng(0)
    while len(many) < 5000:
        k = int(rng.integers(1, 700))
        many.extend(b.peek(k).tolist())
        b.consume(k)
    assert one == many[:5000]


@pytest.mark.parametrize("spec", DISTS)
def test_sample_mean_matches_distribution_mean(spec):
    d = Dist.model_validate(spec)
    s = Stream(d, np.random.SeedSequence(11), as_int=False)
    x = s.peek(200_000)
    assert x.mean() == pytest.approx(d.mean_value(), rel=0.02)
    assert (x >= 0).all()


def test_integer_sizes_stay_in_support():
    u = Stream(Dist.model_validate({"dist": "uniform", "low": 8, "high": 64}),
               np.random.SeedSequence(1), integer_support=True).peek(100_000)
    assert u.min() == 8 and u.max() == 64
    h = Stream(Dist.model_validate(DISTS[-1]), np.random.SeedSequence(1),
               integer_support=True).peek(100_000)
    assert h.min() >= 16 and h.max() <= 511
    assert (h < 64).mean() == pytest.approx(0.9, abs=0.01)
    c = Stream(Dist.model_validate(DISTS[4]), np.random.SeedSequence(1)).peek(100_000)
    assert set(np.unique(c).tolist()) == {16, 48, 1024}
    assert (c == 16).mean() == pytest.approx(0.6, abs=0.01)


def test_bernoulli_stream():
    s = BernoulliStream(0.25, np.random.SeedSequence(3))
    x = s.peek(100_000)
    assert x.mean() == pytest.approx(0.25, abs=0.01)
    assert BernoulliStream(1.0, np.random.SeedSequence(3)).next() is True
    assert BernoulliStream(0.0, np.random.SeedSequence(3)).next() is False


@pytest.mark.parametrize("bad", [
    {"dist": "exponential"},
    {"dist": "uniform", "low": 9, "high": 3},
    {"dist": "choice", "values": []},
    {"dist": "choice", "values": [1, 2], "weights": [1]},
    {"dist": "histogram", "edges": [8, 4], "weights": [1]},
    {"dist": "histogram", "edges": [8, 16, 32], "weights": [1]},
    {"dist": "const", "value": -1},
    True,
    # strict: no coercion, finite numbers only
    "48",
    {"dist": "const", "value": "5"},
    {"dist": "const", "value": True},
    {"dist": "const", "value": float("inf")},
    {"dist": "choice", "values": [1, float("nan")]},
])
def test_bad_distributions_are_rejected(bad):
    with pytest.raises(ValidationError):
        Dist.model_validate(bad)


@pytest.mark.parametrize("written, kind, value", [
    ("drop", "drop", None), ("keep", "keep", None),
    ({"allocations": 3}, "allocations", 3), ({"time": 500}, "time", 500),
    ({"kind": "time", "value": 500}, "time", 500),
])
def test_lifetime_forms(written, kind, value):
    lt = Lifetime.model_validate(written)
    assert (lt.kind, lt.value) == (kind, value)


@pytest.mark.parametrize("bad", [
    "allocations", {"kind": "time"}, {"time": 0}, {"time": "5"}, {"time": True},
    {"time": 5, "value": 5}, {"weeks": 2}, "forever",
])
def test_bad_lifetimes_are_rejected(bad):
    with pytest.raises(ValidationError):
        Lifetime.model_validate(bad)
