"""Exact search cost: Shoal's query path against bare numpy over the same matrix.

    python bench/bench_exact.py [--n 100000] [--dim 384] [--queries 200]

Data: ``TopicMixture(dim, topics=1000, seed=0)`` from ``bench/synthetic.py``.

Bare numpy is ``M @ q`` plus ``argpartition`` for the top 10 — the floor for exact search.
Shoal is measured twice: the engine's search function alone, and a whole
``Collection.query`` (validation, lock, planner, filter-free search, result models). The
collection is created with ``hnsw_config.m = 0`` (Qdrant's "no graph"), so no HNSW index is
built in the background to compete for the CPU, and queries ask for ``exact=True``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from _smoke import parse_args
from synthetic import TopicMixture

from shoal import models as m
from shoal.engine import Collection, Database
from shoal.engine.search import exact_search


def timed(fn: Callable[[np.ndarray], object], queries: np.ndarray, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for q in queries:
            t0 = time.perf_counter()
            fn(q)
            out.append(time.perf_counter() - t0)
    return out


def exact_collection(base: np.ndarray) -> tuple[Database, Collection]:
    """An in-memory collection holding ``base`` (ids 0..n-1, Cosine) with no HNSW graph.

    ``hnsw_config.m = 0`` is Qdrant's "no graph": no index is built in the background to
    compete for the CPU, and every search is exact.
    """
    db = Database()
    db.create_collection(
        "b",
        m.CreateCollection(
            vectors=m.VectorParams(size=base.shape[1], distance="Cosine"),
            hnsw_config=m.HnswConfigDiff(m=0),
        ),
    )
    col = db.collection("b")
    for start in range(0, len(base), 10_000):
        block = base[start : start + 10_000]
        col.upsert(m.Batch(ids=list(range(start, start + len(block))), vectors=block.tolist()))
    return db, col


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    args = parse_args(ap, {"n": 5000, "queries": 20})
    data = TopicMixture(dim=args.dim, seed=0)
    base = data.base(args.n)
    queries = data.queries(args.queries)

    db, col = exact_collection(base)
    matrix = np.ascontiguousarray(base)
    column = col.state.columns[""]
    high = col.state.high
    invalid = col.searcher.invalid_rows("")

    exact = m.SearchParams(exact=True)

    def bare(q: np.ndarray) -> object:
        s = matrix @ q
        return np.argpartition(-s, 10)[:10]

    def engine_search(q: np.ndarray) -> object:
        return exact_search(column, high, q[None], 10, invalid=invalid)

    def engine_query(q: np.ndarray) -> object:
        return col.query(m.QueryRequest(query=q.tolist(), limit=10, params=exact))

    # Interleave the three so machine noise hits all of them alike.
    results: dict[str, list[float]] = {"bare": [], "search": [], "query": []}
    for _ in range(3):
        results["bare"] += timed(bare, queries, 1)
        results["search"] += timed(engine_search, queries, 1)
        results["query"] += timed(engine_query, queries, 1)
    med = {k: statistics.median(v) * 1e3 for k, v in results.items()}
    print(f"exact search, {args.n:,} x {args.dim} float32, cosine, top 10, single query")
    print("| path | median ms | p99 ms | ratio to bare numpy |")
    print("|---|---:|---:|---:|")
    for name, label in [
        ("bare", "numpy M @ q + argpartition"),
        ("search", "shoal exact_search"),
        ("query", "shoal Collection.query (whole path)"),
    ]:
        p99 = float(np.percentile(results[name], 99)) * 1e3
        print(f"| {label} | {med[name]:.2f} | {p99:.2f} | {med[name] / med['bare']:.2f}x |")
    db.close()


if __name__ == "__main__":
    main()
