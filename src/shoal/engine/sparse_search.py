"""Queries on a sparse vector column: exact dot products over its inverted index.

As Qdrant answers them (and qdrant-client's local mode): a point scores the dot product of
its vector with the query's (each query index weighed by its IDF with ``modifier: idf``,
``shoal.index.sparse``), and a point sharing no index with the query is no match at all.
Filters keep the rows they match; the best ``wanted`` rows come back, best first, a tie
broken by the lower row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from shoal.codec import SparseRow
from shoal.engine.deadline import NO_DEADLINE, Deadline
from shoal.engine.filtering import CompiledFilter, FilterMatch, Filters
from shoal.engine.payload_index import PayloadIndexes
from shoal.engine.search import Hits
from shoal.engine.state import CollectionState

_SAMPLE = 2048  # scores sampled to bound the k-th best (see best)


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
        state: the collection state.
        name: the sparse vector.
        with_idf: the vector's ``modifier`` is ``idf``.
        filters: the collection's filters.
        indexes: its payload indexes.
        deadline: when the batch's work must stop.
    """

    def __init__(
        self,
        state: CollectionState,
        name: str,
        with_idf: bool,
        filters: Filters,
        indexes: PayloadIndexes,
        deadline: Deadline,
    ) -> None:
        self.state = state
        self.col = state.sparse[name]
        self.with_idf = with_idf
        self.filters = filters
        self.indexes = indexes
        self.deadline = deadline
        self._matches: dict[object, FilterMatch] = {}

    def run(self, queries: Sequence[SparseQuery]) -> list[Hits]:
        """One ``Hits`` per query, best first, at least ``wanted`` when that many match.

        Raises:
            RequestTimeout: the deadline passed.
        """
        out = []
        for pq in queries:
            if self.deadline is not NO_DEADLINE:
                self.deadline.check()
            assert pq.sparse is not None
            corpus = None
            if self.with_idf and pq.idf_corpus is not None:
                corpus = self._match(pq.idf_corpus).mask(self.deadline)
            rows, scores = self.col.search(pq.sparse, self.with_idf, corpus)
            if pq.filter is not None and len(rows):
                keep = self._match(pq.filter).allowed(rows, self.deadline)
                rows, scores = rows[keep], scores[keep]
            out.append(best(rows, scores, pq.wanted))
        return out

    def _match(self, flt: CompiledFilter) -> FilterMatch:
        """The rows ``flt`` matches (one evaluation per filter in a batch)."""
        key = flt.key if flt.key is not None else id(flt)
        match = self._matches.get(key)
        if match is None:
            match = self.filters.match(self.state, flt, self.indexes, self.deadline)
            self._matches[key] = match
        return match


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
    if len(rows) > max(_SAMPLE, 4 * k):
        # The k-th best of any k of the scores bounds the k-th best of all from below: taken
        # from a sample, it leaves a few hundred rows to select from instead of every one
        # (selecting among 70k took 0.7 ms, most of a BM25 query at 100k documents).
        sample = scores[:: len(scores) // _SAMPLE]
        floor = np.partition(sample, len(sample) - k)[len(sample) - k]
        keep = scores >= floor
        rows, scores = rows[keep], scores[keep]
    if len(rows) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= kth  # the k best and any tied with the last of them
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))[:k]
    return Hits(rows[order], scores[order].astype(np.float32))
