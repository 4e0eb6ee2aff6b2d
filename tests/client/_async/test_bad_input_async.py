"""Every bad input raises a typed error from ``shoal.errors`` that names the bad value, and a
rejected write changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from shoal import AsyncClient
from shoal import errors as E
from shoal import models as m

DIM = 3
V = [1.0, 2.0, 3.0]
U = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"


class Api:
    """Calls a method of the client by name (cases are tables of calls)."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await getattr(self.client, method)(*args, **kwargs)

    async def snapshot(self) -> dict[str, Any]:
        """Everything a write could change, in every collection."""
        out: dict[str, Any] = {}
        for desc in (await self("get_collections")).collections:
            points, _ = await self("scroll", desc.name, limit=1000, with_vectors=True)
            out[desc.name] = [p.model_dump() for p in points]
        return out

    async def rejects(
        self, error: type[Exception], names: list[str], method: str, *args: Any, **kwargs: Any
    ) -> E.ShoalError:
        """The call raises exactly ``error``, whose message contains every one of ``names``,
        and nothing changed."""
        before = await self.snapshot()
        with pytest.raises(error) as info:
            await self(method, *args, **kwargs)
        assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
        assert isinstance(info.value, E.ShoalError)
        for name in names:
            assert name in str(info.value), f"{name!r} not in {str(info.value)!r}"
        assert await self.snapshot() == before
        return info.value


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    a = Api(AsyncClient(":memory:"))
    await a("create_collection", "c", m.VectorParams(size=DIM, distance="Dot"))
    await a(
        "create_collection",
        "named",
        {
            "a": m.VectorParams(size=DIM, distance="Dot"),
            "b": m.VectorParams(size=2, distance="Dot"),
        },
    )
    await a(
        "upsert",
        "c",
        [
            m.PointStruct(id=1, vector=V, payload={"k": "orig", "n": 1}),
            m.PointStruct(id=U, vector=[0.5, 0.5, 0.5]),
        ],
    )
    await a("upsert", "named", [m.PointStruct(id=1, vector={"a": V}, payload={"k": "orig"})])
    yield a
    await a("close")


def good_batch() -> list[m.PointStruct]:
    """Good points to put beside one bad point: a new id and a re-upsert of id 1."""
    return [
        m.PointStruct(id=10, vector=V, payload={"new": True}),
        m.PointStruct(id=1, vector=[3.0, 2.0, 1.0], payload={"k": "changed"}),
    ]


def raw_point(pid: Any, vector: Any = V, payload: Any = None) -> m.PointStruct:
    """A point the model did not validate (as a caller may hand over), so that the engine's
    own checks are what rejects it."""
    return m.PointStruct.model_construct(id=pid, vector=vector, payload=payload)


# ----------------------------------------------------------------------------- vectors


async def test_wrong_dimension_upsert(api: Api) -> None:
    bad = m.PointStruct(id=11, vector=[1.0, 2.0])
    err = await api.rejects(
        E.WrongVectorSize, ["expected dim: 3", "got 2", "11"], "upsert", "c", [*good_batch(), bad]
    )
    assert (err.expected, err.got) == (3, 2)  # type: ignore[attr-defined]
    # the column form is checked as a whole too
    batch = m.Batch(ids=[10, 11], vectors=[V, [1.0, 2.0, 3.0, 4.0]])
    await api.rejects(E.WrongVectorSize, ["got 4", "11"], "upsert", "c", batch)
    named = m.PointStruct(id=12, vector={"b": [1.0, 2.0, 3.0]})
    await api.rejects(
        E.WrongVectorSize, ["expected dim: 2", "got 3", "`b`"], "upsert", "named", [named]
    )


async def test_wrong_dimension_query(api: Api) -> None:
    await api.rejects(
        E.WrongVectorSize, ["expected dim: 3", "got 4"], "query_points", "c", [1.0, 2.0, 3.0, 4.0]
    )
    await api.rejects(E.WrongVectorSize, ["got 1"], "query_points", "named", [1.0], using="a")


async def test_query_vector_forms_and_strict_components(api: Api) -> None:
    """A list, a tuple or a numpy array finds the same points; a list is used as given
    (not copied, not changed), and a bool or a string in it is rejected."""
    import numpy as np

    query = [1.0, 2, 3.0]  # an int component counts as a float, as in Qdrant
    forms = (
        query,
        tuple(query),
        np.array(query, dtype=np.float32),
        np.array(query),
        np.array([1, 2, 3]),
        m.NearestQuery(nearest=np.array(query)),
    )
    pages = [
        [(p.id, p.score) for p in (await api("query_points", "c", form, limit=2)).points]
        for form in forms
    ]
    assert all(page == pages[0] for page in pages) and len(pages[0]) == 2
    assert query == [1.0, 2, 3.0]
    await api.rejects(E.InvalidQuery, ["query"], "query_points", "c", np.ones(DIM, dtype=bool))
    # A 2-d array is a multivector query (one vector per row): no vector of a dense vector.
    await api.rejects(E.InvalidVector, ["flat list"], "query_points", "c", np.ones((1, DIM)))
    await api.rejects(E.InvalidVector, ["nan"], "query_points", "c", np.array([1.0, np.nan, 2]))
    await api.rejects(E.WrongVectorSize, ["got 2"], "query_points", "c", np.ones(2))
    for bad in (True, "2.0"):
        await api.rejects(
            E.InvalidQuery, ["query", repr(bad)], "query_points", "c", [1.0, bad, 3.0]
        )


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
async def test_non_finite_components(api: Api, bad: float) -> None:
    point = m.PointStruct(id=11, vector=[1.0, bad, 2.0])
    await api.rejects(
        E.InvalidVector, [str(bad), "11", "index 1"], "upsert", "c", [*good_batch(), point]
    )
    await api.rejects(E.InvalidVector, [str(bad)], "query_points", "c", [bad, 1.0, 2.0])


@pytest.mark.parametrize("bad", [10**400, "1.5", None, [1.0]])
async def test_unvalidated_components_are_named(api: Api, bad: Any) -> None:
    """A point the model did not validate: the engine's own conversion names the bad
    component (an int beyond float64 included), and the batch changes nothing."""
    point = raw_point(11, vector=[1.0, bad, 2.0])
    await api.rejects(E.InvalidVector, ["11"], "upsert", "c", [*good_batch(), point])


async def test_named_and_unnamed_vectors(api: Api) -> None:
    unnamed = m.PointStruct(id=11, vector=V)
    await api.rejects(
        E.InvalidVector, ["unnamed vector", "'a'", "11"], "upsert", "named", [unnamed]
    )
    named = m.PointStruct(id=11, vector={"a": V})
    await api.rejects(E.InvalidVector, ["'a'", "11"], "upsert", "c", [*good_batch(), named])
    unknown = m.PointStruct(id=11, vector={"zz": V})
    await api.rejects(E.InvalidVector, ["'zz'"], "upsert", "named", [unknown])
    await api.rejects(E.InvalidQuery, ["''", "'a'"], "query_points", "named", V)
    await api.rejects(E.InvalidQuery, ["'zz'"], "query_points", "named", V, using="zz")
    await api.rejects(E.InvalidQuery, ["'a'"], "query_points", "c", V, using="a")


# ---------------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        (-1, "-1"),
        (2**64, str(2**64)),
        ("not-a-uuid", "not-a-uuid"),
        ("5c56c793-69f3-4fbf-87e6-c4bf54c28c2", "5c56c793-69f3-4fbf-87e6-c4bf54c28c2"),
        (True, "True"),
        (1.5, "1.5"),
    ],
)
async def test_bad_point_ids(api: Api, bad: Any, shown: str) -> None:
    await api.rejects(E.InvalidPointId, [shown], "upsert", "c", [*good_batch(), raw_point(bad)])
    await api.rejects(E.InvalidPointId, [shown], "retrieve", "c", [1, bad])
    await api.rejects(E.InvalidPointId, [shown], "delete", "c", [1, bad])
    await api.rejects(E.InvalidPointId, [shown], "set_payload", "c", {"x": 1}, [1, bad])
    await api.rejects(E.InvalidPointId, [shown], "clear_payload", "c", [1, bad])
    if not isinstance(bad, (bool, float)):
        # ids the model accepts as its types but whose value is out of range or malformed
        await api.rejects(
            E.InvalidPointId, [shown], "upsert", "c", [m.PointStruct(id=bad, vector=V)]
        )
        await api.rejects(E.InvalidPointId, [shown], "query_points", "c", bad)
        flt = m.Filter(must=[m.HasIdCondition(has_id=[bad])])
        await api.rejects(E.InvalidFilter, [shown], "count", "c", flt)
        batch = m.Batch(ids=[10, bad], vectors=[V, V])
        await api.rejects(E.InvalidPointId, [shown], "upsert", "c", batch)
    else:
        await api.rejects(E.InvalidQuery, [shown], "query_points", "c", bad)


@pytest.mark.parametrize(("bad", "shown"), [(True, "True"), (1.5, "1.5")])
async def test_bool_and_float_ids_in_dict_points(api: Api, bad: Any, shown: str) -> None:
    # A dict point is validated by the model first: the error names the value and the field
    # but (today) is the generic BadRequest, not InvalidPointId (a BadRequest subclass).
    before = await api.snapshot()
    with pytest.raises(E.BadRequest) as info:
        await api("upsert", "c", [{"id": 10, "vector": V}, {"id": bad, "vector": V}])
    assert shown in str(info.value) and "id" in str(info.value)
    assert await api.snapshot() == before


# ----------------------------------------------------------------------------- payloads


async def test_non_dict_payload(api: Api) -> None:
    await api.rejects(
        E.InvalidPayload,
        ["11", "JSON object", "list"],
        "upsert",
        "c",
        [*good_batch(), raw_point(11, payload=[1, 2])],
    )
    # through the model (a dict point): a typed error naming the value
    before = await api.snapshot()
    with pytest.raises(E.BadRequest, match=r"payload.*\[1, 2\]"):
        await api("upsert", "c", [{"id": 11, "vector": V, "payload": [1, 2]}])
    assert await api.snapshot() == before


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
async def test_payload_with_non_finite_float(api: Api, bad: float) -> None:
    payload = {"ok": 1, "a": {"b": [1.0, bad]}}
    await api.rejects(
        E.InvalidPayload,
        ["11", "a.b[1]", str(bad)],
        "upsert",
        "c",
        [*good_batch(), m.PointStruct(id=11, vector=V, payload=payload)],
    )
    await api.rejects(E.InvalidPayload, ["a.b[1]", str(bad)], "set_payload", "c", payload, [1])
    await api.rejects(
        E.InvalidPayload, ["a.b[1]", str(bad)], "overwrite_payload", "c", payload, [1]
    )


# ------------------------------------------------------------------------------ filters


@pytest.mark.parametrize(
    ("flt", "shown"),
    [
        ({"must": [{"key": "k", "matc": {"value": 1}}]}, "matc"),
        ({"mus": [{"key": "k", "match": {"value": 1}}]}, "mus"),
        ({"must": [{"key": "k", "match": {"value": 1.5}}]}, "1.5"),
        ({"must": [{"key": "k[", "match": {"value": 1}}]}, "k["),
        ({"must": [{"key": "a..b", "match": {"value": 1}}]}, "a..b"),
        ({"must": [{"key": "a[x]", "match": {"value": 1}}]}, "a[x]"),
        ({"must": [{"key": "k"}]}, "'k'"),
    ],
)
async def test_bad_filters(api: Api, flt: dict[str, Any], shown: str) -> None:
    for method, args in [
        ("count", ("c", flt)),
        ("scroll", ("c", flt)),
        ("query_points", ("c", V)),
        ("delete", ("c", flt)),
        ("set_payload", ("c", {"x": 1}, flt)),
        ("clear_payload", ("c", flt)),
    ]:
        kwargs = {"query_filter": flt} if method == "query_points" else {}
        await api.rejects(E.InvalidFilter, [shown], method, *args, **kwargs)


# ------------------------------------------------------------------------------ queries


async def test_negative_limit_and_offset(api: Api) -> None:
    await api.rejects(E.InvalidQuery, ["limit", "-1"], "query_points", "c", V, limit=-1)
    await api.rejects(E.InvalidQuery, ["offset", "-2"], "query_points", "c", V, offset=-2)
    await api.rejects(E.InvalidQuery, ["limit", "-1"], "scroll", "c", limit=-1)
    req = m.QueryRequest(query=V, limit=-3)
    await api.rejects(E.InvalidQuery, ["limit", "-3"], "query_batch_points", "c", [req])


async def test_query_by_missing_point(api: Api) -> None:
    await api.rejects(E.PointNotFound, ["12345"], "query_points", "c", 12345)
    other = "00000000-0000-0000-0000-00000000abcd"
    await api.rejects(E.PointNotFound, [other], "query_points", "c", other.upper())


async def test_payload_writes_on_missing_point(api: Api) -> None:
    # id 1 exists, 999 does not: the whole write is refused, id 1 keeps its payload
    await api.rejects(E.PointNotFound, ["999"], "set_payload", "c", {"x": 1}, [1, 999])
    await api.rejects(E.PointNotFound, ["999"], "overwrite_payload", "c", {"x": 1}, [1, 999])
    await api.rejects(E.PointNotFound, ["999"], "delete_payload", "c", ["k"], [1, 999])
    await api.rejects(E.PointNotFound, ["999"], "clear_payload", "c", [1, 999])
    await api.rejects(
        E.PointNotFound,
        [U.replace("c26", "c27")],
        "set_payload",
        "c",
        {"x": 1},
        [U.replace("c26", "c27")],
    )
    (rec,) = await api("retrieve", "c", [1])
    assert rec.payload == {"k": "orig", "n": 1}


# ---------------------------------------------------------------------------- collections


async def test_unknown_collection_every_method(api: Api) -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("get_collection", ()),
        ("upsert", ([m.PointStruct(id=1, vector=V)],)),
        ("delete", ([1],)),
        ("retrieve", ([1],)),
        ("scroll", ()),
        ("count", ()),
        ("query_points", (V,)),
        ("query_batch_points", ([m.QueryRequest(query=V)],)),
        ("set_payload", ({"a": 1}, [1])),
        ("overwrite_payload", ({"a": 1}, [1])),
        ("delete_payload", (["a"], [1])),
        ("clear_payload", ([1],)),
        ("create_payload_index", ("a", "keyword")),
        ("delete_payload_index", ("a",)),
    ]
    for method, args in calls:
        await api.rejects(E.CollectionNotFound, ["`nope`"], method, "nope", *args)
    # Qdrant's answers for these two are not errors
    assert await api("delete_collection", "nope") is False
    assert await api("collection_exists", "nope") is False


async def test_create_existing_collection(api: Api) -> None:
    err = await api.rejects(
        E.CollectionAlreadyExists,
        ["`c`"],
        "create_collection",
        "c",
        m.VectorParams(size=7, distance="Cosine"),
    )
    assert err.collection_name == "c"  # type: ignore[attr-defined]
    info = await api("get_collection", "c")
    assert info.config.params.vectors == m.VectorParams(size=DIM, distance="Dot")
