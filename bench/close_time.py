#!/usr/bin/env python3
"""How long close() takes, and where the next open resumes, at 100k and 1M points.

    python bench/close_time.py                      # 100k and 1M
    python bench/close_time.py --sizes 100000 --after-green
    python bench/close_time.py --smoke

For each size: load the points (384-d, Shoal's own clustered generator) into a storage
folder with ``upload_collection``, then close while the background index build is running,
and reopen. With ``--after-green`` also: wait until the index is complete, write 1,000 more
points, close, reopen. Reports close() time, the snapshot on disk (vectors, MB), the open
time and how many vectors the reopened index starts from (0 would mean a rebuild).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from shoal import Client, models

DIM = 384


def vectors(n: int, seed: int) -> np.ndarray:
    """Clustered unit vectors (cheap to make; the index cost does not depend on them)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((256, DIM)).astype(np.float32)
    out = centers[rng.integers(0, 256, n)] + 0.5 * rng.standard_normal((n, DIM)).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def snapshot_of(folder: Path) -> tuple[int, float]:
    """(vectors, MB) of the index snapshot in a storage folder, (0, 0) if none."""
    for manifest in folder.glob("collections/*/index*.usearch.json"):
        data = json.loads(manifest.read_text())
        return int(data["count"]), data["size"] / 1e6
    return 0, 0.0


def indexed(client: Client) -> int:
    return client.get_collection("c").indexed_vectors_count or 0


def measure_close(client: Client, folder: Path) -> dict[str, Any]:
    before = indexed(client)
    start = time.perf_counter()
    client.close()
    closed = time.perf_counter() - start
    count, mb = snapshot_of(folder)
    start = time.perf_counter()
    reopened = Client(path=folder)
    opened = time.perf_counter() - start
    return {
        "indexed_at_close": before,
        "close_s": closed,
        "snapshot_vectors": count,
        "snapshot_mb": mb,
        "open_s": opened,
        "resumed_from": indexed(reopened),
        "client": reopened,
    }


def run(n: int, after_green: bool, green_timeout: float) -> list[dict[str, Any]]:
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="shoal-close-"))
    try:
        client = Client(path=folder)
        client.create_collection("c", models.VectorParams(size=DIM, distance="Cosine"))
        start = time.perf_counter()
        client.upload_collection("c", vectors(n, 0), batch_size=2000, wait=True)
        load = time.perf_counter() - start
        res = measure_close(client, folder)
        rows.append({"n": n, "case": "during the build", "load_s": load, **res})
        client = res.pop("client")
        if after_green:
            col = client._transport.database().collection("c")  # type: ignore[union-attr]
            if not col.wait_indexed(green_timeout):
                raise SystemExit(f"index of {n} not complete after {green_timeout} s")
            client.upload_collection("c", vectors(1000, 1), ids=range(n, n + 1000), wait=True)
            res = measure_close(client, folder)
            rows.append({"n": n, "case": "1,000 writes after green", "load_s": 0.0, **res})
            client = res.pop("client")
        client.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--after-green", action="store_true", help="also close after a full build")
    ap.add_argument("--green-timeout", type=float, default=3600.0)
    ap.add_argument("--smoke", action="store_true", help="5,000 points, both cases")
    args = ap.parse_args()
    if args.smoke:
        args.sizes, args.after_green = [5000], True
    rows = [row for n in args.sizes for row in run(n, args.after_green, args.green_timeout)]
    print("| points | close | indexed at close | close() s | snapshot vectors / MB |", end="")
    print(" open s | reopened index starts at |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n']:,} | {r['case']} | {r['indexed_at_close']:,} | {r['close_s']:.2f} | "
            f"{r['snapshot_vectors']:,} / {r['snapshot_mb']:.0f} | {r['open_s']:.2f} | "
            f"{r['resumed_from']:,} |"
        )


if __name__ == "__main__":
    main()
