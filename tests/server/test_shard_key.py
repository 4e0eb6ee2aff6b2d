"""A request naming a shard key is refused with NotSupported: Shoal has one shard, and would
otherwise read or write all of it while the caller meant one tenant's part."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from shoal import errors
from shoal import models as m
from shoal.engine import Database
from shoal.server import ServerConfig, create_app

C = "/collections/c"
KEY = {"shard_key": "tenant-1"}


@pytest.fixture
def tc() -> Iterator[TestClient]:
    db = Database(None)
    try:
        with TestClient(create_app(ServerConfig(), database=db)) as client:
            assert client.put(C, json={"vectors": {"size": 2, "distance": "Dot"}}).is_success
            points = [{"id": i, "vector": [1.0, i], "payload": {"a": i}} for i in (1, 2)]
            assert client.put(C + "/points?wait=true", json={"points": points}).is_success
            yield client
    finally:
        db.close()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/points/scroll", {}),
        ("POST", "/points/count", {}),
        ("POST", "/points", {"ids": [1]}),
        ("POST", "/points/payload", {"payload": {"b": 1}, "points": [1]}),
        ("PUT", "/points/payload", {"payload": {"b": 1}, "points": [1]}),
        ("POST", "/points/payload/delete", {"keys": ["a"], "points": [1]}),
        ("POST", "/points/delete", {"points": [1]}),
        ("POST", "/points/delete", {"filter": {"must": []}}),
        ("POST", "/points/payload/clear", {"points": [1]}),
        ("POST", "/points/batch", {"operations": [{"delete": {"points": [1], **KEY}}]}),
        ("POST", "/points/batch", {"operations": [{"clear_payload": {"points": [1], **KEY}}]}),
        ("POST", "/points/batch", {"operations": [{"set_payload": {"payload": {}, **KEY}}]}),
    ],
)
def test_shard_key_is_refused_and_nothing_changes(
    tc: TestClient, method: str, path: str, body: dict[str, Any]
) -> None:
    before = tc.post(C + "/points/scroll", json={"with_payload": True}).json()["result"]
    if path != "/points/batch":
        body = {**body, **KEY}
    response = tc.request(method, C + path + "?wait=true", json=body)
    assert response.status_code == 400, response.text
    assert response.headers["x-shoal-error"] == "NotSupported"
    assert "shard_key is not supported" in response.json()["status"]["error"]
    assert tc.post(C + "/points/scroll", json={"with_payload": True}).json()["result"] == before


def test_the_engine_refuses_it_in_a_batch_too() -> None:
    db = Database(None)
    db.create_collection("c", m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot")))
    op = m.DeleteOperation(delete=m.PointIdsList(points=[1], shard_key="tenant-1"))
    with pytest.raises(errors.NotSupported, match="shard_key"):
        db.collection("c").batch_update([op])
    db.close()
