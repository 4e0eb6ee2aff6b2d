"""Bind an expression's syntax tree to its parameters and type-check it into the filter tree.

The parser only checks the shape of the text; everything that depends on a value (a
template's, or a literal's type) is checked here, so an error about ``{cats}`` not being a
list points at ``{cats}`` in the text just like a syntax error would.

Leaves get Milvus's meaning (see ``shoal.filters.tree``): ``any_element`` stays False, ``is
null`` lets a missing key match, and ``not in`` needs a present value of a listed kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from shoal.errors import InvalidFilter
from shoal.filters import syntax as s
from shoal.filters import tree as t
from shoal.filters.lexer import INT_MAX, INT_MIN, fail

_CMP_OPS: dict[str, t.CmpOp] = {
    "==": "eq",
    "!=": "ne",
    "<": "lt",
    "<=": "le",
    ">": "gt",
    ">=": "ge",
}
# `5 < x` is `x > 5`.
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_ARITH_OPS: dict[str, t.ArithOp] = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod"}
_COMMUTATIVE = frozenset({"+", "*"})

# Spans of the tree nodes built from each syntax node, keyed by ``id(node)``; the converter
# asks for them to quote the user's own text when it refuses a construct.
Spans = dict[int, tuple[int, int]]


def _kind_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class _Binder:
    __slots__ = ("params", "spans", "text")

    def __init__(self, text: str, params: Mapping[str, Any], spans: Spans | None) -> None:
        self.text = text
        self.params = params
        self.spans = spans

    def error(self, message: str, pos: int) -> InvalidFilter:
        return fail(message, self.text, pos)

    def snippet(self, node: s.Expr) -> str:
        return self.text[node.start : node.end]

    # ------------------------------------------------------------------ constants

    def const(self, node: s.Expr) -> Any:
        """A literal, list or template value; anything else is an error."""
        if isinstance(node, s.Lit):
            return node.value
        if isinstance(node, s.ListLit):
            return [self.const(item) for item in node.items]
        if isinstance(node, s.Param):
            return self.param(node)
        if isinstance(node, s.Null):
            raise self.error("null is not a value to compare with: use `is null`", node.start)
        raise self.error(f"expected a constant, got `{self.snippet(node)}`", node.start)

    def param(self, node: s.Param) -> Any:
        if node.name not in self.params:
            raise self.error(f"missing parameter `{node.name}`", node.start)
        return self.json_value(self.params[node.name], node)

    def json_value(self, value: Any, node: s.Param) -> Any:
        if isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            if not INT_MIN <= value <= INT_MAX:
                raise self.error(
                    f"parameter `{node.name}`: integer {value} is out of the 64-bit range",
                    node.start,
                )
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.error(
                    f"parameter `{node.name}`: {value} is not a finite number", node.start
                )
            return value
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.json_value(v, node) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {k: self.json_value(v, node) for k, v in value.items()}
        if value is None:
            raise self.error(
                f"parameter `{node.name}` is None: test for null with `is null`", node.start
            )
        raise self.error(
            f"parameter `{node.name}` has unsupported type {type(value).__name__}: expected "
            "a bool, number, string or a list of them",
            node.start,
        )

    def scalar_list(self, node: s.Expr, what: str) -> tuple[t.Scalar, ...]:
        values = self.const(node)
        if not isinstance(values, list):
            raise self.error(
                f"{what} needs a list, got {_kind_name(values)} ({_show(values)})", node.start
            )
        for v in values:
            if not isinstance(v, (bool, int, float, str)):
                raise self.error(
                    f"{what} needs a list of numbers, strings or bools, got {_kind_name(v)} "
                    f"({_show(v)})",
                    node.start,
                )
        return tuple(values)

    # ------------------------------------------------------------------ operands

    def key(self, node: s.Expr, what: str) -> t.Path:
        """A plain payload key (no arithmetic): the left side of ``in``/``like``/``is``."""
        if isinstance(node, s.Field):
            return node.path
        raise self.error(f"{what} needs a payload key, got `{self.snippet(node)}`", node.start)

    def operand(self, node: s.Expr) -> tuple[t.Path, t.Arith | None] | None:
        """A key, ``key OP number`` or ``array_length(key)``; None for a constant."""
        if isinstance(node, s.Field):
            return node.path, None
        if isinstance(node, s.Arith):
            return self.arith(node)
        if isinstance(node, s.Call) and node.name in s.VALUE_FUNCTIONS:
            return self.key(node.args[0], "array_length"), t.Arith("len")
        return None

    def arith(self, node: s.Arith) -> tuple[t.Path, t.Arith]:
        op, left, right = node.op, node.left, node.right
        if isinstance(left, s.Field) and self.operand(right) is None:
            field, const = left, right
        elif isinstance(right, s.Field) and self.operand(left) is None:
            if op not in _COMMUTATIVE:
                raise self.error(
                    f"put the payload key on the left of `{op}` (`key {op} number`)",
                    node.op_pos,
                )
            field, const = right, left
        else:
            raise self.error(
                f"`{self.snippet(node)}`: arithmetic takes one payload key and one number "
                "(one operation per comparison)",
                node.start,
            )
        k = self.const(const)
        if isinstance(k, bool) or not isinstance(k, (int, float)):
            raise self.error(
                f"arithmetic `{op}` needs a number, got {_kind_name(k)} ({_show(k)})",
                const.start,
            )
        if op in "/%" and k == 0:
            raise self.error(f"division by zero in `{self.snippet(node)}`", const.start)
        return field.path, t.Arith(_ARITH_OPS[op], k)

    def compared_value(self, value: Any, op: str, arith: t.Arith | None, at: s.Expr) -> t.Scalar:
        if isinstance(value, list):
            raise self.error(
                f"`{op}` compares with one value, got a list: use `in` for a list of values",
                at.start,
            )
        if isinstance(value, dict):
            raise self.error(f"`{op}` cannot compare with an object", at.start)
        if arith is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                what = "array_length(...)" if arith.op == "len" else "arithmetic"
                raise self.error(
                    f"{what} gives a number, it cannot compare with {_kind_name(value)} "
                    f"({_show(value)})",
                    at.start,
                )
        elif isinstance(value, bool) and op not in ("==", "!="):
            raise self.error(f"`{op}` cannot order booleans", at.start)
        result: t.Scalar = value
        return result

    # ------------------------------------------------------------------ conditions

    def cond(self, node: s.Expr) -> t.Node:
        build = _BUILDERS.get(type(node))
        if build is None:  # the parser only lets conditions reach here
            raise self.error(f"expected a condition, got `{self.snippet(node)}`", node.start)
        result = build(self, node)
        if self.spans is not None:
            self.spans[id(result)] = (node.start, node.end)
        return result

    def compare(self, node: s.Compare) -> t.Node:
        left, right = self.operand(node.left), self.operand(node.right)
        op, const = node.op, node.right
        if left is None:
            if right is None:
                raise self.error(
                    f"`{self.snippet(node)}` compares two constants: one side must be a "
                    "payload key",
                    node.start,
                )
            left, op, const = right, _MIRROR[op], node.left
        elif right is not None:
            raise self.error(
                f"`{self.snippet(node)}` compares two payload keys: one side must be a constant",
                node.op_pos,
            )
        path, arith = left
        value = self.compared_value(self.const(const), op, arith, const)
        return t.Cmp(path, _CMP_OPS[op], value, arith=arith)

    def chain(self, node: s.Chain) -> t.Node:
        middle = self.operand(node.mid)
        if middle is None or self.operand(node.lo) or self.operand(node.hi):
            raise self.error(
                f"`{self.snippet(node)}`: a chained comparison needs constants on both ends "
                "and a payload key in the middle",
                node.start,
            )
        path, arith = middle
        low = self.compared_value(self.const(node.lo), node.op1, arith, node.lo)
        high = self.compared_value(self.const(node.hi), node.op2, arith, node.hi)
        if _kind_name(low) != _kind_name(high):
            raise self.error(
                f"`{self.snippet(node)}` bounds a range with {_kind_name(low)} and "
                f"{_kind_name(high)}",
                node.start,
            )
        # `low < x < high` and `high > x > low` name the same range.
        ascending = node.op1 in ("<", "<=")
        lower, upper = (low, high) if ascending else (high, low)
        lower_strict = node.op1 == "<" if ascending else node.op2 == ">"
        upper_strict = node.op2 == "<" if ascending else node.op1 == ">"
        return t.Range(
            path,
            gt=lower if lower_strict else None,
            gte=None if lower_strict else lower,
            lt=upper if upper_strict else None,
            lte=None if upper_strict else upper,
            arith=arith,
        )

    def in_list(self, node: s.InList) -> t.Node:
        word = "`not in`" if node.negated else "`in`"
        path = self.key(node.left, word)
        values = self.scalar_list(node.right, word)
        if not node.negated:
            return t.In(path, values)
        if not values:
            return t.Exists(path)
        # Milvus's `not in` needs a present value of a kind the list holds: `ne` against one
        # representative per kind checks the kind, `Not(In)` checks the value.
        reps: dict[str, t.Scalar] = {}
        for v in values:
            reps.setdefault(_kind_name(v), v)
        kinds = [t.Cmp(path, "ne", v) for v in reps.values()]
        kind_ok: t.Node = kinds[0] if len(kinds) == 1 else t.Or(tuple(kinds))
        return t.And((kind_ok, t.Not(t.In(path, values))))

    def like(self, node: s.Like) -> t.Node:
        path = self.key(node.left, "`like`")
        pattern = self.const(node.pattern)
        if not isinstance(pattern, str):
            raise self.error(
                f"`like` needs a string pattern, got {_kind_name(pattern)} ({_show(pattern)})",
                node.pattern.start,
            )
        return t.Like(path, pattern)

    def is_null(self, node: s.IsNull) -> t.Node:
        path = self.key(node.operand, "`is null`")
        return t.Exists(path) if node.negated else t.IsNull(path, missing_matches=True)

    def call(self, node: s.Call) -> t.Node:
        if node.name in s.TEXT_FUNCTIONS:
            return self.text_call(node)
        mode = s.CONTAINS_FUNCTIONS[node.name]
        path = self.key(node.args[0], f"the first argument of {node.name}")
        arg = node.args[1]
        value = self.const(arg)
        if mode == "one":
            return t.Contains(path, (value,), "one")
        if not isinstance(value, list):
            raise self.error(
                f"{node.name} needs a list as its second argument, got {_kind_name(value)} "
                f"({_show(value)})",
                arg.start,
            )
        return t.Contains(path, tuple(value), mode)

    def text_call(self, node: s.Call) -> t.Node:
        """``text_match(key, 'words')`` / ``phrase_match(key, 'phrase'[, slop])``."""
        path = self.key(node.args[0], f"the first argument of {node.name}")
        text = self.const(node.args[1])
        if not isinstance(text, str):
            raise self.error(
                f"{node.name} needs a string as its second argument, got {_kind_name(text)} "
                f"({_show(text)})",
                node.args[1].start,
            )
        slop = 0
        if len(node.args) == 3:
            slop = self.const(node.args[2])
            if isinstance(slop, bool) or not isinstance(slop, int) or slop < 0:
                raise self.error(
                    f"phrase_match needs an integer slop >= 0, got {_show(slop)}",
                    node.args[2].start,
                )
        mode: t.TextMode = "any" if node.name == "text_match" else "phrase"
        return t.FullText(path, text, mode, slop=slop, any_element=False, qdrant=False)

    def junction(self, node: s.And | s.Or) -> t.Node:
        items = tuple(self.cond(item) for item in node.items)
        return t.And(items) if isinstance(node, s.And) else t.Or(items)

    def negation(self, node: s.Not) -> t.Node:
        return t.Not(self.cond(node.item))


_BUILDERS: dict[type, Callable[[_Binder, Any], t.Node]] = {
    s.Compare: _Binder.compare,
    s.Chain: _Binder.chain,
    s.InList: _Binder.in_list,
    s.Like: _Binder.like,
    s.IsNull: _Binder.is_null,
    s.Call: _Binder.call,
    s.And: _Binder.junction,
    s.Or: _Binder.junction,
    s.Not: _Binder.negation,
}


def bind(node: s.Expr, text: str, params: Mapping[str, Any], spans: Spans | None = None) -> t.Node:
    """Turn a parsed expression into the filter tree, binding ``{name}`` templates.

    Args:
        node: the syntax tree from ``parse_syntax(text)``.
        text: the expression text (quoted with a caret in errors).
        params: template values by name; names the text does not use are ignored.
        spans: when given, filled with ``id(tree node) -> (start, end)`` of its source text.

    Returns:
        The filter tree with Milvus's semantics.

    Raises:
        InvalidFilter: a missing or ill-typed parameter, or a type mismatch between an
            operator and its operands.
    """
    return _Binder(text, params, spans).cond(node)
