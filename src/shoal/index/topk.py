"""The k-th best of many scores, without ``np.partition``.

numpy 2's partition (a SIMD quickselect on this machine's AVX-512) slows down some fifteen
times on arrays with few distinct values: 100,000 scores of two values took 14 ms against
1 ms for random ones, and 1,000 took 74 µs where a full sort takes 6. Scores like that are
common, not contrived: BM25 gives equal documents equal scores, an ``order_by`` key has a few
hundred values over 100,000 points. Sorting is fast on both, and a sample keeps what is
sorted small.
"""

from __future__ import annotations

import numpy as np

# Above this many values, the k-th best of an even sample of _SAMPLE of them (never above
# the k-th best of all) first discards the values below it.
_SAMPLE = 2048


def kth_largest(values: np.ndarray, k: int) -> float:
    """The ``k``-th largest of ``values`` (1 <= k <= len(values); ties counted apart, as
    ``np.sort(values)[-k]``).

    Raises:
        ValueError: k is out of range.
    """
    n = len(values)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    if n > 2 * _SAMPLE:
        sample = np.sort(values[:: n // _SAMPLE])
        if k <= len(sample):
            values = values[values >= sample[len(sample) - k]]
    return float(np.sort(values)[len(values) - k])


def floor_of_best(values: np.ndarray, k: int) -> float:
    """A value at or below the ``k``-th largest of ``values``, cheap to find: the k-th
    largest of an even sample of them (-inf when the sample is too small to say)."""
    sample = values[:: max(1, len(values) // _SAMPLE)]
    if len(sample) <= k:
        return -np.inf
    return float(np.sort(sample)[len(sample) - k])
