"""Over HTTP every error is the exception embedded mode raises: same class, same message.

Each scenario runs once on an embedded client and once on a client of `shoal serve` (an
in-process app); a meta-test checks that every ShoalError class the engine and its parts
raise has a scenario here, or a stated reason why a request cannot cause it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from server_support import http_client
from starlette.testclient import TestClient

from shoal import Client
from shoal import errors as se
from shoal import models as m
from shoal.engine import Database
from shoal.server import ServerConfig, create_app

SRC = Path(__file__).parents[2] / "src" / "shoal"
V = [1.0, 0.0, 0.0, 0.0]
UUID = "67e55044-10b1-426f-9247-bb680e5fe0c8"


def _point(pid: Any = 3, vector: Any = V, payload: Any = None) -> m.PointStruct:
    return m.PointStruct(id=pid, vector=vector, payload=payload)


def _snapshot_of_docs(client: Client) -> str:
    made = client.create_snapshot("docs")
    assert made is not None
    return f"docs/{made.name}"


def _range_filter(**bounds: float) -> m.Filter:
    return m.Filter(must=[m.FieldCondition(key="a", range=m.Range(**bounds))])


Scenario = Callable[[Client], object]

# (the class embedded mode raises, what the client does)
SCENARIOS: dict[str, tuple[type[se.ShoalError], Scenario]] = {
    "missing collection": (se.CollectionNotFound, lambda c: c.count("missing")),
    "existing collection": (
        se.CollectionAlreadyExists,
        lambda c: c.create_collection("docs", m.VectorParams(size=4, distance=m.Distance.DOT)),
    ),
    "missing point": (se.PointNotFound, lambda c: c.query_points("docs", query=99)),
    "control character in a name": (
        se.InvalidCollectionName,
        lambda c: c.create_collection("a\x01b", m.VectorParams(size=4, distance=m.Distance.DOT)),
    ),
    "name too long": (
        se.InvalidCollectionName,
        lambda c: c.create_collection("n" * 300, m.VectorParams(size=4, distance=m.Distance.DOT)),
    ),
    "size zero": (
        se.InvalidConfig,
        lambda c: c.create_collection("new", m.VectorParams(size=0, distance=m.Distance.DOT)),
    ),
    "hnsw m out of range": (
        se.InvalidConfig,
        lambda c: c.create_collection(
            "new",
            m.VectorParams(size=4, distance=m.Distance.DOT),
            hnsw_config=m.HnswConfigDiff(m=1),
        ),
    ),
    "bad expression": (se.InvalidFilter, lambda c: c.scroll("docs", scroll_filter="a ==== 1")),
    "empty field condition": (
        se.InvalidFilter,
        lambda c: c.count("docs", count_filter=m.Filter(must=[m.FieldCondition(key="a")])),
    ),
    "NaN in a payload": (
        se.InvalidPayload,
        lambda c: c.upsert("docs", [_point(payload={"x": [1.0, math.nan]})]),
    ),
    "infinity in a payload": (
        se.InvalidPayload,
        lambda c: c.set_payload("docs", {"y": {"z": -math.inf}}, points=[1]),
    ),
    "full-width digit in a UUID": (
        se.InvalidPointId,
        lambda c: c.upsert("docs", [_point(pid=UUID.replace("6", "\uff16"))]),
    ),
    "braced simple UUID": (
        se.InvalidPointId,
        lambda c: c.retrieve("docs", ["{" + UUID.replace("-", "") + "}"]),
    ),
    "negative id": (se.InvalidPointId, lambda c: c.delete("docs", [-1])),
    "unknown vector name": (
        se.InvalidQuery,
        lambda c: c.query_points("docs", query=V, using="nope"),
    ),
    "negative hnsw_ef": (
        se.InvalidQuery,
        lambda c: c.query_points("docs", query=V, search_params=m.SearchParams(hnsw_ef=0)),
    ),
    "NaN in a vector": (
        se.InvalidVector,
        lambda c: c.upsert("docs", [_point(vector=[math.nan] * 4)]),
    ),
    "infinity in a query": (
        se.InvalidVector,
        lambda c: c.query_points("docs", query=[0.0, math.inf, 0.0, 0.0]),
    ),
    "float32 overflow": (se.InvalidVector, lambda c: c.upsert("docs", [_point(vector=[1e39] * 4)])),
    "unnamed vector for named ones": (
        se.InvalidVector,
        lambda c: c.upsert("named", [_point(vector=V)]),
    ),
    "upsert with shard_key": (
        se.NotSupported,
        lambda c: c.batch_update_points(
            "docs",
            [m.UpsertOperation(upsert=m.PointsList(points=[_point()], shard_key="tenant-1"))],
        ),
    ),
    "too many filter conditions": (
        se.FilterTooLarge,
        lambda c: c.count(
            "docs",
            count_filter=m.Filter(
                should=[m.FieldCondition(key="a", match=m.MatchValue(value=i)) for i in range(1001)]
            ),
        ),
    ),
    "missing alias": (
        se.AliasNotFound,
        lambda c: c.update_collection_aliases(
            [
                m.RenameAliasOperation(
                    rename_alias=m.RenameAlias(old_alias_name="a", new_alias_name="b")
                )
            ]
        ),
    ),
    "missing snapshot": (se.SnapshotNotFound, lambda c: c.delete_snapshot("docs", "x.snapshot")),
    "snapshot outside the snapshots folder": (
        se.BadRequest,
        lambda c: c.recover_snapshot("docs", "/etc/passwd"),
    ),
    "snapshot with another checksum": (
        se.InvalidSnapshot,
        lambda c: c.recover_snapshot("docs", _snapshot_of_docs(c), checksum="0" * 64),
    ),
    "wrong size": (se.WrongVectorSize, lambda c: c.upsert("docs", [_point(vector=[1.0, 2.0])])),
    "wrong size in a query": (se.WrongVectorSize, lambda c: c.query_points("docs", query=[1.0])),
    "over a strict-mode limit": (
        se.StrictModeError,
        lambda c: c.query_points("strict", query=V, limit=2),
    ),
    "larger than a strict-mode rate limit": (
        se.RateLimited,
        lambda c: c.upsert("strict", [_point(1), _point(2)]),
    ),
}

# Raised by the engine or its parts, yet no request can cause them, or covered elsewhere.
NOT_FROM_A_REQUEST = {
    "StorageLocked": "raised when a process opens a storage folder, before it serves",
    "Overloaded": "embedded writers wait for room; the server's 429 is in test_write_queue.py",
    "StorageError": "a 5xx: same class, redacted message (test_storage_error_is_redacted)",
    "WriteNotStored": "storage refused a write, or its collection was closed (deleted or "
    "reopened) while the write was on its way: races (tests/client/test_poison_writes.py, "
    "tests/engine/test_vector_names_vs_qdrant_local.py)",
    "ShoalError": "'the database is closed': the server closes it after its last request",
    "UnsupportedMetric": "index errors are handled inside the engine (index/errors.py)",
    "SnapshotCorrupt": "index errors are handled inside the engine (index/errors.py)",
    "SnapshotMismatch": "index errors are handled inside the engine (index/errors.py)",
    "SnapshotMissing": "index errors are handled inside the engine (index/errors.py)",
    "SnapshotStale": "index errors are handled inside the engine (index/errors.py)",
}


def _setup(client: Client) -> None:
    client.create_collection("docs", m.VectorParams(size=4, distance=m.Distance.DOT))
    client.upsert("docs", [_point(1, payload={"a": 1}), _point(2, payload={"a": 2})])
    named = {"text": m.VectorParams(size=4, distance=m.Distance.COSINE)}
    client.create_collection("named", named)
    strict = {"enabled": True, "max_query_limit": 1, "write_rate_limit": 1}
    vectors = m.VectorParams(size=4, distance=m.Distance.DOT)
    client.create_collection("strict", vectors, strict_mode_config=strict)


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[tuple[Client, Client]]:
    # Storage folders, not memory: snapshots need one.
    db = Database(tmp_path / "served")
    try:
        with (
            TestClient(create_app(ServerConfig(), database=db)) as tc,
            http_client("http://testserver", tc) as served,
            Client(path=tmp_path / "embedded") as embedded,
        ):
            _setup(embedded)
            _setup(served)
            yield embedded, served
    finally:
        db.close()


def _raised(scenario: Scenario, client: Client) -> se.ShoalError:
    with pytest.raises(se.ShoalError) as info:
        scenario(client)
    return info.value


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_error_round_trips(clients: tuple[Client, Client], name: str) -> None:
    expected, scenario = SCENARIOS[name]
    embedded, served = clients
    local = _raised(scenario, embedded)
    remote = _raised(scenario, served)
    assert type(local) is expected, local
    assert type(remote) is expected, remote
    assert remote.message == local.message
    assert remote.status_code == local.status_code
    # Nothing changed on either side.
    for client in clients:
        assert client.count("docs").count == 2
        assert sorted(c.name for c in client.get_collections().collections) == [
            "docs",
            "named",
            "strict",
        ]


def _raised_classes() -> set[str]:
    found: set[str] = set()
    floors = [SRC / "engine", SRC / "storage", SRC / "filters", SRC / "index", SRC / "ids.py"]
    files = [f for floor in floors for f in (floor.rglob("*.py") if floor.is_dir() else [floor])]
    for file in files:
        found.update(re.findall(r"raise (\w+)\(", file.read_text()))
    return found


def test_every_engine_error_has_a_scenario() -> None:
    from shoal.index import errors as index_errors

    def is_shoal_error(name: str) -> bool:
        cls = getattr(se, name, None) or getattr(index_errors, name, None)
        return isinstance(cls, type) and issubclass(cls, se.ShoalError)

    raised = {name for name in _raised_classes() if is_shoal_error(name)}
    covered = {cls.__name__ for cls, _ in SCENARIOS.values()}
    assert raised - covered - set(NOT_FROM_A_REQUEST) == set()
    assert covered <= raised  # the table names only classes that really are raised


def test_storage_error_is_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    def refuse(src: object, dst: object) -> None:
        raise OSError(5, "Input/output error", str(dst))

    db = Database(tmp_path / "data")
    try:
        with (
            TestClient(create_app(ServerConfig(), database=db)) as tc,
            http_client("http://testserver", tc) as served,
        ):
            monkeypatch.setattr(os, "rename", refuse)
            with pytest.raises(se.StorageError) as info:
                served.create_collection("c", m.VectorParams(size=4, distance=m.Distance.DOT))
    finally:
        monkeypatch.undo()
        db.close()
    assert info.value.status_code == 500
    assert "incident" in info.value.message
    assert str(tmp_path) not in info.value.message
