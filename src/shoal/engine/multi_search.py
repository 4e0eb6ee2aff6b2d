"""Queries on a multivector column: exact MaxSim scans (``shoal.index.multivector``).

As Qdrant answers them (and qdrant-client's local mode, ``local/multi_distances.py``): every
live row that has the multivector and matches the filter is scored, Cosine and Dot scores
are similarities (higher first), Euclid and Manhattan ones distances (lower first). There
is no ANN index for multivectors; the queries of a batch with the same filter are scored
in one pass over the rows (their query rows stacked into one matrix product).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from shoal.engine.deadline import NO_DEADLINE, Deadline
from shoal.engine.filtering import CompiledFilter, FilterMatch
from shoal.engine.search import Hits, SearchedCollection
from shoal.engine.sparse_search import best
from shoal.index.multivector import shown_scores


class MultiQuery(Protocol):
    """What a multivector search needs of a prepared query (``engine.query.PreparedQuery``)."""

    @property
    def multi(self) -> np.ndarray | None: ...

    @property
    def filter(self) -> CompiledFilter | None: ...

    @property
    def wanted(self) -> int: ...


class MultiSearch:
    """The queries of one batch on one multivector column (the caller holds the state's
    read lock).

    Args:
        searcher: the collection searched.
        name: the multivector.
        deadline: when the batch's work must stop.
    """

    def __init__(self, searcher: SearchedCollection, name: str, deadline: Deadline) -> None:
        self.state = searcher.state
        self.col = searcher.state.multi[name]
        self.filters = searcher.filters
        self.indexes = searcher.indexes
        self.deadline = deadline

    def run(self, queries: Sequence[MultiQuery]) -> list[Hits]:
        """One ``Hits`` per query, best first, at least ``wanted`` when that many match.

        Raises:
            RequestTimeout: the deadline passed.
        """
        groups: dict[object, list[int]] = {}
        for i, pq in enumerate(queries):
            key = None if pq.filter is None else (pq.filter.key or id(pq.filter))
            groups.setdefault(key, []).append(i)
        out: list[Hits] = [Hits(np.zeros(0, np.int64), np.zeros(0, np.float32))] * len(queries)
        check = None if self.deadline is NO_DEADLINE else self.deadline.check
        for idxs in groups.values():
            rows = self.rows(queries[idxs[0]].filter)
            multis = [queries[i].multi for i in idxs]
            assert all(q is not None for q in multis)
            cores = self.col.core(multis, rows, check)  # type: ignore[arg-type]
            for i, core in zip(idxs, cores, strict=True):
                out[i] = self._best(rows, core, queries[i].wanted)
        return out

    def rows(self, flt: CompiledFilter | None) -> np.ndarray:
        """The live rows that have the multivector and match ``flt``, ascending."""
        st = self.state
        valid = st.alive[: st.high] & self.col.present[: st.high]
        if flt is not None:
            match: FilterMatch = self.filters.match(st, flt, self.indexes, self.deadline)
            valid &= match.mask(self.deadline)[: st.high]
        return np.flatnonzero(valid)

    def _best(self, rows: np.ndarray, core: np.ndarray, k: int) -> Hits:
        shown = shown_scores(core, self.col.distance)
        if self.col.similarity:
            return best(rows, shown, k)
        hits = best(rows, -shown, k)  # a distance: the smallest first
        return Hits(hits.rows, -hits.scores)
