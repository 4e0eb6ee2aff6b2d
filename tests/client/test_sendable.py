"""``check_sendable``'s walk finds the first value JSON cannot carry, and its key path,
exactly as a plain recursive walk does (the reference below): the walk is written for
speed (it runs on every request), so its order and paths are checked against a slow,
obvious one over arbitrary nested values."""

from __future__ import annotations

import enum
import math
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal import errors
from shoal import models as m
from shoal.client import convert
from shoal.payloads import INT_MAX, INT_MIN


class Colour(enum.Enum):
    RED = "red"


def reference(value: Any, depth: int, path: list[str | int]) -> tuple[list[str | int], str] | None:
    """The first problem, depth first and in order; keys are checked before their values."""
    if value is None or isinstance(value, (bool, enum.Enum, date)):
        return None
    if isinstance(value, int):
        return None if INT_MIN <= value <= INT_MAX else (path, "64-bit")
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, "finite")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "surrogate"
        return None
    if depth > convert.MAX_REQUEST_DEPTH:
        return path, "deeper"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return path, "key"
            found = reference(key, depth, [*path, key]) or reference(item, depth + 1, [*path, key])
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = reference(item, depth + 1, [*path, i])
            if found:
                return found
        return None
    return path, "JSON value"


PROBLEMS = {
    "64-bit": "outside the 64-bit range",
    "finite": "is not a finite number",
    "surrogate": "lone surrogate",
    "deeper": "nested deeper than",
    "key": "is not a string",
    "JSON value": "is not a JSON value",
}

text = st.text(st.characters(codec=None), max_size=4) | st.sampled_from(["\ud800", "k\udfff"])
atoms = (
    st.none()
    | st.booleans()
    | st.integers(INT_MIN - 2, INT_MAX + 2)
    | st.sampled_from([2**70, -(2**70)])
    | st.floats()
    | text
    | st.just(Colour.RED)
    | st.just(date(2020, 1, 2))
    | st.just(b"bytes")
)
values = st.recursive(
    atoms,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(text | st.integers(0, 3), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(value=values)
def test_the_walk_finds_what_a_plain_recursive_walk_finds(value: Any) -> None:
    body = m.QueryRequest.model_construct(shard_key=value)  # an Any field, not validated
    got = convert._unsendable(body)
    want = reference(value, 2, ["shard_key"])
    if want is None:
        assert got is None
    else:
        assert got is not None
        assert got[0] == want[0]
        assert PROBLEMS[want[1]] in got[1]


def test_a_deep_value_is_refused_at_its_path() -> None:
    deep: Any = 1
    for _ in range(convert.MAX_REQUEST_DEPTH + 5):
        deep = [deep]
    got = convert._unsendable(m.QueryRequest.model_construct(shard_key={"a": deep}))
    assert got is not None
    path, problem = got
    assert path[:2] == ["shard_key", "a"] and set(path[2:]) == {0}
    assert "nested deeper than" in problem


def test_the_error_names_the_key_path() -> None:
    body = m.QueryRequest.model_construct(shard_key={"a": [1, {"b": math.nan}]})
    with pytest.raises(errors.BadRequest, match=r"shard_key\.a\[1\]\.b: nan is not a finite"):
        convert.check_sendable(body)
