#!/usr/bin/env python3
"""Recall of HNSW searches while every point's vector is overwritten, again and again.

    python bench/update_recall.py                 # 10,000 x 384, 4 overwrites, ef 128 and 2000
    python bench/update_recall.py --smoke

usearch replaces a key by removing and adding it, and the graph keeps the links the old
vector had. Shoal rebuilds an index beside the one in use once a fifth of its keys were
replaced or removed (``shoal.engine.ann.REBUILD_SHARE``). This script loads ``--points``
random Gaussian vectors (the hardest case for a graph: no structure to follow) into
``Client(path=...)``, then overwrites every point ``--cycles`` times in batches of 1,000.
After the load and after each overwrite it waits until the collection is green and
measures recall@10 of ``--queries`` searches against exact search, at each ``--ef``. The
same run is made with rebuilds off (``REBUILD_SHARE`` infinite), in the same process,
for comparison.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _smoke import parse_args

from shoal import Client, models
from shoal.engine import ann


def recall(client: Client, queries: list[list[float]], ef: int) -> float:
    hits = 0
    for q in queries:
        got = client.query_points("c", q, limit=10, search_params=models.SearchParams(hnsw_ef=ef))
        ref = client.query_points("c", q, limit=10, search_params=models.SearchParams(exact=True))
        hits += len({p.id for p in got.points} & {p.id for p in ref.points})
    return hits / (10 * len(queries))


def run(args: argparse.Namespace, rebuild: bool) -> list[dict[str, float]]:
    ann.REBUILD_SHARE = 0.2 if rebuild else math.inf
    rows = []
    with tempfile.TemporaryDirectory() as folder, Client(path=Path(folder)) as client:
        client.create_collection(
            "c",
            models.VectorParams(size=args.dim, distance="Cosine"),
            hnsw_config=models.HnswConfigDiff(full_scan_threshold=1),  # indexed at any size
        )
        queries = np.random.default_rng(99).standard_normal((args.queries, args.dim)).tolist()
        for cycle in range(args.cycles + 1):
            data = np.random.default_rng(cycle).standard_normal((args.points, args.dim))
            start = time.perf_counter()
            for s in range(0, args.points, 1000):
                ids = list(range(s, min(s + 1000, args.points)))
                client.upsert("c", models.Batch(ids=ids, vectors=data[ids].tolist()))
            while client.get_collection("c").status != models.CollectionStatus.GREEN:
                time.sleep(0.05)
            row = {"cycle": cycle, "green_s": time.perf_counter() - start}
            for ef in args.ef:
                row[f"ef{ef}"] = recall(client, queries, ef)
            rows.append(row)
            print(f"  rebuild {'on' if rebuild else 'off'}: {row}", file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--cycles", type=int, default=4, help="overwrites of every point")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ef", type=int, nargs="+", default=[128, 2000])
    args = parse_args(ap, {"points": 1500, "dim": 16, "cycles": 1, "queries": 5}, None)
    off, on = run(args, rebuild=False), run(args, rebuild=True)
    efs = " | ".join(f"recall@10 ef {ef} off / on" for ef in args.ef)
    print(f"| after | {efs} | seconds to green off / on |")
    print("|---|" + "---:|" * (len(args.ef) + 1))
    for a, b in zip(off, on, strict=True):
        label = "the load" if a["cycle"] == 0 else f"overwrite {int(a['cycle'])}"
        cells = " | ".join(f"{a[f'ef{ef}']:.3f} / {b[f'ef{ef}']:.3f}" for ef in args.ef)
        print(f"| {label} | {cells} | {a['green_s']:.1f} / {b['green_s']:.1f} |")


if __name__ == "__main__":
    main()
