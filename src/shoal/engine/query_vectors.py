"""How a query's ``query`` becomes the vector a search reads: given (checked into the
collection's kept form), embedded (a ``Document`` on a sparse vector), or taken from a point
named by id, of this collection or of another (``lookup_from``).

A mixin of ``shoal.engine.query.Searcher`` (which holds the attributes declared here), for
the queries whose vector is not converted with their batch (``Searcher._query_vectors``).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from shoal import models as m
from shoal.codec import (
    Kept,
    SparseRow,
    VectorSpace,
    check_multivector,
    check_sparse,
    check_vector,
)
from shoal.engine.inference import embed_query
from shoal.engine.state import CollectionState
from shoal.errors import InvalidQuery, PointNotFound
from shoal.ids import PointId, canonical_id


class OtherCollections(Protocol):
    """The database's other collections, as queries reach them (``lookup_from``,
    ``with_lookup``)."""

    def vector_of(self, location: m.LookupLocation, pid: PointId) -> Kept:
        """The vector ``location.vector`` of point ``pid`` in ``location.collection``."""
        ...

    def record_of(
        self, collection: str, pid: PointId, with_payload: Any, with_vector: Any
    ) -> m.Record | None:
        """Point ``pid`` of ``collection`` (None if there is no such point)."""
        ...


class QueryVectors:
    """The query vectors of one collection's queries."""

    state: CollectionState
    others: OtherCollections | None
    _space: VectorSpace
    _params: dict[str, m.VectorParams]
    _named: bool

    def _resolve(
        self, query: m.QueryInterface, name: str, lookup: m.LookupLocation | None = None
    ) -> tuple[np.ndarray | None, int | None]:
        """The vector of a query not converted with its batch, and for a query by point id
        that point's row (to exclude; a point of another collection, ``lookup``, is not)."""
        if isinstance(query, m.NearestQuery):
            query = query.nearest
        if isinstance(query, (list, np.ndarray)):
            return check_vector(query, self._params[name], name=name, point="(query)"), None
        if isinstance(query, (m.SparseVector, m.Document)):
            raise InvalidQuery(
                f"Wrong input: a {type(query).__name__} query on the dense vector {name!r}; "
                "give a dense vector, or `using` a sparse vector"
            )
        vec, row = self._by_id(query, name, lookup)
        assert isinstance(vec, np.ndarray)
        if row is None:  # another collection's: in this one's kept form
            return check_vector(vec, self._params[name], name=name, point=query), None
        return vec, row

    def _resolve_sparse(
        self, query: m.QueryInterface, name: str, lookup: m.LookupLocation | None = None
    ) -> tuple[SparseRow, int | None]:
        """The vector of a query on sparse vector ``name`` (a sparse vector, a document to
        embed, or a point id), and for a point id that point's row (to exclude)."""
        if isinstance(query, m.NearestQuery):
            query = query.nearest
        if isinstance(query, m.Document):
            return embed_query(query, name, self._space), None
        if isinstance(query, m.SparseVector):
            return check_sparse(query, name=name, point="(query)"), None
        if isinstance(query, (list, np.ndarray)):
            raise InvalidQuery(
                f"Wrong input: {name!r} is a sparse vector; query it with a sparse vector "
                "({indices, values}), a Document or a point id, not a dense vector"
            )
        vec, row = self._by_id(query, name, lookup)
        assert isinstance(vec, SparseRow)
        return vec, row

    def _check_name(self, name: str) -> None:
        """Raises InvalidQuery when ``name`` is none of the collection's vectors."""
        if name not in self._space.multi:
            have = self._space.names() if self._named else "only the unnamed vector"
            raise InvalidQuery(
                f"Wrong input: Not existing vector name error: {name!r}; have {have}"
            )

    def _resolve_multi(
        self, query: m.QueryInterface, name: str, lookup: m.LookupLocation | None = None
    ) -> tuple[np.ndarray, int | None]:
        """The rows of a query on multivector ``name`` (a multivector or a point id), and
        for a point id that point's row (to exclude)."""
        if isinstance(query, m.NearestQuery):
            query = query.nearest
        params = self._space.multi[name]
        if isinstance(query, (list, np.ndarray)):
            if not len(query) or not isinstance(query[0], (list, tuple, np.ndarray)):
                raise InvalidQuery(
                    f"Wrong input: {name!r} is a multivector; query it with a list of vectors "
                    f"or a point id, got {query!r:.80}"
                )
            return check_multivector(query, params, name=name, point="(query)"), None
        if isinstance(query, (m.SparseVector, m.Document)):
            raise InvalidQuery(
                f"Wrong input: a {type(query).__name__} query on the multivector {name!r}; "
                "give a list of vectors or a point id"
            )
        vec, row = self._by_id(query, name, lookup)
        if row is None or not isinstance(vec, np.ndarray) or vec.ndim != 2:
            # another collection's (in this one's kept form), or another kind of vector
            return check_multivector(vec, params, name=name, point=query), None
        return vec, row

    def _by_id(
        self, query: m.QueryInterface, name: str, lookup: m.LookupLocation | None
    ) -> tuple[Kept, int | None]:
        """Vector ``name`` of the point a query names by id, and its row (to exclude); a
        point of another collection (``lookup``) has no row here.

        Raises:
            InvalidQuery: the looked-up vector is of the other kind (dense, sparse).
        """
        pid = canonical_id(query)
        if lookup is None:
            row, vec = self._own_vector(pid, name)
            return vec, row
        found = self._looked_up(lookup, pid)
        kind = "sparse" if isinstance(found, SparseRow) else "dense"
        wanted = "sparse" if name in self._space.sparse else "dense"
        if kind != wanted:
            raise InvalidQuery(
                f"Wrong input: lookup_from vector {lookup.vector!r} is {kind}, but the "
                f"query's vector {name!r} is {wanted}"
            )
        return found, None

    def _looked_up(self, lookup: m.LookupLocation, pid: PointId) -> Kept:
        if self.others is None:
            raise InvalidQuery("Wrong input: lookup_from needs the collection's database")
        return self.others.vector_of(lookup, pid)

    def _own_vector(self, pid: PointId, name: str) -> tuple[int, Kept]:
        """Point ``pid``'s row and its vector ``name``.

        Raises:
            PointNotFound: no such point; InvalidQuery: it has no such vector.
        """
        with self.state.lock.read():
            row = self.state.row(pid)
            if row is None:
                raise PointNotFound(pid)
            vec = self.state.vectors_of(row).get(name)
        if vec is None:
            raise InvalidQuery(f"Wrong input: point {pid} has no vector named {name!r}")
        return row, vec
