"""Index snapshots: round trip, torn / corrupt files, stale watermark, config mismatch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shoal.index.errors import (
    SnapshotCorrupt,
    SnapshotError,
    SnapshotMismatch,
    SnapshotMissing,
    SnapshotStale,
)
from shoal.index.hnsw import HnswConfig, HnswIndex
from shoal.index.snapshot import manifest_path, read_manifest

N, DIM = 1000, 16


def build(dtype: str = "f16", metric: str = "Cosine") -> tuple[HnswIndex, np.ndarray]:
    rng = np.random.default_rng(3)
    base = rng.standard_normal((N, DIM)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    index = HnswIndex(DIM, metric, dtype=dtype, m=12, ef_construct=80)
    index.add(np.arange(N) * 3, base)  # non-contiguous rows
    index.remove(np.arange(0, 300, 3))
    return index, rng.standard_normal((20, DIM)).astype(np.float32)


@pytest.mark.parametrize(("dtype", "metric"), [("f16", "Cosine"), ("i8", "Cosine"), ("i8", "Dot")])
def test_round_trip_gives_identical_results(tmp_path: Path, dtype: str, metric: str) -> None:
    index, queries = build(dtype, metric)
    path = tmp_path / "vectors.usearch"
    manifest = index.save(path, watermark=42)
    assert manifest.count == len(index) == N - 100
    assert manifest.watermark == 42 and index.watermark == 42
    loaded = HnswIndex.load(path, expect_config=index.config, expect_watermark=42)
    assert loaded.watermark == 42 and len(loaded) == len(index)
    assert loaded.config == index.config
    for ef in (16, 64):
        rows, dists = index.search(queries, 10, ef)
        rows2, dists2 = loaded.search(queries, 10, ef)
        np.testing.assert_array_equal(rows, rows2)
        np.testing.assert_array_equal(dists, dists2)
    # The loaded index keeps working as a live index.
    loaded.add(np.array([0]), queries[:1] / np.linalg.norm(queries[0]))
    assert loaded.search(queries[0] / np.linalg.norm(queries[0]), 1)[0][0, 0] == 0


def test_save_replaces_previous_snapshot(tmp_path: Path) -> None:
    index, _ = build()
    path = tmp_path / "vectors.usearch"
    index.save(path, watermark=1)
    index.remove(np.array([300, 303]))
    index.save(path, watermark=2)
    assert read_manifest(path).watermark == 2
    assert len(HnswIndex.load(path)) == N - 102
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.usearch", "vectors.usearch.json"]


def test_truncated_file_is_corrupt(tmp_path: Path) -> None:
    index, _ = build()
    path = tmp_path / "vectors.usearch"
    index.save(path, watermark=1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SnapshotCorrupt):
        HnswIndex.load(path)


def test_flipped_byte_is_corrupt(tmp_path: Path) -> None:
    index, _ = build()
    path = tmp_path / "vectors.usearch"
    index.save(path, watermark=1)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotCorrupt, match="checksum"):
        HnswIndex.load(path)


def test_bad_manifest_is_corrupt(tmp_path: Path) -> None:
    index, _ = build()
    path = tmp_path / "vectors.usearch"
    index.save(path, watermark=1)
    mpath = manifest_path(path)
    good = json.loads(mpath.read_text())
    mpath.write_text(mpath.read_text()[:20])  # torn JSON
    with pytest.raises(SnapshotCorrupt, match="JSON"):
        HnswIndex.load(path)
    mpath.write_text(json.dumps({**good, "count": "many"}))
    with pytest.raises(SnapshotCorrupt, match="count"):
        HnswIndex.load(path)
    mpath.write_text(json.dumps({**good, "count": good["count"] + 1}))
    with pytest.raises(SnapshotCorrupt, match="holds"):  # checksum fine, contents disagree
        HnswIndex.load(path)


def test_missing_snapshot(tmp_path: Path) -> None:
    with pytest.raises(SnapshotMissing):
        HnswIndex.load(tmp_path / "nothing.usearch")
    index, _ = build()
    path = tmp_path / "vectors.usearch"
    index.save(path, watermark=1)
    path.unlink()
    with pytest.raises(SnapshotMissing):
        read_manifest(path)


def test_stale_watermark_is_reported(tmp_path: Path) -> None:
    index, _ = build()
    path = tmp_path / "vectors.usearch"
    index.save(path, watermark=7)
    assert read_manifest(path).watermark == 7  # cheap check before loading
    with pytest.raises(SnapshotStale) as err:
        HnswIndex.load(path, expect_watermark=9)
    assert (err.value.found, err.value.expected) == (7, 9)
    assert isinstance(err.value, SnapshotError)


def test_config_mismatch(tmp_path: Path) -> None:
    index, _ = build()
    path = tmp_path / "vectors.usearch"
    index.save(path, watermark=1)
    other = HnswConfig(DIM, "Cosine", m=12, ef_construct=80, dtype="f32")
    with pytest.raises(SnapshotMismatch, match="f32"):
        HnswIndex.load(path, expect_config=other)


def test_replaced_count_survives_and_older_manifests_read_as_none(tmp_path: Path) -> None:
    index, _ = build()
    path = tmp_path / "vectors.usearch"
    index.save(path, watermark=1, replaced=250)
    assert HnswIndex.load(path).replaced == 250
    mpath = manifest_path(path)
    current = json.loads(mpath.read_text())
    older = {k: v for k, v in current.items() if k != "replaced"}
    mpath.write_text(json.dumps({**older, "format": 2}))  # written before the count was kept
    assert HnswIndex.load(path).replaced == 0
    mpath.write_text(json.dumps({**current, "replaced": "many"}))
    with pytest.raises(SnapshotCorrupt, match="replaced"):
        HnswIndex.load(path)
