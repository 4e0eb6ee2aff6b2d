"""The ``timeout`` argument of qdrant-client's reads and deletes reaches the engine embedded
and travels as Qdrant's ``timeout`` query parameter over HTTP."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from qdrant_client import QdrantClient

from shoal import AsyncClient, Client
from shoal import models as m
from shoal.client._sync.http import HttpTransport
from shoal.engine import Collection
from shoal.engine.deadline import Deadline
from shoal.engine.query import Searcher
from shoal.errors import BadRequest

TIMED = ("query_points", "query_batch_points", "scroll", "count", "delete")

CALLS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "query_points": (lambda c: c.query_points("c", query=[1.0, 0.0], timeout=7), "Search"),
    "query_batch_points": (
        lambda c: c.query_batch_points("c", [m.QueryRequest(query=[1.0, 0.0])], timeout=7),
        "Search",
    ),
    "scroll": (lambda c: c.scroll("c", timeout=7), "scroll"),
    "count": (lambda c: c.count("c", count_filter="k == 1", timeout=7), "count"),
    "delete": (lambda c: c.delete("c", "k == 1", timeout=7), "delete"),
}


@pytest.mark.parametrize("name", TIMED)
def test_timeout_is_where_qdrant_client_has_it(name: str) -> None:
    ours = inspect.signature(getattr(AsyncClient, name)).parameters["timeout"]
    theirs = inspect.signature(getattr(QdrantClient, name)).parameters["timeout"]
    assert ours.default is None and theirs.default is None
    assert ours.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD


@pytest.fixture
def deadlines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Deadline | None]]:
    """Every deadline the engine is handed by a query, scroll, count or delete."""
    seen: list[Deadline | None] = []

    def spy(cls: type, name: str, position: int) -> None:
        original = getattr(cls, name)

        def recording(self: Any, *args: Any) -> Any:
            given = args[position] if len(args) > position else None
            if name == "run_batch":  # a batch of (query, deadline)
                given = [deadline for _, deadline in given]
            seen.extend(given if isinstance(given, list) else [given])
            return original(self, *args)

        monkeypatch.setattr(cls, name, recording)

    spy(Searcher, "run_batch", 0)
    for name in ("scroll", "count", "_delete_changes"):
        spy(Collection, name, 1)
    yield seen


def populated(client: Client) -> Client:
    client.create_collection("c", m.VectorParams(size=2, distance="Dot"))
    client.upsert("c", [m.PointStruct(id=1, vector=[1.0, 1.0], payload={"k": 1})])
    return client


@pytest.mark.parametrize("name", CALLS)
def test_embedded_calls_hand_the_engine_their_deadline(
    name: str, deadlines: list[Deadline | None]
) -> None:
    call, operation = CALLS[name]
    with populated(Client(":memory:")) as client:
        deadlines.clear()
        call(client)
    assert [(d.timeout, d.operation) for d in deadlines if d is not None] == [(7, operation)]


@pytest.mark.parametrize("name", CALLS)
async def test_async_embedded_calls_hand_the_engine_their_deadline(
    name: str, deadlines: list[Deadline | None]
) -> None:
    call, operation = CALLS[name]
    async with AsyncClient(":memory:") as client:
        await client.create_collection("c", m.VectorParams(size=2, distance="Dot"))
        deadlines.clear()
        await call(client)
    assert [(d.timeout, d.operation) for d in deadlines if d is not None] == [(7, operation)]


def test_without_a_timeout_embedded_work_has_no_deadline(deadlines: list[Any]) -> None:
    with populated(Client(":memory:")) as client:
        deadlines.clear()
        client.query_points("c", query=[1.0, 0.0])
        client.count("c", count_filter="k == 1")
    assert deadlines == [None, None]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "5"])
def test_a_timeout_that_is_not_whole_seconds_is_refused(bad: Any) -> None:
    with populated(Client(":memory:")) as client, pytest.raises(BadRequest, match="timeout"):
        client.count("c", timeout=bad)


RESULTS = {
    "/collections/c/points/query": {"points": []},
    "/collections/c/points/query/batch": [{"points": []}],
    "/collections/c/points/scroll": {"points": [], "next_page_offset": None},
    "/collections/c/points/count": {"count": 0},
    "/collections/c/points/delete": {"operation_id": 1, "status": "completed"},
}


@pytest.mark.parametrize("name", CALLS)
def test_over_http_the_timeout_is_the_query_parameter(name: str) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        body = {"result": RESULTS[request.url.path], "status": "ok", "time": 0.0}
        return httpx.Response(200, json=body)

    with Client("http://qdrant.test") as client:
        transport = client._transport
        assert isinstance(transport, HttpTransport)
        transport._http.close()
        transport._http = httpx.Client(transport=httpx.MockTransport(answer))
        CALLS[name][0](client)
    assert [r.url.params.get("timeout") for r in sent] == ["7"]
