"""The planner picks exact or HNSW search per query, and both answer correctly.

Small collections use a low ``full_scan_threshold`` (in KB of vectors, as in Qdrant) to
get an index; ``wait_indexed`` waits for the background build deterministically. Which
search answered is read from ``ann.search_methods``; answers are checked with
``ann_support.checked`` (valid, exactly scored, ordered, never short, high recall).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from ann_support import DIM, EXACT, WIDE, checked, ids, vectors

from shoal import models as m
from shoal.engine import Collection, Database
from shoal.errors import (
    InvalidConfig,
    InvalidQuery,
    InvalidVector,
    PointNotFound,
    WrongVectorSize,
)
from shoal.index import HnswIndex

pytestmark = pytest.mark.usefixtures("one_insert_thread")


def make(
    db: Database,
    n: int,
    *,
    name: str = "c",
    distance: str = "Cosine",
    threshold_kb: int | None = 1,
    **config: Any,
) -> Collection:
    hnsw = config.pop("hnsw_config", m.HnswConfigDiff(full_scan_threshold=threshold_kb))
    db.create_collection(
        name,
        m.CreateCollection(
            vectors=m.VectorParams(size=DIM, distance=distance), hnsw_config=hnsw, **config
        ),
    )
    col = db.collection(name)
    if n:
        col.upsert(
            m.Batch(
                ids=list(range(n)),
                vectors=vectors(n).tolist(),
                payloads=[{"tag": "rare" if i % 50 == 0 else "common", "i": i} for i in range(n)],
            )
        )
    return col


def test_small_collection_is_searched_exactly_and_never_indexed() -> None:
    db = Database()
    col = make(db, 500, threshold_kb=None)  # the measured default: exact below ~4-5k
    assert col.wait_indexed(10)
    info = col.info()
    assert info.status == m.CollectionStatus.GREEN and info.indexed_vectors_count == 0
    ids(col, query=vectors(1, 9)[0].tolist())
    assert col.ann.search_methods == {"exact": 1}
    assert col.ann._thread is None  # no indexer was ever started
    db.close()


def test_full_scan_threshold_in_kb_decides_when_to_index() -> None:
    db = Database()
    col = make(db, 100, threshold_kb=4)  # 100 x 8 x 4 B = 3.1 KB < 4 KB
    q = vectors(1, 7)[0].tolist()
    ids(col, query=q)
    assert col.info().indexed_vectors_count == 0 and col.ann.search_methods == {"exact": 1}
    col.upsert([m.PointStruct(id=100 + i, vector=v.tolist()) for i, v in enumerate(vectors(30, 3))])
    assert col.wait_indexed(30)  # 130 vectors = 4.06 KB: now it is worth an index
    info = col.info()
    assert info.status == m.CollectionStatus.GREEN and info.indexed_vectors_count == 130
    checked(col, query=q, limit=10)
    assert col.ann.search_methods["hnsw"] == 1
    assert col.ann.search_methods["exact"] == 3  # exact=True bypasses the index
    db.close()


@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid"])
def test_hnsw_answers_are_exactly_scored_and_complete(distance: str) -> None:
    db = Database()
    col = make(db, 400, distance=distance)
    assert col.wait_indexed(30)
    col.ann.search_methods.clear()
    for q in vectors(5, 11):
        checked(col, query=q.tolist(), limit=7)
        checked(col, query=q.tolist(), limit=3, offset=4, min_recall=0.6)
    # A query by id leaves the point out; score_threshold is strict, as in Qdrant.
    by_id = checked(col, query=17, limit=5)
    assert 17 not in by_id
    scores = [p.score for p in col.query(m.QueryRequest(query=17, limit=5, params=EXACT)).points]
    cut = scores[2]
    got = col.query(m.QueryRequest(query=17, limit=5, params=WIDE, score_threshold=cut)).points
    better = (lambda s: s > cut) if distance != "Euclid" else (lambda s: s < cut)
    assert len(got) <= 2 and all(better(p.score) for p in got)
    assert col.ann.search_methods["hnsw"] >= 11 and col.ann.search_methods["fallback"] == 0
    db.close()


def test_default_ef_finds_the_true_neighbours_at_small_sizes() -> None:
    db = Database()
    col = make(db, 400)
    assert col.wait_indexed(30)
    for q in vectors(5, 5):
        checked(col, query=q.tolist(), limit=10, params=m.SearchParams(), min_recall=0.8)
    db.close()


def test_default_search_ef_is_ef_construct(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in Qdrant: hnsw_ef when given, else the graph's ef_construct.
    db = Database()
    col = make(db, 300, hnsw_config=m.HnswConfigDiff(full_scan_threshold=1, ef_construct=40))
    assert col.wait_indexed(30)
    seen: list[int | None] = []
    real = HnswIndex.search

    def spy(self: HnswIndex, queries: Any, k: int, ef: int | None = None) -> Any:
        seen.append(ef)
        return real(self, queries, k, ef)

    monkeypatch.setattr(HnswIndex, "search", spy)
    q = vectors(1, 3)[0].tolist()
    ids(col, query=q, limit=5)
    ids(col, query=q, limit=5, params=m.SearchParams(hnsw_ef=20))
    assert seen == [40, 20]
    db.close()


def test_planner_uses_exact_search_for_selective_filters() -> None:
    db = Database()
    col = make(db, 600)
    col.set_payload_index("tag", m.PayloadSchemaType.KEYWORD)
    assert col.wait_indexed(30)
    q = vectors(1, 2)[0].tolist()
    rare = m.Filter(must=[m.FieldCondition(key="tag", match=m.MatchValue(value="rare"))])
    common = 'tag == "common" and i >= 0'  # an indexed leaf and one the predicate decides
    col.ann.search_methods.clear()
    ids(col, query=q, filter=rare)
    assert col.ann.search_methods == {"exact": 1}  # 12 matches (2%): scanning them is cheaper
    ids(col, query=q, filter=common)
    assert col.ann.search_methods == {"exact": 1, "hnsw": 1}
    checked(col, query=q, filter=rare, min_recall=1.0)
    checked(col, query=q, filter=common)
    db.close()


def test_batches_mix_plans_and_share_work() -> None:
    db = Database()
    col = make(db, 500)
    col.set_payload_index("tag", m.PayloadSchemaType.KEYWORD)
    assert col.wait_indexed(30)
    qs = vectors(6, 4).tolist()
    rare = m.Filter(must=[m.FieldCondition(key="tag", match=m.MatchValue(value="rare"))])
    requests = [
        m.QueryRequest(query=qs[0], limit=5, params=WIDE),
        m.QueryRequest(query=qs[1], limit=5, params=EXACT),
        m.QueryRequest(query=qs[2], limit=5, filter=rare, params=WIDE),
        m.QueryRequest(query=qs[3], limit=5, filter=rare, params=WIDE),
        m.QueryRequest(query=qs[4], limit=5, filter='tag == "common"', params=WIDE),
        m.QueryRequest(query=3, limit=5, params=WIDE),
        m.QueryRequest(limit=3),  # no vector: points in id order
    ]
    got = col.query_batch(requests)
    for req, resp in zip(requests, got, strict=True):
        alone = col.query(req)  # the same request on its own
        assert [p.id for p in resp.points] == [p.id for p in alone.points]
        checked(col, **req.model_dump(exclude={"params"}, exclude_none=True))
    db.close()


@pytest.mark.parametrize("distance", ["Cosine", "Euclid", "Dot"])
def test_one_hnsw_batch_answers_each_query_as_if_alone(distance: str) -> None:
    # Unfiltered HNSW queries of a batch are ranked together (one gather, one batched
    # product, one sort): limits, offsets, thresholds, queries by id (whose own point is
    # left out) and deleted points must still be per query. A bad vector in the batch
    # fails only its own query.
    db = Database()
    col = make(db, 400, distance=distance)
    col.delete(m.PointIdsList(points=list(range(0, 400, 7))))
    assert col.wait_indexed(30)
    qs = vectors(12, 5).tolist()
    requests = [
        m.QueryRequest(query=q, limit=1 + i % 6, offset=i % 3, params=WIDE)
        for i, q in enumerate(qs)
    ]
    requests += [m.QueryRequest(query=pid, limit=4, params=WIDE) for pid in (1, 2, 50, 398)]
    alone = [col.query(req) for req in requests]
    requests.append(m.QueryRequest(query=[float("nan")] * DIM, params=WIDE))
    requests.append(m.QueryRequest(query=[1.0] * (DIM + 1), params=WIDE))
    requests.append(m.QueryRequest(query=399, params=WIDE))  # deleted
    got = col.query_many(requests)
    assert isinstance(got[-3], InvalidVector) and "nan" in str(got[-3])
    assert isinstance(got[-2], WrongVectorSize) and str(DIM + 1) in str(got[-2])
    assert isinstance(got[-1], PointNotFound) and "399" in str(got[-1])
    for req, resp, single in zip(requests, got, alone, strict=False):
        assert isinstance(resp, m.QueryResponse)
        assert [(p.id, p.score) for p in resp.points] == [(p.id, p.score) for p in single.points]
        assert not {p.id for p in resp.points} & set(range(0, 400, 7))
        if isinstance(req.query, int):
            assert req.query not in {p.id for p in resp.points}
        checked(col, **req.model_dump(exclude={"params"}, exclude_none=True))
    threshold = got[0].points[0].score  # type: ignore[union-attr]
    req = m.QueryRequest(query=qs[0], limit=5, score_threshold=threshold, params=WIDE)
    assert col.query_many([req, requests[1]])[0] == col.query(req)  # strict: the best is cut
    assert col.ann.search_methods["hnsw"] >= 2 * len(alone)
    db.close()


@pytest.mark.parametrize(
    ("config", "distance"),
    [({"hnsw_config": m.HnswConfigDiff(m=0, full_scan_threshold=1)}, "Cosine"), ({}, "Manhattan")],
)
def test_no_index_without_graph_or_for_manhattan(config: dict[str, Any], distance: str) -> None:
    db = Database()
    col = make(db, 300, distance=distance, **config)
    assert col.wait_indexed(10)
    ids(col, query=vectors(1, 1)[0].tolist())
    assert col.ann.search_methods == {"exact": 1} and col.info().indexed_vectors_count == 0
    assert col.info().status == m.CollectionStatus.GREEN
    db.close()


def test_named_vectors_are_indexed_separately() -> None:
    db = Database()
    db.create_collection(
        "n",
        m.CreateCollection(
            vectors={
                "a": m.VectorParams(size=DIM, distance="Cosine"),
                "b": m.VectorParams(
                    size=DIM, distance="Dot", hnsw_config=m.HnswConfigDiff(ef_construct=32)
                ),
                "l1": m.VectorParams(size=DIM, distance="Manhattan"),
            },
            hnsw_config=m.HnswConfigDiff(full_scan_threshold=1),
        ),
    )
    col = db.collection("n")
    va, vb = vectors(300, 1), vectors(300, 2)
    col.upsert(
        [
            # Every third point lacks "b"; a search on "b" must never return it.
            m.PointStruct(
                id=i,
                vector={"a": va[i].tolist(), "l1": va[i].tolist()}
                | ({} if i % 3 == 0 else {"b": vb[i].tolist()}),
            )
            for i in range(300)
        ]
    )
    assert col.wait_indexed(30)
    assert set(col.ann.vectors) == {"a", "b"}
    assert col.ann.vectors["b"].index is not None and len(col.ann.vectors["b"].index) == 200
    assert col.ann.vectors["b"].settings.ef_construct == 32  # the vector's own config wins
    q = vectors(1, 8)[0].tolist()
    for using in ("a", "b", "l1"):
        got = checked(col, query=q, using=using, limit=20)
        if using == "b":
            assert all(i % 3 for i in got)
    assert col.info().indexed_vectors_count == 500
    db.close()


@pytest.mark.parametrize(
    ("quantization", "dtype"),
    [
        ({"scalar": {"type": "int8", "quantile": 0.99}}, "i8"),
        ({"shoal": {"index_dtype": "bf16"}}, "bf16"),
        (None, "f16"),
    ],
)
def test_index_dtype_and_exact_scores(quantization: dict[str, Any] | None, dtype: str) -> None:
    db = Database()
    col = make(db, 400, quantization_config=quantization)
    assert col.wait_indexed(30)
    index = col.ann.vectors[""].index
    assert index is not None and index.config.dtype == dtype
    for q in vectors(3, 6):
        checked(col, query=q.tolist(), limit=10)  # scores exact whatever the index stores
    assert col.info().config.quantization_config == quantization
    db.close()


@pytest.mark.parametrize(
    "config",
    [
        {"hnsw_config": m.HnswConfigDiff(m=1)},
        {"hnsw_config": m.HnswConfigDiff(ef_construct=2)},
        {"hnsw_config": m.HnswConfigDiff(full_scan_threshold=-1)},
        {"quantization_config": {"scalar": {"type": "int4"}}},
        {"quantization_config": {"lossy": {}}},
        {"quantization_config": {"shoal": {"index_dtype": "f8"}}},
        {"quantization_config": {"scalar": {"type": "int8", "quantile": 0.4}}},
        {"optimizers_config": {"indexing_threshold": -1}},
        {"hnsw_config": m.HnswConfigDiff(max_indexing_threads=-1)},
    ],
)
def test_bad_index_configs_are_rejected(config: dict[str, Any]) -> None:
    db = Database()
    with pytest.raises(InvalidConfig):
        db.create_collection(
            "bad", m.CreateCollection(vectors=m.VectorParams(size=DIM, distance="Cosine"), **config)
        )
    assert not db.collection_exists("bad")
    db.close()


@pytest.mark.parametrize(
    "params",
    [
        m.SearchParams(hnsw_ef=0),
        m.SearchParams(quantization=m.QuantizationSearchParams(oversampling=0)),
    ],
)
def test_bad_search_params_are_rejected(params: m.SearchParams) -> None:
    db = Database()
    col = make(db, 10)
    with pytest.raises(InvalidQuery):
        col.query(m.QueryRequest(query=vectors(1)[0].tolist(), params=params))
    db.close()


def test_an_index_does_not_break_onnxruntime_loaded_later() -> None:
    # usearch exports a static libstdc++ process-wide; onnxruntime imported after it crashed
    # (SIGSEGV). shoal loads usearch only for an index, and onnxruntime first.
    probe = textwrap.dedent(
        """
        import sys
        import shoal
        from shoal import models as m
        from shoal.engine import Database
        assert "usearch" not in sys.modules, "import shoal must not load usearch"
        db = Database()
        db.create_collection("c", m.CreateCollection(
            vectors=m.VectorParams(size=4, distance="Dot"),
            hnsw_config=m.HnswConfigDiff(full_scan_threshold=1)))
        col = db.collection("c")
        col.upsert([m.PointStruct(id=i, vector=[i, 1, 2, 3]) for i in range(64)])
        assert col.wait_indexed(30) and col.info().indexed_vectors_count == 64
        import onnxruntime
        onnxruntime.get_available_providers()
        db.close()
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
