#!/usr/bin/env python3
"""Soak: 100 async tasks and 4 threads share one storage folder for minutes.

    python bench/soak.py                 # 3 minutes, 600 operations a second offered
    python bench/soak.py --rate 0        # every worker back to back: the machine saturated
    python bench/soak.py --seconds 600
    python bench/soak.py --smoke         # 5 seconds
    python bench/soak.py --tasks 0       # only the threads (attributes the loop's lag)
    python bench/soak.py --no-gc         # cyclic collector off (attributes it; not a setting)
    python bench/soak.py --floor --threads 2   # no Shoal: 2 threads that only run Python

Every worker owns its own ids (so the outcome of its sequence of calls is known) and keeps a
model of them: id -> payload. The 100 tasks use one ``AsyncClient(path=...)``; the 4
threads use a sync ``Client`` on the same folder (one engine per process). Each step picks
an operation: query_points 40%, upsert of 1-10 points 25%, set_payload 15%, delete 10%,
scroll of the worker's own ids 10% (checked against its model on the spot).

Together the workers offer ``--rate`` operations a second: each starts its next operation
every ``workers / rate`` seconds, from a random offset, and at once when it is late. The
default, 600 a second, is more than twice what the code before the hardening issue sustains
here (230-280 a second, where its loop-lag p99 is 60-95 ms) and about 60% of what this code
sustains. ``--rate 0`` runs every worker back to back, which saturates the machine: then
the loop's lag is set by how CPython shares the GIL among 11 busy threads, as ``--floor``
shows without Shoal (see BENCHMARKS.md, "Soak").

At the end the script checks count = scroll = the union of the models (ids and payloads),
then reopens the folder and checks again. A ticker task on the event loop records how late
each 1 ms sleep wakes up; the table shows the lag percentiles, operations per second and
errors (there should be none). Below it: how many full collections of the garbage
collector ran while the ticker did, and the longest (``gc.callbacks``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import tempfile
import threading
import time
from typing import Any

import numpy as np

from shoal import AsyncClient, Client, models

DIM = 64
TASKS, THREADS = 100, 4
SPAN = 1_000_000  # ids of worker w are w * SPAN + 0 .. SPAN - 1


class Worker:
    """One worker's ids, its model of them, and its counters."""

    def __init__(self, index: int, seed: int, pool: list[list[float]]) -> None:
        self.index = index
        self.rng = random.Random(seed * 1000 + index)
        self.pool = pool
        self.model: dict[int, dict[str, Any]] = {}
        self.next = index * SPAN
        self.ops = 0
        self.errors: list[str] = []
        self.interval = 0.0  # seconds between two operations' starts; 0: back to back
        self.due = 0.0

    def pace(self, rate_per_worker: float, start: float) -> None:
        """Start operations ``rate_per_worker`` times a second, from a random offset."""
        self.interval = 1.0 / rate_per_worker
        self.due = start + self.rng.uniform(0, self.interval)

    def wait(self) -> float:
        """Seconds until this worker's next operation is due (0 if it is late)."""
        if not self.interval:
            return 0.0
        delay = max(0.0, self.due - time.monotonic())
        self.due += self.interval
        return delay

    def vector(self) -> list[float]:
        # From a pool made once: the benchmark's own work on the loop stays small.
        return self.pool[self.rng.randrange(len(self.pool))]

    def step(self) -> tuple[str, dict[str, Any]]:
        """The next operation and its arguments; the model is updated as if it succeeded."""
        roll = self.rng.random()
        ids = list(self.model)
        if roll < 0.40:
            return "query", {"query": self.vector(), "limit": 10}
        if roll < 0.65 or not ids:
            points = []
            for _ in range(self.rng.randint(1, 10)):
                pid = self.next
                self.next += 1
                payload = {"w": self.index, "n": pid, "tag": self.rng.choice("abc")}
                self.model[pid] = payload
                points.append(models.PointStruct(id=pid, vector=self.vector(), payload=payload))
            return "upsert", {"points": points}
        pid = self.rng.choice(ids)
        if roll < 0.80:
            value = self.rng.randint(0, 1000)
            self.model[pid] = {**self.model[pid], "v": value}
            return "set_payload", {"payload": {"v": value}, "points": [pid]}
        if roll < 0.90:
            del self.model[pid]
            return "delete", {"points_selector": [pid]}
        return "scroll", {}

    def own_filter(self) -> models.Filter:
        return models.Filter(
            must=[models.FieldCondition(key="w", match=models.MatchValue(value=self.index))]
        )

    def check_scroll(self, records: list[Any]) -> None:
        got = {int(r.id): r.payload for r in records}
        if got != self.model:
            self.errors.append(f"worker {self.index}: scroll disagrees with its model")


async def run_task(client: AsyncClient, worker: Worker, until: float) -> None:
    while time.monotonic() < until:
        await asyncio.sleep(worker.wait())
        op, kwargs = worker.step()
        try:
            if op == "query":
                await client.query_points("c", **kwargs)
            elif op == "upsert":
                await client.upsert("c", **kwargs)
            elif op == "set_payload":
                await client.set_payload("c", **kwargs)
            elif op == "delete":
                await client.delete("c", **kwargs)
            else:
                # No name for the page: one held until the next scroll kept a stale page
                # per task alive (88,000 records at 40 s), the script's own garbage for
                # the collector to walk on every full collection.
                worker.check_scroll((await client.scroll("c", worker.own_filter(), limit=SPAN))[0])
        except Exception as exc:
            worker.errors.append(f"{op}: {exc!r}")
        worker.ops += 1


def run_thread(client: Client, worker: Worker, until: float) -> None:
    while time.monotonic() < until:
        time.sleep(worker.wait())
        op, kwargs = worker.step()
        try:
            if op == "query":
                client.query_points("c", **kwargs)
            elif op == "upsert":
                client.upsert("c", **kwargs)
            elif op == "set_payload":
                client.set_payload("c", **kwargs)
            elif op == "delete":
                client.delete("c", **kwargs)
            else:
                worker.check_scroll(client.scroll("c", worker.own_filter(), limit=SPAN)[0])
        except Exception as exc:
            worker.errors.append(f"{op}: {exc!r}")
        worker.ops += 1


async def ticker(lags: list[float], stop: asyncio.Event) -> None:
    """Record how late each 1 ms sleep wakes up, and time the full collections meanwhile."""
    gc.callbacks.append(_time_full_collections)
    try:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - before - 0.001)
    finally:
        gc.callbacks.remove(_time_full_collections)


FULL_COLLECTIONS: list[float] = []  # the ticker's run's full collections, ms each
_collecting = [0.0]


def _time_full_collections(phase: str, info: dict[str, Any]) -> None:
    # A full collection stops every thread, the loop's too (see BENCHMARKS.md, "Soak").
    if info["generation"] == 2:
        if phase == "start":
            _collecting[0] = time.perf_counter()
        else:
            FULL_COLLECTIONS.append((time.perf_counter() - _collecting[0]) * 1000)


async def floor(args: argparse.Namespace) -> dict[str, Any]:
    """The ticker beside ``args.threads`` threads that run Python without ever blocking, and
    no Shoal: the lag the interpreter itself gives the loop when that many threads always
    want the GIL (a saturated workload's floor)."""
    until = time.monotonic() + args.seconds
    spins = [0] * args.threads

    def spin(i: int) -> None:
        while time.monotonic() < until:
            spins[i] += len({j: str(j) for j in range(100)})

    lags: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(lags, stop))
    threads = [threading.Thread(target=spin, args=(i,)) for i in range(args.threads)]
    for t in threads:
        t.start()
    await asyncio.sleep(args.seconds)
    await asyncio.to_thread(lambda: [t.join() for t in threads])
    stop.set()
    await tick
    return {"seconds": args.seconds, "points": 0, "errors": [], "problems": [], **_lag(lags)}


def _lag(lags: list[float]) -> dict[str, float]:
    ms = np.asarray(lags) * 1000
    return {
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
    }


def final_check(client: Client, workers: list[Worker]) -> list[str]:
    expected: dict[int, dict[str, Any]] = {}
    for w in workers:
        expected.update(w.model)
    problems = []
    count = client.count("c").count
    records, _ = client.scroll("c", limit=len(expected) + 1000)
    got = {int(r.id): r.payload for r in records}
    if count != len(expected):
        problems.append(f"count {count} != model {len(expected)}")
    if got != expected:
        problems.append(f"scroll ({len(got)} points) differs from the model")
    return problems


async def soak(args: argparse.Namespace, folder: str) -> dict[str, Any]:
    pool = np.random.default_rng(args.seed).uniform(-1, 1, (4096, DIM)).tolist()
    tasks, threads_n = args.tasks, args.threads
    workers = [Worker(i, args.seed, pool) for i in range(tasks + threads_n)]
    async with AsyncClient(path=folder) as aclient:
        await aclient.create_collection("c", models.VectorParams(size=DIM, distance="Cosine"))
        await aclient.create_payload_index("c", "w", "integer")
        sclient = Client(path=folder)  # the same engine: clients of one process share it
        lags: list[float] = []
        stop = asyncio.Event()
        tick = asyncio.create_task(ticker(lags, stop))
        start = time.monotonic()
        until = start + args.seconds
        if args.rate:
            for w in workers:
                w.pace(args.rate / len(workers), start)
        threads = [
            threading.Thread(target=run_thread, args=(sclient, w, until)) for w in workers[tasks:]
        ]
        for t in threads:
            t.start()
        await asyncio.gather(*(run_task(aclient, w, until) for w in workers[:tasks]))
        if not tasks:
            await asyncio.sleep(max(0.0, until - time.monotonic()))
        await asyncio.to_thread(lambda: [t.join() for t in threads])
        elapsed = time.monotonic() - start
        stop.set()
        await tick
        problems = await asyncio.to_thread(final_check, sclient, workers)
        sclient.close()
    with Client(path=folder) as reopened:  # and again after a reopen
        problems += [f"after reopen: {p}" for p in final_check(reopened, workers)]
    return {
        "ops": sum(w.ops for w in workers),
        "seconds": elapsed,
        "points": sum(len(w.model) for w in workers),
        **_lag(lags),
        "errors": [e for w in workers for e in w.errors],
        "problems": problems,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=180.0, help="how long to run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tasks", type=int, default=TASKS, help="async tasks on the loop")
    ap.add_argument("--threads", type=int, default=THREADS, help="threads with a sync Client")
    ap.add_argument(
        "--rate",
        type=float,
        default=600.0,
        help="operations a second offered by all workers together (0: each back to back)",
    )
    ap.add_argument(
        "--floor",
        action="store_true",
        help="no Shoal: the ticker beside --threads threads that only run Python "
        "(--tasks and --rate do not apply)",
    )
    ap.add_argument("--smoke", action="store_true", help="run for 5 seconds")
    ap.add_argument(
        "--no-gc",
        action="store_true",
        help="disable the cyclic garbage collector, to measure its share of the lag",
    )
    args = ap.parse_args()
    if args.no_gc:
        gc.disable()
    if args.smoke:
        args.seconds = 5.0
    if args.floor:
        res = asyncio.run(floor(args))
        who = f"floor: {args.threads} threads running Python, no Shoal"
    else:
        with tempfile.TemporaryDirectory() as folder:
            res = asyncio.run(soak(args, folder))
        who = f"{args.tasks} tasks + {args.threads} threads" + (", no gc" if args.no_gc else "")
        if args.rate:
            who += f", {args.rate:g} operations a second offered"
    print(f"{who}, {res['seconds']:.0f} s, {res['points']} points")
    print("| ops/s | loop lag p50 ms | p99 ms | max ms | errors | final check |")
    print("|---:|---:|---:|---:|---:|---|")
    if args.floor:
        ops, errors, verdict = "-", "-", "-"
    else:
        ops, errors = f"{res['ops'] / res['seconds']:,.0f}", str(len(res["errors"]))
        verdict = "; ".join(res["problems"]) or "count = scroll = model"
    print(
        f"| {ops} | {res['p50']:.2f} | {res['p99']:.2f} | {res['max']:.1f} | {errors} | {verdict} |"
    )
    longest = f", the longest {max(FULL_COLLECTIONS):.1f} ms" if FULL_COLLECTIONS else ""
    print(f"full collections of the garbage collector meanwhile: {len(FULL_COLLECTIONS)}{longest}")
    for e in res["errors"][:10]:
        print("error:", e)
    if res["errors"] or res["problems"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
