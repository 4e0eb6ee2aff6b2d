"""Recommend (each strategy), discover and context queries answer as in qdrant-client's
local mode, on randomised dense vectors of every distance and on sparse vectors (with and
without IDF), over every transport (embedded, in-process ASGI, real socket): examples by
vector and by point id (left out of the answer), filters, paging, score thresholds,
payloads and vectors, ``lookup_from``, inside a prefetch and grouped; and bad input is
refused naming the bad value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from test_sparse_vs_qdrant_local import assert_same_ranking, sparse
from transports import TRANSPORTS, beside_local_mode, shoal_client

from shoal import Client
from shoal.errors import InvalidQuery, PointNotFound, WrongVectorSize

N, DIM = 150, 5
RNG = np.random.default_rng(21)
POINTS = [
    qm.PointStruct(
        id=i,
        vector={"d": RNG.standard_normal(DIM).round(3).tolist()},
        payload={"g": i % 3, "i": i},
    )
    for i in range(N)
]
OTHER = [  # lookup_from's collection: other vectors under the same ids
    qm.PointStruct(id=i, vector={"o": RNG.standard_normal(DIM).round(3).tolist()})
    for i in range(20)
]
V = RNG.standard_normal((4, DIM)).round(3).tolist()
G1 = qm.Filter(must=[qm.FieldCondition(key="g", match=qm.MatchValue(value=1))])
DISTANCES = (qm.Distance.COSINE, qm.Distance.DOT, qm.Distance.EUCLID, qm.Distance.MANHATTAN)


def create(client: Any, distance: qm.Distance) -> None:
    client.create_collection(
        "c", vectors_config={"d": qm.VectorParams(size=DIM, distance=distance)}
    )
    client.upsert("c", POINTS)
    client.create_collection(
        "other", vectors_config={"o": qm.VectorParams(size=DIM, distance=distance)}
    )
    client.upsert("other", OTHER)


def recommend(strategy: str, positive: list[Any], negative: list[Any]) -> qm.RecommendQuery:
    return qm.RecommendQuery(
        recommend=qm.RecommendInput(positive=positive, negative=negative, strategy=strategy)
    )


def pair(positive: Any, negative: Any) -> qm.ContextPair:
    return qm.ContextPair(positive=positive, negative=negative)


QUERIES: list[Any] = [
    *(
        recommend(strategy, positive, negative)
        for strategy in ("average_vector", "best_score", "sum_scores")
        for positive, negative in (([1, V[0]], [3]), ([V[1]], []), ([2, 7], [V[2], 11]))
    ),
    recommend("best_score", [], [3, V[3]]),  # negatives only
    recommend("sum_scores", [], [4]),
    qm.DiscoverQuery(discover=qm.DiscoverInput(target=5, context=[pair(6, V[0]), pair(8, 9)])),
    qm.DiscoverQuery(discover=qm.DiscoverInput(target=V[1], context=[])),
    qm.ContextQuery(context=[pair(6, 7), pair(V[2], 9)]),
    qm.ContextQuery(context=pair(10, 12)),
]


def searches(distance: qm.Distance) -> list[dict[str, Any]]:
    """The query_points calls compared, as keyword arguments."""
    out: list[dict[str, Any]] = []
    for q in QUERIES:
        out.append({"query": q, "using": "d", "limit": 8})
        out.append({"query": q, "using": "d", "limit": 4, "offset": 3, "query_filter": G1})
    if distance in (qm.Distance.COSINE, qm.Distance.DOT):
        # Scores by examples are bigger-is-better whatever the distance; local mode tests
        # the threshold by the distance's order (keeping the scores below it for Euclid and
        # Manhattan), so it is compared on similarities only.
        out += [
            {"query": QUERIES[3], "using": "d", "limit": 20, "score_threshold": 0.6},
            {"query": QUERIES[6], "using": "d", "limit": 20, "score_threshold": 0.0},
        ]
    out += [
        {"query": QUERIES[4], "using": "d", "limit": 5, "with_vectors": True},
        {"query": QUERIES[5], "using": "d", "limit": 5, "with_payload": ["i"]},
        *(  # example ids read from the other collection: not left out here
            {
                "query": q,
                "using": "d",
                "limit": 6,
                "lookup_from": qm.LookupLocation(collection="other", vector="o"),
            }
            for q in (QUERIES[1], QUERIES[4], QUERIES[11], QUERIES[13])
        ),
        *in_prefetches(QUERIES[4], QUERIES[7], QUERIES[11]),
    ]
    return out


def in_prefetches(rerank: Any, first: Any, second: Any) -> list[dict[str, Any]]:
    """query_points calls with queries on vector "d" and prefetches: ``rerank`` re-ranking
    a vector query's 40 nearest; ``first`` and ``second`` inside prefetches (the second
    filtered), fused."""
    return [
        {  # candidates from a prefetch, re-ranked by examples
            "prefetch": qm.Prefetch(query=V[3], using="d", limit=40),
            "query": rerank,
            "using": "d",
            "limit": 7,
        },
        {  # examples inside a prefetch, fused
            "prefetch": [
                qm.Prefetch(query=first, using="d", limit=15),
                qm.Prefetch(query=second, using="d", limit=15, filter=G1),
            ],
            "query": qm.FusionQuery(fusion=qm.Fusion.RRF),
            "limit": 10,
        },
    ]


def compare(ours: Client, theirs: QdrantClient, distance: qm.Distance, what: str) -> None:
    for kwargs in searches(distance):
        want = theirs.query_points("c", **kwargs).points
        got = ours.query_points("c", **kwargs).points
        assert_same_ranking(got, want, f"{what}: {kwargs}")
        for p in got:  # (tied points may differ: checked by id)
            full = {"g": p.id % 3, "i": p.id}
            assert p.payload == ({"i": p.id} if kwargs.get("with_payload") else full), kwargs
            if kwargs.get("with_vectors"):
                (record,) = theirs.retrieve("c", [p.id], with_vectors=True)
                assert np.allclose(p.vector["d"], record.vector["d"], atol=1e-5), kwargs  # type: ignore[index]
    for q in (QUERIES[1], QUERIES[4], QUERIES[9]):  # grouped by payload g
        kwargs = {"query": q, "using": "d", "group_by": "g", "group_size": 2, "limit": 3}
        want_groups = theirs.query_points_groups("c", **kwargs).groups
        got_groups = ours.query_points_groups("c", **kwargs).groups
        assert [g.id for g in got_groups] == [g.id for g in want_groups], (what, kwargs)
        for got_group, want_group in zip(got_groups, want_groups, strict=True):
            assert_same_ranking(got_group.hits, want_group.hits, f"{what}: groups {kwargs}")


@pytest.mark.parametrize("distance", DISTANCES)
def test_queries_by_examples_agree_with_local_mode_embedded(
    distance: qm.Distance, tmp_path: Path
) -> None:
    with beside_local_mode("embedded", tmp_path, create, distance) as (ours, theirs):
        compare(ours, theirs, distance, str(distance))


@pytest.mark.parametrize("transport", TRANSPORTS[1:])
def test_queries_by_examples_agree_with_local_mode_served(transport: str, tmp_path: Path) -> None:
    with beside_local_mode(transport, tmp_path, create, qm.Distance.EUCLID) as (ours, theirs):
        compare(ours, theirs, qm.Distance.EUCLID, transport)


BAD: list[tuple[Any, type[Exception], str]] = [
    (recommend("average_vector", [], [3]), InvalidQuery, "Positive list is empty"),
    (recommend("best_score", [], []), InvalidQuery, "No positive or negative examples given"),
    (recommend("sum_scores", [99999], []), PointNotFound, "99999"),
    (recommend("best_score", [[1.0, 2.0]], []), WrongVectorSize, "2"),
    (qm.ContextQuery(context=[]), InvalidQuery, "No target or context given"),
    (qm.DiscoverQuery(discover=qm.DiscoverInput(target=4242, context=[])), PointNotFound, "4242"),
]


@pytest.mark.parametrize("transport", TRANSPORTS[:2])
@pytest.mark.parametrize(("query", "error", "names"), BAD)
def test_bad_examples_are_refused_naming_them(
    transport: str, query: Any, error: type[Exception], names: str, tmp_path: Path
) -> None:
    with shoal_client(transport, tmp_path) as ours:
        create(ours, qm.Distance.COSINE)
        with pytest.raises(error, match=names):
            ours.query_points("c", query=query, using="d")


@pytest.mark.parametrize("transport", TRANSPORTS[:2])
def test_lookup_from_an_unknown_vector_name_is_refused_in_qdrants_words(
    transport: str, tmp_path: Path
) -> None:
    """qdrant-client's test_dense_query_lookup_from_negative matches the server's words."""
    with shoal_client(transport, tmp_path) as ours:
        create(ours, qm.Distance.COSINE)
        lookup = qm.LookupLocation(collection="other", vector="i-do-not-exist")
        with pytest.raises(InvalidQuery, match="Not existing vector name error"):
            ours.query_points("c", query=recommend("average_vector", [1], []), using="d",
                              lookup_from=lookup)  # fmt: skip


def test_unknown_strategy_is_refused(tmp_path: Path) -> None:
    with shoal_client("embedded", tmp_path) as ours:
        create(ours, qm.Distance.COSINE)
        bad = {"recommend": {"positive": [1], "strategy": "loudest"}}
        with pytest.raises(InvalidQuery, match="loudest"):
            ours.query_points("c", query=bad, using="d")  # type: ignore[arg-type]


# ------------------------------------------------------------------ sparse vectors

SPARSE_POINTS = [
    qm.PointStruct(
        id=i,
        vector={"s": sparse(RNG), "p": sparse(RNG)} if i % 6 else {"p": sparse(RNG)},
        payload={"g": i % 3, "i": i},
    )
    for i in range(N)
]
S = [sparse(RNG) for _ in range(3)]
SPARSE_QUERIES: list[Any] = [
    *(
        recommend(strategy, positive, negative)
        for strategy in ("average_vector", "best_score", "sum_scores")
        for positive, negative in (([1, S[0]], [3]), ([S[1]], []), ([2, 7], [S[2], 11]))
    ),
    recommend("best_score", [], [3, S[0]]),
    qm.DiscoverQuery(discover=qm.DiscoverInput(target=5, context=[pair(7, S[0]), pair(8, 9)])),
    qm.ContextQuery(context=[pair(7, 13), pair(S[1], 9)]),
]


def create_sparse(client: Any) -> None:
    client.create_collection(
        "c",
        vectors_config={},
        sparse_vectors_config={
            "s": qm.SparseVectorParams(modifier=qm.Modifier.IDF),
            "p": qm.SparseVectorParams(),
        },
    )
    client.upsert("c", SPARSE_POINTS)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sparse_queries_by_examples_agree_with_local_mode(transport: str, tmp_path: Path) -> None:
    theirs = QdrantClient(":memory:")
    create_sparse(theirs)
    with shoal_client(transport, tmp_path) as ours:
        create_sparse(ours)
        for q in SPARSE_QUERIES:
            for kwargs in (
                {"query": q, "using": "s", "limit": 8},
                {"query": q, "using": "p", "limit": 5, "query_filter": G1},
                {  # IDF counted over the points of G1 only
                    "query": q,
                    "using": "s",
                    "limit": 6,
                    "search_params": qm.SearchParams(idf=qm.IdfCorpusParams(corpus=G1)),
                },
            ):
                want = theirs.query_points("c", **kwargs).points
                got = ours.query_points("c", **kwargs).points
                assert_same_ranking(got, want, f"{transport}: {kwargs}")
    theirs.close()
