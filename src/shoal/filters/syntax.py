"""The syntax tree of a parsed expression, before parameters are bound.

The parser (``shoal.filters.expression``) builds it and caches it by text; the binder
(``shoal.filters.bind``) turns it, with the parameter values, into the filter tree. Nodes are
named tuples because a parse builds dozens of them and tuples are the cheapest immutable
objects Python creates. ``start``/``end`` are offsets into the expression text (the span an
error quotes); ``op_pos`` is where the operator or keyword stands (where a caret points).
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Union

from shoal.filters.tree import Path, Scalar


class Field(NamedTuple):
    """A payload key: ``name``, ``meta["a"][0]``, ``$meta["k"]``."""

    path: Path
    start: int
    end: int


class Lit(NamedTuple):
    value: Scalar
    start: int
    end: int


class Null(NamedTuple):
    start: int
    end: int


class ListLit(NamedTuple):
    items: tuple[Expr, ...]
    start: int
    end: int


class Param(NamedTuple):
    """A ``{name}`` template, bound to a value from ``params`` (never spliced into text)."""

    name: str
    start: int
    end: int


class Arith(NamedTuple):
    op: str  # one of + - * / %
    left: Expr
    right: Expr
    op_pos: int
    start: int
    end: int


class Call(NamedTuple):
    name: str  # lowercase function name
    args: tuple[Expr, ...]
    start: int
    end: int


class Compare(NamedTuple):
    op: str  # one of == != < <= > >=
    left: Expr
    right: Expr
    op_pos: int
    start: int
    end: int


class Chain(NamedTuple):
    """``lo op1 mid op2 hi`` with both operators pointing the same way."""

    lo: Expr
    op1: str
    mid: Expr
    op2: str
    hi: Expr
    op_pos: int
    start: int
    end: int


class InList(NamedTuple):
    left: Expr
    right: Expr
    negated: bool
    op_pos: int
    start: int
    end: int


class Like(NamedTuple):
    left: Expr
    pattern: Expr
    op_pos: int
    start: int
    end: int


class IsNull(NamedTuple):
    operand: Expr
    negated: bool
    op_pos: int
    start: int
    end: int


class And(NamedTuple):
    items: tuple[Expr, ...]
    start: int
    end: int


class Or(NamedTuple):
    items: tuple[Expr, ...]
    start: int
    end: int


class Not(NamedTuple):
    item: Expr
    start: int
    end: int


Expr = Union[
    Field,
    Lit,
    Null,
    ListLit,
    Param,
    Arith,
    Call,
    Compare,
    Chain,
    InList,
    Like,
    IsNull,
    And,
    Or,
    Not,
]

# Functions that are conditions themselves, and the one that yields a value to compare.
CONTAINS_FUNCTIONS: dict[str, Literal["one", "all", "any"]] = {
    "json_contains": "one",
    "array_contains": "one",
    "json_contains_all": "all",
    "array_contains_all": "all",
    "json_contains_any": "any",
    "array_contains_any": "any",
}
VALUE_FUNCTIONS = {"array_length": 1}
# Full-text conditions: text_match(key, 'words'), phrase_match(key, 'phrase'[, slop]).
TEXT_FUNCTIONS: dict[str, tuple[int, ...]] = {"text_match": (2,), "phrase_match": (2, 3)}
# The numbers of arguments each function takes.
FUNCTION_ARITY: dict[str, tuple[int, ...]] = {
    **dict.fromkeys(CONTAINS_FUNCTIONS, (2,)),
    **{name: (n,) for name, n in VALUE_FUNCTIONS.items()},
    **TEXT_FUNCTIONS,
}

_CONDITION_TYPES = frozenset({Compare, Chain, InList, Like, IsNull, And, Or, Not})


def is_condition(node: Expr) -> bool:
    """Whether ``node`` is true or false by itself (as opposed to a value to compare)."""
    kind = type(node)
    return kind in _CONDITION_TYPES or (
        isinstance(node, Call) and (node.name in CONTAINS_FUNCTIONS or node.name in TEXT_FUNCTIONS)
    )
