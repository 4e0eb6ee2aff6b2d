"""Groups of writes applied at once equal the same writes applied one by one.

A committed group's vector writes are gathered and made once per column
(``state._ColumnWrites``): a deleted point's row may be reused by a new point of the same
group, a point may lose one named vector and keep another. Hypothesis drives random
groups through ``Collection.write_many`` and checks, after each group, every point's
vectors against a dict model, and every column's bookkeeping (count, presence, zeroed
rows, squared norms) against its matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal import models as m
from shoal.engine import Database
from shoal.errors import InvalidVector, WrongVectorSize

DIM = 3
NAMES = ("a", "b")
components = st.integers(-4, 4).map(float)
vector = st.lists(components, min_size=DIM, max_size=DIM).filter(lambda v: any(v))
named = st.dictionaries(st.sampled_from(NAMES), vector, min_size=1, max_size=2)
op = st.one_of(
    st.tuples(st.just("upsert"), st.integers(0, 7), named),
    st.tuples(st.just("delete"), st.integers(0, 7), st.none()),
)
groups = st.lists(st.lists(op, min_size=1, max_size=8), min_size=1, max_size=6)


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


@settings(max_examples=150, deadline=None)
@given(groups)
def test_a_group_applies_like_its_writes_in_order(plan: list[list[tuple[Any, ...]]]) -> None:
    db = Database()
    db.create_collection(
        "c",
        m.CreateCollection(vectors={n: m.VectorParams(size=DIM, distance="Cosine") for n in NAMES}),
    )
    col = db.collection("c")
    model: dict[int, dict[str, list[float]]] = {}
    for group in plan:
        ops: list[m.UpdateOperation] = []
        for kind, pid, vectors in group:
            if kind == "upsert":
                points = m.PointsList(points=[m.PointStruct(id=pid, vector=vectors)])
                ops.append(m.UpsertOperation(upsert=points))
                model[pid] = vectors
            else:
                ops.append(m.DeleteOperation(delete=m.PointIdsList(points=[pid])))
                model.pop(pid, None)
        results = col.write_many(ops)
        assert all(isinstance(r, m.UpdateResult) for r in results), results
        got = {p.id: p.vector for p in col.retrieve(list(range(8)), with_vector=True)}
        assert set(got) == set(model)
        for pid, vectors in model.items():
            stored = got[pid]
            assert isinstance(stored, dict) and set(stored) == set(vectors)
            for name, v in vectors.items():
                np.testing.assert_allclose(stored[name], _unit(v), rtol=1e-6, atol=1e-6)
        st_ = col.state
        for name in NAMES:
            c = st_.columns[name]
            assert c.count == sum(name in v for v in model.values())
            rows = np.arange(st_.high)
            live = st_.alive[: st_.high]
            assert not (c.present[: st_.high] & ~live).any()
            absent = rows[~c.present[: st_.high]]
            assert not c.data[absent].any()
            np.testing.assert_allclose(
                c.sqnorm[: st_.high],
                np.einsum("ij,ij->i", c.data[: st_.high], c.data[: st_.high]),
                atol=1e-6,
            )
    db.close()


def test_bad_vectors_in_a_group_fail_only_their_own_write() -> None:
    # The group's vectors are converted together; a bad one falls back to the per-point
    # check, which names it, and the other writes of the group still commit.
    db = Database()
    db.create_collection(
        "c",
        m.CreateCollection(vectors={n: m.VectorParams(size=DIM, distance="Cosine") for n in NAMES}),
    )
    col = db.collection("c")
    batch = m.Batch(ids=[5, 6], vectors={"a": [[1.0, 0, 0], [0, 1.0, 0]]})
    ops: list[m.UpdateOperation] = [
        m.UpsertOperation(upsert=m.PointsList(points=[p]))
        for p in (
            m.PointStruct(id=1, vector={"a": [1.0, 2.0, 3.0]}),
            m.PointStruct(id=2, vector={"a": [1.0, float("nan"), 3.0]}),
            m.PointStruct(id=3, vector={"b": [1.0, 2.0]}),
            m.PointStruct(id=4, vector={"c": [1.0, 2.0, 3.0]}),
        )
    ]
    ops.append(m.UpsertOperation(upsert=m.PointsBatch(batch=batch)))
    results = col.write_many(ops)
    assert isinstance(results[0], m.UpdateResult) and isinstance(results[4], m.UpdateResult)
    assert isinstance(results[1], InvalidVector) and "point 2" in str(results[1])
    assert isinstance(results[2], WrongVectorSize) and "point 3" in str(results[2])
    assert isinstance(results[3], InvalidVector) and "'c'" in str(results[3])
    assert sorted(p.id for p in col.retrieve([1, 2, 3, 4, 5, 6])) == [1, 5, 6]
    db.close()
