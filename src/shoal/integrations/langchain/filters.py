"""The ``expr=`` and ``filter=`` arguments of the vector store, turned into one Shoal filter.

Shoal's client takes a structured ``Filter`` or a Milvus-style expression string and
compiles either into the same internal tree, so this module only has to pick one and to
turn LangChain's customary ``filter={"key": value}`` dict into a structured filter (exact
Qdrant semantics, no string quoting to get wrong).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal import models as m
from shoal.errors import InvalidFilter

FilterArg = m.Filter | str | Mapping[str, Any]


def _condition(key: str, value: Any) -> m.Condition:
    if isinstance(value, (bool, int, str)):
        return m.FieldCondition(key=key, match=m.MatchValue(value=value))
    if isinstance(value, float):
        # MatchValue has no float variant; a closed one-point range is float equality.
        return m.FieldCondition(key=key, range=m.Range(gte=value, lte=value))
    if value is None:
        return m.IsNullCondition(is_null=m.PayloadField(key=key))
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if items and all(isinstance(v, str) for v in items):
            return m.FieldCondition(key=key, match=m.MatchAny(any=items))
        if items and all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return m.FieldCondition(key=key, match=m.MatchAny(any=items))
        raise InvalidFilter(
            f"filter value for key {key!r} is {value!r:.80}: a list must be non-empty and "
            "all strings or all integers"
        )
    raise InvalidFilter(
        f"filter value for key {key!r} has type {type(value).__name__}: expected str, int, "
        "float, bool, None, or a list of str or int"
    )


def dict_to_filter(flt: Mapping[str, Any], metadata_field: str | None = None) -> m.Filter:
    """Turn ``{"key": value, ...}`` into a structured filter that requires every pair.

    Args:
        flt: metadata keys and the values they must equal. A list value matches any of
            its items; ``None`` matches a null value; a float matches that exact number.
        metadata_field: when metadata is stored nested under this payload key, the keys
            are looked up inside it.

    Returns:
        A ``Filter`` whose ``must`` holds one condition per key.

    Raises:
        InvalidFilter: a key is not a string or a value has an unsupported type.
    """
    conditions: list[m.Condition] = []
    for key, value in flt.items():
        if not isinstance(key, str) or not key:
            raise InvalidFilter(f"filter keys must be non-empty strings, got {key!r}")
        path = f"{metadata_field}.{key}" if metadata_field else key
        conditions.append(_condition(path, value))
    return m.Filter(must=conditions)


def build_filter(
    expr: str | None,
    flt: FilterArg | None,
    metadata_field: str | None = None,
) -> m.Filter | str | None:
    """Combine the ``expr=`` and ``filter=`` arguments into the filter the client takes.

    Args:
        expr: a Milvus-style expression (``"category == 'a' and score > 0.5"``).
        flt: a structured ``Filter``, an expression string, or a dict of equalities.
        metadata_field: see :func:`dict_to_filter`.

    Returns:
        A ``Filter``, an expression string, or None for no filter.

    Raises:
        InvalidFilter: both are given and they cannot be joined (only two expressions
            can), or ``flt`` has an unsupported type or value.
    """
    if flt is None or (isinstance(flt, Mapping) and not flt):
        converted: m.Filter | str | None = None
    elif isinstance(flt, (m.Filter, str)):
        converted = flt
    elif isinstance(flt, Mapping):
        converted = dict_to_filter(flt, metadata_field)
    else:
        raise InvalidFilter(
            f"filter has type {type(flt).__name__}: expected a dict of metadata values, "
            "a shoal.models.Filter or an expression string"
        )
    if expr is not None and not isinstance(expr, str):
        raise InvalidFilter(f"expr must be an expression string, got {type(expr).__name__}")
    if not expr:
        return converted
    if converted is None:
        return expr
    if isinstance(converted, str):
        return f"({expr}) and ({converted})"
    raise InvalidFilter(
        "give either expr= or a structured filter=, not both: an expression and a "
        "structured Filter cannot be combined; write the whole condition as one expression"
    )
