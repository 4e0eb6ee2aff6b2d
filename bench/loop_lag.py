#!/usr/bin/env python3
"""Event-loop lag while an embedded AsyncClient ingests and searches.

    python bench/loop_lag.py                       # bare ticker, base commit, this tree
    python bench/loop_lag.py --base cb19300 --rounds 3
    python bench/loop_lag.py --smoke

A ticker task sleeps 1 ms at a time on the event loop and records how late each wake-up
is. Meanwhile, through one ``AsyncClient(path=...)``: 20 batches of 1,000 points of 384
dimensions load one after another, 200 searches run 8 at a time, and 50 single-point
upserts run one after another, all three concurrently. Every point and query is built
before the ticker starts, and the benchmark collects garbage once before it starts: a full
collection of the benchmark's own prebuilt data (tens of thousands of lists of floats) takes
over 100 ms in any CPython program and is not the engine's doing; the number of full
collections during the workload is reported.

Three subjects run in fresh processes, interleaved round by round: the bare ticker with no
workload, the code at ``--base`` (checked out into a temporary git worktree) and this tree.
The table shows each subject's median over the rounds of: lag p50 / p99 / max (ms), the
workload's wall time (s), and full collections during the workload.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "cb19300"  # the commit before the loop-lag work (issue 15)
DIM = 384


def sizes(smoke: bool) -> dict[str, int]:
    if smoke:
        return {"batches": 3, "batch": 300, "searches": 40, "upserts": 10}
    return {"batches": 20, "batch": 1000, "searches": 200, "upserts": 50}


# ------------------------------------------------------------------------- child


async def _ticker(lags: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """Record (when, how late) for every 1 ms sleep."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        lags.append((now, now - before - 0.001))


async def _workload(size: dict[str, int], folder: str, window: list[float]) -> int:
    """Run the workload; ``window`` gets its start and end (perf_counter) appended.

    Returns:
        The number of full garbage collections during the workload.
    """
    from shoal import AsyncClient, models

    rng = np.random.default_rng(7)
    n = size["batches"] * size["batch"]
    data = rng.standard_normal((n + size["upserts"], DIM)).astype(np.float32)
    batches = [
        [
            models.PointStruct(id=i, vector=data[i].tolist(), payload={"batch": b, "i": i})
            for i in range(b * size["batch"], (b + 1) * size["batch"])
        ]
        for b in range(size["batches"])
    ]
    singles = [
        [models.PointStruct(id=n + j, vector=data[n + j].tolist(), payload={"single": j})]
        for j in range(size["upserts"])
    ]
    queries = [data[i % n].tolist() for i in range(size["searches"])]
    async with AsyncClient(path=folder) as client:
        await client.create_collection("c", models.VectorParams(size=DIM, distance="Cosine"))
        gc.collect()
        full = [0]
        gc.callbacks.append(lambda phase, info: _count_full(full, phase, info))

        async def load() -> None:
            for batch in batches:
                await client.upsert("c", batch)

        async def search(part: list[list[float]]) -> None:
            for q in part:
                await client.query_points("c", q, limit=10)

        async def upserts() -> None:
            for single in singles:
                await client.upsert("c", single)

        window.append(time.perf_counter())
        await asyncio.gather(load(), upserts(), *(search(queries[k::8]) for k in range(8)))
        window.append(time.perf_counter())
        gc.callbacks.clear()
    return full[0]


def _count_full(full: list[int], phase: str, info: dict[str, Any]) -> None:
    if phase == "start" and info["generation"] == 2:
        full[0] += 1


async def _child(subject: str, size: dict[str, int], bare_seconds: float) -> dict[str, Any]:
    lags: list[tuple[float, float]] = []
    window: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(lags, stop))
    with tempfile.TemporaryDirectory() as folder:
        if subject == "bare":
            window.append(time.perf_counter())
            await asyncio.sleep(bare_seconds)
            window.append(time.perf_counter())
            full = 0
        else:
            full = await _workload(size, folder, window)
        stop.set()
        await ticker
    start, end = window
    # Wake-ups due inside the workload (setting up and closing the client are not in it).
    ms = np.asarray([lag for when, lag in lags if start < when - lag <= end]) * 1000
    wall = end - start
    return {
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "wall": wall,
        "full_gcs": full,
    }


# ------------------------------------------------------------------------ parent


def _worktree(rev: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), rev],
        check=True,
        capture_output=True,
    )
    return into


def _run(subject: str, src: Path | None, args: argparse.Namespace, bare: float) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:  # the base commit's package shadows the installed one
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--child", subject, "--bare-seconds", str(bare)]
    if args.smoke:
        cmd.append("--smoke")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{subject} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=DEFAULT_BASE, help="git revision to compare with")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the three subjects")
    ap.add_argument("--smoke", action="store_true", help="a small workload, one round")
    ap.add_argument("--no-base", action="store_true", help="skip the base commit")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--bare-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    size = sizes(args.smoke)
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child, size, args.bare_seconds))))
        return
    rounds = 1 if args.smoke else args.rounds
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base_src = None if args.no_base else _worktree(args.base, Path(tmp) / "base") / "src"
        subjects: list[tuple[str, Path | None]] = [("this tree", None)]
        if base_src is not None:
            subjects.insert(0, (f"base {args.base}", base_src))
        try:
            for r in range(rounds):
                walls = []
                for name, src in subjects:
                    res = _run("workload", src, args, 0.0)
                    results.setdefault(name, []).append(res)
                    walls.append(res["wall"])
                    print(f"round {r + 1} {name}: {res}", file=sys.stderr)
                bare = _run("bare", None, args, statistics.median(walls))
                results.setdefault("bare ticker", []).append(bare)
        finally:
            if base_src is not None:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_src.parent)],
                    check=False,
                    capture_output=True,
                )
    print(f"\n{rounds} round(s), medians; workload {size}")
    print("| subject | lag p50 ms | lag p99 ms | lag max ms | wall s | full GCs |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ["bare ticker", *(n for n, _ in subjects)]:
        rows = results[name]

        def med(key: str, rows: list[dict[str, Any]] = rows) -> float:
            return statistics.median(r[key] for r in rows)

        print(
            f"| {name} | {med('p50'):.2f} | {med('p99'):.2f} | {med('max'):.1f} | "
            f"{med('wall'):.2f} | {med('full_gcs'):.0f} |"
        )


if __name__ == "__main__":
    main()
