"""The ``shoal`` command: ``shoal demo`` (and, with the server extra, ``shoal serve``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence

DEMO_TEXTS = [
    "Shoal is an async-native vector database for Python.",
    "The cat sat on the warm windowsill all afternoon.",
    "FastAPI services can await the vector store without blocking the event loop.",
    "A recipe for sourdough bread needs flour, water, salt and patience.",
    "Embeddings map sentences with similar meaning to nearby vectors.",
    "The football match ended in a draw after extra time.",
]
DEMO_QUERIES = ["Which database works with asyncio?", "How do I bake bread?"]


async def demo(path: str | None) -> None:
    """Create a collection, embed sentences with the default MiniLM model, search by text."""
    from shoal import AsyncClient, models
    from shoal.embeddings import MiniLM

    folder = path or tempfile.mkdtemp(prefix="shoal-demo-")
    embedder = MiniLM()
    print(f"Shoal demo: embedded database in {folder}")
    t0 = time.perf_counter()
    vectors = await embedder.aembed_documents(DEMO_TEXTS)
    print(f"Embedded {len(DEMO_TEXTS)} sentences with MiniLM ({time.perf_counter() - t0:.2f} s)")
    async with AsyncClient(path=folder) as client:
        if await client.collection_exists("demo"):
            await client.delete_collection("demo")
        await client.create_collection(
            "demo", models.VectorParams(size=embedder.dimension, distance=models.Distance.COSINE)
        )
        await client.upsert(
            "demo",
            [
                models.PointStruct(id=i, vector=v, payload={"text": t})
                for i, (t, v) in enumerate(zip(DEMO_TEXTS, vectors, strict=True))
            ],
        )
        for query in DEMO_QUERIES:
            qvec = await embedder.aembed_query(query)
            hits = await client.query_points("demo", query=qvec, limit=3)
            print(f"\nQuery: {query}")
            for rank, point in enumerate(hits.points, 1):
                text = (point.payload or {}).get("text")
                print(f"  {rank}. {point.score:.3f}  {text}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shoal`` command."""
    parser = argparse.ArgumentParser(prog="shoal", description="Shoal vector database")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="embed a few sentences and search them (offline)")
    p_demo.add_argument("--path", help="storage folder (default: a new temporary folder)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        asyncio.run(demo(args.path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
