"""Exact search's top-k selection: largest first, equal scores by row, -inf never picked.

Scores with few distinct values are the case that made numpy's argpartition slow (a hash
embedding gave 6 distinct scores per query); the selection must stay exact on them, ties
broken by row on every path (repeated argmax up to ``_ARGMAX_UPTO``, the k-th best beyond).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from shoal.engine.search import _ARGMAX_UPTO, _best_first

_SCORES = arrays(
    np.float32,
    st.tuples(st.integers(1, 5), st.integers(1, 60)),
    # A handful of values, many ties, and some -inf (deleted rows).
    elements=st.sampled_from([-np.inf, -1.0, 0.0, 0.25, 0.5, 1.0]),
)


def _reference(scores: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    out = []
    for row in scores:
        ranked = sorted(range(len(row)), key=lambda i: (-row[i], i))[:k]
        out.append([(i, float(row[i])) for i in ranked if np.isfinite(row[i])])
    return out


@settings(max_examples=300, deadline=None)
@given(_SCORES, st.integers(1, 40))
def test_best_first_matches_a_sort_by_score_then_row(scores: np.ndarray, k: int) -> None:
    k = min(k, scores.shape[1])
    picked, values = _best_first(scores.copy(), k)
    got = [
        [(int(i), float(v)) for i, v in zip(p, vs, strict=True) if np.isfinite(v)]
        for p, vs in zip(picked, values, strict=True)
    ]
    assert got == _reference(scores, k)


def test_selection_is_by_score_then_row_on_rounded_scores() -> None:
    rng = np.random.default_rng(0)
    scores = np.round(rng.standard_normal((3, 200)), 1).astype(np.float32)
    for k in (_ARGMAX_UPTO, 200):  # the argmax path, and all rows (no partition)
        picked, values = _best_first(scores.copy(), k)
        got = [
            list(zip(p.tolist(), v.tolist(), strict=True))
            for p, v in zip(picked, values, strict=True)
        ]
        assert got == [
            [(i, float(r[i])) for i in sorted(range(200), key=lambda i: (-r[i], i))[:k]]
            for r in scores
        ]
