"""Structured filters follow Qdrant: checked against qdrant-client's local-mode evaluator.

These rows pin the cases where Shoal's evaluator used to differ from Qdrant: ``is_empty``
on ``[null]``, ``values_count`` on a missing key or null, ``match: {except}`` on objects
and nested arrays.
"""

from __future__ import annotations

from typing import Any

import pytest
from qdrant_client.http import models as qm
from qdrant_client.local.payload_filters import check_filter

from shoal import models as m
from shoal.filters import compile_filter

DOCS: list[dict[str, Any]] = [
    {},
    {"a": None},
    {"a": []},
    {"a": [None]},
    {"a": [None, None]},
    {"a": [[]]},
    {"a": 1},
    {"a": "x"},
    {"a": {"k": 1}},
    {"a": [[1], "x"]},
    {"a": [1, 2, 3]},
    {"a": True},
]

FILTERS: list[dict[str, Any]] = [
    {"must": [{"is_empty": {"key": "a"}}]},
    {"must_not": [{"is_empty": {"key": "a"}}]},
    {"must": [{"is_null": {"key": "a"}}]},
    {"must": [{"key": "a", "values_count": {"lt": 1}}]},
    {"must": [{"key": "a", "values_count": {"lte": 1}}]},
    {"must": [{"key": "a", "values_count": {"gte": 1}}]},
    {"must": [{"key": "a", "values_count": {"gt": 1, "lt": 3}}]},
    {"must": [{"key": "a", "match": {"except": ["x"]}}]},
    {"must": [{"key": "a", "match": {"except": [1]}}]},
    {"must": [{"key": "a", "match": {"value": "x"}}]},
    {"must": [{"key": "a", "range": {"gte": 1}}]},
]


@pytest.mark.parametrize("raw", FILTERS, ids=[str(f) for f in FILTERS])
def test_structured_filter_matches_like_qdrant_local_mode(raw: dict[str, Any]) -> None:
    ours = compile_filter(m.Filter.model_validate(raw))
    theirs = qm.Filter.model_validate(raw)
    assert [ours(doc, 1) for doc in DOCS] == [check_filter(theirs, doc, 1, {}) for doc in DOCS]


def test_fixed_cases_by_hand() -> None:
    empty = compile_filter({"must": [{"is_empty": {"key": "a"}}]})
    assert not empty({"a": [None]}, 1)  # an array with one element is not empty
    assert empty({}, 1) and empty({"a": []}, 1) and empty({"a": None}, 1)
    none_counted = compile_filter({"must": [{"key": "a", "values_count": {"lt": 1}}]})
    assert none_counted({}, 1) and none_counted({"a": None}, 1) and none_counted({"a": []}, 1)
    assert not none_counted({"a": 5}, 1)
    except_x = compile_filter({"must": [{"key": "a", "match": {"except": ["x"]}}]})
    assert except_x({"a": {"k": 1}}, 1) and except_x({"a": [[1]]}, 1)
    assert not except_x({"a": None}, 1) and not except_x({"a": "x"}, 1)
