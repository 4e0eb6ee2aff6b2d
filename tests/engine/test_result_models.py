"""The engine's fast result constructors build the same objects pydantic would."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

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
