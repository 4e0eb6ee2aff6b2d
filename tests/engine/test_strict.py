"""Qdrant's strict mode (``strict_mode_config``, ``shoal.engine.strict``): each limit
refuses what goes over it with Qdrant's message, on the embedded engine and over the
server, and a refused request changes nothing; the rate limits are per-minute token buckets
(a fake clock: no sleeps); the configuration is stored, shown, changed and reopened."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from transports import TRANSPORTS, shoal_client

from shoal import Client, errors
from shoal import models as m
from shoal.engine import Database, strict
from shoal.server import ServerConfig, create_app

V = [1.0, 0.0, 0.0, 1.0]
FRESH = itertools.count(1)  # new point ids for each upsert that needs them
CITY = m.Filter(must=[m.FieldCondition(key="city", match=m.MatchValue(value="Berlin"))])


class FakeClock:
    """The rate limits' clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(strict, "clock", fake)
    return fake


@pytest.fixture(params=TRANSPORTS)
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Client]:
    with shoal_client(request.param, tmp_path) as c:
        c.create_collection("c", vectors_config=m.VectorParams(size=4, distance="Dot"))
        c.upsert("c", [m.PointStruct(id=i, vector=V, payload={"city": "Berlin"}) for i in range(3)])
        yield c


def points(n: int, start: int = 10) -> list[m.PointStruct]:
    return [m.PointStruct(id=start + i, vector=V) for i in range(n)]


def everything(client: Client) -> list[Any]:
    # In pages of 2: within every max_query_limit the tests set.
    out: list[Any] = []
    offset: Any = 0
    while offset is not None:
        found, offset = client.scroll("c", limit=2, offset=offset, with_vectors=True)
        out += [(r.id, r.payload, r.vector) for r in found]
    return out


def enable(client: Client, **limits: Any) -> None:
    client.update_collection("c", strict_mode_config={"enabled": True, **limits})


Action = Callable[[Client, int], Any]  # the request, with the size of what it asks


# (limit, its value, the action, the size allowed, the size refused, error, text of the error)
LIMITS: list[tuple[str, Any, Action, Any, Any, type[Exception], str]] = [
    (
        "max_query_limit",
        3,
        lambda c, n: c.query_points("c", V, limit=n),
        3,
        4,
        errors.StrictModeError,
        'Limit exceeded 4 > 3 for "limit"',
    ),
    (
        "max_query_limit",
        3,
        lambda c, n: c.query_points("c", V, limit=2, prefetch=m.Prefetch(query=V, limit=n)),
        3,
        4,
        errors.StrictModeError,
        'Limit exceeded 4 > 3 for "limit"',
    ),
    (
        "max_query_limit",
        3,
        lambda c, n: c.scroll("c", limit=n),
        3,
        4,
        errors.StrictModeError,
        'for "limit"',
    ),
    (
        "max_timeout",
        2,
        lambda c, n: c.query_points("c", V, timeout=n),
        2,
        3,
        errors.StrictModeError,
        'Limit exceeded 3 > 2 for "timeout"',
    ),
    (
        "search_max_hnsw_ef",
        4,
        lambda c, n: c.query_points("c", V, search_params=m.SearchParams(hnsw_ef=n)),
        4,
        5,
        errors.StrictModeError,
        'for "hnsw_ef"',
    ),
    (
        "search_allow_exact",
        False,
        lambda c, n: c.query_points("c", V, search_params=m.SearchParams(exact=n)),
        False,
        True,
        errors.StrictModeError,
        "Exact search disabled",
    ),
    (
        "search_max_oversampling",
        1.9,
        lambda c, n: c.query_points(
            "c",
            V,
            search_params=m.SearchParams(quantization=m.QuantizationSearchParams(oversampling=n)),
        ),
        1.9,
        2.0,
        errors.StrictModeError,
        'for "oversampling"',
    ),
    (
        "search_max_batchsize",
        2,
        lambda c, n: c.query_batch_points("c", [m.QueryRequest(query=V)] * n),
        2,
        3,
        errors.StrictModeError,
        'Limit exceeded 3 > 2 for "search batch size"',
    ),
    (
        "upsert_max_batchsize",
        5,
        lambda c, n: c.upsert("c", points(n)),
        5,
        6,
        errors.StrictModeError,
        'Limit exceeded 6 > 5 for "upsert limit"',
    ),
    (
        "upsert_max_batchsize",
        2,
        lambda c, n: c.update_vectors(
            "c", [m.PointVectors(id=i, vector=[0.0, 1.0, 0.0, 0.0]) for i in range(n)]
        ),
        2,
        3,
        errors.StrictModeError,
        'for "update limit"',
    ),
    (
        # 3 points, and 3 more when the limit is off: 2 new ones make 8.
        "max_points_count",
        8,
        lambda c, n: c.upsert("c", points(n, start=100 * next(FRESH))),
        2,
        3,
        errors.StrictModeError,
        "Max points count limit of 8 reached",
    ),
    (
        "filter_max_conditions",
        2,
        lambda c, n: c.count("c", m.Filter(must=[CITY] * n)),
        2,
        3,
        errors.FilterTooLarge,
        "Filter condition limit reached (3 > 2)",
    ),
    (
        "condition_max_size",
        2,
        lambda c, n: c.delete(
            "c",
            m.Filter(must=[m.FieldCondition(key="n", match=m.MatchAny(any=list(range(n))))]),
        ),
        2,
        3,
        errors.FilterTooLarge,
        "Condition size limit reached (3 > 2)",
    ),
    (
        "unindexed_filtering_retrieve",
        False,
        lambda c, n: c.query_points("c", V, query_filter=CITY if n else None),
        0,
        1,
        errors.StrictModeError,
        'Index required but not found for "city"',
    ),
    (
        "unindexed_filtering_update",
        False,
        lambda c, n: c.delete("c", m.FilterSelector(filter=CITY if n else m.Filter())),
        0,
        1,
        errors.StrictModeError,
        'Index required but not found for "city"',
    ),
    (
        "max_payload_index_count",
        1,
        # "city" (again: replacing an index is allowed), then "other" for n=2
        lambda c, n: [c.create_payload_index("c", k, "keyword") for k in ["city", "other"][:n]],
        1,
        2,
        errors.StrictModeError,
        "maximum number of payload indices (1)",
    ),
]


@pytest.mark.parametrize(
    ("limit", "value", "action", "allowed", "over", "error", "text"),
    LIMITS,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(LIMITS)],
)
def test_a_limit_refuses_what_goes_over_it_and_changes_nothing(
    client: Client,
    limit: str,
    value: Any,
    action: Action,
    allowed: Any,
    over: Any,
    error: type[Exception],
    text: str,
) -> None:
    action(client, over)  # strict mode off: no limit
    if limit == "max_payload_index_count":
        client.delete_payload_index("c", "other")
    enable(client, **{limit: value})
    before = everything(client)
    with pytest.raises(error) as caught:
        action(client, over)
    assert text in str(caught.value)
    assert everything(client) == before
    action(client, allowed)


def test_an_index_on_the_key_allows_its_filter(client: Client) -> None:
    enable(client, unindexed_filtering_retrieve=False, unindexed_filtering_update=False)
    with pytest.raises(errors.StrictModeError):
        client.count("c", CITY)
    client.create_payload_index("c", "city", "keyword")
    assert client.count("c", CITY).count == 3
    client.delete("c", m.FilterSelector(filter=CITY))
    assert client.count("c").count == 0


def test_a_disabled_strict_mode_keeps_its_limits_without_applying_them(client: Client) -> None:
    client.update_collection("c", strict_mode_config={"enabled": False, "max_query_limit": 1})
    assert len(client.query_points("c", V, limit=3).points) == 3
    shown = client.get_collection("c").config.strict_mode_config
    assert shown == {"enabled": False, "max_query_limit": 1}


def test_write_rate_limit_is_a_per_minute_token_bucket(client: Client, clock: FakeClock) -> None:
    enable(client, write_rate_limit=3)
    client.upsert("c", points(3))  # a full bucket: 3 tokens, one per point
    before = everything(client)
    with pytest.raises(errors.RateLimited) as caught:
        client.upsert("c", points(1, start=20))
    assert str(caught.value) == (
        "Rate limiting exceeded: Write rate limit exceeded: Operation requires 1 tokens but "
        "only 0.0 were available. Retry after 20s"
    )
    assert caught.value.retry_after == 20
    with pytest.raises(errors.RateLimited, match="request larger than rate limiter capacity"):
        client.upsert("c", points(4, start=20))
    assert everything(client) == before
    clock.now += 20  # 3 per minute: one token back
    client.upsert("c", points(1, start=20))
    with pytest.raises(errors.RateLimited):
        client.set_payload("c", {"a": 1}, points=[0])  # any other write costs 1
    clock.now += 3600  # never more than the capacity
    client.upsert("c", points(3, start=30))
    with pytest.raises(errors.RateLimited):
        client.delete("c", [30])
    assert client.count("c").count == 10


def test_read_rate_limit_counts_each_query_and_read(client: Client, clock: FakeClock) -> None:
    enable(client, read_rate_limit=4)
    client.query_batch_points("c", [m.QueryRequest(query=V)] * 2)
    client.scroll("c")
    client.count("c")
    for read in (
        lambda: client.query_points("c", V),
        lambda: client.retrieve("c", [1]),
        lambda: client.count("c"),
    ):
        with pytest.raises(errors.RateLimited, match="Read rate limit exceeded"):
            read()
    clock.now += 15
    assert len(client.query_points("c", V).points) == 3
    client.upsert("c", points(1))  # writes have their own bucket (none here)


def test_turning_strict_mode_off_lifts_its_limits(client: Client, clock: FakeClock) -> None:
    enable(client, write_rate_limit=1, max_query_limit=1)
    client.upsert("c", points(1))
    with pytest.raises(errors.RateLimited):
        client.upsert("c", points(1))
    client.update_collection("c", strict_mode_config={"enabled": False})
    client.upsert("c", points(1))
    assert len(client.query_points("c", V, limit=4).points) == 4


def test_changing_one_limit_keeps_the_rate_buckets(client: Client, clock: FakeClock) -> None:
    enable(client, write_rate_limit=2)
    client.upsert("c", points(2))
    client.update_collection("c", strict_mode_config={"max_query_limit": 5})
    with pytest.raises(errors.RateLimited):
        client.upsert("c", points(1))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_query_limit", 0),
        ("max_query_limit", "3"),
        ("enabled", 1),
        ("search_max_oversampling", -1),
    ],
)
def test_a_bad_strict_mode_value_is_refused(client: Client, name: str, value: Any) -> None:
    with pytest.raises(errors.InvalidConfig, match=f"strict_mode_config.{name}"):
        enable(client, **{name: value})
    assert client.get_collection("c").config.strict_mode_config is None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_strict_mode_is_stored_shown_changed_and_reopened(transport: str, tmp_path: Path) -> None:
    with shoal_client(transport, tmp_path) as c:
        c.create_collection(
            "c",
            vectors_config=m.VectorParams(size=4, distance="Dot"),
            strict_mode_config={"enabled": True, "max_query_limit": 150},
        )
        c.update_collection("c", strict_mode_config={"max_points_count": 100})
        expected = {"enabled": True, "max_query_limit": 150, "max_points_count": 100}
        assert c.get_collection("c").config.strict_mode_config == expected
    with shoal_client(transport, tmp_path) as c:
        assert c.get_collection("c").config.strict_mode_config == expected
        with pytest.raises(errors.StrictModeError, match='for "limit"'):
            c.query_points("c", V, limit=151)


def test_a_rate_limit_answers_429_with_retry_after(tmp_path: Path, clock: FakeClock) -> None:
    # qdrant-client retries after Retry-After (its ResourceExhaustedResponse); a request
    # larger than the bucket never fits, and has none (as Qdrant).
    db = Database(tmp_path)
    config = {"enabled": True, "write_rate_limit": 2}
    body = {"points": [{"id": 1, "vector": V}]}
    try:
        with TestClient(create_app(ServerConfig(), database=db)) as http:
            url = "/collections/c/points?wait=true"
            new = {"vectors": {"size": 4, "distance": "Dot"}, "strict_mode_config": config}
            assert http.put("/collections/c", json=new).status_code == 200
            assert http.put(url, json=body).status_code == 200
            assert http.put(url, json=body).status_code == 200
            refused = http.put(url, json=body)
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == "30"
            assert "Write rate limit exceeded" in refused.json()["status"]["error"]
            clock.now += 60
            too_large = http.put(url, json={"points": [{"id": i, "vector": V} for i in range(3)]})
            assert too_large.status_code == 429
            assert "Retry-After" not in too_large.headers
    finally:
        db.close()


def test_in_a_coalesced_batch_only_the_query_over_a_limit_fails(tmp_path: Path) -> None:
    db = Database(tmp_path)
    try:
        config = {"enabled": True, "max_query_limit": 2}
        db.create_collection(
            "c",
            m.CreateCollection(
                vectors=m.VectorParams(size=4, distance="Dot"), strict_mode_config=config
            ),
        )
        col = db.collection("c")
        col.upsert([m.PointStruct(id=i, vector=V) for i in range(3)])
        ok, over, also_ok = col.query_many(
            [
                m.QueryRequest(query=V, limit=2),
                m.QueryRequest(query=V, limit=3),
                m.QueryRequest(query=V, limit=1),
            ]
        )
        assert isinstance(ok, m.QueryResponse) and len(ok.points) == 2
        assert isinstance(over, errors.StrictModeError)
        assert isinstance(also_ok, m.QueryResponse) and len(also_ok.points) == 1
    finally:
        db.close()


def test_a_read_costs_one_and_a_token_per_filter_condition(
    client: Client, clock: FakeClock
) -> None:
    enable(client, read_rate_limit=5)
    two = m.Filter(must=[CITY, CITY])
    client.count("c", two)  # 1 + 2
    leaves = [m.Prefetch(query=V), m.Prefetch(query=V)]
    client.query_points("c", m.FusionQuery(fusion="rrf"), prefetch=leaves)  # 2 searches
    with pytest.raises(errors.RateLimited, match=r"requires 1 tokens but only 0\.0"):
        client.retrieve("c", [1])
    clock.now += 36  # 3 tokens back
    with pytest.raises(errors.RateLimited, match=r"requires 4 tokens but only 3\.0"):
        client.query_points("c", V, query_filter=m.Filter(must=[CITY, CITY, CITY]))
    client.scroll("c", scroll_filter=two)


def test_a_filter_over_the_collections_size_limit_fails_only_its_query(tmp_path: Path) -> None:
    db = Database(tmp_path)
    try:
        config = {"enabled": True, "filter_max_conditions": 1}
        vectors = m.VectorParams(size=4, distance="Dot")
        db.create_collection("c", m.CreateCollection(vectors=vectors, strict_mode_config=config))
        col = db.collection("c")
        col.upsert([m.PointStruct(id=1, vector=V, payload={"city": "Berlin"})])
        two = m.Filter(must=[CITY, CITY])
        over, ok = col.query_many([m.QueryRequest(query=V, filter=two), m.QueryRequest(query=V)])
        assert isinstance(over, errors.FilterTooLarge)
        assert isinstance(ok, m.QueryResponse) and len(ok.points) == 1
    finally:
        db.close()
