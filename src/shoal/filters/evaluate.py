"""Compile a filter tree into a predicate over (payload, point id).

Compiling once into nested closures keeps the per-point cost to a few calls; the engine runs
the predicate over candidate rows. Every leaf follows the shared rules in ``tree``: missing or
null values and values of another kind never satisfy a comparison.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from shoal.errors import InvalidFilter
from shoal.filters import tree as t
from shoal.filters.geo import point_of
from shoal.filters.text import TextQuery

Predicate = Callable[[dict[str, Any], "int | str"], bool]
_MISSING: Any = object()


def _kind(v: Any) -> str:
    # bool is a subclass of int in Python; in both filter languages it is its own kind.
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "obj"
    return "null"


def resolve(payload: Any, path: t.Path) -> Any:
    """The single value at ``path`` or ``_MISSING`` (Milvus's rule: no flattening)."""
    cur = payload
    for step in path:
        if isinstance(step, int):
            if not isinstance(cur, list) or not -len(cur) <= step < len(cur):
                return _MISSING
            cur = cur[step]
        elif step == t.FLATTEN:
            if not isinstance(cur, list):
                return _MISSING
        elif isinstance(cur, dict) and step in cur:
            cur = cur[step]
        else:
            return _MISSING
    return cur


def values_at(payload: Any, path: t.Path, flat: bool = True) -> list[Any]:
    """Every value at ``path`` (Qdrant's rule): ``[]`` steps fan out over array elements, and
    with ``flat`` a final array contributes its elements. A missing key gives ``[]``."""
    current = [payload]
    for step in path:
        nxt: list[Any] = []
        for cur in current:
            if isinstance(step, int):
                if isinstance(cur, list) and -len(cur) <= step < len(cur):
                    nxt.append(cur[step])
            elif step == t.FLATTEN:
                if isinstance(cur, list):
                    nxt.extend(cur)
            elif isinstance(cur, dict) and step in cur:
                nxt.append(cur[step])
        current = nxt
    if flat:
        out: list[Any] = []
        for v in current:
            if isinstance(v, list):
                out.extend(v)
            else:
                out.append(v)
        return out
    return current


def _candidates(path: t.Path, any_element: bool) -> Callable[[Any], list[Any]]:
    if any_element:
        return lambda p: values_at(p, path)

    def single(p: Any) -> list[Any]:
        v = resolve(p, path)
        return [] if v is _MISSING else [v]

    return single


def _apply_arith(arith: t.Arith | None) -> Callable[[Any], Any]:
    if arith is None:
        return lambda v: v
    op, k = arith.op, arith.operand

    def f(v: Any) -> Any:
        if op == "len":
            return len(v) if isinstance(v, list) else _MISSING
        if _kind(v) != "num" or k is None:
            return _MISSING
        try:
            if op == "add":
                return v + k
            if op == "sub":
                return v - k
            if op == "mul":
                return v * k
            if op == "div":
                return v / k
            if isinstance(v, float) or isinstance(k, float):
                return math.fmod(v, k)
            # Milvus computes `%` in C++: the remainder takes the dividend's sign (-3 % 2 is
            # -1), like math.fmod above, unlike Python's int `%`.
            rem = abs(v) % abs(k)
            return -rem if v < 0 else rem
        except (ZeroDivisionError, OverflowError):
            return _MISSING

    return f


def _same_kind(a: Any, b: Any) -> bool:
    ka = _kind(a)
    return ka != "null" and ka == _kind(b)


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "ne": lambda a, b: bool(a != b),
    "lt": lambda a, b: bool(a < b),
    "le": lambda a, b: bool(a <= b),
    "gt": lambda a, b: bool(a > b),
    "ge": lambda a, b: bool(a >= b),
}


def _cmp(node: t.Cmp) -> Predicate:
    get = _candidates(node.path, node.any_element)
    arith = _apply_arith(node.arith)
    test, target = _CMP[node.op], node.value
    ordered = node.op not in ("eq", "ne")
    # Qdrant's integer match reads the stored number as an i64, which a float never is.
    int_only = node.any_element and _kind(target) == "num" and not isinstance(target, float)

    def pred(p: dict[str, Any], _id: int | str) -> bool:
        for raw in get(p):
            v = arith(raw)
            if v is _MISSING or not _same_kind(v, target) or (int_only and isinstance(v, float)):
                continue
            if ordered and _kind(v) not in ("num", "str"):
                continue
            if test(v, target):
                return True
        return False

    return pred


_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2})\.(\d{1,9})(?!\d)")


def _six_digits(match: re.Match[str]) -> str:
    return f"{match.group(1)}.{(match.group(2) + '000000')[:6]}"


def parse_datetime(value: Any) -> datetime | None:
    """An RFC 3339 / ISO 8601 string as an aware datetime (naive means UTC), else None."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        # Fractions of 1 to 9 digits as 6 (Python 3.10's fromisoformat takes only 3 or 6;
        # later ones any number up to 6): every version reads the same instant.
        text = _FRACTION.sub(_six_digits, text, count=1)
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _range(node: t.Range) -> Predicate:
    get = _candidates(node.path, node.any_element)
    arith = _apply_arith(node.arith)
    conv: Callable[[Any], Any] = parse_datetime if node.datetimes else (lambda v: v)
    bounds = [
        (conv(b), op)
        for b, op in ((node.gt, "gt"), (node.gte, "ge"), (node.lt, "lt"), (node.lte, "le"))
        if b is not None
    ]
    want = "dt" if node.datetimes else (_kind(bounds[0][0]) if bounds else "num")

    def ok(v: Any) -> bool:
        if node.datetimes:
            v = parse_datetime(v)
            if v is None:
                return False
        elif _kind(v) != want or want not in ("num", "str"):
            return False
        return all(_CMP[op](v, b) for b, op in bounds)

    def pred(p: dict[str, Any], _id: int | str) -> bool:
        return any(ok(arith(v)) for v in get(p))

    return pred


def _in(node: t.In) -> Predicate:
    get = _candidates(node.path, node.any_element)
    # Keyed by (kind, value) so that True does not match 1 and 1 matches 1.0.
    allowed = {(_kind(v), v) for v in node.values}
    # Qdrant's `match: {any}` lists integers or strings; a float value never matches it.
    kinds = ("bool", "num", "str")

    def pred(p: dict[str, Any], _id: int | str) -> bool:
        return any(
            (_kind(v), v) in allowed
            for v in get(p)
            if _kind(v) in kinds and not (node.any_element and isinstance(v, float))
        )

    return pred


def _except(node: t.Except) -> Predicate:
    excluded = {(_kind(v), v) for v in node.values}

    def pred(p: dict[str, Any], _id: int | str) -> bool:
        # Any present value outside the list matches, objects and nested arrays included, as
        # in Qdrant; only null is absence.
        for v in values_at(p, node.path):
            if v is None:
                continue
            # A float is never one of Qdrant's listed integers (it is no i64), so it matches.
            if isinstance(v, (list, dict, float)) or (_kind(v), v) not in excluded:
                return True
        return False

    return pred


@lru_cache(maxsize=1024)
def like_regex(pattern: str) -> re.Pattern[str]:
    """Milvus ``like``: ``%`` any run, ``_`` one character, ``\\`` escapes the next one."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _like(node: t.Like) -> Predicate:
    rx = like_regex(node.pattern)

    def pred(p: dict[str, Any], _id: int | str) -> bool:
        v = resolve(p, node.path)
        return isinstance(v, str) and rx.fullmatch(v) is not None

    return pred


def full_text_query(node: t.FullText) -> TextQuery:
    """A full-text leaf's query, compiled with its key's text index settings (the one place
    a leaf becomes a ``TextQuery``: payload indexes answer with the same object).

    Args:
        node: the leaf.

    Returns:
        The compiled query.
    """
    return TextQuery(
        node.query,
        node.mode,
        slop=node.slop,
        index=node.index,
        pooled=node.qdrant,
        needs_positions=node.qdrant,
    )


def _full_text(node: t.FullText) -> Predicate:
    query = full_text_query(node)
    get = _candidates(node.path, node.any_element)

    def pred(p: dict[str, Any], _id: int | str) -> bool:
        return query.matches([v for v in get(p) if isinstance(v, str)])

    return pred


def _is_null(node: t.IsNull) -> Predicate:
    if node.missing_matches:
        return lambda p, _id: resolve(p, node.path) in (None, _MISSING)

    def qdrant_null(p: dict[str, Any], _id: int | str) -> bool:
        vals = values_at(p, node.path, flat=False)
        return any(v is None or (isinstance(v, list) and None in v) for v in vals)

    return qdrant_null


def _is_empty(node: t.IsEmpty) -> Predicate:
    # `[null]` is not empty: it is an array with one element (Qdrant agrees).
    return lambda p, _id: all(
        v is None or (isinstance(v, list) and not v) for v in values_at(p, node.path, flat=False)
    )


def _exists(node: t.Exists) -> Predicate:
    return lambda p, _id: resolve(p, node.path) not in (None, _MISSING)


def _values_count(node: t.ValuesCount) -> Predicate:
    bounds = [
        (b, op)
        for b, op in ((node.gt, "gt"), (node.gte, "ge"), (node.lt, "lt"), (node.lte, "le"))
        if b is not None
    ]

    def holds(n: int) -> bool:
        return all(_CMP[op](n, b) for b, op in bounds)

    def pred(p: dict[str, Any], _id: int | str) -> bool:
        # Qdrant counts each value the key reaches on its own (through `a[].b`, each
        # element's `b`) and matches when one count is in range; an array counts its
        # elements, null 0, anything else 1, and a key that reaches nothing counts 0.
        vals = values_at(p, node.path, flat=False)
        if not vals:
            return holds(0)
        return any(holds(len(v) if isinstance(v, list) else 0 if v is None else 1) for v in vals)

    return pred


def _geo(node: t.Geo) -> Predicate:
    contains = node.shape.contains

    def pred(p: dict[str, Any], _id: int | str) -> bool:
        for v in values_at(p, node.path):
            point = point_of(v)
            if point is not None and contains(point):
                return True
        return False

    return pred


def _json_equal(a: Any, b: Any) -> bool:
    # Kind-aware equality: 1 == True must not hold, lists and objects compare deeply.
    if _kind(a) != _kind(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _contains(node: t.Contains) -> Predicate:
    values = node.values

    def pred(p: dict[str, Any], _id: int | str) -> bool:
        arr = resolve(p, node.path)
        if not isinstance(arr, list):
            return False
        has = [any(_json_equal(x, v) for x in arr) for v in values]
        return all(has) if node.mode in ("one", "all") else any(has)

    return pred


def _nested(node: t.NestedMatch) -> Predicate:
    inner = compile_node(node.item)
    # Qdrant reads `key` as `key[]`: the objects *in the array* (a plain object is no array),
    # and a has_id inside the nested filter knows no point id (-1 is never one).
    elements = bool(node.path) and node.path[-1] == t.FLATTEN

    def pred(p: dict[str, Any], pid: int | str) -> bool:
        vals = values_at(p, node.path, flat=False)
        objs = vals if elements else [o for v in vals if isinstance(v, list) for o in v]
        return any(isinstance(o, dict) and inner(o, -1) for o in objs)

    return pred


def compile_node(node: t.Node) -> Predicate:
    """Turn a tree into a predicate ``pred(payload, point_id) -> bool``."""
    if isinstance(node, t.And):
        parts = [compile_node(n) for n in node.items]
        return lambda p, i: all(f(p, i) for f in parts)
    if isinstance(node, t.Or):
        parts = [compile_node(n) for n in node.items]
        return lambda p, i: any(f(p, i) for f in parts)
    if isinstance(node, t.Not):
        inner = compile_node(node.item)
        return lambda p, i: not inner(p, i)
    if isinstance(node, t.MinShould):
        parts, k = [compile_node(n) for n in node.items], node.min_count
        return lambda p, i: sum(1 for f in parts if f(p, i)) >= k
    if isinstance(node, t.Const):
        value = node.value
        return lambda p, i: value
    if isinstance(node, t.HasId):
        ids = node.ids
        return lambda p, i: i in ids
    if isinstance(node, t.HasVector):
        lookup = node.lookup
        if lookup is None:
            raise InvalidFilter(
                f"has_vector ({node.name!r}) needs a collection to look the vector up in"
            )
        return lambda p, i: lookup(i)
    return _LEAF_BUILDERS[type(node)](node)


_LEAF_BUILDERS: dict[type, Callable[[Any], Predicate]] = {
    t.Cmp: _cmp,
    t.Range: _range,
    t.In: _in,
    t.Except: _except,
    t.Like: _like,
    t.FullText: _full_text,
    t.IsNull: _is_null,
    t.IsEmpty: _is_empty,
    t.Exists: _exists,
    t.ValuesCount: _values_count,
    t.Geo: _geo,
    t.Contains: _contains,
    t.NestedMatch: _nested,
}
