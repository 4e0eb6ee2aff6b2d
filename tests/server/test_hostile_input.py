"""Hostile input over HTTP: no server internals in any answer, no redirect to a foreign
Host, no two names for one collection or one point, no data smuggled past validation."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shoal.engine import Collection, Database
from shoal.server import ServerConfig, create_app
from shoal.server.routes import OPERATIONS, Operation

SECRET_DIR = "/srv/secret-volume/collections/x-0123"
KEY = "k3y"
VECTORS = {"vectors": {"size": 2, "distance": "Dot"}}
UUID = "67e55044-10b1-426f-9247-bb680e5fe0c8"


@pytest.fixture
def disk_app(tmp_path: Path) -> Iterator[TestClient]:
    db = Database(tmp_path / "data")
    try:
        with TestClient(create_app(ServerConfig(), database=db)) as tc:
            yield tc
    finally:
        db.close()


@pytest.fixture
def keyed_app() -> Iterator[TestClient]:
    db = Database(None)
    try:
        with TestClient(create_app(ServerConfig(api_key=KEY), database=db)) as tc:
            yield tc
    finally:
        db.close()


# ------------------------------------------------------------------ 5xx bodies


def test_internal_error_body_has_no_path_and_no_traceback(
    disk_app: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Collection, *args: object) -> object:
        raise OSError(5, "Input/output error", SECRET_DIR + "/points.sqlite3")

    assert disk_app.put("/collections/c", json=VECTORS).status_code == 200
    monkeypatch.setattr(Collection, "count", broken)
    with caplog.at_level(logging.ERROR, logger="shoal.server"):
        response = disk_app.post("/collections/c/points/count", json={})
    assert response.status_code == 500
    body = response.text
    assert "secret-volume" not in body and "Traceback" not in body and "sqlite3" not in body
    error = response.json()["status"]["error"]
    assert error.startswith("Service internal error: OSError (incident ")
    incident = error.split("incident ")[1].split(";")[0]
    # The server's log has it all, under the incident id the client was given.
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert SECRET_DIR in caplog.text and "Traceback" in caplog.text


def test_storage_error_body_names_no_path(
    disk_app: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import os

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device", SECRET_DIR)

    monkeypatch.setattr(os, "rename", refuse)
    with caplog.at_level(logging.ERROR, logger="shoal.server"):
        response = disk_app.put("/collections/c", json=VECTORS)
    assert response.status_code == 500
    assert response.headers["x-shoal-error"] == "StorageError"
    assert "secret-volume" not in response.text and "/collections" not in response.text
    assert SECRET_DIR in caplog.text


# ------------------------------------------------------------------ collection names


def test_a_name_and_its_digest_folder_name_are_two_collections(disk_app: TestClient) -> None:
    digest = "x-" + hashlib.sha256(b"a b").hexdigest()[:24]
    assert disk_app.put("/collections/a%20b", json=VECTORS).status_code == 200
    second = disk_app.put(f"/collections/{digest}", json=VECTORS)
    assert second.status_code == 200, second.text
    names = [c["name"] for c in disk_app.get("/collections").json()["result"]["collections"]]
    assert sorted(names) == ["a b", digest]


# ------------------------------------------------------------------ redirects


def test_trailing_slash_needs_the_key_and_never_redirects(keyed_app: TestClient) -> None:
    foreign = {"host": "attacker.example"}
    response = keyed_app.get("/collections/", headers=foreign, follow_redirects=False)
    assert response.status_code == 401
    assert "location" not in response.headers
    keyed = {**foreign, "api-key": KEY}
    response = keyed_app.get("/collections/", headers=keyed, follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers
    assert keyed_app.get("/collections", headers=keyed).status_code == 200


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_no_path_variant_redirects(keyed_app: TestClient, op: Operation) -> None:
    path = re.sub(r"\{[^}]+\}", "1", op.path)
    for variant in (path + "/", path + "//", "/" + path):
        for headers in ({"host": "attacker.example"}, {"host": "attacker.example", "api-key": KEY}):
            response = keyed_app.request(
                op.method, variant, headers=headers, follow_redirects=False
            )
            assert not 300 <= response.status_code < 400, (variant, response.status_code)
            assert "attacker" not in response.headers.get("location", "")


# ------------------------------------------------------------------ point ids


def test_near_uuid_ids_are_refused_over_http(disk_app: TestClient) -> None:
    assert disk_app.put("/collections/c", json=VECTORS).status_code == 200
    point = {"id": UUID, "vector": [1.0, 0.0]}
    assert disk_app.put("/collections/c/points?wait=true", json={"points": [point]}).is_success
    for alias in (UUID.replace("6", "\uff16"), UUID[:7] + "-" + UUID[7] + UUID[9:]):
        aliased = {"points": [{"id": alias, "vector": [0.0, 1.0]}]}
        response = disk_app.put("/collections/c/points?wait=true", json=aliased)
        assert response.status_code == 400 and response.headers["x-shoal-error"] == "InvalidPointId"
        assert disk_app.get(f"/collections/c/points/{alias}").status_code == 400
    # Qdrant's spellings name the same point.
    for spelling in ("{" + UUID + "}", "urn:uuid:" + UUID, UUID.replace("-", "").upper()):
        found = disk_app.get(f"/collections/c/points/{spelling}")
        assert found.json()["result"]["id"] == UUID and found.json()["result"]["vector"] == [1, 0]


# ------------------------------------------------------------------ non-finite numbers


def _points(vector: str, payload: str = "{}") -> bytes:
    return f'{{"points": [{{"id": 1, "vector": {vector}, "payload": {payload}}}]}}'.encode()


@pytest.mark.parametrize(
    ("body", "kind", "words"),
    [
        (_points("[NaN, 1]"), "InvalidVector", "component nan at index 0"),
        (_points("[1, -Infinity]"), "InvalidVector", "component -inf at index 1"),
        (_points("[1, 0]", '{"a": [NaN]}'), "InvalidPayload", "JSON numbers must be finite"),
        # Anything else orjson refuses stays refused, even beside a NaN.
        (_points("[NaN, 1]", '{"a": "\\ud800"}'), "BadRequest", "Json deserialize error"),
        (_points("[1e400, 1]"), "BadRequest", "Json deserialize error"),
        (_points("[nan, 1]"), "BadRequest", "Json deserialize error"),
    ],
)
def test_non_finite_numbers(disk_app: TestClient, body: bytes, kind: str, words: str) -> None:
    assert disk_app.put("/collections/c", json=VECTORS).status_code == 200
    headers = {"content-type": "application/json"}
    response = disk_app.put("/collections/c/points?wait=true", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.headers["x-shoal-error"] == kind
    assert words in response.json()["status"]["error"]
    assert disk_app.post("/collections/c/points/count", json={}).json()["result"]["count"] == 0
