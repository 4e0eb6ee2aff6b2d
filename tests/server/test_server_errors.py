"""Bad requests: the right status, Qdrant's error body, never a 500, and no data changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_support import OpenApi, ServerProcess, run_server
from starlette.testclient import TestClient
from threaded_server import join_version_checks

from shoal import Client
from shoal import errors as se
from shoal import models as m
from shoal.engine import Database
from shoal.server import ServerConfig, create_app

C = "/collections/docs"
GOOD_POINT = {"id": 1, "vector": [1.0, 0.0, 0.0, 0.0], "payload": {"a": 1}}


def assert_error(response: httpx.Response, status: int, openapi: OpenApi | None = None) -> str:
    """The response is Qdrant's error envelope with ``status``; returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"status", "time"}, body
    assert isinstance(body["time"], float)
    message = body["status"]["error"]
    assert isinstance(message, str) and message
    if openapi is not None:
        openapi.check_response(
            response.request.method,
            response.request.url.path,
            status,
            response.headers["content-type"],
            response.content,
        )
    return message


def snapshot(tc: TestClient) -> Any:
    """Everything a bad request could have changed."""
    points = tc.post(
        C + "/points/scroll", json={"limit": 100, "with_vector": True, "with_payload": True}
    )
    info = tc.get(C).json()["result"]
    return tc.get("/collections").json()["result"], info, points.json()["result"]


@pytest.fixture
def tc() -> Iterator[TestClient]:
    db = Database(None)
    config = ServerConfig(max_body_bytes=64 * 1024)
    try:
        with TestClient(create_app(config, database=db)) as client:
            assert client.put(C, json={"vectors": {"size": 4, "distance": "Cosine"}}).is_success
            points = {"points": [GOOD_POINT, {**GOOD_POINT, "id": 2}]}
            assert client.put(C + "/points?wait=true", json=points).is_success
            yield client
    finally:
        db.close()


BIG = {"points": [{"id": i, "vector": [0.5] * 4, "payload": {"t": "x" * 100}} for i in range(700)]}

# (method, path, body (bytes are sent raw), expected status, words the message has)
BAD: list[tuple[str, str, Any, int, str]] = [
    ("PUT", C + "/points", b'{"points": [', 400, "Json deserialize error"),
    ("POST", C + "/points/query", b"not json", 400, "Json deserialize error"),
    ("POST", C + "/points/query", b"[1, 2]", 422, "Format error"),
    ("PUT", C + "/points", {"points": [{"id": 3, "vector": "abc"}]}, 422, "vector"),
    ("PUT", C + "/points", {"points": [{"id": 3, "vector": [1, 2, 3, 4]}], "x": 1}, 422, "x"),
    ("PUT", C + "/points", {"points": [{"id": 1.5, "vector": [1, 2, 3, 4]}]}, 422, "id"),
    ("PUT", C + "/points", {"points": [{"id": -1, "vector": [1, 2, 3, 4]}]}, 400, "-1"),
    ("PUT", C + "/points", {"points": [{"id": "abc", "vector": [1, 2, 3, 4]}]}, 400, "abc"),
    ("PUT", C + "/points", {"points": [{"id": 5, "vector": [1, 2]}]}, 400, "expected dim: 4"),
    ("PUT", C + "/points", {"batch": {"ids": [5, 6], "vectors": [[1, 2, 3, 4]]}}, 400, "2 ids"),
    ("PUT", C + "/points", {"points": [{"id": 1, "vector": [1, 2, 3]}, GOOD_POINT]}, 400, "dim"),
    ("PUT", C + "/points?wait=maybe", {"points": [GOOD_POINT]}, 400, "wait"),
    ("PUT", C + "/points", BIG, 413, "too large"),
    ("PUT", C, {"vectors": {"size": 4, "distance": "Cosine"}}, 409, "already exists"),
    ("PUT", "/collections/new", {}, 400, "vectors"),
    ("PUT", "/collections/new", {"vectors": {"size": 0, "distance": "Cosine"}}, 400, "size"),
    ("PUT", "/collections/new", {"vectors": {"size": 4, "distance": "Cosine!"}}, 422, "distance"),
    ("GET", "/collections/missing", None, 404, "missing"),
    ("POST", "/collections/missing/points/query", {"query": [1, 2, 3, 4]}, 404, "missing"),
    ("PUT", "/collections/missing/points", {"points": [GOOD_POINT]}, 404, "missing"),
    ("POST", C + "/points/query", {"query": [1, 2, 3]}, 400, "expected dim: 4"),
    ("POST", C + "/points/query", {"query": 99}, 404, "99"),
    ("POST", C + "/points/query", {"query": [1, 2, 3, 4], "limit": "ten"}, 422, "limit"),
    ("POST", C + "/points/query", {"query": [1, 2, 3, 4], "filter": {"must": 3}}, 422, "must"),
    ("POST", C + "/points/scroll", {"filter": "a ==== 1"}, 400, "filter"),
    ("POST", C + "/points/scroll", {"limit": -1}, 400, "limit"),
    ("GET", C + "/points/not-an-id", None, 400, "not-an-id"),
    ("GET", C + "/points/12345", None, 404, "12345"),
    ("POST", C + "/points/payload?wait=true", {"payload": {"b": 1}, "points": [999]}, 404, "999"),
    ("POST", C + "/points/payload", {"payload": {"b": 1}}, 400, "points or"),
    ("POST", C + "/points/payload", {"payload": [1], "points": [1]}, 422, "payload"),
    ("PUT", C + "/index", {"field_name": "a", "field_schema": {"type": "nope"}}, 400, "nope"),
    ("PUT", C + "/index", {"field_name": "a", "field_schema": "nope"}, 422, "field_schema"),
    ("POST", C + "/points/delete", {"points": ["bad"]}, 400, "bad"),
    ("POST", C + "/points/delete", {"filter": {"must": [{"key": "a"}]}, "x": 1}, 422, "x"),
    # points/batch is all or nothing: a bad operation anywhere leaves everything unchanged.
    (
        "POST",
        C + "/points/batch?wait=true",
        {
            "operations": [
                {"upsert": {"points": [{"id": 3, "vector": [1, 2, 3, 4]}]}},
                {"set_payload": {"payload": {"b": 1}, "points": [999]}},
            ]
        },
        404,
        "999",
    ),
    (
        "POST",
        C + "/points/batch",
        {
            "operations": [
                {"delete": {"points": [1]}},
                {"upsert": {"points": [{"id": 5, "vector": [1, 2]}]}},
            ]
        },
        400,
        "expected dim: 4",
    ),
    ("POST", C + "/points/batch", {"operations": [{"delete": {"filter": "a ==="}}]}, 400, "a ==="),
    (
        "POST",
        C + "/points/batch",
        {"operations": [{"rename_vectors": {"points": []}}]},
        422,
        "got ['rename_vectors']",
    ),
    ("POST", C + "/points/batch", {"operations": [{"upsert": {}, "delete": {}}]}, 422, "one of"),
    ("POST", C + "/points/batch", {"operations": "x"}, 422, "operations"),
    ("GET", "/no/such/endpoint", None, 404, "/no/such/endpoint"),
    ("DELETE", C + "/points/scroll", None, 405, "DELETE"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "words"), BAD)
def test_bad_request(
    tc: TestClient,
    openapi: OpenApi,
    method: str,
    path: str,
    body: Any,
    status: int,
    words: str,
) -> None:
    before = snapshot(tc)
    content = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"} if content else {}
    response = tc.request(method, path, content=content, headers=headers)
    in_spec = not path.startswith("/no/") and status != 405
    message = assert_error(response, status, openapi if in_spec else None)
    assert words in message
    assert snapshot(tc) == before


def test_oversized_chunked_body(tc: TestClient) -> None:
    # No Content-Length: the limit is enforced while the body streams in.
    before = snapshot(tc)

    def chunks() -> Iterator[bytes]:
        yield b'{"points": ['
        for i in range(2000):
            yield json.dumps({"id": i + 10, "vector": [0.1, 0.2, 0.3, 0.4]}).encode() + b","
        yield json.dumps(GOOD_POINT).encode() + b"]}"

    response = tc.put(C + "/points", content=chunks(), headers={"content-type": "application/json"})
    assert "too large" in assert_error(response, 413)
    assert snapshot(tc) == before


def test_errors_map_to_typed_exceptions(tc: TestClient) -> None:
    from server_support import http_client

    with http_client("http://testserver", tc) as client:
        with pytest.raises(se.CollectionNotFound) as nf:
            client.count("missing")
        assert nf.value.collection_name == "missing" and nf.value.status_code == 404
        with pytest.raises(se.WrongVectorSize) as wv:
            client.query_points("docs", [1.0, 2.0])
        assert (wv.value.expected, wv.value.got) == (4, 2)
        with pytest.raises(se.PointNotFound) as pn:
            client.query_points("docs", 31337)
        assert pn.value.point_id == 31337
        with pytest.raises(se.CollectionAlreadyExists):
            client.create_collection("docs", m.VectorParams(size=4, distance=m.Distance.DOT))


# ----------------------------------------------------------------------- auth

KEY, RO_KEY = "s3cret-key", "read-only-key"


@pytest.fixture
def secured() -> Iterator[TestClient]:
    db = Database(None)
    try:
        app = create_app(ServerConfig(api_key=KEY, read_only_api_key=RO_KEY), database=db)
        with TestClient(app) as client:
            yield client
    finally:
        db.close()


def test_api_keys(secured: TestClient, openapi: OpenApi) -> None:
    body = {"vectors": {"size": 4, "distance": "Dot"}}
    assert_error(secured.put(C, json=body), 401, openapi)
    assert_error(secured.put(C, json=body, headers={"api-key": "wrong"}), 401, openapi)
    assert_error(secured.get("/collections", headers={"api-key": ""}), 401, openapi)
    message = assert_error(secured.put(C, json=body, headers={"api-key": RO_KEY}), 403, openapi)
    assert "read-only" in message
    assert secured.get("/collections", headers={"api-key": "x"}).status_code == 401
    assert secured.put(C, json=body, headers={"api-key": KEY}).json()["result"] is True
    bearer = {"Authorization": f"Bearer {KEY}"}
    assert secured.put(C + "/points?wait=true", json={"points": [GOOD_POINT]}, headers=bearer)
    ro = {"api-key": RO_KEY}
    # Reads that use POST are allowed for the read-only key; writes are not.
    assert secured.post(C + "/points/count", json={}, headers=ro).json()["result"]["count"] == 1
    assert secured.post(C + "/points/query", json={"query": 1}, headers=ro).status_code == 200
    assert_error(secured.post(C + "/points/delete", json={"points": [1]}, headers=ro), 403)
    assert_error(secured.delete(C, headers=ro), 403)
    assert secured.post(C + "/points/count", json={}, headers=ro).json()["result"]["count"] == 1
    # Probes and the version need no key (orchestrators have none); metrics do.
    for path in ("/", "/healthz", "/livez", "/readyz"):
        assert secured.get(path).status_code == 200, path
    assert_error(secured.get("/metrics"), 401)
    assert secured.get("/metrics", headers=ro).status_code == 200


def test_server_config_rejects_inconsistent_keys() -> None:
    with pytest.raises(se.InvalidConfig):
        ServerConfig(read_only_api_key="r")
    with pytest.raises(se.InvalidConfig):
        ServerConfig(api_key="k", read_only_api_key="k")
    with pytest.raises(se.InvalidConfig):
        ServerConfig(ssl_certfile="cert.pem")


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # The key comes from the environment; the body limit is tiny so 413 is cheap to provoke.
    path = tmp_path_factory.mktemp("keyed") / "data"
    env = {"SHOAL_API_KEY": KEY}
    with run_server(path, "--max-body-mb", "0.01", env=env) as server:
        yield server


def test_real_server_api_key_and_limits(keyed: ServerProcess) -> None:
    with Client(keyed.url) as anonymous, pytest.raises(se.Unauthorized) as info:
        anonymous.get_collections()
    assert info.value.status_code == 401
    with Client(keyed.url, api_key="wrong") as wrong, pytest.raises(se.Unauthorized):
        wrong.get_collections()
    with Client(keyed.url, api_key=KEY) as client:
        client.create_collection("k", m.VectorParams(size=4, distance=m.Distance.EUCLID))
        client.upsert("k", [m.PointStruct(id=1, vector=[0.0, 1.0, 2.0, 3.0])])
        big = [m.PointStruct(id=i, vector=[0.5] * 4, payload={"t": "x" * 200}) for i in range(100)]
        with pytest.raises(se.RemoteError) as too_large:
            client.upsert("k", big)
        assert too_large.value.status_code == 413
        assert client.count("k").count == 1
    with httpx.Client(base_url=keyed.url, headers={"api-key": KEY}) as http:
        assert_error(http.put("/collections/k/points", content=b'{"points": [}'), 400)
        assert http.post("/collections/k/points/count", json={}).json()["result"]["count"] == 1
        http.delete("/collections/k")


def test_qdrant_client_with_api_key(keyed: ServerProcess) -> None:
    from qdrant_client import QdrantClient

    # qdrant-client warns about a key over plain http; the key works all the same.
    with pytest.warns(UserWarning, match="insecure"):
        client = QdrantClient(url=keyed.url, api_key=KEY, prefer_grpc=False)
    try:
        assert client.get_collections().collections == []
    finally:
        client.close()
        join_version_checks()
