"""Filters over the limits are refused before any work, embedded (this file) and served
(tests/server/test_server_bounded.py), for structured filters and expressions alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shoal import Client
from shoal import models as m
from shoal.engine import Database
from shoal.engine.limits import (
    DEFAULT_CONDITION_MAX_SIZE,
    DEFAULT_FILTER_MAX_CONDITIONS,
    Limits,
)
from shoal.errors import FilterTooLarge, InvalidConfig, InvalidFilter


@pytest.fixture
def client() -> Iterator[Client]:
    with Client(":memory:") as c:
        c.create_collection("c", m.VectorParams(size=2, distance="Dot"))
        c.upsert("c", [m.PointStruct(id=i, vector=[1.0, i], payload={"k": i}) for i in range(20)])
        yield c


def structured(conditions: int) -> m.Filter:
    return m.Filter(
        should=[m.FieldCondition(key="k", match=m.MatchValue(value=i)) for i in range(conditions)]
    )


def expression(conditions: int) -> str:
    return " or ".join(f"k == {i}" for i in range(conditions))


# Every read and the delete take a filter; each must refuse one over the limits.
CALLS: dict[str, Callable[[Client, Any], Any]] = {
    "query_points": lambda c, f: c.query_points("c", query=[1.0, 0.0], query_filter=f),
    "scroll": lambda c, f: c.scroll("c", scroll_filter=f),
    "count": lambda c, f: c.count("c", count_filter=f),
    "delete": lambda c, f: c.delete("c", f),
    "set_payload": lambda c, f: c.set_payload("c", {"x": 1}, f),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("form", [structured, expression], ids=["structured", "expression"])
def test_too_many_conditions_are_refused_naming_the_limit(
    client: Client, call: Callable[[Client, Any], Any], form: Callable[[int], Any]
) -> None:
    too_many = DEFAULT_FILTER_MAX_CONDITIONS + 1
    with pytest.raises(FilterTooLarge) as info:
        call(client, form(too_many))
    assert info.value.status_code == 400
    assert "filter_max_conditions is 1000" in info.value.message
    assert f"({too_many} > 1000)" in info.value.message
    assert (info.value.limit, info.value.value) == ("filter_max_conditions", too_many)
    assert client.count("c").count == 20  # a refused delete deleted nothing


@pytest.mark.parametrize("form", [structured, expression], ids=["structured", "expression"])
def test_a_filter_at_the_limit_runs(client: Client, form: Callable[[int], Any]) -> None:
    assert client.count("c", count_filter=form(DEFAULT_FILTER_MAX_CONDITIONS)).count == 20


@pytest.mark.parametrize(
    "flt",
    [
        m.Filter(must=[m.FieldCondition(key="k", match=m.MatchAny(any=list(range(100_001))))]),
        m.Filter(
            must_not=[
                m.FieldCondition(key="k", match=m.MatchExcept(**{"except": list(range(100_001))}))
            ]
        ),
        m.Filter(must=[m.HasIdCondition(has_id=list(range(100_001)))]),
        "k in [" + ",".join(["0"] * 100_001) + "]",  # (within the expression length limit)
    ],
    ids=["match-any", "match-except", "has-id", "in-list"],
)
def test_a_condition_with_too_many_values_is_refused(client: Client, flt: Any) -> None:
    with pytest.raises(FilterTooLarge, match=r"condition_max_size is 100000") as info:
        client.count("c", count_filter=flt)
    assert "(100001 > 100000)" in info.value.message
    assert DEFAULT_CONDITION_MAX_SIZE == 100_000


def test_nesting_past_the_recursion_limit_is_refused_not_a_crash(client: Client) -> None:
    flt = m.Filter(must=[m.FieldCondition(key="k", match=m.MatchValue(value=1))])
    for _ in range(2000):
        flt = m.Filter(must=[flt])
    # The client refuses what JSON cannot carry (nesting past 128) before the engine's
    # filter limit (100 levels) is reached; the engine's own check is exercised below.
    with pytest.raises(InvalidFilter, match="nested deeper than 128 levels"):
        client.count("c", count_filter=flt)
    col = client._transport.database().collection("c")  # type: ignore[union-attr]
    with pytest.raises(InvalidFilter, match="nested 2001 levels deep; at most 100"):
        col.count(m.CountRequest(filter=flt))


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOAL_FILTER_MAX_CONDITIONS", "3")
    monkeypatch.setenv("SHOAL_CONDITION_MAX_SIZE", "2")
    with Client(":memory:") as c:
        c.create_collection("c", m.VectorParams(size=2, distance="Dot"))
        assert c.count("c", count_filter=expression(3)).count == 0
        with pytest.raises(FilterTooLarge, match=r"\(4 > 3\): filter_max_conditions is 3"):
            c.count("c", count_filter=expression(4))
        with pytest.raises(FilterTooLarge, match=r"\(3 > 2\): condition_max_size is 2"):
            c.count("c", count_filter="k in [1, 2, 3]")


def test_a_database_takes_its_limits() -> None:
    db = Database(None, limits=Limits(filter_max_conditions=1))
    try:
        db.create_collection(
            "c", m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot"))
        )
        col = db.collection("c")
        assert col.limits.filter_max_conditions == 1
        with pytest.raises(FilterTooLarge):
            col.count(m.CountRequest(filter="k == 1 and k == 2"))
    finally:
        db.close()


@pytest.mark.parametrize("bad", ["0", "-5", "many", "1.5"])
def test_a_bad_limit_in_the_environment_is_refused(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOAL_CONDITION_MAX_SIZE", bad)
    with pytest.raises(InvalidConfig, match=r"SHOAL_CONDITION_MAX_SIZE|condition_max_size"):
        Limits.from_env()
