"""Multivectors (``multivector_config`` with MaxSim) answer as in qdrant-client's local mode,
on randomised multivectors of every distance, named beside a dense vector and unnamed, over
every transport (embedded, in-process ASGI, real socket): nearest queries (lists of
vectors, ``NearestQuery``, point ids, MMR), filters, paging, score thresholds, recommend (each
strategy), discover and context, prefetch with fusion and re-ranking, groups, batches, the
stored vectors (retrieve, scroll) and their updates and deletions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from test_recommend_vs_qdrant_local import pair, recommend
from test_sparse_vs_qdrant_local import assert_same_ranking
from transports import TRANSPORTS, shoal_client

from shoal import Client
from shoal import models as m

N, DIM = 80, 4
RNG = np.random.default_rng(42)
MAX_SIM = qm.MultiVectorConfig(comparator=qm.MultiVectorComparator.MAX_SIM)
DISTANCES = (qm.Distance.COSINE, qm.Distance.DOT, qm.Distance.EUCLID, qm.Distance.MANHATTAN)


def multi(rng: np.random.Generator, most: int = 5) -> list[list[float]]:
    """A multivector of 1..``most`` rows."""
    rows = int(rng.integers(1, most + 1))
    out: list[list[float]] = rng.standard_normal((rows, DIM)).round(5).tolist()
    return out


POINTS = [
    qm.PointStruct(
        id=i,
        # every 7th point lacks its multivector
        vector={"d": RNG.standard_normal(DIM).round(5).tolist()}
        | ({"m": multi(RNG)} if i % 7 else {}),
        payload={"g": i % 3, "i": i},
    )
    for i in range(N)
]
Q = [multi(RNG, 3) for _ in range(6)]
G1 = qm.Filter(must=[qm.FieldCondition(key="g", match=qm.MatchValue(value=1))])


def create(client: Any, distance: qm.Distance) -> None:
    client.create_collection(
        "c",
        vectors_config={
            "m": qm.VectorParams(size=DIM, distance=distance, multivector_config=MAX_SIM),
            "d": qm.VectorParams(size=DIM, distance=distance),
        },
    )
    client.upsert("c", POINTS)


BY_EXAMPLES: list[Any] = [
    *(
        recommend(strategy, positive, negative)
        for strategy in ("average_vector", "best_score", "sum_scores")
        for positive, negative in (([1, Q[0]], [3]), ([Q[1]], []), ([2, 8], [Q[2], 11]))
    ),
    recommend("best_score", [], [3, Q[3]]),
    qm.DiscoverQuery(discover=qm.DiscoverInput(target=5, context=[pair(6, Q[0]), pair(8, 9)])),
    qm.ContextQuery(context=[pair(6, 10), pair(Q[2], 9)]),
]


def searches(distance: qm.Distance) -> list[dict[str, Any]]:
    """The query_points calls compared, as keyword arguments."""
    out: list[dict[str, Any]] = []
    for q in [*Q[:3], qm.NearestQuery(nearest=Q[3]), 4, *BY_EXAMPLES]:
        out.append({"query": q, "using": "m", "limit": 8})
        if not isinstance(q, qm.ContextQuery):  # its many scores of 0 tie across a page
            out.append({"query": q, "using": "m", "limit": 4, "offset": 3, "query_filter": G1})
    for mmr, extra in (
        (qm.Mmr(diversity=0.6, candidates_limit=30), {}),
        (qm.Mmr(diversity=0.3), {"offset": 2, "query_filter": G1}),
    ):  # MMR over MaxSim, candidate against candidate
        out.append(
            {"query": qm.NearestQuery(nearest=Q[2], mmr=mmr), "using": "m", "limit": 8} | extra
        )
    threshold = {qm.Distance.COSINE: 1.0, qm.Distance.DOT: 0.5}.get(distance, 4.0)
    out += [
        {"query": Q[4], "using": "m", "limit": 50, "score_threshold": threshold},
        {"query": Q[5], "using": "m", "limit": 5, "with_vectors": True, "with_payload": ["i"]},
        {  # the ColBERT pattern: dense candidates re-ranked by MaxSim
            "prefetch": qm.Prefetch(query=POINTS[0].vector["d"], using="d", limit=30),  # type: ignore[index]
            "query": Q[0],
            "using": "m",
            "limit": 7,
        },
        {  # multivector leaves fused
            "prefetch": [
                qm.Prefetch(query=Q[1], using="m", limit=15),
                qm.Prefetch(query=BY_EXAMPLES[4], using="m", limit=15, filter=G1),
            ],
            "query": qm.FusionQuery(fusion=qm.Fusion.RRF),
            "limit": 10,
        },
    ]
    return out


def compare(ours: Client, theirs: QdrantClient, distance: qm.Distance, what: str) -> None:
    for kwargs in searches(distance):
        want = theirs.query_points("c", **kwargs).points
        got = ours.query_points("c", **kwargs).points
        # sum_scores and context subtract MaxSim sums of tens, rounded to float32 by local mode
        assert_same_ranking(got, want, f"{what}: {kwargs}", abs_tol=2e-5)
        if kwargs.get("with_vectors"):
            for p in got:
                (record,) = theirs.retrieve("c", [p.id], with_vectors=True)
                assert p.payload == {"i": p.id}
                assert np.allclose(p.vector["m"], record.vector["m"], atol=1e-5), kwargs  # type: ignore[index]
    for q in (Q[1], BY_EXAMPLES[4]):
        kwargs = {"query": q, "using": "m", "group_by": "g", "group_size": 2, "limit": 3}
        want_groups = theirs.query_points_groups("c", **kwargs).groups
        got_groups = ours.query_points_groups("c", **kwargs).groups
        assert [g.id for g in got_groups] == [g.id for g in want_groups], (what, kwargs)
        for got_group, want_group in zip(got_groups, want_groups, strict=True):
            assert_same_ranking(got_group.hits, want_group.hits, f"{what}: groups {kwargs}")
    requests = [qm.QueryRequest(query=q, using="m", limit=5, filter=G1) for q in Q[:4]]
    for got_r, want_r in zip(
        ours.query_batch_points("c", requests),
        theirs.query_batch_points("c", requests),
        strict=True,
    ):
        assert_same_ranking(got_r.points, want_r.points, f"{what}: batch")


def stored(client: Any) -> dict[Any, Any]:
    """Every point's vectors, rounded."""
    records = client.scroll("c", limit=N + 10, with_vectors=True)[0]
    return {
        r.id: {name: np.round(vec, 4).tolist() for name, vec in r.vector.items()}
        if isinstance(r.vector, dict)
        else np.round(r.vector, 4).tolist()
        for r in records
    }


def change(client: Any) -> None:
    """Replace, add and delete multivectors."""
    client.update_vectors(
        "c",
        [
            qm.PointVectors(id=1, vector={"m": Q[5]}),
            qm.PointVectors(id=7, vector={"m": Q[4]}),  # had none
        ],
    )
    client.delete_vectors("c", vectors=["m"], points=[13, 20])
    client.upsert("c", [qm.PointStruct(id=N + 1, vector={"m": Q[0], "d": [0.5] * DIM})])


@pytest.mark.parametrize("distance", DISTANCES)
def test_multivectors_agree_with_local_mode_embedded(distance: qm.Distance, tmp_path: Path) -> None:
    theirs = QdrantClient(":memory:")
    create(theirs, distance)
    with shoal_client("embedded", tmp_path) as ours:
        create(ours, distance)
        compare(ours, theirs, distance, str(distance))
        assert stored(ours) == stored(theirs)
        change(ours)
        change(theirs)
        assert stored(ours) == stored(theirs)
        compare(ours, theirs, distance, f"{distance} after changes")
    theirs.close()


@pytest.mark.parametrize("transport", TRANSPORTS[1:])
def test_multivectors_agree_with_local_mode_served(transport: str, tmp_path: Path) -> None:
    theirs = QdrantClient(":memory:")
    create(theirs, qm.Distance.EUCLID)
    with shoal_client(transport, tmp_path) as ours:
        create(ours, qm.Distance.EUCLID)
        shown = ours.get_collection("c").config.params.vectors["m"]  # type: ignore[index]
        assert shown.multivector_config == m.MultiVectorConfig(comparator="max_sim")
        compare(ours, theirs, qm.Distance.EUCLID, transport)
        change(ours)
        change(theirs)
        assert stored(ours) == stored(theirs)
    theirs.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unnamed_multivector_agrees_with_local_mode(transport: str, tmp_path: Path) -> None:
    points = [qm.PointStruct(id=i, vector=multi(RNG), payload={"i": i}) for i in range(30)]
    config = qm.VectorParams(size=DIM, distance=qm.Distance.DOT, multivector_config=MAX_SIM)
    theirs = QdrantClient(":memory:")
    theirs.create_collection("c", vectors_config=config)
    theirs.upsert("c", points)
    with shoal_client(transport, tmp_path) as ours:
        ours.create_collection("c", vectors_config=config)
        ours.upsert("c", points)
        for query in (Q[0], 3, qm.NearestQuery(nearest=Q[1])):
            got = ours.query_points("c", query=query, limit=6, with_vectors=True).points
            want = theirs.query_points("c", query=query, limit=6, with_vectors=True).points
            assert_same_ranking(got, want, f"{transport}: {query}")
            for p in got:
                assert np.allclose(p.vector, points[int(p.id)].vector, atol=1e-6)  # type: ignore[arg-type]
        assert stored(ours) == stored(theirs)
    theirs.close()
