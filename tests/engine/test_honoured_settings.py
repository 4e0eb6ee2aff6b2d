"""Index settings Shoal honours change what the engine does, not only what it reports:
``optimizers_config.indexing_threshold``, ``hnsw_config.max_indexing_threads`` and the
scalar quantization's ``quantile``. Collection ``metadata`` survives a reopen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ann_support import DIM, vectors

from shoal import errors
from shoal import models as m
from shoal.engine import Collection, Database, ann

VECTORS = m.VectorParams(size=DIM, distance="Cosine")


def make(db: Database, n: int, **config: Any) -> Collection:
    hnsw = config.pop("hnsw_config", m.HnswConfigDiff(full_scan_threshold=1))
    db.create_collection("c", m.CreateCollection(vectors=VECTORS, hnsw_config=hnsw, **config))
    col = db.collection("c")
    col.upsert(m.Batch(ids=list(range(n)), vectors=vectors(n).tolist()))
    assert col.wait_indexed(30)
    return col


@pytest.mark.parametrize(("threshold", "indexed"), [(0, False), (100, False), (2, True)])
def test_indexing_threshold_decides_whether_an_index_is_built(
    threshold: int, indexed: bool
) -> None:
    db = Database()
    # 400 vectors of 8 floats: 12.5 KB; full_scan_threshold alone (1 KB) would index them.
    col = make(db, 400, optimizers_config={"indexing_threshold": threshold})
    info = col.info()
    assert info.config.optimizer_config.indexing_threshold == threshold
    assert (info.indexed_vectors_count == 400) is indexed
    assert (col.ann.vectors[""].index is not None) is indexed
    db.close()


@pytest.mark.parametrize(("jobs", "indexed"), [(0, False), (1, True), (4, True), ("auto", True)])
def test_no_optimization_threads_build_no_index(jobs: int | str, indexed: bool) -> None:
    db = Database()
    col = make(db, 400, optimizers_config={"max_optimization_threads": jobs})
    shown = col.info().config.optimizer_config.max_optimization_threads
    assert shown == (None if jobs == "auto" else jobs)
    assert (col.info().indexed_vectors_count == 400) is indexed
    db.close()


@pytest.mark.parametrize("jobs", [-1, True, 1.5, "all"])
def test_a_bad_optimization_thread_count_is_refused(jobs: Any) -> None:
    db = Database()
    config = m.CreateCollection(
        vectors=VECTORS, optimizers_config={"max_optimization_threads": jobs}
    )
    with pytest.raises(errors.InvalidConfig, match="max_optimization_threads"):
        db.create_collection("c", config)
    assert not db.collection_exists("c")
    db.close()


def test_max_indexing_threads_is_the_bulk_build_thread_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used: list[int | None] = []
    add = ann.HnswIndex.add

    def spy(self: Any, rows: Any, vecs: Any, *, threads: int | None = None) -> int:
        used.append(threads)
        return add(self, rows, vecs, threads=threads)

    monkeypatch.setattr(ann.HnswIndex, "add", spy)
    monkeypatch.setattr(ann, "PARALLEL_BACKLOG", 100)  # 400 points count as a bulk load
    db = Database()
    col = make(db, 400, hnsw_config=m.HnswConfigDiff(full_scan_threshold=1, max_indexing_threads=3))
    assert col.info().config.hnsw_config.max_indexing_threads == 3
    assert used and used[0] == 3
    db.close()


def test_scalar_quantile_clips_the_int8_range() -> None:
    steps = []
    for quantile in (None, 0.6):
        db = Database()
        scalar: dict[str, Any] = {"type": "int8"}
        if quantile is not None:
            scalar["quantile"] = quantile
        col = make(db, 400, quantization_config={"scalar": scalar})
        index = col.ann.vectors[""].index
        assert index is not None and index.config.dtype == "i8"
        steps.append(index._quantizer.step)
        assert col.info().config.quantization_config == {"scalar": scalar}
        db.close()
    # The 60th percentile's range is far narrower than the 99.99th: a finer step.
    assert steps[1] < 0.5 * steps[0]


def test_metadata_is_kept_and_survives_a_reopen(tmp_path: Path) -> None:
    metadata = {"owner": "team-a", "nested": {"v": [1, 2.5, None, True]}}
    db = Database(tmp_path)
    db.create_collection("c", m.CreateCollection(vectors=VECTORS, metadata=metadata))
    assert db.collection("c").info().config.metadata == metadata
    db.close()
    db = Database(tmp_path)
    assert db.collection("c").info().config.metadata == metadata
    db.close()


def test_a_collection_without_metadata_reports_none() -> None:
    db = Database()
    db.create_collection("c", m.CreateCollection(vectors=VECTORS))
    assert db.collection("c").info().config.metadata is None
    db.close()
