"""Queries on a dense vector column: the plan (``choose_method``, ``DenseSearch``) and the
search kernels.

The second and third steps of the query pipeline (``shoal.engine.query``) for dense vectors.
The batch's queries on one column with the same filter and search params form a group, and
``choose_method`` picks how the group is answered: exactly (one matrix product over all
rows, or over the rows the filter matches) or by the HNSW index (post-filtered, widened
while short, plus the rows the index has not caught up with).

The kernels: exact nearest-neighbour search over a dense vector column, and the exact
(float32) scores that rank an index's candidates. The one implementation of the four
distances: the HNSW index (``shoal.index``) only proposes candidates.

Every distance is turned into a "goodness" where larger is better, so one top-k routine
serves all four: cosine and dot use the product directly; Euclid uses ``2·x·q - |x|²`` (the
squared distance up to a constant, still one matrix product); Manhattan sums absolute
differences in blocks. Euclid scores of the chosen rows are then recomputed directly, because
the expanded form loses precision for close points.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from shoal import models as m
from shoal.engine.ann import CollectionAnn, SearchableIndex
from shoal.engine.ann_settings import (
    BATCH_FROM,
    EXACT_BELOW_BATCH,
    EXACT_BELOW_SINGLE,
    MIN_POST_FILTER_SHARE,
)
from shoal.engine.deadline import NO_DEADLINE, Deadline
from shoal.engine.filtering import CompiledFilter, FilterMatch, Filters
from shoal.engine.payload_index import PayloadIndexes
from shoal.engine.state import CollectionState, VectorColumn
from shoal.errors import InvalidQuery
from shoal.index import HnswIndex, blas
from shoal.index.topk import kth_largest

_MANHATTAN_BLOCK = 4096


@dataclass(frozen=True)
class Hits:
    """Result of one query: row numbers best first, and their Qdrant scores."""

    rows: np.ndarray
    scores: np.ndarray


NO_HITS = Hits(np.empty(0, np.int64), np.empty(0, np.float32))


def _goodness(
    col: VectorColumn,
    rows: np.ndarray | slice,
    queries: np.ndarray,
    gathered: np.ndarray | None = None,
) -> np.ndarray:
    """(len(rows), n_queries) matrix; larger means nearer (``gathered``: ``col.data[rows]``)."""
    data = col.data[rows] if gathered is None else gathered
    # One query: a matrix-vector product. As a one-column matrix product OpenBLAS hands it to
    # its thread pool, which costs milliseconds on a busy machine (measured: 2,000 x 384
    # rows, p50 7 ms as gemm vs 0.02 ms as gemv). A batch's product runs on one thread
    # unless it is large (``shoal.index.blas``).
    with blas.for_product(data.shape[0] * data.shape[1] * len(queries), vector=len(queries) == 1):
        good: np.ndarray = (data @ queries[0])[:, None] if len(queries) == 1 else data @ queries.T
    if col.distance in (m.Distance.COSINE, m.Distance.DOT):
        return good
    if col.distance == m.Distance.EUCLID:
        good *= 2.0
        good -= col.sqnorm[rows][:, None]
        return good
    out = np.empty((data.shape[0], queries.shape[0]), dtype=np.float32)
    for start in range(0, data.shape[0], _MANHATTAN_BLOCK):
        block = data[start : start + _MANHATTAN_BLOCK]
        out[start : start + len(block)] = -np.abs(block[:, None, :] - queries[None, :, :]).sum(-1)
    return out


def final_scores(col: VectorColumn, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Qdrant's score for each row: similarity for cosine/dot, distance for Euclid/Manhattan."""
    data = col.data[rows]
    out: np.ndarray
    if col.distance in (m.Distance.COSINE, m.Distance.DOT):
        out = data @ query
    elif col.distance == m.Distance.EUCLID:
        out = np.sqrt(((data - query) ** 2).sum(-1))
    else:
        out = np.abs(data - query).sum(-1)
    return out


def final_scores_batch(col: VectorColumn, rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``final_scores`` for a (b, r) matrix of rows and (b, dim) queries: a (b, r) matrix."""
    data = col.data[rows]
    out: np.ndarray
    if col.distance in (m.Distance.COSINE, m.Distance.DOT):
        out = np.matmul(data, queries[:, :, None])[:, :, 0]
    elif col.distance == m.Distance.EUCLID:
        out = np.sqrt(((data - queries[:, None, :]) ** 2).sum(-1))
    else:
        out = np.abs(data - queries[:, None, :]).sum(-1)
    return out


# Up to this many results per query are picked by repeated argmax; beyond, by the k-th best
# (``shoal.index.topk``: numpy's partition degrades on scores with few distinct values, and a
# hash embedding gave 6 per row).
_ARGMAX_UPTO = 16


def _best_first(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of each row's k largest entries, largest first, equal
    values by column (``scores``, a temporary, is overwritten)."""
    b, n = scores.shape
    if k <= _ARGMAX_UPTO and k < n:
        picked = np.empty((b, k), np.int64)
        values = np.empty((b, k), scores.dtype)
        rows = np.arange(b)
        for t in range(k):
            col = scores.argmax(axis=1)
            picked[:, t] = col
            values[:, t] = scores[rows, col]
            scores[rows, col] = -np.inf  # a row short of finite entries repeats a -inf one
        return picked, values
    if k >= n:
        order = np.argsort(-scores, axis=1, kind="stable")  # equal values by column
        return order, np.take_along_axis(scores, order, axis=1)
    picked = np.empty((b, k), np.int64)
    values = np.empty((b, k), scores.dtype)
    for i, row in enumerate(scores):
        cols = np.flatnonzero(row >= kth_largest(row, k))  # the k best and their ties
        order = np.lexsort((cols, -row[cols]))[:k]
        picked[i], values[i] = cols[order], row[cols[order]]
    return picked, values


def exact_search(
    col: VectorColumn,
    high: int,
    queries: np.ndarray,
    k: int,
    *,
    candidates: np.ndarray | None = None,
    invalid: np.ndarray | None = None,
    gathered: np.ndarray | None = None,
) -> list[Hits]:
    """Top-k rows for each query.

    Args:
        col: the vector column to search.
        high: rows ``[0, high)`` exist.
        queries: (b, dim) float32, already normalised for cosine.
        k: results wanted per query.
        candidates: if given, only these rows are eligible (a filter's matches).
        invalid: rows to exclude when searching all rows (deleted or without this vector).
        gathered: the candidates' vectors, already copied out of the matrix (a cached
            filter's rows): saves the gather, which dominates a search over a few thousand
            scattered rows.

    Returns:
        One ``Hits`` per query, best first, at most k each.
    """
    if k <= 0 or high == 0:
        return [NO_HITS for _ in queries]
    if candidates is not None:
        good = _goodness(col, candidates, queries, gathered)
        base_rows = candidates
    else:
        good = _goodness(col, slice(0, high), queries)
        if invalid is not None and len(invalid):
            good[invalid] = -np.inf
        base_rows = None
    # Euclid takes a few extra candidates: rescoring may reorder near-ties.
    extra = 8 if col.distance == m.Distance.EUCLID else 0
    kk = k + extra
    n = good.shape[0]
    # One query per row from here: partitioning along the columns of the (rows, queries)
    # product strides through memory (1.25 ms for 100 queries x 1,000 rows, against
    # ~0.1 ms for the copy plus a partition along contiguous rows).
    per_query = np.ascontiguousarray(good.T)
    tops, best = _best_first(per_query, min(kk, n))
    finite = np.isfinite(best)
    higher = col.similarity
    if higher and finite.all():
        # The usual case: k finite scores per query, already best first: one conversion for
        # the batch instead of a mask and two conversions per query.
        rows_all = (tops if base_rows is None else base_rows[tops]).astype(np.int64)
        scores_all = best.astype(np.float32)
        return [Hits(r, sc) for r, sc in zip(rows_all, scores_all, strict=True)]
    results = []
    for j, query in enumerate(queries):
        keep = finite[j]
        top = tops[j][keep]
        rows = top if base_rows is None else base_rows[top]
        if higher:
            scores = best[j][keep]
        else:
            scores = final_scores(col, rows, query)
            order_j = np.argsort(scores, kind="stable")
            rows, scores = rows[order_j][:k], scores[order_j][:k]
        results.append(Hits(rows.astype(np.int64), scores.astype(np.float32)))
    return results


def rank_candidates(
    col: VectorColumn,
    rows: np.ndarray,
    keep: np.ndarray,
    queries: np.ndarray,
    own: np.ndarray,
    rerank: np.ndarray,
    wanted: list[int],
) -> list[Hits | None]:
    """Rank each query's first ``rerank`` eligible candidates by their exact scores, for a
    whole batch at once (one gather, one batched product, one sort).

    Args:
        col: the vector column.
        rows: (b, c) candidate rows per query, nearest first (-1: none).
        keep: (b, c) which candidates are eligible.
        queries: (b, dim) the queries.
        own: (b,) the row each query leaves out (its own point), or -2.
        rerank: (b,) how many eligible candidates of each query to score.
        wanted: per query, the results wanted (without its own point).

    Returns:
        Per query, its best ``wanted`` candidates (equal scores by row), or None when it
        has fewer eligible candidates than it wants.
    """
    keep = keep & (rows != own[:, None])
    width = min(rows.shape[1], int(rerank.max()))
    # Eligible candidates first, each query's in index order, then its first `rerank`.
    first = np.argsort(~keep, axis=1, kind="stable")[:, :width]
    cand = np.take_along_axis(rows, first, axis=1)
    ok = np.take_along_axis(keep, first, axis=1) & (np.arange(width) < rerank[:, None])
    cand = np.where(ok, cand, -1)
    cand.sort(axis=1)
    ok = cand >= 0
    scores = final_scores_batch(col, np.where(ok, cand, 0), queries).astype(np.float32)
    key = -scores if col.similarity else scores.copy()
    key[~ok] = np.inf
    order = np.argsort(key, axis=1, kind="stable")
    eligible = ok.sum(axis=1).tolist()
    out: list[Hits | None] = []
    for j, want in enumerate(wanted):
        if eligible[j] < want:
            out.append(None)
        else:
            top = order[j, :want]
            out.append(Hits(cand[j, top], scores[j, top]))
    return out


def rank_rows(col: VectorColumn, rows: np.ndarray, query: np.ndarray, k: int) -> Hits:
    """The best ``k`` of ``rows`` for one query by their exact scores (equal scores by the
    rows' order).

    Args:
        col: the vector column.
        rows: candidate rows.
        query: (dim,) the query.
        k: results wanted.

    Returns:
        The hits.
    """
    if not len(rows):
        return NO_HITS
    scores = final_scores(col, rows, query).astype(np.float32)
    key = -scores if col.similarity else scores
    order = np.argsort(key, kind="stable")[:k]
    return Hits(rows[order], scores[order])


# ------------------------------------------------------------------------ plan

SearchMethod = Literal["exact", "hnsw"]
_FILTER_GROWTH = 4  # fetch multiplier between the rounds of a query still short


class DenseQuery(Protocol):
    """What a dense search needs of a prepared query (``engine.query.PreparedQuery``)."""

    @property
    def vector(self) -> np.ndarray | None: ...

    @property
    def filter(self) -> CompiledFilter | None: ...

    @property
    def exclude_row(self) -> int | None: ...

    @property
    def exact(self) -> bool: ...

    @property
    def ef(self) -> int | None: ...

    @property
    def oversampling(self) -> float: ...

    @property
    def wanted(self) -> int: ...

    @property
    def rerank(self) -> int: ...


class SearchedCollection(Protocol):
    """What a dense search reads of its collection (``engine.query.Searcher``)."""

    state: CollectionState
    filters: Filters
    indexes: PayloadIndexes
    ann: CollectionAnn

    def invalid_rows(self, name: str) -> np.ndarray:
        """Rows that are deleted or lack vector ``name``."""
        ...


def choose_method(
    n_vectors: int,
    n_queries: int,
    dim: int,
    full_scan_threshold_kb: int | None,
    estimated_matches: int | None = None,
    exact_requested: bool = False,
    *,
    hnsw_available: bool = True,
) -> SearchMethod:
    """Pick the search method for a group of queries on one vector column.

    Exact search (one matrix product over the candidate rows) wins when there are few rows
    to scan: it has no graph overhead, perfect recall, and batches turn into one
    matrix-matrix product. HNSW wins once the scan grows; with a filter it has to
    over-fetch about k/share candidates and drop the rest (usearch's Python binding has no
    in-graph filter), which stops paying off for selective filters: then the matching rows
    are scanned exactly. The crossovers are ``shoal.engine.ann_settings``'s.

    Args:
        n_vectors: live vectors in the column.
        n_queries: queries answered together (a coalesced batch).
        dim: vector dimension.
        full_scan_threshold_kb: the collection's ``hnsw_config.full_scan_threshold``, in
            kilobytes of vectors as in Qdrant: below it, search exactly. None uses the
            crossover measured on this machine (EXACT_BELOW_SINGLE / EXACT_BELOW_BATCH).
        estimated_matches: for a filtered query, the (estimated) number of matching rows;
            None for no filter.
        exact_requested: ``search_params.exact`` was set.
        hnsw_available: False when there is no index (not built yet, or the distance is
            Manhattan, which usearch cannot serve).

    Returns:
        "exact" to scan the (matching) rows, or "hnsw" to search the index (post-filtering
        with over-fetch when there is a filter).
    """
    if exact_requested or not hnsw_available or n_vectors <= 0:
        return "exact"
    candidates = (
        n_vectors if estimated_matches is None else min(max(estimated_matches, 0), n_vectors)
    )
    if full_scan_threshold_kb is not None:
        if candidates * dim * 4 / 1024 < full_scan_threshold_kb:  # KB of float32 vectors
            return "exact"
    elif candidates < (EXACT_BELOW_SINGLE if n_queries < BATCH_FROM else EXACT_BELOW_BATCH):
        return "exact"
    if estimated_matches is not None and candidates < MIN_POST_FILTER_SHARE * n_vectors:
        return "exact"
    return "hnsw"


class DenseSearch:
    """The queries of one batch on one dense vector column (the caller holds the state's
    read lock).

    Queries are answered in groups that share work: unfiltered exact ones share one matrix
    product, unfiltered HNSW ones (per ef) one batched index search, and filtered ones with
    the same filter (and search params) one filter evaluation plus one product over the
    matching rows or one batched index search.

    Args:
        searcher: the collection (its searcher).
        name: the vector column.
        deadline: when the batch's work must stop.
    """

    def __init__(self, searcher: SearchedCollection, name: str, deadline: Deadline) -> None:
        self.state = state = searcher.state
        self.col: VectorColumn = state.columns[name]
        self.searcher = searcher
        self.name = name
        self.deadline = deadline
        self.filters = searcher.filters
        self.indexes = searcher.indexes
        ann = searcher.ann
        settings = ann.settings[name]
        self.threshold = settings.full_scan_threshold_kb
        # Qdrant's default search ef is the graph's ef_construct (HnswGraphConfig.ef):
        # 100 unless configured. Measured on 1M vectors (f16): recall@10 0.87 at ef 64,
        # 0.925 at 128, 0.97 at 256.
        self.default_ef = settings.ef_construct
        self.target: SearchableIndex | None = ann.caught_up.get(name) or ann.searchable_index(name)
        self.methods: Counter[str] = ann.search_methods

    def run(self, queries: Sequence[DenseQuery]) -> list[Hits]:
        """One ``Hits`` per query: at least ``wanted`` rows when that many qualify (plus
        the query point for a query by id), best first.

        Raises:
            RequestTimeout: the deadline passed.
        """
        groups: dict[object, tuple[list[int], list[DenseQuery]]] = {}
        for j, pq in enumerate(queries):
            flt = pq.filter
            key = None if flt is None else ("alone", j) if flt.key is None else flt.key
            js, group = groups.setdefault((key, pq.exact, pq.ef), ([], []))
            js.append(j)
            group.append(pq)
        out: list[Hits] = [NO_HITS] * len(queries)
        for js, group in groups.values():
            if self.deadline is not NO_DEADLINE:
                self.deadline.check()
            for j, hits in zip(js, self._run_group(group, len(queries)), strict=True):
                out[j] = hits
        return out

    def _run_group(self, pqs: Sequence[DenseQuery], batch: int) -> list[Hits]:
        """Queries with the same filter, ``exact`` flag and ef."""
        first, col = pqs[0], self.col
        match = estimate = None
        if first.filter is not None:
            match = self.filters.match(self.state, first.filter, self.indexes, self.deadline)
            estimate = match.estimate(self.deadline)
        method = choose_method(
            col.count,
            batch if match is None else len(pqs),
            col.dim,
            self.threshold,
            estimate,
            first.exact,
            hnsw_available=self.target is not None,
        )
        self.methods[method] += len(pqs)
        if method == "exact":
            return self._exact(pqs, match)
        return self._hnsw(pqs, first.ef or self.default_ef, match, estimate)

    # ---------------------------------------------------------------------- exact

    def _exact(self, pqs: Sequence[DenseQuery], match: FilterMatch | None) -> list[Hits]:
        """One product for the group: over all rows, or over the rows the filter matches.

        A query by id keeps its own point among the candidates; ``wanted`` counts it and
        the result page drops it.
        """
        queries = np.stack([pq.vector for pq in pqs])  # type: ignore[misc]
        k = max(pq.wanted for pq in pqs)
        high = self.state.high
        if match is None:
            return exact_search(
                self.col, high, queries, k, invalid=self.searcher.invalid_rows(self.name)
            )
        rows, gathered = match.gathered(self.col, self.deadline)
        return exact_search(self.col, high, queries, k, candidates=rows, gathered=gathered)

    # ----------------------------------------------------------------------- hnsw

    def _hnsw(
        self, pqs: Sequence[DenseQuery], ef: int, match: FilterMatch | None, estimate: int | None
    ) -> list[Hits]:
        """Index candidates (post-filtered, widened while short) plus the backlog rows,
        ranked by exact scores; a query still short is answered exactly."""
        assert self.target is not None
        index, backlog = self.target
        vectors: list[np.ndarray] = []
        wanted = fetch = 0
        for pq in pqs:
            vectors.append(pq.vector)  # type: ignore[arg-type]
            wanted = max(wanted, pq.wanted)
            # At least ef: the index's search visits that many anyway.
            fetch = max(fetch, ef, math.ceil(pq.wanted * max(pq.oversampling, 1.0)))
        queries = np.stack(vectors)
        size = len(index)
        count = min(size, fetch)
        if estimate is not None:
            share = max(estimate, 1) / max(self.col.count, 1)
            # The binding has no in-graph filter: over-fetch so that about ef candidates
            # survive it, as many as an unfiltered search would consider. Measured on 1M
            # vectors (f16, ef 100): recall 0.955 at 50% and 0.987 at 10% selectivity,
            # against 0.905 / 0.969 keeping ef/4 and 0.85 / 0.94 aiming at k (ef 64); the
            # price is throughput at 10% (~500 against ~680 q/s). A query still short is
            # widened below.
            count = min(size, math.ceil(max(count, 1.5 * wanted) / share))
        rows, keep = self._candidates(index, queries, count, ef, match)
        if len(backlog):
            if match is not None:
                backlog = backlog[match.allowed(backlog, self.deadline)]
            extra = exact_search(self.col, self.state.high, queries, wanted, candidates=backlog)
            return self._hnsw_each(pqs, queries, rows, keep, count, ef, match, extra)
        # The usual case: every query whose candidates suffice is ranked in one go.
        own, rerank, results = [], [], []
        for pq in pqs:
            own.append(-2 if pq.exclude_row is None else pq.exclude_row)
            rerank.append(pq.rerank)
            results.append(pq.wanted - (pq.exclude_row is not None))
        ranked = rank_candidates(
            self.col, rows, keep, queries, np.array(own), np.array(rerank), results
        )
        short = []
        for j, hits in enumerate(ranked):
            if hits is None:
                short.append(j)
        if not short:
            return ranked  # type: ignore[return-value]
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
        )
        return [hits if hits is not None else next(again) for hits in ranked]

    def _hnsw_each(
        self,
        pqs: Sequence[DenseQuery],
        queries: np.ndarray,
        rows: np.ndarray,
        keep: np.ndarray,
        count: int,
        ef: int,
        match: FilterMatch | None,
        extra: list[Hits] | None,
    ) -> list[Hits]:
        """Queries one at a time: widened while short, merged with the backlog's hits."""
        assert self.target is not None
        index = self.target.hnsw
        size = len(index)
        out = []
        for j, pq in enumerate(pqs):
            found, wider = rows[j][keep[j]], count
            while len(found) < pq.wanted and wider < size:
                self.deadline.check()
                wider = min(size, wider * _FILTER_GROWTH)
                rows_j, keep_j = self._candidates(index, queries[j : j + 1], wider, ef, match)
                found = rows_j[0][keep_j[0]]
            # The index returns its candidates nearest first: exact scores are needed only
            # for the head of the list (quantization reorders near neighbours, it does not
            # push them back by dozens of places).
            found = found[: pq.rerank]
            if extra is not None:
                found = np.concatenate([found, extra[j].rows])
            found = np.unique(found)
            if pq.exclude_row is not None:
                found = found[found != pq.exclude_row]
            hits = rank_rows(self.col, found, queries[j], pq.wanted)
            if len(hits.rows) < pq.wanted:
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
        # Index keys are point serials: each maps to its point's current row, -1 for a
        # deleted point; a row without this vector is not eligible either.
        serials = index.search(queries, count, ef)[0]
        rows = np.full(serials.shape, -1, dtype=np.int64)
        valid = serials >= 0
        found = self.state.row_of_serial[serials[valid]]
        alive = found >= 0
        alive[alive] = self.col.present[found[alive]]
        rows[valid] = np.where(alive, found, -1)
        keep = rows >= 0
        if match is not None:
            keep[keep] = match.allowed(rows[keep], self.deadline)
        return rows, keep

    def _short(self, pq: DenseQuery, hits: Hits, match: FilterMatch | None) -> Hits:
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
        self.methods["fallback"] += 1
        high, vector = self.state.high, pq.vector[None]
        if match is None:
            invalid = self.searcher.invalid_rows(self.name)
            return exact_search(self.col, high, vector, pq.wanted, invalid=invalid)[0]
        return exact_search(self.col, high, vector, pq.wanted, candidates=rows)[0]


def search_options(params: m.SearchParams) -> tuple[bool, int | None, float]:
    """``search_params`` as (exact, hnsw_ef, oversampling).

    Raises:
        InvalidQuery: a non-positive ``hnsw_ef`` or ``oversampling``.
    """
    ef = params.hnsw_ef
    if ef is not None and (isinstance(ef, bool) or ef < 1):
        raise InvalidQuery(f"Wrong input: search_params.hnsw_ef must be >= 1, got {ef!r}")
    quantization = params.quantization
    oversampling = 1.0
    if quantization is not None and quantization.oversampling is not None:
        oversampling = quantization.oversampling
        if not oversampling > 0:
            raise InvalidQuery(
                f"Wrong input: search_params.quantization.oversampling must be > 0, "
                f"got {oversampling!r}"
            )
    return bool(params.exact), ef, oversampling
