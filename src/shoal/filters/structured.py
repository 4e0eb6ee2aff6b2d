"""Compile Qdrant's structured ``Filter`` model into the internal filter tree."""

from __future__ import annotations

from shoal import models as m
from shoal.errors import InvalidFilter
from shoal.filters import geo
from shoal.filters import tree as t
from shoal.ids import canonical_id


def _path(key: str) -> t.Path:
    try:
        return t.parse_key(key)
    except ValueError as exc:
        raise InvalidFilter(str(exc)) from None


def _as_list(value: list[m.Condition] | m.Condition | None) -> list[m.Condition]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _field(cond: m.FieldCondition) -> t.Node:
    path = _path(cond.key)
    parts: list[t.Node] = []
    match = cond.match
    if isinstance(match, m.MatchValue):
        parts.append(t.Cmp(path, "eq", match.value, any_element=True))
    elif isinstance(match, m.MatchAny):
        parts.append(t.In(path, tuple(match.any), any_element=True))
    elif isinstance(match, m.MatchExcept):
        parts.append(t.Except(path, tuple(match.except_)))
    elif isinstance(match, m.MatchText):
        parts.append(t.FullText(path, match.text, "all"))
    elif isinstance(match, m.MatchTextAny):
        parts.append(t.FullText(path, match.text_any, "any"))
    elif isinstance(match, m.MatchPhrase):
        parts.append(t.FullText(path, match.phrase, "phrase"))
    rng = cond.range
    if isinstance(rng, m.DatetimeRange):
        parts.append(
            t.Range(path, rng.gt, rng.gte, rng.lt, rng.lte, any_element=True, datetimes=True)
        )
    elif isinstance(rng, m.Range):
        parts.append(t.Range(path, rng.gt, rng.gte, rng.lt, rng.lte, any_element=True))
    if cond.values_count is not None:
        vc = cond.values_count
        parts.append(t.ValuesCount(path, vc.gt, vc.gte, vc.lt, vc.lte))
    if cond.is_empty is not None:
        node: t.Node = t.IsEmpty(path)
        parts.append(node if cond.is_empty else t.Not(node))
    if cond.is_null is not None:
        node = t.IsNull(path, missing_matches=False)
        parts.append(node if cond.is_null else t.Not(node))
    if cond.geo_radius is not None:
        parts.append(t.Geo(path, geo.radius_shape(cond.geo_radius, cond.key)))
    if cond.geo_bounding_box is not None:
        parts.append(t.Geo(path, geo.box_shape(cond.geo_bounding_box, cond.key)))
    if cond.geo_polygon is not None:
        parts.append(t.Geo(path, geo.polygon_shape(cond.geo_polygon, cond.key)))
    if not parts:
        raise InvalidFilter(
            f"field condition on key {cond.key!r} has no condition: expected one of match, "
            "range, geo_radius, geo_bounding_box, geo_polygon, values_count, is_empty, "
            "is_null"
        )
    return parts[0] if len(parts) == 1 else t.And(tuple(parts))


def condition_to_tree(cond: m.Condition) -> t.Node:
    """Compile one condition of a structured filter.

    Raises:
        InvalidFilter: a malformed condition, key or geo shape.
    """
    if isinstance(cond, m.Filter):
        return filter_to_tree(cond)
    if isinstance(cond, m.FieldCondition):
        return _field(cond)
    if isinstance(cond, m.IsEmptyCondition):
        return t.IsEmpty(_path(cond.is_empty.key))
    if isinstance(cond, m.IsNullCondition):
        return t.IsNull(_path(cond.is_null.key), missing_matches=False)
    if isinstance(cond, m.HasIdCondition):
        try:
            return t.HasId(frozenset(canonical_id(i) for i in cond.has_id))
        except Exception as exc:
            raise InvalidFilter(f"has_id: {exc}") from None
    if isinstance(cond, m.NestedCondition):
        return t.NestedMatch(_path(cond.nested.key), filter_to_tree(cond.nested.filter))
    if isinstance(cond, m.HasVectorCondition):
        return t.HasVector(cond.has_vector)
    raise InvalidFilter(f"unknown condition {cond!r}")


def filter_to_tree(flt: m.Filter) -> t.Node:
    """Compile a structured filter with Qdrant's semantics: every ``must`` holds, at least one
    ``should`` holds (when any are given), no ``must_not`` holds, and ``min_should``."""
    parts: list[t.Node] = [condition_to_tree(c) for c in _as_list(flt.must)]
    should = [condition_to_tree(c) for c in _as_list(flt.should)]
    if should:
        parts.append(should[0] if len(should) == 1 else t.Or(tuple(should)))
    parts.extend(t.Not(condition_to_tree(c)) for c in _as_list(flt.must_not))
    if flt.min_should is not None:
        items = tuple(condition_to_tree(c) for c in flt.min_should.conditions)
        parts.append(t.MinShould(items, flt.min_should.min_count))
    if not parts:
        return t.Const(True)
    return parts[0] if len(parts) == 1 else t.And(tuple(parts))
