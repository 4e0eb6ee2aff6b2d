"""Filters are measured as Qdrant's strict mode measures them, and parsing stays bounded."""

from __future__ import annotations

from typing import Any

import pytest

from shoal import models as m
from shoal.errors import InvalidFilter
from shoal.filters import syntax as s
from shoal.filters.expression import MAX_LENGTH, parse_syntax
from shoal.filters.size import FilterSize, expression_size, measure_expression, measure_filter


def field(key: str, **condition: Any) -> m.FieldCondition:
    return m.FieldCondition(key=key, **condition)


def test_leaf_conditions_count_one_and_nested_filters_count_their_own() -> None:
    # Qdrant's total_conditions_count: a nested Filter and the filter of a `nested`
    # condition add their conditions, not themselves.
    flt = m.Filter(
        must=[
            field("a", match=m.MatchValue(value=1), range=m.Range(gt=0)),  # one condition
            m.Filter(
                should=[
                    field("b", match=m.MatchValue(value=2)),
                    m.IsEmptyCondition(is_empty=m.PayloadField(key="c")),
                ]
            ),
        ],
        must_not=m.HasIdCondition(has_id=[1, 2, 3]),  # a single condition, not a list
        min_should=m.MinShould(
            conditions=[
                m.NestedCondition(
                    nested=m.Nested(key="d", filter=m.Filter(must=[field("e", is_null=True)]))
                ),
                field("f", match=m.MatchAny(any=["x", "y"])),
            ],
            min_count=1,
        ),
    )
    assert measure_filter(flt) == FilterSize(conditions=6, largest=3, depth=2)


@pytest.mark.parametrize(
    ("condition", "size"),
    [
        (field("k", match=m.MatchAny(any=list(range(7)))), 7),
        (field("k", match=m.MatchExcept(**{"except": ["a", "b"]})), 2),
        (m.HasIdCondition(has_id=[1, 2, 3, 4]), 4),
        (field("k", match=m.MatchValue(value="long value" * 10)), 0),
        (field("k", match=m.MatchText(text="words")), 0),
        (field("k", range=m.Range(gte=1, lte=9)), 0),
    ],
)
def test_condition_size_is_the_number_of_values_it_lists(condition: Any, size: int) -> None:
    assert measure_filter(m.Filter(must=[condition])).largest == size


def test_the_json_of_a_filter_measures_as_the_filter() -> None:
    flt = m.Filter(
        should=[
            m.Filter(must=[field("a", match=m.MatchAny(any=[1, 2]))]),
            m.NestedCondition(
                nested=m.Nested(
                    key="n",
                    filter=m.Filter(
                        must_not=[field("b", match=m.MatchExcept(**{"except": [1, 2, 3]}))]
                    ),
                )
            ),
        ],
        must=field("c", values_count=m.ValuesCount(gt=1)),
    )
    raw = flt.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert measure_filter(raw) == measure_filter(flt) == FilterSize(3, 3, 2)


def test_malformed_json_is_counted_without_failing() -> None:
    # Validation rejects it later; the walk only must not crash on it.
    raw = {"must": [5, None, {"nested": {"key": "x"}}, {"key": "a", "match": {"any": "no"}}]}
    assert measure_filter(raw).conditions == 4


def test_a_filter_nested_past_the_recursion_limit_is_measured() -> None:
    flt = m.Filter(must=[field("a", match=m.MatchValue(value=1))])
    for _ in range(5000):
        flt = m.Filter(must=[flt])
    assert measure_filter(flt) == FilterSize(1, 0, 5001)


def test_expression_conditions_are_its_comparisons() -> None:
    size = expression_size(
        "a == 1 and (b in [1, 2, 3] or not c like 'x%') and 1 < d <= 5 "
        "and e not in ['p', 'q'] and json_contains_any(tags, [1, 2, 3, 4]) and f is null"
    )
    assert (size.conditions, size.largest) == (7, 4)


def test_template_lists_count_by_their_bound_length() -> None:
    node = parse_syntax("id in {ids} or json_contains_all(tags, {tags})")
    size = measure_expression(node, {"ids": list(range(50)), "tags": ["a"]})
    assert (size.conditions, size.largest) == (2, 50)


def test_an_expression_longer_than_the_limit_is_refused_unread() -> None:
    text = "a == 'x'" + " " * MAX_LENGTH
    with pytest.raises(InvalidFilter, match=f"longer than the limit of {MAX_LENGTH}"):
        parse_syntax(text)


@pytest.mark.parametrize("word", ["or", "and", "||", "&&"])
def test_a_chain_builds_one_node_not_one_per_operand(
    word: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rebuilding the junction for every operand copied the chain so far each time: a
    # 100,000-term `or` took 31 s to parse. One node is built, whatever the length.
    cls = s.Or if word in ("or", "||") else s.And
    built: list[int] = []
    original = cls.__new__

    def counting(kind: Any, *args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return original(kind, *args, **kwargs)

    monkeypatch.setattr(cls, "__new__", counting)
    text = f" {word} ".join(f"a == {i}" for i in range(2000))
    node = parse_syntax.__wrapped__(text)  # type: ignore[attr-defined]
    assert isinstance(node, cls) and len(node.items) == 2000
    assert len(built) == 1


def test_mixed_chains_keep_their_precedence() -> None:
    node = parse_syntax("a == 1 and b == 2 or c == 3 and d == 4 or e == 5")
    assert isinstance(node, s.Or) and len(node.items) == 3
    assert all(isinstance(node.items[i], s.And) for i in (0, 1))
    parenthesised = parse_syntax("(a == 1 or b == 2) or c == 3")
    assert isinstance(parenthesised, s.Or) and len(parenthesised.items) == 3
