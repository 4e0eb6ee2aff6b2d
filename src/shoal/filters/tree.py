"""The internal filter tree that both filter languages compile to.

Structured (Qdrant) filters and Milvus-style expressions differ in small ways: Qdrant matches
any element of an array, Milvus compares the value itself; Qdrant's ``is_null`` needs the key
to exist, Milvus's ``is null`` also matches a missing key. Those differences are flags on the
leaves, so one evaluator (``shoal.filters.evaluate``) serves both and a leaf's meaning never
depends on which parser built it.

Shared leaf rules (both languages): a missing key or a null value makes every comparison false;
values of different kinds (a string against a number, a bool against a number) never compare,
so they are false too; ``ne`` is true only for a present value of the same kind that differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, Union

from shoal.filters.geo import Shape
from shoal.filters.text import TextIndex, TextMode

__all__ = ["Shape", "TextIndex", "TextMode"]  # re-exported: leaves name them

# A path into a payload: object keys (str), array indexes (int), and FLATTEN, which stands for
# "every element of this array" (Qdrant's `a[].b`).
FLATTEN = "[]"
PathStep = Union[str, int]
Path = tuple[PathStep, ...]

Scalar = Union[bool, int, float, str]
CmpOp = Literal["eq", "ne", "lt", "le", "gt", "ge"]
ArithOp = Literal["add", "sub", "mul", "div", "mod", "len"]


@dataclass(frozen=True)
class Arith:
    """Transform a field value before a comparison: ``n % 2``, ``n * 2``, ``array_length(a)``."""

    op: ArithOp
    operand: float | int | None = None


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """Plain negation of the operand's result (both languages negate this way)."""

    item: Node


@dataclass(frozen=True)
class MinShould:
    """At least ``min_count`` of ``items`` hold (Qdrant's ``min_should``)."""

    items: tuple[Node, ...]
    min_count: int


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class HasId:
    """The point's id is one of ``ids`` (canonical ids: int or lowercase hyphenated UUID str)."""

    ids: frozenset[int | str]


@dataclass(frozen=True)
class HasVector:
    """The point has the vector ``name`` (Qdrant's ``has_vector``). Whether it has is the
    collection's to tell: the engine attaches ``lookup`` (point id -> has it)."""

    name: str
    lookup: Callable[[int | str], bool] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Cmp:
    """Compare the value at ``path`` with ``value``.

    ``any_element``: the value at the path may be an array and the leaf holds when any element
    satisfies it (Qdrant's rule); otherwise the value itself is compared (Milvus's rule), and an
    array compares only with ``eq``/``ne`` against an equal list.
    ``arith`` transforms a numeric field value first; a non-numeric value makes the leaf false.
    """

    path: Path
    op: CmpOp
    value: Scalar | list[Scalar]
    any_element: bool = False
    arith: Arith | None = None


@dataclass(frozen=True)
class Range:
    """``lower <(=) value <(=) upper`` on one value (or any one element when ``any_element``).

    Bounds are numbers, or strings (compared lexicographically), or datetimes when
    ``datetimes`` is set (the payload value is then parsed as an RFC 3339 string).
    """

    path: Path
    gt: Scalar | datetime | None = None
    gte: Scalar | datetime | None = None
    lt: Scalar | datetime | None = None
    lte: Scalar | datetime | None = None
    any_element: bool = False
    datetimes: bool = False
    arith: Arith | None = None


@dataclass(frozen=True)
class In:
    """The value at ``path`` equals one of ``values`` (any element of an array when
    ``any_element``). Negation with Milvus's meaning is ``And(Exists, Not(In))``."""

    path: Path
    values: tuple[Scalar, ...]
    any_element: bool = False


@dataclass(frozen=True)
class Except:
    """Qdrant's ``MatchExcept``: some value at ``path`` is present and not in ``values``."""

    path: Path
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Like:
    """Milvus ``like``: a string value matching a pattern where ``%`` is any run of text and
    ``_`` one character."""

    path: Path
    pattern: str


@dataclass(frozen=True)
class FullText:
    """Full-text match (``shoal.filters.text``): Qdrant's ``match: {text | text_any |
    phrase}``, Milvus's ``text_match`` and ``phrase_match``.

    ``any_element``: every string at the path counts, array elements too (Qdrant);
    otherwise only a string value itself (Milvus). ``index``: the key's text index, which
    the engine attaches (``shoal.filters.text_indexes``); None means the key has none.
    ``slop``: Milvus's phrase slop. ``qdrant``: Qdrant's rules for a text index (a point's
    strings form one document; a phrase needs ``phrase_matching``).
    """

    path: Path
    query: str
    mode: TextMode
    slop: int = 0
    any_element: bool = True
    qdrant: bool = True
    index: TextIndex | None = None


@dataclass(frozen=True)
class IsNull:
    """The value is null. ``missing_matches``: a missing key counts as null (Milvus's
    ``is null``); otherwise the key must exist with a null value (Qdrant's ``is_null``)."""

    path: Path
    missing_matches: bool


@dataclass(frozen=True)
class IsEmpty:
    """Qdrant's ``is_empty``: the key is missing, null, or an empty array."""

    path: Path


@dataclass(frozen=True)
class Exists:
    """The key exists with a non-null value (used to keep Milvus's meaning when converting)."""

    path: Path


@dataclass(frozen=True)
class ValuesCount:
    """The number of values at ``path`` (array length, 1 for a scalar, 0 for null or a
    missing key, as Qdrant counts) lies in the range. A path through ``[]`` reaches several
    values: each is counted on its own, and one count in range is enough."""

    path: Path
    gt: int | None = None
    gte: int | None = None
    lt: int | None = None
    lte: int | None = None


@dataclass(frozen=True)
class Geo:
    """Qdrant's ``geo_radius`` / ``geo_bounding_box`` / ``geo_polygon``: some value at
    ``path`` (an array's elements each) is a geo point inside ``shape``
    (``shoal.filters.geo``)."""

    path: Path
    shape: Shape


@dataclass(frozen=True)
class Contains:
    """The array at ``path`` contains the given values: ``mode`` ``one`` (the single value in
    ``values``), ``all`` or ``any``. A non-array value makes the leaf false."""

    path: Path
    values: tuple[Scalar | list[Scalar] | dict[str, object], ...]
    mode: Literal["one", "all", "any"]


@dataclass(frozen=True)
class NestedMatch:
    """Qdrant's ``nested``: some object of the array at ``path`` satisfies ``item`` as a whole."""

    path: Path
    item: Node


Node = Union[
    And,
    Or,
    Not,
    MinShould,
    Const,
    HasId,
    HasVector,
    Cmp,
    Range,
    In,
    Except,
    Like,
    FullText,
    IsNull,
    IsEmpty,
    Exists,
    ValuesCount,
    Geo,
    Contains,
    NestedMatch,
]


def parse_key(key: str) -> Path:
    """Turn a Qdrant payload key (``a.b``, ``a[].b``, ``a[0].b``, ``"a.b".c`` where a
    quoted segment is one key, dots and all, possibly empty) into a path.

    Raises:
        ValueError: the key is empty or has an unbalanced bracket or quote; callers wrap it
            in InvalidFilter with the key named.
    """
    if not key:
        raise ValueError("empty payload key")
    steps: list[PathStep] = []
    i, n = 0, len(key)
    while True:
        if key[i] == '"':
            end = key.find('"', i + 1)
            if end < 0:
                raise ValueError(f"unclosed quote in payload key {key!r}")
            if key[i + 1 : end] == FLATTEN:
                raise ValueError(f"a key named {FLATTEN!r} in payload key {key!r} is not supported")
            steps.append(key[i + 1 : end])
            i = end + 1
        else:
            j = i
            while j < n and key[j] not in ".[":
                j += 1
            if j > i:
                steps.append(key[i:j])
            elif j == n or key[j] != "[":
                raise ValueError(f"empty segment in payload key {key!r}")
            i = j
        i = _indices(key, i, steps)
        if i == n:
            return tuple(steps)
        if key[i] != ".":
            raise ValueError(f"unexpected {key[i:]!r} after ']' in payload key {key!r}")
        i += 1
        if i == n:
            raise ValueError(f"empty segment in payload key {key!r}")


def _indices(key: str, i: int, steps: list[PathStep]) -> int:
    """Read the ``[n]`` and ``[]`` steps of ``key`` from position ``i``; where they end."""
    while i < len(key) and key[i] == "[":
        close = key.find("]", i)
        if close < 0:
            raise ValueError(f"unbalanced '[' in payload key {key!r}")
        inner = key[i + 1 : close]
        if inner == "":
            steps.append(FLATTEN)
        elif inner.isdigit():
            steps.append(int(inner))
        else:
            raise ValueError(f"array index {inner!r} in payload key {key!r} is not a number")
        i = close + 1
    return i


_DIGITS = frozenset("0123456789")


def _raw_key_end(text: str, i: int) -> int:
    while i < len(text) and (text[i].isalnum() or text[i] in "_-"):
        i += 1
    return i


def _key_at(text: str, i: int) -> tuple[str, int]:
    """A raw key (letters, digits, ``_``, ``-``) or a double-quoted one at ``i``."""
    if text.startswith('"', i):
        close = text.find('"', i + 1)
        if close < 0 or "\\" in text[i + 1 : close]:
            raise ValueError(f"unterminated quoted key in {text!r}")
        return text[i + 1 : close], close + 1
    end = _raw_key_end(text, i)
    if end == i:
        raise ValueError(f"expected a key at position {i} of {text!r}")
    return text[i:end], end


def parse_json_path(text: str) -> Path:
    """Parse a payload key with Qdrant's own grammar (its ``JsonPath``): a key, then any of
    ``.key``, ``."quoted key"``, ``[n]`` and ``[]``; a key is letters, digits, ``_`` and
    ``-``, or any text in double quotes without ``"`` or a backslash. Stricter than
    ``parse_key``: for places where Qdrant refuses a key that does not parse (formula
    variables).

    Raises:
        ValueError: the text is not such a key (callers name it in their typed error).
    """
    first, i = _key_at(text, 0)
    steps: list[PathStep] = [first]
    while i < len(text):
        if text[i] == ".":
            key, i = _key_at(text, i + 1)
            steps.append(key)
        elif text.startswith("[]", i):
            steps.append(FLATTEN)
            i += 2
        elif text[i] == "[":
            close = text.find("]", i)
            digits = text[i + 1 : close] if close > 0 else ""
            if not digits or not set(digits) <= _DIGITS or int(digits) >= 2**64:
                raise ValueError(f"bad array index at position {i} of {text!r}")
            steps.append(int(digits))
            i = close + 1
        else:
            raise ValueError(f"unexpected {text[i]!r} at position {i} of {text!r}")
    return tuple(steps)


def format_key(path: Path) -> str:
    """Inverse of ``parse_key`` for paths whose string steps contain no ``.`` or ``[``."""
    out = ""
    for step in path:
        if step == FLATTEN:
            out += "[]"
        elif isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else step
    return out


def map_leaves(node: Node, change: Callable[[Node, Path], Node], prefix: Path = ()) -> Node:
    """The tree with each leaf replaced by ``change(leaf, prefix)``, ``prefix`` being the
    path a ``nested`` condition puts before the leaf's keys.

    Args:
        node: a filter tree.
        change: returns the leaf itself, or its replacement.
        prefix: the path above ``node``.

    Returns:
        The same tree object when no leaf changes, else a new tree.
    """
    if isinstance(node, (And, Or, MinShould)):
        items = tuple(map_leaves(item, change, prefix) for item in node.items)
        if all(a is b for a, b in zip(items, node.items, strict=True)):
            return node
        return replace(node, items=items)
    if isinstance(node, Not):
        item = map_leaves(node.item, change, prefix)
        return node if item is node.item else Not(item)
    if isinstance(node, NestedMatch):
        # Inside `nested`, keys are relative to the objects of the array at its key.
        inner = node.path if node.path[-1:] == (FLATTEN,) else (*node.path, FLATTEN)
        item = map_leaves(node.item, change, prefix + inner)
        return node if item is node.item else replace(node, item=item)
    return change(node, prefix)
