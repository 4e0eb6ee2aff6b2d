"""Maximal marginal relevance answers as qdrant-client's local mode does, for each distance,
diversity, candidate count and offset; bad parameters are refused naming them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from shoal import Client, errors
from shoal import models as m

N, DIM = 200, 5
RNG = np.random.default_rng(3)
DATA = RNG.standard_normal((N, DIM)).round(2)
# Near-duplicates, so that diversity changes the answer.
DATA[100:140] = DATA[:40] + RNG.normal(0, 0.01, (40, DIM)).round(3)
QUERIES = RNG.standard_normal((3, DIM)).round(2)
DISTANCES = ["Cosine", "Dot", "Euclid", "Manhattan"]


@pytest.fixture(scope="module")
def both() -> Any:
    theirs = QdrantClient(":memory:")
    ours = Client()
    for d in DISTANCES:
        theirs.create_collection(d, {"v": qm.VectorParams(size=DIM, distance=qm.Distance(d))})
        ours.create_collection(d, {"v": m.VectorParams(size=DIM, distance=d)})
        points = [qm.PointStruct(id=i, vector={"v": DATA[i].tolist()}) for i in range(N)]
        theirs.upsert(d, points)
        ours.upsert(d, [m.PointStruct(**p.model_dump()) for p in points])
    yield ours, theirs
    ours.close()
    theirs.close()


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize(
    ("diversity", "candidates", "offset"),
    [(0.5, None, 0), (0.9, 40, 0), (0.0, 30, 0), (0.7, 50, 3)],
)
def test_mmr_agrees_with_local_mode(
    both: Any, distance: str, diversity: float, candidates: int | None, offset: int
) -> None:
    ours, theirs = both
    for q in QUERIES:
        query = qm.NearestQuery(
            nearest=q.tolist(), mmr=qm.Mmr(diversity=diversity, candidates_limit=candidates)
        )
        kwargs: dict[str, Any] = {"query": query, "using": "v", "limit": 8, "offset": offset}
        expected = theirs.query_points(distance, **kwargs).points
        got = ours.query_points(distance, **kwargs).points
        assert [p.id for p in got] == [p.id for p in expected]
        assert np.allclose([p.score for p in got], [p.score for p in expected], atol=1e-4)


def test_diversity_changes_the_answer(both: Any) -> None:
    ours, _ = both
    plain = ours.query_points("Cosine", query=DATA[5].tolist(), using="v", limit=5).points
    mmr = qm.Mmr(diversity=0.9, candidates_limit=50)
    diverse = ours.query_points(
        "Cosine", query=qm.NearestQuery(nearest=DATA[5].tolist(), mmr=mmr), using="v", limit=5
    ).points
    assert [p.id for p in plain][:2] == [5, 105]  # the point and its near-duplicate
    assert 105 not in [p.id for p in diverse]


@pytest.mark.parametrize(
    ("mmr", "named"),
    [({"diversity": 1.5}, "diversity"), ({"candidates_limit": 0}, "candidates_limit")],
)
def test_bad_mmr_is_refused(both: Any, mmr: dict[str, Any], named: str) -> None:
    ours, _ = both
    query = m.NearestQuery(nearest=QUERIES[0].tolist(), mmr=mmr)
    with pytest.raises(errors.InvalidQuery, match=named):
        ours.query_points("Dot", query=query, using="v")
