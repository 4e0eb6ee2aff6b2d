"""Is Shoal's benchmark data as hard as a reference generator's? Both measured in one run.

    python bench/generator_parity.py --reference PATH/TO/vectors.py [--n 100000]
    python bench/generator_parity.py                  # no reference: seed 0 against seed 1

``bench/synthetic.py`` replaced a reference generator of text-embedding-like vectors that
is not part of this repository. This script measures both at the same size:

- recall@10 of Shoal's HNSW index (``HnswIndex``, f16, m=16, ef_construct=100) at each
  ``--efs``;
- the QPS of Shoal's exact search: the engine's ``exact_search`` over an in-memory
  collection, ``--rounds`` single queries per dataset, the datasets taking turns, medians;
- statistics of the data: cosine of random pairs, of the nearest and the 10th nearest
  neighbour, relative contrast, local intrinsic dimensionality.

Ground truth for both comes from ``synthetic.exact_top_k``. Parity: recall within
``--recall-tolerance`` at ef 64 and 128, exact-search QPS within ``--qps-tolerance``.

``--reference`` names a Python file that defines ``Mixture(dim=..., clusters=..., seed=...)``
with ``base(n)`` and ``queries(n)`` methods; it is read only when given. Without it, the
comparison is Shoal's generator with seed 0 against seed 1: the noise floor of the
comparison itself.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _smoke import parse_args
from bench_exact import exact_collection
from synthetic import TopicMixture, exact_top_k

from shoal.engine import Collection, Database
from shoal.engine.search import exact_search
from shoal.index.hnsw import HnswIndex

PARITY_EFS = (64, 128)


@dataclass
class Dataset:
    """One generator's vectors, ground truth and measurements."""

    name: str
    base: np.ndarray
    queries: np.ndarray
    truth: np.ndarray = field(init=False)
    stats: dict[str, float] = field(default_factory=dict)
    recall: dict[int, float] = field(default_factory=dict)
    build_s: float = 0.0
    wall_s: list[float] = field(default_factory=list)  # per exact search
    cpu_s: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.truth = exact_top_k(self.base, self.queries, 20)


def load_reference(path: Path, dim: int, clusters: int) -> Any:
    """The reference generator's ``Mixture`` from ``path``, seed 0."""
    spec = importlib.util.spec_from_file_location("reference_vectors", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load a Python module from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Mixture(dim=dim, clusters=clusters, seed=0)


def describe(d: Dataset) -> None:
    """Statistics of the data that make an index's job easy or hard."""
    rng = np.random.default_rng(5)
    pairs = rng.integers(0, len(d.base), (2, min(20_000, len(d.base))))
    random_cos = np.einsum("ij,ij->i", d.base[pairs[0]], d.base[pairs[1]])
    near = np.take_along_axis(d.queries @ d.base.T, d.truth, axis=1)  # best first
    dist = np.sqrt(np.maximum(2.0 - 2.0 * near, 1e-12))
    # Levina-Bickel maximum likelihood estimate over the 20 nearest neighbours.
    lid = -1.0 / np.mean(np.log(dist[:, :-1] / dist[:, -1:]), axis=1)
    d.stats = {
        "cosine of random pairs (mean)": float(random_cos.mean()),
        "cosine of random pairs (sd)": float(random_cos.std()),
        "cosine to the nearest neighbour (mean)": float(near[:, 0].mean()),
        "cosine to the 10th nearest (mean)": float(near[:, 9].mean()),
        "relative contrast (random / nearest distance)": float(
            (1 - random_cos.mean()) / (1 - near[:, 0]).mean()
        ),
        "local intrinsic dimensionality (median, k=20)": float(np.median(lid)),
    }


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the true 10 nearest that ``found``'s first 10 contain."""
    pairs = zip(found, truth, strict=True)
    hits = sum(len(set(f[:10].tolist()) & set(t[:10].tolist())) for f, t in pairs)
    return hits / (10 * len(truth))


def measure_hnsw(d: Dataset, efs: list[int]) -> None:
    """Build Shoal's default HNSW index on ``d`` and measure recall@10 at each ef."""
    index = HnswIndex(d.base.shape[1], "Cosine", dtype="f16")
    t0 = time.perf_counter()
    index.add(np.arange(len(d.base)), d.base)
    d.build_s = time.perf_counter() - t0
    for ef in efs:
        d.recall[ef] = recall_at_10(index.search(d.queries, 10, ef)[0], d.truth)
    print(f"{d.name}: HNSW built in {d.build_s:.1f} s", file=sys.stderr, flush=True)


def exact_seconds(col: Collection, query: np.ndarray) -> tuple[float, float]:
    """Wall and CPU seconds of the calling thread for one exact search over all of ``col``.

    A single query's product runs on one BLAS thread (``shoal.index.blas``), so the calling
    thread's CPU time is the search's whole cost, whatever else the machine is doing.
    """
    column, high, invalid = col.state.columns[""], col.state.high, col.searcher.invalid_rows("")
    cpu, wall = time.thread_time(), time.perf_counter()
    exact_search(column, high, query[None], 10, invalid=invalid)
    return time.perf_counter() - wall, time.thread_time() - cpu


def measure_exact(sets: list[Dataset], rounds: int) -> None:
    """Exact-search QPS of each dataset from ``rounds`` timed single queries.

    The computation does not depend on the data, so any difference is the machine's: the
    datasets take turns query by query (a slow spell of a shared machine hits both), in
    A-B-B-A order (neither always runs right after the other).
    """
    loaded: list[tuple[Database, Collection]] = [exact_collection(d.base) for d in sets]
    pairs = list(zip(sets, loaded, strict=True))
    for d, (_, col) in pairs:
        exact_seconds(col, d.queries[0])  # warm-up
    for r in range(rounds):
        for d, (_, col) in pairs if r % 2 == 0 else pairs[::-1]:
            wall, cpu = exact_seconds(col, d.queries[r % len(d.queries)])
            d.wall_s.append(wall)
            d.cpu_s.append(cpu)
    for db, _ in loaded:
        db.close()


def report(ref: Dataset, ours: Dataset, args: argparse.Namespace) -> None:
    """Print the comparison as a markdown table with a parity verdict per criterion."""
    print(f"\n{len(ours.base):,} vectors, dim {args.dim}, {len(ours.queries):,} queries, k=10\n")
    print(f"| measure | {ref.name} | {ours.name} | difference | parity |")
    print("|---|---:|---:|---:|---|")
    for ef in args.efs:
        diff = ours.recall[ef] - ref.recall[ef]
        verdict = ""
        if ef in PARITY_EFS:
            ok = abs(diff) <= args.recall_tolerance
            verdict = f"{'yes' if ok else 'NO'} (within {args.recall_tolerance})"
        print(
            f"| HNSW recall@10, ef {ef} | {ref.recall[ef]:.4f} | {ours.recall[ef]:.4f} "
            f"| {diff:+.4f} | {verdict} |"
        )
    ref_qps, our_qps = 1 / statistics.median(ref.wall_s), 1 / statistics.median(ours.wall_s)
    change = our_qps / ref_qps - 1
    ok = abs(change) <= args.qps_tolerance
    print(
        f"| exact search QPS (single queries, median of {args.rounds}) "
        f"| {ref_qps:,.1f} | {our_qps:,.1f} | {change:+.1%} "
        f"| {'yes' if ok else 'NO'} (within {args.qps_tolerance:.0%}) |"
    )
    ref_cpu, our_cpu = 1 / statistics.median(ref.cpu_s), 1 / statistics.median(ours.cpu_s)
    print(
        f"| the same, per second of the searching thread's CPU | {ref_cpu:,.1f} "
        f"| {our_cpu:,.1f} | {our_cpu / ref_cpu - 1:+.1%} | |"
    )
    print(f"| HNSW build s (both cores) | {ref.build_s:.1f} | {ours.build_s:.1f} | | |")
    for key, value in ref.stats.items():
        print(f"| {key} | {value:.3f} | {ours.stats[key]:.3f} | {ours.stats[key] - value:+.3f} | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--reference", type=Path, help="the reference generator's Python file")
    ap.add_argument("--n", type=int, default=100_000, help="base vectors per dataset")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument(
        "--efs", type=lambda s: [int(x) for x in s.split(",")], default=[16, 32, 64, 128]
    )
    ap.add_argument("--rounds", type=int, default=1000, help="exact searches per dataset")
    ap.add_argument("--recall-tolerance", type=float, default=0.01)
    ap.add_argument("--qps-tolerance", type=float, default=0.05)
    args = parse_args(ap, {"n": 3000, "queries": 100, "rounds": 20, "efs": [16, 64, 128]})

    ours = TopicMixture(dim=args.dim, topics=args.clusters, seed=0)
    if args.reference is not None:
        other: Any = load_reference(args.reference, args.dim, args.clusters)
        ref_name = "reference"
    else:
        other = TopicMixture(dim=args.dim, topics=args.clusters, seed=1)
        ref_name = "synthetic, seed 1"
        print("no --reference: comparing seed 0 with seed 1 of bench/synthetic.py")
    sets = [
        Dataset(ref_name, other.base(args.n), other.queries(args.queries)),
        Dataset("synthetic", ours.base(args.n), ours.queries(args.queries)),
    ]
    for d in sets:
        describe(d)
        measure_hnsw(d, args.efs)
    measure_exact(sets, args.rounds)
    report(sets[0], sets[1], args)


if __name__ == "__main__":
    main()
