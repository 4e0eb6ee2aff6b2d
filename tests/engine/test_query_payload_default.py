"""A query's payload is left out unless asked for, as Qdrant's QueryRequest and
QueryGroupsRequest say ("Default is false"), while the clients' query_points asks for it by
default (qdrant-client's signature); retrieve and scroll return it by default."""

from __future__ import annotations

from starlette.testclient import TestClient

from shoal import Client
from shoal import models as m
from shoal.engine import Database
from shoal.server import ServerConfig, create_app


def fill(client: Client) -> None:
    client.create_collection("c", m.VectorParams(size=2, distance="Dot"))
    client.upsert("c", [m.PointStruct(id=i, vector=[1.0, i], payload={"i": i}) for i in range(3)])


def test_embedded_defaults() -> None:
    with Client() as client:
        fill(client)
        assert client.query_points("c", [1.0, 0.0]).points[0].payload is not None
        (batch,) = client.query_batch_points("c", [m.QueryRequest(query=[1.0, 0.0])])
        assert [p.payload for p in batch.points] == [None, None, None]
        asked = m.QueryRequest(query=[0.0, 1.0], with_payload=True, limit=1)
        assert client.query_batch_points("c", [asked])[0].points[0].payload == {"i": 2}
        assert client.retrieve("c", [1])[0].payload == {"i": 1}


def test_served_defaults() -> None:
    db = Database(None)
    with TestClient(create_app(ServerConfig(), database=db)) as http:
        assert http.put(
            "/collections/c", json={"vectors": {"size": 2, "distance": "Dot"}}
        ).is_success
        points = [{"id": i, "vector": [1.0, i], "payload": {"i": i}} for i in range(3)]
        assert http.put("/collections/c/points?wait=true", json={"points": points}).is_success
        found = http.post("/collections/c/points/query", json={"query": [1.0, 0.0]}).json()
        assert all(p.get("payload") is None for p in found["result"]["points"])
        groups = http.post(
            "/collections/c/points/query/groups",
            json={"query": [1.0, 0.0], "group_by": "i"},
        ).json()["result"]["groups"]
        assert groups and all(h.get("payload") is None for g in groups for h in g["hits"])
        fused = http.post(
            "/collections/c/points/query",
            json={"prefetch": [{"query": [1.0, 0.0]}], "query": {"fusion": "rrf"}},
        ).json()["result"]["points"]
        assert fused and all(p.get("payload") is None for p in fused)
        scrolled = http.post("/collections/c/points/scroll", json={}).json()
        assert scrolled["result"]["points"][0]["payload"] == {"i": 0}
    db.close()
