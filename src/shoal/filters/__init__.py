"""Filters: one internal tree for structured (Qdrant) filters and Milvus-style expressions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal import models as m
from shoal.errors import InvalidFilter
from shoal.filters.convert import to_qdrant_filter
from shoal.filters.evaluate import Predicate, compile_node
from shoal.filters.expression import TextCache, parse_expression
from shoal.filters.expression import clear_cache as _clear_parse_cache
from shoal.filters.size import FilterSize, expression_size, measure_expression, measure_filter
from shoal.filters.structured import filter_to_tree
from shoal.filters.text import TextIndex, text_index_params
from shoal.filters.text_indexes import attach_text_indexes
from shoal.filters.tree import Node


def to_tree(flt: m.Filter | str | dict[str, Any], params: Mapping[str, Any] | None = None) -> Node:
    """Compile any accepted filter form into the internal tree.

    Args:
        flt: a structured ``Filter``, its JSON dict, or an expression string.
        params: values for ``{name}`` templates in an expression.

    Returns:
        The filter tree.

    Raises:
        InvalidFilter: the filter is malformed or uses an unsupported construct.
    """
    if isinstance(flt, str):
        return parse_expression(flt, params)
    if isinstance(flt, dict):
        try:
            flt = m.Filter.model_validate(flt)
        except ValueError as exc:
            raise InvalidFilter(f"malformed filter: {exc}") from None
    if not isinstance(flt, m.Filter):
        raise InvalidFilter(f"expected a Filter or an expression string, got {type(flt).__name__}")
    return filter_to_tree(flt)


@TextCache
def _compile_expression(text: str) -> Predicate:
    return compile_node(parse_expression(text))


def compile_filter(
    flt: m.Filter | str | dict[str, Any], params: Mapping[str, Any] | None = None
) -> Predicate:
    """Compile any accepted filter form into a predicate ``pred(payload, point_id)``.

    An expression without params is cached by text, so a repeat costs one dict lookup.

    Args:
        flt: a structured ``Filter``, its JSON dict, or an expression string.
        params: values for ``{name}`` templates in an expression.

    Returns:
        The predicate.

    Raises:
        InvalidFilter: the filter is malformed or uses an unsupported construct.
    """
    if isinstance(flt, str) and not params:
        return _compile_expression(flt)
    return compile_node(to_tree(flt, params))


def clear_cache() -> None:
    """Forget every cached expression parse and compiled predicate."""
    _clear_parse_cache()
    _compile_expression.cache_clear()
    expression_size.cache_clear()


__all__ = [
    "FilterSize",
    "Node",
    "Predicate",
    "TextIndex",
    "attach_text_indexes",
    "clear_cache",
    "compile_filter",
    "compile_node",
    "expression_size",
    "measure_expression",
    "measure_filter",
    "parse_expression",
    "text_index_params",
    "to_qdrant_filter",
    "to_tree",
]
