"""Convert a Milvus-style expression into an equivalent structured (Qdrant) ``Filter``.

The result must mean under Qdrant's semantics exactly what the expression means under
Milvus's, for every payload; where no structured filter can, conversion refuses with an
``InvalidFilter`` that quotes the construct (Shoal's HTTP client then sends the expression
text, which only ``shoal serve`` understands).

Two differences need extra conditions:

- Qdrant's ``match`` and ``range`` hold when *any element* of an array satisfies them;
  Milvus compares the value itself (``x == 5`` is false for ``x = [5]``). Every comparison
  therefore carries a *scalar guard*: ``values_count < 2`` and ``is_empty("x[0]")``. A
  scalar has no ``x[0]``; an array passing both checks has at most one element, and that
  element is null or empty, so it cannot satisfy the comparison anyway.
- Milvus's numbers compare across int and float (``x == 5`` holds for ``5.0``) while
  Qdrant's integer ``match`` skips floats, so numeric equality becomes
  ``range: {gte: v, lte: v}``, and ``!=`` two ranges around ``v``.

Refused, because no Qdrant condition can express them exactly:

- ``!=`` and ``not in`` with strings: Milvus needs the value to be a string, and Qdrant has
  no condition that tells a string from an object (``match: {except}`` accepts both);
- ordering strings (``name > 'm'``): Qdrant ranges are numeric;
- arithmetic (``n % 2 == 0``): Qdrant filters do not compute;
- ``like`` with a ``%`` or ``_`` wildcard: Shoal's filter model has no prefix or pattern
  match (full-text ``match: {text}`` matches words); ``like`` without wildcards converts;
- ``is null``, ``is not null`` and ``x not in []``: they tell a missing key from an empty
  array ``[]``, which no Qdrant condition does (``is_empty`` matches both, ``is_null``
  matches neither);
- ``array_length`` comparisons whose lengths include 0 or 1: ``values_count`` counts a
  missing key as 0 values and a scalar as 1; from 2 up it converts;
- ``array_contains_all(x, [])`` (true for ``[]``, as above) and the contains functions with a
  list or object as the value looked for;
- ``phrase_match`` with a slop above 0 (Qdrant's ``phrase`` takes the words consecutively);
  ``text_match`` becomes ``match: {text_any}`` and ``phrase_match`` without slop
  ``match: {phrase}``, both tokenized alike in Shoal (``shoal.filters.text``); on a Qdrant
  server whose key has a text index without ``phrase_matching``, ``phrase`` finds nothing;
- keys with characters other than letters, digits, ``_`` and ``-`` (Qdrant's key syntax), and
  integers a 64-bit float cannot hold exactly (Qdrant's range bounds are floats).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from shoal import models as m
from shoal.errors import InvalidFilter
from shoal.filters import tree as t
from shoal.filters.bind import Spans, bind
from shoal.filters.expression import parse_syntax
from shoal.filters.lexer import fail

# A conjunction of conditions: the empty list is "always true".
Conj = list[m.Condition]

# Matches nothing: a point id is never in the empty list.
_FALSE: Conj = [m.HasIdCondition(has_id=[])]

_RANGE_FIELD = {"gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}


def _as_condition(conj: Conj) -> m.Condition:
    if len(conj) == 1:
        return conj[0]
    return m.Filter(must=conj) if conj else m.Filter()


def _field(key: str, **kwargs: Any) -> m.Condition:
    return m.FieldCondition(key=key, **kwargs)


def _scalar_guard(key: str) -> Conj:
    """Holds for a scalar, and for arrays whose elements no comparison can match."""
    return [
        _field(key, values_count=m.ValuesCount(lt=2)),
        m.IsEmptyCondition(is_empty=m.PayloadField(key=f"{key}[0]")),
    ]


def _array_guard(key: str) -> m.Condition:
    """The negation of the scalar guard: an array with 2+ elements or a non-empty first one."""
    return m.Filter(
        should=[
            _field(key, values_count=m.ValuesCount(gte=2)),
            m.Filter(must_not=[m.IsEmptyCondition(is_empty=m.PayloadField(key=f"{key}[0]"))]),
        ]
    )


def _like_literal(pattern: str) -> str | None:
    """The text a wildcard-free ``like`` pattern matches, or None if it has a wildcard."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
            continue
        if ch in "%_":
            return None
        out.append(ch)
        i += 1
    return "".join(out)


def _length_interval(bounds: list[tuple[str, float]]) -> tuple[int, float]:
    """The integers ``n`` with ``n <op> v`` for every bound, as ``[low, high]``."""
    low: int = 0
    high: float = math.inf
    for op, v in bounds:
        if op == "gt":
            low = max(low, math.floor(v) + 1)
        elif op == "ge":
            low = max(low, math.ceil(v))
        elif op == "lt":
            high = min(high, math.ceil(v) - 1)
        elif op == "le":
            high = min(high, math.floor(v))
        elif op == "eq":
            if v != math.floor(v):
                return 1, 0  # no integer length equals 2.5: an empty interval
            low, high = max(low, int(v)), min(high, v)
        else:  # ne: every length but one, which always leaves 0 or 1 in
            return 0, math.inf
    return low, high


def _dedupe(conj: Conj) -> Conj:
    # Comparisons on one key repeat its scalar guard; keep each condition once.
    seen: dict[str, m.Condition] = {}
    for cond in conj:
        seen.setdefault(repr(cond), cond)
    return list(seen.values())


def _disjunction(parts: list[Conj]) -> Conj:
    # (a and g) or (b and g) is (a or b) and g: options on one key share its scalar guard.
    keyed = [{repr(cond): cond for cond in part} for part in parts]
    common = set(keyed[0]).intersection(*keyed[1:])
    if not common or any(len(k) == len(common) for k in keyed):
        return [m.Filter(should=[_as_condition(part) for part in parts])]
    options = [_as_condition([c for r, c in k.items() if r not in common]) for k in keyed]
    return [m.Filter(should=options), *(c for r, c in keyed[0].items() if r in common)]


class _Converter:
    __slots__ = ("spans", "text")

    def __init__(self, text: str, spans: Spans) -> None:
        self.text = text
        self.spans = spans

    def refuse(self, span: tuple[int, int], construct: str, why: str) -> InvalidFilter:
        start, end = span
        return fail(
            f"cannot convert `{self.text[start:end]}` ({construct}) to a Qdrant filter: {why}",
            self.text,
            start,
        )

    def key(self, path: t.Path, span: tuple[int, int]) -> str:
        for step in path:
            if isinstance(step, str) and not (
                step and all(ch.isalnum() or ch in "_-" for ch in step)
            ):
                raise self.refuse(
                    span,
                    f"key {step!r}",
                    "Qdrant keys are made of letters, digits, `_` and `-`",
                )
        return t.format_key(path)

    def number(self, value: int | float, span: tuple[int, int]) -> float:
        as_float = float(value)
        if as_float != value:
            raise self.refuse(
                span,
                f"integer {value}",
                "Qdrant range bounds are 64-bit floats, which cannot hold it exactly",
            )
        return as_float

    def equals(self, key: str, value: Any, span: tuple[int, int], construct: str) -> m.Condition:
        """Some value at ``key`` (Qdrant: any element) equals the scalar ``value``."""
        if isinstance(value, (bool, str)):
            return _field(key, match=m.MatchValue(value=value))
        if isinstance(value, (int, float)):
            f = self.number(value, span)
            return _field(key, range=m.Range(gte=f, lte=f))
        raise self.refuse(
            span, construct, f"Qdrant matches numbers, strings and bools, not {value!r}"
        )

    # ------------------------------------------------------------------ dispatch

    def convert(self, node: t.Node, span: tuple[int, int]) -> Conj:
        span = self.spans.get(id(node), span)
        if isinstance(node, t.And):
            out: Conj = []
            for item in node.items:
                out.extend(self.convert(item, span))
            return _dedupe(out)
        if isinstance(node, t.Or):
            parts = [self.convert(item, span) for item in node.items]
            if any(not part for part in parts):
                return []
            return _disjunction(parts)
        if isinstance(node, t.Not):
            inner = self.convert(node.item, span)
            return [m.Filter(must_not=[_as_condition(inner)])] if inner else list(_FALSE)
        if isinstance(node, t.Const):
            return [] if node.value else list(_FALSE)
        leaf = _LEAVES.get(type(node))
        if leaf is None:
            raise self.refuse(span, type(node).__name__, "not a construct of expressions")
        return leaf(self, node, span)

    # ------------------------------------------------------------------ leaves

    def cmp(self, node: t.Cmp, span: tuple[int, int]) -> Conj:
        if node.arith is not None:
            return self.arith(node.path, node.arith, [(node.op, node.value)], span)
        key, value, op = self.key(node.path, span), node.value, node.op
        if isinstance(value, bool):
            if op not in ("eq", "ne"):
                raise self.refuse(span, "ordering booleans", "booleans have no order")
            wanted = value if op == "eq" else not value
            return [self.equals(key, wanted, span, "comparison"), *_scalar_guard(key)]
        if isinstance(value, str):
            if op == "ne":
                raise self.refuse(
                    span,
                    "`!=` or `not in` on a string",
                    "Milvus matches only string values here, and no Qdrant condition tells "
                    "a string from an object (`match: {except}` accepts both)",
                )
            if op != "eq":
                raise self.refuse(span, "ordering strings", "Qdrant ranges compare numbers only")
            return [self.equals(key, value, span, "comparison"), *_scalar_guard(key)]
        if not isinstance(value, (int, float)):
            raise self.refuse(span, "comparison with a list", "Qdrant compares single values")
        f = self.number(value, span)
        if op == "eq":
            cond = _field(key, range=m.Range(gte=f, lte=f))
        elif op == "ne":
            cond = m.Filter(
                should=[_field(key, range=m.Range(lt=f)), _field(key, range=m.Range(gt=f))]
            )
        else:
            cond = _field(key, range=m.Range(**{_RANGE_FIELD[op]: f}))
        return [cond, *_scalar_guard(key)]

    def range(self, node: t.Range, span: tuple[int, int]) -> Conj:
        given = [
            (op, b)
            for op, b in (("gt", node.gt), ("ge", node.gte), ("lt", node.lt), ("le", node.lte))
            if b is not None
        ]
        if node.arith is not None:
            return self.arith(node.path, node.arith, given, span)
        key = self.key(node.path, span)
        bounds: dict[str, float] = {}
        for op, b in given:
            if isinstance(b, bool) or not isinstance(b, (int, float)):
                raise self.refuse(span, "a range of strings", "Qdrant ranges compare numbers only")
            bounds[_RANGE_FIELD[op]] = self.number(b, span)
        return [_field(key, range=m.Range(**bounds)), *_scalar_guard(key)]

    def arith(
        self, path: t.Path, arith: t.Arith, bounds: list[tuple[str, Any]], span: tuple[int, int]
    ) -> Conj:
        if arith.op != "len":
            raise self.refuse(span, "arithmetic", "Qdrant filters cannot compute on values")
        low, high = _length_interval(bounds)
        if low > high:
            return list(_FALSE)
        if low < 2:
            raise self.refuse(
                span,
                "array_length including 0 or 1",
                "Qdrant's values_count counts a missing key as 0 values and a single value "
                "as 1, so it cannot tell them from arrays of length 0 or 1",
            )
        count = m.ValuesCount(gte=low, lte=None if high == math.inf else int(high))
        return [_field(self.key(path, span), values_count=count)]

    def in_list(self, node: t.In, span: tuple[int, int]) -> Conj:
        key = self.key(node.path, span)
        strings = sorted({v for v in node.values if isinstance(v, str)})
        numbers = sorted({v for v in node.values if type(v) in (int, float)})
        flags = sorted({v for v in node.values if isinstance(v, bool)})
        options: list[m.Condition] = []
        if strings:
            options.append(_field(key, match=m.MatchAny(any=strings)))
        options.extend(self.equals(key, v, span, "`in`") for v in [*numbers, *flags])
        if not options:
            return list(_FALSE)
        cond = options[0] if len(options) == 1 else m.Filter(should=options)
        return [cond, *_scalar_guard(key)]

    def like(self, node: t.Like, span: tuple[int, int]) -> Conj:
        literal = _like_literal(node.pattern)
        if literal is None:
            raise self.refuse(
                span,
                "`like` with a wildcard",
                "Shoal's filter model has no prefix or pattern match (Qdrant's full-text "
                "`match: {text}` matches words, not patterns)",
            )
        key = self.key(node.path, span)
        return [_field(key, match=m.MatchValue(value=literal)), *_scalar_guard(key)]

    def null_test(self, node: t.IsNull | t.Exists, span: tuple[int, int]) -> Conj:
        raise self.refuse(
            span,
            "a null test",
            "it tells a missing key from an empty array `[]`, which no Qdrant condition "
            "does (is_empty matches both, is_null neither)",
        )

    def full_text(self, node: t.FullText, span: tuple[int, int]) -> Conj:
        key = self.key(node.path, span)
        match: m.Match
        if node.mode == "any":
            match = m.MatchTextAny(text_any=node.query)
        elif node.slop == 0:
            match = m.MatchPhrase(phrase=node.query)
        else:
            raise self.refuse(
                span,
                "phrase_match with a slop",
                "Qdrant's phrase match takes the words consecutively, with no slop",
            )
        return [_field(key, match=match), *_scalar_guard(key)]

    def contains(self, node: t.Contains, span: tuple[int, int]) -> Conj:
        key = self.key(node.path, span)
        construct = "looking for a list or object in an array"
        if node.mode == "all" and not node.values:
            raise self.refuse(
                span,
                "contains all of an empty list",
                "it holds for any array, even `[]`, which Qdrant cannot tell from a missing key",
            )
        conds = [self.equals(key, v, span, construct) for v in node.values]
        if not conds:
            return list(_FALSE)
        if node.mode == "any" and len(conds) > 1:
            conds = [m.Filter(should=conds)]
        return [*conds, _array_guard(key)]


_LEAVES: dict[type, Callable[[_Converter, Any, tuple[int, int]], Conj]] = {
    t.Cmp: _Converter.cmp,
    t.Range: _Converter.range,
    t.In: _Converter.in_list,
    t.Like: _Converter.like,
    t.IsNull: _Converter.null_test,
    t.Exists: _Converter.null_test,
    t.Contains: _Converter.contains,
    t.FullText: _Converter.full_text,
}


def to_qdrant_filter(expr: str, params: Mapping[str, Any] | None = None) -> m.Filter:
    """The structured ``Filter`` equivalent to a Milvus-style expression.

    Equivalent means: under Qdrant's semantics (any-element matching, ``must_not`` as plain
    negation) the filter matches exactly the payloads the expression matches under Milvus's,
    whatever their values (arrays, objects, nulls and missing keys included). The module
    docstring lists the conditions added to keep that and the constructs refused.

    Args:
        expr: the expression.
        params: values for its ``{name}`` templates.

    Returns:
        The structured filter (``Filter()`` matches everything; ``has_id: []`` nothing).

    Raises:
        InvalidFilter: the expression is invalid, or uses a construct that has no exact
            structured equivalent; the message quotes the construct and says why.
    """
    if not isinstance(expr, str):
        raise InvalidFilter(f"expected an expression string, got {type(expr).__name__}")
    spans: Spans = {}
    node = bind(parse_syntax(expr), expr, params or {}, spans)
    conj = _Converter(expr, spans).convert(node, (0, len(expr)))
    if len(conj) == 1 and isinstance(conj[0], m.Filter):
        return conj[0]
    return m.Filter(must=conj) if conj else m.Filter()


__all__ = ["to_qdrant_filter"]
