"""Table-driven semantics of Milvus-style expressions over a fixed payload set.

Every expected id set below was worked out by hand from PAYLOADS (not computed by the code
under test). The notes next to the tricky rows say why a point is in or out.
"""

from __future__ import annotations

from typing import Any

import pytest

from shoal.errors import InvalidFilter
from shoal.filters import compile_filter, compile_node, parse_expression, to_qdrant_filter
from shoal.filters.structured import filter_to_tree

PAYLOADS: dict[int, dict[str, Any]] = {
    1: {
        "id": "doc_1",
        "category": "cat_1",
        "price": 10,
        "score": 0.9,
        "flag": True,
        "tags": ["a", "b"],
        "meta": {"lang": "en", "n": 1},
        "n": 4,
        "title": "Intro to Shoal",
    },
    2: {
        "id": "doc_2",
        "category": "cat_2",
        "price": 55.5,
        "score": 0.3,
        "flag": False,
        "tags": ["b"],
        "meta": {"lang": "fr", "n": 2},
        "n": 7,
        "title": "intro%done",
    },
    3: {
        "id": "doc_3",
        "category": "cat_3",
        "price": 100,
        "score": None,
        "flag": True,
        "tags": [],
        "meta": {"lang": "en"},
        "n": -3,
        "title": "Ünïcode ☃",
    },
    4: {
        "id": "doc_4",
        "category": "cat_1",
        "price": "12",
        "flag": 1,
        "tags": ["c", "a", "d"],
        "n": 0,
        "title": "a_c",
    },
    5: {
        "id": "doc_5",
        "category": None,
        "price": 150,
        "score": 0.5,
        "tags": "a",
        "meta": {"lang": "日本語", "nested": {"deep": True}},
        "n": 2.5,
        "title": "abc",
    },
    6: {"id": "doc_6", "price": 0, "score": 1, "tags": [1, 2, 3], "n": 10, "title": ""},
    7: {
        "id": "doc_7",
        "category": "Cat_1",
        "price": -5,
        "flag": "true",
        "tags": [[1, 2], [3]],
        "n": 5,
        "title": "ABC",
    },
    8: {
        "id": "doc_8",
        "category": "ünï",
        "price": 1e3,
        "tags": [True, 1],
        "meta": {"lang": None},
        "title": "xabcx",
    },
    9: {"id": "doc_9", "price": None, "score": 0.5, "meta": [1, 2]},
    10: {"id": "doc_10", "price": [10, 20], "score": 0.75, "arr": [5, 6, 7], "n": -7.5},
    11: {},
    12: {
        "id": 12,
        "category": "cat_2",
        "price": 20.0,
        "tags": ["a", None],
        "arr": [None, 5],
        "n": 3,
    },
    13: {
        "id": "doc_13",
        "category": "cat_2",
        "price": 99.99,
        "score": 0.0,
        "tags": ["x"],
        "arr": [[5]],
        "n": -4,
    },
    14: {
        "id": "doc_14",
        "category": "cat_3",
        "price": 30,
        "meta": {"lang": "en", "n": 3, "list": [1, 2]},
        "arr": ["x", {"k": 1}],
    },
    15: {
        "id": "doc_15",
        "category": "cat_1",
        "price": 75,
        "score": 0.95,
        "flag": False,
        "n": 8,
        "tags": ["b", "a"],
    },
}
ALL = set(PAYLOADS)

CASES: list[tuple[str, set[int]]] = [
    # ---- equality and inequality
    ("id == 'doc_1'", {1}),
    ("id == 12", {12}),
    ('id == "doc_12"', set()),  # point 12 holds the int 12
    ("category == 'cat_1'", {1, 4, 15}),
    ('category == "cat_1"', {1, 4, 15}),
    # != needs a present string: null (5) and missing keys are out
    ("category != 'cat_1'", {2, 3, 7, 8, 12, 13, 14}),
    ("price == 10", {1}),  # 10's price is the list [10, 20]: compared as a whole
    ("price == 20", {12}),  # 20.0 equals 20
    ("price == '12'", {4}),
    ("price == 12", set()),  # a string never equals a number
    ("price != 12", {1, 2, 3, 5, 6, 7, 8, 12, 13, 14, 15}),
    ("price != '12'", set()),
    ("score == 0", {13}),
    ("score == 1", {6}),
    ("score != 0.5", {1, 2, 6, 10, 13, 15}),
    # ---- booleans are their own kind
    ("flag == true", {1, 3}),
    ("flag == True", {1, 3}),
    ("flag == TRUE", {1, 3}),
    ("flag == false", {2, 15}),
    ("flag == FALSE", {2, 15}),
    ("flag != true", {2, 15}),
    ("flag == 1", {4}),
    ("flag != 1", set()),
    ("flag == 'true'", {7}),
    ("flag > 0", {4}),
    # ---- ordering and ranges
    ("price > 50", {2, 3, 5, 8, 13, 15}),
    ("50 < price", {2, 3, 5, 8, 13, 15}),
    ("price >= 100", {3, 5, 8}),
    ("price < 0", {7}),
    ("price <= 0", {6, 7}),
    ("price > -5.5", {1, 2, 3, 5, 6, 7, 8, 12, 13, 14, 15}),
    ("price < -5", set()),
    ("price > 1e2", {5, 8}),
    ("price == 1e3", {8}),
    ("10 < price <= 100", {2, 3, 12, 13, 14, 15}),
    ("100 >= price > 10", {2, 3, 12, 13, 14, 15}),
    ("10 <= price < 100", {1, 2, 12, 13, 14, 15}),
    ("score > 0.5", {1, 6, 10, 15}),
    ("title > 'a'", {2, 3, 4, 5, 8}),  # code-point order: 'I' and 'A' sort before 'a'
    ("title <= 'B'", {6, 7}),
    ("price > '50'", set()),
    ("price < '50'", {4}),
    ("title == 0", set()),
    ("category == 1", set()),
    ("category != 1", set()),
    ("tags == 'a'", {5}),
    ("meta == 1", set()),
    # ---- in / not in
    ("category in ['cat_1', 'cat_2']", {1, 2, 4, 12, 13, 15}),
    ("category not in ['cat_1', 'cat_2']", {3, 7, 8, 14}),
    ("category NOT IN ['cat_3'] and price < 30", {1, 7, 12}),
    ("category IN ['cat_3'] AND price > 50", {3}),
    ("category not in [1, 2]", set()),  # no numeric category to be "not in"
    ("price in [10, 20, '12']", {1, 4, 12}),
    ("price not in [10, 20]", {2, 3, 5, 6, 7, 8, 13, 14, 15}),
    ("id in []", set()),
    ("id not in []", ALL - {11}),
    ("flag in [true]", {1, 3}),
    ("flag not in [true]", {2, 15}),
    ("tags in ['a']", {5}),  # arrays are not searched by `in`
    ("meta[\"lang\"] in ['en', '日本語']", {1, 3, 5, 14}),
    # ---- like
    ("title like 'Intro%'", {1}),
    ("title like 'intro%'", {2}),
    ("title like '%abc%'", {5, 8}),
    ("title like '%c'", {4, 5}),
    ("title like 'a_c'", {4, 5}),
    (r"title like 'a\_c'", {4}),
    (r"title like 'intro\%%'", {2}),
    ("title like '%'", {1, 2, 3, 4, 5, 6, 7, 8}),
    ("title like ''", {6}),
    ("title like 'Ünï%'", {3}),
    ("title like '%☃'", {3}),
    ("title LIKE '_BC'", {7}),
    ("price like '1%'", {4}),
    # ---- null tests
    ("score is null", {3, 4, 7, 8, 11, 12, 14}),
    ("score IS NULL", {3, 4, 7, 8, 11, 12, 14}),
    ("score is not null", {1, 2, 5, 6, 9, 10, 13, 15}),
    ("score IS NOT NULL", {1, 2, 5, 6, 9, 10, 13, 15}),
    ('meta["lang"] is null', {4, 6, 7, 8, 9, 10, 11, 12, 13, 15}),
    ("category is not null and category != 'cat_2'", {1, 3, 4, 7, 8, 14, 15}),
    ("tags is not null", {1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 15}),
    # ---- JSON paths
    ("meta[\"lang\"] == 'en'", {1, 3, 14}),
    ("$meta[\"category\"] == 'cat_2'", {2, 12, 13}),
    ("$meta['meta']['lang'] == 'fr'", {2}),
    ('meta["nested"]["deep"] == true', {5}),
    ('meta["n"] >= 2', {2, 14}),
    ('meta["n"] == 1 && meta["lang"] == \'en\'', {1}),
    ('meta["list"][1] == 2', {14}),
    ("arr[0] == 5", {10}),
    ("arr[1] == 5", {12}),
    ("arr[0][0] == 5", {13}),
    ('arr[1]["k"] == 1', {14}),
    ("tags[0] == 'a'", {1, 12}),  # 5's tags is the string "a": no index into it
    ("meta[0] == 1", {9}),
    # ---- functions
    ("json_contains(tags, 'a')", {1, 4, 12, 15}),
    ("array_contains(tags, 1)", {6, 8}),  # True in 8's tags is not 1
    ("array_contains(tags, true)", {8}),
    ("json_contains(tags, [1, 2])", {7}),
    ("json_contains_all(tags, ['a', 'b'])", {1, 15}),
    ("array_contains_all(tags, [])", {1, 2, 3, 4, 6, 7, 8, 12, 13, 15}),
    ("json_contains_any(tags, ['c', 'x'])", {4, 13}),
    ("array_contains_any(tags, [])", set()),
    ('JSON_CONTAINS(meta["list"], 2)', {14}),
    ("array_length(tags) == 0", {3}),
    ("array_length(tags) == 1", {2, 13}),
    ("array_length(tags) >= 2", {1, 4, 6, 7, 8, 12, 15}),
    ("1 < array_length(tags) < 3", {1, 7, 8, 12, 15}),
    # ---- arithmetic
    ("n % 2 == 0", {1, 4, 6, 13, 15}),
    ("n % 2 == -1", {3}),  # the remainder keeps the dividend's sign, as in Milvus
    ("n * 2 <= 6", {3, 4, 5, 10, 12, 13}),
    ("n + 1 > 3", {1, 2, 5, 6, 7, 12, 15}),
    ("n - 1 == 3", {1}),
    ("n / 2 == 1.25", {5}),
    ("n / 2 > 3", {2, 6, 15}),
    ("2 * n == 8", {1}),
    ("price % 10 == 0", {1, 3, 5, 6, 8, 12, 14}),
    ("flag + 1 == 2", {4}),  # true + 1 is not 2: bools are not numbers
    # ---- boolean structure
    ("not (category == 'cat_1')", ALL - {1, 4, 15}),
    ("!(price > 50)", ALL - {2, 3, 5, 8, 13, 15}),
    ("NOT price > 50", ALL - {2, 3, 5, 8, 13, 15}),
    ("not not (n > 5)", {2, 6, 15}),
    ("category == 'cat_1' or category == 'cat_3'", {1, 3, 4, 14, 15}),
    ("category == 'cat_1' || price < 0", {1, 4, 7, 15}),
    ("category == 'cat_1' OR price < 0", {1, 4, 7, 15}),
    ("category == 'cat_1' && price > 20", {15}),
    ("category == 'cat_2' AND price > 50 OR flag == true", {1, 2, 3, 13}),
    ("category == 'cat_2' and (price > 50 or flag == true)", {2, 13}),
    ("not (score > 0.5) and score is not null", {2, 5, 9, 13}),
    ("((((price == 10))))", {1}),
    ("id == 'doc_1' or id == 'doc_2' or id == 'doc_3'", {1, 2, 3}),
    # ---- unicode and escapes
    ("category == 'ünï'", {8}),
    ('meta["lang"] == "日本語"', {5}),
    ("title == 'Ünïcode ☃'", {3}),
    (r'title == "\u00dcn\u00efcode \u2603"', {3}),
    (r"title != 'it\'s'", {1, 2, 3, 4, 5, 6, 7, 8}),
]

PARAM_CASES: list[tuple[str, dict[str, Any], set[int]]] = [
    ("category in {cats}", {"cats": ["cat_1", "cat_3"]}, {1, 3, 4, 14, 15}),
    ("price > {p}", {"p": 99}, {3, 5, 8, 13}),
    ("title like {pat}", {"pat": "%abc%"}, {5, 8}),
    ("id == {doc}", {"doc": "doc_1' or '1' == '1"}, set()),  # bound as a value, not text
    ('meta["lang"] == {lang} and n > {n}', {"lang": "en", "n": 0}, {1}),
    ("json_contains_any(tags, {ts})", {"ts": ("x", 3)}, {6, 13}),
    ("n % {k} == 0", {"k": 5}, {4, 6, 7}),
    ("category in [{a}, 'cat_2']", {"a": "cat_3"}, {2, 3, 12, 13, 14}),
]


def matching(text: str, params: dict[str, Any] | None = None) -> set[int]:
    pred = compile_node(parse_expression(text, params))
    return {pid for pid, payload in PAYLOADS.items() if pred(payload, pid)}


def test_table_is_large_and_covers_every_operator() -> None:
    assert len(CASES) + len(PARAM_CASES) >= 80
    text = " ".join(expr for expr, _ in CASES).lower()
    for word in [
        "==", "!=", ">=", "<=", " in ", " not in ", " like ", " is null", " is not null",
        "&&", "||", "!(", " and ", " or ", "not ", "json_contains(", "json_contains_all(",
        "json_contains_any(", "array_contains(", "array_contains_all(", "array_contains_any(",
        "array_length(", "%", "*", "+", " - ", "/", "$meta", "[0]", "1e3", "-5.5",
    ]:  # fmt: skip
        assert word in text, word


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_expression_matches(expr: str, expected: set[int]) -> None:
    assert matching(expr) == expected


@pytest.mark.parametrize(
    ("expr", "params", "expected"), PARAM_CASES, ids=[c[0] for c in PARAM_CASES]
)
def test_templated_expression_matches(
    expr: str, params: dict[str, Any], expected: set[int]
) -> None:
    assert matching(expr, params) == expected


def test_compile_filter_dispatches_strings_to_the_parser() -> None:
    pred = compile_filter("category == 'cat_1' and price > 20")
    assert {pid for pid, p in PAYLOADS.items() if pred(p, pid)} == {15}
    pred = compile_filter("category in {c}", {"c": ["cat_3"]})
    assert {pid for pid, p in PAYLOADS.items() if pred(p, pid)} == {3, 14}


def test_converted_table_rows_match_the_same_points() -> None:
    # Every row that to_qdrant_filter accepts must select the same points through the
    # structured evaluator; the refusals are the constructs the converter documents.
    converted = 0
    for expr, expected in CASES:
        try:
            flt = to_qdrant_filter(expr)
        except InvalidFilter:
            continue
        converted += 1
        pred = compile_node(filter_to_tree(flt))
        assert {pid for pid, p in PAYLOADS.items() if pred(p, pid)} == expected, expr
    assert converted >= 85
