"""Helpers of the ANN engine tests (test_ann_*.py).

HNSW is approximate, and usearch may leave a node unreachable after incremental inserts
even with ``ef`` above the collection size, so tests never demand HNSW == exact. They check
what the engine guarantees instead (``checked``): every result exists, passes the filter
and carries its exact float32 score; results are in score order; there are exactly as many
as the exact search returns (never short); and recall against the exact answer is high.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shoal import models as m
from shoal.engine import Collection, Database

DIM = 8  # 32 bytes per vector: 32 vectors per KB of full_scan_threshold
WIDE = m.SearchParams(hnsw_ef=2048)
EXACT = m.SearchParams(exact=True)


def vectors(n: int, seed: int = 0) -> np.ndarray:
    """Deterministic random vectors."""
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def ids(col: Collection, **kw: Any) -> list[Any]:
    """The ids a query returns."""
    return [p.id for p in col.query(m.QueryRequest(**kw)).points]


def checked(
    col: Collection, min_recall: float = 0.8, params: m.SearchParams = WIDE, **kw: Any
) -> list[Any]:
    """Run a query (HNSW unless the planner says otherwise) and check it against the exact
    search of the same request. Returns the ids."""
    got = col.query(m.QueryRequest(params=params, **kw)).points
    ref = col.query(m.QueryRequest(params=EXACT, **kw)).points
    universe = {
        p.id: p.score
        for p in col.query(
            m.QueryRequest(params=EXACT, **{**kw, "limit": 1_000_000, "offset": 0})
        ).points
    }
    assert len(got) == len(ref), (kw, len(got), len(ref))
    for p in got:
        assert p.id in universe, p.id  # exists, has the vector, passes the filter
        assert p.score == pytest.approx(universe[p.id], abs=1e-5)
    scores = [p.score for p in got]
    distance = col.vector_params[kw.get("using") or ""].distance
    order = sorted(scores, reverse=distance in (m.Distance.COSINE, m.Distance.DOT))
    assert scores == pytest.approx(order, abs=1e-6)
    if ref:
        overlap = len({p.id for p in got} & {p.id for p in ref}) / len(ref)
        assert overlap >= min_recall, (kw, [p.id for p in got], [p.id for p in ref])
    return [p.id for p in got]


def make(db: Database, n: int = 400, **config: Any) -> Collection:
    """Collection "c" of ``n`` points (payload ``tag`` a/b, indexed, and ``i``), indexed at
    any size, its index caught up."""
    db.create_collection(
        "c",
        m.CreateCollection(
            vectors=m.VectorParams(size=DIM, distance="Cosine"),
            hnsw_config=m.HnswConfigDiff(full_scan_threshold=1),
            **config,
        ),
    )
    col = db.collection("c")
    col.set_payload_index("tag", m.PayloadSchemaType.KEYWORD)
    col.upsert(
        m.Batch(
            ids=list(range(n)),
            vectors=vectors(n).tolist(),
            payloads=[{"tag": "a" if i % 2 else "b", "i": i} for i in range(n)],
        )
    )
    assert col.wait_indexed(30)
    return col
