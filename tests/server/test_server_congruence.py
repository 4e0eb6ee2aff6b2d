"""Congruence: one scenario gives identical results embedded, in-process over HTTP, and
against a real `shoal serve` process, for both Client and AsyncClient."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import server_scenario as scenario
from server_support import (
    IN_PROCESS_URL,
    OpenApi,
    Recorder,
    ServerProcess,
    async_http_client,
    drop_all,
    http_client,
    run_server,
)
from starlette.testclient import TestClient

from shoal import AsyncClient, Client
from shoal.client._async.http import AsyncHttpTransport
from shoal.client._sync.http import HttpTransport


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # Its own server: the scenario lists all collections, so it must start from none.
    with run_server(tmp_path_factory.mktemp("congruence") / "data") as proc:
        yield proc


@pytest.fixture
def served(server: ServerProcess) -> ServerProcess:
    drop_all(server.url)
    return server


@pytest.fixture(scope="module")
def embedded_results() -> list[object]:
    with Client(":memory:") as client:
        return scenario.run(client)


def test_scenario_covers_errors_and_values(embedded_results: list[object]) -> None:
    errors = [r for r in embedded_results if isinstance(r, dict) and "error" in r]
    # The scenario must exercise both outcomes, or congruence would prove little.
    assert {e["error"] for e in errors} >= {
        "CollectionNotFound",
        "CollectionAlreadyExists",
        "WrongVectorSize",
        "InvalidPointId",
        "PointNotFound",
        "InvalidFilter",
    }
    assert len(embedded_results) - len(errors) > 40


def test_sync_in_process(
    embedded_results: list[object], test_client: TestClient, recorder: Recorder, openapi: OpenApi
) -> None:
    test_client.event_hooks = recorder.hooks
    with http_client(IN_PROCESS_URL, test_client) as client:
        assert scenario.run(client) == embedded_results
    assert recorder.validate(openapi) > 50


def test_sync_real_socket(
    embedded_results: list[object], served: ServerProcess, recorder: Recorder
) -> None:
    with httpx.Client(event_hooks=recorder.hooks) as http, http_client(served.url, http) as client:
        assert scenario.run(client) == embedded_results


def test_sync_default_transport(embedded_results: list[object], served: ServerProcess) -> None:
    # Client("http://...") builds its own pooled transport.
    with Client(served.url) as client:
        assert isinstance(client._transport, HttpTransport)
        assert scenario.run(client) == embedded_results
    with Client(url=served.url) as client:
        assert not client.collection_exists(scenario.NAME)


async def test_async_embedded_matches_sync(embedded_results: list[object]) -> None:
    async with AsyncClient() as client:
        assert await scenario.arun(client) == embedded_results


async def test_async_in_process(
    embedded_results: list[object], asgi_client: httpx.AsyncClient, recorder: Recorder
) -> None:
    asgi_client.event_hooks = recorder.ahooks
    async with await async_http_client(IN_PROCESS_URL, asgi_client) as client:
        assert await scenario.arun(client) == embedded_results


async def test_async_real_socket(
    embedded_results: list[object], served: ServerProcess, recorder: Recorder
) -> None:
    async with (
        httpx.AsyncClient(event_hooks=recorder.ahooks) as http,
        await async_http_client(served.url, http) as client,
    ):
        assert await scenario.arun(client) == embedded_results


async def test_async_default_transport(
    embedded_results: list[object], served: ServerProcess
) -> None:
    async with AsyncClient(served.url) as client:
        assert isinstance(client._transport, AsyncHttpTransport)
        assert await scenario.arun(client) == embedded_results
    async with AsyncClient(url=served.url, timeout=5) as client:
        assert not await client.collection_exists(scenario.NAME)


def test_expressions_are_sent_structured_when_possible(
    test_client: TestClient, recorder: Recorder
) -> None:
    # A Qdrant cluster understands only structured filters: Shoal's client converts every
    # expression it can, and sends the text (a shoal serve extension) only when it cannot.
    test_client.event_hooks = recorder.hooks
    with http_client(IN_PROCESS_URL, test_client) as client:
        client.create_collection("f", scenario.m.VectorParams(size=4, distance="Dot"))
        client.upsert("f", scenario.POINTS)
        convertible = client.count("f", count_filter="color == 'red' and n >= 2").count
        client.delete("f", "n > 7")
        text_only = client.count("f", count_filter="n % 2 == 0").count
    filters = [
        json.loads(ex.request).get("filter")
        for ex in recorder.exchanges
        if ex.path.endswith(("/count", "/delete"))
    ]
    assert isinstance(filters[0], dict) and isinstance(filters[1], dict)
    assert filters[2] == "n % 2 == 0"
    assert (convertible, text_only) == (2, 3)
