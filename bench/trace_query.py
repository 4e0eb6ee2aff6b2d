#!/usr/bin/env python3
"""Count the Shoal function calls one filtered query makes, from AsyncClient to the kernels.

    python bench/trace_query.py            # 20,000 points, a payload-indexed filter
    python bench/trace_query.py --smoke    # 3,000 points
    python bench/trace_query.py --calls    # also list every call in order

An embedded collection is filled until its HNSW index is complete, with a keyword payload
index; the traced call is one ``await AsyncClient.query_points(..., query_filter=...)``.
A profile hook on every thread (``threading.setprofile`` and ``sys.setprofile``, with a
fresh default executor so that the worker threads carry it too) records
each ``call`` event whose code lives under ``src/shoal`` (comprehensions and generators
included) while that one query runs, after a warm-up query. The output lists the modules
with their call counts, the total, and the batching objects the query passed through.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

import shoal
from shoal import AsyncClient, models

SHOAL = str(Path(shoal.__file__).resolve().parent)


class Tracer:
    """Records Shoal's call events on every thread while enabled."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.on = False

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.on and event == "call":
            path = frame.f_code.co_filename
            if path.startswith(SHOAL):
                module = path[len(SHOAL) + 1 :]
                self.calls.append((module, frame.f_code.co_qualname))


async def run(n: int, show_calls: bool) -> tuple[Counter[str], list[tuple[str, str]]]:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n, 384)).astype(np.float32)
    tags = ["a", "b", "c", "d"]
    with tempfile.TemporaryDirectory() as folder:
        async with AsyncClient(path=folder) as client:
            await client.create_collection(
                "c",
                models.VectorParams(size=384, distance="Cosine"),
                hnsw_config=models.HnswConfigDiff(full_scan_threshold=10),
            )
            await client.create_payload_index("c", "tag", "keyword")
            await client.upload_collection(
                "c",
                data,
                payload=[{"tag": tags[i % 4]} for i in range(n)],
                ids=range(n),
                batch_size=1000,
                wait=True,
            )
            while (await client.get_collection("c")).status != models.CollectionStatus.GREEN:
                await asyncio.sleep(0.2)
            flt = models.Filter(
                must=[models.FieldCondition(key="tag", match=models.MatchValue(value="b"))]
            )
            query = data[7].tolist()
            await client.query_points("c", query, query_filter=flt, limit=10)  # warm-up
            tracer = Tracer()
            threading.setprofile(tracer)
            sys.setprofile(tracer)
            # Worker threads started from now on carry the hook: a fresh default executor.
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())
            tracer.on = True
            result = await client.query_points("c", query, query_filter=flt, limit=10)
            tracer.on = False
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
            assert len(result.points) == 10
    modules = Counter(module for module, _ in tracer.calls)
    return modules, tracer.calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=20_000)
    ap.add_argument("--smoke", action="store_true", help="3,000 points")
    ap.add_argument("--calls", action="store_true", help="list every call in order")
    args = ap.parse_args()
    if args.smoke:
        args.points = 3000
    modules, calls = asyncio.run(run(args.points, args.calls))
    print(f"{len(calls)} calls in {len(modules)} modules of src/shoal")
    print("| module | calls |")
    print("|---|---:|")
    for module, count in modules.most_common():
        print(f"| {module} | {count} |")
    batchers = sorted({q.split(".")[0] for m, q in calls if "Batcher" in q or "Coalescer" in q})
    print(f"batching objects on the path: {', '.join(batchers) or 'none'}")
    if args.calls:
        for module, qualname in calls:
            print(f"  {module}: {qualname}")


if __name__ == "__main__":
    main()
