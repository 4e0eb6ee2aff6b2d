"""Milvus-style filter expressions: a hand-written Pratt parser and the parse cache.

The language (Milvus's boolean expressions, as LangChain and Milvus users write them)::

    category in ['cat_1', 'cat_2'] and 10 < price <= 100
    not (meta["lang"] == 'en') || title like 'Intro%'
    json_contains_any(tags, {wanted}) && n % 2 == 0 && score is not null

- comparisons ``== != < <= > >=``, chained ranges (``10 < x <= 100``, ``100 >= x > 10``);
  ``in`` / ``not in`` a list; ``like`` with ``%`` (any run) and ``_`` (one character);
  ``is null`` / ``is not null``;
- ``and``/``&&``, ``or``/``||``, ``not``/``!`` (keywords in any letter case), parentheses;
- integers, floats (``1e3``, ``-2.5``), strings in single or double quotes with backslash
  escapes (``\\n \\t \\r \\\\ \\' \\" \\uXXXX``; other escapes keep their backslash so
  ``like 'a\\%'`` matches a literal ``a%``), ``true``/``false`` in any letter case, lists;
- payload keys: ``name``, ``meta["a"]["b"]``, ``arr[0]``, ``$meta["k"]`` (just key ``k``;
  also the way to name a key spelled like a keyword: ``$meta["in"]``);
- functions ``json_contains``, ``json_contains_all``, ``json_contains_any``,
  ``array_contains``, ``array_contains_all``, ``array_contains_any``, ``array_length``;
- full-text conditions ``text_match(key, 'words')`` (the string has any of the words) and
  ``phrase_match(key, 'phrase'[, slop])`` (``shoal.filters.text``);
- one arithmetic operation between a key and a number before a comparison
  (``n % 2 == 0``, ``n * 2 <= 6``; ``/`` is true division, ``%`` keeps the dividend's sign
  as in Milvus's C++);
- ``{name}`` templates, bound from ``params`` as values (never spliced into the text): a
  template stands for a scalar or a list (``category in {cats}``).

Semantics are Milvus's (see DESIGN "Filter semantics"): a comparison with a missing key or
null is false; ``!=`` and ``not in`` need a present value of the compared kind; ``not`` is
plain negation; ``is null`` matches a missing key or a null value; bool is its own kind and
a string never equals a number; comparisons see the value itself, not array elements.

Parsing is cached by text (LRU): a repeat without params returns the cached tree; with
params the cached syntax tree is bound to the new values, so templates cost one bind.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Generic, TypeVar

from shoal.errors import InvalidFilter
from shoal.filters import syntax as s
from shoal.filters.bind import bind
from shoal.filters.lexer import EOF, KW, NAME, NUM, OP, PARAM, STR, Token, fail, tokenize
from shoal.filters.tree import Node, PathStep

T = TypeVar("T")

# Nesting beyond this (parentheses, `not`, lists, calls) is refused before Python's own
# recursion limit could turn it into a RecursionError.
MAX_DEPTH = 100
# Longer texts are refused before they are read. Parsing is linear but runs in Python at
# ~1 µs per character (a 256 KiB text takes ~0.3 s), and no deadline interrupts it; a
# hand-written or generated filter is a few hundred characters, and long lists belong in
# `{name}` templates or in a structured MatchAny.
MAX_LENGTH = 256 << 10
CACHE_SIZE = 1024
# Longer texts are parsed every time instead of cached: the caches hold CACHE_SIZE entries
# each, which must not become a gigabyte of someone's one-off expressions.
CACHE_MAX_LENGTH = 16 << 10

_OR_BP, _AND_BP, _NOT_BP, _CMP_BP, _SUM_BP, _PRODUCT_BP, _UNARY_BP = 10, 20, 25, 30, 40, 50, 60
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_ASCENDING, _DESCENDING = frozenset({"<", "<="}), frozenset({">", ">="})
_OP_BP = {
    **dict.fromkeys(_COMPARISONS, _CMP_BP),
    "+": _SUM_BP,
    "-": _SUM_BP,
    "*": _PRODUCT_BP,
    "/": _PRODUCT_BP,
    "%": _PRODUCT_BP,
}
# `not` binds as an infix operator only in `x not in [...]`; as a prefix it is _NOT_BP.
_KW_BP = {
    "or": _OR_BP,
    "and": _AND_BP,
    "in": _CMP_BP,
    "not": _CMP_BP,
    "like": _CMP_BP,
    "is": _CMP_BP,
}


class _Parser:
    __slots__ = ("depth", "i", "text", "tokens")

    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise InvalidFilter(
                f"expression of {len(text)} characters is longer than the limit of "
                f"{MAX_LENGTH}; pass long lists as {{name}} templates"
            )
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # ------------------------------------------------------------------ helpers

    def _describe(self, tok: Token) -> str:
        if tok.kind == EOF:
            return "the end of the expression"
        return f"`{self.text[tok.pos : tok.end]}`"

    def _error(self, message: str, pos: int) -> InvalidFilter:
        return fail(message, self.text, pos)

    def _take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _expect_op(self, op: str, what: str) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != OP or tok.value != op:
            raise self._error(f"expected `{op}` {what}, got {self._describe(tok)}", tok.pos)
        self.i += 1
        return tok

    def _enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(f"expression nested more than {MAX_DEPTH} levels deep", pos)

    # `where` and `tok` say where the operand stands ("after", `and`); they are only
    # formatted into a message when the check fails, which keeps the happy path cheap.
    def _place(self, where: str, tok: Token | None) -> str:
        return f"{where} {self._describe(tok)}" if tok is not None else where

    def _value(self, node: s.Expr, where: str, tok: Token | None = None) -> s.Expr:
        if s.is_condition(node):
            raise self._error(
                f"expected a value {self._place(where, tok)}, got a condition", node.start
            )
        return node

    def _condition(self, node: s.Expr, where: str, tok: Token | None = None) -> s.Expr:
        if not s.is_condition(node):
            snippet = self.text[node.start : node.end]
            raise self._error(
                f"expected a condition {self._place(where, tok)}, got the value `{snippet}`",
                node.start,
            )
        return node

    # ------------------------------------------------------------------ Pratt core

    def parse(self) -> s.Expr:
        if self.tokens[0].kind == EOF:
            raise self._error("empty expression: expected a condition", 0)
        node = self._condition(self.expr(0), "here")
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            raise self._error(
                f"unexpected {self._describe(tok)}: expected `and`, `or` or the end", tok.pos
            )
        return node

    def expr(self, rbp: int) -> s.Expr:
        tokens = self.tokens
        tok = tokens[self.i]
        self.i += 1
        left = self._nud(tok)
        while True:
            tok = tokens[self.i]
            if tok.kind == OP:
                lbp = _OP_BP.get(tok.value, 0)
            elif tok.kind == KW:
                lbp = _KW_BP.get(tok.value, 0)
            else:
                lbp = 0
            if lbp <= rbp:
                return left
            self.i += 1
            left = self._led(tok, left, lbp)

    # ------------------------------------------------------------------ prefix position

    def _nud(self, tok: Token) -> s.Expr:
        kind, value = tok.kind, tok.value
        if kind in (NUM, STR):
            return s.Lit(value, tok.pos, tok.end)
        if kind == NAME:
            nxt = self.tokens[self.i]
            if nxt.kind == OP and nxt.value == "(":
                return self._call(tok)
            return self._field(tok)
        if kind == PARAM:
            return s.Param(value, tok.pos, tok.end)
        if kind == KW:
            if value == "true" or value == "false":
                return s.Lit(value == "true", tok.pos, tok.end)
            if value == "null":
                return s.Null(tok.pos, tok.end)
            if value == "not":
                self._enter(tok.pos)
                item = self._condition(self.expr(_NOT_BP), "after", tok)
                self.depth -= 1
                return s.Not(item, tok.pos, item.end)
        elif kind == OP:
            if value == "(":
                self._enter(tok.pos)
                inner = self.expr(0)
                self._expect_op(")", "to close the `(`")
                self.depth -= 1
                return inner
            if value == "[":
                return self._list(tok)
            if value == "-":
                return self._negative(tok)
        raise self._error(
            f"unexpected {self._describe(tok)}: expected a value or a condition", tok.pos
        )

    def _negative(self, tok: Token) -> s.Expr:
        self._enter(tok.pos)
        operand = self.expr(_UNARY_BP)
        self.depth -= 1
        number = operand.value if isinstance(operand, s.Lit) else None
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            value = -number
            if isinstance(value, int) and value < -(2**63):
                raise self._error(f"integer {value} is out of the 64-bit range", tok.pos)
            return s.Lit(value, tok.pos, operand.end)
        raise self._error("unary `-` applies to number literals only", tok.pos)

    def _list(self, tok: Token) -> s.Expr:
        self._enter(tok.pos)
        items: list[s.Expr] = []
        close = self.tokens[self.i]
        if not (close.kind == OP and close.value == "]"):
            while True:
                items.append(self._value(self.expr(_CMP_BP), "in a list"))
                sep = self._take()
                if sep.kind == OP and sep.value == "]":
                    close = sep
                    break
                if not (sep.kind == OP and sep.value == ","):
                    raise self._error(
                        f"expected `,` or `]` in a list, got {self._describe(sep)}", sep.pos
                    )
        else:
            self.i += 1
        self.depth -= 1
        return s.ListLit(tuple(items), tok.pos, close.end)

    def _field(self, tok: Token) -> s.Expr:
        name: str = tok.value
        path: list[PathStep] = []
        if name.startswith("$"):
            if name != "$meta":
                raise self._error(f'unknown `{name}`: only `$meta["key"]` is supported', tok.pos)
            nxt = self.tokens[self.i]
            if not (nxt.kind == OP and nxt.value == "["):
                raise self._error('`$meta` needs a key: `$meta["key"]`', nxt.pos)
        else:
            path.append(name)
        end = tok.end
        tokens = self.tokens
        while tokens[self.i].kind == OP and tokens[self.i].value == "[":
            self.i += 1
            step = self._take()
            # An index needs a key before it: `$meta[0]` names nothing.
            is_index = step.kind == NUM and type(step.value) is int and bool(path)
            if step.kind == STR or is_index:
                path.append(step.value)
            else:
                expected = "a string key" if not path else "a string key or an array index"
                raise self._error(
                    f"expected {expected} inside `[...]`, got {self._describe(step)}", step.pos
                )
            end = self._expect_op("]", "after a key or index").end
        return s.Field(tuple(path), tok.pos, end)

    def _call(self, tok: Token) -> s.Expr:
        name = tok.value.lower()
        arity = s.FUNCTION_ARITY.get(name)
        if arity is None:
            known = ", ".join(sorted(s.FUNCTION_ARITY))
            raise self._error(f"unknown function `{tok.value}`: expected one of {known}", tok.pos)
        self._enter(tok.pos)
        self.i += 1  # the `(`
        args: list[s.Expr] = []
        close = self.tokens[self.i]
        if close.kind == OP and close.value == ")":
            self.i += 1
        else:
            while True:
                args.append(self._value(self.expr(_CMP_BP), "as an argument of", tok))
                close = self._take()
                if close.kind == OP and close.value == ")":
                    break
                if not (close.kind == OP and close.value == ","):
                    raise self._error(
                        f"expected `,` or `)` in the arguments of {name}, "
                        f"got {self._describe(close)}",
                        close.pos,
                    )
        self.depth -= 1
        if len(args) not in arity:
            counts = " or ".join(str(n) for n in arity)
            plural = "argument" if arity == (1,) else "arguments"
            raise self._error(f"{name} takes {counts} {plural}, got {len(args)}", tok.pos)
        return s.Call(name, tuple(args), tok.pos, close.end)

    # ------------------------------------------------------------------ infix position

    def _led(self, tok: Token, left: s.Expr, lbp: int) -> s.Expr:
        value = tok.value
        if tok.kind == KW:
            if value == "and" or value == "or":
                return self._junction(tok, left, lbp)
            self._value(left, "before", tok)
            if value == "in":
                right = self.expr(_CMP_BP)
                return s.InList(left, right, False, tok.pos, left.start, right.end)
            if value == "not":
                nxt = self._take()
                if not (nxt.kind == KW and nxt.value == "in"):
                    raise self._error(
                        f"expected `in` after `not`, got {self._describe(nxt)}", nxt.pos
                    )
                right = self.expr(_CMP_BP)
                return s.InList(left, right, True, tok.pos, left.start, right.end)
            if value == "like":
                pattern = self.expr(_CMP_BP)
                return s.Like(left, pattern, tok.pos, left.start, pattern.end)
            return self._is_null(tok, left)
        self._value(left, "before", tok)
        if value in _COMPARISONS:
            return self._comparison(tok, left)
        right = self._value(self.expr(lbp), "after", tok)
        return s.Arith(value, left, right, tok.pos, left.start, right.end)

    def _junction(self, tok: Token, left: s.Expr, lbp: int) -> s.Expr:
        self._condition(left, "before", tok)
        word = tok.value
        cls = s.And if word == "and" else s.Or
        # `a or b or c ...` becomes one node of all its operands, read in one loop: a deep
        # left spine would need recursion, and rebuilding the node per operand is quadratic.
        items = list(left.items) if isinstance(left, cls) else [left]
        while True:
            right = self._condition(self.expr(lbp), "after", tok)
            items.append(right)
            tok = self.tokens[self.i]
            if tok.kind != KW or tok.value != word:
                return cls(tuple(items), left.start, right.end)
            self.i += 1

    def _is_null(self, tok: Token, left: s.Expr) -> s.Expr:
        nxt = self._take()
        negated = nxt.kind == KW and nxt.value == "not"
        if negated:
            nxt = self._take()
        if not (nxt.kind == KW and nxt.value == "null"):
            raise self._error(
                f"expected `null` after {self._describe(tok)}, got {self._describe(nxt)}",
                nxt.pos,
            )
        return s.IsNull(left, negated, tok.pos, left.start, nxt.end)

    def _comparison(self, tok: Token, left: s.Expr) -> s.Expr:
        op = tok.value
        right = self._value(self.expr(_CMP_BP), "after", tok)
        nxt = self.tokens[self.i]
        if not (nxt.kind == OP and nxt.value in _COMPARISONS):
            return s.Compare(op, left, right, tok.pos, left.start, right.end)
        op2 = nxt.value
        if "=" in (op[0], op2[0]) or "!" in (op[0], op2[0]):
            raise self._error(
                f"`{op}` and `{op2}` cannot be chained: combine comparisons with `and`", nxt.pos
            )
        if not (
            (op in _ASCENDING and op2 in _ASCENDING) or (op in _DESCENDING and op2 in _DESCENDING)
        ):
            raise self._error(
                f"cannot chain `{op}` with `{op2}`: a chained comparison must point one way "
                "(`a < x <= b` or `a > x >= b`)",
                nxt.pos,
            )
        self.i += 1
        high = self._value(self.expr(_CMP_BP), "after", nxt)
        after = self.tokens[self.i]
        if after.kind == OP and after.value in _COMPARISONS:
            raise self._error("at most two comparisons can be chained", after.pos)
        return s.Chain(left, op, right, op2, high, nxt.pos, left.start, high.end)


class TextCache(Generic[T]):
    """A pure function of an expression's text, LRU-cached by text for texts up to
    ``CACHE_MAX_LENGTH`` characters (longer ones are computed every time).

    Args:
        fn: the function.
    """

    def __init__(self, fn: Callable[[str], T]) -> None:
        self._fn = fn
        self._cached = lru_cache(maxsize=CACHE_SIZE)(fn)
        functools.update_wrapper(self, fn)

    def __call__(self, text: str) -> T:
        return self._cached(text) if len(text) <= CACHE_MAX_LENGTH else self._fn(text)

    def cache_info(self) -> Any:
        """The LRU cache's statistics (``functools.lru_cache``'s ``cache_info``)."""
        return self._cached.cache_info()

    def cache_clear(self) -> None:
        """Forget every cached result."""
        self._cached.cache_clear()


@TextCache
def parse_syntax(text: str) -> s.Expr:
    """Parse an expression into its syntax tree (templates unbound), cached by text.

    Args:
        text: the expression.

    Returns:
        The syntax tree; a condition.

    Raises:
        InvalidFilter: the text is not a well-formed expression (with a caret line), or
            longer than ``MAX_LENGTH`` characters.
    """
    return _Parser(text).parse()


@TextCache
def _parse_plain(text: str) -> Node:
    return bind(parse_syntax(text), text, {})


def parse_expression(text: str, params: Mapping[str, Any] | None = None) -> Node:
    """Compile a Milvus-style expression into the internal filter tree.

    Args:
        text: the expression, e.g. ``"category in ['a', 'b'] and score > 0.5"``.
        params: values for ``{name}`` templates: scalars (bool, int, float, str) or lists of
            them (lists and objects also for the json/array_contains functions).

    Returns:
        The filter tree; the same tree object for a repeated text without params.

    Raises:
        InvalidFilter: the expression is malformed (the message has the position and a
            caret line), names an unknown function, passes the wrong number of arguments,
            mixes types (``like 5``, ``in 'x'``, ``n + 'a'``, ``array_length(a) == 'x'``),
            nests deeper than ``MAX_DEPTH``, or uses a template missing from ``params``.
    """
    if not isinstance(text, str):
        raise InvalidFilter(f"expected an expression string, got {type(text).__name__}")
    if not params:
        return _parse_plain(text)
    return bind(parse_syntax(text), text, params)


def clear_cache() -> None:
    """Forget every cached parse (benchmarks use it to time cold parses)."""
    parse_syntax.cache_clear()
    _parse_plain.cache_clear()


__all__ = [
    "CACHE_MAX_LENGTH",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "TextCache",
    "clear_cache",
    "parse_expression",
    "parse_syntax",
]
