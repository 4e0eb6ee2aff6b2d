"""Throughput and latency of `shoal serve` under concurrent async clients (issue 4).

    python bench/bench_server.py                      # 10,000 points, dim 384, 64 in flight
    python bench/bench_server.py --n 10000 --dim 384 --concurrency 64 --requests 3000

Starts two servers as subprocesses on loopback ports, both under uvicorn with the same
settings (uvloop and httptools when installed, no access log):

- `python -m shoal serve` on a fresh storage folder, loaded with ``--n`` points from
  ``TopicMixture(dim, topics=1000, seed=0)`` (``bench/synthetic.py``);
- a bare ASGI app that answers every POST with a small constant JSON body: the floor that
  uvicorn, the HTTP stack and the benchmark client impose on any endpoint.

Then one async client keeps ``--concurrency`` requests in flight and measures requests/s
and per-request latency for each operation. Client and servers share the machine's cores,
so the client's own cost is part of every number (the bare row shows how much).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from _smoke import parse_args
from synthetic import TopicMixture

from shoal import AsyncClient
from shoal import models as m
from shoal.client._async.http import LIMITS, MAX_IN_FLIGHT
from shoal.client.http_gate import RequestGate

BARE_BODY = b'{"result":{"points":[]},"status":"ok","time":0.0}'


# ---------------------------------------------------------------------- bare app


async def bare_app(scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
    """The floor: read the request body, answer a small constant JSON."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": BARE_BODY})


def run_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(
        bare_app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="auto",
        http="auto",
    )


# ---------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def process(cmd: list[str], url: str, ready_path: str) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process and wait (bounded) until ``ready_path`` answers; always stop it."""
    proc = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=2) as http:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"server exited early: {' '.join(cmd)}")
                try:
                    if http.get(url + ready_path).status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"server not ready in 60 s: {' '.join(cmd)}")
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ---------------------------------------------------------------------- measuring


@dataclass
class Row:
    target: str
    operation: str
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        return float(np.percentile(np.asarray(self.latencies) * 1000, q))


async def drive(
    n: int, concurrency: int, call: Callable[[int], Awaitable[object]]
) -> tuple[float, list[float]]:
    """Run ``call(i)`` for i < n with ``concurrency`` calls in flight; (seconds, latencies)."""
    latencies: list[float] = []
    todo = iter(range(n))

    async def worker() -> None:
        for i in todo:
            t0 = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, latencies


async def measure(
    target: str,
    operation: str,
    n: int,
    concurrency: int,
    call: Callable[[int], Awaitable[object]],
    warmup: int,
) -> Row:
    await drive(warmup, concurrency, call)
    seconds, latencies = await drive(n, concurrency, call)
    return Row(target, operation, n, seconds, latencies)


async def bench(args: argparse.Namespace, shoal_url: str, bare_url: str) -> list[Row]:
    data = TopicMixture(dim=args.dim, seed=0)
    base = data.base(args.n + args.requests + args.warmup)
    stored, extra = base[: args.n], base[args.n :]
    queries = data.queries(512)
    qlists = [q.tolist() for q in queries]
    rows: list[Row] = []
    async with AsyncClient(shoal_url, timeout=120) as client:
        await client.create_collection(
            "bench", m.VectorParams(size=args.dim, distance=m.Distance.COSINE)
        )
        t0 = time.perf_counter()
        for start in range(0, args.n, 500):
            block = stored[start : start + 500]
            await client.upsert(
                "bench",
                m.Batch(ids=list(range(start, start + len(block))), vectors=block.tolist()),
            )
        load_s = time.perf_counter() - t0
        assert (await client.count("bench")).count == args.n
        print(f"loaded {args.n} points of dim {args.dim} in {load_s:.1f} s", file=sys.stderr)

        # The raw rows send through httpx the way Shoal's transport does: the same pool
        # limits, with requests beyond them queued on the same gate.
        gate = RequestGate(MAX_IN_FLIGHT)
        async with httpx.AsyncClient(limits=LIMITS) as http:
            body = m.QueryRequest(query=qlists[0], limit=10).model_dump_json(exclude_none=True)

            async def bare(i: int) -> object:
                async with gate:
                    return await http.post(bare_url + "/", content=body)

            rows.append(
                await measure(
                    "bare uvicorn",
                    "POST small JSON (httpx)",
                    args.requests,
                    args.concurrency,
                    bare,
                    args.warmup,
                )
            )

            async def raw_query(i: int) -> object:
                req = m.QueryRequest(query=qlists[i % len(qlists)], limit=10)
                async with gate:
                    response = await http.post(
                        shoal_url + "/collections/bench/points/query",
                        content=req.model_dump_json(exclude_none=True),
                        headers={"content-type": "application/json"},
                    )
                response.raise_for_status()
                return response

            rows.append(
                await measure(
                    "shoal serve",
                    "query, k=10 (httpx, raw JSON)",
                    args.requests,
                    args.concurrency,
                    raw_query,
                    args.warmup,
                )
            )

        async def query(i: int) -> object:
            return await client.query_points("bench", qlists[i % len(qlists)], limit=10)

        rows.append(
            await measure(
                "shoal serve",
                "query_points, k=10 (AsyncClient)",
                args.requests,
                args.concurrency,
                query,
                args.warmup,
            )
        )

        next_id = [args.n]

        async def upsert(i: int) -> object:
            pid = next_id[0]
            next_id[0] += 1
            vector = extra[(pid - args.n) % len(extra)].tolist()
            point = m.PointStruct(id=pid, vector=vector, payload={"i": pid})
            return await client.upsert("bench", [point])

        rows.append(
            await measure(
                "shoal serve",
                "upsert 1 point, wait=True (AsyncClient)",
                args.requests,
                args.concurrency,
                upsert,
                args.warmup,
            )
        )
        expected = args.n + args.requests + args.warmup
        assert (await client.count("bench")).count == expected
    return rows


def table(rows: list[Row]) -> str:
    floor = rows[0].rps
    lines = [
        "| target | operation | requests | req/s | p50 ms | p99 ms | req/s vs bare |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.target} | {r.operation} | {r.requests:,} | {r.rps:,.0f} | "
            f"{r.pct(50):.1f} | {r.pct(99):.1f} | {r.rps / floor:.2f}x |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="points stored")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--requests", type=int, default=3000, help="measured per operation")
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured, per operation")
    parser.add_argument("--bare-port", type=int, help=argparse.SUPPRESS)
    smoke = {"n": 500, "concurrency": 8, "requests": 100, "warmup": 10}
    args = parse_args(parser, smoke)
    if args.bare_port:
        run_bare(args.bare_port)
        return 0
    shoal_port, bare_port = free_port(), free_port()
    shoal_url, bare_url = f"http://127.0.0.1:{shoal_port}", f"http://127.0.0.1:{bare_port}"
    with tempfile.TemporaryDirectory(prefix="shoal-bench-server-") as tmp:
        shoal_cmd = [sys.executable, "-m", "shoal", "serve", "--path", str(Path(tmp) / "data")]
        shoal_cmd += ["--port", str(shoal_port), "--log-level", "warning"]
        bare_cmd = [sys.executable, os.path.abspath(__file__), "--bare-port", str(bare_port)]
        with process(shoal_cmd, shoal_url, "/readyz"), process(bare_cmd, bare_url, "/"):
            try:
                import uvloop

                rows = uvloop.run(bench(args, shoal_url, bare_url))
                loop = "uvloop"
            except ImportError:
                rows = asyncio.run(bench(args, shoal_url, bare_url))
                loop = "asyncio"
    print(
        f"\n{args.n:,} points, dim {args.dim}, {args.concurrency} requests in flight, "
        f"{args.requests:,} measured requests per row (client loop: {loop}, "
        f"{MAX_IN_FLIGHT} on the wire at once, "
        f"{os.cpu_count()} cores shared by client and servers)\n"
    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
