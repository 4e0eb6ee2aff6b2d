"""Filters: one internal tree for structured (Qdrant) filters and Milvus-style expressions."""

from __future__ import annotations

from typing import Any

from shoal import models as m
from shoal.errors import InvalidFilter
from shoal.filters.evaluate import Predicate, compile_node
from shoal.filters.structured import filter_to_tree
from shoal.filters.tree import Node


def to_tree(flt: m.Filter | str | dict[str, Any], params: dict[str, Any] | None = None) -> Node:
    """Compile any accepted filter form into the internal tree.

    Args:
        flt: a structured ``Filter``, its JSON dict, or an expression string.
        params: values for ``{name}`` templates in an expression.

    Raises:
        InvalidFilter: the filter is malformed or uses an unsupported construct.
    """
    if isinstance(flt, str):
        from shoal.filters.expression import parse_expression

        return parse_expression(flt, params)
    if isinstance(flt, dict):
        try:
            flt = m.Filter.model_validate(flt)
        except ValueError as exc:
            raise InvalidFilter(f"malformed filter: {exc}") from None
    if not isinstance(flt, m.Filter):
        raise InvalidFilter(f"expected a Filter or an expression string, got {type(flt).__name__}")
    return filter_to_tree(flt)


def compile_filter(
    flt: m.Filter | str | dict[str, Any], params: dict[str, Any] | None = None
) -> Predicate:
    """Compile any accepted filter form into a predicate ``pred(payload, point_id)``."""
    return compile_node(to_tree(flt, params))


__all__ = ["Node", "Predicate", "compile_filter", "compile_node", "to_tree"]
