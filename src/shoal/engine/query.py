"""The query pipeline: a batch of queries on one collection, from requests to result pages.

A query flows one way, and a batch of them flows together:

1. **prepare** (``Searcher.prepare``): refuse what Shoal does not run
   (``support.check_query``, skipped for a plain vector or id query), pick the vector column,
   read the search params, take the query vector (a batch's vectors are checked and
   converted together by ``shoal.codec``; any other, such as a query by point id, by
   ``shoal.engine.query_vectors``), and compile the filter (``Filters.compile``: cached,
   a repeated filter is a dict lookup).
2. **plan** (under the state's read lock from here on): the batch's queries on one column
   with the same filter and search params form a group; for a dense column
   (``shoal.engine.search``) ``choose_method`` picks how the group is answered:
   exactly (one matrix product over all rows, or over the rows the filter matches) or by
   the HNSW index (post-filtered, widened while short, plus the rows the index has not
   caught up with); a sparse column (``shoal.engine.sparse_search``) reads its inverted
   index.
3. **search kernels** (``shoal.engine.search`` for dense vectors): products, top-k, and
   the exact float32 scores that rank the index's candidates.
4. **result page** (``_kept``, then ``_scored_points``: the one page builder): the query's
   own point dropped, offset, limit and score_threshold applied, payloads and vectors
   projected, one ``QueryResponse`` each.

Callers reach ``Searcher.run_batch`` through exactly one batching object: the async
client's transport batches a loop's queries (``AsyncBatcher``, one thread hop per batch),
the sync client's its threads' (``Batcher``), and other threads (the server) the
collection's own ``Batcher`` (``Collection.query_many``).

A kind of vector column is answered by a ``ColumnSearch``: ``DenseSearch`` for dense
vectors, ``SparseSearch`` (``shoal.engine.sparse_search``) for sparse ones and
``MultiSearch`` (``shoal.engine.multi_search``: exact MaxSim) for multivectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from shoal import models as m
from shoal.codec import (
    DEFAULT_VECTOR,
    Kept,
    SparseRow,
    VectorSpace,
    check_vector_rows,
)
from shoal.concurrency import share_work
from shoal.engine import mmr, prefetch, recommend, records, scrolled
from shoal.engine.ann import CollectionAnn
from shoal.engine.deadline import NO_DEADLINE, Deadline, latest
from shoal.engine.filtering import CompiledFilter, FilterMatch, Filters, with_deadline
from shoal.engine.multi_search import MultiSearch
from shoal.engine.payload_index import PayloadIndexes
from shoal.engine.query_vectors import OtherCollections, QueryVectors
from shoal.engine.scrolled import OrderValue
from shoal.engine.search import NO_HITS, DenseSearch, Hits, search_options
from shoal.engine.sparse_search import SparseSearch
from shoal.engine.state import CollectionState
from shoal.engine.strict import Admitted, StrictMode
from shoal.engine.support import PLAIN_QUERY_TYPES, check_query
from shoal.engine.writes import GroupCommitter
from shoal.errors import InvalidQuery
from shoal.ids import PointId
from shoal.payloads import CONTAINERS, json_copy

Query = tuple[m.QueryRequest, "Deadline | None"]  # a query and its deadline, as batched
Leaves = list[tuple[m.QueryRequest, "np.ndarray | None"]]  # a query's prefetches, as queries

_RERANK = 4  # index candidates re-ranked per result (see PreparedQuery.rerank)
# A batch of at least this many queries searches its vector columns at once (``_pages``).
SHARE_QUERIES = 32
_PENDING = m.QueryResponse(points=[])  # placeholder until a prepared query's page lands
_FUSED = m.QueryResponse(points=[])  # placeholder until a query's prefetches are combined


@dataclass
class PreparedQuery:
    """A query reduced to what the search needs: a vector, eligible rows and paging.

    Attributes:
        request: the query as asked.
        name: its vector column.
        vector: its query vector (None: a sparse query, or a query without a vector,
            whose page is in id order).
        exclude_row: for a query by point id, that point's row (left out of its answer).
        filter: the compiled filter (its tree lets payload indexes answer it).
        limit, offset: the page.
        exact: ``search_params.exact``: never use the HNSW index.
        ef: ``search_params.hnsw_ef``, None for the default.
        oversampling: ``search_params.quantization.oversampling``: candidates fetched from
            the index per result, before exact re-ranking.
        wanted: results to compute: the page, what precedes it, and the query point.
        rerank: index candidates re-ranked by exact scores: 4x ``wanted`` (measured on
            100k vectors: int8 + 4x rescoring recall 0.998, against 0.984 for int8 alone),
            or more with ``oversampling``.
    """

    request: m.QueryRequest
    name: str
    vector: np.ndarray | None
    exclude_row: int | None
    filter: CompiledFilter | None
    limit: int
    offset: int
    exact: bool = False
    ef: int | None = None
    oversampling: float = 1.0
    wanted: int = 0
    rerank: int = 0
    sparse: SparseRow | None = None  # a sparse vector's query
    idf_corpus: CompiledFilter | None = None  # search_params.idf's corpus filter
    examples: recommend.Examples | None = None  # a query scored by its examples
    multi: np.ndarray | None = None  # a multivector's query (its rows)


class ColumnSearch(Protocol):
    """How one kind of vector column answers a batch's queries on it."""

    def run(self, queries: list[PreparedQuery]) -> list[Hits]:
        """One ``Hits`` per query: at least ``wanted`` rows when that many qualify, best
        first."""
        ...


class Searcher(QueryVectors):
    """Answers the query batches of one collection. Thread-safe (it reads under the
    state's read lock); several batches may run at once.

    Args:
        state: the collection state.
        space: its vectors.
        ann: its ANN indexes.
        indexes: its payload indexes.
        filters: its filters.
        writer: its group committer (whose unreported failures a batch reports).
    """

    def __init__(
        self,
        state: CollectionState,
        space: VectorSpace,
        ann: CollectionAnn,
        indexes: PayloadIndexes,
        filters: Filters,
        writer: GroupCommitter,
        idf: frozenset[str] = frozenset(),
    ) -> None:
        self.state = state
        self._space = space
        self._params = space.dense
        self._named = space.named
        self.idf = idf  # sparse vectors with modifier idf (update_collection may change it)
        self.ann = ann
        self.indexes = indexes
        self.filters = filters
        self._writer = writer
        self._invalid: dict[str, tuple[int, np.ndarray]] = {}
        # Set by the database that holds the collection; None for one on its own.
        self.others: OtherCollections | None = None
        # Set by the collection: its strict mode, when enabled (shoal.engine.strict).
        self.strict: StrictMode | None = None

    def run_batch(self, items: list[Query]) -> list[m.QueryResponse | BaseException]:
        """Answer a batch of queries: one result or exception per query.

        The batch stops when the deadlines of all its queries have passed (each query then
        gets ``RequestTimeout``); while one of them still has time, the others get their
        results late. An unreported storage failure of earlier ``wait=False`` writes is
        the outcome of the first query (which is not run).

        Args:
            items: the queries and their deadlines (None: no time limit).

        Returns:
            One ``QueryResponse`` or exception per query.
        """
        if self.strict is not None and type(items) is not Admitted:
            return self.strict.run_queries(items, self.run_batch)
        if self._writer.lost:
            failed = self._writer.take_failed()
            if failed is not None and items:
                return [failed, *self.run_batch(items[1:])]
        deadlines: list[Deadline] = []
        for _, limit in items:
            if limit is None:  # one query without a time limit: the batch has none
                break
            deadlines.append(limit)
        deadline = latest(deadlines) if len(deadlines) == len(items) else NO_DEADLINE
        outcomes: list[m.QueryResponse | BaseException] = []
        prepared: list[PreparedQuery] = []
        # Queries whose prefetches run with the batch: (outcome index, its prefetches).
        fused: list[tuple[int, list[PreparedQuery]]] = []
        vectors = self._query_vectors(items)
        leaves: list[Leaves | BaseException | None] = [None] * len(items)
        for req, _ in items:  # (a loop, not a call: the dense query path's calls are counted)
            if req.prefetch:
                leaves = self._leaves(items)
                break
        for (req, limit), vector, leaf in zip(items, vectors, leaves, strict=True):
            try:
                if req.prefetch:  # an empty list is no prefetch, as in Qdrant
                    if isinstance(leaf, BaseException):
                        raise leaf
                    if leaf is None:  # nested: answered alone, its sub-queries first
                        outcomes.append(self._with_prefetch(req, limit or NO_DEADLINE))
                    else:
                        fused.append((len(outcomes), [self.prepare(*sub) for sub in leaf]))
                        outcomes.append(_FUSED)
                    continue
                if type(req.query) is m.NearestQuery and req.query.mmr is not None:
                    outcomes.append(self._with_mmr(req, req.query, limit or NO_DEADLINE))
                    continue
                if type(req.query) in scrolled.KINDS:
                    outcomes.append(m.QueryResponse(points=self._single(req, limit or NO_DEADLINE)))
                    continue
                prepared.append(self.prepare(req, vector))
                outcomes.append(_PENDING)
            except Exception as exc:
                outcomes.append(exc)
        if not prepared and not fused:
            return outcomes
        prefetches = [pq for _, subs in fused for pq in subs]
        try:
            with self.state.lock.read():
                pages, results = self._pages(prepared + prefetches, deadline, len(prefetches))
        except Exception as exc:  # a deadline: each prepared query gets its error
            return [exc if o is _PENDING or o is _FUSED else o for o in outcomes]
        values = []
        for points in pages:
            values.append({"points": points})
        answers = iter(m.assembled_many(m.QueryResponse, values))
        for i, outcome in enumerate(outcomes):
            if outcome is _PENDING:
                outcomes[i] = next(answers)
        found = iter(results)
        for i, subs in fused:
            sources = [next(found) for _ in subs]
            outcomes[i] = self._fuse(items[i][0], sources, items[i][1] or NO_DEADLINE)
        return outcomes

    def _leaves(self, items: list[Query]) -> list[Leaves | BaseException | None]:
        """For each query with prefetches that run with the batch, its prefetches and their
        vectors (converted together, as the batch's own: ``_query_vectors``); None for the
        other queries (and nested prefetches), the error for a query that has one."""
        out: list[Leaves | BaseException | None] = []
        flat: list[Query] = []
        for req, _ in items:
            if not req.prefetch:
                out.append(None)
                continue
            try:
                if req.lookup_from is not None or req.shard_key is not None:
                    check_query(req)
                subs = prefetch.leaves(req)
            except Exception as exc:
                out.append(exc)
                continue
            out.append(None if subs is None else [(sub, None) for sub in subs])
            flat.extend((sub, None) for sub in subs or ())
        if flat:
            converted = iter(self._query_vectors(flat))
            for entry in out:
                if isinstance(entry, list):
                    entry[:] = [(sub, next(converted)) for sub, _ in entry]
        return out

    def _fuse(
        self, req: m.QueryRequest, sources: list[prefetch.Results], deadline: Deadline
    ) -> m.QueryResponse | BaseException:
        """The answer of a query whose prefetches found ``sources`` (or its error)."""
        try:
            points = prefetch.finish(
                req, sources, deadline, self._single, self._payloads, self._scored
            )
        except Exception as exc:
            return exc
        return m.QueryResponse(points=points)

    def prepare(self, req: m.QueryRequest, vector: np.ndarray | None = None) -> PreparedQuery:
        """Validate a query before it is run (errors name the bad value).

        Args:
            req: the query.
            vector: its query vector, already checked (``check_vector_rows``), if it has one.

        Returns:
            The prepared query.

        Raises:
            NotSupported: a query kind or setting Shoal does not run.
            InvalidQuery, WrongVectorSize, InvalidVector, PointNotFound, InvalidFilter,
            FilterTooLarge: naming the bad value.
        """
        query = req.query
        if not (
            type(query) in PLAIN_QUERY_TYPES
            and req.params is None
            and req.prefetch is None
            and req.lookup_from is None
            and req.shard_key is None
        ):
            check_query(req)
        name = DEFAULT_VECTOR if req.using is None else req.using
        # Without a query or `using` (a scroll) no vector is read: Qdrant then needs no name.
        named = query is not None or req.using is not None
        if named and name not in self._params and name not in self._space.sparse:
            self._check_name(name)
        exact, ef, oversampling = (
            (False, None, 1.0) if req.params is None else search_options(req.params)
        )
        exclude = None
        sparse = examples = multi = None
        flt_given = req.filter
        if vector is None and query is not None:
            if type(query) in recommend.KINDS:
                by, examples, flt_given = self._by_examples(req, name)
                if isinstance(by, SparseRow):
                    sparse = by
                elif name in self._space.multi:
                    multi = by
                else:
                    vector = by
            elif name in self._space.multi:
                multi, exclude = self._resolve_multi(query, name, req.lookup_from)
            elif name in self._space.sparse:
                sparse, exclude = self._resolve_sparse(query, name, req.lookup_from)
            else:
                vector, exclude = self._resolve(query, name, req.lookup_from)
        flt = None if flt_given is None else self.filters.compile(flt_given)
        corpus = None
        if req.params is not None and isinstance(req.params.idf, m.IdfCorpusParams):
            corpus = self.filters.compile(req.params.idf.corpus)
        limit, offset = page_bounds(req)
        wanted = limit + offset + (exclude is not None)
        return PreparedQuery(
            request=req,
            name=name,
            vector=vector,
            sparse=sparse,
            examples=examples,
            multi=multi,
            idf_corpus=corpus,
            exclude_row=exclude,
            filter=flt,
            limit=limit,
            offset=offset,
            exact=exact,
            ef=ef,
            oversampling=oversampling,
            wanted=wanted,
            rerank=max(_RERANK * wanted, math.ceil(wanted * oversampling)),
        )

    def _by_examples(
        self, req: m.QueryRequest, name: str
    ) -> tuple[Kept | None, recommend.Examples | None, m.Filter | str | None]:
        """A recommend, discover or context query (``shoal.engine.recommend``): its vector
        or examples, and its filter leaving out the points named as examples."""
        lookup = req.lookup_from

        def fetch(pid: PointId) -> tuple[Kept, bool]:
            if lookup is not None:
                return self._looked_up(lookup, pid), False
            return self._own_vector(pid, name)[1], True

        params = self._params.get(name) or self._space.multi.get(name)
        found = recommend.resolve(req.query, params, name, fetch)
        return found.vector, found.examples, recommend.without(req.filter, found.mentioned)

    def _with_prefetch(self, req: m.QueryRequest, deadline: Deadline) -> m.QueryResponse:
        """A query with prefetches (``shoal.engine.prefetch``)."""
        if req.lookup_from is not None or req.shard_key is not None:
            check_query(req)
        points = prefetch.answer(req, deadline, self._single, self._payloads, self._scored)
        return m.QueryResponse(points=points)

    def _with_mmr(
        self, req: m.QueryRequest, query: m.NearestQuery, deadline: Deadline
    ) -> m.QueryResponse:
        """A query re-ranked by maximal marginal relevance (``shoal.engine.mmr``)."""
        assert query.mmr is not None
        limit, offset = page_bounds(req)
        diversity, candidates = mmr.options(query.mmr, limit)
        sub = req.model_copy(update={"query": query.nearest, "limit": candidates, "offset": 0})
        pq = self.prepare(sub)
        with self.state.lock.read():
            points = self._pages([pq], deadline)[0][0]
            rows = [self.state.row(p.id) for p in points]
            found = [self.state.vectors_of(r).get(pq.name) for r in rows if r is not None]
            if not points or len(found) != len(points) or any(v is None for v in found):
                return m.QueryResponse(points=points[offset : offset + limit])
            # (under the lock: a multivector is a view of an arena that writes may move)
            relevance, pairwise = self._mmr_similarities(pq, rows, found)  # type: ignore[arg-type]
        order = mmr.select(relevance, pairwise, diversity, limit + offset)
        return m.QueryResponse(points=[points[i] for i in order][offset:])

    def _mmr_similarities(
        self, pq: PreparedQuery, rows: list[int], found: list[Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The candidates' similarities to the query and to each other, as MMR ranks them."""
        if pq.sparse is not None:
            return mmr.sparse_similarities(pq.sparse, found)
        if pq.multi is not None:
            # MaxSim is not symmetric: pairwise[i, j] scores candidate i as the query against
            # candidate j, as Qdrant's MMR does.
            column, at = self.state.multi[pq.name], np.array(rows, np.int64)
            return column.core([pq.multi], at)[0], column.core(found, at)
        assert pq.vector is not None
        vectors = np.stack(found)
        distance = self._params[pq.name].distance
        relevance = mmr.similarities(pq.vector[None, :], vectors, distance)[0]
        return relevance, mmr.similarities(vectors, vectors, distance)

    def _single(self, req: m.QueryRequest, deadline: Deadline) -> list[m.ScoredPoint]:
        query = req.query
        if isinstance(query, scrolled.KINDS):
            return self._scrolled(req, query, deadline)
        pq = self.prepare(req)
        with self.state.lock.read():
            return self._pages([pq], deadline)[0][0]

    def _scrolled(
        self, req: m.QueryRequest, query: m.OrderByQuery | m.SampleQuery, deadline: Deadline
    ) -> list[m.ScoredPoint]:
        """An ``order_by`` or ``sample`` query (``shoal.engine.scrolled``): points picked by a
        scroll, not scored by a vector."""
        check_query(req)
        pick = scrolled.picker(query, self.indexes)
        flt = None if req.filter is None else self.filters.compile(req.filter)
        limit, offset = page_bounds(req)
        if isinstance(query, m.SampleQuery):
            offset = 0  # a sample is drawn whatever the offset, as Qdrant's
        with self.state.lock.read():
            if flt is None:
                rows = self.state.live_rows()
            else:
                rows = self.filters.match(self.state, flt, self.indexes, deadline).rows(deadline)
            entries = pick(self.state, rows, limit + offset, deadline)
            return _scrolled_page(self.state, entries[offset:], req)

    def _payloads(self, ids: list[PointId]) -> dict[PointId, dict[str, Any]]:
        st = self.state
        with st.lock.read():
            rows = {pid: st.row(pid) for pid in ids}
            return {pid: st.payloads[r] or {} for pid, r in rows.items() if r is not None}

    def _scored(
        self, ranked: list[tuple[PointId, float]], req: m.QueryRequest
    ) -> list[m.ScoredPoint]:
        st = self.state
        rows, scores = [], []
        with st.lock.read():
            for pid, score in ranked:
                row = st.row(pid)
                if row is not None:  # (None: deleted since it was found)
                    rows.append(row)
                    scores.append(float(score))
            versions = [int(st.versions[row]) for row in rows]
            return _scored_points(st, rows, scores, versions, req)

    def _query_vectors(self, items: list[Query]) -> list[np.ndarray | None]:
        """The checked vectors of the queries that give one, converted together per vector
        name; None for the rest (a query by id, or a vector ``check_vector`` must reject)."""
        out: list[np.ndarray | None] = [None] * len(items)
        by_name: dict[str, tuple[list[int], list[object]]] = {}
        for i, (req, _) in enumerate(items):
            query = req.query.nearest if type(req.query) is m.NearestQuery else req.query
            name = DEFAULT_VECTOR if req.using is None else req.using
            if isinstance(query, (list, np.ndarray)) and name in self._params:
                idxs, raws = by_name.setdefault(name, ([], []))
                idxs.append(i)
                raws.append(query)
        for name, (idxs, raws) in by_name.items():
            for i, vec in zip(idxs, check_vector_rows(raws, self._params[name]), strict=True):
                out[i] = vec
        return out

    def _pages(
        self, prepared: list[PreparedQuery], deadline: Deadline, leaves: int = 0
    ) -> tuple[list[list[m.ScoredPoint]], list[prefetch.Results]]:
        """Each prepared query's result page (the caller holds the read lock); the last
        ``leaves`` are prefetches whose results are only fused: their ``(id, score)`` pairs
        instead (no point built)."""
        # Hits, or a page already (a query without a vector: a scroll), for each query.
        found: list[Hits | list[m.ScoredPoint]] = [NO_HITS] * len(prepared)  # each replaced
        by_name: dict[str, tuple[list[int], list[PreparedQuery]]] = {}
        for i, pq in enumerate(prepared):
            if pq.examples is not None:
                found[i] = recommend.search(
                    self.state,
                    pq.name,
                    (pq.examples, pq.filter, pq.wanted),
                    matcher=self._matcher(deadline),
                    idf=(pq.name in self.idf, pq.idf_corpus),
                    deadline=deadline,
                )
            elif pq.vector is None and pq.sparse is None and pq.multi is None:
                found[i] = self._no_vector_page(pq, deadline)
            else:
                idxs, queries = by_name.setdefault(pq.name, ([], []))
                idxs.append(i)
                queries.append(pq)

        def run(name: str) -> None:
            idxs, queries = by_name[name]
            search: ColumnSearch
            if name in self._space.sparse:
                search = SparseSearch(self, name, deadline, with_idf=name in self.idf)
            elif name in self._space.multi:
                search = MultiSearch(self, name, deadline)
            else:
                search = DenseSearch(self, name, deadline)
            for i, hits in zip(idxs, search.run(queries), strict=True):
                found[i] = hits

        # A large batch's columns (a hybrid one's dense and sparse) are searched at once:
        # most of their work is numpy and HNSW calls that release the GIL. (100 hybrid
        # queries on 100k texts: 48 ms, then 38.) Not a small batch's: handing a search to
        # a helper thread took a lone hybrid query from 0.19 to 0.27 ms.
        if len(prepared) >= SHARE_QUERIES:
            share_work(run, list(by_name))
        else:
            for name in by_name:
                run(name)
        cut = len(prepared) - leaves
        pages = []
        for pq, got in zip(prepared[:cut], found, strict=False):
            if isinstance(got, list):
                pages.append(got)
                continue
            rows, scores = _kept(self.state, pq, got)
            versions = self.state.versions[rows].tolist()
            pages.append(
                _scored_points(self.state, rows.tolist(), scores.tolist(), versions, pq.request)
            )
        results = []
        keys = self.state.keys
        for pq, got in zip(prepared[cut:], found[cut:], strict=True):
            if isinstance(got, list):
                results.append([(p.id, p.score) for p in got])
                continue
            rows, scores = _kept(self.state, pq, got)
            results.append(
                [(keys[r], s) for r, s in zip(rows.tolist(), scores.tolist(), strict=True)]
            )
        return pages, results

    def _matcher(self, deadline: Deadline) -> Callable[[CompiledFilter], FilterMatch]:
        def match(flt: CompiledFilter) -> FilterMatch:
            return self.filters.match(self.state, flt, self.indexes, deadline)

        return match

    def invalid_rows(self, name: str) -> np.ndarray:
        """Rows that are deleted or lack vector ``name`` (kept until the next write)."""
        st = self.state
        cached = self._invalid.get(name)
        if cached is not None and cached[0] == st.generation:
            return cached[1]
        valid = st.alive[: st.high] & st.columns[name].present[: st.high]
        invalid = np.flatnonzero(~valid)
        self._invalid[name] = (st.generation, invalid)
        return invalid

    def _no_vector_page(self, pq: PreparedQuery, deadline: Deadline) -> list[m.ScoredPoint]:
        """Points in id order: a query without a vector, which Qdrant answers by a scroll
        (each scored 1.0 with version 0: ``_scrolled_page``).

        Raises:
            RequestTimeout: ``deadline`` passed while the filter was tested.
        """
        st = self.state
        order = records.ordered_rows(st)
        if pq.filter is None:
            rows: list[int] = order[pq.offset : pq.offset + pq.limit].tolist()
        else:
            pred = with_deadline(pq.filter.predicate, deadline)
            rows = [r for r in order.tolist() if pred(st.payloads[r] or {}, st.keys[r])]
            rows = rows[pq.offset : pq.offset + pq.limit]
        page = [(r, None) for r in rows]
        return _scrolled_page(st, page, pq.request)


def page_bounds(req: m.QueryRequest) -> tuple[int, int]:
    """A query's ``limit`` (default 10) and ``offset`` (default 0).

    Raises:
        InvalidQuery: either is not a non-negative integer.
    """
    limit = 10 if req.limit is None else req.limit
    offset = 0 if req.offset is None else req.offset
    if type(limit) is int and type(offset) is int and limit >= 0 and offset >= 0:
        return limit, offset
    return check_limit(req.limit, 10, "limit"), check_limit(req.offset, 0, "offset")


def check_limit(value: int | None, default: int, what: str) -> int:
    """A ``limit`` or ``offset``: a non-negative integer, ``default`` when None.

    Raises:
        InvalidQuery: anything else.
    """
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidQuery(f"Wrong input: {what} must be a non-negative integer, got {value!r}")
    return value


def _kept(state: CollectionState, pq: PreparedQuery, hits: Hits) -> tuple[np.ndarray, np.ndarray]:
    """The rows and scores of a query's page: its hits without the query point itself, at
    its offset and limit, and passing its score_threshold."""
    rows, scores = hits.rows, hits.scores
    if pq.exclude_row is not None:
        keep = rows != pq.exclude_row
        rows, scores = rows[keep], scores[keep]
    rows, scores = rows[pq.offset : pq.offset + pq.limit], scores[pq.offset : pq.offset + pq.limit]
    threshold = pq.request.score_threshold
    if threshold is None:
        return rows, scores
    column: Any = state.columns.get(pq.name)
    if column is None:
        column = state.multi.get(pq.name)
    # Bigger is better but for a distance (a sparse vector's scores are products, examples
    # are scored by similarities). Strict, as Qdrant's `check_threshold`: a score equal to
    # the threshold is dropped (compared in float64, as the Python floats were).
    wide = scores.astype(np.float64)
    higher = column is None or column.similarity or pq.examples is not None
    keep = wide > threshold if higher else wide < threshold
    return rows[keep], scores[keep]


def _scrolled_page(
    state: CollectionState, entries: Sequence[tuple[int, OrderValue | None]], req: m.QueryRequest
) -> list[m.ScoredPoint]:
    """The page of a query answered by a scroll (order_by, sample, no vector): score 1.0 and
    version 0 (as Qdrant's), the order value if any."""
    rows = [row for row, _ in entries]
    values = [value for _, value in entries]
    return _scored_points(state, rows, [1.0] * len(rows), [0] * len(rows), req, values)


def _scored_points(
    state: CollectionState,
    rows: Sequence[int],
    scores: Sequence[float],
    versions: Sequence[int],
    req: m.QueryRequest,
    order_values: Sequence[OrderValue | None] | None = None,
) -> list[m.ScoredPoint]:
    """The one builder of query pages (nearest, prefetched and scrolled queries): the points
    at ``rows`` with their scores, versions and order values, payloads and vectors as
    ``req`` selects them (``records.project_payload``, ``records.project_vectors``)."""
    # Qdrant's QueryRequest: no payload unless asked for (the clients ask by default).
    selector = False if req.with_payload is None else req.with_payload
    with_vector = req.with_vector
    keys, stored = state.keys, state.payloads
    values = [None] * len(rows) if order_values is None else order_values
    points = []
    for row, score, version, value in zip(rows, scores, versions, values, strict=True):
        payload = stored[row]
        if selector is not True:
            payload = records.project_payload(payload, selector)
        elif not payload:
            payload = {}
        else:  # the common case, copied here: no call per point on every query's path
            for item in payload.values():
                if type(item) in CONTAINERS:
                    payload = json_copy(payload)
                    break
            else:  # flat (most payloads): a shallow copy is a deep one
                payload = payload.copy()
        points.append(
            {
                "id": keys[row],
                "version": version,
                "score": score,
                "payload": payload,
                "vector": records.project_vectors(state, row, with_vector) if with_vector else None,
                "shard_key": None,
                "order_value": value,
            }
        )
    return m.assembled_many(m.ScoredPoint, points)
