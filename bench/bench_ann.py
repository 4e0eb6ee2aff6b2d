"""ANN index benchmark: recall@k, QPS and latency of HnswIndex per dtype and ef.

Compares, in one process on the same data, Shoal's HnswIndex (usearch) with f16, bf16, f32
and our own int8 scaling (with and without exact float32 rescoring), exact numpy search
(matrix product + argpartition) and hnswlib (M=16, ef_construction=100). Then measures the
exact-vs-HNSW crossover that shoal.engine.search.choose_method uses, and filtered search
(post-filter over-fetch vs exact over the matching rows).

Data: ``TopicMixture(dim=384, topics=1000, seed=0)`` from ``bench/synthetic.py``
(text-embedding-like, unit-normalised); queries are fresh draws. Cosine similarity
throughout. hnswlib comes with the ``bench`` extra; without it its rows are left out.

    python bench/bench_ann.py --n 100000
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from _smoke import parse_args
from synthetic import TopicMixture, exact_top_k

from shoal.index.hnsw import HnswIndex

Search = Callable[[np.ndarray, int], np.ndarray]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    hits = sum(
        len(set(f[:k].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)
    )
    return hits / truth.size


def exact_batch(base: np.ndarray, queries: np.ndarray, k: int, chunk: int = 256) -> np.ndarray:
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), chunk):
        sims = queries[s : s + chunk] @ base.T
        idx = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.take_along_axis(sims, idx, 1).argsort(axis=1)[:, ::-1]
        out[s : s + chunk] = np.take_along_axis(idx, order, 1)
    return out


def exact_one(base: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    sims = base @ query
    idx = np.argpartition(-sims, k)[:k]
    top: np.ndarray = idx[np.argsort(-sims[idx])]
    return top


def rescored(cand: np.ndarray, queries: np.ndarray, base: np.ndarray, k: int) -> np.ndarray:
    """Each query's k best candidates by exact float32 cosine (as the engine ranks them);
    -1 marks a missing candidate."""
    valid = cand >= 0
    sims = np.einsum("bcd,bd->bc", base[np.where(valid, cand, 0)], queries)
    sims[~valid] = -np.inf
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    out: np.ndarray = np.take_along_axis(cand, order, axis=1)
    return out


def post_filtered(index: HnswIndex, q: np.ndarray, k: int, ef: int, mask: np.ndarray) -> np.ndarray:
    """The index's nearest rows the filter allows: over-fetched by the filter's share, then
    filtered (the engine's post-filter, without its widening rounds)."""
    queries = np.atleast_2d(q)
    share = max(float(mask.mean()), 1.0 / len(mask))
    count = min(len(index), max(ef, int(np.ceil(1.5 * k / share))))
    cand = index.search(queries, count, ef)[0]
    out = np.full((len(queries), k), -1, dtype=np.int64)
    for j, row in enumerate(cand):
        kept = row[row >= 0]
        kept = kept[mask[kept]][:k]
        out[j, : len(kept)] = kept
    return out


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def latencies(fn: Callable[[np.ndarray], object], queries: np.ndarray) -> tuple[float, float]:
    """p50, p99 in milliseconds of single-query calls."""
    fn(queries[0])  # warm-up
    times = sorted(timed(lambda q=q: fn(q)) for q in queries)
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return statistics.median(times) * 1e3, p99 * 1e3


def row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(header: list[str], rows: list[list[object]]) -> None:
    print(row(header))
    print(row(["---"] * len(header)))
    for r in rows:
        print(row(r))
    print(flush=True)


# --------------------------------------------------------------------- sections


def bench_recall_qps(args: argparse.Namespace, base: np.ndarray, queries: np.ndarray) -> None:
    k, n = args.k, len(base)
    truth = exact_top_k(base, queries, k)
    single = queries[: args.single]
    rows: list[list[object]] = []
    build_rows: list[list[object]] = []

    t = timed(lambda: exact_batch(base, queries, k))
    p50, p99 = latencies(lambda q: exact_one(base, q, k), single)
    rows.append(
        ["exact numpy", "-", "1.000", f"{len(queries) / t:,.0f}", f"{p50:.2f}", f"{p99:.2f}"]
    )
    print(f"exact numpy done ({len(queries) / t:,.0f} QPS)", file=sys.stderr, flush=True)

    variants = [
        ("f16", 0),
        ("f16", args.rescore),
        ("bf16", 0),
        ("f32", 0),
        ("i8", 0),
        ("i8", args.rescore),
    ]
    built: dict[str, HnswIndex] = {}
    for dtype, factor in variants:
        if dtype not in built:
            gc.collect()
            index = HnswIndex(base.shape[1], "Cosine", dtype=dtype, m=16, ef_construct=100)
            t = timed(lambda index=index: index.add(np.arange(n), base))
            built = {dtype: index}  # keep one index alive at a time (memory)
            build_rows.append(
                [f"HnswIndex {dtype}", f"{t:.1f}", f"{index.memory_usage / 2**20:.0f}"]
            )
            print(f"built {dtype} in {t:.1f}s", file=sys.stderr, flush=True)
        index = built[dtype]
        label = f"HnswIndex {dtype}" + (f" + rescore {factor}xk" if factor else "")
        for ef in args.efs:

            def run(
                q: np.ndarray, ef: int = ef, index: HnswIndex = index, factor: int = factor
            ) -> np.ndarray:
                if not factor:
                    return index.search(q, k, ef)[0]
                cand = index.search(q, factor * k, ef)[0]
                return rescored(cand, np.atleast_2d(q), base, k)

            found = run(queries)
            t = timed(lambda run=run: run(queries))
            p50, p99 = latencies(run, single)
            rows.append(
                [
                    label,
                    ef,
                    f"{recall(found, truth):.3f}",
                    f"{len(queries) / t:,.0f}",
                    f"{p50:.3f}",
                    f"{p99:.3f}",
                ]
            )
    built.clear()

    if not args.skip_hnswlib:
        hnswlib_rows(args, base, queries, truth, rows, build_rows)

    print(f"### Recall@{k} and speed, n={n:,}, {len(queries)} queries, dim {base.shape[1]}\n")
    table(["method", "ef", f"recall@{k}", "batch QPS", "single p50 ms", "single p99 ms"], rows)
    print(f"### Build (m=16, ef_construct=100), n={n:,}\n")
    table(["index", "build s", "memory MiB"], build_rows)


def hnswlib_rows(
    args: argparse.Namespace,
    base: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    rows: list[list[object]],
    build_rows: list[list[object]],
) -> None:
    """hnswlib's rows of the recall table (M=16, ef_construction=100, f32, inner product)."""
    try:
        import hnswlib
    except ImportError:
        print("hnswlib is not installed (it comes with the bench extra): no hnswlib rows\n")
        return
    k, n, single = args.k, len(base), queries[: args.single]
    gc.collect()
    hi = hnswlib.Index(space="ip", dim=base.shape[1])
    hi.init_index(max_elements=n, ef_construction=100, M=16)
    t = timed(lambda: hi.add_items(base, np.arange(n)))
    build_rows.append(
        [
            "hnswlib f32",
            f"{t:.1f}",
            f"~{n * (base.shape[1] * 4 + 2 * 16 * 4 + 12) / 2**20:.0f} (level 0)",
        ]
    )
    print(f"built hnswlib in {t:.1f}s", file=sys.stderr, flush=True)
    for ef in args.efs:
        hi.set_ef(max(ef, k))
        found = hi.knn_query(queries, k)[0]
        t = timed(lambda: hi.knn_query(queries, k))
        p50, p99 = latencies(lambda q: hi.knn_query(q, k, num_threads=1), single)
        rows.append(
            [
                "hnswlib (M=16, efC=100)",
                ef,
                f"{recall(found, truth):.3f}",
                f"{len(queries) / t:,.0f}",
                f"{p50:.3f}",
                f"{p99:.3f}",
            ]
        )


def bench_crossover(args: argparse.Namespace, base: np.ndarray, queries: np.ndarray) -> None:
    k, ef = args.k, args.crossover_ef
    rows: list[list[object]] = []
    batch = queries[:64]
    single = queries[: args.single]
    for size in args.sizes:
        if size > len(base):
            continue
        data = np.ascontiguousarray(base[:size])
        index = HnswIndex(base.shape[1], "Cosine", dtype="f16")
        index.add(np.arange(size), data)
        ex1, _ = latencies(lambda q, data=data: exact_one(data, q, k), single)
        hn1, _ = latencies(lambda q, index=index: index.search(q, k, ef), single)
        ex64 = statistics.median(
            timed(lambda data=data: exact_batch(data, batch, k)) for _ in range(15)
        )
        hn64 = statistics.median(
            timed(lambda index=index: index.search(batch, k, ef)) for _ in range(15)
        )
        rec = recall(index.search(queries, k, ef)[0], exact_top_k(data, queries, k))
        rows.append(
            [
                f"{size:,}",
                f"{ex1:.3f}",
                f"{hn1:.3f}",
                f"{ex1 / hn1:.2f}",
                f"{ex64 * 1e3:.2f}",
                f"{hn64 * 1e3:.2f}",
                f"{ex64 / hn64:.2f}",
                f"{rec:.3f}",
            ]
        )
        print(f"crossover {size} done", file=sys.stderr, flush=True)
    print(f"### Exact vs HNSW (f16, ef={ef}) by collection size, dim {base.shape[1]}\n")
    table(
        [
            "vectors",
            "exact 1q ms",
            "hnsw 1q ms",
            "exact/hnsw",
            "exact 64q ms",
            "hnsw 64q ms",
            "exact/hnsw",
            f"hnsw recall@{k}",
        ],
        rows,
    )


def bench_filtered(args: argparse.Namespace, base: np.ndarray, queries: np.ndarray) -> None:
    k, ef, n = args.k, args.crossover_ef, len(base)
    index = HnswIndex(base.shape[1], "Cosine", dtype="f16")
    index.add(np.arange(n), base)
    rng = np.random.default_rng(7)
    single = queries[: args.single]
    rows: list[list[object]] = []
    for share in args.selectivity:
        mask = rng.random(n) < share
        allowed = np.flatnonzero(mask)
        truth = allowed[exact_top_k(base[allowed], queries, k)]

        def exact_filtered(q: np.ndarray, allowed: np.ndarray = allowed) -> np.ndarray:
            # What the engine does: gather the matching rows, then one product.
            sub = base[allowed]
            if q.ndim == 1:
                return allowed[exact_one(sub, q, k)]
            return allowed[exact_batch(sub, q, k)]

        def hnsw_filtered(q: np.ndarray, mask: np.ndarray = mask) -> np.ndarray:
            return post_filtered(index, q, k, ef, mask)

        for label, fn in (
            ("exact over matches", exact_filtered),
            ("hnsw post-filter", hnsw_filtered),
        ):
            found = fn(queries)
            t = timed(lambda fn=fn: fn(queries))
            p50, _ = latencies(fn, single)
            rows.append(
                [
                    f"{share:.1%}",
                    f"{len(allowed):,}",
                    label,
                    f"{recall(found, truth):.3f}",
                    f"{len(queries) / t:,.0f}",
                    f"{p50:.3f}",
                ]
            )
        print(f"filtered {share} done", file=sys.stderr, flush=True)
    print(f"### Filtered search, n={n:,}, random filters, ef={ef}\n")
    table(["selectivity", "matches", "method", f"recall@{k}", "batch QPS", "single p50 ms"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="base vectors")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument(
        "--efs", type=lambda s: [int(x) for x in s.split(",")], default=[16, 32, 64, 128, 256]
    )
    ap.add_argument("--single", type=int, default=200, help="queries timed one at a time")
    ap.add_argument(
        "--rescore",
        type=int,
        default=4,
        help="over-fetch factor for rescoring (candidates = factor x k)",
    )
    ap.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1000, 2000, 5000, 10000, 20000],
    )
    ap.add_argument("--crossover-ef", type=int, default=64)
    ap.add_argument(
        "--selectivity",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[0.5, 0.1, 0.02, 0.005],
    )
    ap.add_argument("--skip-hnswlib", action="store_true")
    ap.add_argument("--sections", default="recall,crossover,filtered")
    args = parse_args(
        ap,
        {
            "n": 3000,
            "queries": 100,
            "efs": [16, 64],
            "single": 20,
            "sizes": [1000, 2000],
            "selectivity": [0.5, 0.1],
        },
    )

    data = TopicMixture(dim=384, topics=1000, seed=0)
    base = data.base(args.n)
    queries = data.queries(args.queries)
    print(f"# bench_ann: n={args.n:,} queries={args.queries} k={args.k}\n")
    sections = args.sections.split(",")
    if "recall" in sections:
        bench_recall_qps(args, base, queries)
    if "crossover" in sections:
        bench_crossover(args, base, queries)
    if "filtered" in sections:
        bench_filtered(args, base, queries)


if __name__ == "__main__":
    main()
