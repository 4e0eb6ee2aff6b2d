"""Full-text conditions: Qdrant's match text / text_any / phrase and Milvus's text_match /
phrase_match, against tables of expected matches (Qdrant's server semantics; see
``shoal.filters.text``), text index settings, and conversion to Qdrant filters."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal import models as m
from shoal.errors import InvalidConfig, InvalidFilter, NotSupported
from shoal.filters import (
    attach_text_indexes,
    compile_filter,
    compile_node,
    text_index_params,
    to_qdrant_filter,
    to_tree,
)
from shoal.filters.text import smallest_slop


def _condition(mode: str, query: str, key: str = "t") -> m.Filter:
    match = {"text": {"text": query}, "any": {"text_any": query}, "phrase": {"phrase": query}}
    return m.Filter.model_validate({"must": [{"key": key, "match": match[mode]}]})


def _matches(flt: m.Filter | str, payload: dict, index: dict | None = None) -> bool:
    tree = to_tree(flt)
    if index is not None:
        tree = attach_text_indexes(tree, {"t": text_index_params(index)})
    return compile_node(tree)(payload, 1)


# (stored value, mode, query, expected) on a key without a text index: Qdrant >= 1.19.1
# tokenizes both sides with the word tokenizer and lowercasing, each string on its own.
UNINDEXED = [
    ("hello, world", "text", "Hello", True),
    ("goodness only", "text", "good", False),  # whole tokens, not substrings
    ("Hello World", "text", "world hello", True),  # order-independent
    ("Hello World", "text", "hello there", False),  # every token
    ("with:a", "text", "h:a", False),  # `h` and `a` are tokens: `h` is missing
    ("something, with:a", "text", "with:a", True),
    ("snake_case", "text", "case", True),  # `_` splits words
    ("anything", "text", "", False),  # no query token: no match
    ("anything", "text", "!!!", False),
    ("the cat", "text", "the", True),  # no stop words without an index
    ("running", "text", "run", False),  # no stemming without an index
    (["foo bar", "baz"], "text", "baz", True),  # any element
    (["foo", "bar"], "text", "foo bar", False),  # elements are not pooled
    (42, "text", "42", False),  # not a string
    (None, "text", "x", False),
    ("cheap hardware", "any", "good cheap", True),
    ("good hardware", "any", "good cheap", True),
    ("goodness", "any", "good cheap", False),
    ("", "any", "good", False),
    ("Machine learning models", "phrase", "machine learning", True),
    ("learning machine", "phrase", "machine learning", False),
    ("machine deep learning", "phrase", "machine learning", False),
    ("the machine, learning!", "phrase", "Machine-Learning", True),
    (["machine", "learning"], "phrase", "machine learning", False),
    ("a b a b", "phrase", "b a b", True),
    ("x", "phrase", "", False),
]


@pytest.mark.parametrize(("value", "mode", "query", "expected"), UNINDEXED)
def test_unindexed_matching(value: object, mode: str, query: str, expected: bool) -> None:
    mode = {"text": "text", "any": "any", "phrase": "phrase"}[mode]
    assert _matches(_condition(mode, query), {"t": value}) is expected


def test_missing_key_never_matches() -> None:
    for mode in ("text", "any", "phrase"):
        assert not _matches(_condition(mode, "x"), {"other": "x"})
        # must_not matches a point without the key, as every Qdrant condition.
        flt = m.Filter(must_not=_condition(mode, "x").must)
        assert compile_filter(flt)({}, 1)


# (stored value, mode, query, index params, expected) on a key with a text index.
INDEXED = [
    ("The Cats", "text", "cat", {"stemmer": {"type": "snowball", "language": "en"}}, True),
    ("The Cats", "text", "cat", {}, False),
    ("The cat", "text", "the cat", {"stopwords": "english"}, True),  # `the` is dropped
    ("The cat", "text", "the", {"stopwords": "english"}, False),  # nothing left: no match
    ("Hello World", "text", "hello", {"lowercase": False}, False),
    ("Hello World", "text", "Hello", {"lowercase": False}, True),
    ("ab abc abcd", "text", "abcd", {"max_token_len": 3}, False),
    ("ab abc abcd", "text", "ab", {"min_token_len": 3}, False),
    ("a/b c-d", "text", "a/b", {"tokenizer": "whitespace"}, True),
    ("a/b c-d", "text", "a", {"tokenizer": "whitespace"}, False),
    ("theory", "text", "the", {"tokenizer": "prefix", "stopwords": "english"}, True),
    ("theory", "text", "thx", {"tokenizer": "prefix"}, False),
    (["foo", "bar"], "text", "foo bar", {}, True),  # an index pools the elements
    (["foo", "bar"], "any", "bar qux", {}, True),
    (["machine learning"], "phrase", "machine learning", {"phrase_matching": True}, True),
    (["machine", "learning"], "phrase", "machine learning", {"phrase_matching": True}, False),
    ("machine learning", "phrase", "machine learning", {}, False),  # needs phrase_matching
]


@pytest.mark.parametrize(("value", "mode", "query", "params", "expected"), INDEXED)
def test_indexed_matching(value: object, mode: str, query: str, params: dict, expected: bool):
    index = {"type": "text", **params}
    assert _matches(_condition(mode, query), {"t": value}, index) is expected


def test_index_attaches_by_key_and_inside_nested() -> None:
    flt = m.Filter.model_validate(
        {
            "must": [
                {
                    "nested": {
                        "key": "items",
                        "filter": {"must": [{"key": "t", "match": {"text": "cat"}}]},
                    }
                }
            ]
        }
    )
    stem = text_index_params(
        {"type": "text", "stemmer": {"type": "snowball", "language": "english"}}
    )
    payload = {"items": [{"t": "Cats"}]}
    tree = to_tree(flt)
    assert not compile_node(tree)(payload, 1)
    assert attach_text_indexes(tree, {"t": stem}) is tree  # another key: unchanged
    assert compile_node(attach_text_indexes(tree, {"items[].t": stem}))(payload, 1)


@pytest.mark.parametrize(
    ("params", "error", "needle"),
    [
        ({"type": "keyword"}, InvalidConfig, "type must be 'text'"),
        ({"type": "text", "tokenizer": "multilingual"}, NotSupported, "multilingual"),
        ({"type": "text", "ascii_folding": True}, NotSupported, "ascii_folding"),
        ({"type": "text", "stopwords": "french"}, NotSupported, "french"),
        ({"type": "text", "stopwords": {"languages": ["xx"]}}, InvalidConfig, "'xx'"),
        ({"type": "text", "min_token_len": "2"}, InvalidConfig, "min_token_len"),
        ({"type": "text", "phrase_matching": 1}, InvalidConfig, "phrase_matching"),
        ({"type": "text", "tokeniser": "word"}, InvalidConfig, "tokeniser"),
    ],
)
def test_bad_text_index_params(params: dict, error: type, needle: str) -> None:
    with pytest.raises(error, match=re.escape(needle)):
        text_index_params(params)


def test_text_index_params_defaults_and_storage_fields() -> None:
    index = text_index_params({"type": "text", "on_disk": True, "memory": "cold"})
    assert index.analyzer.tokenizer == "word" and index.analyzer.lowercase
    assert index.analyzer.stopwords == frozenset() and index.analyzer.stemmer is None
    assert not index.phrase_matching


# ------------------------------------------------------------------- Milvus expressions

MILVUS = [
    ("text_match(t, 'machine deep')", "Deep learning", True),
    ("text_match(t, 'machine deep')", "learning", False),
    ("text_match(t, 'machine')", "machinery", False),
    ("text_match(t, 'machine')", ["machine"], False),  # Milvus: the value itself
    ("phrase_match(t, 'machine learning')", "machine learning boosts", True),
    ("phrase_match(t, 'machine learning')", "learning machine", False),
    ("phrase_match(t, 'machine learning', 1)", "machine deep learning", True),
    ("phrase_match(t, 'machine learning', 2)", "learning machine", True),
    ("phrase_match(t, 'machine learning', 1)", "learning machine", False),
    ("phrase_match(t, 'machine learning', 2)", "machine a b c learning", False),
    ("phrase_match(t, {p}, {s})", "machine x learning", True),
    ("not text_match(t, 'a')", None, True),
]


@pytest.mark.parametrize(("expr", "value", "expected"), MILVUS)
def test_milvus_text_functions(expr: str, value: object, expected: bool) -> None:
    params = {"p": "machine learning", "s": 1}
    pred = compile_filter(expr, params if "{" in expr else None)
    assert pred({"t": value}, 1) is expected


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("text_match(t)", "takes 2 arguments, got 1"),
        ("phrase_match(t, 'a', 1, 2)", "takes 2 or 3 arguments, got 4"),
        ("text_match(t, 5)", "needs a string"),
        ("phrase_match(t, 'a', -1)", "integer slop >= 0"),
        ("phrase_match(t, 'a', true)", "integer slop >= 0"),
        ("text_match('t', 'a')", "needs a payload key"),
        ("text_match(t, 'a') == 1", "expected a value before"),
    ],
)
def test_milvus_text_function_errors(expr: str, needle: str) -> None:
    with pytest.raises(InvalidFilter, match=re.escape(needle)):
        compile_filter(expr)


PAYLOADS = [
    {},
    {"t": None},
    {"t": ""},
    {"t": "machine learning"},
    {"t": "Machine, learning!"},
    {"t": "learning machine"},
    {"t": "deep"},
    {"t": ["machine learning"]},
    {"t": ["deep", "x"]},
    {"t": 5},
    {"t": {"a": "deep"}},
]


@pytest.mark.parametrize(
    "expr",
    [
        "text_match(t, 'deep machine')",
        "phrase_match(t, 'machine learning')",
        "phrase_match(t, 'machine learning', 0) or text_match(t, 'deep')",
        "not text_match(t, 'deep')",
    ],
)
def test_conversion_keeps_the_meaning(expr: str) -> None:
    structured = to_qdrant_filter(expr)
    again = m.Filter.model_validate(structured.model_dump(by_alias=True, exclude_none=True))
    left, right = compile_filter(expr), compile_filter(again)
    for payload in PAYLOADS:
        assert left(payload, 1) == right(payload, 1), payload


def test_conversion_refuses_slop() -> None:
    with pytest.raises(InvalidFilter, match="phrase_match with a slop"):
        to_qdrant_filter("phrase_match(t, 'a b', 1)")


# ------------------------------------------------------------------- properties


def _brute_slop(query: list[str], doc: list[str]) -> int | None:
    choices = [[p - i for p, tok in enumerate(doc) if tok == q] for i, q in enumerate(query)]
    if not all(choices):
        return None
    return min(max(c) - min(c) for c in itertools.product(*choices))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from("abc"), min_size=1, max_size=4),
    st.lists(st.sampled_from("abcd"), max_size=9),
)
def test_smallest_slop_is_the_smallest(query: list[str], doc: list[str]) -> None:
    assert smallest_slop(query, doc) == _brute_slop(query, doc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.text(max_size=20), st.sampled_from(["text", "any", "phrase"]))
def test_full_text_never_fails(value: str, query: str, mode: str) -> None:
    flt = _condition(mode, query)
    result = _matches(flt, {"t": value})
    assert result == _matches(flt, {"t": [value]})  # one element, matched on its own
    if mode == "text" and result:
        assert _matches(_condition("any", query), {"t": value})
