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
from shoal.concurrency import share_work
from shoal.engine.deadline import NO_DEADLINE, Deadline
from shoal.engine.filtering import CompiledFilter, FilterMatch
from shoal.engine.search import NO_HITS, Hits, SearchedCollection
from shoal.index.sparse import SORT_SHARE, QueryTerms
from shoal.index.topk import floor_of_best, kth_largest

# What scoring one row by lookup costs (a binary search in each posting list), in postings
# scanned: pruning (see pruned) stops when scanning every posting would be cheaper.
LOOKUP_COST = 16
# A batch's queries on a column of at most this many rows are scored together
# (``together``); on a larger one, one by one.
TOGETHER_WIDTH = 2048
# ... and on the calling thread and helper threads at once (``share_work``) when their
# postings are at least this many: handing work to a helper costs some 50-80 us, what
# scanning 20,000-30,000 postings does. (100 BM25 queries of common words on 100k texts:
# 27 ms on one thread, 19.5 on two cores.)
SHARE_POSTINGS = 50_000


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
        whole = [i for i, pq in enumerate(queries) if not self._own_corpus(pq)]
        shared = self.col.terms_of([_vector(queries[i]) for i in whole], self.with_idf)
        out = [NO_HITS] * len(queries)  # each replaced below
        if len(whole) > 1 and self.state.high <= TOGETHER_WIDTH:
            if self.deadline is not NO_DEADLINE:
                self.deadline.check()
            masks = [self._mask(queries[i].filter) for i in whole]
            wanted = [queries[i].wanted for i in whole]
            for i, hits in zip(whole, together(shared, wanted, masks), strict=True):
                out[i] = hits
        else:

            def answer(entry: tuple[int, QueryTerms]) -> None:
                out[entry[0]] = self._alone(queries[entry[0]], entry[1])

            # A scan is mostly numpy work, which releases the GIL: many share the cores.
            # (Threads may race to fill ``_matches``: each gets a match of its filter.)
            alone = list(zip(whole, shared, strict=True))
            if sum(terms.postings for _, terms in alone) >= SHARE_POSTINGS:
                share_work(answer, alone)
            else:
                for entry in alone:
                    answer(entry)
        for i, pq in enumerate(queries):
            if self._own_corpus(pq):  # its IDF counts the rows of its own corpus
                assert pq.idf_corpus is not None
                corpus = self._match(pq.idf_corpus).mask(self.deadline)
                out[i] = self._alone(pq, self.col.terms(_vector(pq), True, corpus))
        return out

    def _alone(self, pq: SparseQuery, terms: QueryTerms) -> Hits:
        """The hits of one query, from its terms."""
        if self.deadline is not NO_DEADLINE:
            self.deadline.check()
        allowed = None if pq.filter is None else self._allowed(pq.filter)
        hits = pruned(terms, pq.wanted, allowed)
        return hits if hits is not None else scanned(terms, pq.wanted, allowed)

    def _mask(self, flt: CompiledFilter | None) -> np.ndarray | None:
        return None if flt is None else self._match(flt).mask(self.deadline)

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


def _vector(pq: SparseQuery) -> SparseRow:
    assert pq.sparse is not None, "a sparse search's query has a sparse vector"
    return pq.sparse


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
    sizes = [sum(len(rows) for rows, _ in t.parts) for t in order]
    # Past this many rows taken, scoring them by lookup costs more than one scan.
    limit = sum(sizes) / (LOOKUP_COST * len(order))
    if not _may_stop(sizes, k, limit):
        return None
    taken = np.zeros(0, np.int64)
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


def _may_stop(sizes: list[int], k: int, limit: float) -> bool:
    """Whether ``pruned`` may stop before it gives up, judged from the sizes of the terms'
    postings alone (in its order): it stops only once ``k`` rows are taken, and gives up
    once the rows taken and the next term's would pass ``limit``. Most queries of common
    words give up at their second term; this saves them the work of the first."""
    taken_most = taken_least = 0  # bounds on how many rows are taken so far
    for size in sizes[:-1]:
        if taken_least + size > limit:
            return False
        taken_most += size
        taken_least = max(taken_least, size)
        if taken_most >= k:
            return True
    return False


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


def together(
    terms: Sequence[QueryTerms], wanted: Sequence[int], masks: Sequence[np.ndarray | None]
) -> list[Hits]:
    """The hits of many queries on one column, scored together as a matrix (query x row):
    what ``pruned`` or ``scanned`` finds for each, with the same scores and ties.

    Per query, ``scanned`` makes some twenty numpy calls of a microsecond or more; on a
    small column (``TOGETHER_WIDTH``) scoring a hundred queries at once takes a fraction of
    that. A query's score in a row adds its terms' contributions in the query's order, as
    ``QueryTerms.dense_scores`` does: equal sums, bit for bit (but for the sign of a zero).

    Args:
        terms: each query's terms (``SparseColumn.terms_of``: a word's postings are one
            object, shared by the queries holding it).
        wanted: how many rows each query wants.
        masks: for each query, the rows its filter keeps (a bool mask from row 0), or None.

    Returns:
        One ``Hits`` per query.
    """
    n = len(terms)
    slots: dict[int, int] = {}
    postings: list[tuple[tuple[np.ndarray, np.ndarray], ...]] = []
    for qt in terms:
        for t in qt.terms:
            if id(t.parts) not in slots:
                slots[id(t.parts)] = len(postings)
                postings.append(t.parts)
    # (a part's rows ascend: the last is its highest)
    width = 1 + max((int(rows[-1]) for parts in postings for rows, _ in parts), default=-1)
    if not width:
        return [NO_HITS] * n
    # One row per distinct index; the last, all zero, stands for "no index" in a query
    # with fewer than ``depth`` of them.
    values = np.zeros((len(postings) + 1, width))
    held = np.zeros((len(postings) + 1, width), dtype=bool)
    for u, parts in enumerate(postings):
        for rows, vals in parts:
            values[u, rows] = vals
            held[u, rows] = True
    depth = max(len(qt.terms) for qt in terms)
    slot = np.full((depth, n), len(postings))
    weight = np.zeros((depth, n))
    for q, qt in enumerate(terms):
        for j, t in enumerate(qt.terms):
            slot[j, q] = slots[id(t.parts)]
            weight[j, q] = t.weight
    scores = values[slot[0]] * weight[0][:, None]
    touched = held[slot[0]]
    for j in range(1, depth):
        scores += values[slot[j]] * weight[j][:, None]
        touched |= held[slot[j]]
    for q, mask in enumerate(masks):
        if mask is not None:
            keep = np.zeros(width, dtype=bool)
            keep[: min(width, len(mask))] = mask[:width]
            touched[q] &= keep
    scores[~touched] = -np.inf
    # The k-th best score of each query, then the rows above it and, of those tied with
    # it, the lowest: exactly k rows (fewer when fewer rows match).
    k = np.minimum(np.maximum(np.asarray(wanted, dtype=np.int64), 0), touched.sum(axis=1))
    kth = np.sort(scores, axis=1)[np.arange(n), np.minimum(width - k, width - 1)]
    above = scores > kth[:, None]
    tied = scores == kth[:, None]
    need = k - above.sum(axis=1)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= need[:, None]))
    qs, rows = np.nonzero(chosen)
    picked = scores[qs, rows]
    order = np.lexsort((rows, -picked, qs))
    rows, picked = rows[order], picked[order].astype(np.float32)
    ends = np.cumsum(k).tolist()
    return [Hits(rows[a:b], picked[a:b]) for a, b in zip([0, *ends[:-1]], ends, strict=True)]


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
        kth = kth_largest(scores, k)
        keep = scores > kth
        # Of the rows tied with the k-th best, the lowest come first (``rows`` ascend): a
        # BM25 query of common words ties hundreds of rows, too many to sort.
        tied = np.flatnonzero(scores == kth)[: k - int(np.count_nonzero(keep))]
        keep[tied] = True
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))
    return Hits(rows[order], scores[order].astype(np.float32))
