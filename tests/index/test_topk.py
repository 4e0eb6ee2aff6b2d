"""``shoal.index.topk``: the k-th best of scores, exact on any input (the sample that
discards most of a large input never discards one of its k best), on few distinct values
(the input numpy's partition is slow on) and many."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.index.topk import floor_of_best, kth_largest


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 20_000),
    distinct=st.integers(1, 50),
    k_share=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_kth_largest_is_the_kth_of_a_sort(n: int, distinct: int, k_share: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    levels = rng.standard_normal(distinct)
    values = levels[rng.integers(0, distinct, n)]
    values[rng.random(n) < 0.1] = -np.inf  # deleted rows' scores
    k = 1 + int(k_share * (n - 1))
    want = np.sort(values)[n - k]
    assert kth_largest(values, k) == want
    assert floor_of_best(values, k) <= want


def test_kth_largest_of_sorted_and_reversed_runs() -> None:
    values = np.arange(10_000, dtype=np.float64)  # an even sample of a sorted run
    for v in (values, values[::-1].copy()):
        assert [kth_largest(v, k) for k in (1, 2, 2048, 10_000)] == [9999, 9998, 7952, 0]


@pytest.mark.parametrize("k", [0, 4])
def test_kth_largest_out_of_range(k: int) -> None:
    with pytest.raises(ValueError, match=r"k must be in 1\.\.3"):
        kth_largest(np.zeros(3), k)
