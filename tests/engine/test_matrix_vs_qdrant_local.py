"""The distance matrix as qdrant-client's local mode computes it: with a sample at least as
large as the points eligible (matching the filter, having the vector) every point is drawn,
so pairs and offsets must equal local mode's (points in id order, integers before UUIDs,
each one's nearest others best first, for each distance); a smaller sample is checked
against the brute-force neighbours of whichever points were drawn. Embedded and over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from shoal import Client, errors
from shoal import models as m

DIM = 4
DISTANCES = {"cos": "Cosine", "dot": "Dot", "euc": "Euclid", "man": "Manhattan"}
UUIDS = ["f0000000-0000-4000-8000-000000000001", "0a000000-0000-4000-8000-000000000002"]
IDS: list[Any] = [*range(3, 17), *UUIDS]


def data(seed: int) -> list[qm.PointStruct]:
    rng = np.random.default_rng(seed)
    out = []
    for i, pid in enumerate(IDS):
        vectors = {name: rng.standard_normal(DIM).round(3).tolist() for name in DISTANCES}
        if i % 5 == 1:
            del vectors["euc"]  # points without a vector are never drawn for it
        out.append(qm.PointStruct(id=pid, vector=vectors, payload={"group": i % 3}))
    return out


@pytest.fixture(scope="module")
def ours(memory_client: Client) -> Client:
    return memory_client


@pytest.fixture(scope="module", params=[1, 42])
def both(request: pytest.FixtureRequest, ours: Client) -> Iterator[tuple[Client, QdrantClient]]:
    theirs = QdrantClient(":memory:")
    points = data(request.param)
    theirs.create_collection(
        "d", {n: qm.VectorParams(size=DIM, distance=d) for n, d in DISTANCES.items()}
    )
    theirs.upsert("d", points)
    ours.create_collection(
        "d", {n: m.VectorParams(size=DIM, distance=d) for n, d in DISTANCES.items()}
    )
    ours.upsert("d", [m.PointStruct(**p.model_dump()) for p in points])
    yield ours, theirs
    ours.delete_collection("d")
    theirs.close()


NOT_GROUP_2 = qm.Filter(must_not=[qm.FieldCondition(key="group", match=qm.MatchValue(value=2))])


@pytest.mark.parametrize("using", list(DISTANCES))
@pytest.mark.parametrize(("flt", "limit"), [(None, 3), (None, 50), (NOT_GROUP_2, 1)])
def test_whole_sample_matrix_agrees_with_local_mode(
    both: tuple[Client, QdrantClient], using: str, flt: qm.Filter | None, limit: int
) -> None:
    ours, theirs = both
    kwargs: dict[str, Any] = {"query_filter": flt, "limit": limit, "sample": 100, "using": using}
    want, got = (
        theirs.search_matrix_pairs("d", **kwargs).pairs,
        ours.search_matrix_pairs("d", **kwargs).pairs,
    )
    assert [(p.a, p.b) for p in got] == [(p.a, p.b) for p in want]
    assert np.allclose([p.score for p in got], [p.score for p in want], atol=1e-4)
    assert got
    want_o, got_o = (
        theirs.search_matrix_offsets("d", **kwargs),
        ours.search_matrix_offsets("d", **kwargs),
    )
    assert got_o.ids == want_o.ids
    assert got_o.ids == sorted(got_o.ids, key=lambda i: (isinstance(i, str), i))  # UUIDs last
    assert any(isinstance(i, str) for i in got_o.ids)
    assert (got_o.offsets_row, got_o.offsets_col) == (want_o.offsets_row, want_o.offsets_col)
    assert np.allclose(got_o.scores, want_o.scores, atol=1e-4)


def test_a_smaller_sample_has_each_drawn_points_nearest(both: tuple[Client, QdrantClient]) -> None:
    ours, _ = both
    eligible = {
        r.id: np.asarray(r.vector["euc"])
        for r in ours.scroll("d", limit=100, with_vectors=["euc"])[0]
        if r.vector
    }
    drawn = set()
    for _ in range(8):
        got = ours.search_matrix_offsets("d", sample=5, limit=2, using="euc")
        assert len(got.ids) == 5 and set(got.ids) <= eligible.keys()
        assert got.ids == sorted(got.ids, key=lambda i: (isinstance(i, str), i))
        drawn |= set(got.ids)
        for row, pid in enumerate(got.ids):
            mine = [k for k, r in enumerate(got.offsets_row) if r == row]
            others = [q for q in got.ids if q != pid]
            dist = {q: float(np.linalg.norm(eligible[pid] - eligible[q])) for q in others}
            assert [got.ids[got.offsets_col[k]] for k in mine] == sorted(others, key=dist.get)[:2]
            assert np.allclose([got.scores[k] for k in mine], sorted(dist.values())[:2], atol=1e-4)
    assert len(drawn) > 5  # the draw is random


def test_too_few_points_give_an_empty_matrix(both: tuple[Client, QdrantClient]) -> None:
    ours, theirs = both
    one = qm.Filter(must=[qm.HasIdCondition(has_id=[3])])
    assert ours.search_matrix_pairs("d", one, using="cos") == m.SearchMatrixPairsResponse(pairs=[])
    assert theirs.search_matrix_pairs("d", one, using="cos").pairs == []
    empty = ours.search_matrix_offsets("d", one, using="cos")
    assert (empty.ids, empty.offsets_row, empty.offsets_col, empty.scores) == ([], [], [], [])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"using": "nope"}, errors.InvalidQuery, "Not existing vector name error: 'nope'"),
        ({}, errors.InvalidQuery, "Not existing vector name error: ''"),  # vectors are named
        (
            {"using": "cos", "sample": 1},
            errors.InvalidQuery,
            "sample must be an integer >= 2, got 1",
        ),
        (
            {"using": "cos", "sample": -4},
            errors.InvalidQuery,
            "sample must be an integer >= 2, got -4",
        ),
        ({"using": "cos", "limit": 0}, errors.InvalidQuery, "limit must be an integer >= 1, got 0"),
        (
            {"using": "cos", "limit": -1},
            errors.InvalidQuery,
            "limit must be an integer >= 1, got -1",
        ),
        ({"using": "cos", "query_filter": "group >"}, errors.InvalidFilter, "group"),
        ({"using": "cos", "shard_key_selector": 1}, errors.NotSupported, "shard_key"),
    ],
)
def test_bad_matrix_requests_are_refused_naming_the_value(
    both: tuple[Client, QdrantClient], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    ours, _ = both
    for method in (ours.search_matrix_pairs, ours.search_matrix_offsets):
        with pytest.raises(error, match=message):
            method("d", **kwargs)
    with pytest.raises(errors.CollectionNotFound, match="nowhere"):
        ours.search_matrix_pairs("nowhere")
