"""The multivector arena against a model: after any sequence of sets and clears (through
growth and compaction) every row reads back what was last written, and MaxSim scores match
a direct computation of qdrant-client's local-mode formulas, for every distance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal import models as m
from shoal.index import multivector
from shoal.index.multivector import MultiColumn, shown_scores

DIM = 3
ROWS = 12


def local_mode_score(query: np.ndarray, doc: np.ndarray, distance: m.Distance) -> float:
    """``calculate_multi_distance`` of qdrant_client/local/multi_distances.py, for one doc."""
    q64, d64 = query.astype(np.float64), doc.astype(np.float64)
    if distance == m.Distance.EUCLID:
        sims = -np.square(q64[:, None] - d64[None]).sum(-1)
        return float(np.sqrt(abs(sims.max(-1).sum())))
    if distance == m.Distance.MANHATTAN:
        sims = -np.abs(q64[:, None] - d64[None]).sum(-1)
        return float(abs(sims.max(-1).sum()))
    return float((q64 @ d64.T).max(-1).sum())


matrices = st.integers(1, 4).flatmap(
    lambda n: st.lists(
        st.lists(st.floats(-4, 4, width=32), min_size=DIM, max_size=DIM), min_size=n, max_size=n
    )
)
ops = st.lists(
    st.tuples(st.integers(0, ROWS - 1), st.one_of(st.none(), matrices)), min_size=1, max_size=60
)


# (the fixture's one patch holds for every example)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=ops, query=matrices, distance=st.sampled_from(list(m.Distance)))
def test_arena_reads_back_and_scores_as_local_mode(
    ops: list[tuple[int, list[list[float]] | None]],
    query: list[list[float]],
    distance: m.Distance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(multivector, "_MIN_ARENA", 4)  # grows and compacts within a test
    col = MultiColumn(m.VectorParams(size=DIM, distance=distance), ROWS)
    model: dict[int, np.ndarray] = {}
    for row, value in ops:
        if value is None:
            col.clear_rows([row])
            model.pop(row, None)
        else:
            col.set_rows([row], [np.asarray(value, np.float32)])
            model[row] = np.asarray(value, np.float32)
    for row in range(ROWS):
        got = col.vector(row)
        assert (got is None) == (row not in model)
        if got is not None:
            assert np.array_equal(got, model[row])
    assert col.count == len(model)
    rows = np.asarray(sorted(model), np.int64)
    if not len(rows):
        return
    q = np.asarray(query, np.float32)
    # the rows in descending order too: runs out of arena order are gathered
    for order in (rows, rows[::-1]):
        scores = shown_scores(col.core([q, q[:1]], order)[0], distance)
        want = [local_mode_score(q, model[int(r)], distance) for r in order]
        assert np.allclose(scores, want, rtol=1e-4, atol=1e-3)
