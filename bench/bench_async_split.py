"""Where 100 concurrent LangChain searches spend their time: event loop against engine.

    python bench/bench_async_split.py [--docs 1000] [--n 100] [--reps 5]

Stores ``--docs`` seed-workload documents (hash embedding) in a ``ShoalVectorStore`` on a
temporary folder, then times ``--n`` gathered ``asimilarity_search`` calls and the same
``--n`` as a sync loop. ``time.thread_time`` around ``Searcher.run_batch`` gives
the engine's CPU time; the event loop's is the main thread's CPU time over the gather.
The garbage of the setup is collected before each timed run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _smoke import parse_args
from langchain_core.documents import Document
from seed_embeddings import HashEmbeddings

from shoal.engine.query import Searcher
from shoal.integrations.langchain import ShoalVectorStore

_engine = [0.0, 0.0]  # CPU s, wall s inside the engine's batch calls
_run_batch = Searcher.run_batch


def _timed_batch(self: Any, requests: Any) -> Any:
    cpu, wall = time.thread_time(), time.perf_counter()
    try:
        return _run_batch(self, requests)
    finally:
        _engine[0] += time.thread_time() - cpu
        _engine[1] += time.perf_counter() - wall


def _doc(i: int) -> Document:
    return Document(
        page_content=f"This is test document {i} with some random content: {random.random()}",
        metadata={"id": f"doc_{i}", "score": random.random(), "category": f"cat_{i % 5}"},
    )


async def _gathered(store: ShoalVectorStore, n: int, reps: int) -> None:
    queries = [f"test document {i % 50}" for i in range(n)]
    await asyncio.gather(*(store.asimilarity_search(q, k=3) for q in queries))  # warm-up
    for _ in range(reps):
        gc.collect()
        _engine[0] = _engine[1] = 0.0
        cpu, wall = time.thread_time(), time.perf_counter()
        await asyncio.gather(*(store.asimilarity_search(q, k=3) for q in queries))
        print(
            f"async: {(time.perf_counter() - wall) * 1e3:6.1f} ms wall, event loop "
            f"{(time.thread_time() - cpu) * 1e3:5.1f} ms CPU, engine {_engine[0] * 1e3:5.1f} ms "
            f"CPU in {_engine[1] * 1e3:5.1f} ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--reps", type=int, default=5)
    args = parse_args(ap, {"docs": 100, "n": 10, "reps": 1})
    Searcher.run_batch = _timed_batch  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="shoal-split-") as folder:
        measure(folder, args)


def measure(folder: str, args: argparse.Namespace) -> None:
    """Store the documents in ``folder``, then time the gathered and the sync searches."""
    store = ShoalVectorStore(
        embedding_function=HashEmbeddings(),
        connection_args={"uri": folder},
        auto_id=True,
        drop_old=True,
    )
    store.add_documents([_doc(i) for i in range(args.docs)])
    asyncio.run(_gathered(store, args.n, args.reps))
    queries = [f"test document {i % 50}" for i in range(args.n)]
    for _ in range(args.reps):
        gc.collect()
        _engine[0] = 0.0
        wall = time.perf_counter()
        for q in queries:
            store.similarity_search(q, k=3)
        print(
            f"sync:  {(time.perf_counter() - wall) * 1e3:6.1f} ms wall, engine "
            f"{_engine[0] * 1e3:5.1f} ms CPU"
        )
    store.drop()
    store.close()


if __name__ == "__main__":
    main()
