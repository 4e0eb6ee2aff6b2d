"""How big a filter is, counted as Qdrant's strict mode counts it.

``conditions`` is Qdrant's ``Filter::total_conditions_count``: every leaf condition counts
one, and a nested ``Filter`` (or the filter of a ``nested`` condition) counts the conditions
inside it, not itself. ``largest`` is ``Filter::max_condition_input_size``: the most values
one condition holds — the list of a ``MatchAny`` or ``MatchExcept``, the ids of a
``has_id`` — and 0 for every other condition. An expression is counted the same way: each
comparison, range, ``in``/``not in``, ``like``, ``is null`` and ``*_contains*`` call is one
condition, ``and``/``or``/``not`` and parentheses are structure, and the size of a condition
is the length of its list (``in [...]``, ``json_contains_any(tags, [...])``).

The walks are iterative, so a filter nested deeper than Python's recursion limit is
measured (and refused) rather than crashing the compiler that would run after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from shoal import models as m
from shoal.filters import syntax as s
from shoal.filters.expression import TextCache, parse_syntax


class FilterSize(NamedTuple):
    """What the limits look at (a named tuple: measuring is on every query's path).

    Attributes:
        conditions: leaf conditions in the whole filter.
        largest: values held by the largest condition.
        depth: levels of nested filters (1 for a flat one).
    """

    conditions: int
    largest: int
    depth: int


# A condition that is a whole filter: a Filter model, or in JSON an object with none of the
# keys that make it another kind of condition (Qdrant's untagged union decides the same way).
_LEAF_KEYS = frozenset({"key", "has_id", "nested", "is_empty", "is_null", "has_vector"})


def _groups(flt: Any) -> tuple[Any, Any, Any, Any]:
    # One walk serves validated models and the decoded JSON a server has not validated yet.
    if isinstance(flt, m.Filter):
        min_should = flt.min_should
        nested = None if min_should is None else min_should.conditions
        return flt.must, flt.should, flt.must_not, nested
    if isinstance(flt, dict):
        min_should = flt.get("min_should")
        nested = min_should.get("conditions") if isinstance(min_should, dict) else None
        return flt.get("must"), flt.get("should"), flt.get("must_not"), nested
    return None, None, None, None


def _items(group: Any) -> Iterable[Any]:
    if group is None:
        return ()
    return group if isinstance(group, list) else (group,)


def _is_filter(cond: Any) -> bool:
    if isinstance(cond, m.Filter):
        return True
    return isinstance(cond, dict) and not _LEAF_KEYS.intersection(cond)


def _nested_filter(cond: Any) -> Any:
    if isinstance(cond, m.NestedCondition):
        return cond.nested.filter
    nested = cond.get("nested") if isinstance(cond, dict) else None
    return nested.get("filter") if isinstance(nested, dict) else None


def _listed(values: Any) -> int:
    return len(values) if isinstance(values, list) else 0


def _condition_size(cond: Any) -> int:
    if isinstance(cond, m.FieldCondition):
        match = cond.match
        if isinstance(match, m.MatchAny):
            return len(match.any)
        return len(match.except_) if isinstance(match, m.MatchExcept) else 0
    if isinstance(cond, m.HasIdCondition):
        return len(cond.has_id)
    if not isinstance(cond, dict):
        return 0
    if "has_id" in cond:
        return _listed(cond["has_id"])
    match = cond.get("match")
    if not isinstance(match, dict):
        return 0
    return _listed(match.get("any", match.get("except")))


def measure_filter(flt: m.Filter | dict[str, Any]) -> FilterSize:
    """Count the conditions of a structured filter.

    Args:
        flt: the filter, or its JSON (decoded, not yet validated: a malformed part counts
            as one condition and is left for validation to reject).

    Returns:
        Its size.
    """
    conditions = largest = depth = 0
    stack: list[tuple[Any, int]] = [(flt, 1)]
    while stack:
        current, level = stack.pop()
        depth = max(depth, level)
        for group in _groups(current):
            for cond in _items(group):
                if _is_filter(cond):
                    stack.append((cond, level + 1))
                elif (nested := _nested_filter(cond)) is not None:
                    stack.append((nested, level + 1))
                else:
                    conditions += 1
                    largest = max(largest, _condition_size(cond))
    return FilterSize(conditions, largest, depth)


def _list_size(node: s.Expr, params: Mapping[str, Any]) -> int:
    if isinstance(node, s.ListLit):
        return len(node.items)
    if isinstance(node, s.Param):
        value = params.get(node.name)
        return len(value) if isinstance(value, (list, tuple, set, frozenset)) else 0
    return 0


def measure_expression(node: s.Expr, params: Mapping[str, Any] | None = None) -> FilterSize:
    """Count the conditions of a parsed expression.

    Args:
        node: the syntax tree (``shoal.filters.expression.parse_syntax``).
        params: the values of its ``{name}`` templates (a list template has its length).

    Returns:
        Its size.
    """
    params = params or {}
    conditions = largest = depth = 0
    stack: list[tuple[s.Expr, int]] = [(node, 1)]
    while stack:
        current, level = stack.pop()
        depth = max(depth, level)
        if isinstance(current, (s.And, s.Or)):
            stack.extend((item, level + 1) for item in current.items)
        elif isinstance(current, s.Not):
            stack.append((current.item, level + 1))
        else:
            conditions += 1
            if isinstance(current, s.InList):
                largest = max(largest, _list_size(current.right, params))
            elif isinstance(current, s.Call) and len(current.args) == 2:
                largest = max(largest, _list_size(current.args[1], params))
    return FilterSize(conditions, largest, depth)


@TextCache
def expression_size(text: str) -> FilterSize:
    """The size of an expression without templates (parsed once, cached by text).

    Raises:
        InvalidFilter: the text is not a well-formed expression.
    """
    return measure_expression(parse_syntax(text))


__all__ = ["FilterSize", "expression_size", "measure_expression", "measure_filter"]
