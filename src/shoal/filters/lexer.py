"""Tokens of the Milvus-style filter expression language.

One compiled master pattern scans the text; the parser (``shoal.filters.expression``) reads
the resulting list. Every token keeps its start and end offsets so errors can point a caret
at the exact spot.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from shoal.errors import InvalidFilter

# Token kinds.
NUM = "num"
STR = "str"
NAME = "name"
PARAM = "param"
OP = "op"
KW = "kw"
EOF = "eof"

# Keywords are matched case-insensitively (`and`, `AND`, `And`); their canonical spelling is
# the lowercase one. `&&`, `||` and `!` are spelled as operators but mean the same.
KEYWORDS = frozenset({"and", "or", "not", "in", "like", "is", "null", "true", "false"})
_OP_ALIASES = {"&&": "and", "||": "or", "!": "not"}

# Integer literals and parameters outside the JSON integer range a payload can hold (signed
# or unsigned 64-bit) are rejected, so arithmetic never meets an unbounded int.
INT_MIN, INT_MAX = -(2**63), 2**64 - 1

# One match per token, blanks before it included (group 1), so `findall` hands back plain
# tuples and positions follow from the lengths: no match objects, which would cost more
# than the matching itself. The last group catches every other character as an error, so
# the matches tile the whole text except trailing blanks.
_TOKEN = re.compile(
    r"""
    (\s*)(?:
      (\$?[^\W\d]\w*)                                            # name or keyword
    | (==|!=|>=|<=|&&|\|\||[<>!()\[\],+\-*/%])                    # operator
    | ((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)   # number
    | ("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')                   # string
    | (\{[ \t]*[^\W\d]\w*[ \t]*\})                              # template
    | (\S)                                                      # anything else: an error
    )
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


class Token(NamedTuple):
    kind: str
    value: Any
    pos: int
    end: int


def display(text: str) -> str:
    """The expression with line breaks and tabs shown as spaces, so a caret under it lines up."""
    return text.translate(_BLANKS)


_BLANKS = {ord(c): " " for c in "\n\r\t\v\f"}


def fail(message: str, text: str, pos: int) -> InvalidFilter:
    """An ``InvalidFilter`` whose message shows ``text`` with a caret under ``pos``."""
    return InvalidFilter(message, expression=display(text), position=pos)


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[code]
    if len(code) == 5:
        return chr(int(code[1:], 16))
    # Unknown escapes keep their backslash: `like 'a\%'` must still see the escaped `%`.
    return match.group(0)


def _number(raw: str, text: str, pos: int) -> int | float:
    if "." in raw or "e" in raw or "E" in raw:
        value = float(raw)
        if value in (float("inf"), float("-inf")):
            raise fail(f"number {raw} is out of range", text, pos)
        return value
    number = int(raw)
    if number > INT_MAX:
        raise fail(f"integer {raw} is out of the 64-bit range", text, pos)
    return number


def _bad_char(text: str, pos: int) -> InvalidFilter:
    ch = text[pos]
    if ch in "'\"":
        return fail(f"unterminated string starting with {ch}", text, pos)
    if ch == "=":
        return fail("unexpected `=`: use `==` to compare", text, pos)
    if ch == "{":
        return fail("malformed template: expected `{name}`", text, pos)
    if ch == "|" or ch == "&":
        return fail(f"unexpected `{ch}`: use `{ch * 2}`", text, pos)
    return fail(f"unexpected character {ch!r}", text, pos)


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens, ending with an ``EOF`` token.

    Args:
        text: the expression.

    Returns:
        The tokens; string literals are unescaped, numbers converted, keywords lowercased.

    Raises:
        InvalidFilter: a character no token starts with, an unterminated string, a number
            out of range.
    """
    tokens: list[Token] = []
    append = tokens.append
    new = tuple.__new__  # a third of Token()'s cost; tokens are built by the dozen
    end = 0
    for blanks, name, op, num, string, param, _bad in _TOKEN.findall(text):
        start = end + len(blanks)
        if name:
            end = start + len(name)
            low = name.lower()
            if low in KEYWORDS:
                append(new(Token, (KW, low, start, end)))
            else:
                append(new(Token, (NAME, name, start, end)))
        elif op:
            end = start + len(op)
            alias = _OP_ALIASES.get(op)
            append(new(Token, (KW, alias, start, end) if alias else (OP, op, start, end)))
        elif num:
            end = start + len(num)
            append(new(Token, (NUM, _number(num, text, start), start, end)))
        elif string:
            end = start + len(string)
            body = string[1:-1]
            if "\\" in body:
                body = _ESCAPE.sub(_unescape, body)
            append(new(Token, (STR, body, start, end)))
        elif param:
            end = start + len(param)
            append(new(Token, (PARAM, param[1:-1].strip(), start, end)))
        else:
            raise _bad_char(text, start)
    size = len(text)
    append(Token(EOF, None, size, size))
    return tokens
