"""Bounded work on the server: filter limits, deadlines (the ``timeout`` parameter, a client
that disconnects, shutdown) and large bodies read off the event loop.

Concurrency is driven by gates, never by sleeps: a filter leaf (MatchText "park") parks its
request inside the engine until the test releases it.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from server_support import IN_PROCESS_URL, ServerProcess, async_http_client, free_port, wait_ready
from starlette.applications import Starlette
from starlette.testclient import TestClient

from shoal import models as m
from shoal.engine import Collection, Database, deadline
from shoal.engine.deadline import Deadline
from shoal.engine.filtering import CHECK_EVERY
from shoal.errors import FilterTooLarge, InvalidConfig, RequestTimeout
from shoal.filters import evaluate
from shoal.filters import tree as t
from shoal.server import ServerConfig, create_app, wire
from shoal.server.bodies import OFF_LOOP_BYTES

ROWS = 3000
PARK = {"must": [{"key": "k", "match": {"text": "park"}}]}
CHILD = Path(__file__).with_name("park_child.py")
# `shoal serve`'s graceful shutdown timeout (shoal.server.run): SIGTERM must end it sooner.
GRACEFUL_TIMEOUT = 30


def populate(db: Database, rows: int = ROWS) -> None:
    db.create_collection("c", m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot")))
    db.collection("c").upsert(
        [m.PointStruct(id=i, vector=[1.0, i], payload={"k": "x"}) for i in range(rows)]
    )


def should(conditions: int) -> dict[str, Any]:
    return {"should": [{"key": "k", "match": {"value": i}} for i in range(conditions)]}


# ---------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ({"filter": should(1001)}, "filter_max_conditions is 1000"),
        ({"filter": " or ".join(f"k == {i}" for i in range(1001))}, "filter_max_conditions"),
        (
            {"filter": {"must": [{"key": "k", "match": {"any": list(range(100_001))}}]}},
            "condition_max_size is 100000",
        ),
        ({"filter": {"must": [{"has_id": list(range(100_001))}]}}, "condition_max_size"),
    ],
    ids=["should", "expression", "match-any", "has-id"],
)
def test_a_filter_over_the_limits_gets_400_naming_the_limit(
    test_client: TestClient, app_db: Database, body: dict[str, Any], limit: str
) -> None:
    populate(app_db, rows=10)
    for path in ("/points/count", "/points/scroll", "/points/delete"):
        response = test_client.post("/collections/c" + path, json=body)
        assert response.status_code == 400, path
        assert limit in response.json()["status"]["error"]
        assert response.headers[wire.ERROR_TYPE_HEADER] == "FilterTooLarge"
    query = {**body, "query": [1.0, 0.0]}
    assert test_client.post("/collections/c/points/query", json=query).status_code == 400
    batch = {"searches": [{"query": [1.0, 0.0]}, query]}
    assert test_client.post("/collections/c/points/query/batch", json=batch).status_code == 400
    operations = {"operations": [{"delete": {"filter": body["filter"]}}]}
    assert test_client.post("/collections/c/points/batch", json=operations).status_code == 400
    assert app_db.collection("c").count(m.CountRequest()).count == 10


async def test_shoal_clients_get_filter_too_large(
    asgi_client: httpx.AsyncClient, app_db: Database
) -> None:
    populate(app_db, rows=10)
    async with await async_http_client(IN_PROCESS_URL, asgi_client) as client:
        with pytest.raises(FilterTooLarge, match=r"\(1001 > 1000\)"):
            await client.count("c", count_filter=m.Filter.model_validate(should(1001)))


def test_a_filter_over_the_limits_is_refused_before_validation(
    test_client: TestClient, app_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Validating a 2 MB `should` holds the GIL for seconds: it must never get that far.
    populate(app_db, rows=10)
    validated: list[type] = []
    original = wire.validate

    def spy(model: type[Any], data: Any) -> Any:
        validated.append(model)
        return original(model, data)

    monkeypatch.setattr(wire, "validate", spy)
    response = test_client.post("/collections/c/points/count", json={"filter": should(60_000)})
    assert response.status_code == 400
    assert validated == []


def test_the_server_config_sets_the_limits(tmp_path: Path) -> None:
    config = ServerConfig(path=str(tmp_path / "data"), filter_max_conditions=3)
    with TestClient(create_app(config)) as http:
        http.put("/collections/c", json={"vectors": {"size": 2, "distance": "Dot"}})
        ok = http.post("/collections/c/points/count", json={"filter": should(3)})
        refused = http.post("/collections/c/points/count", json={"filter": should(4)})
    assert ok.status_code == 200
    assert refused.status_code == 400
    assert "(4 > 3): filter_max_conditions is 3" in refused.json()["status"]["error"]


@pytest.mark.parametrize(
    "setting",
    [{"request_timeout": 0}, {"filter_max_conditions": 0}, {"condition_max_size": -1}],
)
def test_bad_limits_in_the_server_config_are_refused(setting: dict[str, Any]) -> None:
    with pytest.raises(InvalidConfig, match=next(iter(setting)).replace("_", ".")):
        ServerConfig(**setting)


# ------------------------------------------------------------------------ timeouts


@pytest.fixture
def deadlines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Deadline]]:
    seen: list[Deadline] = []
    original = Collection.count

    def spy(self: Collection, req: m.CountRequest, until: Deadline | None = None) -> Any:
        assert until is not None
        seen.append(until)
        return original(self, req, until)

    monkeypatch.setattr(Collection, "count", spy)
    yield seen


@pytest.mark.parametrize(("query", "timeout"), [("?timeout=7", 7), ("", 12)])
def test_the_timeout_parameter_or_the_default_sets_the_deadline(
    app_db: Database, deadlines: list[Deadline], query: str, timeout: int
) -> None:
    populate(app_db, rows=1)
    with TestClient(create_app(ServerConfig(request_timeout=12), database=app_db)) as http:
        assert http.post(f"/collections/c/points/count{query}", json={}).status_code == 200
    assert [(d.timeout, d.operation) for d in deadlines] == [(timeout, "count")]


@pytest.mark.parametrize("bad", ["0", "-1", "1.5", "soon", "\uff11", str(2**64), "9" * 40])
def test_a_bad_timeout_parameter_is_400(test_client: TestClient, bad: str) -> None:
    test_client.put("/collections/c", json={"vectors": {"size": 2, "distance": "Dot"}})
    response = test_client.post(f"/collections/c/points/count?timeout={bad}", json={})
    assert response.status_code == 400
    assert "timeout" in response.json()["status"]["error"]


class FakeClock:
    """``time`` for shoal.engine.deadline: each reading is 10 s after the previous one."""

    def __init__(self) -> None:
        self._ticks = itertools.count(0.0, 10.0)

    def monotonic(self) -> float:
        return next(self._ticks)


async def test_a_request_past_its_timeout_gets_408_as_from_qdrant(
    asgi_client: httpx.AsyncClient, app_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(app_db, rows=300)
    monkeypatch.setattr(deadline, "time", FakeClock())
    body = {"filter": {"must": [{"key": "k", "match": {"value": "x"}}]}}
    response = await asgi_client.post("/collections/c/points/count?timeout=1", json=body)
    assert response.status_code == 408
    error = "Timeout: Timeout error: Operation 'count' timed out after 1s"
    assert response.json()["status"]["error"] == error
    async with await async_http_client(IN_PROCESS_URL, asgi_client) as client:
        with pytest.raises(RequestTimeout, match="timed out after 2s"):
            await client.query_points("c", query=[1.0, 0.0], query_filter="k == 'x'", timeout=2)


# ------------------------------------------------------------------- disconnects


class Gate:
    """The MatchText "park" leaf: its first row signals ``entered`` and waits for
    ``release``; every row is counted."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def build(self, node: t.FullText) -> Callable[[dict[str, Any], int | str], bool]:
        def pred(payload: dict[str, Any], pid: int | str) -> bool:
            self.calls += 1
            if self.calls == 1:
                self.entered.set()
                # A safety net for a broken build only: the test releases it long before.
                assert self.release.wait(timeout=120), "the test never released the gate"
            return True

        return pred


async def asgi_request(
    app: Starlette, path: str, body: dict[str, Any], disconnect: asyncio.Event
) -> list[MutableMapping[str, Any]]:
    """One POST straight through the ASGI interface, whose client disconnects (receive
    answers ``http.disconnect``) once ``disconnect`` is set, as a server's receive does."""
    raw = orjson.dumps(body)
    delivered = False
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 6333),
    }
    await app(scope, receive, send)
    return sent


async def test_a_client_that_disconnects_abandons_its_work_and_frees_the_worker(
    app_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One worker thread: the request that follows can only run once the parked one let go.
    # (The test waits for its gates on threads of its own.)
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(1))
    waits = ThreadPoolExecutor(2)
    populate(app_db)
    gate = Gate()
    monkeypatch.setitem(evaluate._LEAF_BUILDERS, t.FullText, gate.build)
    cancelled = threading.Event()
    original_cancel = Deadline.cancel

    def cancel(self: Deadline, error: Any = None) -> None:
        original_cancel(self, error)
        cancelled.set()

    monkeypatch.setattr(Deadline, "cancel", cancel)
    app = create_app(ServerConfig(), database=app_db)
    gone = asyncio.Event()
    parked = asyncio.create_task(
        asgi_request(app, "/collections/c/points/count", {"filter": PARK}, gone)
    )
    await loop.run_in_executor(waits, gate.entered.wait)
    gone.set()  # the client goes away while the engine works on its request
    await loop.run_in_executor(waits, cancelled.wait)
    waits.shutdown()
    gate.release.set()
    answer = await parked
    assert answer[0]["status"] == 408
    assert b"the client disconnected" in answer[1]["body"]
    # The filter stopped at the next chunk instead of running on all 3,000 rows.
    assert gate.calls <= 1 + CHECK_EVERY
    follow = await asgi_request(app, "/collections/c/points/count", {}, asyncio.Event())
    assert follow[0]["status"] == 200
    assert orjson.loads(follow[1]["body"])["result"] == {"count": ROWS}


# -------------------------------------------------------------------- large bodies


@pytest.fixture
def decoding_threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The threads request bodies are decoded and validated on."""
    seen: list[tuple[str, int]] = []
    for name in ("parse_json", "validate"):
        original = getattr(wire, name)

        def spy(*args: Any, __name: str = name, __fn: Any = original) -> Any:
            seen.append((__name, threading.get_ident()))
            return __fn(*args)

        monkeypatch.setattr(wire, name, spy)
    return seen


def large_body(path: str = "/points/query") -> dict[str, Any]:
    # A legitimate large body: a filter whose MatchAny lists 20,000 ids.
    ids = [f"id-{i}" for i in range(20_000)]
    body: dict[str, Any] = {"filter": {"must": [{"key": "k", "match": {"any": ids}}]}}
    return {**body, "query": [1.0, 0.0]} if path == "/points/query" else body


@pytest.mark.parametrize("path", ["/points/query", "/points/count", "/points/delete"])
async def test_large_bodies_are_decoded_and_validated_off_the_loop(
    asgi_client: httpx.AsyncClient,
    app_db: Database,
    decoding_threads: list[tuple[str, int]],
    path: str,
) -> None:
    populate(app_db, rows=10)
    body = orjson.dumps(large_body(path))
    assert len(body) > OFF_LOOP_BYTES
    response = await asgi_client.post("/collections/c" + path, content=body)
    assert response.status_code == 200, response.text
    assert {name for name, _ in decoding_threads} == {"parse_json", "validate"}
    loop_thread = threading.get_ident()
    assert [name for name, ident in decoding_threads if ident == loop_thread] == []


async def test_control_small_bodies_are_decoded_on_the_loop(
    asgi_client: httpx.AsyncClient, app_db: Database, decoding_threads: list[tuple[str, int]]
) -> None:
    # The same check catches decoding on the loop: small bodies are, on purpose.
    populate(app_db, rows=10)
    response = await asgi_client.post("/collections/c/points/query", json={"query": [1.0, 0.0]})
    assert response.status_code == 200
    loop_thread = threading.get_ident()
    assert [name for name, ident in decoding_threads if ident == loop_thread] == [
        "parse_json",
        "validate",
    ]


async def test_probes_answer_while_a_large_body_is_validated(
    asgi_client: httpx.AsyncClient, app_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Validation of the large body is parked on its worker thread; /healthz still answers.
    populate(app_db, rows=10)
    entered, release = threading.Event(), threading.Event()
    original = wire.validate

    def parked(model: type[Any], data: Any) -> Any:
        entered.set()
        assert release.wait(timeout=120), "the test never released validation"
        return original(model, data)

    monkeypatch.setattr(wire, "validate", parked)
    query = asyncio.create_task(
        asgi_client.post("/collections/c/points/query", content=orjson.dumps(large_body()))
    )
    await asyncio.to_thread(entered.wait)
    probe = await asgi_client.get("/healthz")
    assert probe.status_code == 200
    assert not query.done()
    release.set()
    assert (await query).status_code == 200


# ------------------------------------------------------------------------ shutdown


def test_lifespan_shutdown_stops_requests_in_flight(app_db: Database) -> None:
    app = create_app(ServerConfig(), database=app_db, close_database=False)
    inflight = app.state.shoal.inflight
    with TestClient(app):
        running = inflight.start(None, "Search")
    with pytest.raises(wire.ServiceUnavailable, match="shutting down"):
        running.check()
    later = inflight.start(5, "count")  # a request that arrives while stopping
    assert later.expired()


def test_sigterm_exits_in_time_with_a_request_parked_in_the_engine(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    cmd = [sys.executable, str(CHILD), str(tmp_path / "data"), str(port)]
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", log, tmp_path / "data")
    answers: list[Any] = []

    def count_parked() -> None:
        with httpx.Client(base_url=server.url, timeout=None) as http:
            try:
                answers.append(http.post("/collections/c/points/count", json={"filter": PARK}))
            except httpx.HTTPError as exc:
                answers.append(exc)

    requester = threading.Thread(target=count_parked)
    try:
        wait_ready(server)
        with httpx.Client(base_url=server.url) as http:
            http.put("/collections/c", json={"vectors": {"size": 2, "distance": "Dot"}})
            points = [{"id": i, "vector": [1.0, i], "payload": {"k": "x"}} for i in range(500)]
            http.put("/collections/c/points?wait=true", json={"points": points})
        requester.start()
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"PARKED"
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=GRACEFUL_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if requester.is_alive() or requester.ident is not None:
            requester.join()
        if proc.stdout is not None:
            proc.stdout.close()
    text = server.log_text()
    assert status == 0, text
    assert "Traceback" not in text, text
    assert isinstance(answers[0], httpx.Response) and answers[0].status_code == 503, answers
    assert "shutting down" in answers[0].json()["status"]["error"]
