"""Queries with prefetch (fusion, rrf with k and weights, formula, re-ranking by a vector,
nested prefetches, filters, thresholds, paging) answer as qdrant-client's local mode does."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from shoal import Client, errors
from shoal import models as m

N, DIM = 120, 6
RNG = np.random.default_rng(7)
A = RNG.standard_normal((N, DIM)).round(3)
B = RNG.standard_normal((N, DIM)).round(3)
Q = RNG.standard_normal((2, DIM)).round(3)


@pytest.fixture(scope="module")
def both() -> Any:
    theirs = QdrantClient(":memory:")
    ours = Client()
    vectors = {"a": qm.VectorParams(size=DIM, distance=qm.Distance.COSINE),
               "b": qm.VectorParams(size=DIM, distance=qm.Distance.EUCLID)}  # fmt: skip
    theirs.create_collection("c", vectors)
    ours.create_collection(
        "c",
        {
            "a": m.VectorParams(size=DIM, distance="Cosine"),
            "b": m.VectorParams(size=DIM, distance="Euclid"),
        },
    )
    points = [
        qm.PointStruct(id=i, vector={"a": A[i].tolist(), "b": B[i].tolist()},
                       payload={"w": i % 7, "x": float(i) / 10})
        for i in range(N)
    ]  # fmt: skip
    theirs.upsert("c", points)
    ours.upsert("c", [m.PointStruct(**p.model_dump()) for p in points])
    yield ours, theirs
    ours.close()
    theirs.close()


def pre(using: str, q: int, limit: int = 15, **kw: Any) -> qm.Prefetch:
    return qm.Prefetch(query=Q[q].tolist(), using=using, limit=limit, **kw)


W3 = qm.Filter(must=[qm.FieldCondition(key="w", match=qm.MatchAny(any=[1, 2, 3]))])
CASES: dict[str, dict[str, Any]] = {
    "rrf": {"prefetch": [pre("a", 0), pre("b", 1)], "query": qm.FusionQuery(fusion=qm.Fusion.RRF)},
    "dbsf": {
        "prefetch": [pre("a", 0), pre("b", 0)],
        "query": qm.FusionQuery(fusion=qm.Fusion.DBSF),
    },
    "rrf k weights": {
        "prefetch": [pre("a", 0), pre("b", 1, limit=20)],
        "query": qm.RrfQuery(rrf=qm.Rrf(k=5, weights=[1.0, 3.0])),
    },
    "rerank by vector": {"prefetch": [pre("b", 0, limit=30)], "query": Q[1].tolist(), "using": "a"},
    "formula": {
        "prefetch": [pre("a", 0), pre("b", 1)],
        "query": qm.FormulaQuery(
            formula=qm.SumExpression(sum=["$score[0]", qm.MultExpression(mult=[0.5, "x"])])
        ),
    },
    "outer filter, offset, threshold": {
        "prefetch": [pre("a", 0, limit=40), pre("b", 1, limit=40)],
        "query": qm.FusionQuery(fusion=qm.Fusion.RRF),
        "query_filter": W3, "offset": 2, "limit": 5, "score_threshold": 0.3,
    },
    "nested": {
        "prefetch": qm.Prefetch(prefetch=[pre("a", 0, limit=30), pre("b", 0, limit=30)],
                                query=qm.FusionQuery(fusion=qm.Fusion.DBSF), limit=12),
        "query": Q[0].tolist(), "using": "a",
    },
    "nested formula over payload": {
        "prefetch": qm.Prefetch(
            prefetch=[pre("a", 0, limit=30), pre("b", 1, limit=30)],
            query=qm.FormulaQuery(formula=qm.MultExpression(mult=["$score[1]", "x"])),
            limit=10,
        ),
        "query": qm.FusionQuery(fusion=qm.Fusion.RRF),
    },
    "prefetch filter": {
        "prefetch": [pre("a", 1, filter=W3), pre("b", 1)],
        "query": qm.FusionQuery(fusion=qm.Fusion.RRF),
    },
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_prefetch_agrees_with_local_mode(both: Any, case: str) -> None:
    ours, theirs = both
    kwargs = CASES[case]
    expected = theirs.query_points("c", with_payload=True, **kwargs).points
    got = ours.query_points("c", with_payload=True, **kwargs).points
    assert [p.id for p in got] == [p.id for p in expected]
    for g, e in zip(got, expected, strict=True):
        assert math.isclose(g.score, e.score, rel_tol=1e-4, abs_tol=1e-5), (g, e)
        assert g.payload == e.payload
    assert got, "the case returned nothing: it tests nothing"


def test_bad_combinations_are_refused(both: Any) -> None:
    ours, _ = both
    deep = pre("a", 0)
    for _ in range(8):  # nine levels
        deep = qm.Prefetch(prefetch=deep, query=qm.FusionQuery(fusion=qm.Fusion.RRF))
    with pytest.raises(errors.InvalidQuery, match="more than 8 levels"):
        ours.query_points("c", prefetch=deep, query=qm.FusionQuery(fusion=qm.Fusion.RRF))
    with pytest.raises(errors.InvalidQuery, match="give prefetch"):
        ours.query_points("c", query=qm.FusionQuery(fusion=qm.Fusion.RRF))
    with pytest.raises(errors.InvalidQuery, match="weights"):
        ours.query_points(
            "c", prefetch=[pre("a", 0)], query=qm.RrfQuery(rrf=qm.Rrf(weights=[1, 2]))
        )
    with pytest.raises(errors.InvalidQuery, match=r"unknown variable|Invalid reserved word"):
        ours.query_points("c", prefetch=[pre("a", 0)], query=qm.FormulaQuery(formula="$nope"))
    with pytest.raises(errors.InvalidQuery, match="Not existing vector name"):
        ours.query_points("c", prefetch=[pre("zz", 0)], query=qm.FusionQuery(fusion=qm.Fusion.RRF))


def test_the_official_client_over_http_gets_the_same(both: Any) -> None:
    from threaded_server import serve_in_thread

    ours, theirs = both
    with serve_in_thread(ours._transport.database()) as url:  # the same engine, served
        remote = QdrantClient(url=url, prefer_grpc=False, check_compatibility=False)
        try:
            for case in ("rrf", "formula", "nested"):
                kwargs = CASES[case]
                got = remote.query_points("c", with_payload=True, **kwargs).points
                expected = theirs.query_points("c", with_payload=True, **kwargs).points
                assert [p.id for p in got] == [p.id for p in expected], case
        finally:
            remote.close()


def test_an_empty_prefetch_list_is_no_prefetch(both: Any) -> None:
    """``prefetch=[]`` is a plain query in local mode (a filter expression, which a
    query with prefetches refuses, works then); fusion with it has nothing to fuse."""
    ours, theirs = both
    flt = qm.Filter(must=[qm.FieldCondition(key="w", match=qm.MatchValue(value=1))])
    for client, given in ((theirs, flt), (ours, flt), (ours, "w == 1")):
        found = client.query_points(
            "c", query=Q[0].tolist(), using="a", prefetch=[], query_filter=given, limit=5
        ).points
        plain = theirs.query_points("c", query=Q[0].tolist(), using="a", query_filter=flt, limit=5)
        assert [p.id for p in found] == [p.id for p in plain.points]
    with pytest.raises(ValueError, match="without prefetches"):
        theirs.query_points("c", query=qm.FusionQuery(fusion=qm.Fusion.RRF), prefetch=[])
    with pytest.raises(errors.InvalidQuery, match="give prefetch"):
        ours.query_points("c", query=qm.FusionQuery(fusion=qm.Fusion.RRF), prefetch=[])


def test_a_filter_expression_with_prefetch_is_its_structured_equivalent(both: Any) -> None:
    """Embedded, an expression filter on a query with prefetches is converted as Shoal's
    HTTP client converts it before sending (it used to be refused embedded only): the same
    points as the structured filter in local mode. One with no structured equivalent is
    NotSupported, naming why; an invalid one keeps its InvalidFilter."""
    ours, theirs = both
    flt = qm.Filter(must=[qm.FieldCondition(key="w", match=qm.MatchValue(value=1))])
    for fused_or_reranked in ("rrf", "rerank by vector", "nested"):
        kwargs = CASES[fused_or_reranked]
        found = ours.query_points("c", query_filter="w == 1", limit=5, **kwargs).points
        expected = theirs.query_points("c", query_filter=flt, limit=5, **kwargs).points
        assert found and [p.id for p in found] == [p.id for p in expected], fused_or_reranked
    case = CASES["rrf"]
    with pytest.raises(errors.NotSupported, match="arithmetic"):
        ours.query_points("c", query_filter="w + 1 == 2", **case)
    with pytest.raises(errors.InvalidFilter, match="end of the expression"):
        ours.query_points("c", query_filter="w ==", **case)
