"""Latency of the query kinds beyond nearest at 100k points: recommend (average_vector and
best_score), discover, relevance feedback, a formula over 1,000 prefetched candidates,
order_by and sample, embedded.

    python bench/query_kinds.py [--points 100000] [--dim 384] [--queries 200]
    python bench/query_kinds.py --smoke

``--points`` vectors of ``bench/synthetic.py``'s ``TopicMixture`` (Cosine) go into one
collection through ``Client(path=...)`` in batches of 1,000, each point with a payload of a
price (float), a count (integer 0-99), a datetime and a tag (one of 8), with float, integer,
datetime and keyword payload indexes; then the collection is waited on until green (its
HNSW index built). Each kind then runs ``--queries`` times, one query at a time with
payloads, limit 10, examples drawn at random from the stored points:

- nearest: a fresh query vector (the baseline);
- recommend average_vector and best_score: 2 positive and 1 negative point ids;
- discover: a target id and 2 context pairs of ids;
- relevance_feedback: a target vector and 3 example ids with scores;
- formula: a prefetch of the 1,000 nearest to a query vector, rescored by
  ``$score + 0.1 * price``;
- order_by: the 10 latest datetimes, and the same among one tag (a filter);
- sample: 10 random points, and the same among one tag.

Prints p50 and p99 per kind in milliseconds; ``--json`` saves every number.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _smoke import parse_args
from synthetic import TopicMixture

from shoal import Client
from shoal import models as m

BATCH = 1000
TAGS = 8
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def payload(i: int, rng: np.random.Generator) -> dict[str, Any]:
    when = T0 + timedelta(seconds=int(rng.integers(0, 365 * 86400)))
    return {
        "price": round(float(rng.random()) * 100, 2),
        "count": int(rng.integers(0, 100)),
        "when": when.isoformat(),
        "tag": f"t{i % TAGS}",
    }


def build(client: Client, n: int, dim: int) -> None:
    """The collection: ``n`` points, payload indexes, waited on until green."""
    client.create_collection("c", m.VectorParams(size=dim, distance=m.Distance.COSINE))
    data = TopicMixture(dim=dim, topics=1000, seed=0)
    rng = np.random.default_rng(3)
    for start, block in data.stream(n):
        for at in range(0, len(block), BATCH):
            rows = block[at : at + BATCH]
            ids = range(start + at, start + at + len(rows))
            client.upsert(
                "c",
                m.Batch(
                    ids=list(ids), vectors=rows.tolist(), payloads=[payload(i, rng) for i in ids]
                ),
            )
    for key, kind in (("price", "float"), ("count", "integer"), ("when", "datetime")):
        client.create_payload_index("c", key, kind)
    client.create_payload_index("c", "tag", "keyword")
    while client.get_collection("c").status != m.CollectionStatus.GREEN:
        time.sleep(0.5)


def kinds(n: int, dim: int, queries: int) -> dict[str, Callable[[int], dict[str, Any]]]:
    """Each measured kind: query i's ``query_points`` keyword arguments."""
    vectors = TopicMixture(dim=dim, topics=1000, seed=0).queries(queries).tolist()
    rng = np.random.default_rng(4)
    ids = rng.integers(0, n, size=(queries, 6)).tolist()
    tag = m.Filter(must=[m.FieldCondition(key="tag", match=m.MatchValue(value="t3"))])

    def pair(p: int, q: int) -> dict[str, int]:
        return {"positive": p, "negative": q}

    def recommend(strategy: str) -> Callable[[int], dict[str, Any]]:
        return lambda i: {
            "query": m.RecommendQuery(
                recommend={"positive": ids[i][:2], "negative": ids[i][2:3], "strategy": strategy}
            )
        }

    formula = {"sum": ["$score", {"mult": [0.1, "price"]}]}
    return {
        "nearest (baseline)": lambda i: {"query": vectors[i]},
        "recommend average_vector": recommend("average_vector"),
        "recommend best_score": recommend("best_score"),
        "discover": lambda i: {
            "query": m.DiscoverQuery(
                discover={
                    "target": ids[i][0],
                    "context": [pair(ids[i][1], ids[i][2]), pair(ids[i][3], ids[i][4])],
                }
            )
        },
        "relevance_feedback": lambda i: {
            "query": m.RelevanceFeedbackQuery(
                relevance_feedback={
                    "target": vectors[i],
                    "feedback": [
                        {"example": ids[i][0], "score": 0.9},
                        {"example": ids[i][1], "score": 0.5},
                        {"example": ids[i][2], "score": 0.1},
                    ],
                    "strategy": {"naive": {"a": 1.0, "b": 1.0, "c": 1.0}},
                }
            )
        },
        "formula over 1,000 prefetched": lambda i: {
            "prefetch": m.Prefetch(query=vectors[i], limit=1000),
            "query": m.FormulaQuery(formula=formula),
        },
        "order_by datetime desc": lambda i: {
            "query": m.OrderByQuery(order_by=m.OrderBy(key="when", direction=m.Direction.DESC))
        },
        "order_by datetime desc, one tag": lambda i: {
            "query": m.OrderByQuery(order_by=m.OrderBy(key="when", direction=m.Direction.DESC)),
            "query_filter": tag,
        },
        "sample": lambda i: {"query": m.SampleQuery(sample="random")},
        "sample, one tag": lambda i: {
            "query": m.SampleQuery(sample="random"),
            "query_filter": tag,
        },
    }


def measure(client: Client, call: Callable[[int], dict[str, Any]], queries: int) -> list[float]:
    """Milliseconds of each of ``queries`` calls (after 3 warm-up calls)."""
    for i in range(min(3, queries)):
        client.query_points("c", limit=10, **call(i))
    out = []
    for i in range(queries):
        kwargs = call(i)
        start = time.perf_counter()
        found = client.query_points("c", limit=10, **kwargs)
        out.append((time.perf_counter() - start) * 1000)
        assert len(found.points) == 10, (kwargs, found)
    return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json", type=Path, help="save every number here")
    args = parse_args(ap, {"points": 3000, "dim": 32, "queries": 5}, argv)
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder, Client(path=folder) as client:
        started = time.perf_counter()
        build(client, args.points, args.dim)
        took = time.perf_counter() - started
        print(f"{args.points:,} points of dimension {args.dim}: built and green in {took:.1f} s\n")
        for name, call in kinds(args.points, args.dim, args.queries).items():
            results[name] = measure(client, call, args.queries)
    print(f"| query ({args.queries} each, limit 10) | p50 (ms) | p99 (ms) |")
    print("|---|---|---|")
    for name, times in results.items():
        print(f"| {name} | {statistics.median(times):.2f} | {percentile(times, 99):.2f} |")
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, "ms": results})
        )


if __name__ == "__main__":
    main()
