"""Multivectors: bad input is refused with a typed error naming the point and the vector (a
rejected batch changes nothing), settings Shoal does not honour are refused by name, and
acknowledged multivectors survive a process that exits without closing."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from transports import shoal_client

from shoal import Client
from shoal import models as m
from shoal.errors import InvalidQuery, InvalidVector, NotSupported, WrongVectorSize

DIM = 3
MAX_SIM = {"comparator": "max_sim"}
GOOD = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def create(client: Any, unnamed: bool = False) -> None:
    multi = m.VectorParams(size=DIM, distance=m.Distance.DOT, multivector_config=MAX_SIM)
    config: Any = multi if unnamed else {"m": multi, "d": m.VectorParams(size=DIM, distance="Dot")}
    client.create_collection("c", vectors_config=config)
    vector: Any = GOOD if unnamed else {"m": GOOD, "d": [1.0, 2.0, 3.0]}
    client.upsert("c", [m.PointStruct(id=1, vector=vector)])


BAD_POINTS: list[tuple[Any, type[Exception], str]] = [
    ({"m": [[1.0, 2.0, 3.0], [1.0, 2.0]]}, WrongVectorSize, "expected dim: 3, got 2"),
    ({"m": [[1.0, 2.0, 3.0, 4.0]]}, WrongVectorSize, "expected dim: 3, got 4"),
    ({"m": [[1.0, 2.0, 3.0], []]}, WrongVectorSize, "got 0"),
    ({"m": [[1.0, math.nan, 3.0]]}, InvalidVector, "vector `m` of point 7 has the comp"),
    ({"m": [[1.0, 2.0, math.inf]]}, InvalidVector, "vector `m` of point 7 has the comp"),
    ({"m": [1.0, 2.0, 3.0]}, InvalidVector, "multivector `m` of point 7 must be a list of vec"),
    ({"d": [[1.0, 2.0, 3.0]]}, InvalidVector, "vector `d` of point 7"),
]


@pytest.mark.parametrize("transport", ["embedded", "asgi"])
@pytest.mark.parametrize(("vector", "error", "names"), BAD_POINTS)
def test_bad_multivectors_are_refused_and_change_nothing(
    transport: str, vector: Any, error: type[Exception], names: str, tmp_path: Path
) -> None:
    with shoal_client(transport, tmp_path) as client:
        create(client)
        batch = [
            m.PointStruct(id=5, vector={"m": GOOD}),
            m.PointStruct(id=7, vector=vector),
        ]
        with pytest.raises(error, match=names):
            client.upsert("c", batch)
        # (the client's own check may name it by its place: points[0].vector.m[0][1])
        with pytest.raises(error, match=r"point 1|points\[0\]\.vector\.[md]"):
            client.update_vectors("c", [m.PointVectors(id=1, vector=vector)])
        assert client.count("c").count == 1
        (record,) = client.retrieve("c", [1], with_vectors=True)
        assert record.vector == {"m": GOOD, "d": [1.0, 2.0, 3.0]}


@pytest.mark.parametrize("transport", ["embedded", "asgi"])
def test_an_empty_multivector_is_refused(transport: str, tmp_path: Path) -> None:
    # (a bare [] on an unnamed multivector: JSON cannot tell it from an empty vector)
    with shoal_client(transport, tmp_path) as client:
        create(client, unnamed=True)
        with pytest.raises(InvalidVector, match="multivector of point 2 must be a non-empty"):
            client.upsert("c", [m.PointStruct(id=2, vector=[])])
        assert client.count("c").count == 1


BAD_QUERIES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"query": [1.0, 2.0, 3.0], "using": "m"}, InvalidQuery, "'m' is a multivector"),
    ({"query": [[1.0, 2.0]], "using": "m"}, WrongVectorSize, "expected dim: 3, got 2"),
    ({"query": [[1.0, 2.0, 3.0]], "using": "d"}, InvalidVector, "flat list"),
    ({"query": [[1.0, 2.0, 3.0], [1.0]], "using": "m"}, WrongVectorSize, "got 1"),
    ({"query": m.SparseVector(indices=[1], values=[1.0]), "using": "m"}, InvalidQuery, "'m'"),
]


@pytest.mark.parametrize("transport", ["embedded", "asgi"])
@pytest.mark.parametrize(("kwargs", "error", "names"), BAD_QUERIES)
def test_bad_multivector_queries_are_refused(
    transport: str, kwargs: dict[str, Any], error: type[Exception], names: str, tmp_path: Path
) -> None:
    with shoal_client(transport, tmp_path) as client:
        create(client)
        with pytest.raises(error, match=names):
            client.query_points("c", **kwargs)


@pytest.mark.parametrize(
    ("config", "names"),
    [
        ({"comparator": "min_sim"}, "multivector_config.comparator"),
        ({"comparator": "max_sim", "shape": 2}, "multivector_config.shape"),
    ],
)
def test_unsupported_multivector_settings_are_refused(
    config: dict[str, Any], names: str, tmp_path: Path
) -> None:
    with Client(":memory:") as client:
        params = m.VectorParams(size=DIM, distance="Dot", multivector_config=config)
        with pytest.raises((NotSupported, Exception), match=names):
            client.create_collection("c", vectors_config=params)
        assert not client.collection_exists("c")
        with pytest.raises(NotSupported, match=r"strict_mode_config\.multivector_config"):
            client.create_collection(
                "s",
                vectors_config=m.VectorParams(size=DIM, distance="Dot"),
                strict_mode_config={"multivector_config": {"m": {"max_vectors": 2}}},
            )


_CHILD = """
import os, sys
from shoal import Client, models as m
client = Client(path=sys.argv[1])
client.create_collection("c", vectors_config={
    "m": m.VectorParams(size=3, distance="Cosine", multivector_config={"comparator": "max_sim"}),
})
client.upsert("c", [m.PointStruct(id=i, vector={"m": [[1.0, i, 0.0]] * (i + 1)})
                    for i in range(6)])
client.update_vectors("c", [m.PointVectors(id=2, vector={"m": [[0.0, 0.0, 2.0]]})])
client.delete_vectors("c", vectors=["m"], points=[3])
client.delete("c", [4])
print("acknowledged", flush=True)
os._exit(0)  # no close: only what was acknowledged durably counts
"""


def test_acknowledged_multivectors_survive_an_exit_without_close(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "db")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "acknowledged", done.stderr
    with Client(path=tmp_path / "db") as client:
        found = {r.id: r.vector for r in client.scroll("c", limit=10, with_vectors=True)[0]}
        assert sorted(found) == [0, 1, 2, 3, 5]
        assert found[2] == {"m": [[0.0, 0.0, 1.0]]}  # normalised for cosine
        assert found[3] == {}
        for i in (0, 1, 5):
            norm = math.hypot(1.0, i)
            rows = found[i]["m"]  # type: ignore[index]
            assert len(rows) == i + 1
            assert all(row == pytest.approx([1 / norm, i / norm, 0.0]) for row in rows)
        hits = client.query_points("c", query=[[0.0, 0.0, 1.0]], using="m", limit=1).points
        assert hits[0].id == 2 and hits[0].score == pytest.approx(1.0)
