"""Malformed and ill-typed expressions raise InvalidFilter naming the problem and its place."""

from __future__ import annotations

from typing import Any

import pytest

from shoal.errors import InvalidFilter
from shoal.filters import compile_filter, parse_expression
from shoal.filters.expression import MAX_DEPTH, parse_syntax

# (expression, params, fragment the message must contain, caret position or None)
ERRORS: list[tuple[str, dict[str, Any] | None, str, int | None]] = [
    ("", None, "empty expression", 0),
    ("   ", None, "empty expression", 0),
    ("a ==", None, "unexpected the end of the expression", 4),
    ("a = 1", None, "use `==`", 2),
    ("(a == 1", None, "expected `)` to close the `(`", 7),
    ("a == 'abc", None, "unterminated string", 5),
    ('a == "abc', None, "unterminated string", 5),
    ("a == 1 b == 2", None, "unexpected `b`: expected `and`, `or` or the end", 7),
    ("a == 1 && || b == 2", None, "unexpected `||`", 10),
    ("a == 1 & b == 2", None, "use `&&`", 7),
    ("a @ 1", None, "unexpected character '@'", 2),
    ("a == {", None, "malformed template", 5),
    ("a", None, "expected a condition here, got the value `a`", 0),
    ("a == 1 and 5", None, "expected a condition after `and`, got the value `5`", 11),
    ("not 5", None, "expected a condition after `not`", 4),
    ("foo(a, 1)", None, "unknown function `foo`: expected one of array_contains", 0),
    ("array_length(a, b) > 1", None, "array_length takes 1 argument, got 2", 0),
    ("json_contains(a)", None, "json_contains takes 2 arguments, got 1", 0),
    ("json_contains(a, 1", None, "expected `,` or `)` in the arguments of json_contains", 18),
    ("array_length(a)", None, "got the value `array_length(a)`", 0),
    ("a like 5", None, "`like` needs a string pattern, got a number (5)", 7),
    ("a like {p}", {"p": 1.5}, "`like` needs a string pattern, got a number (1.5)", 7),
    ("a in 5", None, "`in` needs a list, got a number (5)", 5),
    ("a in {x}", {"x": "s"}, "`in` needs a list, got a string ('s')", 5),
    ("a not in 'x'", None, "`not in` needs a list", 9),
    ("a in [[1]]", None, "needs a list of numbers, strings or bools, got a list", 5),
    ("5 in [1]", None, "`in` needs a payload key, got `5`", 0),
    ("n + 'a' > 1", None, "arithmetic `+` needs a number, got a string ('a')", 4),
    ("n * true > 1", None, "arithmetic `*` needs a number, got a bool (true)", 4),
    ("n % {k} == 1", {"k": "2"}, "arithmetic `%` needs a number, got a string ('2')", 4),
    ("n + 1 == 'x'", None, "arithmetic gives a number, it cannot compare with a string", 9),
    ("array_length(x) == 'a'", None, "array_length(...) gives a number", 19),
    ("array_length(x) > true", None, "array_length(...) gives a number", 18),
    ("n * 2 + 1 > 3", None, "one operation per comparison", 0),
    ("10 - n > 3", None, "put the payload key on the left of `-`", 3),
    ("n / 0 > 1", None, "division by zero", 4),
    ("n % 0 == 1", None, "division by zero", 4),
    ("2 * 3 > 1", None, "arithmetic takes one payload key and one number", 0),
    ("a == {missing}", None, "missing parameter `missing`", 5),
    ("a == {p} and b == {q}", {"p": 1}, "missing parameter `q`", 18),
    ("a == {p}", {"p": None}, "parameter `p` is None", 5),
    ("a == {p}", {"p": object()}, "parameter `p` has unsupported type object", 5),
    ("a == {p}", {"p": float("nan")}, "parameter `p`: nan is not a finite number", 5),
    ("a == {p}", {"p": 2**70}, "out of the 64-bit range", 5),
    ("a == {p}", {"p": [1, 2]}, "use `in` for a list of values", 5),
    ("a == {p}", {"p": {"k": 1}}, "cannot compare with an object", 5),
    ("a < b", None, "compares two payload keys", 2),
    ("1 < 2", None, "compares two constants", 0),
    ("a == null", None, "null is not a value to compare with: use `is null`", 5),
    ("a in [1, null]", None, "null is not a value", 9),
    ("a > true", None, "`>` cannot order booleans", 4),
    ("1 < a > 2", None, "cannot chain `<` with `>`", 6),
    ("1 < a < 2 < 3", None, "at most two comparisons can be chained", 10),
    ("a == 1 == 2", None, "`==` and `==` cannot be chained: combine comparisons with `and`", 7),
    ("1 < a != 2", None, "`<` and `!=` cannot be chained", 6),
    ("1 < a < 'z'", None, "bounds a range with a number and a string", 0),
    ("1 < a < b", None, "constants on both ends and a payload key in the middle", 0),
    ("a == [1, 2]", None, "use `in` for a list of values", 5),
    ("a is 5", None, "expected `null` after `is`, got `5`", 5),
    ("a is not", None, "expected `null` after `is`, got the end of the expression", 8),
    ("a not like 'x'", None, "expected `in` after `not`, got `like`", 6),
    ("$foo['a'] == 1", None, "unknown `$foo`", 0),
    ("$meta == 1", None, '`$meta` needs a key: `$meta["key"]`', 6),
    ("$meta[0] == 1", None, "expected a string key inside `[...]`, got `0`", 6),
    ("a[-1] == 1", None, "expected a string key or an array index inside `[...]`, got `-`", 2),
    ("a[1.5] == 1", None, "got `1.5`", 2),
    ("a['k' == 1", None, "expected `]` after a key or index", 6),
    ("a == 99999999999999999999999", None, "out of the 64-bit range", 5),
    ("a == -9223372036854775809", None, "out of the 64-bit range", 5),
    ("a == 1e999", None, "number 1e999 is out of range", 5),
    ("a == -b", None, "unary `-` applies to number literals only", 5),
    ("a in [1, 2", None, "expected `,` or `]` in a list, got the end of the expression", 10),
    ("json_contains_all(a, 1)", None, "json_contains_all needs a list as its second argument", 21),
    ("array_contains_any(a, {p})", {"p": "x"}, "array_contains_any needs a list", 22),
    ("json_contains(5, 1)", None, "the first argument of json_contains needs a payload key", 14),
    ("a like 'x' like 'y'", None, "expected a value before `like`, got a condition", 0),
]


@pytest.mark.parametrize(("expr", "params", "fragment", "pos"), ERRORS, ids=[e[0] for e in ERRORS])
def test_error_names_the_problem(
    expr: str, params: dict[str, Any] | None, fragment: str, pos: int | None
) -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_expression(expr, params)
    err = info.value
    assert fragment in err.message
    assert err.position == pos
    if pos is not None:
        # The caret line sits under the expression, pointing at the position.
        lines = err.message.splitlines()
        assert lines[-2] == f"  {expr}"
        assert lines[-1] == "  " + " " * pos + "^"


def test_caret_lines_up_across_line_breaks() -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_expression("a == 1\nand\tb ==")
    lines = info.value.message.splitlines()
    assert lines[-2] == "  a == 1 and b =="
    assert lines[-1] == "  " + " " * 15 + "^"


@pytest.mark.parametrize(
    "expr",
    [
        "(" * (MAX_DEPTH + 1) + "a == 1" + ")" * (MAX_DEPTH + 1),
        "not " * (MAX_DEPTH + 1) + "a == 1",
        "! " * 5000 + "a == 1",
        "a in " + "[" * 5000,
        "a == " + "-" * 5000 + "1",
        "json_contains(a, " * 300 + "1" + ")" * 300,
    ],
    ids=["parens", "not", "bang-5000", "lists", "minus", "calls"],
)
def test_deep_nesting_is_refused_not_a_recursion_error(expr: str) -> None:
    with pytest.raises(InvalidFilter, match="nested more than 100 levels"):
        parse_expression(expr)


def test_nesting_up_to_the_limit_parses() -> None:
    depth = MAX_DEPTH - 1
    pred = compile_filter("(" * depth + "not " * 0 + "a == 1" + ")" * depth)
    assert pred({"a": 1}, 1) and not pred({"a": 2}, 1)
    pred = compile_filter("not " * depth + "a == 1")
    assert pred({"a": 1}, 1) is (depth % 2 == 0)


def test_long_flat_expressions_do_not_nest() -> None:
    text = " or ".join(f"a == {i}" for i in range(5000))
    pred = compile_filter(text)
    assert pred({"a": 4999}, 1) and not pred({"a": 5000}, 1)


def test_failed_parses_are_not_cached() -> None:
    parse_syntax.cache_clear()
    for _ in range(2):
        with pytest.raises(InvalidFilter):
            parse_expression("a ==")
    assert parse_syntax.cache_info().currsize == 0


def test_non_string_expression_is_refused() -> None:
    with pytest.raises(InvalidFilter, match="expected an expression string, got int"):
        parse_expression(5)  # type: ignore[arg-type]
