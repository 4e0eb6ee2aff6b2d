"""Queries on a sparse vector column: exact dot products over its inverted index.

As Qdrant answers them (and qdrant-client's local mode): a point scores the dot product of
its vector with the query's (each query index weighed by its IDF with ``modifier: idf``,
``shoal.index.sparse``), and a point sharing no index with the query is no match at all.
Filters keep the rows they match; the best ``wanted`` rows come back, best first, a tie
broken by the lower row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from shoal.codec import SparseRow
from shoal.engine.deadline import NO_DEADLINE, Deadline
from shoal.engine.filtering import CompiledFilter, FilterMatch
from shoal.engine.search import Hits, SearchedCollection
from shoal.index.sparse import SORT_SHARE, QueryTerms
from shoal.index.topk import floor_of_best, kth_largest

# What scoring one row by lookup costs (a binary search in each posting list), in postings
# scanned: pruning (see pruned) stops when scanning every posting would be cheaper.
LOOKUP_COST = 16


class SparseQuery(Protocol):
    """What a sparse search needs of a prepared query (``engine.query.PreparedQuery``)."""

    @property
    def sparse(self) -> SparseRow | None: ...

    @property
    def filter(self) -> CompiledFilter | None: ...

    @property
    def wanted(self) -> int: ...

    @property
    def idf_corpus(self) -> CompiledFilter | None: ...


class SparseSearch:
    """The queries of one batch on one sparse vector column (the caller holds the state's
    read lock).

    Args:
        searcher: the collection searched.
        name: the sparse vector.
        deadline: when the batch's work must stop.
        with_idf: the vector's ``modifier`` is ``idf``.
    """

    def __init__(
        self, searcher: SearchedCollection, name: str, deadline: Deadline, with_idf: bool
    ) -> None:
        self.state = searcher.state
        self.col = searcher.state.sparse[name]
        self.filters = searcher.filters
        self.indexes = searcher.indexes
        self.deadline = deadline
        self.with_idf = with_idf
        self._matches: dict[object, FilterMatch] = {}

    def run(self, queries: Sequence[SparseQuery]) -> list[Hits]:
        """One ``Hits`` per query, best first, at least ``wanted`` when that many match.
        Queries that count IDF over the whole column look up each index's postings once
        for them all (``SparseColumn.terms_of``): a batch's BM25 queries share most words.

        Raises:
            RequestTimeout: the deadline passed.
        """
        whole = [pq.sparse for pq in queries if not self._own_corpus(pq)]
        shared = iter(self.col.terms_of(whole, self.with_idf))  # type: ignore[arg-type]
        out = []
        for pq in queries:
            if self.deadline is not NO_DEADLINE:
                self.deadline.check()
            assert pq.sparse is not None
            if self._own_corpus(pq):
                assert pq.idf_corpus is not None
                corpus = self._match(pq.idf_corpus).mask(self.deadline)
                terms = self.col.terms(pq.sparse, True, corpus)
            else:
                terms = next(shared)
            allowed = None if pq.filter is None else self._allowed(pq.filter)
            hits = pruned(terms, pq.wanted, allowed)
            out.append(hits if hits is not None else scanned(terms, pq.wanted, allowed))
        return out

    def _own_corpus(self, pq: SparseQuery) -> bool:
        """The query counts IDF over the rows its own filter matches."""
        return self.with_idf and pq.idf_corpus is not None

    def _allowed(self, flt: CompiledFilter) -> Callable[[np.ndarray], np.ndarray]:
        match = self._match(flt)
        return lambda rows: match.allowed(rows, self.deadline)

    def _match(self, flt: CompiledFilter) -> FilterMatch:
        """The rows ``flt`` matches (one evaluation per filter in a batch)."""
        key = flt.key if flt.key is not None else id(flt)
        match = self._matches.get(key)
        if match is None:
            match = self.filters.match(self.state, flt, self.indexes, self.deadline)
            self._matches[key] = match
        return match


def pruned(
    terms: QueryTerms, k: int, allowed: Callable[[np.ndarray], np.ndarray] | None
) -> Hits | None:
    """The ``k`` best rows for ``terms`` found from the postings of their rarest indexes
    (MaxScore), or None when that would not save work.

    Indexes are taken in order of their bound, highest first (with BM25's IDF, the rare
    ones). A row that holds none of the indexes taken so far holds some of the others, so
    scores at most ``_most``: the sum of their positive bounds, or with none positive the
    highest; once the ``k``-th best score among the rows taken beats that, no other row can
    reach the top ``k``, and the long postings of common indexes are only
    looked up for the rows taken, never scanned. The answer is the one ``best`` gives over
    every row: the same scores, the same ties.

    Args:
        terms: the query's terms.
        k: how many rows to find.
        allowed: the rows the query's filter keeps (a mask over the rows given), or None.

    Returns:
        The hits, or None: scan every posting instead.
    """
    if k <= 0 or len(terms.terms) < 2:
        return None
    order = sorted(terms.terms, key=lambda t: t.bound, reverse=True)
    taken = np.zeros(0, np.int64)
    # Past this many rows taken, scoring them by lookup costs more than one scan.
    limit = terms.postings / (LOOKUP_COST * len(order))
    for i, term in enumerate(order[:-1]):
        more = term.rows()
        if len(taken) + len(more) > limit:
            return None
        taken = _union(taken, more)
        rows = taken if allowed is None else taken[allowed(taken)]
        if len(rows) < k:
            continue
        scores = terms.scores(rows)
        kth = kth_largest(scores, k)
        rest = _most([t.bound for t in order[i + 1 :]])
        # The bounds' sum may round a little differently from a row's sum of contributions.
        if kth - rest > 1e-9 * max(1.0, abs(rest)):
            return best(rows, scores, k)
    return None


def _most(bounds: list[float]) -> float:
    """The most a row holding some (at least one) of these indexes can score."""
    positive = [b for b in bounds if b > 0]
    return sum(positive) if positive else max(bounds)


def scanned(terms: QueryTerms, k: int, allowed: Callable[[np.ndarray], np.ndarray] | None) -> Hits:
    """The ``k`` best rows for ``terms``, every posting scanned.

    Args:
        terms: the query's terms.
        k: how many rows to find.
        allowed: the rows the query's filter keeps (a mask over the rows given), or None.

    Returns:
        The hits.
    """
    if k <= 0:
        return best(np.zeros(0, np.int64), np.zeros(0, np.float64), k)
    if terms.postings * SORT_SHARE < terms.size:  # few: sorted (see QueryTerms.all_scores)
        rows, scores = terms.all_scores()
    else:
        scores = terms.dense_scores()
        if allowed is None:  # only rows that may be among the k best are gathered
            floor = floor_of_best(scores, k)
            rows = np.flatnonzero(scores >= floor if floor > -np.inf else scores > floor)
        else:
            rows = np.flatnonzero(scores > -np.inf)
        scores = scores[rows]
    if allowed is not None and len(rows):
        keep = allowed(rows)
        rows, scores = rows[keep], scores[keep]
    return best(rows, scores, k)


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rows in ``a`` (ascending, unique) or ``b``, ascending and unique (np.union1d
    hashes: ten times slower on these sizes)."""
    rows = np.concatenate([a, b])
    rows.sort()
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = rows[1:] != rows[:-1]
    return rows[keep]


def best(rows: np.ndarray, scores: np.ndarray, k: int) -> Hits:
    """The ``k`` highest-scoring rows, best first (ties: lower row first).

    Args:
        rows: candidate rows, ascending.
        scores: their scores.
        k: how many to keep.

    Returns:
        The hits (float32 scores, as Qdrant reports them).
    """
    if k <= 0 or not len(rows):
        return Hits(np.zeros(0, np.int64), np.zeros(0, np.float32))
    if len(rows) > k:
        keep = scores >= kth_largest(scores, k)  # the k best and any tied with the last
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))[:k]
    return Hits(rows[order], scores[order].astype(np.float32))
