"""Recall and QPS against hnsw_ef on a collection that ``bench_million.py --path`` built.

    python bench/bench_million_sweep.py --path /tmp/m1data --sweep 100,144,176,200 [--rounds 3]

Reopens the folder (from the index snapshot), regenerates the same data and ground truth
as ``bench_million.py`` (``--n`` must match; without ``--path``, ``bench_million.py``
first builds a collection of ``--n`` points in a temporary folder) and measures, per
``hnsw_ef``, recall@10 and the QPS of the batched (``query_batch_points`` of 100) and
concurrent (1,000 gathered ``query_points``) runs. Each QPS is the median of ``--rounds``
rounds, which separates the index's speed from the machine's moods better than one run.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_million
from _smoke import parse_args
from bench_million import NAME, batched, concurrent, recall, wait_green
from synthetic import TopicMixture, exact_top_k

from shoal import AsyncClient
from shoal import models as m


async def run(args: argparse.Namespace) -> None:
    data = TopicMixture(dim=args.dim, seed=0)
    base = data.base(args.n)
    queries = data.queries(args.queries)
    truth = exact_top_k(base, queries, 10)
    client = AsyncClient(path=args.path)
    await client.get_collection(NAME)
    await wait_green(client)
    print("| hnsw_ef | recall@10 | batched QPS | concurrent QPS |\n|---:|---:|---:|---:|")
    for ef in args.sweep:
        params = m.SearchParams(hnsw_ef=ef)
        found: list[list[int]] = []
        batch_qps, conc_qps = [], []
        for _ in range(args.rounds):
            found, secs = await batched(client, queries, None, params)
            batch_qps.append(len(queries) / secs)
            conc_qps.append(len(queries) / await concurrent(client, queries, params))
        print(
            f"| {ef} | {recall(found, truth):.3f} | {statistics.median(batch_qps):,.0f} "
            f"| {statistics.median(conc_qps):,.0f} |",
            flush=True,
        )
    await client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--path", help="a folder bench_million.py --path built (default: build one)")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--sweep",
        type=lambda text: [int(x) for x in text.split(",") if x],
        default=[100, 144, 176, 200],
    )
    args = parse_args(ap, {"n": 3000, "queries": 50, "rounds": 1, "sweep": [16, 64]})
    if args.path:
        asyncio.run(run(args))
        return
    args.path = tempfile.mkdtemp(prefix="shoal-sweep-")
    try:
        build = ["--n", str(args.n), "--dim", str(args.dim), "--path", args.path]
        asyncio.run(bench_million.run(bench_million.parse_args([*build, "--queries", "10"])))
        asyncio.run(run(args))
    finally:
        shutil.rmtree(args.path, ignore_errors=True)


if __name__ == "__main__":
    main()
