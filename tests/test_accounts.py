"""Accounts: the arithmetic shortcut for evenly spaced completions counts
exactly what the general (numpy) path counts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gosim.sim.accounts import Accounts


@settings(max_examples=300, deadline=None)
@given(first=st.integers(0, 3_000_000), d=st.integers(0, 50_000), k=st.integers(1, 400),
       lat=st.integers(0, 5_000), series=st.sampled_from([None, 1_000_000]))
def test_evenly_spaced_completions_count_as_the_general_path(
        first: int, d: int, k: int, lat: int, series: int | None) -> None:
    T = series  # a timed run's end sets the bin width (T // 1000); completions stay before it
    if T is not None and first + (k - 1) * d >= T:
        return
    fast = Accounts(T, 1, None)
    slow = Accounts(T, 1, None)
    fast.complete_every(first, d, k, lat)
    slow.complete(first + d * np.arange(k, dtype=np.int64), lat)
    assert fast.completed == slow.completed == k
    assert fast.hist == slow.hist == {lat: k}
    n = max(len(fast.comp_bins), len(slow.comp_bins))
    a = np.zeros(n, dtype=np.int64)
    b = np.zeros(n, dtype=np.int64)
    a[:len(fast.comp_bins)] = fast.comp_bins
    b[:len(slow.comp_bins)] = slow.comp_bins
    assert a.tolist() == b.tolist() and int(a.sum()) == k


@settings(max_examples=300, deadline=None)
@given(ivs=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["slow_path", "work", "hold:mheap"]),
                              st.integers(0, 40), st.integers(-5, 40)), max_size=40),
       T=st.sampled_from([None, 300, 1000]))
def test_p_time_sums_every_interval_clipped_at_the_end(ivs, T) -> None:
    """``account`` holds back and merges adjoining intervals; once flushed, P
    time is the sum of every interval clipped at the run's end, as adding each
    (checked against a plain sum, with runs of adjoining intervals built in)."""
    acct = Accounts(T, 3, None)
    ref: list[dict[str, int]] = [{}, {}, {}]
    t = 0
    for p, cat, gap, dur in ivs:
        t += gap if gap % 3 else 0  # a third adjoin the interval before
        start, end = t, t + dur
        acct.account(p, cat, start, end)
        s, e = start, end if T is None else min(end, T)
        if (T is None or start < T) and e > s:
            ref[p][cat] = ref[p].get(cat, 0) + e - s
        t = max(t, end)
    acct.flush()
    assert acct.ptime == ref
