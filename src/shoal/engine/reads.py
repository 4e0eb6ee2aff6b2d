"""The read side of a collection: points by id, scrolls, counts, facets and distance
matrices, and the queries of the server's threads (which enter the query pipeline,
``shoal.engine.query``, through the collection's ``Batcher``) and of grouped queries.

A mixin of ``shoal.engine.collection.Collection`` (which holds the attributes declared
here); every method reads under the state's read lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shoal import models as m
from shoal.concurrency import Batcher
from shoal.engine import facets, matrix, records, scrolled
from shoal.engine.deadline import NO_DEADLINE, Deadline
from shoal.engine.filtering import CompiledFilter, Filters
from shoal.engine.groups import query_groups
from shoal.engine.index_schema import IndexSchema
from shoal.engine.payload_index import PayloadIndexes
from shoal.engine.points import ids_of
from shoal.engine.query import Query, Searcher, check_limit
from shoal.engine.state import CollectionState
from shoal.engine.strict import StrictMode
from shoal.engine.support import check_shard_key
from shoal.errors import InvalidQuery
from shoal.gil import shared
from shoal.ids import canonical_id


class CollectionReads:
    """Retrieve, scroll, count, facet, the distance matrix and the queries of one
    collection."""

    state: CollectionState
    searcher: Searcher
    searches: Batcher[Query, m.QueryResponse]
    filters: Filters
    payload_index: PayloadIndexes
    payload_indexes: dict[str, IndexSchema]
    strict: StrictMode | None
    named: bool

    def check_failed(self) -> None:
        """Raise the storage failure of earlier writes (``Collection.check_failed``)."""
        raise NotImplementedError

    def retrieve(
        self,
        ids: Sequence[Any],
        with_payload: m.WithPayloadInterface | None = True,
        with_vector: m.WithVectorInterface | None = False,
    ) -> list[m.Record]:
        """Points by id, in the order asked, skipping missing ones."""
        self.check_failed()
        if self.strict is not None:
            self.strict.check_read()
        wanted = ids_of(ids)
        with self.state.lock.read():
            rows = [r for r in (self.state.row(pid) for pid in wanted) if r is not None]
            return records.page_records(self.state, shared(rows), with_payload, with_vector)

    def scroll(self, req: m.ScrollRequest, deadline: Deadline | None = None) -> m.ScrollResult:
        """A page of points in id order (or payload order with ``order_by``).

        Raises:
            RequestTimeout: ``deadline`` passed before the page was found.
        """
        self.check_failed()
        if self.strict is not None:
            self.strict.check_read(req.filter, req.limit, deadline)
        until = deadline or NO_DEADLINE
        flt = self.filters.compile(req.filter)
        limit = check_limit(req.limit, 10, "limit")
        offset = None if req.offset is None else canonical_id(req.offset)
        if req.order_by is not None:
            if offset is not None:
                raise InvalidQuery("Wrong input: offset cannot be combined with order_by")
            return self._scroll_ordered(req, req.order_by, flt, limit, until)
        with self.state.lock.read():
            matching = None
            if flt is not None:
                match = self.filters.match(self.state, flt, self.payload_index, until)
                matching = match.rows(until)
            rows, next_id = records.scroll_by_id(self.state, matching, offset, limit)
            points = records.page_records(
                self.state, shared(rows), req.with_payload, req.with_vector
            )
        return m.ScrollResult(points=points, next_page_offset=next_id)

    def _scroll_ordered(
        self,
        req: m.ScrollRequest,
        order_by: str | m.OrderBy,
        flt: CompiledFilter | None,
        limit: int,
        until: Deadline,
    ) -> m.ScrollResult:
        """A page of points in payload order (``shoal.engine.scrolled``)."""
        order = scrolled.order_by_of(order_by)
        index = scrolled.order_index(self.payload_index, order.key)
        with self.state.lock.read():
            rows = self._matching_rows(flt, until)
            entries = scrolled.ordered(self.state, rows, order, index, limit, until)
            points = records.page_records(
                self.state,
                shared([r for r, _ in entries]),
                req.with_payload,
                req.with_vector,
                [v for _, v in entries],
            )
        return m.ScrollResult(points=points, next_page_offset=None)

    def count(self, req: m.CountRequest, deadline: Deadline | None = None) -> m.CountResult:
        """Number of points matching the filter (all points without one).

        Raises:
            RequestTimeout: ``deadline`` passed before every point was counted.
        """
        self.check_failed()
        if self.strict is not None:
            self.strict.check_read(req.filter, None, deadline)
        until = deadline or NO_DEADLINE
        flt = self.filters.compile(req.filter)
        with self.state.lock.read():
            if flt is None:
                return m.CountResult(count=len(self.state))
            match = self.filters.match(self.state, flt, self.payload_index, until)
            return m.CountResult(count=len(match.rows(until)))

    def facet(self, req: m.FacetRequest, deadline: Deadline | None = None) -> m.FacetResponse:
        """Points per value of a payload key, most first (``shoal.engine.facets``).

        Raises:
            InvalidQuery: no keyword/integer/uuid/bool index on the key, or a bad limit;
                NotSupported: ``shard_key``; RequestTimeout.
        """
        self.check_failed()
        check_shard_key(req)
        if self.strict is not None:
            self.strict.check_read(req.filter, req.limit, deadline)
        until = deadline or NO_DEADLINE
        flt = self.filters.compile(req.filter)
        types = {field: index.type for field, index in list(self.payload_indexes.items())}
        schema = facets.facet_index(types, req.key)
        with self.state.lock.read():
            rows = self._matching_rows(flt, until)
            return facets.facet(self.state.payloads, rows, req, schema, until)

    def search_matrix_pairs(
        self, req: m.SearchMatrixRequest, deadline: Deadline | None = None
    ) -> m.SearchMatrixPairsResponse:
        """Random points and each one's nearest among them, as pairs (``shoal.engine.matrix``).

        Raises:
            InvalidQuery: an unknown vector, ``sample`` < 2 or ``limit`` < 1; NotSupported:
                ``shard_key``; InvalidFilter; RequestTimeout.
        """
        return self._matrix(req, deadline).pairs()

    def search_matrix_offsets(
        self, req: m.SearchMatrixRequest, deadline: Deadline | None = None
    ) -> m.SearchMatrixOffsetsResponse:
        """As ``search_matrix_pairs``, as offsets into the list of points drawn."""
        return self._matrix(req, deadline).offsets()

    def _matrix(self, req: m.SearchMatrixRequest, deadline: Deadline | None) -> matrix.Neighbours:
        self.check_failed()
        check_shard_key(req)
        if self.strict is not None:
            self.strict.check_read(req.filter, req.limit, deadline)
        until = deadline or NO_DEADLINE
        col, sample, limit = matrix.matrix_column(self.state, req, self.named)
        flt = self.filters.compile(req.filter)
        with self.state.lock.read():
            rows = self._matching_rows(flt, until)
            eligible = rows[col.present[rows]]
            return matrix.neighbours(self.state, col, eligible, sample, limit, until)

    def _matching_rows(self, flt: CompiledFilter | None, until: Deadline) -> np.ndarray:
        """Rows of the live points that match ``flt`` (all without one), ascending; under
        the state's read lock."""
        if flt is None:
            return self.state.live_rows()
        return self.filters.match(self.state, flt, self.payload_index, until).rows(until)

    # ------------------------------------------------------------ the queries

    def query(self, req: m.QueryRequest, deadline: Deadline | None = None) -> m.QueryResponse:
        """Nearest points to a vector or to a point (which is left out of its own results).

        Raises:
            RequestTimeout: ``deadline`` passed before the search was done.
        """
        return self.query_batch([req], deadline)[0]

    def query_groups(
        self, req: m.QueryGroupsRequest, deadline: Deadline | None = None
    ) -> m.GroupsResult:
        """The best points of a query grouped by a payload value (``shoal.engine.groups``).

        Raises:
            InvalidQuery, NotSupported: a bad grouping or query; RequestTimeout.
        """
        others = self.searcher.others
        lookup = None if others is None else others.record_of
        run = lambda sub: self.query(sub, deadline).points  # noqa: E731
        return query_groups(req, run, len(self.state), lookup)

    def query_batch(
        self, requests: Sequence[m.QueryRequest], deadline: Deadline | None = None
    ) -> list[m.QueryResponse]:
        """Several queries; unfiltered ones on the same vector share one matrix product.

        Args:
            requests: the queries.
            deadline: when the work must stop (None: no time limit).

        Raises:
            The first query's error, if any query is invalid; RequestTimeout when the
            deadline passed before the search was done.
        """
        if self.strict is not None:
            self.strict.check_batch(len(requests))
        outcomes = self.query_many(requests, [deadline] * len(requests))
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return outcomes  # type: ignore[return-value]

    def query_many(
        self,
        requests: Sequence[m.QueryRequest],
        deadlines: Sequence[Deadline | None] | None = None,
    ) -> list[m.QueryResponse | BaseException]:
        """Queries of possibly many callers; one result or exception per query
        (``shoal.engine.query``, the query pipeline).

        Concurrent callers (threads) are coalesced: while one batch runs, the next callers'
        queries queue up and run together as the following batch. A batch stops when the
        deadlines of all its queries have passed (each query then gets ``RequestTimeout``);
        while one of them still has time, the others get their results late.

        Args:
            requests: the queries.
            deadlines: one per query (None: no time limit).
        """
        timed = [None] * len(requests) if deadlines is None else deadlines
        return self.searches.submit_many(list(zip(requests, timed, strict=True)))
