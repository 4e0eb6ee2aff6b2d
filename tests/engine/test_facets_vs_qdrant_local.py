"""facet counts as qdrant-client's local mode does, on random data: per value of a key
(keywords, integers, UUIDs, bools, a nested key), a point once per distinct value of an
array, by count then value, with filters and limits; embedded and over HTTP alike. Where
local mode and Qdrant's server part (a key without a payload index, values of a type the
index does not hold), Shoal answers as the server does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from shoal import Client, errors
from shoal import models as m

N = 160
UUIDS = [str(uuid.UUID(int=(i + 1) * 0x1234_5678_9ABC_DEF0_1357)) for i in range(5)]
INDEXES = {"kw": "keyword", "num": "integer", "flag": "bool", "u": "uuid", "nested.kw": "keyword"}


def some(rng: np.random.Generator, pool: list[Any]) -> Any:
    """A value from ``pool``, an array of them (repeats included), or nothing."""
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.45:
        return [pool[i] for i in rng.integers(0, len(pool), int(rng.integers(0, 4)))]
    return pool[int(rng.integers(0, len(pool)))]


def payload(rng: np.random.Generator) -> dict[str, Any]:
    values = {
        "kw": some(rng, ["red", "green", "blue", "x", "Red"]),
        "num": some(rng, [-3, 0, 1, 2, 7, 2**40]),
        "flag": some(rng, [True, False]),
        "u": some(rng, UUIDS),
        "nested": {"kw": some(rng, ["p", "q", "r"])},
        "group": int(rng.integers(0, 4)),
    }
    return {k: v for k, v in values.items() if v is not None}


def points(seed: int) -> list[qm.PointStruct]:
    rng = np.random.default_rng(seed)
    return [
        qm.PointStruct(id=i, vector=rng.standard_normal(3).tolist(), payload=payload(rng))
        for i in range(N)
    ]


@pytest.fixture(scope="module")
def ours(memory_client: Client) -> Client:
    return memory_client


@pytest.fixture(scope="module", params=[3, 17, 2024])
def both(request: pytest.FixtureRequest, ours: Client) -> Iterator[tuple[Client, QdrantClient]]:
    theirs = QdrantClient(":memory:")
    data = points(request.param)
    theirs.create_collection("f", qm.VectorParams(size=3, distance=qm.Distance.DOT))
    theirs.upsert("f", data)
    ours.create_collection("f", m.VectorParams(size=3, distance="Dot"))
    ours.upsert("f", [m.PointStruct(**p.model_dump()) for p in data])
    for key, schema in INDEXES.items():  # local mode has no indexes (and needs none)
        ours.create_payload_index("f", key, schema)
    yield ours, theirs
    ours.delete_collection("f")
    theirs.close()


def group_in(*groups: int) -> qm.Filter:
    return qm.Filter(must=[qm.FieldCondition(key="group", match=qm.MatchAny(any=list(groups)))])


@pytest.mark.parametrize("key", list(INDEXES))
@pytest.mark.parametrize(
    ("flt", "limit"),
    [
        (None, 10),
        (None, 2),
        (group_in(0, 2), 100),
        (qm.Filter(must_not=[qm.FieldCondition(key="group", range=qm.Range(gte=3))]), 4),
        (qm.Filter(must=[qm.IsEmptyCondition(is_empty=qm.PayloadField(key="kw"))]), 10),
    ],
)
def test_facets_agree_with_local_mode(
    both: tuple[Client, QdrantClient], key: str, flt: qm.Filter | None, limit: int
) -> None:
    ours, theirs = both
    expected = theirs.facet("f", key, facet_filter=flt, limit=limit).hits
    got = ours.facet("f", key, facet_filter=flt, limit=limit).hits
    assert [(h.value, h.count) for h in got] == [(h.value, h.count) for h in expected]
    assert got or key == "kw"  # the last filter leaves only points without "kw"
    # Bools stay bools (True is not 1), and exact=True counts the same.
    assert [type(h.value) for h in got] == [type(h.value) for h in expected]
    assert ours.facet("f", key, facet_filter=flt, limit=limit, exact=True).hits == got


def test_an_expression_filter_counts_as_its_structured_twin(
    both: tuple[Client, QdrantClient],
) -> None:
    ours, _ = both
    by_expression = ours.facet("f", "kw", facet_filter="group in [0, 2]", limit=100)
    assert by_expression == ours.facet("f", "kw", facet_filter=group_in(0, 2), limit=100)


@pytest.fixture
def small(ours: Client) -> Iterator[Client]:
    ours.create_collection("g", m.VectorParams(size=2, distance="Cosine"))
    values: list[Any] = ["a", 1, 2.0, True, ["a", "a", 3, "b"], "A", None, {"x": 1}, UUIDS[0]]
    ours.upsert(
        "g",
        [m.PointStruct(id=i, vector=[1.0, i], payload={"v": v}) for i, v in enumerate(values)]
        + [m.PointStruct(id=99, vector=[1.0, 0.0], payload={"v": UUIDS[0].upper()})],
    )
    yield ours
    ours.delete_collection("g")


def test_an_index_counts_only_the_values_it_holds(small: Client) -> None:
    # As Qdrant's server, which reads the index: strings for keyword, 64-bit integers for
    # integer (a stored 2.0 is no integer), UUIDs written canonical for uuid, bools for bool.
    def hits(schema: str) -> list[tuple[Any, int]]:
        small.create_payload_index("g", "v", schema)
        return [(h.value, h.count) for h in small.facet("g", "v").hits]

    upper = UUIDS[0].upper()  # a keyword index keeps a string as it is
    assert hits("keyword") == [("a", 2), (upper, 1), (UUIDS[0], 1), ("A", 1), ("b", 1)]
    assert hits("integer") == [(1, 1), (3, 1)]
    assert hits("bool") == [(True, 1)]
    assert hits("uuid") == [(UUIDS[0], 2)]


def test_a_key_without_a_facet_index_is_refused_naming_it(small: Client) -> None:
    with pytest.raises(errors.InvalidQuery, match="No appropriate index for faceting: `v`"):
        small.facet("g", "v")
    small.create_payload_index("g", "v", "float")
    with pytest.raises(errors.InvalidQuery, match="`v` \\(its index is of type float\\)"):
        small.facet("g", "v")
    small.create_payload_index("g", "v", "keyword")
    with pytest.raises(errors.InvalidQuery, match="`v\\[\\]`"):
        small.facet("g", "v[]")  # another path than the index's


@pytest.mark.parametrize("limit", [0, -1])
def test_bad_limits_and_settings_are_refused(small: Client, limit: int) -> None:
    small.create_payload_index("g", "v", "keyword")
    with pytest.raises(errors.InvalidQuery, match=f"limit must be an integer >= 1, got {limit}"):
        small.facet("g", "v", limit=limit)
    with pytest.raises(errors.CollectionNotFound, match="nowhere"):
        small.facet("nowhere", "v")
    with pytest.raises(errors.NotSupported, match="shard_key"):
        small.facet("g", "v", shard_key_selector="k")
    with pytest.raises(errors.BadRequest, match=r"consistency must be .* got 'some'"):
        small.facet("g", "v", consistency="some")
    assert small.facet("g", "v", limit=1, consistency="majority").hits[0].value == "a"
