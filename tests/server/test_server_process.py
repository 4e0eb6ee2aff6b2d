"""`shoal serve` as a process: clean SIGTERM shutdown, TLS, probes, metrics, locking."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import OpenApi, ServerProcess, free_port, http_client, run_server

from shoal import AsyncClient
from shoal import models as m
from shoal.engine import Collection, Database
from shoal.server import QDRANT_VERSION, ServerConfig, create_app


def test_sigterm_flushes_unwaited_writes(tmp_path: Path) -> None:
    path = tmp_path / "data"
    with run_server(path) as server, httpx.Client(base_url=server.url) as http:
        http.put("/collections/c", json={"vectors": {"size": 3, "distance": "Dot"}})
        for start in range(0, 500, 100):
            points = [{"id": i, "vector": [i, 1.0, 2.0]} for i in range(start, start + 100)]
            result = http.put("/collections/c/points?wait=false", json={"points": points})
            assert result.json()["result"]["status"] == "acknowledged"
        status = server.stop()
        log = server.log_text()
    # uvicorn's graceful shutdown ran the lifespan, which closed (flushed) the database.
    assert status == 0, log
    assert "Traceback" not in log, log
    db = Database(path)
    try:
        assert db.collection("c").count(m.CountRequest()).count == 500
    finally:
        db.close()


def test_second_server_on_same_path_fails_fast(served: ServerProcess) -> None:
    cmd = [sys.executable, "-m", "shoal", "serve", "--path", str(served.path)]
    cmd += ["--port", str(free_port())]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    # One line that says where the folder is served, and no advice to do what was just done.
    [line] = done.stderr.splitlines()
    assert f"already served by `shoal serve` at {served.url}" in line
    assert f"Client('{served.url}')" in line and "--path" not in line


def test_embedded_client_on_a_served_folder_is_told_the_url(served: ServerProcess) -> None:
    code = "import shoal, sys\ntry:\n    shoal.Client(path=sys.argv[1])\n"
    code += "except shoal.errors.StorageLocked as exc:\n    print(exc.served_at, exc.pid, exc)"
    cmd = [sys.executable, "-c", code, str(served.path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    url, pid, message = out.split(" ", 2)
    assert url == served.url and int(pid) == served.proc.pid
    assert f"connect to it with Client('{served.url}')" in message


def test_cli_help_lists_serve_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shoal", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    for option in (
        "--api-key",
        "--read-only-api-key",
        "--max-body-mb",
        "--ssl-certfile",
        "--request-timeout",
        "--filter-max-conditions",
        "--condition-max-size",
    ):
        assert option in done.stdout
    assert "127.0.0.1" in done.stdout


def test_probes_version_and_metrics(served: ServerProcess, openapi: OpenApi) -> None:
    with httpx.Client(base_url=served.url) as http:
        root = http.get("/")
        assert root.json() == {"title": "qdrant - vector search engine", "version": QDRANT_VERSION}
        for path in ("/", "/healthz", "/livez", "/readyz", "/metrics"):
            r = http.get(path)
            assert r.status_code == 200, path
            openapi.check_response("GET", path, 200, r.headers["content-type"], r.content)
        http.put("/collections/metered", json={"vectors": {"size": 2, "distance": "Dot"}})
        points = [{"id": i, "vector": [1.0, i]} for i in range(7)]
        http.put("/collections/metered/points?wait=true", json={"points": points})
        http.post("/collections/metered/points/query", json={"query": [1.0, 0.0]})
        http.get("/collections/nope")
        text = http.get("/metrics").text
        http.delete("/collections/metered")
    assert 'collection_points{collection="metered"} 7' in text
    query = 'endpoint="/collections/{collection_name}/points/query"'
    assert f'rest_responses_total{{method="POST",{query},status="200"}}' in text
    assert 'endpoint="/collections/{collection_name}",status="404"} ' in text
    assert f'rest_responses_duration_seconds_count{{method="POST",{query}}}' in text
    assert 'le="+Inf"' in text


async def test_engine_calls_run_off_the_event_loop() -> None:
    # The event loop runs in this thread; every engine call must happen on another one.
    seen: list[threading.Thread] = []
    original = Collection.count

    def spy(self: Collection, req: m.CountRequest, *rest: Any) -> m.CountResult:
        seen.append(threading.current_thread())
        return original(self, req, *rest)

    db = Database(None)
    Collection.count = spy  # type: ignore[method-assign]
    try:
        app = create_app(ServerConfig(), database=db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            from server_support import async_http_client

            async with await async_http_client("http://t", http) as client:
                await client.create_collection("c", m.VectorParams(size=2, distance="Dot"))
                assert (await client.count("c")).count == 0
    finally:
        Collection.count = original  # type: ignore[method-assign]
        db.close()
    assert seen and all(t is not threading.current_thread() for t in seen)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    trust = ssl.create_default_context(cafile=str(cert))
    args = ("--ssl-certfile", str(cert), "--ssl-keyfile", str(key))
    with run_server(tmp_path / "data", *args, scheme="https", verify=trust) as server:
        assert server.url.startswith("https://")
        with httpx.Client(verify=trust) as http, http_client(server.url, http) as client:
            client.create_collection("tls", m.VectorParams(size=2, distance="Dot"))
            client.upsert("tls", [m.PointStruct(id=1, vector=[1.0, 2.0])])
            assert client.count("tls").count == 1
        plain = server.url.replace("https://", "http://")
        with httpx.Client() as http, pytest.raises(httpx.HTTPError):
            http.get(plain + "/collections")


async def test_async_client_reports_unreachable_server() -> None:
    from shoal.errors import RemoteError

    async with AsyncClient(f"http://127.0.0.1:{free_port()}", timeout=5) as client:
        with pytest.raises(RemoteError) as info:
            await client.get_collections()
    assert info.value.status_code == 503
    assert "Cannot reach" in info.value.message
