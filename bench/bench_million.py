"""A million points (or --n of them) through AsyncClient: ingest, index, search, reopen.

    python bench/bench_million.py --n 100000 [--dtype f16|bf16|f32|i8] [--ef 64]

Data: ``TopicMixture(dim=384, topics=1000, seed=0)`` from ``bench/synthetic.py``, base
``base(n)``, ``queries(1000)``, ground truth ``exact_top_k``. Each point has the payload
``{"i": i, "tag": t}`` where ``tag`` (indexed as a keyword) is "p50", "p10", "p1" or
"p01" for 50%, 10%, 1% and 0.1% of the points (spread over all clusters) and "rest" for the
others, so a filter ``tag == t`` has that selectivity.

Steps (all through ``shoal.AsyncClient(path=...)``, the embedded engine in a temp folder):
ingest in batches of --batch with wait=True; wait until ``get_collection`` reports green
(the background HNSW build); recall@10 and QPS of the 1000 queries sent as
``query_batch_points`` batches and as concurrent ``query_points`` calls (coalesced);
single-query latency (sequential ``query_points`` with payload); filtered recall and latency
per selectivity; reopen with the snapshot written at close; reopen after deleting the
snapshot (rebuild) and the agreement of its results with the first run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _smoke import parse_args as parse_with_smoke
from synthetic import TopicMixture, exact_top_k

from shoal import AsyncClient
from shoal import models as m

NAME = "million"
TAGS = [("p50", 0.5), ("p10", 0.1), ("p1", 0.01), ("p01", 0.001)]


def tag_of(i: np.ndarray) -> np.ndarray:
    """Selectivity buckets from a hash of the id: independent of the vectors' clusters."""
    h = (i.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(100_000)
    out = np.full(len(i), "rest", dtype=object)
    edge = 0
    for tag, share in TAGS:
        lo, edge = edge, edge + round(share * 100_000)
        out[(h >= lo) & (h < edge)] = tag
    return out


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB."""
    current = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(
        np.mean([len(set(f[:k]) & set(t.tolist())) / k for f, t in zip(found, truth, strict=True)])
    )


def agreement(a: list[list[int]], b: list[list[int]]) -> float:
    """Share of queries whose result lists are identical."""
    return float(np.mean([x == y for x, y in zip(a, b, strict=True)]))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1e3


async def wait_green(client: AsyncClient, poll: float = 0.2) -> float:
    t0 = time.perf_counter()
    while (await client.get_collection(NAME)).status != m.CollectionStatus.GREEN:
        await asyncio.sleep(poll)
    return time.perf_counter() - t0


async def batched(
    client: AsyncClient, queries: np.ndarray, flt: m.Filter | None, params: m.SearchParams | None
) -> tuple[list[list[int]], float]:
    """All queries as query_batch_points calls of 100: (ids per query, seconds)."""
    found: list[list[int]] = []
    t0 = time.perf_counter()
    for s in range(0, len(queries), 100):
        reqs = [
            m.QueryRequest(query=q.tolist(), filter=flt, limit=10, params=params)
            for q in queries[s : s + 100]
        ]
        for r in await client.query_batch_points(NAME, reqs):
            found.append([int(p.id) for p in r.points])  # type: ignore[arg-type]
    return found, time.perf_counter() - t0


async def concurrent(
    client: AsyncClient, queries: np.ndarray, params: m.SearchParams | None
) -> float:
    """All queries as concurrent query_points calls (the client coalesces them)."""
    t0 = time.perf_counter()
    await asyncio.gather(
        *(client.query_points(NAME, q.tolist(), limit=10, search_params=params) for q in queries)
    )
    return time.perf_counter() - t0


async def singles(
    client: AsyncClient, queries: np.ndarray, flt: m.Filter | None, params: m.SearchParams | None
) -> tuple[list[list[int]], list[float]]:
    """Sequential query_points calls with payload: (ids per query, seconds per call)."""
    found, times = [], []
    for q in queries:
        vec = q.tolist()
        t0 = time.perf_counter()
        r = await client.query_points(
            NAME, vec, query_filter=flt, limit=10, with_payload=True, search_params=params
        )
        times.append(time.perf_counter() - t0)
        found.append([int(p.id) for p in r.points])  # type: ignore[arg-type]
    return found, times


async def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"n": args.n, "dtype": args.dtype, "ef": args.ef}
    data = TopicMixture(dim=args.dim, seed=0)
    base = data.base(args.n)
    queries = data.queries(args.queries)
    ids = np.arange(args.n)
    tags = tag_of(ids)
    t0 = time.perf_counter()
    truth = exact_top_k(base, queries, 10)
    filtered_truth = {}
    for tag, _ in TAGS:
        rows = np.flatnonzero(tags == tag)
        filtered_truth[tag] = rows[exact_top_k(base[rows], queries, min(10, len(rows)))]
    print(f"data + ground truth: {time.perf_counter() - t0:.1f} s", flush=True)

    folder = Path(args.path or tempfile.mkdtemp(prefix="shoal-million-"))
    params = m.SearchParams(hnsw_ef=args.ef) if args.ef else None
    # f16 is the default; int8 is asked for as in Qdrant (scalar quantization), the others
    # through Shoal's extension of quantization_config.
    quantization: dict[str, Any] | None = None
    if args.dtype == "i8":
        quantization = {"scalar": {"type": "int8", "always_ram": True}}
    elif args.dtype != "f16":
        quantization = {"shoal": {"index_dtype": args.dtype}}
    try:
        client = AsyncClient(path=folder)
        await client.create_collection(
            NAME,
            m.VectorParams(size=args.dim, distance="Cosine"),
            quantization_config=quantization,
        )
        await client.create_payload_index(NAME, "tag", "keyword")
        t0 = time.perf_counter()
        for s in range(0, args.n, args.batch):
            e = min(args.n, s + args.batch)
            await client.upsert(
                NAME,
                m.Batch(
                    ids=ids[s:e].tolist(),
                    vectors=base[s:e].tolist(),
                    payloads=[{"i": int(i), "tag": str(tags[i])} for i in range(s, e)],
                ),
            )
        out["ingest_s"] = time.perf_counter() - t0
        print(f"ingest: {out['ingest_s']:.1f} s", flush=True)
        out["index_after_ingest_s"] = await wait_green(client)
        out["ingest_index_s"] = out["ingest_s"] + out["index_after_ingest_s"]
        info = await client.get_collection(NAME)
        out["indexed_vectors"] = info.indexed_vectors_count
        out["rss_mib"], out["peak_rss_mib"] = rss_mib()
        print(f"indexed: {out['index_after_ingest_s']:.1f} s after ingest", flush=True)

        # Graph reachability: a point that no search reaches (see unum-cloud/USearch#735)
        # is missing from the answer to its own vector.
        sample = np.random.default_rng(1).choice(args.n, size=min(args.n, 2000), replace=False)
        own, _ = await batched(client, base[sample], None, params)
        out["self_recall"] = float(
            np.mean([f[:1] == [int(i)] for f, i in zip(own, sample, strict=True)])
        )
        found, secs = await batched(client, queries, None, params)
        out["recall"] = recall(found, truth)
        out["batch_qps"] = len(queries) / secs
        out["concurrent_qps"] = len(queries) / await concurrent(client, queries, params)
        first_run = found
        out["sweep"] = {}
        for ef in args.sweep:
            sweep_params = m.SearchParams(hnsw_ef=ef)
            s_found, s_secs = await batched(client, queries, None, sweep_params)
            out["sweep"][ef] = {
                "recall": recall(s_found, truth),
                "batch_qps": len(queries) / s_secs,
                "concurrent_qps": len(queries) / await concurrent(client, queries, sweep_params),
            }
            print(f"ef {ef}: {out['sweep'][ef]}", flush=True)
        single_found, times = await singles(client, queries[: args.single], None, params)
        out["single_recall"] = recall(single_found, truth[: args.single])
        out["single_p50_ms"], out["single_p99_ms"] = pct(times, 50), pct(times, 99)
        out["filtered"] = {}
        for tag, share in TAGS:
            flt = m.Filter(must=[m.FieldCondition(key="tag", match=m.MatchValue(value=tag))])
            f_found, f_secs = await batched(client, queries, flt, params)
            _, f_times = await singles(client, queries[: args.single], flt, params)
            out["filtered"][tag] = {
                "share": share,
                "recall": recall(f_found, filtered_truth[tag]),
                "batch_qps": len(queries) / f_secs,
                "p50_ms": pct(f_times, 50),
                "p99_ms": pct(f_times, 99),
            }
            print(f"filtered {tag}: {out['filtered'][tag]}", flush=True)
        col = client._transport.database().collection(NAME)  # type: ignore[union-attr]
        out["methods"] = dict(col.ann.search_methods)

        t0 = time.perf_counter()
        await client.close()
        out["close_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        client = AsyncClient(path=folder)
        await client.get_collection(NAME)  # opens the folder: loads points and snapshot
        out["reopen_snapshot_s"] = time.perf_counter() - t0 + await wait_green(client)
        again, _ = await batched(client, queries, None, params)
        out["reopen_same_results"] = agreement(again, first_run)
        await client.close()

        for f in folder.glob("collections/*/index*.usearch*"):
            f.unlink()
        t0 = time.perf_counter()
        client = AsyncClient(path=folder)
        await client.get_collection(NAME)
        out["reopen_rebuild_s"] = time.perf_counter() - t0 + await wait_green(client)
        rebuilt, _ = await batched(client, queries, None, params)
        out["rebuild_recall"] = recall(rebuilt, truth)
        out["rebuild_same_results"] = agreement(rebuilt, first_run)
        await client.close()
    finally:
        if not args.path:
            shutil.rmtree(folder, ignore_errors=True)
    return out


def report(r: dict[str, Any]) -> None:
    n = r["n"]
    ef = r["ef"] or "default (ef_construct, 100)"
    print(f"\n{n:,} x 384 Cosine, index dtype {r['dtype']}, ef {ef}\n")
    rows = [
        ("ingest (s)", f"{r['ingest_s']:.1f}"),
        ("index after ingest, until green (s)", f"{r['index_after_ingest_s']:.1f}"),
        ("ingest + index (s)", f"{r['ingest_index_s']:.1f}"),
        (
            "resident memory after indexing / peak (MiB)",
            f"{r['rss_mib']:.0f} / {r['peak_rss_mib']:.0f}",
        ),
        ("recall@10 (1000 queries)", f"{r['recall']:.3f}"),
        ("a point's own vector finds it first (2,000 points)", f"{r['self_recall']:.4f}"),
        ("batched QPS (query_batch_points x100)", f"{r['batch_qps']:,.0f}"),
        ("concurrent QPS (1000 x query_points)", f"{r['concurrent_qps']:,.0f}"),
        (
            "single query p50 / p99 (ms, with payload)",
            f"{r['single_p50_ms']:.2f} / {r['single_p99_ms']:.2f}",
        ),
        ("close, snapshot written (s)", f"{r['close_s']:.1f}"),
        ("reopen with snapshot, until green (s)", f"{r['reopen_snapshot_s']:.1f}"),
        ("  results identical to before close", f"{r['reopen_same_results']:.3f}"),
        ("reopen without snapshot (rebuild), until green (s)", f"{r['reopen_rebuild_s']:.1f}"),
        (
            "  recall@10 after rebuild / identical to first run",
            f"{r['rebuild_recall']:.3f} / {r['rebuild_same_results']:.3f}",
        ),
    ]
    print("| measure | value |\n|---|---:|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    print("\n| filter (selectivity) | recall@10 | batched QPS | single p50 ms | single p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for tag, f in r["filtered"].items():
        print(
            f"| tag == {tag} ({f['share']:.1%}) | {f['recall']:.3f} | {f['batch_qps']:,.0f} "
            f"| {f['p50_ms']:.2f} | {f['p99_ms']:.2f} |"
        )
    if r.get("sweep"):
        print("\n| hnsw_ef | recall@10 | batched QPS | concurrent QPS |\n|---:|---:|---:|---:|")
        for ef, row in r["sweep"].items():
            print(
                f"| {ef} | {row['recall']:.3f} | {row['batch_qps']:,.0f} "
                f"| {row['concurrent_qps']:,.0f} |"
            )
    print(f"\nsearch methods: {r['methods']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``bench_million_sweep.py`` builds its folder with it too)."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--single", type=int, default=300, help="sequential single queries")
    ap.add_argument("--batch", type=int, default=2000, help="points per upsert")
    ap.add_argument("--dtype", default="f16", choices=["f16", "bf16", "f32", "i8"])
    ap.add_argument("--ef", type=int, default=None, help="search_params.hnsw_ef")
    ap.add_argument(
        "--sweep",
        type=lambda text: [int(x) for x in text.split(",") if x],
        default=[],
        help="also measure recall and QPS at these hnsw_ef values, e.g. 64,128,256",
    )
    ap.add_argument("--path", default=None, help="storage folder (kept); default: a temp one")
    ap.add_argument("--json", default=None, help="also write the results here")
    # 5,000 points leave 5 in the 0.1% bucket, so every filter has matches.
    smoke = {"n": 5000, "queries": 50, "single": 20, "batch": 1000, "sweep": [32]}
    return parse_with_smoke(ap, smoke, argv)


def main() -> None:
    args = parse_args()
    result = asyncio.run(run(args))
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
