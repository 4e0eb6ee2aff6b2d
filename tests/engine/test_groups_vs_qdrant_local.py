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
    assert got


def test_bad_groupings_are_refused(both: Any) -> None:
    ours, _ = both
    with pytest.raises(errors.InvalidQuery, match="group_size"):
        ours.query_points_groups("c", group_by="g", query=DATA[0].tolist(), group_size=0)
    with pytest.raises(errors.InvalidQuery, match="group_by"):
        ours.query_points_groups("c", group_by="", query=DATA[0].tolist())
    with pytest.raises(errors.NotSupported, match="with_lookup"):
        ours.query_points_groups("c", group_by="g", query=DATA[0].tolist(), with_lookup="other")
