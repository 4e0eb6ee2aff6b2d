"""Payload indexes answer filters exactly as the predicate does, and stay current.

The property test builds rows with payloads of mixed kinds (strings, ints, floats, bools,
nulls, arrays, objects, big ints, datetime strings), indexes keys with every schema type,
and checks that the index-aware evaluation (``FilterMatch``) selects exactly the rows the
compiled predicate selects, for random trees of leaves in both languages' flavours
(``any_element`` on and off) and And / Or / Not / MinShould around them, also after updates
and deletes. The engine tests check the wiring: counts in ``payload_schema``, maintenance on
every write kind, persistence of the declaration, and identical query/count results with
and without indexes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal import models as m
from shoal.engine import Database
from shoal.engine.deadline import NO_DEADLINE
from shoal.engine.filtering import FilterMatch
from shoal.engine.payload_index import PayloadIndexes
from shoal.engine.state import CollectionState, Row
from shoal.filters import compile_node
from shoal.filters import tree as t
from shoal.filters.text import TextIndex
from shoal.text import AnalyzerParams

INDEXED = {
    "kw": m.PayloadSchemaType.KEYWORD,
    "num": m.PayloadSchemaType.INTEGER,
    "fl": m.PayloadSchemaType.FLOAT,
    "flag": m.PayloadSchemaType.BOOL,
    "ts": m.PayloadSchemaType.DATETIME,
    "txt": m.PayloadSchemaType.TEXT,
    "o.k": m.PayloadSchemaType.KEYWORD,  # a nested key
    "arr[]": m.PayloadSchemaType.KEYWORD,  # counted, never used to answer
}
KEYS = ["kw", "num", "fl", "flag", "ts", "txt", "other"]
# Small pools shared by payloads and operands, so that comparisons often hit; they hold the
# edge cases (an int and a float of equal value, ints beyond float64's exact range,
# datetime-looking strings, the empty string).
STRINGS = ["a", "ab", "2024-01-01T00:00:00Z", "2024-06-01", "", "a AB ab", "ab a 2024"]
NUMBERS = [0, 1, 1.0, 2.5, 2**53 + 1, 2**60]

scalars = st.one_of(st.sampled_from(STRINGS), st.sampled_from(NUMBERS), st.booleans(), st.none())
values = st.one_of(
    scalars,
    scalars,
    st.lists(scalars, max_size=3),
    st.lists(st.lists(scalars, max_size=2), max_size=2),
    st.dictionaries(st.sampled_from(["k", "z"]), scalars, max_size=2),
)
payloads = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from([*KEYS, "o", "arr"]), values, min_size=3, max_size=9),
)
operands = st.one_of(
    st.sampled_from(STRINGS), st.sampled_from([*NUMBERS, 2.0**53, 2.0**60]), st.booleans()
)
paths = st.sampled_from(
    [("kw",), ("num",), ("fl",), ("flag",), ("ts",), ("txt",), ("o", "k"), ("other",)]
)
flags = st.booleans()


@st.composite
def ranges(draw: st.DrawFn) -> t.Range:
    path, any_element = draw(paths), draw(flags)
    if draw(st.booleans()):
        pool: list[Any] = ["2023-12-31T23:00:00Z", "2024-01-01", "2024-03-01T12:00:00+02:00"]
        datetimes = True
    else:
        pool = draw(st.sampled_from([[-3, 0, 1, 2.5, 6, 2**53 + 1], ["", "a", "ab", "b", "z"]]))
        datetimes = False
    bounds = [draw(st.one_of(st.none(), st.sampled_from(pool))) for _ in range(4)]
    return t.Range(path, *bounds, any_element=any_element, datetimes=datetimes)


# Text index settings a full-text leaf may carry (the engine attaches its key's).
TEXT_INDEXES = [
    None,
    TextIndex(),
    TextIndex(phrase_matching=True),
    TextIndex(AnalyzerParams(tokenizer="prefix", min_token_len=2), phrase_matching=True),
    TextIndex(AnalyzerParams(lowercase=False, stopwords=frozenset({"a"}), max_token_len=3)),
]


@st.composite
def full_texts(draw: st.DrawFn, path: t.Path | None = None) -> t.FullText:
    """A full-text leaf; with ``path``, one on that key that pools an array's strings
    (Qdrant's rule for a key with a text index)."""
    # Queries from the strings payloads hold, so that tokens often meet.
    words = draw(st.lists(st.sampled_from(["a", "AB", "2024", "x"]), max_size=3))
    pooled = path is not None
    return t.FullText(
        path or draw(paths),
        " ".join(words),
        draw(st.sampled_from(["all", "any", "phrase"])),
        slop=draw(st.integers(0, 2)),
        any_element=pooled or draw(flags),
        qdrant=pooled or draw(flags),
        index=draw(st.sampled_from(TEXT_INDEXES[1:] if pooled else TEXT_INDEXES)),
    )


leaves = st.one_of(
    st.builds(t.Cmp, paths, st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]), operands, flags),
    st.builds(t.In, paths, st.lists(operands, min_size=1, max_size=3).map(tuple), flags),
    ranges(),
    full_texts(),
    st.builds(t.Like, paths, st.sampled_from(["a%", "%b", "_", "%", "a_"])),
    st.builds(t.Exists, paths),
    st.builds(t.IsNull, paths, flags),
    st.builds(t.HasId, st.frozensets(st.integers(0, 40), max_size=4)),
)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(t.And, st.lists(inner, max_size=3).map(tuple)),
        st.builds(t.Or, st.lists(inner, max_size=3).map(tuple)),
        st.builds(t.Not, inner),
        st.builds(
            t.MinShould, st.lists(inner, min_size=1, max_size=3).map(tuple), st.integers(0, 3)
        ),
    ),
    max_leaves=6,
)


def build(rows: list[dict[str, Any] | None]) -> tuple[CollectionState, PayloadIndexes]:
    state = CollectionState({"": m.VectorParams(size=2, distance="Dot")}, capacity=8)
    indexes = PayloadIndexes()
    for key, schema in list(INDEXED.items())[:4]:  # some indexes before the rows...
        indexes.create(state, key, schema)
    applied = state.apply({i: Row(None, p, 1) for i, p in enumerate(rows)})
    indexes.on_apply(state, applied)
    for key, schema in list(INDEXED.items())[4:]:  # ...and some built over existing rows
        indexes.create(state, key, schema)
    return state, indexes


def check(state: CollectionState, indexes: PayloadIndexes, tree: t.Node) -> None:
    pred = compile_node(tree)
    expected = np.zeros(state.high, dtype=bool)
    for r in state.live_rows().tolist():
        expected[r] = pred(state.payloads[r] or {}, state.keys[r])  # type: ignore[arg-type]
    match = FilterMatch(state, tree, pred, indexes, NO_DEADLINE)
    assert np.array_equal(match.mask(NO_DEADLINE), expected), (
        tree,
        np.flatnonzero(match.mask(NO_DEADLINE)),
    )
    rows = np.arange(state.high)
    fresh = FilterMatch(state, tree, pred, indexes, NO_DEADLINE)  # lazily, as the HNSW path asks
    assert np.array_equal(fresh.allowed(rows, NO_DEADLINE), expected)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, max_size=30), trees)
def test_indexed_evaluation_equals_the_predicate(
    rows: list[dict[str, Any] | None], tree: t.Node
) -> None:
    state, indexes = build(rows)
    check(state, indexes, tree)


# Payloads with strings at the indexed key "txt", often several in an array.
TEXTS = st.sampled_from(["a", "AB", "2024-06-01", "a ab", "x 01"])
text_payloads = st.one_of(
    st.none(),
    st.fixed_dictionaries({"txt": st.one_of(TEXTS, st.lists(st.one_of(TEXTS, scalars)))}),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(text_payloads, max_size=20), full_texts(("txt",)))
def test_full_text_leaves_are_answered_as_the_predicate_does(
    rows: list[dict[str, Any] | None], leaf: t.FullText
) -> None:
    # Alone, on one key and pooled, so that the rare case comes up: a query's tokens
    # spread over an array's strings (the tree test above covers the other flags).
    state, indexes = build(rows)
    check(state, indexes, leaf)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(payloads, min_size=1, max_size=20),
    st.lists(st.tuples(st.integers(0, 25), st.one_of(st.none(), payloads)), max_size=12),
    trees,
)
def test_indexes_follow_updates_and_deletes(
    rows: list[dict[str, Any] | None],
    changes: list[tuple[int, dict[str, Any] | None]],
    tree: t.Node,
) -> None:
    state, indexes = build(rows)
    for pid, payload in changes:
        # None deletes the point (if it exists); a dict inserts or replaces it.
        overlay: dict[Any, Row | None] = {pid: None if payload is None else Row(None, payload, 2)}
        if payload is None and pid not in state.row_of:
            continue
        indexes.on_apply(state, state.apply(overlay))
    check(state, indexes, tree)
    for key, index in indexes.fields.items():
        path = t.parse_key(key)
        assert index.points == sum(
            1 for r in state.live_rows().tolist() if _has_kind(state.payloads[r], path, index.kind)
        ), key


def _has_kind(payload: dict[str, Any] | None, path: t.Path, kind: str | None) -> bool:
    from shoal.engine.payload_index import kind_of
    from shoal.filters.evaluate import parse_datetime, values_at

    for v in values_at(payload or {}, path):
        if kind == "dt" and isinstance(v, str) and parse_datetime(v) is not None:
            return True
        if kind is not None and kind != "dt" and kind_of(v) == kind:
            return True
    return False


# (leaf, matching rows of EDGE_ROWS); None marks leaves the index must leave to the predicate.
EDGES: list[tuple[t.Node, list[int] | None]] = [
    # Milvus compares the value itself: an array never equals a scalar...
    (t.Cmp(("kw",), "eq", "a", any_element=False), [0]),
    # ...Qdrant matches any element.
    (t.Cmp(("kw",), "eq", "a", any_element=True), [0, 1]),
    # A structured integer match never matches a stored float; an expression's does.
    (t.Cmp(("num",), "eq", 1, any_element=True), [2]),
    (t.Cmp(("num",), "eq", 1, any_element=False), [2, 3]),
    (t.In(("num",), (1,), any_element=True), [2]),
    # 2**53 + 1 rounds to 2.0**53 in float64 but Python says they differ: operands this
    # large are left to the predicate.
    (t.Cmp(("num",), "eq", 2.0**53, any_element=False), None),
    (t.Range(("num",), gte=2**53, any_element=False), None),
    (t.Range(("num",), gte=2**52, any_element=False), [4]),
    (t.Cmp(("flag",), "eq", True, any_element=False), [5]),
    (t.Cmp(("flag",), "eq", 1, any_element=False), None),  # numbers: not in a bool index
    (t.Range(("ts",), gt="2024-01-01", datetimes=True, any_element=True), [1]),
    (t.Like(("kw",), "a%"), [0]),
    # Full text matches whole tokens (Qdrant's server), never substrings; a text index
    # pools an array's strings into one document.
    (t.FullText(("kw",), "b", "all"), [1]),
    (t.FullText(("kw",), "a", "all", any_element=False), [0]),
    (t.FullText(("txt",), "goo", "all"), []),
    (t.FullText(("txt",), "good cheap", "all"), [6]),
    (t.FullText(("txt",), "good cheap", "all", index=TextIndex()), [6, 7]),
    (t.FullText(("txt",), "cheap good", "phrase", index=TextIndex(phrase_matching=True)), []),
]
EDGE_ROWS: list[dict[str, Any]] = [
    {"kw": "a"},
    {"kw": ["a", "b"], "ts": ["2023-01-01", "2024-02-01T00:00:00Z"]},
    {"num": 1},
    {"num": 1.0},
    {"num": 2**53 + 1},
    {"flag": True, "num": True},
    {"txt": ["goodness", "good and cheap"]},
    {"txt": ["good", "cheap"]},
]


def test_edge_cases_match_the_predicate() -> None:
    state, indexes = build(list(EDGE_ROWS))
    for tree, rows in EDGES:
        match = FilterMatch(state, tree, compile_node(tree), indexes, NO_DEADLINE)
        assert (match.maybe is None) == (rows is not None), tree  # answered by the index
        if rows is not None:
            assert np.flatnonzero(match.mask(NO_DEADLINE)).tolist() == rows, tree
        check(state, indexes, tree)


# ----------------------------------------------------------------------------- engine


def _collection(db: Database, name: str) -> Any:
    db.create_collection(name, m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot")))
    col = db.collection(name)
    points = [
        m.PointStruct(id=1, vector=[1, 0], payload={"color": "red", "n": 1, "tags": ["a", "b"]}),
        m.PointStruct(id=2, vector=[0, 1], payload={"color": "blue", "n": 2.5, "tags": ["b"]}),
        m.PointStruct(id=3, vector=[1, 1], payload={"color": 7, "n": "x"}),
        m.PointStruct(id=4, vector=[1, 2], payload={"color": ["red", "green"], "n": [1, 2]}),
        m.PointStruct(id=5, vector=[2, 1]),
    ]
    col.upsert(points)
    return col


def test_payload_schema_counts_points_with_values_of_the_type(tmp_path: Path) -> None:
    db = Database(tmp_path)
    col = _collection(db, "c")
    col.set_payload_index("color", m.PayloadSchemaType.KEYWORD)
    col.set_payload_index("n", m.PayloadSchemaType.FLOAT)
    col.set_payload_index("missing", m.PayloadSchemaType.INTEGER)
    schema = col.info().payload_schema
    # Point 3's color is a number: not a keyword, so not in the keyword index.
    assert {k: v.points for k, v in schema.items()} == {"color": 3, "n": 3, "missing": 0}

    col.set_payload(m.SetPayload(payload={"color": "teal"}, points=[3]))
    col.delete([1])
    col.overwrite_payload(m.SetPayload(payload={"n": 9}, points=[5]))
    col.clear_payload([2])
    col.upsert([m.PointStruct(id=6, vector=[0, 0], payload={"color": "x", "missing": 4})])
    counts = {k: v.points for k, v in col.info().payload_schema.items()}
    assert counts == {"color": 3, "n": 2, "missing": 1}
    db.close()

    db = Database(tmp_path)  # the declaration persists; the index is rebuilt from storage
    col = db.collection("c")
    assert {k: v.points for k, v in col.info().payload_schema.items()} == counts
    col.set_payload_index("n", None)
    assert set(col.info().payload_schema) == {"color", "missing"}
    db.close()


FILTERS: list[m.Filter | str] = [
    m.Filter(must=[m.FieldCondition(key="color", match=m.MatchValue(value="red"))]),
    m.Filter(must_not=[m.FieldCondition(key="color", match=m.MatchAny(any=["red", "teal"]))]),
    m.Filter(must=[m.FieldCondition(key="n", range=m.Range(gte=1, lt=3))]),
    m.Filter(
        should=[
            m.FieldCondition(key="color", match=m.MatchValue(value="blue")),
            m.FieldCondition(key="tags", match=m.MatchValue(value="a")),
        ]
    ),
    'color == "red"',
    'color in ["red", "blue"] and n >= 1',
    'not (color == "red")',
    'color != "red"',
    "n > 1 or tags is null",
]


def test_queries_and_counts_agree_with_and_without_indexes() -> None:
    db = Database()
    plain, indexed = _collection(db, "plain"), _collection(db, "indexed")
    indexed.set_payload_index("color", m.PayloadSchemaType.KEYWORD)
    indexed.set_payload_index("n", m.PayloadSchemaType.FLOAT)
    for flt in FILTERS:
        want = plain.count(m.CountRequest(filter=flt)).count
        assert indexed.count(m.CountRequest(filter=flt)).count == want, flt
        req = m.QueryRequest(query=[1.0, 0.5], filter=flt, limit=10)
        assert indexed.query(req) == plain.query(req), flt
    db.close()


def test_repeated_filters_see_every_write() -> None:
    # Matches are cached per filter until the next write or index change: never stale.
    db = Database()
    col = _collection(db, "c")
    red = m.Filter(must=[m.FieldCondition(key="color", match=m.MatchValue(value="red"))])

    def count() -> int:
        return col.count(m.CountRequest(filter=red)).count

    def found() -> set[Any]:
        return {p.id for p in col.query(m.QueryRequest(query=[1.0, 0.0], filter=red)).points}

    assert count() == 2 and found() == {1, 4}
    col.set_payload(m.SetPayload(payload={"color": "red"}, points=[5]))
    assert count() == 3 and found() == {1, 4, 5}
    col.set_payload_index("color", m.PayloadSchemaType.KEYWORD)
    assert count() == 3 and found() == {1, 4, 5}
    col.delete([1])
    assert count() == 2 and found() == {4, 5}
    col.upsert([m.PointStruct(id=9, vector=[1, 1], payload={"color": ["red"]})])
    assert count() == 3 and found() == {4, 5, 9}
    col.set_payload_index("color", None)
    assert count() == 3 and found() == {4, 5, 9}
    db.close()
