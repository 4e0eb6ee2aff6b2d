"""Multivector (ColBERT-style late interaction) MaxSim queries at 100k points.

    python bench/multivector.py [--points 100000] [--rows 32] [--dim 128] [--queries 30]
    python bench/multivector.py --smoke

One collection through the embedded ``Client(path=...)`` with a multivector ``m``
(``--dim``, Cosine, ``multivector_config: max_sim``) of ``--rows`` token vectors per point
(seeded random unit vectors), upserted in batches of 200 points (``wait=True``). Then
``--queries`` queries one at a time, each 8 rows taken from a random point's multivector
plus noise (so that point should come first), limit 10: p50 and p99 latency, and how often
the source point came first. Shoal scores multivectors by an exact MaxSim scan (there is no
index for them): one matrix product of every stored token vector with the query's rows, a
segmented max per point and a sum per query. Prints a markdown table; ``--json`` saves it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _smoke import parse_args

from shoal import Client
from shoal import models as m

BATCH = 200
QUERY_ROWS = 8


def unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    rows = rng.standard_normal(shape).astype(np.float32)
    out: np.ndarray = rows / np.linalg.norm(rows, axis=-1, keepdims=True)
    return out


def ingest(client: Client, args: argparse.Namespace) -> float:
    """Upsert every point; returns the seconds taken."""
    config = m.VectorParams(
        size=args.dim, distance=m.Distance.COSINE, multivector_config={"comparator": "max_sim"}
    )
    client.create_collection("mv", vectors_config={"m": config})
    rng = np.random.default_rng(7)
    start = time.perf_counter()
    for lo in range(0, args.points, BATCH):
        block = unit(rng, (min(BATCH, args.points - lo), args.rows, args.dim))
        points = [
            m.PointStruct(id=lo + i, vector={"m": rows.tolist()}) for i, rows in enumerate(block)
        ]
        client.upsert("mv", points)
    return time.perf_counter() - start


def queries(client: Client, args: argparse.Namespace) -> tuple[list[float], float]:
    """Latencies (ms) of the queries, and the share whose source point came first."""
    rng = np.random.default_rng(11)
    sources = rng.choice(args.points, size=args.queries, replace=False)
    records = client.retrieve("mv", [int(s) for s in sources], with_vectors=True)
    by_id = {r.id: np.asarray(r.vector["m"], np.float32) for r in records}  # type: ignore[index]
    latencies, found = [], 0
    for source in sources.tolist():
        rows = by_id[source][rng.choice(args.rows, size=QUERY_ROWS, replace=False)]
        query = (rows + 0.3 * unit(rng, rows.shape) / np.sqrt(args.dim)).tolist()
        start = time.perf_counter()
        hits = client.query_points("mv", query=query, using="m", limit=10).points
        latencies.append((time.perf_counter() - start) * 1000)
        found += bool(hits) and hits[0].id == source
    return latencies, found / len(sources)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--json", type=Path)
    args = parse_args(ap, {"points": 500, "rows": 8, "dim": 16, "queries": 5})
    with tempfile.TemporaryDirectory() as folder, Client(path=folder) as client:
        ingest_s = ingest(client, args)
        latencies, first = queries(client, args)
    p50 = statistics.median(latencies)
    p99 = float(np.percentile(latencies, 99))
    print(f"{args.points:,} points x {args.rows} vectors of {args.dim} dims (Cosine, MaxSim)\n")
    print("| measure | value |\n|---|---|")
    print(f"| ingest (upsert, wait=True) | {ingest_s:.1f} s |")
    print(f"| query p50 | {p50:.1f} ms |")
    print(f"| query p99 | {p99:.1f} ms |")
    print(f"| source point first | {first:.0%} |")
    if args.json:
        numbers = {"ingest_s": ingest_s, "p50_ms": p50, "p99_ms": p99, "first": first}
        args.json.write_text(json.dumps({"args": vars(args) | {"json": None}, **numbers}))


if __name__ == "__main__":
    main()
