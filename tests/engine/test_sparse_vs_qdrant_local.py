"""Sparse vectors answer as in qdrant-client's local mode, on randomised data, over every
transport (embedded, in-process ASGI, real socket): search with and without IDF (and IDF
over a corpus filter), filters, paging, thresholds, queries by point id, stored vectors,
hybrid prefetch with RRF and DBSF, re-ranking by a sparse vector, MMR, and the same after
overwrites, deletes, ``update_vectors`` and ``delete_vectors``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from transports import TRANSPORTS, shoal_client

from shoal import Client
from shoal.index import sparse as sparse_index

N, DIM, VOCAB = 160, 4, 60
RNG = np.random.default_rng(11)


def sparse(rng: np.random.Generator, shuffled: bool = False) -> qm.SparseVector:
    """A random sparse vector: 1 to 8 indices drawn with a skew (some common, most rare)."""
    size = int(rng.integers(1, 9))
    indices = np.unique((rng.pareto(1.2, size) * 4).astype(int) % VOCAB)
    values = rng.random(len(indices)).round(4) + 0.01
    order = rng.permutation(len(indices)) if shuffled else np.arange(len(indices))
    return qm.SparseVector(indices=indices[order].tolist(), values=values[order].tolist())


def point(i: int, rng: np.random.Generator) -> qm.PointStruct:
    vector: dict[str, Any] = {"d": rng.standard_normal(DIM).round(3).tolist()}
    if i % 7:  # every seventh point has no s
        vector["s"] = sparse(rng, shuffled=i % 3 == 0)
    if i % 5:
        vector["p"] = sparse(rng)
    return qm.PointStruct(id=i, vector=vector, payload={"g": i % 4, "i": i})


POINTS = [point(i, RNG) for i in range(N)]
QUERIES = [sparse(RNG) for _ in range(6)]
DENSE = RNG.standard_normal((2, DIM)).round(3).tolist()
G1 = qm.Filter(must=[qm.FieldCondition(key="g", match=qm.MatchValue(value=1))])
G23 = qm.Filter(must=[qm.FieldCondition(key="g", match=qm.MatchAny(any=[2, 3]))])


def create(client: Any) -> None:
    client.create_collection(
        "c",
        vectors_config={"d": qm.VectorParams(size=DIM, distance=qm.Distance.COSINE)},
        sparse_vectors_config={
            "s": qm.SparseVectorParams(modifier=qm.Modifier.IDF),
            "p": qm.SparseVectorParams(),
        },
    )
    client.upsert("c", POINTS[: N // 2])
    client.upsert("c", POINTS[N // 2 :])


def searches() -> list[dict[str, Any]]:
    """The query_points calls compared, as keyword arguments."""
    out: list[dict[str, Any]] = []
    for q in QUERIES:
        for using in ("s", "p"):
            out.append({"query": q, "using": using, "limit": 12})
        out.append({"query": q, "using": "s", "limit": 5, "offset": 3, "query_filter": G23})
        out.append({"query": q, "using": "p", "limit": 30, "query_filter": G1})
    out += [
        {"query": QUERIES[0], "using": "s", "limit": 50, "score_threshold": 0.3},
        {"query": 8, "using": "s", "limit": 10},  # by point id: that point's s
        {
            "query": QUERIES[1],
            "using": "s",
            "limit": 10,
            "search_params": qm.SearchParams(idf=qm.IdfCorpusParams(corpus=G23)),
        },
        {
            "prefetch": [
                qm.Prefetch(query=DENSE[0], using="d", limit=20),
                qm.Prefetch(query=QUERIES[2], using="s", limit=20),
            ],
            "query": qm.FusionQuery(fusion=qm.Fusion.RRF),
            "limit": 15,
        },
        {
            "prefetch": [
                qm.Prefetch(query=DENSE[1], using="d", limit=25),
                qm.Prefetch(query=QUERIES[3], using="p", limit=25, filter=G23),
            ],
            "query": qm.FusionQuery(fusion=qm.Fusion.DBSF),
            "limit": 10,
        },
        {
            "prefetch": [
                qm.Prefetch(query=QUERIES[5], using="s", limit=15),
                qm.Prefetch(query=DENSE[1], using="d", limit=15),
            ],
            "query": qm.RrfQuery(rrf=qm.Rrf(k=5, weights=[2.0, 0.5])),
            "limit": 12,
        },
        *(
            {
                "query": qm.NearestQuery(
                    nearest=QUERIES[i], mmr=qm.Mmr(diversity=diversity, candidates_limit=30)
                ),
                "using": using,
                "limit": 8,
            }
            for i, using, diversity in ((0, "s", 0.7), (1, "p", 0.3), (2, "p", 1.0))
        ),
        {  # dense candidates re-ranked by a sparse vector
            "prefetch": qm.Prefetch(query=DENSE[0], using="d", limit=60),
            "query": QUERIES[4],
            "using": "s",
            "limit": 10,
        },
    ]
    return out


def ranking(points: list[Any]) -> list[tuple[float, Any]]:
    return [(p.score, p.id) for p in points]


def assert_same_ranking(
    got: list[Any], want: list[Any], what: str, *, abs_tol: float = 1e-6
) -> None:
    """Same scores in the same order; ids equal except within runs of tied scores (whose
    order Qdrant leaves open), and only the last run may be cut differently. ``abs_tol``:
    for scores that are differences of float32 sums (local mode rounds each to float32)."""
    g, w = ranking(got), ranking(want)
    assert len(g) == len(w), what
    for (gs, _), (ws, _) in zip(g, w, strict=True):
        assert math.isclose(gs, ws, rel_tol=1e-5, abs_tol=abs_tol), (what, g, w)
    runs: dict[float, tuple[set[Any], set[Any]]] = {}
    for (score, gid), (_, wid) in zip(g, w, strict=True):
        key = round(score, 5)
        runs.setdefault(key, (set(), set()))
        runs[key][0].add(gid)
        runs[key][1].add(wid)
    last = round(w[-1][0], 5) if w else None
    for key, (gids, wids) in runs.items():
        if key != last:
            assert gids == wids, (what, g, w)


def stored(client: Any) -> dict[Any, dict[str, Any]]:
    """Every point's vectors, a sparse one as {index: value}."""
    out = {}
    for r in client.scroll("c", limit=N + 10, with_vectors=True)[0]:
        vectors = {}
        for name, vec in (r.vector or {}).items():
            if name == "d":
                vectors[name] = np.round(vec, 4).tolist()
            else:
                vectors[name] = {
                    i: round(v, 5) for i, v in zip(vec.indices, vec.values, strict=True)
                }
        out[r.id] = vectors
    return out


def mutate(client: Any) -> None:
    rng = np.random.default_rng(3)
    client.upsert("c", [point(i, rng) for i in (2, 9, 40, 41, 200)])  # 200 is new
    client.delete("c", [5, 6, 77])
    client.update_vectors(
        "c",
        [
            qm.PointVectors(id=10, vector={"s": sparse(rng)}),
            qm.PointVectors(id=14, vector={"p": sparse(rng, shuffled=True)}),  # 14 had no p
        ],
    )
    client.delete_vectors("c", vectors=["s"], points=[11, 12, 13])
    client.delete_vectors("c", vectors=["p"], points=G1)


@pytest.fixture(scope="module")
def theirs() -> Any:
    client = QdrantClient(":memory:")
    create(client)
    yield client
    client.close()


def compare(ours: Client, theirs: QdrantClient, when: str) -> None:
    assert stored(ours) == stored(theirs), when
    for kwargs in searches():
        want = theirs.query_points("c", **kwargs).points
        got = ours.query_points("c", **kwargs).points
        assert_same_ranking(got, want, f"{when}: {kwargs}")
    for q in QUERIES[:3]:  # grouped by payload g, by sparse score
        kwargs = {"query": q, "using": "s", "group_by": "g", "group_size": 3, "limit": 3}
        want_groups = theirs.query_points_groups("c", **kwargs).groups
        got_groups = ours.query_points_groups("c", **kwargs).groups
        assert [g.id for g in got_groups] == [g.id for g in want_groups], when
        for got_group, want_group in zip(got_groups, want_groups, strict=True):
            assert_same_ranking(got_group.hits, want_group.hits, f"{when}: groups {kwargs}")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sparse_queries_agree_with_local_mode(
    transport: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first queries build the inverted index's base from all points; the writes after
    # are fewer than this, so the queries after them read the delta and mask the base's
    # stale rows (tests/index/test_sparse_column.py covers rebuilds in between).
    monkeypatch.setattr(sparse_index, "REBUILD_MIN", 100)
    theirs = QdrantClient(":memory:")
    create(theirs)
    with shoal_client(transport, tmp_path) as ours:
        create(ours)
        compare(ours, theirs, "fresh")
        mutate(theirs)
        mutate(ours)
        compare(ours, theirs, "after writes")
    theirs.close()
    if transport == "embedded":  # the same after a reopen from storage
        theirs = QdrantClient(":memory:")
        create(theirs)
        mutate(theirs)
        with shoal_client(transport, tmp_path) as ours:
            compare(ours, theirs, "reopened")
        theirs.close()
