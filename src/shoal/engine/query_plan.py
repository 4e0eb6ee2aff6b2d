"""Answering a batch of queries: exact products or the HNSW index, chosen per query.

Per vector column, ``shoal.index.planner.choose`` decides from the column's size, the
number of queries answered together and, for a filtered query, the estimated number of
matching rows (payload indexes make that cheap):

* exact, unfiltered: one matrix product for all such queries of the batch;
* exact, filtered: a product over the matching rows only (selective filters);
* HNSW: the index proposes candidates (``max(k, ef)`` of them, so re-ranking has room; ef is
  ``search_params.hnsw_ef``, by default the vector's ``ef_construct`` as in Qdrant), the
  rows the index has not caught up with yet (its backlog) are scored exactly beside them,
  and every candidate gets its final score from the float32 matrix
  (``search.final_scores``), so scores are exact whatever the index stores (f16, int8).
  With a filter the index over-fetches about ``ef / share`` candidates, keeps the matching
  ones and widens the fetch for a query still short.

A query never comes back short by accident: whenever the HNSW path yields fewer than the
wanted results while more rows qualify, the query is answered exactly instead.

The batch's ``Deadline`` is checked before each group of queries, in the filter evaluation
and before each widening round of an index search: between chunks of work, never per point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from shoal.engine.ann import CollectionAnn
from shoal.engine.deadline import NO_DEADLINE, Deadline
from shoal.engine.filter_plan import FilterCache, FilterMatch
from shoal.engine.payload_index import PayloadIndexes
from shoal.engine.search import (
    Hits,
    exact_search,
    final_scores,
    final_scores_batch,
    higher_is_better,
)
from shoal.engine.state import CollectionState
from shoal.index import HnswIndex
from shoal.index.planner import choose

if TYPE_CHECKING:  # reads imports this module to run its queries
    from shoal.engine.reads import PreparedQuery

_FILTER_GROWTH = 4  # fetch multiplier between post-filter rounds (as in HnswIndex.search)
_RERANK = 4
_NO_HITS = Hits(np.empty(0, np.int64), np.empty(0, np.float32))


@dataclass(frozen=True)
class QueryContext:
    """What a batch of queries on one collection searches with, besides the state.

    Attributes:
        invalid: per vector name, rows that are deleted or lack the vector.
        ann: the collection's ANN indexes.
        indexes: the collection's payload indexes.
        filters: the collection's cache of recent filter matches.
        deadline: when the batch's work must stop.
    """

    invalid: dict[str, np.ndarray]
    ann: CollectionAnn
    indexes: PayloadIndexes
    filters: FilterCache
    deadline: Deadline = NO_DEADLINE


def search_column(
    state: CollectionState, name: str, pqs: list[PreparedQuery], ctx: QueryContext
) -> list[Hits]:
    """Hits of queries on one vector column (the caller holds the state's read lock).

    Args:
        state: the collection state.
        name: the vector name.
        pqs: queries with a vector, all on this column.
        ctx: the batch's context.

    Returns:
        One ``Hits`` per query: at least ``limit + offset`` rows (plus the query point for
        a query by id) when that many points qualify, best first.
    """
    return _ColumnSearch(state, name, ctx).run(pqs)


class _ColumnSearch:
    """The queries of one batch on one vector column.

    Queries are answered in groups that share work: unfiltered exact ones share one matrix
    product, unfiltered HNSW ones (per ef) one batched index search, and filtered ones with
    the same filter (and search params) one filter evaluation plus one product over the
    matching rows or one batched index search.
    """

    def __init__(self, state: CollectionState, name: str, ctx: QueryContext) -> None:
        self.state = state
        self.col = state.columns[name]
        self.invalid = ctx.invalid[name]
        self.indexes = ctx.indexes
        self.filters = ctx.filters
        self.deadline = ctx.deadline
        settings = ctx.ann.settings[name]
        self.threshold = settings.full_scan_threshold_kb
        # Qdrant's default search ef is the graph's ef_construct (HnswGraphConfig.ef):
        # 100 unless configured. Measured on 1M vectors (f16): recall@10 0.87 at ef 64,
        # 0.925 at 128, 0.97 at 256.
        self.default_ef = settings.ef_construct
        self.searchable = ctx.ann.searchable(name)
        self.plans = ctx.ann.plans

    def run(self, pqs: list[PreparedQuery]) -> list[Hits]:
        groups: dict[object, list[int]] = {}
        for j, pq in enumerate(pqs):
            groups.setdefault(_group_key(pq, j), []).append(j)
        out: list[Hits] = [_NO_HITS] * len(pqs)
        for js in groups.values():
            self.deadline.check()
            group = [pqs[j] for j in js]
            for j, hits in zip(js, self._run_group(group, len(pqs)), strict=True):
                out[j] = hits
        return out

    def _run_group(self, pqs: list[PreparedQuery], batch: int) -> list[Hits]:
        """Queries with the same filter, ``exact`` flag and ef."""
        first, col = pqs[0], self.col
        ef = first.ef or self.default_ef
        available = self.searchable is not None
        if first.filter is None:
            plan = choose(
                col.count,
                batch,
                col.dim,
                self.threshold,
                None,
                first.exact,
                hnsw_available=available,
            )
            self.plans[plan] += len(pqs)
            if plan == "exact":
                return self._exact(pqs, None)
            return self._hnsw(pqs, ef, None)
        match = self.filters.match(self.state, first.filter, self.indexes, self.deadline)
        plan = choose(
            col.count,
            len(pqs),
            col.dim,
            self.threshold,
            match.estimate(self.deadline),
            first.exact,
            hnsw_available=available,
        )
        self.plans[plan] += len(pqs)
        if plan == "exact":
            return self._exact(pqs, match)
        return self._hnsw(pqs, ef, match)

    # ---------------------------------------------------------------------- exact

    def _exact(self, pqs: list[PreparedQuery], match: FilterMatch | None) -> list[Hits]:
        """One product for the group: over all rows, or over the rows the filter matches.

        A query by id keeps its own point among the candidates; ``_wanted`` counts it and
        the result page drops it.
        """
        queries = np.stack([pq.vector for pq in pqs])  # type: ignore[misc]
        k = max(_wanted(pq) for pq in pqs)
        if match is None:
            return exact_search(self.col, self.state.high, queries, k, invalid=self.invalid)
        rows, gathered = match.gathered(self.col, self.deadline)
        return exact_search(
            self.col, self.state.high, queries, k, candidates=rows, gathered=gathered
        )

    # ----------------------------------------------------------------------- hnsw

    def _hnsw(self, pqs: list[PreparedQuery], ef: int, match: FilterMatch | None) -> list[Hits]:
        """Index candidates (post-filtered, widened while short) plus the backlog rows,
        ranked by exact scores; a query still short is answered exactly."""
        assert self.searchable is not None
        index, backlog = self.searchable
        queries = np.stack([pq.vector for pq in pqs])  # type: ignore[misc]
        size = len(index)
        count = min(size, max(_fetch(pq, ef) for pq in pqs))
        share = 1.0
        if match is not None:
            share = max(match.estimate(self.deadline), 1) / max(self.col.count, 1)
            # The binding has no in-graph filter: over-fetch so that about ef candidates
            # survive it, as many as an unfiltered search would consider. Measured on 1M
            # vectors (f16, ef 100): recall 0.955 at 50% and 0.987 at 10% selectivity,
            # against 0.905 / 0.969 keeping ef/4 and 0.85 / 0.94 aiming at k (ef 64); the
            # price is throughput at 10% (~500 against ~680 q/s). A query still short is
            # widened below.
            want = max(_wanted(pq) for pq in pqs)
            count = min(size, math.ceil(max(count, 1.5 * want) / share))
        rows, keep = self._candidates(index, queries, count, ef, match)
        if not len(backlog):
            # The usual case: every query whose candidates suffice is ranked in one go.
            ranked = self._rank_batch(rows, keep, pqs, queries)
            short = [j for j, hits in enumerate(ranked) if hits is None]
            again = iter(
                self._hnsw_each(
                    [pqs[j] for j in short],
                    queries[short],
                    rows[short],
                    keep[short],
                    count,
                    ef,
                    match,
                    None,
                )
                if short
                else ()
            )
            return [hits if hits is not None else next(again) for hits in ranked]
        if match is not None:
            backlog = backlog[match.allowed(backlog, self.deadline)]
        k = max(_wanted(pq) for pq in pqs)
        extra = exact_search(self.col, self.state.high, queries, k, candidates=backlog)
        return self._hnsw_each(pqs, queries, rows, keep, count, ef, match, extra)

    def _hnsw_each(
        self,
        pqs: list[PreparedQuery],
        queries: np.ndarray,
        rows: np.ndarray,
        keep: np.ndarray,
        count: int,
        ef: int,
        match: FilterMatch | None,
        extra: list[Hits] | None,
    ) -> list[Hits]:
        """Queries one at a time: widened while short, merged with the backlog's hits."""
        assert self.searchable is not None
        index = self.searchable[0]
        size = len(index)
        out = []
        for j, pq in enumerate(pqs):
            found, wider = rows[j][keep[j]], count
            while len(found) < _wanted(pq) and wider < size:
                self.deadline.check()
                wider = min(size, wider * _FILTER_GROWTH)
                rows_j, keep_j = self._candidates(index, queries[j : j + 1], wider, ef, match)
                found = rows_j[0][keep_j[0]]
            # The index returns its candidates nearest first: exact scores are needed only
            # for the head of the list (quantization reorders near neighbours, it does not
            # push them back by dozens of places).
            found = found[: _rerank(pq)]
            if extra is not None:
                found = np.concatenate([found, extra[j].rows])
            hits = self._rank(np.unique(found), pq)
            if len(hits.rows) < _wanted(pq):
                hits = self._short(pq, hits, match)
            out.append(hits)
        return out

    def _candidates(
        self,
        index: HnswIndex,
        queries: np.ndarray,
        count: int,
        ef: int,
        match: FilterMatch | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The index's candidates as a (queries, count) matrix of rows, nearest first, and
        which of them are eligible (alive, with this vector, matching the filter)."""
        if count <= 0:
            return np.empty((len(queries), 0), np.int64), np.empty((len(queries), 0), bool)
        rows = self._rows_of(index.search(queries, count, ef)[0])
        keep = rows >= 0
        if match is not None:
            keep[keep] = match.allowed(rows[keep], self.deadline)
        return rows, keep

    def _short(self, pq: PreparedQuery, hits: Hits, match: FilterMatch | None) -> Hits:
        """An HNSW answer with fewer than the wanted rows: if more rows qualify (the graph
        missed some), answer exactly; a query never comes back short when more match."""
        assert pq.vector is not None
        own = pq.exclude_row is not None
        if match is None:
            qualifying = self.col.count
        else:
            rows = match.rows(self.deadline)
            rows = rows[self.col.present[rows]]
            qualifying = len(rows)
        if qualifying - own <= len(hits.rows):
            return hits
        self.plans["fallback"] += 1
        if match is None:
            return exact_search(
                self.col, self.state.high, pq.vector[None], _wanted(pq), invalid=self.invalid
            )[0]
        return exact_search(
            self.col, self.state.high, pq.vector[None], _wanted(pq), candidates=rows
        )[0]

    def _rows_of(self, serials: np.ndarray) -> np.ndarray:
        """Index keys → current rows; -1 for a deleted point or one without this vector."""
        rows = np.full(serials.shape, -1, dtype=np.int64)
        valid = serials >= 0
        found = self.state.row_of_serial[serials[valid]]
        alive = found >= 0
        alive[alive] = self.col.present[found[alive]]
        rows[valid] = np.where(alive, found, -1)
        return rows

    def _rank_batch(
        self, rows: np.ndarray, keep: np.ndarray, pqs: list[PreparedQuery], queries: np.ndarray
    ) -> list[Hits | None]:
        """``_rank`` of every query's first ``_rerank`` eligible candidates, computed for the
        whole batch at once (one gather, one batched product, one sort); None for a query
        with fewer eligible candidates than it wants (it is widened one at a time).

        Equal scores are ordered by row, as ``_rank`` orders them.
        """
        own = np.array([-2 if pq.exclude_row is None else pq.exclude_row for pq in pqs])
        keep = keep & (rows != own[:, None])
        rerank = np.array([_rerank(pq) for pq in pqs])
        width = min(rows.shape[1], int(rerank.max()))
        # Eligible candidates first, each query's in index order, then its first `rerank`.
        first = np.argsort(~keep, axis=1, kind="stable")[:, :width]
        cand = np.take_along_axis(rows, first, axis=1)
        ok = np.take_along_axis(keep, first, axis=1) & (np.arange(width) < rerank[:, None])
        cand = np.where(ok, cand, -1)
        cand.sort(axis=1)
        ok = cand >= 0
        scores = final_scores_batch(self.col, np.where(ok, cand, 0), queries).astype(np.float32)
        key = -scores if higher_is_better(self.col.distance) else scores.copy()
        key[~ok] = np.inf
        order = np.argsort(key, axis=1, kind="stable")
        eligible = ok.sum(axis=1).tolist()
        out: list[Hits | None] = []
        for j, pq in enumerate(pqs):
            wanted = _wanted(pq) - (pq.exclude_row is not None)
            if eligible[j] < wanted:
                out.append(None)
                continue
            top = order[j, :wanted]
            out.append(Hits(cand[j, top], scores[j, top]))
        return out

    def _rank(self, rows: np.ndarray, pq: PreparedQuery) -> Hits:
        """The best ``_wanted(pq)`` of ``rows`` by their exact (float32) scores, without
        the query's own point."""
        if pq.exclude_row is not None:
            rows = rows[rows != pq.exclude_row]
        if not len(rows):
            return _NO_HITS
        assert pq.vector is not None
        scores = final_scores(self.col, rows, pq.vector).astype(np.float32)
        key = -scores if higher_is_better(self.col.distance) else scores
        order = np.argsort(key, kind="stable")[: _wanted(pq)]
        return Hits(rows[order], scores[order])


def _group_key(pq: PreparedQuery, position: int) -> object:
    """Queries with equal keys are answered together."""
    if pq.filter is None:
        return (None, pq.exact, pq.ef)
    try:
        return (pq.filter.tree, pq.exact, pq.ef, hash(pq.filter.tree))
    except TypeError:  # a tree holding a list (Milvus array equality): its own group
        return ("alone", position)


def _wanted(pq: PreparedQuery) -> int:
    """Results to compute: the page and what precedes it, plus the query point itself."""
    return pq.limit + pq.offset + (pq.exclude_row is not None)


def _rerank(pq: PreparedQuery) -> int:
    """Index candidates re-ranked by exact scores: 4x the results (measured on 100k
    vectors: int8 + 4x rescoring recall 0.998, against 0.984 for int8 alone), or more with
    ``oversampling``."""
    return max(_RERANK * _wanted(pq), math.ceil(_wanted(pq) * pq.oversampling))


def _fetch(pq: PreparedQuery, ef: int) -> int:
    """Candidates to ask the index for: at least ef (its search visits that many anyway)."""
    return max(ef, math.ceil(_wanted(pq) * max(pq.oversampling, 1.0)))
