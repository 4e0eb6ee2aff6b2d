"""The sparse column's inverted index scores every query as a brute-force dot product over
the rows' current vectors, whatever mix of writes, rebuilds and delta reads led there."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shoal.codec import SparseRow
from shoal.engine import sparse_search
from shoal.engine.sparse_search import best, pruned, scanned, together
from shoal.index import sparse as sparse_index
from shoal.index.sparse import SparseColumn, idf

ROWS = 12
vectors = st.dictionaries(
    st.integers(0, 15), st.floats(-2, 2, allow_nan=False, width=32), max_size=5
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, ROWS - 1), vectors),
        st.tuples(st.just("clear"), st.integers(0, ROWS - 1), st.just({})),
        st.tuples(st.just("query"), st.integers(0, ROWS - 1), vectors),
    ),
    max_size=40,
)


def row(vector: dict[int, float]) -> SparseRow:
    keys = sorted(vector)
    return SparseRow(
        np.asarray(keys, dtype=np.uint32), np.asarray([vector[k] for k in keys], np.float32)
    )


def expected(
    model: dict[int, dict[int, float]],
    query: dict[int, float],
    with_idf: bool,
    corpus: set[int] | None,
) -> dict[int, float]:
    """Brute force: every row sharing an index with the query, and its score."""
    counted = [r for r in model if corpus is None or r in corpus]
    out: dict[int, float] = {}
    for r, vec in model.items():
        shared = set(vec) & set(query)
        if not shared:
            continue
        score = 0.0
        for i in shared:
            weight = float(np.float32(query[i]))
            if with_idf:
                df = sum(1 for c in counted if i in model[c])
                weight *= idf(df, len(counted))
            score += float(np.float32(vec[i])) * weight
        out[r] = score
    return out


@contextmanager
def rebuild_after(rows: int) -> Iterator[None]:
    saved = sparse_index.REBUILD_MIN
    sparse_index.REBUILD_MIN = rows
    try:
        yield
    finally:
        sparse_index.REBUILD_MIN = saved


@settings(max_examples=300, deadline=None)
@given(ops=ops, rebuild=st.integers(0, 6), with_idf=st.booleans(), corpus_bits=st.integers(0, 4095))
def test_search_equals_brute_force(
    ops: list[tuple[str, int, dict[int, float]]], rebuild: int, with_idf: bool, corpus_bits: int
) -> None:
    col = SparseColumn(4)
    col.grow(ROWS)
    model: dict[int, dict[int, float]] = {}
    corpus = {r for r in range(ROWS) if corpus_bits >> r & 1}
    mask = np.array([r in corpus for r in range(ROWS)])
    with rebuild_after(rebuild):
        for op, r, vector in ops:
            if op == "set":
                col.set_rows([r], [row(vector)])
                model[r] = vector
            elif op == "clear":
                col.clear_rows([r, r])  # a row may repeat
                model.pop(r, None)
            else:
                for use_corpus in (False, True):
                    rows, scores = col.search(row(vector), with_idf, mask if use_corpus else None)
                    want = expected(model, vector, with_idf, corpus if use_corpus else None)
                    assert rows.tolist() == sorted(want)
                    for got, r_ in zip(scores.tolist(), rows.tolist(), strict=True):
                        assert math.isclose(got, want[r_], rel_tol=1e-9, abs_tol=1e-9)
            assert col.count == len(model)
            assert col.present.tolist() == [r in model for r in range(ROWS)]


def test_a_rebuild_leaves_the_mask_a_search_of_the_old_base_holds() -> None:
    col = SparseColumn(8)
    with rebuild_after(0):
        col.set_rows([0, 1], [row({1: 1.0}), row({1: 2.0})])
        col._postings()  # the base: rows 0 and 1
    with rebuild_after(100):
        col.set_rows([0], [row({2: 1.0})])
        old_base, _, old_stale = col._postings()  # a delta: row 0 stale in the base
    assert old_stale is not None and old_stale[0]
    with rebuild_after(0):
        new_base, _, new_stale = col._postings()  # rebuilt
    assert new_base is not old_base and new_stale is None
    # A search still reading the old base keeps masking its stale row.
    assert old_stale[0]


def test_a_bulk_write_builds_the_postings_and_small_writes_leave_them_to_the_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builds: list[int] = []
    build = sparse_index._Postings.build

    def counted(rows: list[int], vectors: list[tuple[np.ndarray, np.ndarray]]) -> object:
        builds.append(len(rows))
        return build(rows, vectors)

    monkeypatch.setattr(sparse_index._Postings, "build", counted)
    col = SparseColumn(4000)
    col.fill(0, [row({i % 7: 1.0}) for i in range(3000)])
    assert builds == [3000]  # the load built the postings ...
    col.search(row({1: 1.0}), False)
    assert builds == [3000]  # ... so its first query builds none
    for r in (5, 6, 7, 8):
        col.set_rows([r], [row({2: 1.0})])
    # A one-row write builds postings of at most EAGER_BUILD rows, never the 3,000.
    assert all(n <= sparse_index.EAGER_BUILD for n in builds[1:])
    written = len(builds)
    rows, _ = col.search(row({2: 1.0}), False)
    assert builds[written:] == [4]  # the query builds the delta of the four rows
    assert rows.tolist() == sorted({i for i in range(3000) if i % 7 == 2} | {5, 6, 7, 8})


def test_a_write_whose_head_start_build_fails_still_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build = sparse_index._Postings.build
    failures = [MemoryError("no room")]

    def failing_once(rows: list[int], vectors: list[tuple[np.ndarray, np.ndarray]]) -> object:
        if failures:
            raise failures.pop()
        return build(rows, vectors)

    monkeypatch.setattr(sparse_index._Postings, "build", failing_once)
    col = SparseColumn(8)
    col.set_rows([0, 1], [row({1: 1.0}), row({1: 2.0, 2: 1.0})])  # its build fails: no error
    assert not failures and col.count == 2
    rows, scores = col.search(row({1: 1.0}), False)  # the query builds them
    assert rows.tolist() == [0, 1] and scores.tolist() == [1.0, 2.0]


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 9000),
    k=st.integers(0, 40),
    levels=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_best_rows_are_the_top_k_ties_by_row(n: int, k: int, levels: int, seed: int) -> None:
    """``best`` (which bounds the k-th best score from a sample on large inputs) selects
    exactly what a full sort selects, with many tied scores."""
    rng = np.random.default_rng(seed)
    scores = np.floor(rng.random(n) * levels) / 3  # few distinct values: many ties
    rows = np.sort(rng.choice(10 * n + 1, size=n, replace=False))
    hits = best(rows, scores, k)
    order = np.lexsort((rows, -scores))[:k]
    assert hits.rows.tolist() == rows[order].tolist()
    assert hits.scores.tolist() == scores[order].astype(np.float32).tolist()


def apply_writes(col: SparseColumn, ops: list[tuple[str, int, dict[int, float]]]) -> None:
    """The ``set`` and ``clear`` operations of ``ops``, in order (queries skipped)."""
    for op, r, vector in ops:
        if op == "set":
            col.set_rows([r], [row(vector)])
        elif op == "clear":
            col.clear_rows([r])


def top_k(col: SparseColumn, query: SparseRow, with_idf: bool, k: int, keep: np.ndarray | None):
    """What a sparse search answers, and the reference: every row scored, then ``best``."""
    terms = col.terms(query, with_idf)
    allowed = None if keep is None else (lambda rows: keep[rows])
    hits = pruned(terms, k, allowed)
    found = hits if hits is not None else scanned(terms, k, allowed)
    rows, scores = col.search(query, with_idf)
    if keep is not None:
        rows, scores = rows[keep[rows]], scores[keep[rows]]
    return found, best(rows, scores, k), hits is not None


# Few indexes, so that rows and queries share them often and pruning has work to do.
few = st.dictionaries(
    st.integers(0, 3), st.floats(-2, 2, allow_nan=False, width=32), min_size=1, max_size=3
)
dense_ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, ROWS - 1), few),
        st.tuples(st.just("clear"), st.integers(0, ROWS - 1), st.just({})),
        st.tuples(st.just("query"), st.integers(0, ROWS - 1), few),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    ops=dense_ops,
    rebuild=st.integers(0, 6),
    with_idf=st.booleans(),
    k=st.integers(0, 14),
    keep_bits=st.one_of(st.none(), st.integers(0, 4095)),
    sort_share=st.sampled_from([0, 10**6]),
)
@example(  # indexes with negative bounds: the others' sum is no bound for a row holding one
    ops=[
        ("set", 0, {1: -1.0}),
        ("set", 1, {0: 0.0}),
        ("set", 2, {2: 1.0, 0: 0.0}),
        ("query", 0, {2: -1.0, 0: 0.0, 1: 1.0}),
    ],
    rebuild=0,
    with_idf=False,
    k=2,
    keep_bits=None,
    sort_share=0,
)
def test_top_k_by_pruning_or_scanning_is_best_of_every_row(
    ops: list[tuple[str, int, dict[int, float]]],
    rebuild: int,
    with_idf: bool,
    k: int,
    keep_bits: int | None,
    sort_share: int,
) -> None:
    """MaxScore pruning (forced here on tiny columns) and both scans (sorted postings, dense
    accumulation) give exactly the hits of scoring every row: rows, scores and ties, with
    negative values, stale rows, a delta and a filter."""
    col = SparseColumn(ROWS)
    keep = None if keep_bits is None else np.array([keep_bits >> r & 1 == 1 for r in range(ROWS)])
    with rebuild_after(rebuild), lookup_cost(1e-9), sort_share_of(sort_share):
        for op, r, vector in ops:
            if op == "set":
                col.set_rows([r], [row(vector)])
            elif op == "clear":
                col.clear_rows([r])
            else:
                found, want, _ = top_k(col, row(vector), with_idf, k, keep)
                assert found.rows.tolist() == want.rows.tolist()
                assert found.scores.tolist() == want.scores.tolist()


@settings(max_examples=300, deadline=None)
@given(
    ops=dense_ops,
    queries=st.lists(few, min_size=1, max_size=6),
    rebuild=st.integers(0, 6),
    with_idf=st.booleans(),
    k=st.integers(0, 14),
    keep_bits=st.one_of(st.none(), st.integers(0, 4095)),
)
def test_a_batch_looking_up_postings_once_gets_each_querys_own_hits(
    ops: list[tuple[str, int, dict[int, float]]],
    queries: list[dict[int, float]],
    rebuild: int,
    with_idf: bool,
    k: int,
    keep_bits: int | None,
) -> None:
    """A batch's queries, their postings looked up once for them all (``terms_of``), get
    exactly the terms and the hits each gets alone: rows, scores, ties."""
    col = SparseColumn(ROWS)
    keep = None if keep_bits is None else np.array([keep_bits >> r & 1 == 1 for r in range(ROWS)])
    allowed = None if keep is None else (lambda rows: keep[rows])
    with rebuild_after(rebuild):
        apply_writes(col, ops)
        batch = [row(q) for q in queries]
        terms = col.terms_of(batch, with_idf)
        for j, query in enumerate(batch):
            alone = col.terms(query, with_idf).terms
            assert [(t.weight, t.bound) for t in terms[j].terms] == [
                (t.weight, t.bound) for t in alone
            ]
            assert [[r.tolist() for r, _ in t.parts] for t in terms[j].terms] == [
                [r.tolist() for r, _ in t.parts] for t in alone
            ]
            hits = pruned(terms[j], k, allowed)
            found = hits if hits is not None else scanned(terms[j], k, allowed)
            _, want, _ = top_k(col, query, with_idf, k, keep)
            assert found.rows.tolist() == want.rows.tolist()
            assert found.scores.tolist() == want.scores.tolist()


@settings(max_examples=300, deadline=None)
@given(
    ops=dense_ops,
    queries=st.lists(
        st.tuples(few, st.integers(0, 14), st.one_of(st.none(), st.integers(0, 4095))),
        min_size=1,
        max_size=8,
    ),
    rebuild=st.integers(0, 6),
    with_idf=st.booleans(),
)
def test_queries_scored_together_get_each_querys_own_hits(
    ops: list[tuple[str, int, dict[int, float]]],
    queries: list[tuple[dict[int, float], int, int | None]],
    rebuild: int,
    with_idf: bool,
) -> None:
    """A batch scored as one matrix (``together``) gets exactly the hits each query gets
    alone: rows, scores (bit for bit) and ties, with its own k and filter, negative
    values, stale rows and a delta."""
    col = SparseColumn(ROWS)
    with rebuild_after(rebuild):
        apply_writes(col, ops)
        batch = [row(q) for q, _, _ in queries]
        keeps = [
            None if bits is None else np.array([bits >> r & 1 == 1 for r in range(ROWS)])
            for _, _, bits in queries
        ]
        found = together(col.terms_of(batch, with_idf), [k for _, k, _ in queries], keeps)
        for query, (_, k, _), keep, hits in zip(batch, queries, keeps, found, strict=True):
            _, want, _ = top_k(col, query, with_idf, k, keep)
            assert hits.rows.tolist() == want.rows.tolist()
            assert hits.scores.tolist() == want.scores.tolist()


def test_pruning_answers_a_rare_and_a_common_index_from_the_rare_ones_rows() -> None:
    """At realistic sizes a query holding a rare index is answered by pruning (so the
    hypothesis test above checks a path that runs), and the answer is the full scan's."""
    rng = np.random.default_rng(7)
    n = 20_000
    col = SparseColumn(n)
    vectors = []
    for i in range(n):
        held = {0: float(rng.uniform(0.5, 2))}  # index 0 is in every row
        if i % 400 == 0:
            held[1] = float(rng.uniform(0.5, 2))  # index 1 in 50 rows
        vectors.append(row(held))
    col.set_rows(list(range(n)), vectors)
    for k in (1, 10, 40):
        found, want, was_pruned = top_k(col, row({0: 1.0, 1: 1.0}), True, k, None)
        assert was_pruned
        assert found.rows.tolist() == want.rows.tolist()
        assert found.scores.tolist() == want.scores.tolist()


@contextmanager
def lookup_cost(cost: float) -> Iterator[None]:
    saved = sparse_search.LOOKUP_COST
    sparse_search.LOOKUP_COST = cost  # type: ignore[assignment]
    try:
        yield
    finally:
        sparse_search.LOOKUP_COST = saved


@contextmanager
def sort_share_of(share: int) -> Iterator[None]:
    saved = sparse_search.SORT_SHARE
    sparse_search.SORT_SHARE = share
    try:
        yield
    finally:
        sparse_search.SORT_SHARE = saved


def test_stored_vectors_are_not_walked_by_the_garbage_collector() -> None:
    """Each full collection walks every tracked object: a column of 10k rows must not add
    10k of them (a NamedTuple per row did, about 50 ms per collection at 100k rows)."""
    gc.collect()
    before = len(gc.get_objects())
    col = SparseColumn(10_000)
    col.set_rows(list(range(10_000)), [row({i % 50: 1.0, 50 + i % 7: 0.5}) for i in range(10_000)])
    gc.collect()
    assert len(gc.get_objects()) - before < 1_000
    kept = col.vector(5)
    assert kept is not None and isinstance(kept, SparseRow)
    assert kept.indices.tolist() == [5, 55] and kept.values.tolist() == [1.0, 0.5]
