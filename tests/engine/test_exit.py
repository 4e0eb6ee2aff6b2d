"""A program that writes and ends without close() exits cleanly and loses nothing.

Each child process upserts 10,000 points of 384 dimensions into a storage folder and ends
while the index build runs in the background. It used to die with "terminate called without
an active exception" (status 134): the indexer's native insert was still running on a
daemon thread while the interpreter tore down.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from shoal import Client, models

DIM, N = 384, 10_000

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    import numpy as np
    from shoal import AsyncClient, Client, models

    path, mode, run, dim, n = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
    config = dict(vectors_config=models.VectorParams(size=dim, distance="Cosine"))
    rows = np.random.default_rng(run).standard_normal((n, dim)).tolist()
    batches = [
        models.Batch(ids=list(range(s, s + 1000)), vectors=rows[s : s + 1000])
        for s in range(0, n, 1000)
    ]

    if mode == "sync":
        client = Client(path=path)
        if not client.collection_exists("c"):
            client.create_collection("c", **config)
        for batch in batches:
            client.upsert("c", batch)
    else:
        async def main():
            client = AsyncClient(path=path)
            if not await client.collection_exists("c"):
                await client.create_collection("c", **config)
            for batch in batches:
                await client.upsert("c", batch)
        asyncio.run(main())
    print("written", flush=True)
    """
)


def run_child(path: Path, mode: str, run: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode, str(run), str(DIM), str(N)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stderr == ""
    assert done.stdout.strip() == "written"


def test_programs_that_never_close_exit_cleanly_and_lose_nothing(tmp_path: Path) -> None:
    modes = ["sync", "async"] * 5  # each run overwrites every point with new vectors
    for run, mode in enumerate(modes):
        run_child(tmp_path, mode, run)
    last = len(modes) - 1
    expected = np.random.default_rng(last).standard_normal((N, DIM))
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)

    with Client(path=tmp_path) as client:
        assert client.count("c").count == N
        col = client._transport.database().collection("c")  # type: ignore[union-attr]
        assert col.wait_indexed(240)
        assert client.get_collection("c").status == models.CollectionStatus.GREEN
        stored = {
            r.id: r.vector for r in client.retrieve("c", list(range(0, N, 500)), with_vectors=True)
        }
        assert all(np.allclose(stored[i], expected[i], atol=1e-6) for i in stored)
        # The index holds exactly the live points, each with its last written vector (at
        # the index's f16 precision): nothing stale, nothing lost.
        searchable = col.ann.searchable_index("")
        assert searchable is not None and not len(searchable.backlog)
        rows = [col.state.row(i) for i in range(N)]
        serials = col.state.serial[rows]
        assert sorted(searchable.hnsw.keys().tolist()) == sorted(serials.tolist())
        held = searchable.hnsw.vectors(serials)
        assert np.abs(held - expected).max() < 2e-3
        # Searches through the index find what exact search finds. Every child overwrote
        # every point; the count of replaced keys is kept in the index snapshot, so the
        # worn graph was rebuilt (a key replaced in usearch keeps its old links) and is as
        # good as a fresh build.
        queries = np.random.default_rng(99).standard_normal((20, DIM)).tolist()
        for q in queries:
            approx = client.query_points(
                "c", q, limit=10, search_params=models.SearchParams(hnsw_ef=2000)
            )
            exact = client.query_points(
                "c", q, limit=10, search_params=models.SearchParams(exact=True)
            )
            assert [p.id for p in approx.points] == [p.id for p in exact.points]
