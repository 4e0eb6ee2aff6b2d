"""Trace one filtered ``AsyncClient.query_points`` through Shoal: modules, calls, batchers.

    python bench/trace_query.py            # 20,000 points of dimension 384
    python bench/trace_query.py --smoke    # 3,000 points (full_scan_threshold 10 KB)
    python bench/trace_query.py --smoke --calls --order --check

Builds an embedded collection (a temporary folder) of ``--points`` synthetic vectors with
a ``tag`` payload (four values, so the filter keeps a quarter of the points) and a keyword
payload index on it, waits until the HNSW index has caught up (``--smoke`` lowers
``full_scan_threshold`` so that its points are indexed too), runs a few warm-up queries
with the filter, then traces one more: from the call of ``query_points`` to its return, a
profiler (``sys.setprofile``, and ``threading.setprofile`` for the worker threads,
installed before the client exists so that every thread it starts has it) counts every
``call`` event whose code lives under ``src/shoal``. On Python 3.11 comprehensions are
functions and a generator's every resumption is a call, so both are counted.

Printed: each module on the path with its calls, the total, and the batching objects the
path went through (instances of a class whose name ends in Batcher, Coalescer or Committer
whose methods ran). ``--calls`` adds the count per function, ``--order`` every call in the
order made; ``--check`` exits 1 when the path takes more than 10 modules, 60 calls or one
batching object (issue 17's bounds).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _smoke import parse_args
from synthetic import TopicMixture

import shoal
from shoal import AsyncClient, models

SRC = str(Path(shoal.__file__).resolve().parent)
_BATCHING = re.compile(r"(Batcher|Coalescer|Committer)$")
MAX_MODULES, MAX_CALLS, MAX_BATCHERS = 10, 60, 1


class Tracer:
    """Counts calls into Shoal's code, on every thread, while ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.calls: Counter[tuple[str, str]] = Counter()
        self.order: list[tuple[str, str]] = []
        self.batchers: dict[int, str] = {}

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if not self.active or event != "call":
            return
        code = frame.f_code
        path = code.co_filename
        if not path.startswith(SRC):
            return
        module = path[len(SRC) + 1 :]
        self.calls[(module, code.co_qualname)] += 1
        self.order.append((module, code.co_qualname))
        if code.co_argcount and code.co_varnames[0] == "self":
            owner = type(frame.f_locals.get("self"))
            if _BATCHING.search(owner.__name__):
                self.batchers[id(frame.f_locals["self"])] = owner.__qualname__

    def install(self) -> None:
        sys.setprofile(self)
        threading.setprofile(self)

    def remove(self) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


async def traced_query(folder: str, args: argparse.Namespace, tracer: Tracer) -> None:
    """Load the collection, warm up, and trace one filtered query."""
    data = TopicMixture(dim=args.dim, topics=100, seed=0)
    vectors = data.base(args.points)
    queries = data.queries(args.warmup + 1)
    tags = ["a", "b", "c", "d"]
    hnsw = None if args.threshold_kb is None else {"full_scan_threshold": args.threshold_kb}
    flt = models.Filter(must=[models.FieldCondition(key="tag", match=models.MatchValue(value="b"))])
    async with AsyncClient(path=folder) as client:
        await client.create_collection(
            "trace",
            models.VectorParams(size=args.dim, distance=models.Distance.COSINE),
            hnsw_config=hnsw,
        )
        await client.create_payload_index("trace", "tag", "keyword")
        await client.upload_collection(
            "trace",
            vectors,
            payload=[{"tag": tags[i % 4], "n": i} for i in range(args.points)],
            ids=range(args.points),
            batch_size=1000,
            wait=True,
        )
        info = await client.get_collection("trace")
        while info.indexed_vectors_count != args.points:  # the index catches up
            await asyncio.sleep(0.1)
            info = await client.get_collection("trace")
        for q in queries[:-1]:
            await client.query_points("trace", q, query_filter=flt, limit=10)
        tracer.active = True
        response = await client.query_points("trace", queries[-1], query_filter=flt, limit=10)
        tracer.active = False
    assert len(response.points) == 10 and all(p.payload["tag"] == "b" for p in response.points)  # type: ignore[index]


def report(tracer: Tracer, per_function: bool) -> tuple[int, int, int]:
    """Print the modules (and functions) on the path; returns (modules, calls, batchers)."""
    by_module: Counter[str] = Counter()
    for (module, _), n in tracer.calls.items():
        by_module[module] += n
    total = sum(by_module.values())
    print(f"{'module':44} {'calls':>6}")
    for module, n in by_module.most_common():
        print(f"{module:44} {n:6}")
        if per_function:
            funcs = [(f, c) for (mod, f), c in tracer.calls.items() if mod == module]
            for func, c in sorted(funcs, key=lambda fc: -fc[1]):
                print(f"    {func:60} {c:4}")
    batchers = sorted(tracer.batchers.values())
    print(f"\n{len(by_module)} modules, {total} calls, {len(batchers)} batching objects", end="")
    print(f" ({', '.join(batchers)})" if batchers else "")
    return len(by_module), total, len(batchers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--warmup", type=int, default=5, help="untraced queries first")
    ap.add_argument(
        "--threshold-kb",
        type=int,
        default=None,
        help="hnsw_config.full_scan_threshold (default: Shoal's measured crossover)",
    )
    ap.add_argument("--calls", action="store_true", help="print the calls per function")
    ap.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 above {MAX_MODULES} modules, {MAX_CALLS} calls or {MAX_BATCHERS} batcher",
    )
    ap.add_argument("--order", action="store_true", help="print every call in order")
    args = parse_args(ap, {"points": 3000, "threshold_kb": 10})
    tracer = Tracer()
    tracer.install()
    try:
        with tempfile.TemporaryDirectory(prefix="shoal-trace-") as folder:
            asyncio.run(traced_query(folder, args, tracer))
    finally:
        tracer.remove()
    modules, calls, batchers = report(tracer, args.calls)
    if args.order:
        print()
        for module, qualname in tracer.order:
            print(f"  {module}: {qualname}")
    if args.check and (modules > MAX_MODULES or calls > MAX_CALLS or batchers > MAX_BATCHERS):
        print(f"over the bounds: {MAX_MODULES} modules, {MAX_CALLS} calls, {MAX_BATCHERS} batcher")
        sys.exit(1)


if __name__ == "__main__":
    main()
