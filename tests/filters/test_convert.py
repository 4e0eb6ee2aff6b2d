"""to_qdrant_filter: exact structured equivalents, and refusals that quote the construct."""

from __future__ import annotations

from typing import Any

import pytest
from qdrant_client.http import models as qm
from qdrant_client.local.payload_filters import check_filter

from shoal import models as m
from shoal.errors import InvalidFilter
from shoal.filters import compile_filter, compile_node, to_qdrant_filter
from shoal.filters.structured import filter_to_tree

# Payloads on which Milvus's and Qdrant's rules differ: arrays holding the value, nulls,
# objects, floats equal to ints, bools next to numbers, missing keys.
TRICKY: list[dict[str, Any]] = [
    {},
    {"a": None},
    {"a": 1},
    {"a": 1.0},
    {"a": True},
    {"a": "1"},
    {"a": [1]},
    {"a": [None, 1]},
    {"a": [[], 1]},
    {"a": [[1]]},
    {"a": [1, 2]},
    {"a": []},
    {"a": {"x": 1}},
    {"a": 2},
    {"a": "x"},
    {"a": ["x"]},
    {"a": [True]},
]


def agree(expr: str, params: dict[str, Any] | None = None) -> m.Filter:
    """Convert and check that every evaluator agrees with the expression on TRICKY."""
    flt = to_qdrant_filter(expr, params)
    direct = compile_filter(expr, params)
    structured = compile_node(filter_to_tree(flt))
    local = qm.Filter.model_validate(flt.model_dump(by_alias=True, exclude_none=True))
    for doc in TRICKY:
        want = direct(doc, 1)
        assert structured(doc, 1) == want, (expr, doc)
        assert check_filter(local, doc, 1, {}) == want, (expr, doc)
    return flt


def dump(flt: m.Filter) -> dict[str, Any]:
    return flt.model_dump(by_alias=True, exclude_none=True)


GUARD_A = [{"key": "a", "values_count": {"lt": 2}}, {"is_empty": {"key": "a[0]"}}]


def test_numeric_equality_is_a_closed_range_with_the_scalar_guard() -> None:
    flt = agree("a == 1")
    assert dump(flt) == {"must": [{"key": "a", "range": {"gte": 1.0, "lte": 1.0}}, *GUARD_A]}


def test_string_equality_is_a_match_with_the_scalar_guard() -> None:
    assert dump(agree("a == 'x'")) == {"must": [{"key": "a", "match": {"value": "x"}}, *GUARD_A]}


def test_bool_inequality_matches_the_other_bool() -> None:
    assert dump(agree("a != true")) == {"must": [{"key": "a", "match": {"value": False}}, *GUARD_A]}


def test_numeric_inequality_is_two_ranges() -> None:
    assert dump(agree("a != 1")) == {
        "must": [
            {"should": [{"key": "a", "range": {"lt": 1.0}}, {"key": "a", "range": {"gt": 1.0}}]},
            *GUARD_A,
        ]
    }


def test_in_splits_by_kind_and_shares_one_guard() -> None:
    assert dump(agree("a in ['x', 'y', 1, true]")) == {
        "must": [
            {
                "should": [
                    {"key": "a", "match": {"any": ["x", "y"]}},
                    {"key": "a", "range": {"gte": 1.0, "lte": 1.0}},
                    {"key": "a", "match": {"value": True}},
                ]
            },
            *GUARD_A,
        ]
    }


def test_repeated_guards_on_one_key_are_kept_once() -> None:
    flt = agree("a > 0 and a < 5")
    assert dump(flt) == {
        "must": [
            {"key": "a", "range": {"gt": 0.0}},
            *GUARD_A,
            {"key": "a", "range": {"lt": 5.0}},
        ]
    }


@pytest.mark.parametrize(
    "expr",
    [
        "a >= 1",
        "0 < a <= 2",
        "2 >= a > 0",
        "a == 1.0",
        "a == 'x' or a == 1",
        "not (a == 1)",
        "!(a in [1, 2])",
        "a not in [1, 2]",
        "a not in [true]",
        "a not in [true, false]",
        "a like 'x'",
        r"a like '1\%'",
        "json_contains(a, 1)",
        "array_contains(a, 'x')",
        "array_contains_all(a, [1, 2])",
        "json_contains_any(a, [2, 'x', true])",
        "array_contains_any(a, [])",
        "array_length(a) >= 2",
        "array_length(a) == 2",
        "1 < array_length(a) < 3",
        "array_length(a) > 1.5",
        "array_length(a) < 0",
        "array_length(a) == 2.5",
        "a in []",
        "a == {p} and a in {q}",
        "meta['x'][0] == 1 || arr[1] > 0",
        "$meta['a'] == 1",
    ],
)
def test_converted_filters_keep_the_meaning(expr: str) -> None:
    agree(expr, {"p": 1, "q": [1, 2]})


def test_constant_false_matches_nothing() -> None:
    for expr in ("a in []", "array_length(a) < 0", "array_contains_any(a, [])"):
        flt = agree(expr)
        assert dump(flt) == {"must": [{"has_id": []}]}


# (expression, construct named in the message, caret position)
REFUSALS = [
    ("a != 'x'", "`a != 'x'` (`!=` or `not in` on a string)", 0),
    ("a not in ['x', 1]", "`a not in ['x', 1]` (`!=` or `not in` on a string)", 0),
    ("b == 1 and a > 'm'", "`a > 'm'` (ordering strings)", 11),
    ("'a' < a < 'z'", "(a range of strings)", 0),
    ("b == 1 or n % 2 == 0", "`n % 2 == 0` (arithmetic)", 10),
    ("n + 1 > 3", "(arithmetic)", 0),
    ("title like 'abc%'", "`title like 'abc%'` (`like` with a wildcard)", 0),
    ("title like '%abc%'", "(`like` with a wildcard)", 0),
    ("title like 'a_c'", "(`like` with a wildcard)", 0),
    ("a is null", "`a is null` (a null test)", 0),
    ("not (a is not null)", "`a is not null` (a null test)", 5),
    ("a not in []", "`a not in []` (a null test)", 0),
    ("array_length(a) == 1", "(array_length including 0 or 1)", 0),
    ("array_length(a) < 3", "(array_length including 0 or 1)", 0),
    ("array_length(a) != 4", "(array_length including 0 or 1)", 0),
    ("array_contains_all(a, [])", "(contains all of an empty list)", 0),
    ("json_contains(a, [1, 2])", "(looking for a list or object in an array)", 0),
    ('meta["a b"] == 1', "(key 'a b')", 0),
    ('meta["a.b"] == 1', "(key 'a.b')", 0),
    ("a == 9007199254740993", "(integer 9007199254740993)", 0),
]


@pytest.mark.parametrize(("expr", "fragment", "pos"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusal_quotes_the_construct(expr: str, fragment: str, pos: int) -> None:
    with pytest.raises(InvalidFilter) as info:
        to_qdrant_filter(expr)
    assert "to a Qdrant filter" in info.value.message
    assert fragment in info.value.message
    assert info.value.position == pos


def test_conversion_reports_invalid_expressions_like_the_parser() -> None:
    with pytest.raises(InvalidFilter, match="missing parameter `p`"):
        to_qdrant_filter("a == {p}")
    with pytest.raises(InvalidFilter, match="expected an expression string"):
        to_qdrant_filter(None)  # type: ignore[arg-type]


def test_converted_filter_round_trips_through_json() -> None:
    flt = to_qdrant_filter("category in ['a', 'b'] and 10 < price <= 100 and not (flag == true)")
    again = m.Filter.model_validate_json(flt.model_dump_json(by_alias=True, exclude_none=True))
    assert again == flt
