"""Query vectors in request models: lists, numpy arrays, ids and NearestQuery."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shoal import models as m
from shoal.codec import float_rows


def test_array_query_is_a_private_read_only_copy() -> None:
    user = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    req = m.QueryRequest(query=user)
    assert isinstance(req.query, np.ndarray) and req.query.dtype == np.float32
    user[0] = 9.0  # the caller reuses its array while the query waits in a batch
    assert req.query.tolist() == [1.0, 2.0, 3.0]
    assert not req.query.flags.writeable
    ints = m.QueryRequest(query=np.array([1, 2])).query
    assert isinstance(ints, np.ndarray) and ints.dtype == np.float64


def test_array_query_serialises_as_a_list() -> None:
    req = m.QueryRequest(query=np.array([0.5, 1.5]), limit=3)
    assert req.model_dump()["query"] == [0.5, 1.5]
    wire = req.model_dump_json()
    assert json.loads(wire)["query"] == [0.5, 1.5]
    assert m.QueryRequest.model_validate_json(wire).query == [0.5, 1.5]
    nested = m.QueryRequest(query=m.NearestQuery(nearest=np.array([2.0])))
    assert json.loads(nested.model_dump_json(exclude_none=True))["query"] == {"nearest": [2.0]}


@pytest.mark.parametrize(
    "value, kind",
    [
        ([1.0, 2], list),
        (7, int),
        ("5c56c793-69f3-4fbf-87e6-c4bf54c28c26", str),
        ({"nearest": [1.0]}, m.NearestQuery),
        ({"nearest": 3}, m.NearestQuery),
    ],
)
def test_other_query_forms_keep_their_type(value: object, kind: type) -> None:
    assert type(m.QueryRequest(query=value).query) is kind


@pytest.mark.parametrize(
    "value",
    [np.ones(2, dtype=bool), np.ones((2, 2)), np.array(["1.0"]), [1.0, True], 1.5, {"x": 1}],
)
def test_bad_query_forms_are_rejected(value: object) -> None:
    with pytest.raises(ValidationError):
        m.QueryRequest(query=value)


reals = st.floats(allow_nan=False, width=64) | st.integers(-(2**53), 2**53)


@given(st.integers(1, 6).flatmap(lambda n: st.lists(st.lists(reals, min_size=n, max_size=n))))
def test_float_rows_equals_numpy(rows: list[list[float]]) -> None:
    size = len(rows[0]) if rows else 1
    got = float_rows(rows, size)
    assert got.shape == (len(rows), size) and not got.flags.writeable
    assert np.array_equal(got, np.array(rows, dtype=np.float64).reshape(len(rows), size))


@pytest.mark.parametrize("row", [[1.0, "2.0"], [1.0, None], [1.0, [2.0]], [1.0], [1.0, 2, 3]])
def test_float_rows_refuses_what_is_not_two_real_numbers(row: list[object]) -> None:
    with pytest.raises(TypeError):
        float_rows([[0.0, 0.0], row], 2)


def test_models_float_rows_is_a_deprecated_alias() -> None:
    with pytest.warns(DeprecationWarning, match="shoal.codec.float_rows"):
        got = m.float_rows([[1, 2.5]], 2)
    assert got.tolist() == float_rows([[1, 2.5]], 2).tolist() == [[1.0, 2.5]]
