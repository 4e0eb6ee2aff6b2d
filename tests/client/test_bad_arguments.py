"""No exception from outside ``shoal.errors`` escapes a public client method on bad input,
and a bad call fails the same way embedded and over HTTP.

Every public method of ``AsyncClient`` (by introspection, see bad_arguments.py) is called
with one or two malformed arguments (wrong types, None, huge and negative integers, NaN,
deep and cyclic structures, lone surrogates, bogus strings and enum names, dicts with int
keys, ...) on an embedded client, async and the generated sync ``Client``; a smaller run
sends the same calls to an in-process server over a real socket and compares the exception
class with embedded mode's.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from bad_arguments import COLLECTION, Call, calls, describe, junk, nested_dict
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from threaded_server import serve_in_thread

from shoal import AsyncClient, Client, errors
from shoal import models as m

FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PARITY = settings(FUZZ, max_examples=150)


async def awaited(result: Any) -> Any:
    """A sync client's result as it is, an async one's awaited."""
    return await result if inspect.isawaitable(result) else result


async def prepared(client: AsyncClient | Client) -> None:
    """Only the collection every call may name: 2-d Dot vectors, points 1 and 2 (a server
    keeps what an earlier example created)."""
    for desc in (await awaited(client.get_collections())).collections:
        await awaited(client.delete_collection(desc.name))
    await awaited(
        client.create_collection(COLLECTION, m.VectorParams(size=2, distance=m.Distance.DOT))
    )
    points = [
        m.PointStruct(id=i, vector=[1.0, float(i)], payload={"a": i, "b": {"c": i}}) for i in (1, 2)
    ]
    await awaited(client.upsert(COLLECTION, points))


async def outcome(client: AsyncClient | Client, name: str, kwargs: dict[str, Any]) -> str:
    """ "ok", or the name of the ShoalError the call raised (anything else fails the test)."""
    try:
        await awaited(getattr(client, name)(**kwargs))
    except errors.ShoalError as exc:
        return type(exc).__name__
    except Exception as exc:
        raise AssertionError(
            f"{describe(name, kwargs)} raised {type(exc).__module__}.{type(exc).__name__}: "
            f"{exc!r:.300}"
        ) from exc
    return "ok"


async def on_client(url: str | None, sync: bool, name: str, kwargs: dict[str, Any]) -> str:
    """The call's outcome on a new prepared client: embedded in memory, or on ``url``."""
    client: AsyncClient | Client = Client(url) if sync else AsyncClient(url)
    try:
        await prepared(client)
        return await outcome(client, name, kwargs)
    finally:
        await awaited(client.close())


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@FUZZ
@given(call=calls())
def test_bad_arguments_raise_only_shoal_errors(sync: bool, call: Call) -> None:
    asyncio.run(on_client(None, sync, call.name, call.kwargs))


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
def test_an_array_as_upserts_ordering_is_a_bad_request(sync: bool) -> None:
    # Found by the fuzz above: ``array in (...)`` compared element by element, and the
    # truth of the result raised numpy's ValueError.
    points = [m.PointStruct(id=3, vector=[1.0, 2.0])]
    bad = np.array([1.0, float("nan")])
    kwargs = {"collection_name": COLLECTION, "points": points, "ordering": bad}
    assert asyncio.run(on_client(None, sync, "upsert", kwargs)) == "BadRequest"


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("method", ["query_batch_points", "count"])
def test_a_timeout_past_a_u64_is_a_bad_request(sync: bool, method: str) -> None:
    # Found by the fuzz above: 10**40 seconds became a deadline, a float it cannot be
    # (OverflowError). Qdrant's timeout is a u64.
    kwargs: dict[str, Any] = {"collection_name": COLLECTION, "timeout": 10**40}
    if method == "query_batch_points":
        kwargs["requests"] = [m.QueryRequest(query=[1.0, 2.0], limit=1)]
    assert asyncio.run(on_client(None, sync, method, kwargs)) == "BadRequest"
    kwargs["timeout"] = 2**64 - 1  # the largest there is: no limit in practice
    assert asyncio.run(on_client(None, sync, method, kwargs)) == "ok"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with serve_in_thread() as url:
        yield url


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@PARITY
@given(call=calls(single=True))
def test_bad_arguments_fail_alike_over_http(server_url: str, sync: bool, call: Call) -> None:
    name, kwargs = call.name, call.kwargs
    field = kwargs.get("field_name")
    # Known gap of shoal serve, left to the server's owners: its route
    # /collections/{name}/index/{field_name} cannot match a field name holding "/" (any
    # escape of it is decoded before routing), so the server answers 404 "no endpoint".
    assume(not (name == "delete_payload_index" and isinstance(field, str) and "/" in field))
    try:
        again = copy.deepcopy(kwargs)
    except (TypeError, RecursionError):  # cannot be copied (an iterator, 1000 levels deep)
        return
    local = asyncio.run(on_client(None, sync, name, kwargs))
    remote = asyncio.run(on_client(server_url, sync, name, again))
    assert remote == local, f"{describe(name, again)}: embedded {local}, http {remote}"


# The constructor: junk for one argument (never a plain string as path, which names a
# folder; and the test runs in a scratch folder, so a bug cannot litter the working one).
_PATHS = st.one_of(
    junk.filter(lambda v: not isinstance(v, str)), st.sampled_from(["", "\x00", "\ud800"])
)


@st.composite
def constructions(draw: st.DrawFn) -> Call:
    which = draw(st.sampled_from(["location", "url", "path", "api_key", "timeout"]))
    kwargs = {which: draw(_PATHS if which == "path" else junk)}
    if which in ("api_key", "timeout"):
        kwargs["url"] = "http://127.0.0.1:9"  # never contacted
    return Call("__init__", kwargs)


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@FUZZ
@given(call=constructions())
def test_bad_constructor_arguments_raise_only_shoal_errors(sync: bool, call: Call) -> None:
    async def construct() -> None:
        try:
            client = (Client if sync else AsyncClient)(**call.kwargs)
        except errors.ShoalError:
            return
        try:
            if "path" in call.kwargs:  # the async client opens its folder on first use
                await outcome(client, "get_collections", {})
        finally:
            await awaited(client.close())

    with tempfile.TemporaryDirectory() as scratch, working_directory(scratch):
        asyncio.run(construct())


@contextmanager
def working_directory(path: str) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


# The cases reported in issue 15, each checked by class and message.


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("query_points", {"query": [float("nan")]}),
        ("upsert", {"points": [m.PointStruct(id=9, vector=[float("nan")])]}),
        ("query_batch_points", {"requests": [m.QueryRequest(query=[float("inf")])]}),
    ],
)
def test_a_short_vector_with_a_nan_fails_alike_over_http(
    server_url: str, sync: bool, name: str, kwargs: dict[str, Any]
) -> None:
    # Found by a fuzz: embedded checked the length first (WrongVectorSize), while the HTTP
    # client refuses a NaN before any length is known (InvalidVector).
    kwargs = {"collection_name": COLLECTION, **kwargs}
    for url in (None, server_url):
        assert asyncio.run(on_client(url, sync, name, dict(kwargs))) == "InvalidVector"


DEEP: list[Any] = []
DEEP_KEY: tuple[Any, ...] = ()
for _ in range(999):
    DEEP, DEEP_KEY = [DEEP], (DEEP_KEY,)


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("method", ["create_collection", "delete_collection"])
@pytest.mark.parametrize("timeout", ["\ud800", "bogus", -1, 2**70])
def test_a_collections_timeout_is_checked_as_every_other(
    server_url: str, sync: bool, method: str, timeout: Any
) -> None:
    # Found by the fuzz: these two passed timeout on unchecked, so over HTTP a lone
    # surrogate raised UnicodeEncodeError, and any other junk was accepted.
    kwargs: dict[str, Any] = {"collection_name": "t", "timeout": timeout}
    if method == "create_collection":
        kwargs["vectors_config"] = m.VectorParams(size=2, distance=m.Distance.DOT)
    for url in (None, server_url):
        assert asyncio.run(on_client(url, sync, method, dict(kwargs))) == "BadRequest"


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize(
    ("name", "kwargs", "error", "message"),
    [
        (
            "create_payload_index",
            {"field_name": "f", "field_schema": {"type": "bogus"}},
            errors.InvalidConfig,
            "field_schema type 'bogus' is not one of keyword",
        ),
        (
            "upsert",
            {"points": [{"id": 1, "vector": [1.0, 2.0], "payload": {1: "x"}}]},
            errors.InvalidPayload,
            "payload.1",
        ),
        (
            "upsert",
            {"points": [m.PointStruct(id=1, vector=[1.0, 2.0], payload=nested_dict(300))]},
            errors.InvalidPayload,
            "deeper than 128",
        ),
        ("get_collection", {"collection_name": None}, errors.InvalidCollectionName, "None"),
        ("scroll", {"limit": 2**70}, errors.InvalidQuery, "1180591620717411303424"),
        (
            "query_points",
            {"query": [1.0, 1.0], "score_threshold": float("nan")},
            errors.InvalidQuery,
            "nan",
        ),
        ("delete_payload", {"keys": "abc", "points": [1]}, errors.InvalidPayload, "'abc'"),
        ("upload_points", {"points": None}, errors.BadRequest, "None"),
        (
            "upsert",
            {"points": [m.PointStruct(id=1, vector=[1.0, 1.0])], "wait": "yes"},
            errors.BadRequest,
            "'yes'",
        ),
        # A value 1,000 levels deep in an error message: repr() raised RecursionError.
        ("delete", {"points_selector": DEEP}, errors.InvalidPointId, "[[[[...]]]]"),
        ("retrieve", {"ids": DEEP}, errors.InvalidPointId, "[[[[...]]]]"),
        (
            "create_payload_index",
            {"field_name": "f", "field_schema": DEEP},
            errors.InvalidConfig,
            "[[[[...]]]]",
        ),
        ("upload_points", {"points": [], "batch_size": DEEP}, errors.BadRequest, "[[[[...]]]]"),
        ("upload_points", {"points": [], "method": DEEP}, errors.NotSupported, "[[[[...]]]]"),
        ("upload_points", {"points": [], "max_retries": DEEP}, errors.BadRequest, "[[[[...]]]]"),
        ("upload_collection", {"vectors": [DEEP]}, errors.InvalidVector, "[[[[...]]]]"),
        (
            "upload_collection",
            {"vectors": [[1.0, 2.0]], "payload": [DEEP]},
            errors.InvalidPayload,
            "[[[[...]]]]",
        ),
        (
            "upsert",
            {
                "points": [
                    m.PointStruct.model_construct(id=2, vector=[1.0, 2.0], payload={DEEP_KEY: 1})
                ]
            },
            errors.InvalidPayload,
            "((((...),),),) is not a string",
        ),
        # An array compared with 1 is an array, whose truth raised ValueError.
        (
            "upload_points",
            {"points": [], "parallel": np.array([1, 2])},
            errors.NotSupported,
            "parallel=array([1, 2])",
        ),
        (
            "upload_collection",
            {"vectors": [[1.0, 2.0]], "parallel": np.array([])},
            errors.NotSupported,
            "parallel=array([]",
        ),
    ],
)
def test_reported_bad_inputs_get_typed_errors(
    sync: bool,
    name: str,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    async def run() -> None:
        client: AsyncClient | Client = Client() if sync else AsyncClient()
        await prepared(client)
        kwargs.setdefault("collection_name", COLLECTION)
        with pytest.raises(error) as info:
            await awaited(getattr(client, name)(**kwargs))
        assert type(info.value) is error, repr(info.value)
        assert message in str(info.value)
        await awaited(client.close())

    asyncio.run(run())


def test_dot_names_stay_names_over_http(server_url: str) -> None:
    """ "." and ".." are sent as names, not resolved as folders of the URL: deleting the
    payload index ".." once deleted the collection itself (/collections/c/index/..)."""
    with Client(server_url) as client:
        asyncio.run(prepared(client))
        with pytest.raises(errors.InvalidPayload, match=r"'\.\.'"):  # as embedded
            client.delete_payload_index(COLLECTION, "..")
        assert client.collection_exists(COLLECTION)
        with pytest.raises(errors.CollectionNotFound, match=r"Collection `\.\.`"):
            client.get_collection("..")
        assert client.create_collection(".", m.VectorParams(size=2, distance=m.Distance.DOT))
        assert client.collection_exists(".") and client.delete_collection(".")
