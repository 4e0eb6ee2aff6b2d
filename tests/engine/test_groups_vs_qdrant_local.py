"""query_points_groups answers as qdrant-client's local mode does: group order, hits per
group, values in arrays, points whose value cannot name a group, paging by group count."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from shoal import Client, errors
from shoal import models as m

N, DIM = 150, 4
RNG = np.random.default_rng(11)
DATA = RNG.standard_normal((N, DIM)).round(2)


def payload(i: int) -> dict[str, Any]:
    kinds: list[Any] = [i % 6, f"t{i % 4}", [i % 3, f"x{i % 2}"], True, 1.5, None]
    return {"g": kinds[i % len(kinds)], "k": i % 5, "n": {"g": i % 7}}


@pytest.fixture(scope="module")
def both() -> Any:
    theirs = QdrantClient(":memory:")
    ours = Client()
    theirs.create_collection("c", qm.VectorParams(size=DIM, distance=qm.Distance.COSINE))
    ours.create_collection("c", m.VectorParams(size=DIM, distance="Cosine"))
    points = [qm.PointStruct(id=i, vector=DATA[i].tolist(), payload=payload(i)) for i in range(N)]
    theirs.upsert("c", points)
    ours.upsert("c", [m.PointStruct(**p.model_dump()) for p in points])
    # Another collection: looked up by group value, and the source of lookup_from vectors.
    for client, params in ((theirs, qm.VectorParams), (ours, m.VectorParams)):
        client.create_collection("other", {"o": params(size=DIM, distance="Cosine")})
    others = [
        qm.PointStruct(id=i, vector={"o": DATA[-1 - i].tolist()}, payload={"about": i})
        for i in range(6)
    ]
    theirs.upsert("other", others)
    ours.upsert("other", [m.PointStruct(**p.model_dump()) for p in others])
    yield ours, theirs
    ours.close()
    theirs.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"group_by": "g"},
        {"group_by": "g", "limit": 4, "group_size": 5},
        {"group_by": "k", "limit": 3, "group_size": 40},  # groups bigger than a first fetch
        {"group_by": "n.g", "with_payload": ["k"]},
        {
            "group_by": "k",
            "query_filter": qm.Filter(must=[qm.FieldCondition(key="k", range=qm.Range(gte=2))]),
        },
        {"group_by": "k", "with_lookup": "other"},
        {
            "group_by": "k",
            "with_lookup": qm.WithLookup(collection="other", with_payload=False, with_vectors=True),
        },
    ],
)
def test_groups_agree_with_local_mode(both: Any, kwargs: dict[str, Any]) -> None:
    ours, theirs = both
    query = DATA[0].tolist()
    expected = theirs.query_points_groups("c", query=query, **kwargs).groups
    got = ours.query_points_groups("c", query=query, **kwargs).groups
    assert [g.id for g in got] == [g.id for g in expected]
    for g, e in zip(got, expected, strict=True):
        assert [p.id for p in g.hits] == [p.id for p in e.hits]
        assert [p.payload for p in g.hits] == [p.payload for p in e.hits]
        assert np.allclose([p.score for p in g.hits], [p.score for p in e.hits], atol=1e-5)
        assert (g.lookup is None) == (e.lookup is None)
        if g.lookup is not None:
            assert g.lookup.id == e.lookup.id and g.lookup.payload == e.lookup.payload
            assert (g.lookup.vector is None) == (e.lookup.vector is None)
    assert got


def test_bad_groupings_are_refused(both: Any) -> None:
    ours, _ = both
    with pytest.raises(errors.InvalidQuery, match="group_size"):
        ours.query_points_groups("c", group_by="g", query=DATA[0].tolist(), group_size=0)
    with pytest.raises(errors.InvalidQuery, match="group_by"):
        ours.query_points_groups("c", group_by="", query=DATA[0].tolist())
    with pytest.raises(errors.CollectionNotFound, match="nowhere"):
        ours.query_points_groups("c", group_by="k", query=DATA[0].tolist(), with_lookup="nowhere")


@pytest.mark.parametrize("prefetched", [False, True])
def test_lookup_from_agrees_with_local_mode(both: Any, prefetched: bool) -> None:
    ours, theirs = both
    lookup = qm.LookupLocation(collection="other", vector="o")
    kwargs: dict[str, Any] = {"query": 3, "lookup_from": lookup, "limit": 6}
    if prefetched:
        kwargs = {"prefetch": qm.Prefetch(query=4, lookup_from=lookup, limit=20), **kwargs}
    expected = theirs.query_points("c", **kwargs).points
    got = ours.query_points("c", **kwargs).points
    assert [p.id for p in got] == [p.id for p in expected]
    assert np.allclose([p.score for p in got], [p.score for p in expected], atol=1e-5)
    with pytest.raises(errors.PointNotFound):
        ours.query_points("c", query=99, lookup_from=lookup)
    grouped = {"group_by": "k", "query": 3, "lookup_from": lookup, "limit": 3}
    expected_groups = theirs.query_points_groups("c", **grouped).groups
    got_groups = ours.query_points_groups("c", **grouped).groups
    assert [[p.id for p in g.hits] for g in got_groups] == [
        [p.id for p in g.hits] for g in expected_groups
    ]
