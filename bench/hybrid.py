"""Hybrid retrieval at 100k documents: BM25 ingest, BM25 / dense / hybrid query latency, and
100 concurrent hybrid searches async against sync.

    python bench/hybrid.py [--docs 100000] [--dim 128] [--queries 300] [--rounds 5]
                           [--folder DIR]
    python bench/hybrid.py --smoke

A deterministic corpus of short texts (6 to 18 words drawn from a 5,000-word vocabulary
with a Zipf skew; every 50th text also holds a rare identifier) goes into one collection
with a dense vector (``--dim``, Cosine, random unit vectors standing in for an embedding
model) and a sparse ``bm25`` vector with ``modifier="idf"``, through
``AsyncClient(path=...)``: batches of 1,000 points whose sparse vector is given as
``Document(text, model="qdrant/bm25")`` (Shoal embeds it), each ``upsert(wait=True)``,
then waiting until the collection is green (its dense index built); the same first for a
collection of the BM25 vector alone. Then, one at a time through
``AsyncClient.query_points`` with payloads: a BM25 query (a ``Document`` of two or three
words), a dense query, and a hybrid query (dense and BM25 prefetches of 20, fused by RRF);
p50 and p99 of each. Last, with the store reopened (one engine, an ``AsyncClient`` and
a sync ``Client`` on it), 100 hybrid searches: ``asyncio.gather`` on the ``AsyncClient``,
then a loop on the ``Client``, ``--rounds`` times, the two modes alternating round by
round so that both meet the same store and the same drift of the machine; medians.
With ``--folder DIR`` the store is kept in DIR, and a run that finds it there does only
that last part: so two versions of Shoal can be compared on one store, run after run.

Criteria (issue 19): BM25 encode + upsert until green <= 30 s; BM25 p50 <= 5 ms; hybrid
p50 <= 2x the dense p50; 100 concurrent hybrid searches async >= 2x faster than sync.
Prints a markdown table; ``--json`` saves every number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _smoke import parse_args

from shoal import AsyncClient, Client
from shoal import models as m

BATCH = 1000
SYLLABLES = [
    *("ka", "lo", "mi", "ne", "ru", "sa", "te", "vi", "po", "da", "fe", "gu", "hi"),
    *("jo", "ku", "le", "ma", "ni", "or", "pa", "qu", "re", "si", "tu"),
]


def vocabulary(size: int) -> list[str]:
    """``size`` distinct pronounceable words (two to four syllables)."""
    rng = np.random.default_rng(1)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 5)))))
    return sorted(words)


def corpus(n: int) -> list[str]:
    """``n`` short texts; every 50th holds the identifier ``id<i>x``."""
    words = vocabulary(5000)
    rng = np.random.default_rng(2)
    ranks = np.minimum(rng.zipf(1.3, size=n * 18) - 1, len(words) - 1)
    lengths = rng.integers(6, 19, size=n)
    out, pos = [], 0
    for i, length in enumerate(lengths.tolist()):
        text = " ".join(words[r] for r in ranks[pos : pos + length].tolist())
        pos += length
        out.append(f"{text} id{i}x" if i % 50 == 0 else text)
    return out


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> list[list[float]]:
    rows = rng.standard_normal((n, dim)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    out: list[list[float]] = rows.tolist()
    return out


def doc(text: str) -> m.Document:
    return m.Document(text=text, model="qdrant/bm25")


async def ingest(
    client: AsyncClient, name: str, texts: list[str], dim: int | None
) -> dict[str, float]:
    """Upsert ``texts`` into a new collection ``name`` (with a dense vector of ``dim``
    unless None) in batches, then wait until it is green; seconds to both points."""
    dense_config = {} if dim is None else {"dense": m.VectorParams(size=dim, distance="Cosine")}
    await client.create_collection(
        name,
        vectors_config=dense_config,
        sparse_vectors_config={"bm25": m.SparseVectorParams(modifier=m.Modifier.IDF)},
    )
    rng = np.random.default_rng(3)
    start = time.perf_counter()
    for first in range(0, len(texts), BATCH):
        batch = texts[first : first + BATCH]
        vectors: list[dict[str, Any]] = [{"bm25": doc(text)} for text in batch]
        if dim is not None:
            for row, dense in zip(vectors, unit_rows(rng, len(batch), dim), strict=True):
                row["dense"] = dense
        points = [
            m.PointStruct(id=first + i, vector=vectors[i], payload={"text": text, "n": first + i})
            for i, text in enumerate(batch)
        ]
        await client.upsert(name, points, wait=True)
        if first // BATCH % 20 == 19:
            print(f"  {first + len(batch)} points in {time.perf_counter() - start:.1f} s",
                  file=sys.stderr)  # fmt: skip
    written = time.perf_counter() - start
    while (await client.get_collection(name)).status != m.CollectionStatus.GREEN:
        await asyncio.sleep(0.05)
    return {"upserted_s": written, "green_s": time.perf_counter() - start}


def queries(texts: list[str], count: int, dim: int) -> list[tuple[m.Document, list[float]]]:
    rng = np.random.default_rng(4)
    out = []
    dense = unit_rows(rng, count, dim)
    for i in range(count):
        words = texts[int(rng.integers(len(texts)))].split()
        take = rng.choice(words, size=min(len(words), int(rng.integers(2, 4))), replace=False)
        out.append((doc(" ".join(take.tolist())), dense[i]))
    return out


def hybrid_kwargs(text: m.Document, vector: list[float]) -> dict[str, Any]:
    return {
        "prefetch": [
            m.Prefetch(query=vector, using="dense", limit=20),
            m.Prefetch(query=text, using="bm25", limit=20),
        ],
        "query": m.FusionQuery(fusion="rrf"),
        "limit": 10,
        "with_payload": True,
    }


KINDS = {
    "bm25": lambda t, v: {"query": t, "using": "bm25", "limit": 10, "with_payload": True},
    "dense": lambda t, v: {"query": v, "using": "dense", "limit": 10, "with_payload": True},
    "hybrid": hybrid_kwargs,
}


async def latencies(
    client: AsyncClient, qs: list[tuple[m.Document, list[float]]]
) -> dict[str, dict[str, float]]:
    """p50 / p99 in ms of each query kind, one query at a time (kinds interleaved)."""
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for make in KINDS.values():  # warm-up
        await client.query_points("h", **make(*qs[0]))
    for text, vector in qs:
        for kind, make in KINDS.items():
            start = time.perf_counter()
            await client.query_points("h", **make(text, vector))
            times[kind].append((time.perf_counter() - start) * 1000)
    return {
        kind: {"p50_ms": statistics.median(t), "p99_ms": float(np.percentile(t, 99))}
        for kind, t in times.items()
    }


async def gathered(client: AsyncClient, qs: list[tuple[m.Document, list[float]]]) -> float:
    """ms for one round of the searches gathered."""
    start = time.perf_counter()
    await asyncio.gather(*(client.query_points("h", **hybrid_kwargs(*q)) for q in qs))
    return (time.perf_counter() - start) * 1000


def looped(client: Client, qs: list[tuple[m.Document, list[float]]]) -> float:
    """ms for one round of the searches one after another."""
    start = time.perf_counter()
    for q in qs:
        client.query_points("h", **hybrid_kwargs(*q))
    return (time.perf_counter() - start) * 1000


async def compare(
    folder: Path, qs: list[tuple[m.Document, list[float]]], rounds: int
) -> dict[str, list[float]]:
    """Rounds of the searches gathered (async) and looped (sync), alternating, on the
    store reopened; one warm-up round of each first."""
    out: dict[str, list[float]] = {"async_ms": [], "sync_ms": []}
    async with AsyncClient(path=folder) as aclient:
        with Client(path=folder) as client:  # the same engine: one per folder and process
            await gathered(aclient, qs)
            looped(client, qs)
            for _ in range(rounds):
                out["async_ms"].append(await gathered(aclient, qs))
                out["sync_ms"].append(looped(client, qs))
    return out


async def run_async(args: argparse.Namespace, folder: Path, texts: list[str]) -> dict[str, Any]:
    qs = queries(texts, args.queries, args.dim)
    async with AsyncClient(path=folder) as client:
        if await client.collection_exists("h"):  # --folder, built by an earlier run
            print(f"reusing the store in {folder}", file=sys.stderr)
            return await compare(folder, qs[: args.concurrent], args.rounds)
        print(f"ingesting {len(texts)} documents, BM25 only", file=sys.stderr)
        result: dict[str, Any] = {"ingest_bm25": await ingest(client, "b", texts, None)}
        await client.delete_collection("b")
        print(f"ingesting {len(texts)} documents, dense and BM25", file=sys.stderr)
        result["ingest"] = await ingest(client, "h", texts, args.dim)
        print("latencies", file=sys.stderr)
        result["latency"] = await latencies(client, qs)
    print(f"{args.concurrent} hybrid searches, async and sync", file=sys.stderr)
    result.update(await compare(folder, qs[: args.concurrent], args.rounds))
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--concurrent", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--folder",
        type=Path,
        help="keep the store in this folder; a run that finds it there only compares",
    )
    args = parse_args(ap, {"docs": 2500, "queries": 20, "concurrent": 10, "rounds": 1}, argv)
    texts = corpus(args.docs)
    if args.folder is not None:
        result = asyncio.run(run_async(args, args.folder, texts))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(run_async(args, Path(tmp), texts))
    report(args, result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


def report(args: argparse.Namespace, r: dict[str, Any]) -> None:
    a, s = statistics.median(r["async_ms"]), statistics.median(r["sync_ms"])
    compared = (f"{args.concurrent} hybrid searches: async / sync (ms)",
                f"{a:.1f} / {s:.1f} ({s / a:.1f}x)", ">= 2x")  # fmt: skip
    print(f"\n{args.docs} documents, dense dim {args.dim}, {args.queries} queries per kind\n")
    print("| measure | result | criterion |\n|---|---|---|")
    if "latency" not in r:  # a store reused (--folder): only the comparison ran
        print("| " + " | ".join(compared) + " |")
        return
    lat = r["latency"]

    def ms(kind: str) -> str:
        return f"{lat[kind]['p50_ms']:.2f} / {lat[kind]['p99_ms']:.2f}"

    rows = [
        ("BM25 only: encode + upsert until green (s)", f"{r['ingest_bm25']['green_s']:.1f}",
         "<= 30"),
        ("dense + BM25: upserts / until green (s)",
         f"{r['ingest']['upserted_s']:.1f} / {r['ingest']['green_s']:.1f}", ""),
        ("BM25 query p50 / p99 (ms)", ms("bm25"), "p50 <= 5"),
        ("dense query p50 / p99 (ms)", ms("dense"), ""),
        ("hybrid query p50 / p99 (ms)", ms("hybrid"), f"p50 <= {2 * lat['dense']['p50_ms']:.2f}"),
        compared,
    ]  # fmt: skip
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
