"""The routes a single node answers without a feature behind them (cluster, shards,
telemetry, issues), and the ones it refuses: every answer in Qdrant's envelope, checked
against Qdrant's spec, and a refusal is a 400 naming the feature (never a 404 or 405 that a
client would retry)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from server_support import Recorder, ServerProcess


@pytest.fixture
def http(served: ServerProcess, recorder: Recorder) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, event_hooks=recorder.hooks, timeout=30) as client:
        client.delete("/collections/single_node")
        config = {"vectors": {"size": 2, "distance": "Dot"}}
        client.put("/collections/single_node", json=config).raise_for_status()
        points = [{"id": i, "vector": [1.0, i]} for i in range(3)]
        client.put("/collections/single_node/points?wait=true", json={"points": points})
        yield client


def test_cluster_and_shard_answers(http: httpx.Client) -> None:
    assert http.get("/cluster").json()["result"] == {"status": "disabled"}
    info = http.get("/collections/single_node/cluster").json()["result"]
    assert info["shard_count"] == 1 and info["remote_shards"] == []
    assert info["local_shards"] == [{"shard_id": 0, "points_count": 3, "state": "Active"}]
    assert http.get("/collections/single_node/shards").json()["result"] == {"shard_keys": None}
    assert http.get("/collections/missing/cluster").status_code == 404


def test_service_answers(http: httpx.Client) -> None:
    telemetry = http.get("/telemetry").json()["result"]
    assert telemetry["app"]["name"] == "shoal"
    assert telemetry["collections"]["number_of_collections"] >= 1
    assert http.get("/issues").json()["result"] == {"issues": []}
    assert http.delete("/issues").json()["result"] is True


def test_shard_zero_is_the_collection(http: httpx.Client) -> None:
    made = http.post("/collections/single_node/shards/0/snapshots").json()["result"]
    listed = http.get("/collections/single_node/snapshots").json()["result"]
    assert made["name"] in [s["name"] for s in listed]
    other = http.get("/collections/single_node/shards/1/snapshots")
    assert other.status_code == 400 and "shard 1 does not exist" in other.text
    gone = http.delete(f"/collections/single_node/shards/0/snapshots/{made['name']}")
    assert gone.json()["result"] is True


@pytest.mark.parametrize(
    ("method", "path", "feature"),
    [
        ("GET", "/collections/single_node/optimizations", "the optimizations report"),
        ("POST", "/cluster/recover", "cluster operations"),
        ("GET", "/quotas", "quotas"),
    ],
)
def test_refused_operations_name_the_feature(
    http: httpx.Client, method: str, path: str, feature: str
) -> None:
    response = http.request(method, path, json={})
    assert response.status_code == 400
    assert f"{feature}" in response.json()["status"]["error"]
    assert "not supported" in response.json()["status"]["error"]


def test_uploads_are_forms_within_the_body_limit(http: httpx.Client, served: ServerProcess) -> None:
    # Multipart requests are streamed: the recorder (which reads each request) cannot see them.
    with httpx.Client(base_url=served.url, timeout=30) as plain:
        path = "/collections/single_node/snapshots/upload"
        not_a_form = plain.post(path, content=b"raw")
        assert not_a_form.status_code == 400 and "multipart form" in not_a_form.text
        damaged = plain.post(path, files={"snapshot": ("s", b"junk")})
        assert damaged.status_code == 400 and "not a Shoal snapshot" in damaged.text
    counted = http.post("/collections/single_node/points/count", json={}).json()["result"]
    assert counted == {"count": 3}  # nothing changed
