"""The seed workload's 100-search cell, repeated: async against sync, and the collector.

    python bench/bench_search_ratio.py [--docs 1000] [--n 100] [--rounds 40]
    python bench/bench_search_ratio.py --hybrid rrf      # or weighted

Stores ``--docs`` seed-workload documents (hash embedding) in a ``ShoalVectorStore`` on a
temporary folder; with ``--hybrid``, langchain-milvus's hybrid form: a dense field and a
``BM25BuiltInFunction`` field, searched with ``ranker_type`` rrf or weighted. Each round
times ``--n`` gathered ``asimilarity_search(k=3)`` calls, then the same ``--n`` as a sync
loop, and records the time CPython's garbage collector spent in each (``gc.callbacks``).
Minima over the rounds are printed: on a shared 2-core VM the minimum is the steadiest
figure of what the code costs; medians are printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _smoke import parse_args
from seed import make_docs
from seed_embeddings import HashEmbeddings

from shoal.integrations.langchain import BM25BuiltInFunction, ShoalVectorStore

_gc = [0.0, 0.0]  # seconds in collections so far, start of the running one


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc[1] = time.perf_counter()
    else:
        _gc[0] += time.perf_counter() - _gc[1]


async def _rounds(
    store: ShoalVectorStore, n: int, rounds: int, search: dict[str, Any]
) -> dict[str, list[float]]:
    queries = [f"test document {i % 50}" for i in range(n)]
    for _ in range(5):  # warm-up
        await asyncio.gather(*(store.asimilarity_search(q, k=3, **search) for q in queries))
    out: dict[str, list[float]] = {"async": [], "sync": [], "async gc": [], "sync gc": []}
    for _ in range(rounds):
        for mode in ("async", "sync"):
            gc.collect()
            _gc[0] = 0.0
            start = time.perf_counter()
            if mode == "async":
                await asyncio.gather(*(store.asimilarity_search(q, k=3, **search) for q in queries))
            else:
                for q in queries:
                    store.similarity_search(q, k=3, **search)
            out[mode].append((time.perf_counter() - start) * 1e3)
            out[f"{mode} gc"].append(_gc[0] * 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--hybrid", choices=["rrf", "weighted"], help="a dense and a BM25 field")
    args = parse_args(ap, {"docs": 100, "n": 10, "rounds": 2})
    with tempfile.TemporaryDirectory(prefix="shoal-ratio-") as folder:
        times = measure(folder, args)
    best = {k: min(v) for k, v in times.items()}
    mid = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"{args.n} {args.hybrid or 'dense'} searches over {args.docs} documents, "
        f"{args.rounds} rounds: min async {best['async']:.2f} ms, sync {best['sync']:.2f} ms, "
        f"sync/async {best['sync'] / best['async']:.2f}x; median async {mid['async']:.2f} ms, "
        f"sync {mid['sync']:.2f} ms, sync/async {mid['sync'] / mid['async']:.2f}x; collector "
        f"per round (mean): async {sum(times['async gc']) / args.rounds:.2f} ms, "
        f"sync {sum(times['sync gc']) / args.rounds:.2f} ms"
    )


def measure(folder: str, args: argparse.Namespace) -> dict[str, list[float]]:
    """Store the documents in ``folder`` and time the rounds (ms per round, by mode)."""
    hybrid: dict[str, Any] = {}
    search: dict[str, Any] = {}
    if args.hybrid:
        hybrid = {
            "builtin_function": BM25BuiltInFunction(output_field_names="sparse"),
            "vector_field": ["dense", "sparse"],
        }
        search = {"ranker_type": args.hybrid}
    store = ShoalVectorStore(
        embedding_function=HashEmbeddings(),
        connection_args={"uri": folder},
        auto_id=True,
        drop_old=True,
        **hybrid,
    )
    store.add_documents(make_docs(args.docs))
    gc.callbacks.append(_on_gc)
    try:
        return asyncio.run(_rounds(store, args.n, args.rounds, search))
    finally:
        gc.callbacks.remove(_on_gc)
        store.drop()
        store.close()


if __name__ == "__main__":
    main()
