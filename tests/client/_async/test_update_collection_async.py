"""update_collection: changes are checked as at creation, durable, shown by get_collection,
and refused whole when one setting cannot be honoured; embedded and over HTTP alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qdrant_client import models as qm

from shoal import AsyncClient, errors, models

VEC = models.VectorParams(size=8, distance="Cosine")


async def make(client: AsyncClient) -> np.ndarray:
    await client.create_collection("c", VEC, metadata={"owner": "a", "team": "x"})
    data = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    await client.upload_collection("c", data, ids=range(300), wait=True)
    return data


async def test_settings_change_durably(where: dict[str, str], tmp_path: Path) -> None:
    async with AsyncClient(**where) as client:  # type: ignore[arg-type]
        data = await make(client)
        assert await client.update_collection(
            "c",
            optimizers_config=qm.OptimizersConfigDiff(indexing_threshold=0),
            metadata={"team": "y"},
        )
        config = (await client.get_collection("c")).config
        assert config.optimizer_config.indexing_threshold == 0
        assert config.metadata == {"owner": "a", "team": "y"}
        # An index setting: the collection is reopened and its index rebuilt.
        await client.update_collection("c", hnsw_config=models.HnswConfigDiff(m=8))
        assert (await client.get_collection("c")).config.hnsw_config.m == 8
        hits = await client.query_points("c", data[7].tolist(), limit=1)
        assert hits.points[0].id == 7 and (await client.count("c")).count == 300
        await client.update_collection("c", metadata={})
    if "path" in where:  # reopened from disk
        async with AsyncClient(path=where["path"]) as again:
            config = (await again.get_collection("c")).config
            assert config.hnsw_config.m == 8 and not config.metadata
            assert config.optimizer_config.indexing_threshold == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"sparse_vectors_config": {"s": {}}}, errors.InvalidConfig, "vector name error: s"),
        (
            {"strict_mode_config": {"max_resident_memory_percent": 50}},
            errors.NotSupported,
            "strict_mode_config.max_resident_memory_percent",
        ),
        ({"vectors_config": {"nope": {"on_disk": True}}}, errors.InvalidConfig, "nope"),
        ({"hnsw_config": {"m": 1}}, errors.InvalidConfig, "hnsw_config.m=1"),
        ({"collection_params": {"read_fan_out_factor": 2}}, errors.NotSupported, "read_fan"),
    ],
)
async def test_a_refused_change_changes_nothing(
    where: dict[str, str], kwargs: dict[str, object], error: type[Exception], named: str
) -> None:
    async with AsyncClient(**where) as client:  # type: ignore[arg-type]
        await make(client)
        before = (await client.get_collection("c")).config
        with pytest.raises(error, match=named):
            await client.update_collection("c", metadata={"team": "z"}, **kwargs)  # type: ignore[arg-type]
        assert (await client.get_collection("c")).config == before


async def test_in_memory_index_changes_rebuild_from_the_points() -> None:
    async with AsyncClient() as client:
        data = await make(client)
        await client.create_payload_index("c", "kind", "keyword")
        await client.set_payload("c", {"kind": "odd"}, points=list(range(1, 300, 2)))
        assert await client.update_collection("c", hnsw_config=models.HnswConfigDiff(m=8))
        info = await client.get_collection("c")
        assert info.config.hnsw_config.m == 8 and info.points_count == 300
        assert set(info.payload_schema) == {"kind"}  # the payload index came along
        hits = await client.query_points("c", data[7].tolist(), limit=1, with_payload=True)
        assert hits.points[0].id == 7 and hits.points[0].payload == {"kind": "odd"}
        assert await client.update_collection("c", metadata={"kept": True})
        assert (await client.get_collection("c")).config.metadata == {
            "owner": "a",
            "team": "x",
            "kept": True,
        }
        with pytest.raises(errors.CollectionNotFound):
            await client.update_collection("missing", metadata={})


SPARSE = [
    models.SparseVector(indices=[1, 2], values=[1.0, 0.5]),
    models.SparseVector(indices=[2, 3], values=[2.0, 1.0]),
    models.SparseVector(indices=[2], values=[1.0]),
    models.SparseVector(indices=[1, 3], values=[0.5, 0.5]),
]
QUERY = models.SparseVector(indices=[1, 2, 3], values=[1.0, 1.0, 1.0])


async def sparse_scores(client: AsyncClient, name: str) -> dict[int | str, float]:
    found = await client.query_points(name, QUERY, using="s", limit=10)
    return {p.id: round(p.score, 5) for p in found.points}


async def test_a_sparse_vectors_modifier_and_index_change(where: dict[str, str]) -> None:
    async with AsyncClient(**where) as client:  # type: ignore[arg-type]
        for name, modifier in (("c", None), ("with_idf", models.Modifier.IDF)):
            await client.create_collection(
                name, {}, sparse_vectors_config={"s": models.SparseVectorParams(modifier=modifier)}
            )
            await client.upsert(
                name,
                [models.PointStruct(id=i, vector={"s": v}) for i, v in enumerate(SPARSE)],
            )
        plain = await sparse_scores(client, "c")
        weighed = await sparse_scores(client, "with_idf")
        assert plain != weighed
        change = {"modifier": "idf", "index": {"full_scan_threshold": 50}}
        assert await client.update_collection("c", sparse_vectors_config={"s": change})
        assert await sparse_scores(client, "c") == weighed  # IDF from the next query
        shown = (await client.get_collection("c")).config.params.sparse_vectors
        assert shown is not None and shown["s"].index is not None
        assert shown["s"].modifier == models.Modifier.IDF
        assert shown["s"].index.full_scan_threshold == 50
        await client.update_collection("c", sparse_vectors_config={"s": {"modifier": "none"}})
        assert await sparse_scores(client, "c") == plain
        for bad, error, named in (
            ({"modifier": "bogus"}, errors.InvalidConfig, "modifier"),
            ({"weights": 1}, errors.InvalidConfig, "weights"),
            ({"index": {"on_disk": True}}, errors.NotSupported, "on_disk"),
        ):
            with pytest.raises(error, match=named):
                await client.update_collection("c", sparse_vectors_config={"s": bad})
        assert await sparse_scores(client, "c") == plain  # a refused change changes nothing
