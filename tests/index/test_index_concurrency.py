"""Concurrent writes and searches on one HnswIndex: no crash, every hit is a real row.

usearch releases the GIL, so these threads really overlap inside the C++ calls. Each row
always maps to the same vector here, so any hit can be checked against its exact distance:
garbage (usearch's free-slot sentinel, a torn vector, a wrong key) would fail the check.
Threads start on a barrier and the searcher runs until the writer's "done" event; no sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from index_oracle import index_distances as exact_distances

from shoal.index.hnsw import HnswIndex

DIM, K = 32, 10


def vectors(n: int) -> np.ndarray:
    x = np.random.default_rng(5).standard_normal((n, DIM)).astype(np.float32)
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def run_concurrently(
    index: HnswIndex, base: np.ndarray, writer: Callable[[], None], min_live: int
) -> int:
    """Run ``writer`` against a searcher; return the number of checked searches."""
    queries = np.random.default_rng(6).standard_normal((16, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    start = threading.Barrier(2)
    done = threading.Event()
    errors: list[BaseException] = []
    searches = [0]

    def search_loop() -> None:
        try:
            start.wait()
            while True:
                finished = done.is_set()  # read first: one full search after the writer ends
                for q in (queries, queries[0]):
                    rows, dists = index.search(q, K, ef=32)
                    q2 = np.atleast_2d(q)
                    assert rows.shape == (len(q2), K)
                    assert ((rows >= 0) & (rows < len(base))).all(), rows
                    assert ((rows >= 0).sum(axis=1) >= min(K, min_live)).all()
                    exact = exact_distances(base[rows], q2, "Cosine")
                    assert np.abs(exact - dists).max() < 2e-2, (exact, dists)
                    searches[0] += 1
                if finished:
                    return
        except BaseException as exc:
            errors.append(exc)

    def write() -> None:
        try:
            start.wait()
            writer()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    threads = [threading.Thread(target=search_loop), threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return searches[0]


def test_concurrent_add_and_search() -> None:
    base = vectors(6000)
    index = HnswIndex(DIM, "Cosine", threads=2)
    index.add(np.arange(1000), base[:1000])

    def writer() -> None:
        for s in range(1000, 6000, 250):
            index.add(np.arange(s, s + 250), base[s : s + 250])

    assert run_concurrently(index, base, writer, min_live=1000) > 0
    assert len(index) == 6000
    # After the dust settles the index answers like a serially built one.
    rows, _ = index.search(base[:50], 1, ef=64)
    assert (rows[:, 0] == np.arange(50)).mean() >= 0.95


def test_concurrent_update_remove_and_search() -> None:
    base = vectors(4000)
    index = HnswIndex(DIM, "Cosine", threads=2)
    index.add(np.arange(3000), base[:3000])
    rng = np.random.default_rng(7)

    def writer() -> None:
        for s in range(3000, 4000, 100):
            gone = rng.choice(3000, 100, replace=False)
            index.remove(gone)  # delete ...
            index.add(gone, base[gone])  # ... and the row comes back (slot reuse)
            index.add(np.arange(s, s + 100), base[s : s + 100])  # plus fresh rows
            index.add(gone[:20], base[gone[:20]])  # an update: remove + add inside

    assert run_concurrently(index, base, writer, min_live=2900) > 0
    assert len(index) == 4000
