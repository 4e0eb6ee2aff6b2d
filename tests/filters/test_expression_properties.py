"""Hypothesis properties of the expression parser, the compiled tree and the converter.

(a) the parser raises nothing but InvalidFilter, whatever the text;
(b) generated expressions evaluate like an independent reference evaluator (Milvus's rules,
    written from DESIGN "Filter semantics", sharing no code with shoal.filters);
(c) expression -> to_qdrant_filter -> structured evaluation equals direct evaluation whenever
    conversion succeeds, under Shoal's structured evaluator and under qdrant-client's
    local-mode evaluator (the reference for Qdrant's semantics).
"""

from __future__ import annotations

import contextlib
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from qdrant_client.http import models as qm
from qdrant_client.local.payload_filters import check_filter

from shoal.errors import InvalidFilter
from shoal.filters import compile_node, parse_expression, to_qdrant_filter
from shoal.filters.structured import filter_to_tree

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------- the test AST


@dataclass(frozen=True)
class Lit:
    value: Any
    text: str
    template: bool = False


@dataclass(frozen=True)
class PathRef:
    path: tuple[str | int, ...]
    text: str


@dataclass(frozen=True)
class Cmp:
    path: PathRef
    op: str
    lit: Lit
    flipped: bool


@dataclass(frozen=True)
class Chain:
    lo: Lit
    op1: str
    path: PathRef
    op2: str
    hi: Lit


@dataclass(frozen=True)
class InList:
    path: PathRef
    items: tuple[Lit, ...]
    negated: bool
    template: bool


@dataclass(frozen=True)
class Like:
    path: PathRef
    pattern: Lit


@dataclass(frozen=True)
class NullTest:
    path: PathRef
    negated: bool
    spelling: str


@dataclass(frozen=True)
class Contains:
    fn: str
    path: PathRef
    values: Lit | tuple[Lit, ...]


@dataclass(frozen=True)
class Length:
    path: PathRef
    op: str
    n: Lit


@dataclass(frozen=True)
class Arith:
    path: PathRef
    aop: str
    k: Lit
    op: str
    lit: Lit
    key_right: bool


@dataclass(frozen=True)
class Junction:
    word: str  # "and" / "or"
    spelling: str
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Negation:
    spelling: str
    item: Expr


Expr = Union[Cmp, Chain, InList, Like, NullTest, Contains, Length, Arith, Junction, Negation]

# ---------------------------------------------------------------------------- rendering


def quote(text: str, q: str) -> str:
    return q + text.replace("\\", "\\\\").replace(q, "\\" + q) + q


def render_lit(lit: Lit, params: dict[str, Any]) -> str:
    if lit.template:
        name = f"p{len(params)}"
        params[name] = lit.value
        return "{" + name + "}"
    return lit.text


def render(e: Expr, params: dict[str, Any]) -> str:
    if isinstance(e, Cmp):
        value = render_lit(e.lit, params)
        if e.flipped:
            return f"{value} {MIRROR[e.op]} {e.path.text}"
        return f"{e.path.text} {e.op} {value}"
    if isinstance(e, Chain):
        lo, hi = render_lit(e.lo, params), render_lit(e.hi, params)
        return f"{lo} {e.op1} {e.path.text} {e.op2} {hi}"
    if isinstance(e, InList):
        word = "not in" if e.negated else "in"
        if e.template:
            return f"{e.path.text} {word} " + render_lit(
                Lit([i.value for i in e.items], "", True), params
            )
        return f"{e.path.text} {word} [" + ", ".join(render_lit(i, params) for i in e.items) + "]"
    if isinstance(e, Like):
        return f"{e.path.text} like {render_lit(e.pattern, params)}"
    if isinstance(e, NullTest):
        return f"{e.path.text} {e.spelling}"
    if isinstance(e, Contains):
        if isinstance(e.values, Lit):
            arg = render_lit(e.values, params)
        else:
            arg = "[" + ", ".join(render_lit(v, params) for v in e.values) + "]"
        return f"{e.fn}({e.path.text}, {arg})"
    if isinstance(e, Length):
        return f"array_length({e.path.text}) {e.op} {render_lit(e.n, params)}"
    if isinstance(e, Arith):
        k = render_lit(e.k, params)
        lhs = f"{k} {e.aop} {e.path.text}" if e.key_right else f"{e.path.text} {e.aop} {k}"
        return f"{lhs} {e.op} {render_lit(e.lit, params)}"
    if isinstance(e, Junction):
        return f" {e.spelling} ".join(f"({render(i, params)})" for i in e.items)
    return f"{e.spelling}({render(e.item, params)})"


# ---------------------------------------------------------------------------- reference

MISSING = object()
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def get(payload: Any, path: tuple[str | int, ...]) -> Any:
    cur = payload
    for step in path:
        if isinstance(step, int):
            if not (isinstance(cur, list) and step < len(cur)):
                return MISSING
            cur = cur[step]
        elif isinstance(cur, dict) and step in cur:
            cur = cur[step]
        else:
            return MISSING
    return cur


def kind(v: Any) -> str | None:
    if v is None or v is MISSING:
        return None
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    if isinstance(v, str):
        return "str"
    return "list" if isinstance(v, list) else "obj"


def same_json(a: Any, b: Any) -> bool:
    if kind(a) != kind(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return set(a) == set(b) and all(same_json(a[k], b[k]) for k in a)
    return bool(a == b)


def like_match(text: str, pattern: str) -> bool:
    # Tokens: ("any",) for %, ("one",) for _, ("lit", ch), with \x escaping x.
    toks: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            toks.append(("lit", pattern[i + 1]))
            i += 2
            continue
        toks.append(("any", "") if ch == "%" else ("one", "") if ch == "_" else ("lit", ch))
        i += 1
    # reach[j]: the first j characters of text can be matched by the tokens seen so far.
    reach = [True] + [False] * len(text)
    for tok, ch in toks:
        if tok == "any":
            for j in range(1, len(text) + 1):
                reach[j] = reach[j] or reach[j - 1]
        else:
            reach = [False] + [
                reach[j] and (tok == "one" or text[j] == ch) for j in range(len(text))
            ]
    return reach[len(text)]


def arith(v: Any, aop: str, k: Any) -> Any:
    if kind(v) != "num":
        return MISSING
    if aop == "+":
        return v + k
    if aop == "-":
        return v - k
    if aop == "*":
        return v * k
    if aop == "/":
        return v / k
    rem = math.fmod(v, k)  # C's remainder: the sign of the dividend
    return int(rem) if isinstance(v, int) and isinstance(k, int) else rem


def compare(v: Any, op: str, target: Any) -> bool:
    k = kind(v)
    return k in ("bool", "num", "str") and k == kind(target) and OPS[op](v, target)


def ref(e: Expr, p: dict[str, Any]) -> bool:
    if isinstance(e, Junction):
        results = [ref(i, p) for i in e.items]
        return all(results) if e.word == "and" else any(results)
    if isinstance(e, Negation):
        return not ref(e.item, p)
    v = get(p, e.path.path)
    if isinstance(e, Cmp):
        return compare(v, e.op, e.lit.value)
    if isinstance(e, Chain):
        return compare(v, MIRROR[e.op1], e.lo.value) and compare(v, e.op2, e.hi.value)
    if isinstance(e, InList):
        values = [i.value for i in e.items]
        found = any(kind(x) == kind(v) and x == v for x in values)
        if not e.negated:
            return kind(v) in ("bool", "num", "str") and found
        if not values:
            return kind(v) is not None
        return kind(v) in {kind(x) for x in values} and not found
    if isinstance(e, Like):
        return isinstance(v, str) and like_match(v, e.pattern.value)
    if isinstance(e, NullTest):
        return (kind(v) is None) != e.negated
    if isinstance(e, Contains):
        if not isinstance(v, list):
            return False
        wanted = [e.values.value] if isinstance(e.values, Lit) else [x.value for x in e.values]
        hits = [any(same_json(el, w) for el in v) for w in wanted]
        return any(hits) if e.fn.endswith("_any") else all(hits)
    if isinstance(e, Length):
        return isinstance(v, list) and OPS[e.op](len(v), e.n.value)
    return compare(arith(v, e.aop, e.k.value), e.op, e.lit.value)


# ---------------------------------------------------------------------------- strategies

STRINGS = ["", "a", "ab", "b%", "é", "日本", "a_c", "1", "it's", 'say "hi"', "back\\slash"]
PATHS = [
    PathRef(("a",), "a"),
    PathRef(("a",), '$meta["a"]'),
    PathRef(("b",), "b"),
    PathRef(("s",), "s"),
    PathRef(("arr",), "arr"),
    PathRef(("arr", 0), "arr[0]"),
    PathRef(("arr", 1), "arr[1]"),
    PathRef(("meta",), "meta"),
    PathRef(("meta", "x"), 'meta["x"]'),
    PathRef(("meta", "x"), "meta['x']"),
    PathRef(("meta", "x", 0), 'meta["x"][0]'),
]
paths = st.sampled_from(PATHS)
template_flag = st.sampled_from([False, False, False, True])


def _bool_lit(b: bool) -> st.SearchStrategy[Lit]:
    words = ["true", "True", "TRUE"] if b else ["false", "False", "FALSE"]
    return st.sampled_from(words).map(lambda w: Lit(b, w))


numbers = st.one_of(
    st.integers(-3, 3).map(lambda i: Lit(i, str(i))),
    st.sampled_from(
        [(0.5, "0.5"), (0.5, ".5"), (-1.5, "-1.5"), (2.0, "2."), (1000.0, "1e3"), (1e3, "1E+3")]
    ).map(lambda vt: Lit(vt[0], vt[1])),
)
strings = st.tuples(st.sampled_from(STRINGS), st.sampled_from(["'", '"'])).map(
    lambda sq: Lit(sq[0], quote(sq[0], sq[1]))
)
bools = st.booleans().flatmap(_bool_lit)


def templatable(lits: st.SearchStrategy[Lit]) -> st.SearchStrategy[Lit]:
    return st.tuples(lits, template_flag).map(lambda lt: Lit(lt[0].value, lt[0].text, lt[1]))


scalars = templatable(st.one_of(numbers, strings, bools))
orderables = templatable(st.one_of(numbers, strings))
nonzero = templatable(
    st.sampled_from([(1, "1"), (2, "2"), (3, "3"), (-2, "-2"), (0.5, "0.5"), (1.5, "1.5")]).map(
        lambda vt: Lit(vt[0], vt[1])
    )
)
num_lits = templatable(numbers)
ALL_OPS = ["==", "!=", "<", "<=", ">", ">="]
PATTERNS = ["a%", "%a", "%b%", "a_c", "_", "%", "ab", "b\\%", "%\\_c", "", "日%", "%hi_"]

cmp_atoms = st.one_of(
    st.builds(Cmp, paths, st.sampled_from(["==", "!="]), scalars, st.booleans()),
    st.builds(Cmp, paths, st.sampled_from(ALL_OPS), orderables, st.booleans()),
)
ascending, descending = st.sampled_from(["<", "<="]), st.sampled_from([">", ">="])
numeric_chains = st.one_of(
    st.builds(Chain, num_lits, ascending, paths, ascending, num_lits),
    st.builds(Chain, num_lits, descending, paths, descending, num_lits),
)
chain_atoms = st.one_of(
    numeric_chains, st.builds(Chain, strings, ascending, paths, ascending, strings)
)
in_atoms = st.builds(
    InList,
    paths,
    st.lists(st.one_of(numbers, strings, bools), max_size=4).map(tuple),
    st.booleans(),
    template_flag,
)
like_atoms = st.builds(
    Like,
    paths,
    templatable(
        st.sampled_from(PATTERNS).map(lambda s: Lit(s, quote(s, "'").replace("\\\\", "\\")))
    ),
)
null_atoms = st.builds(
    NullTest,
    paths,
    st.just(False),
    st.sampled_from(["is null", "IS NULL", "is not null", "IS NOT NULL"]),
).map(lambda n: NullTest(n.path, "not" in n.spelling.lower(), n.spelling))
contains_values = st.one_of(
    scalars,
    st.lists(st.one_of(numbers, strings, bools), max_size=3).map(
        lambda items: Lit([i.value for i in items], "[" + ", ".join(i.text for i in items) + "]")
    ),
)
contains_one = st.sampled_from(["json_contains", "array_contains", "JSON_CONTAINS"])
contains_many = st.sampled_from(
    ["json_contains_all", "array_contains_all", "json_contains_any", "array_contains_any"]
)
contains_atoms = st.one_of(
    st.builds(Contains, contains_one, paths, contains_values),
    st.builds(Contains, contains_many, paths, st.lists(scalars, max_size=3).map(tuple)),
)
small_ints = st.integers(-1, 3).map(lambda i: Lit(i, str(i)))
length_atoms = st.builds(Length, paths, st.sampled_from(ALL_OPS), small_ints)
arith_atoms = st.builds(
    Arith,
    paths,
    st.sampled_from(["+", "-", "*", "/", "%", "%"]),
    nonzero,
    st.sampled_from(ALL_OPS),
    num_lits,
    st.booleans(),
).map(lambda a: a if a.aop in "+*" else Arith(a.path, a.aop, a.k, a.op, a.lit, False))

atoms = st.one_of(
    cmp_atoms,
    chain_atoms,
    in_atoms,
    like_atoms,
    null_atoms,
    contains_atoms,
    length_atoms,
    arith_atoms,
)
# Constructs to_qdrant_filter can keep, with the others mixed in less often.
convertible_atoms = st.one_of(
    st.builds(Cmp, paths, st.sampled_from(ALL_OPS), templatable(numbers), st.booleans()),
    st.builds(Cmp, paths, st.sampled_from(["==", "!="]), templatable(bools), st.booleans()),
    st.builds(Cmp, paths, st.just("=="), strings, st.booleans()),
    numeric_chains,
    in_atoms.filter(lambda i: not (i.negated and any(isinstance(x.value, str) for x in i.items))),
    st.builds(Like, paths, st.sampled_from(["ab", "a\\_c", ""]).map(lambda s: Lit(s, f"'{s}'"))),
    st.builds(Contains, st.sampled_from(["json_contains", "array_contains"]), paths, scalars),
    contains_atoms,
    st.builds(Length, paths, st.sampled_from([">", ">=", "=="]), small_ints),
    atoms,
)


def expressions(leaves: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    def extend(kids: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(
                Junction,
                st.just("and"),
                st.sampled_from(["and", "AND", "&&"]),
                st.lists(kids, min_size=2, max_size=3).map(tuple),
            ),
            st.builds(
                Junction,
                st.just("or"),
                st.sampled_from(["or", "OR", "||"]),
                st.lists(kids, min_size=2, max_size=3).map(tuple),
            ),
            st.builds(Negation, st.sampled_from(["not ", "NOT ", "!"]), kids),
        )

    return st.recursive(leaves, extend, max_leaves=6)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0, 1000.0]),
    st.sampled_from([*STRINGS, "x", "b", "ab%c", "日本語"]),
)


def parts(e: Expr) -> list[Any]:
    """The literals and paths of an expression, leaves first."""
    if isinstance(e, Junction):
        return [x for item in e.items for x in parts(item)]
    if isinstance(e, Negation):
        return parts(e.item)
    found: list[Any] = []
    for part in vars(e).values():
        found.extend(part if isinstance(part, tuple) else (part,))
    return found


def put(doc: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """``doc`` with ``value`` placed at ``path``, creating the objects and arrays on the way."""
    if not path:
        return value
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        arr = list(doc) if isinstance(doc, list) else []
        arr.extend([None] * (step + 1 - len(arr)))
        arr[step] = put(arr[step], rest, value)
        return arr
    obj = dict(doc) if isinstance(doc, dict) else {}
    obj[step] = put(obj.get(step), rest, value)
    return obj


def payloads_near(e: Expr) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Payloads built around the expression: its own constants, placed at its own paths."""
    found = parts(e)
    pool: list[Any] = []
    for lit in found:
        if isinstance(lit, Lit):
            for v in lit.value if isinstance(lit.value, list) else [lit.value]:
                # A number's neighbours and opposite sit on both sides of its boundaries.
                numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
                pool.extend([v, -v, v + 1, v - 1] if numeric else [v])
    where = [ref.path for ref in found if isinstance(ref, PathRef)]
    scalars = st.one_of(st.sampled_from(pool), json_scalars) if pool else json_scalars
    # The shapes where Milvus's and Qdrant's rules part: a value alone, in a one-element
    # array, behind a null or empty first element, nested one level.
    shaped = st.one_of(
        scalars.map(lambda v: [v]),
        scalars.map(lambda v: [None, v]),
        scalars.map(lambda v: [[], v]),
        scalars.map(lambda v: [[v]]),
        st.just([]),
    )
    nested = st.recursive(
        st.one_of(scalars, shaped),
        lambda kids: (
            st.lists(kids, max_size=3)
            | st.dictionaries(st.sampled_from(["x", "y", "0"]), kids, max_size=2)
        ),
        max_leaves=4,
    )
    values = st.one_of(scalars, shaped, nested)
    noise = st.dictionaries(st.sampled_from(["a", "b", "s", "arr", "meta"]), values, max_size=3)
    placed = st.lists(st.tuples(st.sampled_from(where), values), min_size=1, max_size=3)

    def build(base: dict[str, Any], placements: list[tuple[Any, Any]]) -> dict[str, Any]:
        doc: dict[str, Any] = base
        for path, value in placements:
            doc = put(doc, path, value)
        return doc

    return st.lists(st.builds(build, noise, placed), min_size=2, max_size=8)


# ---------------------------------------------------------------------------- (a) robustness

TOKENS = [
    "a", "meta", '["x"]', "[0]", "$meta", "$x", "(", ")", "[", "]", ",", "==", "!=", "<", "<=",
    ">", ">=", "=", "and", "AND", "&&", "or", "||", "&", "|", "not", "!", "in", "not in", "like",
    "is", "null", "true", "False", "1", "-2", "1e3", "0.5", "1e999", "99999999999999999999999",
    "'a'", '"b"', "'", '"', "'\\", "{p}", "{q}", "{r}", "{nope}", "{", "}", "+", "-", "*", "/",
    "%", "json_contains", "json_contains_all", "array_length", "array_contains_any", "foo",
    "\\", "@", "\n", "é", "日本",
]  # fmt: skip
SOUP_PARAMS: dict[str, Any] = {"p": 1, "q": [1, "a"], "r": "x%"}
soup = st.lists(
    st.tuples(st.sampled_from(TOKENS), st.sampled_from([" ", "", " "])), max_size=40
).map(lambda parts: "".join(tok + sep for tok, sep in parts))
deep_soup = st.tuples(
    st.integers(0, 400), st.sampled_from(["(", "not ", "!", "[", "-", "json_contains(a, "]), soup
).map(lambda t: t[1] * t[0] + t[2])
PROBES: list[dict[str, Any]] = [
    {},
    {"a": 1, "meta": {"x": [1, "a"]}},
    {"a": "x", "arr": [None, 2.5, [1]], "b": True},
]


def _parse_only_invalid_filter(text: str, params: dict[str, Any] | None) -> None:
    try:
        node = parse_expression(text, params)
    except InvalidFilter:
        event("rejected")
    else:
        event("parsed")
        pred = compile_node(node)
        for payload in PROBES:
            assert isinstance(pred(payload, 1), bool)
    with contextlib.suppress(InvalidFilter):
        to_qdrant_filter(text, params)


@SETTINGS
@given(st.text())
def test_arbitrary_text_raises_only_invalid_filter(text: str) -> None:
    _parse_only_invalid_filter(text, None)


@SETTINGS
@given(st.one_of(soup, deep_soup), st.booleans())
def test_token_soup_raises_only_invalid_filter(text: str, with_params: bool) -> None:
    _parse_only_invalid_filter(text, SOUP_PARAMS if with_params else None)


# ---------------------------------------------------------------------------- (b) semantics


def check_against_reference(expr: Expr, docs: list[dict[str, Any]]) -> None:
    params: dict[str, Any] = {}
    text = render(expr, params)
    pred = compile_node(parse_expression(text, params))
    for doc in docs:
        assert pred(doc, 1) == ref(expr, doc), (text, params, doc)


@SETTINGS
@given(atoms, st.data())
def test_each_construct_agrees_with_reference(expr: Expr, data: st.DataObject) -> None:
    check_against_reference(expr, data.draw(payloads_near(expr)))


@SETTINGS
@given(expressions(atoms), st.data())
def test_compiled_expression_agrees_with_reference(expr: Expr, data: st.DataObject) -> None:
    check_against_reference(expr, data.draw(payloads_near(expr)))


# ---------------------------------------------------------------------------- (c) conversion


def check_conversion(expr: Expr, docs: list[dict[str, Any]]) -> None:
    params: dict[str, Any] = {}
    text = render(expr, params)
    direct = compile_node(parse_expression(text, params))
    try:
        flt = to_qdrant_filter(text, params)
    except InvalidFilter:
        event("refused")
        return
    event("converted")
    structured = compile_node(filter_to_tree(flt))
    qdrant_local = qm.Filter.model_validate(flt.model_dump(by_alias=True, exclude_none=True))
    for doc in docs:
        expected = direct(doc, 1)
        assert structured(doc, 1) == expected, (text, doc, flt)
        assert check_filter(qdrant_local, doc, 1, {}) == expected, (text, doc, flt)
        assert ref(expr, doc) == expected


@SETTINGS
@given(convertible_atoms, st.data())
def test_conversion_keeps_the_meaning_of_each_construct(expr: Expr, data: st.DataObject) -> None:
    check_conversion(expr, data.draw(payloads_near(expr)))


@SETTINGS
@given(expressions(convertible_atoms), st.data())
def test_conversion_keeps_the_meaning(expr: Expr, data: st.DataObject) -> None:
    check_conversion(expr, data.draw(payloads_near(expr)))
