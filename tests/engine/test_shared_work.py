"""A large query batch uses every core (``shoal.concurrency.share_work``): its vector
columns are searched at once, and a large sparse column's scans are shared by threads.
Either way each query gets exactly what it gets alone.

Each test holds the first piece of work until another thread runs one (so it fails, after
a timeout, where the work runs on one thread), then compares the batch's answers with the
same queries asked one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from shoal import Client
from shoal import models as m
from shoal.concurrency import helper_pool
from shoal.engine import query as query_module
from shoal.engine import sparse_search
from shoal.engine.search import DenseSearch
from shoal.engine.sparse_search import TOGETHER_WIDTH, SparseSearch

pytestmark = pytest.mark.skipif(helper_pool() is None, reason="one core: no helper thread")

ROWS = TOGETHER_WIDTH + 500  # scanned one query at a time, not as one matrix
DIM = 8
QUERIES = 40


def _sparse(rng: np.random.Generator) -> m.SparseVector:
    # Indices 0-3 are in most vectors: long postings, as common words have.
    indices = np.unique(np.concatenate([rng.integers(0, 4, 2), rng.integers(4, 400, 3)]))
    return m.SparseVector(indices=indices.tolist(), values=rng.random(len(indices)).tolist())


@pytest.fixture(scope="module")
def client() -> Any:
    rng = np.random.default_rng(5)
    with Client() as c:
        c.create_collection(
            "c",
            vectors_config={"d": m.VectorParams(size=DIM, distance="Cosine")},
            sparse_vectors_config={"s": m.SparseVectorParams(modifier=m.Modifier.IDF)},
        )
        c.upsert(
            "c",
            [
                m.PointStruct(
                    id=i,
                    vector={"d": rng.standard_normal(DIM).tolist(), "s": _sparse(rng)},
                    payload={"g": i % 3},
                )
                for i in range(ROWS)
            ],
        )
        yield c


class _Meeting:
    """Wraps a method: its first call waits until a call on another thread has begun."""

    def __init__(self, method: Callable[..., Any]) -> None:
        self.method = method
        self.threads: set[int] = set()
        self.first = True
        self.other = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        me = threading.get_ident()
        with self.lock:
            first, self.first = self.first, False
            self.threads.add(me)
            if len(self.threads) > 1:
                self.other.set()
        if first:
            assert self.other.wait(30), "the batch's work ran on one thread"
        return self.method(*args, **kwargs)


def _answers(responses: list[m.QueryResponse]) -> list[list[tuple[Any, float]]]:
    return [[(p.id, p.score) for p in r.points] for r in responses]


def _compare(client: Client, requests: list[m.QueryRequest]) -> None:
    """The batch (its work shared, see the callers) answers as each query alone."""
    together = client.query_batch_points("c", requests)
    alone = [client.query_batch_points("c", [r])[0] for r in requests]
    assert _answers(together) == _answers(alone)
    assert all(len(r.points) == 10 for r in together)


def test_a_large_sparse_batch_shares_its_scans_and_answers_as_alone(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(6)
    g1 = m.Filter(must=[m.FieldCondition(key="g", match=m.MatchValue(value=1))])
    requests = [
        m.QueryRequest(query=_sparse(rng), using="s", limit=10, filter=g1 if i % 4 else None)
        for i in range(QUERIES)
    ]
    monkeypatch.setattr(sparse_search, "SHARE_POSTINGS", 0)
    meeting = _Meeting(SparseSearch._alone)
    monkeypatch.setattr(SparseSearch, "_alone", lambda self, pq, terms: meeting(self, pq, terms))
    _compare(client, requests)
    assert len(meeting.threads) == 2


def test_a_large_batch_searches_its_columns_at_once_and_answers_as_alone(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(7)
    requests = [
        m.QueryRequest(
            prefetch=[
                m.Prefetch(query=rng.standard_normal(DIM).tolist(), using="d", limit=20),
                m.Prefetch(query=_sparse(rng), using="s", limit=20),
            ],
            query=m.FusionQuery(fusion="rrf"),
            limit=10,
        )
        for _ in range(QUERIES // 2)
    ]
    assert 2 * len(requests) >= query_module.SHARE_QUERIES
    # Both columns' searches meet: the first to start waits for the other.
    meeting = _Meeting(lambda run, search, queries: run(search, queries))
    dense_run, sparse_run = DenseSearch.run, SparseSearch.run
    monkeypatch.setattr(DenseSearch, "run", lambda self, qs: meeting(dense_run, self, qs))
    monkeypatch.setattr(SparseSearch, "run", lambda self, qs: meeting(sparse_run, self, qs))
    _compare(client, requests)
    assert len(meeting.threads) == 2
