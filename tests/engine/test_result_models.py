"""The engine's fast result constructors build the same objects pydantic would."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from shoal import Client
from shoal import models as m
from shoal.payloads import json_copy

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_json_copy_is_an_independent_deep_copy(payload: dict[str, object]) -> None:
    copied = json_copy(payload)
    assert copied == payload == copy.deepcopy(payload)
    # Independent: no container is shared with the original.
    stack = [(payload, copied)]
    while stack:
        a, b = stack.pop()
        if isinstance(a, (dict, list)):
            assert a is not b
            pairs = (
                zip(a.values(), b.values(), strict=True)
                if isinstance(a, dict)
                else zip(a, b, strict=True)
            )
            stack.extend(pairs)


@pytest.mark.parametrize(
    "cls, fields",
    [
        (
            m.ScoredPoint,
            dict(
                id="5c56c793-69f3-4fbf-87e6-c4bf54c28c26", version=3, score=0.5,
                payload={"a": [1, {"b": None}]}, vector=[0.1, 0.2], shard_key=None,
                order_value=None,
            ),
        ),
        (m.PointStruct, dict(id=7, vector={"v": [0.5, 1.0]}, payload=None)),
        (m.Record, dict(id=3, payload={"a": 1}, vector=None, shard_key=None, order_value=2.5)),
        (m.QueryResponse, dict(points=[m.ScoredPoint(id=1, version=0, score=0.5)])),
    ],
)  # fmt: skip
def test_assembled_equals_model_construct(cls: type[BaseModel], fields: dict[str, object]) -> None:
    fast, slow = m.assembled(cls, dict(fields)), cls.model_construct(**fields)
    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set
    assert repr(fast) == repr(slow)
    # Still an ordinary model: assignment records the field as set, as pydantic's does.
    first = next(iter(fields))
    setattr(fast, first, getattr(slow, first))
    assert fast == slow


def test_objects_of_one_page_stay_independent_when_one_is_changed() -> None:
    """The objects of one page share their set of given fields: changing one must change
    neither the other's values nor what counts as set for it."""
    first, second = m.assembled_many(
        m.ScoredPoint,
        [
            dict(id=i, version=0, score=0.5, payload=None, vector=None, shard_key=None,
                 order_value=None)
            for i in (1, 2)
        ],
    )  # fmt: skip
    first.payload = {"a": 1}
    first.score = 0.25
    assert second.payload is None and second.score == 0.5
    slow = m.ScoredPoint.model_construct(id=2, version=0, score=0.5)
    assert second.model_dump(exclude_unset=True) == {**slow.model_dump(), "id": 2}
    assert first.model_dump(exclude_unset=True)["payload"] == {"a": 1}
    assert second.model_fields_set == first.model_fields_set == set(m.ScoredPoint.model_fields)


def test_records_of_one_scroll_or_retrieve_share_their_set_of_given_fields() -> None:
    """One set per page, not one per record (fewer objects for the garbage collector), and
    the records are what pydantic would build."""
    with Client(":memory:") as client:
        client.create_collection("c", m.VectorParams(size=2, distance="Dot"))
        client.create_payload_index("c", "n", "integer")
        client.upsert(
            "c", [m.PointStruct(id=i, vector=[1.0, i], payload={"n": i}) for i in (1, 2, 3)]
        )
        pages = [
            client.scroll("c", limit=10)[0],
            client.scroll("c", limit=10, order_by="n")[0],
            client.retrieve("c", [3, 1]),
        ]
    for records in pages:
        assert len(records) >= 2
        assert len({id(r.__pydantic_fields_set__) for r in records}) == 1
        for r in records:
            slow = m.Record.model_construct(**dict(r))
            assert r == slow and r.model_fields_set == slow.model_fields_set
    assert [r.order_value for r in pages[1]] == [1, 2, 3]
    assert [r.id for r in pages[2]] == [3, 1]
